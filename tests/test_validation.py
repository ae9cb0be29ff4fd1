import dask.array
import numpy as np
import pandas as pd
import pyproj
import pytest
import xarray as xr
from helpers import raise_if_dask_computes

from xsoilmoist.errors import InputWarning
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.validation import validate

UTM = "EPSG:32633"
LEFT, TOP, PIXEL = 500_000.0, 5_000_000.0, 10.0
TIMES = np.array(["2021-06-01T05:00", "2021-06-02T05:00", "2021-06-03T05:00"], "datetime64[ns]")
#: (row, col) of the station pixels, and each station's offset from the pixel centre (m)
PIXELS = {"north": (0, 0), "middle": (1, 3), "corner": (3, 4)}
OFFSETS = {"north": (3.0, -4.0), "middle": (-4.9, 4.9), "corner": (0.0, 0.0)}
OBS = {
    "north": [0.20, 0.25, 0.31],
    "middle": [0.12, 0.18, 0.15],
    "corner": [0.33, 0.29, 0.35],
}


def _raster_values() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.uniform(0.1, 0.4, (3, 4, 5)).astype(np.float32)


def _ssm(values=None) -> xr.DataArray:
    values = _raster_values() if values is None else values
    x = LEFT + PIXEL * (np.arange(5) + 0.5)
    y = TOP - PIXEL * (np.arange(4) + 0.5)
    ssm = xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={"time": TIMES, "y": y, "x": x},
        name="ssm",
        attrs={"units": "m3 m-3", "model": "default", "model_sha256": "abc123"},
    )
    return ssm.rio.write_crs(UTM)


def _station_xy(name: str) -> tuple[float, float]:
    row, col = PIXELS[name]
    dx, dy = OFFSETS[name]
    return LEFT + PIXEL * (col + 0.5) + dx, TOP - PIXEL * (row + 0.5) + dy


def _stations(names=tuple(PIXELS), crs="EPSG:4326", shift="1h") -> xr.Dataset:
    """Stations in ``crs`` (lat/lon for WGS 84, x/y otherwise), observed ``shift`` after."""
    to_crs = pyproj.Transformer.from_crs(UTM, crs, always_xy=True)
    xs, ys = to_crs.transform(*np.array([_station_xy(n) for n in names]).T)
    coords = {"station": list(names)}
    if crs == "EPSG:4326":
        coords |= {"lon": ("station", xs), "lat": ("station", ys)}
    else:
        coords |= {"x": ("station", xs), "y": ("station", ys)}
    obs = np.array([OBS.get(n, [0.2, 0.2, 0.2]) for n in names], dtype=np.float32)
    return xr.Dataset(
        {"soil_moisture": (("station", "time"), obs, {"units": "m3 m-3"})},
        coords={**coords, "time": TIMES + np.timedelta64(1, "h").astype("m8[ns]")},
    )


def _hand_metrics(p: np.ndarray, o: np.ndarray) -> dict:
    e = p - o
    return {
        "bias": e.mean(),
        "rmse": np.sqrt(np.mean(e**2)),
        "mae": np.abs(e).mean(),
        "ubrmse": np.sqrt(np.mean((e - e.mean()) ** 2)),
        "pearson_r": np.corrcoef(p, o)[0, 1],
        "r2": 1 - np.sum(e**2) / np.sum((o - o.mean()) ** 2),
        "n": p.size,
    }


def test_station_pixels_and_metrics_equal_hand_computed_values():
    values = _raster_values()
    result = validate(_ssm(values), _stations())
    assert result["station"].values.tolist() == list(PIXELS)
    np.testing.assert_array_equal(result["time"].values, TIMES)
    for name, (row, col) in PIXELS.items():
        p = values[:, row, col].astype(np.float64)
        o = np.array(OBS[name], dtype=np.float32).astype(np.float64)
        np.testing.assert_array_equal(result["predicted"].sel(station=name), values[:, row, col])
        np.testing.assert_allclose(result["observed"].sel(station=name), o)
        for metric, expected in _hand_metrics(p, o).items():
            assert float(result[metric].sel(station=name)) == pytest.approx(expected, rel=1e-6)
    p = np.concatenate([values[:, r, c] for r, c in PIXELS.values()]).astype(np.float64)
    o = np.concatenate([OBS[n] for n in PIXELS]).astype(np.float32).astype(np.float64)
    for metric, expected in _hand_metrics(p, o).items():
        assert float(result[f"pooled_{metric}"]) == pytest.approx(expected, rel=1e-6)
    assert result["pooled_rmse"].dims == ()
    assert result["rmse"].attrs["units"] == "m3 m-3"
    assert result.attrs["model"] == "default"
    assert result.attrs["model_sha256"] == "abc123"
    assert result.attrs["method"] == "nearest"
    assert result.attrs["tolerance"] == "0 days 12:00:00"


def test_lat_lon_and_projected_stations_land_on_the_expected_utm_pixels():
    expected_x = [LEFT + PIXEL * (c + 0.5) for _, c in PIXELS.values()]
    expected_y = [TOP - PIXEL * (r + 0.5) for r, _ in PIXELS.values()]
    for stations, crs in [
        (_stations(), None),
        (_stations(crs="EPSG:3857"), "EPSG:3857"),
        (_stations(crs="EPSG:3857").assign_attrs(crs="EPSG:3857"), None),
    ]:
        result = validate(_ssm(), stations, crs=crs)
        np.testing.assert_allclose(result["pixel_x"], expected_x)
        np.testing.assert_allclose(result["pixel_y"], expected_y)
        assert result.attrs["crs"] == UTM


def test_simulated_scene_validates_against_its_own_stations():
    scene = simulate_scene(shape=(24, 24), times=3, n_stations=5, seed=3)
    truth = scene["ssm_true"].rio.write_crs(scene.rio.crs)
    result = validate(truth, scene, tolerance="1h")
    rows = xr.DataArray(scene["station_row"].values, dims="station")
    cols = xr.DataArray(scene["station_col"].values, dims="station")
    at_stations = truth.isel(y=rows, x=cols).transpose("station", "time").values
    np.testing.assert_array_equal(result["predicted"].values, at_stations)
    np.testing.assert_array_equal(result["observed"].values, scene["station_ssm"].values)
    e = at_stations.astype(np.float64) - scene["station_ssm"].values.astype(np.float64)
    assert float(result["pooled_rmse"]) == pytest.approx(np.sqrt(np.mean(e**2)), rel=1e-6)
    assert float(result["pooled_n"]) == e.size
    assert result.attrs["station_variable"] == "station_ssm"


def test_each_prediction_pairs_with_the_nearest_valid_observation_within_tolerance():
    t0, t1 = TIMES[0], TIMES[1]
    hour = np.timedelta64(1, "h").astype("m8[ns]")
    first = _stations(names=("north",))
    stations = xr.Dataset(
        {"sm": (("station", "time"), [[0.10, 0.20, np.nan, 0.30, 0.40]])},
        coords={
            "station": ["north"],
            "lon": first["lon"].variable,
            "lat": first["lat"].variable,
            "time": [t0 - 5 * hour, t0 - 3 * hour, t0 + hour, t0 + 3 * hour, t1 + 2 * hour],
        },
    )
    ssm = _ssm().isel(time=[0, 1])
    result = validate(ssm, stations)  # at t0: NaN at +1h skipped; -3h and +3h tie: later wins
    np.testing.assert_allclose(result["observed"].values, [[0.30, 0.40]])
    np.testing.assert_array_equal(result["observed_time"].values, [[t0 + 3 * hour, t1 + 2 * hour]])
    narrow = validate(ssm, stations, tolerance="2h59min")
    np.testing.assert_allclose(narrow["observed"].values, [[np.nan, 0.40]])
    assert np.isnat(narrow["observed_time"].values[0, 0])
    assert int(narrow["n"].item()) == 1
    later = stations.assign(sm=stations["sm"].copy(data=[[0.10, np.nan, np.nan, 0.30, 0.40]]))
    np.testing.assert_allclose(validate(ssm, later, tolerance="3h")["observed"], [[0.30, 0.40]])
    with pytest.raises(ValueError, match=r"no station observation lies within .* predictions"):
        validate(ssm.assign_coords(time=ssm.time + np.timedelta64(30, "D")), stations)


def test_stations_outside_the_raster_warn_by_name_and_are_excluded():
    stations = _stations()
    far = stations.isel(station=[0]).assign_coords(
        station=["faraway"], lon=("station", [14.5]), lat=("station", [46.0])
    )
    both = xr.concat([stations, far], dim="station")
    with pytest.warns(UserWarning, match=r"1 station\(s\) outside the raster .*: faraway"):
        result = validate(_ssm(), both)
    assert result["station"].values.tolist() == list(PIXELS)
    assert result.attrs["stations_outside"] == "faraway"
    with pytest.raises(ValueError, match=r"no station lies on the raster: raster x 500000"):
        validate(_ssm(), far)


def test_lazy_input_computes_only_the_blocks_of_station_pixels():
    values = _raster_values()
    computed = []

    def record(block, block_info=None):
        computed.append(tuple(block_info[None]["chunk-location"]))
        return block

    lazy = dask.array.from_array(values, chunks=(3, 2, 2)).map_blocks(record, dtype=np.float32)
    ssm = _ssm(values).copy(data=lazy)
    with raise_if_dask_computes(max_computes=1):
        result = validate(ssm, _stations())
    assert sorted(set(computed)) == [(0, 0, 0), (0, 0, 1), (0, 1, 2)]  # of 6 blocks
    np.testing.assert_array_equal(
        result["predicted"].values, validate(_ssm(values), _stations())["predicted"].values
    )


def test_linear_method_interpolates_between_pixel_centres():
    values = _raster_values()
    x, y = LEFT + PIXEL * 2.0, TOP - PIXEL * 2.75  # col 1.5, row 2.25 in pixel-centre units
    lon, lat = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(x, y)
    stations = _stations(names=("north",)).assign_coords(
        lon=("station", [lon]), lat=("station", [lat])
    )
    result = validate(_ssm(values), stations, method="linear")
    top = 0.5 * (values[:, 2, 1] + values[:, 2, 2])
    bottom = 0.5 * (values[:, 3, 1] + values[:, 3, 2])
    np.testing.assert_allclose(result["predicted"].values[0], 0.75 * top + 0.25 * bottom, rtol=1e-6)


def test_prediction_without_time_dim_uses_its_time_coordinate():
    single = _ssm().isel(time=1)
    result = validate(single, _stations())
    np.testing.assert_array_equal(result["time"].values, TIMES[[1]])
    np.testing.assert_allclose(result["observed"].values[:, 0], [OBS[n][1] for n in PIXELS])
    with pytest.raises(ValueError, match="ssm has no time"):
        validate(single.drop_vars("time"), _stations())


def test_observations_are_converted_to_the_prediction_units():
    stations = _stations()
    percent = stations.assign(
        soil_moisture=(stations["soil_moisture"] * 100).assign_attrs(units="%")
    )
    result = validate(_ssm(), percent)
    np.testing.assert_allclose(result["observed"], stations["soil_moisture"], rtol=1e-6)


def test_bad_inputs_name_the_problem_and_the_fix():
    no_crs = _ssm().drop_vars("spatial_ref")
    with pytest.raises(ValueError, match=r"ssm has no CRS.*ssm.rio.write_crs"):
        validate(no_crs, _stations())
    two = _stations().assign(soil_temperature=lambda s: s["soil_moisture"] * 50)
    with pytest.raises(ValueError, match=r"several variables .* pass variable="):
        validate(_ssm(), two)
    assert (
        validate(_ssm(), two, variable="soil_moisture").attrs["station_variable"] == "soil_moisture"
    )
    with pytest.raises(ValueError, match=r"need a CRS: pass crs="):
        validate(_ssm(), _stations(crs="EPSG:3857"))
    with pytest.raises(ValueError, match="method must be one of"):
        validate(_ssm(), _stations(), method="cubic")


def test_inputs_are_not_mutated():
    ssm, stations = _ssm(), _stations()
    ssm_before, stations_before = ssm.copy(deep=True), stations.copy(deep=True)
    validate(ssm, stations)
    xr.testing.assert_identical(ssm, ssm_before)
    xr.testing.assert_identical(stations, stations_before)
    assert ssm.rio.crs == ssm_before.rio.crs


def test_read_ismn_output_validates_directly(tmp_path):
    from xsoilmoist.ismn import read_ismn

    lon, lat = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(
        *_station_xy("middle")
    )
    records = [
        f"{t.astype('datetime64[m]').item():%Y/%m/%d %H:%M} {v:.3f} G M"
        for t, v in zip(TIMES, OBS["middle"], strict=True)
    ]
    path = tmp_path / "NET_NET_Mid_sm_0.050000_0.050000_Probe_20210601_20210603.stm"
    header = f"NET NET Mid {lat:.7f} {lon:.7f} 420.0 0.05 0.05 Probe"
    path.write_text("\n".join([header, *records]) + "\n")
    values = _raster_values()
    result = validate(_ssm(values), read_ismn(path), tolerance="0h")
    np.testing.assert_array_equal(result["predicted"].values[0], values[:, 1, 3])
    np.testing.assert_allclose(result["observed"].values[0], OBS["middle"], rtol=1e-6)
    assert result["network"].values.tolist() == ["NET"]
    assert result.attrs["station_coordinates"] == "lon/lat in EPSG:4326"


def _scene_with_stations(stations: xr.Dataset) -> xr.Dataset:
    """A scene (as training reads it) holding the stations' readings as a variable."""
    readings = stations["soil_moisture"].rename("station_ssm")
    return _ssm().to_dataset(name="vv").assign(station_ssm=readings.drop_vars("time"))


def test_training_and_validation_place_stations_on_the_same_pixels():
    from xsoilmoist.stations import place_stations
    from xsoilmoist.training.scenes import _station_pixels

    expected_rows = [r for r, _ in PIXELS.values()]
    expected_cols = [c for _, c in PIXELS.values()]
    lonlat = _stations()
    xy = np.array([_station_xy(n) for n in PIXELS])
    in_scene_crs = lonlat.drop_vars(["lon", "lat"]).assign_coords(
        station_x=("station", xy[:, 0]), station_y=("station", xy[:, 1])
    )
    for stations in (lonlat, in_scene_crs):
        scene = _scene_with_stations(stations)
        rows, cols = _station_pixels(scene, scene["station_ssm"])
        assert (rows.tolist(), cols.tolist()) == (expected_rows, expected_cols)
    placed = place_stations(lonlat, _ssm())
    assert [r.tolist() for r in placed.nearest()] == [expected_rows, expected_cols]
    np.testing.assert_allclose(placed.x, xy[:, 0], atol=1e-6)
    assert placed.described == "lon/lat in EPSG:4326"
    result = validate(_ssm(), lonlat)
    np.testing.assert_allclose(result["pixel_x"], [LEFT + PIXEL * (c + 0.5) for c in expected_cols])
    # pixel indices, as the simulator writes them, are taken as they are
    indexed = in_scene_crs.assign_coords(
        station_row=("station", [3, 2, 1]), station_col=("station", [0, 1, 2])
    )
    scene = _scene_with_stations(indexed)
    rows, cols = _station_pixels(scene, scene["station_ssm"])
    assert (rows.tolist(), cols.tolist()) == ([3, 2, 1], [0, 1, 2])


def test_placement_edges_and_stations_outside_the_scene():
    from xsoilmoist.stations import place_stations
    from xsoilmoist.training.scenes import _station_pixels

    # on the edge between columns 0 and 1 and rows 1 and 2: the first in the raster's order
    edge = xr.Dataset(
        coords={
            "station": ["edge", "far"],
            "x": ("station", [LEFT + PIXEL, LEFT + 6 * PIXEL]),
            "y": ("station", [TOP - 2 * PIXEL, TOP - PIXEL]),
        }
    )
    placed = place_stations(edge, _ssm(), crs=UTM)
    np.testing.assert_allclose(placed.cols, [0.5, 5.5])
    assert placed.inside.tolist() == [True, False]
    assert [r.tolist()[0] for r in placed.nearest()] == [1, 0]
    stations = _stations().assign_coords(lon=("station", [14.5, 14.5, 30.0]))
    scene = _scene_with_stations(stations)
    with pytest.raises(ValueError, match=r"3 station\(s\) .* lie outside the scene .*north"):
        _station_pixels(scene, scene["station_ssm"])
    with pytest.raises(ValueError, match="need a CRS"):
        place_stations(edge, _ssm())
    with pytest.raises(ValueError, match="raster has no CRS"):
        place_stations(_stations(), _ssm().drop_vars("spatial_ref"))


def test_temporal_matching_is_pytesmos_nearest_within_the_window():
    """As pytesmo's temporal_collocation(method="nearest"): pandas' nearest reindex within the
    window, on each station's valid observations."""
    rng = np.random.default_rng(11)
    start = np.datetime64("2021-06-01T00:00", "ns")
    obs_times = start + np.sort(rng.choice(30 * 24, 60, replace=False)) * np.timedelta64(1, "h")
    values = rng.uniform(0.1, 0.4, (3, obs_times.size))
    values[rng.uniform(size=values.shape) < 0.3] = np.nan
    pred_times = start + np.arange(0, 30 * 24, 18) * np.timedelta64(1, "h")
    ssm = _ssm().isel(time=np.arange(pred_times.size) % 3).assign_coords(time=pred_times)
    stations = _stations().drop_vars("soil_moisture").drop_dims("time")
    stations["sm"] = (("station", "time"), values)
    stations = stations.assign_coords(time=obs_times)
    for window in ("6h", "9h", "1D"):
        result = validate(ssm, stations, tolerance=window)
        for i, name in enumerate(result["station"].values):
            series = stations["sm"].sel(station=name).to_series().dropna()
            expected = series.reindex(
                pd.DatetimeIndex(pred_times), method="nearest", tolerance=pd.Timedelta(window)
            )
            np.testing.assert_allclose(result["observed"].values[i], expected.values)


def test_validate_reports_bootstrap_intervals_and_anomaly_correlations():
    rng = np.random.default_rng(2)
    times = np.datetime64("2021-04-01T05:00", "ns") + np.arange(120) * np.timedelta64(1, "D")
    days = np.arange(times.size)
    seasonal = 0.25 + 0.08 * np.sin(2 * np.pi * days / 365.25)
    field = seasonal[:, None, None] + rng.normal(0, 0.03, (times.size, 4, 5))
    ssm = _ssm().isel(time=np.zeros(times.size, int)).copy(data=field.astype(np.float32))
    ssm = ssm.assign_coords(time=times)
    rows, cols = zip(*PIXELS.values(), strict=True)
    truth = field[:, list(rows), list(cols)].T
    observed = truth + 0.05 * np.cos(2 * np.pi * days / 365.25) + rng.normal(0, 0.01, truth.shape)
    stations = _stations().drop_dims("time")
    stations["soil_moisture"] = (("station", "time"), observed, {"units": "m3 m-3"})
    stations = stations.assign_coords(time=times)
    result = validate(ssm, stations, tolerance="0h", ci=0.9, n_boot=300, anomalies=True)
    for prefix in ("", "pooled_"):
        for name in ("rmse", "bias", "pearson_r", "anomaly_r", "seasonal_anomaly_r"):
            lower, upper = result[f"{prefix}{name}_ci_lower"], result[f"{prefix}{name}_ci_upper"]
            assert (lower < result[f"{prefix}{name}"]).all() and (
                result[f"{prefix}{name}"] < upper
            ).all()
    assert result["rmse_ci_lower"].dims == ("station",)
    assert result["pooled_rmse_ci_upper"].attrs["units"] == "m3 m-3"
    assert result.attrs["ci"] == 0.9 and result.attrs["n_boot"] == 300
    # the observations' own seasonal offset hides nothing from the short-term anomalies
    assert (result["anomaly_r"] > result["pearson_r"]).all()
    assert float(result["pooled_anomaly_r"]) > 0.9
    again = validate(ssm, stations, tolerance="0h", ci=0.9, n_boot=300, anomalies=True)
    xr.testing.assert_identical(again, result)  # seeded


def test_a_station_with_constant_predictions_has_nan_correlation_and_a_warning():
    values = _raster_values()
    values[:, 1, 3] = 0.2  # the "middle" station's pixel never changes
    with pytest.warns(InputWarning, match=r"pearson_r is undefined .* constant"):
        result = validate(_ssm(values), _stations())
    assert np.isnan(float(result["pearson_r"].sel(station="middle")))
    assert np.isfinite(result["pearson_r"].sel(station=["north", "corner"])).all()
    assert np.isfinite(float(result["pooled_pearson_r"]))
