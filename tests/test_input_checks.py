"""The shared input rules: each silently wrong map of issue 14 now errors or warns.

Every case goes through ``predict`` (numpy: at once; dask: nothing computes
until asked, then the error names the band) and ``check`` agrees with it.
"""

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from test_inference import scene

import xsoilmoist
from xsoilmoist.errors import InputError, InputWarning
from xsoilmoist.io import write_result

MODEL = "default"


def july_scene(nt=1):
    ds = scene(ny=48, nx=48, nt=nt)
    ds["api"] = xr.full_like(ds["tp"], 15.0).assign_attrs(units="mm")  # the default reads it
    return ds.assign_coords(time=ds["time"] + np.timedelta64(61, "D"))  # in the trained months


@pytest.fixture
def good():
    return july_scene()


def predict_quietly(ds, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        return xsoilmoist.predict(ds, MODEL, **kwargs)


def test_a_good_scene_passes_without_warning(good):
    ssm = predict_quietly(good)
    assert np.isfinite(ssm.values).all()
    assert xsoilmoist.check(good).ok


def test_integer_reflectance_labelled_one_is_an_error_before_compute(good):
    ds = good.copy()
    for band in ("blue", "green", "red", "nir", "swir1", "swir2"):
        counts = (good[band] * 10000 + 1000).astype("uint16")
        ds[band] = counts.assign_attrs(units="1")  # what odc-stac attaches
    with raise_if_dask_computes(), pytest.raises(InputError) as info:
        xsoilmoist.predict(ds.chunk(), MODEL)
    message = str(info.value)
    assert "'red' (band 'red') holds integers labelled '1'" in message
    assert "attrs['units'] = 'DN'" in message
    report = xsoilmoist.check(ds)
    assert not report.ok and any("holds integers" in p for p in report.problems)


def test_dem_from_another_grid_is_an_error_naming_the_band(good, tmp_path):
    other = good["elevation"].assign_coords(x=good["x"] + 100_000.0)  # no overlap
    ds = good.drop_vars("elevation")
    ds["elevation"] = other  # xarray aligns it to all-NaN, as users do it
    assert ds["elevation"].isnull().all()
    with pytest.raises(InputError, match=r"'elevation' has no valid pixel.*another\s+grid"):
        xsoilmoist.predict(ds, MODEL)
    with raise_if_dask_computes():
        lazy = xsoilmoist.predict(ds.chunk(), MODEL)  # nothing computes yet
    with pytest.raises(InputError, match=r"'elevation' has no valid pixel"):
        lazy.compute()
    with pytest.raises(InputError, match=r"'elevation' has no valid pixel"):
        write_result(lazy, tmp_path / "ssm.zarr")
    assert list(tmp_path.iterdir()) == []  # the map is not left behind
    report = xsoilmoist.check(ds, valid_fraction=True)
    assert not report.ok and any("'elevation' has no valid pixel" in p for p in report.problems)


def test_mixed_10_and_20_m_bands_are_not_one_grid(good):
    coarse = good[["swir1", "swir2"]].coarsen(y=2, x=2).mean()  # 20 m pixel centres
    ds = xr.merge([good.drop_vars(["swir1", "swir2"]), coarse], join="outer")
    with pytest.raises(
        InputError, match=r"coordinate is not evenly spaced.*10 m and 20 m.*assemble"
    ):
        xsoilmoist.predict(ds, MODEL)
    assert not xsoilmoist.check(ds).ok


@pytest.mark.parametrize("kept", ["t2m", "tp"])
def test_half_of_meteorology_warns_that_the_modality_is_ignored(good, kept):
    dropped = {"t2m": "tp", "tp": "t2m"}[kept]
    ds = good.drop_vars(dropped)
    with pytest.warns(InputWarning, match=rf"'meteorology' is incomplete: \['{dropped}'\] missing"):
        ssm = xsoilmoist.predict(ds, MODEL)
    assert np.isfinite(ssm.values).all()
    assert any(dropped in w for w in xsoilmoist.check(ds).warnings)


def test_sar_and_optical_hours_apart_is_an_error(good):
    t0 = good["time"].values[0]
    sar = good[["vv", "vh"]].assign_coords(time=[t0])
    optical = good.drop_vars(["vv", "vh"]).assign_coords(time=[t0 + np.timedelta64(3, "h")])
    ds = xr.merge([sar, optical], join="outer")
    assert ds.sizes["time"] == 2
    with pytest.raises(InputError, match=r"no valid SAR pixel.*time_tolerance"):
        xsoilmoist.predict(ds, MODEL)


def test_backscatter_of_plus_8_db_is_an_error(good):
    ds = good.copy()
    ds["vv"] = xr.full_like(good["vv"], 8.0)
    with pytest.raises(InputError, match=r"'vv' is above 0 dB over 100% .*'1', not 'dB'"):
        xsoilmoist.predict(ds, MODEL)


def test_linear_power_labelled_db_is_an_error(good):
    ds = good.copy()
    for band in ("vv", "vh"):
        ds[band] = (10 ** (good[band] / 10)).assign_attrs(units="dB")
    with pytest.raises(InputError, match=r"'vh' is above -5 dB"):
        xsoilmoist.predict(ds, MODEL)


@pytest.mark.parametrize(
    "change",
    [
        lambda ds: ds.isel(x=np.r_[0:10, 5, 10:48]),  # duplicated column
        lambda ds: ds.isel(x=np.random.default_rng(0).permutation(48)),  # shuffled
    ],
)
def test_duplicated_or_shuffled_coordinates_are_errors(good, change):
    with pytest.raises(InputError, match=r"'x' coordinate (repeats|is not sorted)"):
        xsoilmoist.predict(change(good), MODEL)


def test_either_y_orientation_gives_the_same_map(good):
    north_up = xsoilmoist.predict(good, MODEL)
    south_up = xsoilmoist.predict(good.isel(y=slice(None, None, -1)), MODEL)
    assert south_up["y"].values[0] < south_up["y"].values[-1]  # the input's order is kept
    xr.testing.assert_equal(south_up.sortby("y", ascending=False), north_up)


def test_pixel_size_far_from_10_m_warns(good):
    coarse = good.assign_coords(x=good["x"] * 3, y=good["y"] * 3)  # 30 m pixels
    with pytest.warns(InputWarning, match=r"pixels are 30 x 30 m.*10 m"):
        xsoilmoist.predict(coarse, MODEL)


def test_empty_scene_is_a_clear_error(good):
    with pytest.raises(InputError, match="the scene is empty"):
        xsoilmoist.predict(good.isel(x=slice(0, 0)), MODEL)


def test_dask_result_equals_numpy_result_when_checks_pass(good):
    ds = july_scene(nt=2)
    eager = xsoilmoist.predict(ds, MODEL)
    lazy = xsoilmoist.predict(ds.chunk({"x": 24}), MODEL)
    np.testing.assert_allclose(lazy.values, eager.values, atol=1e-6)


def test_months_the_card_was_not_trained_on_warn(good):
    trained = xsoilmoist.load_model(MODEL).card.trained_months
    assert trained, "the default model's card records the months it was trained on"
    other = next(m for m in range(1, 13) if m not in trained)
    moved = good.assign_coords(time=pd.to_datetime([f"2022-{other:02d}-15"]))
    with pytest.warns(InputWarning, match=rf"months \[{other}\] are outside the months"):
        xsoilmoist.predict(moved, MODEL)


def test_timezone_aware_times_name_the_fix(good):
    aware = good.assign_coords(time=good.indexes["time"].tz_localize("UTC"))
    with pytest.raises(InputError, match=r"not timezone-free datetime64.*tz_convert\(None\)"):
        xsoilmoist.predict(aware, MODEL)


def test_coordinates_that_are_not_on_earth_name_the_crs(good):
    far = good.assign_coords(x=1e30 + np.arange(48) * 1e25)
    with pytest.raises(InputError, match=r"not a place on Earth in its CRS \(EPSG:32633\)"):
        xsoilmoist.predict(far, MODEL)


def test_meteorology_without_units_warns_what_was_assumed(good):
    kelvin = good.assign(t2m=good["t2m"] + 273.15, tp=good["tp"] / 1000)
    for band in ("t2m", "tp"):
        del kelvin[band].attrs["units"]
    with pytest.warns(
        InputWarning, match=r"'t2m' \(band 't2m'\) has no units attribute; assumed 'K'"
    ):
        ssm = xsoilmoist.predict(kelvin, MODEL)
    np.testing.assert_allclose(ssm.values, xsoilmoist.predict(good, MODEL).values, atol=1e-4)


def test_nan_coordinates_are_an_error(good):
    holed = good.assign_coords(x=np.where(np.arange(48) == 3, np.nan, good["x"].values))
    with pytest.raises(InputError, match=r"'x' coordinate has NaN or infinite values"):
        xsoilmoist.predict(holed, MODEL)


@settings(max_examples=25, deadline=None)
@given(
    chunk_y=st.integers(1, 9),
    chunk_x=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    n_time=st.integers(1, 3),
)
def test_value_counts_equal_numpy_counts_for_any_chunking(chunk_y, chunk_x, seed, n_time):
    from xsoilmoist.input_checks import COUNTS, PLAUSIBLE_RANGES, ScenePlan, value_counts

    rng = np.random.default_rng(seed)
    vv = rng.uniform(-40.0, 5.0, size=(n_time, 9, 7)).astype(np.float32)
    vv[rng.random(vv.shape) < 0.3] = np.nan
    std = xr.Dataset(
        {"vv": (("time", "y", "x"), vv, {"units": "dB"})},
        coords={
            "time": pd.date_range("2022-06-01", periods=n_time),
            "y": np.arange(9.0),
            "x": np.arange(7.0),
        },
    ).chunk({"y": chunk_y, "x": chunk_x})
    plan = ScenePlan.of(std, ["vv"], {"vv": (-25.0, -5.0)})
    counts = value_counts(std, ["vv"], plan).compute()
    low, high = PLAUSIBLE_RANGES["vv"]
    valid = np.isfinite(vv)
    expected = np.stack(
        [
            np.full(n_time, 63.0),
            valid.sum(axis=(1, 2)),
            (valid & ((vv < low) | (vv > high))).sum(axis=(1, 2)),
            (valid & ((vv < -25.0) | (vv > -5.0))).sum(axis=(1, 2)),
        ],
        axis=-1,
    )
    assert counts.shape == (1, n_time, len(COUNTS))
    np.testing.assert_array_equal(counts[0], expected)


def test_only_the_last_block_waits_for_the_verdict():
    """The map streams block by block; the counts' errors come with its last block."""
    from xsoilmoist.input_checks import COUNTS, ScenePlan, guard

    plan = ScenePlan(bands=("vv",), times=("",), sar_bands=("vv",))
    counts = da.from_array(np.array([[[16.0, 0.0, 0.0, 0.0]]]))  # no valid vv pixel
    assert counts.shape[-1] == len(COUNTS)
    result = guard(da.ones((4, 4), chunks=2), counts, plan)
    np.testing.assert_array_equal(result[:2, :2].compute(), 1.0)
    with pytest.raises(InputError, match=r"'vv' has no valid pixel"):
        result[2:, 2:].compute()
    with pytest.raises(InputError, match=r"time step\(s\) \['the scene'\] have no valid SAR"):
        result.compute()


@settings(max_examples=25, deadline=None)
@given(
    n_y=st.integers(1, 40),
    n_x=st.integers(1, 40),
    chunk=st.integers(3, 17),
    tile=st.sampled_from([8, 16]),
    block_tiles=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_counts_made_by_the_blocks_equal_value_counts(n_y, n_x, chunk, tile, block_tiles, seed):
    """Each block counts its own scene pixels (no margin, no mirrored padding): summed over
    the blocks, the counts are the scene's, for any scene size, tiling and chunking."""
    from xsoilmoist.input_checks import ScenePlan, block_counter, value_counts
    from xsoilmoist.tiling import TilingPlan, overlapping_blocks

    rng = np.random.default_rng(seed)
    bands = {
        "vh": rng.uniform(-50.0, 0.0, size=(1, n_y, n_x)),
        "vv": rng.uniform(-40.0, 5.0, size=(1, n_y, n_x)),
    }
    for values in bands.values():
        values[rng.random(values.shape) < 0.3] = np.nan
    std = xr.Dataset(
        {b: (("time", "y", "x"), v.astype(np.float32), {"units": "dB"}) for b, v in bands.items()},
        coords={"time": pd.date_range("2022-06-01", periods=1)},
    ).chunk({"y": chunk, "x": chunk})
    plan = ScenePlan.of(std, ["vv", "vh"], {"vv": (-25.0, -5.0)})
    layout = ["vh", "ndvi", "vv"]  # the stack's band order: counted by name, not position
    stack = da.stack(
        [std["vh"].data, da.full((1, n_y, n_x), np.nan, dtype=np.float32), std["vv"].data], axis=1
    )
    count, count_shape = block_counter(plan, layout)
    _, counts = overlapping_blocks(
        stack,
        TilingPlan.for_tile(tile, halo=1, overlap=4),
        block_tiles,
        read_in_task=True,
        apply=lambda block, t: np.zeros((1, 2, *block.shape[2:]), np.float32),
        apply_bands=2,
        summarize=count,
        summary_shape=count_shape,
    )
    from_blocks = counts.sum(axis=(1, 2)).transpose(1, 0, 2).compute()
    np.testing.assert_array_equal(from_blocks, value_counts(std, plan.bands, plan)[..., 1:])
