"""The bundled default model: trained, honest about it, and as good as its card says."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest

from xsoilmoist import metrics, predict
from xsoilmoist.weights import available_models, load_card, load_model

pytestmark = pytest.mark.skipif(
    "default" not in available_models(), reason="no default model bundled in this checkout"
)

REGIONS = ("farmland", "alpine_grassland", "arid_basin")


def test_bundled_default_is_trained_small_and_says_it_is_simulated():
    card = load_card("default")
    model = load_model("default")
    assert card.trained and model.card.sha256 == card.sha256
    assert "SIMULATED" in card.description and "real" in card.description
    assert card.training["data"]["source"].startswith("simulated")
    weights = resources.files("xsoilmoist") / "pretrained" / "default.safetensors"
    assert len(weights.read_bytes()) <= 10 * 2**20
    assert model.config.band_mean is not None and model.config.band_std is not None
    assert card.required_modalities == ["sar_c"]


def test_card_metrics_meet_the_goals_and_cover_every_region():
    """RMSE and ubRMSE meet the goals (0.04 m3/m3). R2 is short of the 0.90 goal on the
    domain-randomized simulator (0.84; docs/models.rst says so): this guards against less."""
    truth = load_card("default").metrics["truth"]
    assert truth["r2"] >= 0.82 and truth["rmse"] <= 0.04 and truth["ubrmse"] <= 0.04
    assert set(load_card("default").metrics["truth_by_region"]) == set(REGIONS)


def test_card_metrics_are_reproduced_by_predicting_the_held_out_scenes():
    """Re-score the held-out scenes the card names: the numbers are measured, not typed in."""
    from xsoilmoist.synthetic import simulate_scene

    card = load_card("default")
    data = card.training["data"]
    size = data["scene_size_px"]
    dates = list(pd.date_range("2022-06-05", periods=data["dates_per_scene"], freq="12D"))
    pred, truth = [], []
    for region in REGIONS:
        for seed in (100, 101, 102):
            ds = simulate_scene(
                region,
                shape=(size, size),
                times=dates,
                seed=seed,
                coarse_resolution=data["coarse_label_footprint_m"],
                n_stations=data["stations_per_scene"],
            )
            pred.append(predict(ds, "default").values.ravel())
            truth.append(ds.ssm_true.values.ravel())
    p, o = np.concatenate(pred), np.concatenate(truth)
    scores = metrics.summary(p, o)
    assert float(scores["rmse"]) == pytest.approx(card.metrics["truth"]["rmse"], abs=2e-4)
    assert float(scores["r2"]) == pytest.approx(card.metrics["truth"]["r2"], abs=2e-3)
