"""Fine-tuning with few stations: held-out dates, L2-SP, recalibration, baselines (fast)."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import warnings
from contextlib import redirect_stderr

import numpy as np
import pandas as pd
import pytest
import torch

from xsoilmoist.errors import InputError, ModelWarning
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.training import (
    FinetuneSettings,
    baseline_predictions,
    baseline_report,
    finetune,
    l2_sp_penalty,
    predict_scene,
    prepare_scene,
    split_dates,
)
from xsoilmoist.training.loop import HEAD_PARTS
from xsoilmoist.training.patches import StationReading

TINY = SSMNetConfig(
    name="tiny",
    depths=(1, 1, 1, 1),
    dims=(8, 16, 32, 64),
    full_res_dim=8,
    modalities={"sar_c": ("vv", "vh", "vh_vv"), "optical": ("red", "nir", "swir1", "ndvi")},
)
QUICK = FinetuneSettings(
    steps=12, batch_size=2, patch_size=32, eval_every=4, learning_rate=1e-3, patience=None
)


def _scene(n_stations: int, times: int = 10, seed: int = 3):
    ds = simulate_scene(
        "farmland", shape=(48, 48), times=times, seed=seed, coarse_resolution=160.0,
        n_stations=n_stations,
    )  # fmt: skip
    return prepare_scene(ds, SSMNet(TINY))


@pytest.fixture(scope="module")
def one_station():
    return _scene(1)


@pytest.fixture(scope="module")
def model(one_station):
    torch.manual_seed(0)
    return SSMNet(TINY)


def _finetune(model, scenes, **changes):
    out = io.StringIO()
    with redirect_stderr(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelWarning)
        result = finetune(model, scenes, settings=dataclasses.replace(QUICK, **changes))
    return result, out.getvalue()


def test_split_dates_holds_out_the_latest_dates_of_each_station():
    readings = [StationReading(0, s, t) for s in (0, 1) for t in range(10)]
    readings += [StationReading(0, 2, 4)]  # a single reading: trained on, never held out
    train, held = split_dates(readings, 0.3)
    assert sorted((r.station, r.time) for r in held) == [(s, t) for s in (0, 1) for t in (7, 8, 9)]
    assert StationReading(0, 2, 4) in train and len(train) == 15
    with pytest.raises(InputError, match="fraction"):
        split_dates(readings, 1.0)


def test_one_station_validates_on_held_out_dates_and_stops_at_a_best_step(model, one_station):
    result, said = _finetune(model, [one_station], adaptation="full")
    assert result.validation_split == "dates"
    assert result.best_step is not None and result.best_step in {4, 8, 12}
    assert "last 30% of each station's dates" in said and "fewer than 4" in said
    held_out = math.ceil(0.3 * np.isfinite(one_station.station_ssm).sum() - 0.5)
    assert result.report["scores"]["model"]["n"] == held_out == 3
    assert result.report["baselines_fitted"] == "per station"
    json.dumps(result.summary(), allow_nan=False)  # the report travels in model cards


def test_auto_with_one_station_recalibrates_and_with_many_holds_out_stations(model, one_station):
    result, said = _finetune(model, [one_station])
    assert result.adaptation == "recalibrate" and "adaptation 'recalibrate'" in said
    many, _ = _finetune(model, [_scene(8, times=4)], steps=4)
    assert many.validation_split == "stations" and many.adaptation == "full"
    assert many.report["baselines_fitted"] == "pooled" and many.best_step is not None


def test_nothing_to_hold_out_is_said_loudly(model, one_station):
    with pytest.warns(ModelWarning, match="no held-out station readings"):
        result = finetune(
            model, [one_station], progress=False,
            settings=dataclasses.replace(QUICK, validation_dates_fraction=0.0),
        )  # fmt: skip
    assert result.validation_split == "none" and result.best_step is None
    assert result.report is None


def test_l2_sp_penalty_is_zero_at_the_start_and_grows_as_weights_move(model):
    net = SSMNet(TINY)
    net.load_state_dict(model.state_dict())
    start = {n: p.detach().clone() for n, p in net.named_parameters()}
    assert l2_sp_penalty(net, start, 0.5).item() == 0.0
    penalties = []
    for shift in (0.01, 0.02):
        with torch.no_grad():
            net.head_out.bias.copy_(start["head_out.bias"] + shift)
            penalties.append(l2_sp_penalty(net, start, 0.5).item())
    assert penalties[0] == pytest.approx(0.25 * 0.01**2, rel=1e-4)  # alpha/2 * 1 weight * d^2
    assert penalties[1] == pytest.approx(4 * penalties[0], rel=1e-4)


def test_l2_sp_keeps_the_weights_closer_to_the_pretrained_ones(model, one_station):
    @torch.no_grad()
    def distance(net):
        return sum(
            float(((p - q) ** 2).sum())
            for p, q in zip(net.parameters(), model.parameters(), strict=True)
        )

    free, _ = _finetune(model, [one_station], adaptation="full", l2_sp=0.0, weight_decay=0.0)
    held, _ = _finetune(model, [one_station], adaptation="full", l2_sp=50.0, weight_decay=0.0)
    assert 0 < distance(held.model) < distance(free.model)


def test_recalibration_changes_only_the_two_recalibration_numbers(model, one_station):
    result, _ = _finetune(model, [one_station], adaptation="recalibrate", steps=200,
                          eval_every=20)  # fmt: skip
    before, after = model.state_dict(), result.model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed == {"head_out.weight", "head_out.bias"}
    gain, offset = result.recalibration["gain"], result.recalibration["offset"]
    assert (gain, offset) != (1.0, 0.0) and result.best_step is not None
    torch.testing.assert_close(after["head_out.weight"], before["head_out.weight"] * gain)
    torch.testing.assert_close(after["head_out.bias"], before["head_out.bias"] * gain + offset)
    # the network's output is sigmoid(gain * z + offset) * out_max of the old logit z
    old, new = predict_scene(model, one_station), predict_scene(result.model, one_station)
    z = np.log(old / (TINY.out_max - old))
    expected = TINY.out_max / (1 + np.exp(-(gain * z + offset)))
    np.testing.assert_allclose(new, expected, atol=2e-5)


def test_head_adaptation_trains_the_head_only(model, one_station):
    result, _ = _finetune(model, [one_station], adaptation="head")
    before, after = model.state_dict(), result.model.state_dict()
    changed = {n.split(".")[0] for n in before if not torch.equal(before[n], after[n])}
    assert changed and changed <= set(HEAD_PARTS)


def _tables():
    train = pd.DataFrame(
        {
            "station": ["a"] * 3 + ["b"] * 2,
            "ssm": [0.1, 0.2, 0.3, 0.2, 0.2],
            "vv": [-15.0, -13.0, -11.0, -10.0, -10.0],
        }
    )
    test = pd.DataFrame(
        {
            "station": ["a", "a", "b", "b"],
            "ssm": [0.3, 0.1, 0.25, 0.15],
            "vv": [-12.0, -14.0, -9.0, -11.0],
            "model": [0.29, 0.12, 0.24, 0.16],
        }
    )
    return train, test


def test_baselines_match_hand_computed_values():
    train, test = _tables()
    out = baseline_predictions(train, test)
    # a: ssm = 0.05 vv + 0.85, mean 0.2; b: no spread in vv, so its mean 0.2
    np.testing.assert_allclose(out["vv_regression"], [0.25, 0.15, 0.2, 0.2], atol=1e-12)
    np.testing.assert_allclose(out["climatology"], [0.2, 0.2, 0.2, 0.2], atol=1e-12)
    report = baseline_report(train, test)
    scores = report["scores"]
    # per station, then the mean over the two stations
    assert scores["model"]["rmse"] == pytest.approx((math.sqrt(2.5e-4) + 0.01) / 2)
    assert scores["model"]["ubrmse"] == pytest.approx((0.015 + 0.01) / 2)
    assert scores["model"]["bias"] == pytest.approx((0.005 + 0.0) / 2)
    assert scores["vv_regression"]["rmse"] == pytest.approx((0.05 + 0.05) / 2)
    assert scores["climatology"]["ubrmse"] == pytest.approx((0.1 + 0.05) / 2)
    assert math.isnan(scores["climatology"]["pearson_r"])  # a constant has no correlation
    assert scores["vv_regression"]["pearson_r"] == pytest.approx(1.0)  # station b is NaN
    assert scores["model"]["n"] == 4 and report["stations"] == 2
    assert report["model_beats_baselines"] and not report["losses"]


def test_pooled_baselines_fit_one_line_over_every_training_row():
    train, test = _tables()
    out = baseline_predictions(train, test, per_station=False)
    slope, intercept = np.polyfit(train["vv"], train["ssm"], 1)
    np.testing.assert_allclose(out["vv_regression"], slope * test["vv"] + intercept)
    np.testing.assert_allclose(out["climatology"], 0.2)


def test_a_model_that_loses_to_the_baselines_is_warned_about():
    train, test = _tables()
    test["model"] = [0.2, 0.21, 0.2, 0.21]  # collapsed to a near-constant
    with pytest.warns(ModelWarning, match="does not beat the simple baselines"):
        report = baseline_report(train, test)
    assert not report["model_beats_baselines"]
    assert any("vv_regression" in line for line in report["losses"])
    with pytest.raises(InputError, match="'vv'"):
        baseline_report(train.drop(columns="vv"), test)
