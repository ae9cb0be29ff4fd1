"""The two training stages on tiny simulated scenes (a few seconds on a CPU)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xsoilmoist.inference import prepare_inputs
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.training import (
    FinetuneSettings,
    PatchSampler,
    PretrainSettings,
    finetune,
    footprint_mean_loss,
    normalised_config,
    predict_scene,
    prepare_scene,
    pretrain,
    split_stations,
    station_loss,
)
from xsoilmoist.training.loop import ENCODER_PARTS
from xsoilmoist.weights import load_model, save_model

TINY = SSMNetConfig(name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), full_res_dim=8)
SIZE = 64


def _simulate(region: str, seed: int):
    return simulate_scene(
        region, shape=(SIZE, SIZE), times=4, seed=seed, coarse_resolution=160.0, n_stations=16
    )


@pytest.fixture(scope="module")
def scenes():
    probe = SSMNet(TINY)
    train = [prepare_scene(_simulate(r, 1), probe) for r in ("farmland", "arid_basin")]
    held_out = [prepare_scene(_simulate(r, 7), probe) for r in ("farmland", "arid_basin")]
    return train, held_out


QUICK_PRETRAIN = PretrainSettings(
    steps=60, batch_size=4, patch_size=32, eval_every=30, validation_batches=4, seed=0
)
QUICK_FINETUNE = FinetuneSettings(
    steps=60, batch_size=4, patch_size=32, eval_every=10, learning_rate=1e-3, patience=None
)


@pytest.fixture(scope="module")
def pretrained(scenes):
    train, held_out = scenes
    return pretrain(TINY, train, validation=held_out, settings=QUICK_PRETRAIN, progress=False)


def _coarse_loss(model, scenes, seed=11):
    batch = PatchSampler(scenes, 32, seed=seed).coarse_batch(16)
    with torch.no_grad():
        pred = model(batch.inputs, batch.meta)
    return footprint_mean_loss(pred, batch.coarse, batch.footprint, batch.footprint_pixels).item()


def _station_loss(model, scenes):
    sampler = PatchSampler(scenes, 32, seed=0)
    readings = sampler.readings()
    windows = sampler.centred_station_windows(readings)
    batch = sampler.station_windows(windows, [np.array([r.station]) for r in readings])
    with torch.no_grad():
        pred = model(batch.inputs, batch.meta)
    return station_loss(pred, batch.stations).item()


def test_prepare_scene_goes_through_the_inference_inputs(scenes):
    ds = _simulate("farmland", 1)
    model = SSMNet(TINY)
    stack, meta, _ = prepare_inputs(ds, model)
    scene = scenes[0][0]
    assert np.array_equal(scene.inputs, stack.values, equal_nan=True)
    assert np.array_equal(scene.meta, meta)
    assert scene.bands == TINY.bands
    # raw units are converted exactly as inference converts them: t2m in kelvin
    raw = ds.assign(t2m=(ds.t2m + 273.15).assign_attrs(units="K"))
    from_raw = prepare_scene(raw, model)
    t2m = TINY.bands.index("t2m")
    assert np.allclose(from_raw.inputs[:, t2m], scene.inputs[:, t2m], atol=1e-4)
    assert raw.t2m.attrs["units"] == "K"  # the input is not modified
    # labels come along: coarse labels with their footprints, stations, truth
    assert np.array_equal(scene.coarse, ds.ssm_coarse.values, equal_nan=True)
    assert np.array_equal(scene.station_rows, ds.station_row.values)
    assert np.array_equal(scene.station_ssm, ds.station_ssm.values, equal_nan=True)
    assert np.array_equal(scene.truth, ds.ssm_true.values)


def test_normalisation_is_computed_from_the_training_scenes_and_stored(scenes, pretrained):
    config = pretrained.model.config
    assert config.band_mean == normalised_config(TINY, scenes[0]).band_mean
    vv = TINY.bands.index("vv")
    values = np.concatenate([s.inputs[:, vv].ravel() for s in scenes[0]])
    assert config.band_mean[vv] == pytest.approx(float(np.nanmean(values)), rel=1e-5)
    assert config.band_std[vv] == pytest.approx(float(np.nanstd(values)), rel=1e-4)
    assert config.band_mean[TINY.bands.index("hh")] == 0.0  # no L-band in the scenes


def test_a_tiny_pretraining_lowers_the_held_out_coarse_loss(scenes, pretrained):
    train, held_out = scenes
    torch.manual_seed(QUICK_PRETRAIN.seed)
    untrained = SSMNet(normalised_config(TINY, train))  # the starting point of pretrain
    before, after = _coarse_loss(untrained, held_out), _coarse_loss(pretrained.model, held_out)
    assert after < 0.75 * before
    assert [h["step"] for h in pretrained.history] == [30, 60]
    assert pretrained.best_validation == min(h["validation"] for h in pretrained.history)


def test_finetuning_lowers_the_held_out_station_loss_and_keeps_the_input(scenes, pretrained):
    train, _ = scenes
    before_state = {k: v.clone() for k, v in pretrained.model.state_dict().items()}
    tuned = finetune(pretrained.model, train, settings=QUICK_FINETUNE, progress=False)
    for key, value in pretrained.model.state_dict().items():  # the input model is untouched
        assert torch.equal(value, before_state[key])
    # stations held out of the training scenes (never trained on) drive early stopping
    _, held = split_stations(train, QUICK_FINETUNE.validation_fraction, QUICK_FINETUNE.seed)
    held_scenes = [scene.with_stations(index) for scene, index in zip(train, held, strict=True)]
    # measured: 0.00224 against 0.00248 before (a tiny model, 60 steps)
    assert tuned.best_validation < 0.95 * _station_loss(pretrained.model, held_scenes)
    # and the weights of the best validation pass are the ones returned
    assert tuned.best_validation == min(h["validation"] for h in tuned.history)
    returned = _station_loss(tuned.model, held_scenes)
    assert returned == pytest.approx(tuned.best_validation, rel=1e-4)


def test_frozen_encoder_stays_fixed_while_the_decoder_learns(scenes, pretrained):
    settings = dataclasses.replace(QUICK_FINETUNE, steps=10, freeze_encoder=True)
    tuned = finetune(pretrained.model, scenes[0], settings=settings, progress=False)
    start = pretrained.model.state_dict()
    changed = {
        key.split(".", 1)[0]
        for key, value in tuned.model.state_dict().items()
        if not torch.equal(value, start[key])
    }
    assert changed and not changed & set(ENCODER_PARTS)
    assert "decoder" in changed


def test_the_same_seed_gives_the_same_model(scenes):
    settings = dataclasses.replace(QUICK_PRETRAIN, steps=6, eval_every=3)
    runs = [pretrain(TINY, scenes[0], settings=settings, progress=False) for _ in range(2)]
    other = pretrain(
        TINY, scenes[0], settings=dataclasses.replace(settings, seed=1), progress=False
    )
    first, second = (r.model.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other.model.state_dict()[k]) for k in first)


def test_checkpoints_and_saved_models_predict_identically(scenes, tmp_path):
    train, held_out = scenes
    settings = dataclasses.replace(QUICK_PRETRAIN, steps=8, eval_every=4)
    result = pretrain(
        TINY, train, validation=held_out, settings=settings,
        checkpoint=tmp_path / "ckpt", progress=False,
    )  # fmt: skip
    checkpoint = load_model(tmp_path / "ckpt.safetensors")
    assert checkpoint.card.trained and "step" in checkpoint.card.description
    expected = predict_scene(result.model, held_out[0])
    assert np.array_equal(predict_scene(checkpoint, held_out[0]), expected, equal_nan=True)
    from xsoilmoist.weights import ModelCard

    save_model(result.model, tmp_path / "final", ModelCard("final", {}, trained=True))
    reloaded = load_model(tmp_path / "final.safetensors")
    assert reloaded.config == result.model.config  # normalisation travels in the card
    assert np.array_equal(predict_scene(reloaded, held_out[0]), expected, equal_nan=True)
    # training a loaded model gives a new model without the old card (stale hash and metrics)
    settings = dataclasses.replace(QUICK_FINETUNE, steps=2, eval_every=2)
    tuned = finetune(reloaded, train, settings=settings, progress=False).model
    assert (tuned.card.name, tuned.card.sha256, tuned.card.trained) == ("in-memory", "", True)
    assert reloaded.card.name == "final"


def test_stage_two_needs_stations_and_stage_one_coarse_labels(scenes):
    no_stations = scenes[0][0].with_stations([])
    with pytest.raises(ValueError, match="station"):
        finetune(SSMNet(TINY), [no_stations], settings=QUICK_FINETUNE, progress=False)
    no_coarse = dataclasses.replace(scenes[0][0], coarse=None, footprint_id=None)
    with pytest.raises(ValueError, match="coarse labels"):
        pretrain(TINY, [no_coarse], settings=QUICK_PRETRAIN, progress=False)
    other = SSMNet(
        SSMNetConfig(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), modalities={"sar_c": ("vv",)})
    )
    with pytest.raises(ValueError, match="prepare"):
        pretrain(other, scenes[0], settings=QUICK_PRETRAIN, progress=False)
