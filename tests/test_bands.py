import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from helpers import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st

import xsoilmoist
from xsoilmoist.bands import StandardizeError, plan_standardization, standardize
from xsoilmoist.catalogue import BANDS, lookup_alias

NY, NX, NT = 12, 10, 2


def raw_scene(seed: int = 0) -> xr.Dataset:
    """A small raw scene with product names and product units on a UTM grid."""
    rng = np.random.default_rng(seed)
    shape = (NT, NY, NX)
    y = 5_000_000.0 - 10.0 * np.arange(NY) - 5.0
    x = 600_000.0 + 10.0 * np.arange(NX) + 5.0
    time = pd.to_datetime(["2022-06-01", "2022-06-13"])

    def s2(low, high):
        return (("time", "y", "x"), rng.integers(low, high, shape).astype("uint16"))

    ds = xr.Dataset(
        {
            "VV": (("time", "y", "x"), rng.uniform(0.01, 0.3, shape), {"units": "1"}),
            "VH": (("time", "y", "x"), rng.uniform(0.001, 0.05, shape), {"units": "1"}),
            "B02": s2(1100, 2000),
            "B03": s2(1200, 2500),
            "B04": s2(1100, 3000),
            "B08": s2(2000, 6000),
            "B11": s2(1500, 4000),
            "B12": s2(1200, 3000),
            "Lai_500m": (("time", "y", "x"), rng.integers(0, 70, shape).astype("uint8")),
            "Fpar_500m": (("time", "y", "x"), rng.integers(0, 100, shape).astype("uint8")),
            "2t": (("time", "y", "x"), rng.uniform(270, 310, shape), {"units": "K"}),
            "tp": (("time", "y", "x"), rng.uniform(0, 0.02, shape), {"units": "m"}),
            "dem": (("y", "x"), 200 + rng.normal(0, 3, (NY, NX)).cumsum(0), {"units": "m"}),
            "scl": (("time", "y", "x"), rng.integers(0, 11, shape).astype("uint8")),
        },
        coords={"time": time, "y": y, "x": x, "sensor_note": "test"},
        attrs={"title": "raw test scene", "processing_baseline": "04.00"},
    )
    for name in ("B02", "B03", "B04", "B08", "B11", "B12"):
        ds[name].attrs.update(units="DN", extra="keep me")
    ds["B04"][0, 0, 0] = 0  # Sentinel-2 no-data
    ds["Lai_500m"][0, 0, 1] = 250  # MODIS fill
    return ds.rio.write_crs("EPSG:32633")


@pytest.fixture
def raw():
    return raw_scene()


def test_aliases_of_real_products():
    assert lookup_alias("b8a") == ("nir08", "sentinel-2")
    assert lookup_alias("SR_B6") == ("swir1", "landsat-c2l2")
    assert lookup_alias("Sigma0_VH") == ("vh", None)
    assert lookup_alias("2t") == ("t2m", None)
    assert lookup_alias("height") == ("elevation", None)
    assert lookup_alias("Fpar_500m") == ("fpar", "modis-fpar")


def test_standardize_names_units_and_values(raw):
    out = standardize(raw)
    expected = {
        "vv",
        "vh",
        "vh_vv",
        "blue",
        "green",
        "red",
        "nir",
        "swir1",
        "swir2",
        "ndvi",
        "lai",
        "fpar",
        "t2m",
        "tp",
        "elevation",
        "slope",
        "scl",
    }
    assert set(out.data_vars) == expected
    for name in expected - {"scl"}:
        assert out[name].attrs["units"] == BANDS[name].units, name
        assert out[name].dtype == np.float32, name
    # Sentinel-2 from baseline 04.00: (DN - 1000) / 10000
    np.testing.assert_allclose(
        out["nir"].values, (raw["B08"].values.astype(float) - 1000) / 1e4, rtol=1e-6
    )
    assert np.isnan(out["red"].values[0, 0, 0])  # DN 0 is no data
    np.testing.assert_allclose(out["vv"].values, 10 * np.log10(raw["VV"].values), rtol=1e-5)
    np.testing.assert_allclose(out["t2m"].values, raw["2t"].values - 273.15, atol=1e-4)
    np.testing.assert_allclose(out["tp"].values, raw["tp"].values * 1000, rtol=1e-5)
    np.testing.assert_allclose(out["elevation"].values, raw["dem"].values, rtol=1e-6)
    lai = raw["Lai_500m"].values * 0.1
    assert np.isnan(out["lai"].values[0, 0, 1])
    np.testing.assert_allclose(out["lai"].values.ravel()[2:], lai.ravel()[2:], rtol=1e-6)
    np.testing.assert_allclose(out["fpar"].values, raw["Fpar_500m"].values * 0.01, rtol=1e-6)


def test_derived_bands(raw):
    out = standardize(raw)
    nir, red = out["nir"].values, out["red"].values
    np.testing.assert_allclose(out["ndvi"].values, (nir - red) / (nir + red), rtol=1e-5)
    np.testing.assert_allclose(out["vh_vv"].values, out["vh"] - out["vv"], rtol=1e-6)
    assert out["slope"].dims == ("y", "x")
    assert float(out["slope"].min()) >= 0 and float(out["slope"].max()) < 90
    assert out["ndvi"].attrs["derived_from"] == "(nir - red) / (nir + red)"
    assert "slope" not in standardize(raw, derive=False)


def test_coords_attrs_crs_and_other_variables_are_kept(raw):
    out = standardize(raw)
    assert out.rio.crs.to_epsg() == 32633
    assert out["red"].rio.crs.to_epsg() == 32633
    for name in ("time", "y", "x", "sensor_note"):
        xr.testing.assert_identical(out[name], raw[name])
    assert out.attrs == raw.attrs
    xr.testing.assert_identical(out["scl"], raw["scl"])
    assert out["red"].attrs["extra"] == "keep me"
    assert out["red"].attrs["source_variable"] == "B04"
    assert out["red"].attrs["source_units"] == "DN"
    assert "sentinel-2 DN: (DN -1000) x 0.0001" in out["red"].attrs["standardization"]
    assert "scale_factor" not in out["red"].attrs


def test_input_is_not_mutated(raw):
    before = raw.copy(deep=True)
    standardize(raw)
    xr.testing.assert_identical(raw, before)
    for name in raw.variables:
        assert raw[name].attrs == before[name].attrs


def test_standardize_is_idempotent(raw):
    once = standardize(raw)
    twice = standardize(once)
    for name in set(once.data_vars) & set(BANDS):
        np.testing.assert_array_equal(twice[name].values, once[name].values)
        assert twice[name].attrs["units"] == once[name].attrs["units"]


def test_valid_ranges_become_nan(raw):
    raw = raw.copy(deep=True)
    raw["VV"][:] = 1e3  # +30 dB: no natural target backscatters that much
    raw["B04"][0, 1, 1] = 20000  # reflectance 1.9
    raw["2t"][0, 0, 0] = 100.0  # -173 degC
    out = standardize(raw)
    assert out["vv"].isnull().all()
    assert np.isnan(out["red"].values[0, 1, 1])
    assert np.isnan(out["t2m"].values[0, 0, 0])
    assert np.isfinite(out["t2m"].values[0, 0, 1])


def test_sentinel2_offset_from_attrs_or_baseline(raw):
    old = raw.copy()
    old.attrs = {}
    for name in ("B02", "B03", "B04", "B08", "B11", "B12"):
        old[name].attrs["BOA_ADD_OFFSET"] = 0
    out = standardize(old)
    np.testing.assert_allclose(out["nir"].values, raw["B08"].values / 1e4, rtol=1e-6)
    old.attrs = {}
    out = standardize(raw.assign_attrs(processing_baseline="02.09"))
    np.testing.assert_allclose(out["nir"].values, raw["B08"].values / 1e4, rtol=1e-6)
    no_baseline = raw.copy()
    no_baseline.attrs = {}
    out = standardize(no_baseline, processing_baseline="05.10")
    np.testing.assert_allclose(out["nir"].values, (raw["B08"].values - 1000.0) / 1e4, rtol=1e-6)


def test_sentinel2_dn_without_baseline_is_an_error(raw):
    ds = raw.copy()
    ds.attrs = {}
    with pytest.raises(StandardizeError, match=r"processing_baseline='04\.00'"):
        standardize(ds)


def test_landsat_collection2_scaling():
    dn = np.array([[[0, 7273, 20000, 43636]]], dtype="uint16")
    ds = xr.Dataset({"SR_B4": (("time", "y", "x"), dn)}, coords={"y": [0.0], "x": np.arange(4.0)})
    out = standardize(ds)
    expected = [np.nan, 7273 * 2.75e-5 - 0.2, 20000 * 2.75e-5 - 0.2, 43636 * 2.75e-5 - 0.2]
    np.testing.assert_allclose(out["red"].values.ravel(), expected, rtol=1e-5, atol=1e-6)


def test_missing_units_assumed_only_where_the_product_settles_them():
    ds = xr.Dataset(
        {"t2m": (("y", "x"), [[300.0]]), "dem": (("y", "x"), [[12.0]])},
        coords={"y": [0.0], "x": [0.0]},
    )
    out = standardize(ds, derive=False)
    assert out["t2m"].values[0, 0] == pytest.approx(26.85, abs=1e-4)
    assert out["elevation"].attrs["standardization"] == "units assumed 'm' (product convention)"
    assert "units assumed 'K'" in out["t2m"].attrs["standardization"]
    with pytest.raises(StandardizeError, match=r"cannot derive 'slope'.*derive=False"):
        standardize(ds)  # a 1 x 1 DEM has no slope
    ds["VV"] = (("y", "x"), [[0.1]])
    with pytest.raises(
        StandardizeError, match=r"'VV' \(band 'vv'\) has no units.*attrs\['units'\]"
    ):
        standardize(ds)


def test_user_rename_mapping():
    ds = xr.Dataset(
        {"my_backscatter": (("y", "x"), [[-12.0]], {"units": "dB"})},
        coords={"y": [0.0], "x": [0.0]},
    )
    out = standardize(ds, rename={"my_backscatter": "vv"})
    assert list(out.data_vars) == ["vv"]
    assert out["vv"].attrs["source_variable"] == "my_backscatter"
    with pytest.raises(StandardizeError, match=r"'soil_wetness'.*not a canonical band"):
        standardize(ds, rename={"my_backscatter": "soil_wetness"})
    with pytest.raises(StandardizeError, match="'nope', which is not a data variable"):
        standardize(ds, rename={"nope": "vv"})


def test_two_variables_claiming_one_band(raw):
    ds = raw.assign(red=raw["B04"].astype("float32") / 1e4)
    ds["red"].attrs["units"] = "1"
    with pytest.raises(StandardizeError, match=r"\['B04', 'red'\] all claim band 'red'"):
        standardize(ds)


def test_variables_on_different_grids(raw):
    coarse = xr.DataArray(
        np.full((2, 2), 290.0), dims=("latitude", "longitude"), attrs={"units": "K"}
    )
    ds = raw.drop_vars("2t").assign(t2m=coarse)
    with pytest.raises(StandardizeError, match=r"'t2m' has dims .*rio.reproject_match"):
        standardize(ds)


def test_extra_band_dimension_is_rejected_with_the_fix():
    ds = xr.Dataset(
        {"VV": (("band", "y", "x"), [[[-10.0]]], {"units": "dB"})},
        coords={"band": [1], "y": [0.0], "x": [0.0]},
    )
    with pytest.raises(StandardizeError, match=r"\.squeeze\('band', drop=True\)"):
        standardize(ds)


def test_non_numeric_data_is_rejected():
    ds = xr.Dataset(
        {"VV": (("y", "x"), np.array([["-10"]]), {"units": "dB"})}, coords={"y": [0.0], "x": [0.0]}
    )
    with pytest.raises(StandardizeError, match="'VV' has dtype <U3, not a real number type"):
        standardize(ds)


def test_unknown_units_are_rejected():
    ds = xr.Dataset(
        {"VV": (("y", "x"), [[-10.0]], {"units": "decibels-ish"})}, coords={"y": [0.0], "x": [0.0]}
    )
    with pytest.raises(StandardizeError, match="unknown units 'decibels-ish'"):
        standardize(ds)
    ds["VV"].attrs["units"] = "K"
    with pytest.raises(StandardizeError, match="cannot convert 'K' to 'dB'"):
        standardize(ds)


def test_all_problems_are_listed_at_once(raw):
    ds = raw.copy()
    ds.attrs = {}
    ds["VV"].attrs = {}
    plan = plan_standardization(ds)
    assert len(plan.problems) == 7  # six Sentinel-2 bands without a baseline, VV without units


def test_no_spatial_dims():
    ds = xr.Dataset({"VV": (("a", "b"), [[-10.0]], {"units": "dB"})})
    with pytest.raises(StandardizeError, match="no spatial dimensions found"):
        standardize(ds)


def test_not_a_dataset():
    with pytest.raises(TypeError, match="to_dataset"):
        standardize(xr.DataArray([1.0]))


def test_geographic_dem_without_crs_is_rejected():
    lat = 42.0 - 0.0003 * np.arange(5)
    lon = 12.5 + 0.0003 * np.arange(6)
    ds = xr.Dataset(
        {"dem": (("y", "x"), np.random.default_rng(0).uniform(0, 100, (5, 6)), {"units": "m"})},
        coords={"y": lat, "x": lon},
    )
    with pytest.raises(StandardizeError, match=r"look like longitude/latitude.*write_crs"):
        standardize(ds)


def test_standardize_is_lazy_on_dask(raw):
    chunked = raw.chunk({"time": 1, "y": 5, "x": 4})
    with raise_if_dask_computes():
        out = standardize(chunked)
    for name in out.data_vars:
        assert out[name].chunks is not None, name


@settings(max_examples=10, deadline=None)
@given(
    cy=st.integers(min_value=2, max_value=NY),
    cx=st.integers(min_value=2, max_value=NX),
    ct=st.integers(min_value=1, max_value=NT),
)
def test_dask_and_numpy_give_identical_values(cy, cx, ct):
    raw = raw_scene(1)
    eager = standardize(raw)
    lazy = standardize(raw.chunk({"time": ct, "y": cy, "x": cx})).compute()
    for name in eager.data_vars:
        np.testing.assert_array_equal(lazy[name].values, eager[name].values, err_msg=name)


def test_accessor_and_top_level_function_agree(raw):
    a = raw.ssm.standardize()
    b = xsoilmoist.standardize(raw)
    xr.testing.assert_identical(a, b)


def _s2_stack_across_2022():
    """Red in DN for two scenes: December 2021 (baseline 03.01) and February 2022 (04.00)."""
    reflectance = 0.1
    dn = np.array([reflectance * 10000, reflectance * 10000 + 1000], dtype="uint16")
    ds = xr.Dataset(
        {"B04": (("time", "y", "x"), np.broadcast_to(dn[:, None, None], (2, 2, 2)).copy())},
        coords={
            "time": pd.to_datetime(["2021-12-20", "2022-02-10"]),
            "y": [10.0, 0.0],
            "x": [0.0, 10.0],
            "s2:processing_baseline": ("time", ["03.01", "04.00"]),
        },
    )
    ds["B04"].attrs["units"] = "DN"
    return ds, reflectance


def test_sentinel2_offset_per_scene_from_stac_properties():
    ds, reflectance = _s2_stack_across_2022()
    std = standardize(ds)
    np.testing.assert_allclose(std["red"].values, reflectance, rtol=1e-6)
    assert "offset per scene: -1000, +0" in std["red"].attrs["standardization"]
    assert ds["B04"].values.max() == 2000  # the input is not modified


def test_earth_search_offset_applied_flag_means_no_offset():
    ds, reflectance = _s2_stack_across_2022()
    ds = ds.assign_coords(
        {"earthsearch:boa_offset_applied": ("time", [False, True])},
    )
    ds["B04"].values[1] = reflectance * 10000  # Earth Search removed the offset already
    std = standardize(ds)
    np.testing.assert_allclose(std["red"].values, reflectance, rtol=1e-6)
