"""The antecedent precipitation index ``api``: from ERA5 in assemble, and in simulated scenes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_dask_computes, raster

import xsoilmoist
from xsoilmoist.assembly.antecedent import API_DAYS, API_RECESSION
from xsoilmoist.catalogue import BANDS, MODALITY_BANDS
from xsoilmoist.errors import InputError, InputWarning
from xsoilmoist.synthetic import simulate_scene

K = API_RECESSION
DAY = np.datetime64("2021-06-10", "ns")
T_SAR = DAY + np.timedelta64(17, "h")
ONE_DAY = np.timedelta64(1, "D")


def sar(times=(T_SAR,), n=16):
    rng = np.random.default_rng(0)
    shape = (len(times), n, n)
    kw = {"x0": 400000.0, "y0": 5300000.0, "res": 10.0, "crs": "EPSG:32633", "times": times}
    return xr.Dataset(
        {
            "VV": raster(rng.uniform(-15, -8, shape).astype("f4"), name="VV", units="dB", **kw),
            "VH": raster(rng.uniform(-22, -15, shape).astype("f4"), name="VH", units="dB", **kw),
        }
    )


def era5_tp(times, metres):
    """ERA5-like ``tp`` in m on 0.25 degree cells around 13.7 E, 47.8 N (the SAR's place)."""
    values = np.broadcast_to(np.asarray(metres, "f4")[:, None, None], (len(times), 4, 4))
    return raster(
        values.copy(),
        x0=13.0,
        y0=48.0,
        res=0.25,
        crs="EPSG:4326",
        name="tp",
        times=times,
        units="m",
    )


def hourly_record(first_day, rain_mm: dict):
    """Hourly accumulations (m) from ``first_day`` 01:00 to the SAR day's end; ``rain_mm``:
    days before the SAR day -> mm, fallen at 12:00 of that day (0: the SAR day)."""
    hours = first_day + np.arange(1, ((DAY - first_day) // ONE_DAY + 1) * 24 + 1) * np.timedelta64(
        1, "h"
    )
    metres = np.zeros(hours.size)
    for before, mm in rain_mm.items():
        metres[hours == DAY - before * ONE_DAY + np.timedelta64(12, "h")] = mm / 1000.0
    return era5_tp(hours, metres)


def test_api_is_an_optional_band_that_the_default_model_reads():
    assert BANDS["api"].modality == "meteorology" and BANDS["api"].units == "mm"
    assert all("api" not in bands for bands in MODALITY_BANDS.values())
    model = xsoilmoist.load_model("default")  # retrained with it (benchmarks/train_default.py)
    assert model.config.modalities["meteorology"] == ("t2m", "tp", "api")
    assert "api" in model.card.input_ranges


def test_assemble_adds_api_from_an_hourly_record_hand_computed():
    # 1 mm the day before, 10 mm three days before, 100 mm 29 days before (the last day of
    # the sum), 500 mm 30 days before (outside it), 7 mm on the SAR day itself (tp, not api)
    rain = {1: 1.0, 3: 10.0, 29: 100.0, 30: 500.0, 0: 7.0}
    tp = hourly_record(DAY - 31 * ONE_DAY, rain)
    scene = xsoilmoist.assemble(sar(), tp)
    expected = 1.0 + K**2 * 10.0 + K**28 * 100.0
    assert API_DAYS == 29
    np.testing.assert_allclose(scene["api"].values, expected, rtol=1e-5)
    np.testing.assert_allclose(scene["tp"].values, 7.0, rtol=1e-5)
    attrs = scene["api"].attrs
    assert attrs["units"] == "mm" and attrs["api_recession_constant"] == K
    assert attrs["api_window_days"] == 29 and "k = 0.85" in attrs["time_rule"]
    assert "29 UTC days before the SAR day" in scene.attrs["assembly_rules"]
    assert scene["api"].dims == ("time", "y", "x") and scene.rio.crs.to_epsg() == 32633


def test_daily_record_follows_the_recursion_between_sar_days():
    days = DAY - 40 * ONE_DAY + np.arange(42) * ONE_DAY  # daily totals to the day after
    rain = np.zeros(days.size)
    rain[[-3, -2, -10]] = [0.004, 0.020, 0.050]  # m: 4 mm the day before DAY, 20 mm on DAY
    sar_times = [T_SAR, T_SAR + ONE_DAY]
    scene = xsoilmoist.assemble(sar(sar_times), era5_tp(days, rain))
    api = scene["api"].values[:, 0, 0]
    first = 4.0 + K**7 * 50.0  # 4 mm one day before, 50 mm eight days before
    np.testing.assert_allclose(api[0], first, rtol=1e-5)
    np.testing.assert_allclose(api[1], K * first + 20.0, rtol=1e-5)  # API_d = k API_d-1 + P_d-1
    assert "daily value" in scene["tp"].attrs["time_rule"]


def test_too_short_a_record_leaves_api_out_with_the_days_needed():
    tp = hourly_record(DAY - 10 * ONE_DAY, {1: 5.0})
    with pytest.warns(InputWarning, match=r"api .* 29 days before each SAR day, from 2021-05-12"):
        scene = xsoilmoist.assemble(sar(), tp)
    assert "api" not in scene and "tp" in scene


def test_a_record_of_the_sar_day_alone_gives_no_api_and_no_warning():
    tp = hourly_record(DAY, {0: 3.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        scene = xsoilmoist.assemble(sar(), tp)
    assert "api" not in scene
    np.testing.assert_allclose(scene["tp"].values, 3.0, rtol=1e-5)


def test_api_is_lazy_on_dask_records():
    tp = hourly_record(DAY - 31 * ONE_DAY, {2: 8.0}).chunk({"time": 24})
    with raise_if_dask_computes():
        scene = xsoilmoist.assemble(sar(), tp)
    assert scene["api"].chunks is not None
    np.testing.assert_allclose(scene["api"].values, K * 8.0, rtol=1e-5)


# ------------------------------------------------------------------ the simulator


def test_simulated_api_decays_by_k_on_dry_days_and_adds_the_days_rain():
    times = np.arange("2021-05-01", "2021-06-15", dtype="datetime64[D]")  # daily overpasses
    ds = simulate_scene("farmland", shape=(6, 6), times=times, seed=2, coarse_resolution=60.0)
    api, tp = ds["api"].values.astype(float), ds["tp"].values.astype(float)
    assert ds["api"].attrs["units"] == "mm" and (api >= 0).all()
    # API_d+1 = k API_d + P_d - k^29 P_d-29 (the day that leaves the sum): exact from day 29 on
    n = API_DAYS
    expected = K * api[n:-1] + tp[n:-1] - K**n * tp[: -n - 1]
    np.testing.assert_allclose(api[n + 1 :], expected, rtol=1e-5, atol=1e-4)
    dry = (tp[:-1] == 0).all(axis=(1, 2))
    assert dry.any() and (api[1:][dry] < api[:-1][dry]).all()  # decays by about k
    np.testing.assert_allclose(api[1:][dry], K * api[:-1][dry], rtol=0.01)
    rises = api[1:] > api[:-1]
    assert rises.any() and (tp[:-1][rises] > 0).all()  # it rises only after rain


def test_cell_index_is_the_truncated_sum_by_hand():
    from xsoilmoist.synthetic.antecedent import cell_antecedent_index
    from xsoilmoist.synthetic.weather import CoarseWeather

    days = np.arange("2021-04-01", "2021-05-11", dtype="datetime64[D]")
    rain = np.zeros((days.size, 1, 2))
    rain[30, 0, 0], rain[1, 0, 1] = 10.0, 10.0  # 1 May; 2 April (30 days before: out)
    weather = CoarseWeather(days, np.zeros(2), np.zeros(1), rain, np.zeros_like(rain))
    api = cell_antecedent_index(weather, np.array([31, 33, 35]))[:, 0]
    np.testing.assert_allclose(api[:, 0], [10.0, 10.0 * K**2, 10.0 * K**4])
    np.testing.assert_allclose(api[:, 1], 0.0)
    with pytest.raises(InputError, match="needs 29 simulated days"):
        cell_antecedent_index(weather, np.array([28]))


@pytest.mark.parametrize("region", ["farmland", "alpine_grassland", "arid_basin"])
def test_simulated_api_goes_with_the_truth_across_dates(region):
    ds = simulate_scene(region, shape=(8, 8), times=24, seed=5, coarse_resolution=80.0)
    api = ds["api"].mean(("y", "x"))
    truth = ds["ssm_true"].mean(("y", "x"))
    assert float(xr.corr(api, truth)) > 0


def test_simulated_api_the_same_lazily_and_in_memory():
    kw = {"shape": (24, 24), "times": 3, "seed": 1, "coarse_resolution": 80.0}
    eager = simulate_scene("arid_basin", **kw)["api"]
    lazy = simulate_scene("arid_basin", chunks=10, **kw)["api"]
    assert lazy.chunks is not None
    xr.testing.assert_identical(eager, lazy.compute())


def test_default_model_reads_api_and_without_it_ignores_meteorology_with_a_warning():
    ds = simulate_scene("farmland", shape=(64, 64), times=1, seed=0, coarse_resolution=320.0)
    with_api = xsoilmoist.predict(ds)
    drier = xsoilmoist.predict(ds.assign(api=ds["api"] * 0.5))  # within the trained range
    assert float((drier - with_api).mean()) < -0.005  # less rain before: a drier map
    with pytest.warns(
        InputWarning, match=r"'meteorology' is incomplete: \['api'\] missing.*assemble derives it"
    ):
        without = xsoilmoist.predict(ds.drop_vars("api"))
    no_meteorology = xsoilmoist.predict(ds.drop_vars(["api", "t2m", "tp"]))
    # the same map; only the frozen-ground rule, which reads t2m, differs in what it could check
    assert "frozen" in without.attrs.pop("masked")
    assert "frozen" not in no_meteorology.attrs.pop("masked")
    xr.testing.assert_identical(without, no_meteorology)


def test_a_model_that_lists_api_reads_it():
    import torch

    from xsoilmoist import predict
    from xsoilmoist.model import SSMNet, SSMNetConfig

    modalities = {**MODALITY_BANDS, "meteorology": ("t2m", "tp", "api")}
    torch.manual_seed(0)
    config = SSMNetConfig(
        name="api", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64), modalities=modalities
    )
    net = SSMNet(config)
    ds = simulate_scene("farmland", shape=(64, 64), times=1, seed=0, coarse_resolution=320.0)
    wetter = ds.assign(api=ds["api"] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # untrained weights
        first = predict(ds, net, compile=False).values
        second = predict(wetter, net, compile=False).values
    assert np.isfinite(first).all()
    assert np.abs(first - second).max() > 1e-4  # api changes the map
