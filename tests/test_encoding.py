"""Cyclic day-of-year and location encodings (xsoilmoist.encoding)."""

from __future__ import annotations

import calendar
import datetime as dt
import math

import dask
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from xsoilmoist.encoding import (
    METADATA_FEATURES,
    encode_location,
    encode_time,
    metadata_features,
)


def _angle(enc: xr.Dataset) -> np.ndarray:
    """Day-of-year angle in [0, 2*pi) recovered from the sine/cosine pair."""
    return np.mod(np.arctan2(enc.doy_sin.values, enc.doy_cos.values), 2 * np.pi)


def _angular_distance(a, b) -> np.ndarray:
    diff = np.mod(np.asarray(a) - np.asarray(b), 2 * np.pi)
    return np.minimum(diff, 2 * np.pi - diff)


def _times(*stamps: str) -> np.ndarray:
    return np.array(stamps, dtype="datetime64[ns]")


def _raise_on_compute(dsk, keys, **kwargs):
    raise AssertionError("a dask graph was computed; only coordinates should be read")


# ---------------------------------------------------------------- day of year


@settings(max_examples=200, deadline=None, database=None)
@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)))
def test_day_of_year_angle_matches_calendar(when):
    enc = encode_time(np.array([when], dtype="datetime64[ns]"))
    days_in_year = 366 if calendar.isleap(when.year) else 365
    elapsed = (when - dt.datetime(when.year, 1, 1)).total_seconds() / 86400
    expected = 2 * math.pi * elapsed / days_in_year
    np.testing.assert_allclose(enc.doy_sin**2 + enc.doy_cos**2, 1.0, rtol=1e-12)
    assert _angular_distance(_angle(enc), expected)[0] < 1e-9


@pytest.mark.parametrize("year", [2019, 2020, 2100, 2000])  # non-leap, leap, century rules
def test_new_year_is_next_to_old_year(year):
    enc = encode_time(_times(f"{year}-12-31T23:59", f"{year + 1}-01-01T00:00"))
    gap = _angular_distance(*_angle(enc))
    assert gap == pytest.approx(2 * np.pi / (24 * 60 * (366 if calendar.isleap(year) else 365)))
    assert float(enc.doy_sin[1]) == 0.0
    assert float(enc.doy_cos[1]) == 1.0


def test_leap_year_december_31_is_a_day_before_january_1():
    enc = encode_time(_times("2020-12-31", "2021-01-01", "2019-12-31"))
    leap_dec31, jan1, plain_dec31 = _angle(enc)
    assert leap_dec31 == pytest.approx(2 * np.pi * 365 / 366)
    assert _angular_distance(leap_dec31, jan1) == pytest.approx(2 * np.pi / 366)
    assert plain_dec31 == pytest.approx(2 * np.pi * 364 / 365)


def test_july_2_noon_of_a_common_year_is_half_way():
    enc = encode_time(_times("2023-07-02T12:00"))
    assert _angle(enc)[0] == pytest.approx(np.pi, abs=1e-12)
    assert float(enc.doy_cos[0]) == pytest.approx(-1.0)


def test_time_encoding_keeps_the_time_coordinate_and_documents_the_formula():
    times = pd.date_range("2021-03-01", periods=4, freq="7D")
    ds = xr.Dataset(coords={"time": ("time", times, {"long_name": "acquisition time"})})
    enc = encode_time(ds)
    assert enc.doy_sin.dims == ("time",)
    np.testing.assert_array_equal(enc.time.values, times.values)
    assert enc.time.attrs == {"long_name": "acquisition time"}
    for name in ("doy_sin", "doy_cos"):
        assert "days_in_year" in enc[name].attrs["formula"]
        assert enc[name].attrs["units"] == "1"
        assert "acquisition" not in enc[name].attrs.get("long_name", "")
    xr.testing.assert_equal(encode_time(times), encode_time(ds.time))


def test_scalar_time_gives_scalar_encoding():
    enc = encode_time(np.datetime64("2020-01-01T00:00", "ns"))
    assert enc.doy_sin.dims == ()
    assert float(enc.doy_cos) == 1.0


def test_timezone_aware_index_is_converted_to_utc():
    rome_midnight = pd.DatetimeIndex(["2021-01-01T00:00"]).tz_localize("Europe/Rome")
    expected = encode_time(_times("2020-12-31T23:00"))
    np.testing.assert_allclose(encode_time(rome_midnight).doy_sin, expected.doy_sin)


def test_not_a_time_gives_nan():
    enc = encode_time(_times("2020-05-01", "NaT"))
    assert np.isfinite(enc.doy_sin[0])
    assert np.isnan(enc.doy_sin[1]) and np.isnan(enc.doy_cos[1])


@pytest.mark.parametrize(
    "bad",
    [
        np.array([1.5, 2.5]),
        np.array(["2020-01-01"]),
        xr.Dataset(coords={"time": [0.0, 1.0]}),
        xr.Dataset(
            coords={
                "time": xr.date_range("2000-01-01", periods=2, calendar="noleap", use_cftime=True)
            }
        ),
    ],
    ids=["floats", "strings", "float-time-coord", "cftime"],
)
def test_non_datetime_times_are_refused_with_the_fix(bad):
    with pytest.raises(TypeError, match=r"datetime64.*pandas\.to_datetime.*convert_calendar"):
        encode_time(bad)


def test_dataset_without_time_is_refused():
    with pytest.raises(ValueError, match=r"no 'time' coordinate.*assign_coords"):
        encode_time(xr.Dataset({"a": ("x", [1.0])}))


# ---------------------------------------------------------------- location


def _transverse_mercator(lat_deg: float, lon_deg: float, zone: int) -> tuple[float, float]:
    """UTM (north) easting/northing on WGS 84 from Snyder (1987), eqs. 8-9, 8-10, 3-21.

    An independent implementation (not pyproj) to check the CRS transform against.
    """
    a, f, k0 = 6378137.0, 1 / 298.257223563, 0.9996
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    lat = math.radians(lat_deg)
    lon0 = math.radians(zone * 6 - 183)
    n = a / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    t = math.tan(lat) ** 2
    c = ep2 * math.cos(lat) ** 2
    big_a = (math.radians(lon_deg) - lon0) * math.cos(lat)
    m = a * (
        (1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * lat
        - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * lat)
        + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * lat)
        - (35 * e2**3 / 3072) * math.sin(6 * lat)
    )
    easting = 500000 + k0 * n * (
        big_a
        + (1 - t + c) * big_a**3 / 6
        + (5 - 18 * t + t**2 + 72 * c - 58 * ep2) * big_a**5 / 120
    )
    northing = k0 * (
        m
        + n
        * math.tan(lat)
        * (
            big_a**2 / 2
            + (5 - t + 9 * c + 4 * c**2) * big_a**4 / 24
            + (61 - 58 * t + t**2 + 600 * c - 330 * ep2) * big_a**6 / 720
        )
    )
    return easting, northing


def _scene(x_centre: float, y_centre: float, crs, *, size: int = 120, res: float = 10.0):
    offsets = (np.arange(size) - (size - 1) / 2) * res
    return xr.Dataset(
        {"vv": (("time", "y", "x"), np.zeros((1, size, size), dtype="float32"), {"units": "dB"})},
        coords={
            "time": _times("2017-06-13T16:50:43"),
            "y": y_centre - offsets,
            "x": x_centre + offsets,
        },
    ).rio.write_crs(crs)


@pytest.mark.parametrize("lat, lon", [(48.2, 13.1), (48.0, 15.0), (41.3, 17.9)])
def test_utm_scene_centre_is_its_known_latitude_longitude(lat, lon):
    easting, northing = _transverse_mercator(lat, lon, zone=33)
    enc = encode_location(_scene(easting, northing, "EPSG:32633"))
    assert enc.attrs["centre_latitude"] == pytest.approx(lat, abs=1e-7)
    assert enc.attrs["centre_longitude"] == pytest.approx(lon, abs=1e-7)
    np.testing.assert_allclose(
        [enc.lat_sin, enc.lat_cos, enc.lon_sin, enc.lon_cos],
        [
            np.sin(np.radians(lat)),
            np.cos(np.radians(lat)),
            np.sin(np.radians(lon)),
            np.cos(np.radians(lon)),
        ],
        atol=1e-9,
    )
    assert enc.attrs["source_crs"] == "EPSG:32633"


def test_geographic_scene_centre_and_longitude_wrap():
    enc = encode_location(_scene(12.5, 42.0, "EPSG:4326", size=11, res=0.01))
    assert enc.attrs["centre_latitude"] == pytest.approx(42.0)
    assert enc.attrs["centre_longitude"] == pytest.approx(12.5)
    assert float(enc.lat_sin) == pytest.approx(np.sin(np.radians(42.0)))

    east_of_antimeridian = encode_location(_scene(195.0, -10.0, "EPSG:4326", size=3, res=1.0))
    assert east_of_antimeridian.attrs["centre_longitude"] == pytest.approx(-165.0)
    assert float(east_of_antimeridian.lon_cos) == pytest.approx(np.cos(np.radians(195.0)))


def test_real_bigearthnet_patch_centre(sample_data):
    from xsoilmoist.datasets import load_bigearthnet_pair

    scene = load_bigearthnet_pair(0, standardize=False, chunks={})  # Upper Austria, UTM 33N
    enc = encode_location(scene)
    lat, lon = enc.attrs["centre_latitude"], enc.attrs["centre_longitude"]
    assert 47.4 < lat < 48.8 and 12.7 < lon < 15.0
    # back to UTM with the independent formulas: the centre of the patch's bounds
    # (404400..405600 E, 5341200..5342400 N in its metadata)
    easting, northing = _transverse_mercator(lat, lon, zone=33)
    assert easting == pytest.approx(405000.0, abs=0.01)
    assert northing == pytest.approx(5341800.0, abs=0.01)


def test_location_without_crs_is_refused_with_the_fix():
    scene = _scene(404400.0, 5342400.0, "EPSG:32633").drop_vars("spatial_ref")
    scene["vv"].encoding.pop("grid_mapping", None)
    with pytest.raises(ValueError, match=r"no CRS.*rio\.write_crs"):
        encode_location(scene)


def test_location_without_spatial_dims_is_refused_with_the_fix():
    table = xr.Dataset({"a": ("station", [1.0, 2.0])}).rio.write_crs("EPSG:4326")
    with pytest.raises(ValueError, match=r"spatial dimensions.*set_spatial_dims"):
        encode_location(table)


# ---------------------------------------------------------------- metadata features


def test_metadata_features_order_dims_and_values():
    easting, northing = _transverse_mercator(48.2, 13.1, zone=33)
    scene = _scene(easting, northing, "EPSG:32633")
    scene = scene.isel(time=[0, 0]).assign_coords(time=_times("2020-12-31", "2021-01-01"))
    features = metadata_features(scene)
    assert features.dims == ("time", "feature")
    assert features.dtype == np.float32
    assert tuple(features.feature.values) == METADATA_FEATURES
    np.testing.assert_array_equal(features.time.values, scene.time.values)
    assert "spatial_ref" not in features.coords  # scalars, not a georeferenced grid
    time_part = encode_time(scene)
    np.testing.assert_allclose(features.sel(feature="doy_sin"), time_part.doy_sin, atol=1e-7)
    np.testing.assert_allclose(features.sel(feature="doy_cos"), time_part.doy_cos, atol=1e-7)
    # location repeats along time
    np.testing.assert_allclose(
        features.sel(feature="lat_sin"), [np.sin(np.radians(48.2))] * 2, atol=1e-7
    )
    np.testing.assert_allclose(
        features.sel(feature="lon_cos"), [np.cos(np.radians(13.1))] * 2, atol=1e-7
    )


def test_metadata_features_without_time_dimension():
    scene = _scene(12.5, 42.0, "EPSG:4326", size=5, res=0.01)
    from_scalar = metadata_features(scene.isel(time=0))
    assert from_scalar.dims == ("feature",)
    from_date = metadata_features(scene.isel(time=0, drop=True), date="2017-06-13T16:50:43")
    xr.testing.assert_allclose(from_scalar.drop_vars("time"), from_date)


def test_metadata_features_need_exactly_one_source_of_time():
    scene = _scene(12.5, 42.0, "EPSG:4326", size=5, res=0.01)
    with pytest.raises(ValueError, match=r"no 'time' coordinate.*date="):
        metadata_features(scene.drop_vars("time"))
    with pytest.raises(ValueError, match=r"already has a 'time' coordinate.*date="):
        metadata_features(scene, date="2020-01-01")


def test_encodings_do_not_compute_dask_data_nor_mutate_input():
    easting, northing = _transverse_mercator(48.2, 13.1, zone=33)
    scene = _scene(easting, northing, "EPSG:32633")
    scene["vv"] = scene["vv"].copy(data=da.zeros((1, 120, 120), chunks=60, dtype="float32"))
    before = scene.copy(deep=True)
    with dask.config.set(scheduler=_raise_on_compute):
        metadata_features(scene)
        encode_location(scene)
        encode_time(scene)
    xr.testing.assert_identical(scene, before)
    assert scene["vv"].chunks is not None
