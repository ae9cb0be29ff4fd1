"""Training losses, patch sampling and modality dropout (no training runs here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xsoilmoist.training import (
    PatchSampler,
    TrainingScene,
    band_statistics,
    drop_modalities,
    footprint_mean_loss,
    footprint_means,
    split_stations,
    station_loss,
)

NAN = float("nan")


def test_footprint_loss_equals_the_hand_computed_footprint_mean_error():
    # one 4 x 4 image, four 2 x 2 footprints (ids 0..3), labels 0.2, 0.3, 0.4, 0.5
    pred = torch.tensor(
        [
            [0.10, 0.20, 0.30, 0.30],
            [0.30, 0.40, 0.50, 0.10],
            [0.40, NAN, 0.20, 0.20],
            [NAN, NAN, 0.20, 0.20],
        ]
    )[None]
    ids = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])[None]
    labels = torch.tensor([0.2, 0.3, 0.4, 0.5])[ids]
    pixels = torch.full((1, 4, 4), 4.0)
    # footprint 2 has one valid pixel of four: coverage 0.25 < 0.75, left out
    expected = ((0.25 - 0.2) ** 2 + (0.3 - 0.3) ** 2 + (0.2 - 0.5) ** 2) / 3
    loss = footprint_mean_loss(pred, labels, ids, pixels, min_coverage=0.75)
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # with a permissive coverage footprint 2 counts too: mean 0.4 against 0.4
    loss_all = footprint_mean_loss(pred, labels, ids, pixels, min_coverage=0.25)
    assert loss_all.item() == pytest.approx(expected * 3 / 4, rel=1e-6)


def test_footprint_coverage_counts_the_whole_footprint_not_just_the_patch():
    # a footprint of 16 pixels in its scene of which the patch holds 4: coverage 0.25
    pred = torch.full((1, 2, 2), 0.3)
    ids = torch.zeros((1, 2, 2), dtype=torch.int64)
    coarse = torch.full((1, 2, 2), 0.1)
    _, _, coverage = footprint_means(pred, coarse, ids, torch.full((1, 2, 2), 16.0))
    assert coverage.tolist() == [0.25]
    assert footprint_mean_loss(pred, coarse, ids, torch.full((1, 2, 2), 16.0)).item() == 0.0
    assert footprint_mean_loss(pred, coarse, ids, torch.full((1, 2, 2), 4.0)).item() == (
        pytest.approx(0.04)
    )


def test_footprints_of_different_images_are_kept_apart():
    pred = torch.stack([torch.full((2, 2), 0.1), torch.full((2, 2), 0.5)])
    ids = torch.zeros((2, 2, 2), dtype=torch.int64)  # same id in both images
    coarse = torch.full((2, 2, 2), 0.3)
    means, _, _ = footprint_means(pred, coarse, ids, torch.full((2, 2, 2), 4.0))
    assert sorted(round(v, 6) for v in means.tolist()) == [0.1, 0.5]


def test_footprint_loss_gradient_spreads_evenly_over_the_footprint():
    pred = torch.tensor([[[0.1, 0.3], [0.2, 0.4]]], requires_grad=True)
    ids = torch.tensor([[[0, 0], [0, 0]]])
    coarse = torch.full((1, 2, 2), 0.2)
    footprint_mean_loss(pred, coarse, ids, torch.full((1, 2, 2), 4.0)).backward()
    # d/dp_i (mean - c)^2 = 2 (mean - c) / n = 2 * 0.05 / 4
    assert torch.allclose(pred.grad, torch.full((1, 2, 2), 0.025))


def test_station_loss_depends_only_on_station_pixels():
    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 1, 8, 8, generator=generator, requires_grad=True)
    stations = torch.full((2, 8, 8), NAN)
    stations[0, 2, 3], stations[1, 7, 0], stations[1, 4, 4] = 0.21, 0.35, 0.18
    loss = station_loss(pred, stations)
    loss.backward()
    at_station = torch.isfinite(stations)[:, None]
    assert bool((pred.grad[~at_station] == 0).all())
    assert bool((pred.grad[at_station] != 0).all())
    expected = np.mean(
        [(pred[0, 0, 2, 3].item() - 0.21) ** 2, (pred[1, 0, 7, 0].item() - 0.35) ** 2,
         (pred[1, 0, 4, 4].item() - 0.18) ** 2]
    )  # fmt: skip
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    # changing every prediction off the stations (even to NaN) leaves the loss unchanged
    elsewhere = torch.where(at_station, pred.detach(), torch.rand(2, 1, 8, 8))
    assert station_loss(elsewhere, stations).item() == loss.item()
    elsewhere[~at_station] = NAN
    assert station_loss(elsewhere, stations).item() == loss.item()


def test_losses_with_nothing_to_compare_are_zero_and_backpropagate():
    pred = torch.rand(1, 1, 4, 4, requires_grad=True)
    loss = station_loss(pred, torch.full((1, 4, 4), NAN))
    loss.backward()
    assert loss.item() == 0.0 and bool((pred.grad == 0).all())
    coarse = torch.full((1, 4, 4), NAN)
    ids = torch.zeros((1, 4, 4), dtype=torch.int64)
    assert footprint_mean_loss(pred, coarse, ids, torch.full((1, 4, 4), 16.0)).item() == 0.0


def test_loss_arguments_are_checked():
    with pytest.raises(ValueError, match="min_coverage"):
        footprint_mean_loss(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2),
                            torch.zeros(1, 2, 2), torch.ones(1, 2, 2), min_coverage=0)  # fmt: skip
    with pytest.raises(ValueError, match="share"):
        station_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 3))


SLICES = {"sar_c": slice(0, 3), "optical": slice(3, 5), "topography": slice(5, 6)}


def test_modality_dropout_never_blanks_every_present_modality():
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(300, 6, 8, 8)
    absent = torch.rand(300, 3) < 0.4  # some images lack some modalities altogether
    absent[:5] = True  # and some images have nothing at all
    for m, channels in enumerate(SLICES.values()):
        x[absent[:, m], channels] = NAN
    x[5:, 3:5, :4] = NAN  # clouds over half of the optical bands' pixels
    before = x.clone()
    for rate in (0.5, 0.9, 1.0):
        out, dropped = drop_modalities(x, SLICES, rate, generator)
        for m, channels in enumerate(SLICES.values()):
            blanked = out[:, channels].isnan().flatten(1).all(dim=1)
            assert bool((blanked[dropped[:, m]]).all())  # dropped means all NaN
            kept = ~dropped[:, m]
            assert torch.equal(out[kept, channels].isnan(), x[kept, channels].isnan())
        present = ~absent
        assert not bool((dropped & absent).any())  # an absent modality is not "dropped"
        still_there = (present & ~dropped).any(dim=1)
        assert bool(still_there[present.any(dim=1)].all())
    assert torch.equal(x.nan_to_num(-1.0), before.nan_to_num(-1.0))  # input not modified


def test_modality_dropout_rate_zero_changes_nothing():
    x = torch.rand(4, 6, 8, 8)
    out, dropped = drop_modalities(x, SLICES, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and not bool(dropped.any())
    with pytest.raises(ValueError, match="rate"):
        drop_modalities(x, SLICES, 1.5, torch.Generator())


def _toy_scene(n_times=3, size=40, n_stations=5, seed=0) -> TrainingScene:
    rng = np.random.default_rng(seed)
    rows = rng.choice(size, n_stations, replace=False)
    cols = rng.choice(size, n_stations, replace=False)
    readings = rng.uniform(0.1, 0.4, (n_stations, n_times)).astype(np.float32)
    readings[0, 1] = np.nan  # a missing reading
    ids = (np.arange(size)[:, None] // 10) * 4 + np.arange(size)[None, :] // 10
    return TrainingScene(
        name="toy",
        bands=("vv", "red"),
        inputs=rng.normal(size=(n_times, 2, size, size)).astype(np.float32),
        meta=np.zeros((n_times, 6), np.float32),
        coarse=np.repeat(ids[None].astype(np.float32) / 100, n_times, axis=0),
        footprint_id=ids,
        station_rows=rows,
        station_cols=cols,
        station_ssm=readings,
    )


def test_station_patches_hold_the_readings_at_the_right_pixels():
    scene = _toy_scene()
    sampler = PatchSampler([scene], 16, seed=3)
    readings = sampler.readings()
    assert len(readings) == scene.n_stations * scene.n_times - 1  # the NaN reading is skipped
    batch = sampler.station_batch(64, readings)
    assert tuple(batch.stations.shape) == (64, 16, 16)
    for k in range(64):
        target = batch.stations[k]
        assert int(torch.isfinite(target).sum()) >= 1  # the drawn station is inside
        for r, c in torch.nonzero(torch.isfinite(target)).tolist():
            values = batch.inputs[k, 0, r, c]
            matches = np.flatnonzero(
                np.isclose(
                    scene.inputs[:, 0, scene.station_rows, scene.station_cols], values.item()
                )
            )
            assert matches.size >= 1  # the target sits on a station pixel of the scene


def test_station_windows_put_each_reading_on_its_station_pixel():
    scene = _toy_scene()
    sampler = PatchSampler([scene], 16, seed=0)
    s, t = 2, 1
    top, left = scene.station_rows[s] - 5, scene.station_cols[s] - 9
    batch = sampler.station_windows([(0, t, top, left)], [np.array([s])])
    target = batch.stations[0]
    assert int(torch.isfinite(target).sum()) == 1
    assert target[5, 9].item() == pytest.approx(float(scene.station_ssm[s, t]))
    expected = scene.inputs[t, :, scene.station_rows[s], scene.station_cols[s]]
    assert np.array_equal(batch.inputs[0, :, 5, 9].numpy(), expected)


def test_coarse_patches_past_the_edge_are_invalid_and_unlabelled():
    scene = _toy_scene(size=12)
    batch = PatchSampler([scene], 16, seed=0).coarse_batch(3)
    assert bool(batch.inputs[:, :, 12:].isnan().all())
    assert bool(batch.coarse[:, 12:].isnan().all())
    assert torch.equal(batch.inputs[0, :, :12, :12].isnan(), torch.zeros(2, 12, 12, dtype=bool))
    # footprint sizes are those of the whole scene: 10 x 10 inside, 10 x 2 at the edge
    assert batch.footprint_pixels[0, 0, 0].item() == 100.0
    assert batch.footprint_pixels[0, 11, 0].item() == 20.0


def test_samplers_with_the_same_seed_draw_the_same_patches():
    scene = _toy_scene()
    a = PatchSampler([scene], 16, seed=5).coarse_batch(4)
    b = PatchSampler([scene], 16, seed=5).coarse_batch(4)
    c = PatchSampler([scene], 16, seed=6).coarse_batch(4)
    assert torch.equal(a.inputs, b.inputs) and not torch.equal(a.inputs, c.inputs)


def test_station_split_is_disjoint_and_complete():
    scene = _toy_scene(n_stations=9)
    train, held = split_stations([scene, scene.with_stations([0])], 0.25, seed=0)
    assert sorted([*train[0], *held[0]]) == list(range(9)) and len(held[0]) == 2
    assert list(train[1]) == [0] and len(held[1]) == 0  # a lone station stays in training


def test_band_statistics_skip_invalid_values_and_absent_bands():
    x = np.full((2, 3, 4, 4), np.nan, np.float32)
    x[:, 0] = 2.0
    x[0, 0, 0, 0] = np.nan
    x[:, 1, :2] = np.arange(16, dtype=np.float32).reshape(2, 2, 4)
    scene = TrainingScene("toy", ("a", "b", "c"), x, np.zeros((2, 6), np.float32))
    mean, std = band_statistics([scene])
    values = np.arange(16.0)
    assert mean == pytest.approx((2.0, values.mean(), 0.0))
    assert std == pytest.approx((1.0, values.std(), 1.0))  # constant and absent: std 1
