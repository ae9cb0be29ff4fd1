"""Frozen ground, snow and open water: flagged from the bands, and left empty by predict."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import raise_if_dask_computes

from xsoilmoist import datasets, predict
from xsoilmoist.surface_conditions import (
    FROZEN,
    OPEN_WATER,
    SNOW,
    condition_flags,
    surface_conditions,
)
from xsoilmoist.synthetic import simulate_scene


def test_each_rule_at_its_published_threshold():
    t2m = np.array([-0.5, 0.0, 0.1, np.nan])
    assert condition_flags({"t2m": t2m}).tolist() == [FROZEN, FROZEN, 0, 0]
    # green, swir1, nir: snow (NDSI 0.6, NIR 0.5); dark snow-like (NIR 0.1: not snow, but
    # water); vegetation; bare soil; missing values
    green = np.array([0.6, 0.12, 0.08, 0.15, np.nan])
    swir1 = np.array([0.15, 0.03, 0.15, 0.30, 0.2])
    nir = np.array([0.5, 0.10, 0.40, 0.25, 0.3])
    flags = condition_flags({"green": green, "swir1": swir1, "nir": nir})
    assert flags.tolist() == [SNOW, OPEN_WATER, 0, 0, 0]
    # without SWIR there is no snow rule, and bright snow-like pixels count as water
    assert condition_flags({"green": green, "nir": nir}).tolist()[:2] == [OPEN_WATER] * 2
    assert condition_flags({"vv": np.zeros(3)}).tolist() == [0, 0, 0]  # no rule applies


def test_conditions_map_is_lazy_and_labelled():
    scene = simulate_scene("farmland", shape=(64, 48), times=2, seed=1, chunks=32)
    cold = scene.assign(t2m=scene["t2m"] - 30.0)  # every day below freezing
    with raise_if_dask_computes():
        flags = surface_conditions(cold)
    assert flags.dims == ("time", "y", "x") and flags.dtype == np.uint8
    assert flags.rio.crs == scene.rio.crs
    assert flags.attrs["flag_meanings"] == "frozen_ground snow_cover open_water"
    assert flags.attrs["flag_masks"].tolist() == [FROZEN, SNOW, OPEN_WATER]
    assert (flags.values & FROZEN).all()
    assert not (surface_conditions(scene).values & FROZEN).any()
    radar_only = scene[["vv", "vh"]]
    assert surface_conditions(radar_only).attrs["rules_applied"].startswith("none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        radar_map = predict(radar_only.isel(y=slice(0, 32), x=slice(0, 32)).compute())
    assert "none" in radar_map.attrs["masked"]


def test_predict_leaves_frozen_pixels_empty_and_keeps_the_others():
    scene = simulate_scene("farmland", shape=(64, 64), times=2, seed=4)
    t2m = scene["t2m"].copy()
    t2m[0, :, :32] = -3.0  # the west half frozen on the first day
    cold = scene.assign(t2m=t2m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        masked = predict(cold)
        unmasked = predict(cold, mask_conditions=False)
    assert np.isnan(masked.values[0, :, :32]).all()
    assert np.isfinite(unmasked.values[0, :, :32]).all()
    np.testing.assert_array_equal(masked.values[0, :, 32:], unmasked.values[0, :, 32:])
    np.testing.assert_array_equal(masked.values[1], unmasked.values[1])
    assert "frozen ground" in masked.attrs["masked"] and "masked" not in unmasked.attrs


def test_snow_covered_real_scene_is_left_empty(sample_data):
    """BigEarthNet's Lithuanian pair of 2018-02-04: snow over nearly the whole patch.

    (``sample_data`` skips the test without the real sample data.)
    """
    site = next(s for s in datasets.bigearthnet_sites() if "20180204" in s)
    ds = datasets.load_bigearthnet_pair(site)
    flags = surface_conditions(ds).values[0]
    assert (flags & SNOW).mean() > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssm = predict(ds).values[0]
    np.testing.assert_array_equal(np.isnan(ssm), flags > 0)


@pytest.mark.parametrize("band", ["green", "nir"])
def test_a_rule_without_its_bands_is_skipped(band):
    scene = simulate_scene("farmland", shape=(32, 32), times=1, seed=2).drop_vars(band)
    flags = surface_conditions(scene)
    assert flags.attrs["rules_applied"] == "frozen ground (t2m <= 0 degC)"
