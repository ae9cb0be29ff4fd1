import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xsoilmoist import metrics
from xsoilmoist.errors import InputWarning

PRED = np.array([0.10, 0.25, 0.30, 0.40])
OBS = np.array([0.12, 0.20, 0.35, 0.33])


def test_hand_computed_values():
    p, o = xr.DataArray(PRED), xr.DataArray(OBS)
    e = PRED - OBS  # -0.02, 0.05, -0.05, 0.07
    assert float(metrics.bias(p, o)) == pytest.approx(0.0125)
    assert float(metrics.mae(p, o)) == pytest.approx(0.0475)
    assert float(metrics.rmse(p, o)) == pytest.approx(np.sqrt((0.0004 + 0.0025 * 2 + 0.0049) / 4))
    ub = np.sqrt(np.mean((e - e.mean()) ** 2))
    assert float(metrics.ubrmse(p, o)) == pytest.approx(ub)
    r = np.corrcoef(PRED, OBS)[0, 1]
    assert float(metrics.pearson_r(p, o)) == pytest.approx(r)
    r2 = 1 - np.sum(e**2) / np.sum((OBS - OBS.mean()) ** 2)
    assert float(metrics.r2(p, o)) == pytest.approx(r2)


@pytest.mark.filterwarnings("ignore::xsoilmoist.errors.InputWarning")  # constant obs: r is NaN
@settings(max_examples=50, deadline=None)
@given(
    arrays(np.float64, st.integers(2, 40), elements=st.floats(0, 0.6)),
    st.floats(-0.1, 0.1),
    st.integers(0, 2**31),
)
def test_rmse_squared_is_bias_squared_plus_ubrmse_squared(obs, offset, seed):
    noise = np.random.default_rng(seed).normal(0, 0.03, obs.size)
    pred = xr.DataArray(obs + offset + noise)
    obs = xr.DataArray(obs)
    s = metrics.summary(pred, obs)
    assert float(s.rmse) ** 2 == pytest.approx(float(s.bias) ** 2 + float(s.ubrmse) ** 2, abs=1e-12)


def test_nan_pairs_are_skipped_or_propagated():
    p = xr.DataArray([0.1, np.nan, 0.3, 0.2])
    o = xr.DataArray([0.1, 0.2, np.nan, 0.3])
    s = metrics.summary(p, o)
    assert int(s.n) == 2
    assert float(s.bias) == pytest.approx(-0.05)
    assert np.isnan(float(metrics.rmse(p, o, skipna=False)))
    all_nan = metrics.rmse(xr.DataArray([np.nan]), xr.DataArray([0.1]))
    assert np.isnan(float(all_nan))


def test_reduction_over_a_dim_keeps_the_others():
    rng = np.random.default_rng(0)
    obs = xr.DataArray(rng.uniform(0, 0.5, (3, 20)), dims=("station", "time"),
                       coords={"station": ["a", "b", "c"]})  # fmt: skip
    pred = obs + 0.01 * np.arange(3)[:, None]
    b = metrics.bias(pred, obs, dim="time")
    assert b.dims == ("station",)
    np.testing.assert_allclose(b.values, [0.0, 0.01, 0.02], atol=1e-12)
    assert list(b.station.values) == ["a", "b", "c"]


def test_dask_and_numpy_agree_and_stay_lazy():
    rng = np.random.default_rng(1)
    obs = xr.DataArray(rng.uniform(0, 0.5, (4, 30, 20)), dims=("time", "y", "x"))
    pred = obs + rng.normal(0, 0.02, obs.shape)
    pred[0, :5] = np.nan
    eager = metrics.summary(pred, obs, dim=("y", "x"))
    with raise_if_dask_computes():
        lazy = metrics.summary(pred.chunk({"y": 7, "x": 6}), obs.chunk({"y": 7}), dim=("y", "x"))
    for name in eager.data_vars:
        np.testing.assert_allclose(lazy[name].compute().values, eager[name].values, rtol=1e-12)


def test_unknown_dim_is_an_error():
    with pytest.raises(ValueError, match=r"dims \['z'\] are not in both"):
        metrics.rmse(xr.DataArray([1.0], dims="x"), xr.DataArray([1.0], dims="x"), dim="z")


def test_summary_carries_units():
    p = xr.DataArray([0.1, 0.2], attrs={"units": "m3 m-3"})
    assert metrics.summary(p, xr.DataArray([0.1, 0.3])).rmse.attrs["units"] == "m3 m-3"


def test_pearson_r_of_a_constant_prediction_is_nan_with_a_reason():
    obs = xr.DataArray([0.12, 0.20, 0.35, 0.33, 0.18])
    constant = xr.DataArray([0.1] * 5)  # its float mean is not exactly 0.1: r was +-1
    with pytest.warns(InputWarning, match=r"pearson_r is undefined .* constant .* 1 of 1 series"):
        r = metrics.pearson_r(constant, obs)
    assert np.isnan(float(r))
    with pytest.warns(InputWarning, match="r2 is undefined where the observation is constant"):
        assert np.isnan(float(metrics.r2(obs, constant)))
    two = xr.DataArray(np.stack([PRED, [0.3] * 4]), dims=("station", "time"))
    with pytest.warns(InputWarning, match="1 of 2 series"):
        r = metrics.pearson_r(two, xr.DataArray(np.stack([OBS, OBS]), dims=two.dims), dim="time")
    assert r.values[0] == pytest.approx(np.corrcoef(PRED, OBS)[0, 1]) and np.isnan(r.values[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics.pearson_r(xr.DataArray(PRED), xr.DataArray(OBS))  # no warning when defined


def _noisy(n: int, seed: int) -> tuple[xr.DataArray, xr.DataArray]:
    rng = np.random.default_rng(seed)
    obs = rng.uniform(0.1, 0.4, n)
    return xr.DataArray(obs + 0.01 + rng.normal(0, 0.03, n)), xr.DataArray(obs)


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_n():
    names = ["r2", "rmse", "mae", "bias", "ubrmse", "pearson_r"]
    widths = {}
    for n in (50, 800):
        pred, obs = _noisy(n, seed=3)
        s = metrics.summary(pred, obs, ci=0.95, n_boot=500, seed=1)
        for name in names:
            lower, upper = float(s[f"{name}_ci_lower"]), float(s[f"{name}_ci_upper"])
            assert lower < float(s[name]) < upper, name
        widths[n] = {m: float(s[f"{m}_ci_upper"] - s[f"{m}_ci_lower"]) for m in names}
        assert s.attrs["ci"] == 0.95 and s.attrs["n_boot"] == 500
    for name in names:  # the width shrinks as 1/sqrt(n): 4 times from 50 to 800 pairs
        assert 2.5 < widths[50][name] / widths[800][name] < 6.5, name
    # the bias interval is mean +- 1.96 standard errors, as the normal theory gives
    pred, obs = _noisy(800, seed=3)
    error = (pred - obs).values
    half = 1.96 * error.std(ddof=1) / np.sqrt(error.size)
    assert widths[800]["bias"] == pytest.approx(2 * half, rel=0.15)


def test_bootstrap_is_seeded_and_independent_of_chunking():
    rng = np.random.default_rng(5)
    obs = xr.DataArray(rng.uniform(0.1, 0.4, (4, 60)), dims=("station", "time"))
    pred = obs + rng.normal(0, 0.03, obs.shape)
    pred[1, :55] = np.nan  # 5 valid pairs: too few for an interval
    eager = metrics.bootstrap_ci(pred, obs, dim="time", seed=7)
    with raise_if_dask_computes():
        lazy = metrics.bootstrap_ci(pred.chunk({"station": 1}), obs, dim="time", seed=7)
    xr.testing.assert_allclose(lazy.compute(), eager)
    assert np.isnan(eager["rmse_ci_lower"].values[1])
    assert np.isfinite(eager["rmse_ci_lower"].values[[0, 2, 3]]).all()
    other = metrics.bootstrap_ci(pred, obs, dim="time", seed=8)
    assert not np.allclose(other["rmse_ci_lower"].values[0], eager["rmse_ci_lower"].values[0])
    with pytest.raises(ValueError, match="ci must be a confidence level"):
        metrics.summary(pred, obs, ci=95)
    with pytest.raises(ValueError, match="unknown metrics"):
        metrics.bootstrap_ci(pred, obs, metrics=["nse"])


def _daily(values, start="2018-01-01") -> xr.DataArray:
    time = pd.date_range(start, periods=len(values), freq="D")
    return xr.DataArray(np.asarray(values, dtype=float), dims="time", coords={"time": time})


def test_anomalies_as_pytesmo_computes_them():
    x = _daily([1.0, 2.0, np.nan, 4.0, 2.0, 1.0])
    # centred window of 3 days (values within 1.5 days); NaN stays NaN
    expected = [1.0 - 1.5, 2.0 - 1.5, np.nan, 4.0 - 3.0, 2.0 - 7 / 3, 1.0 - 1.5]
    np.testing.assert_allclose(metrics.anomaly(x, window=3).values, expected)
    irregular = x.isel(time=[0, 1, 4, 5])  # 2 -> 5 Jan is 3 days: outside each other's window
    np.testing.assert_allclose(metrics.anomaly(irregular, window=3), [-0.5, 0.5, 0.5, -0.5])
    # a pure seasonal cycle has (nearly) no short-term anomalies, and none from its climatology
    days = np.arange(3 * 365)
    season = _daily(0.25 + 0.08 * np.sin(2 * np.pi * days / 365.25))
    assert float(abs(metrics.anomaly(season).isel(time=slice(20, -20))).max()) < 0.002
    clim = metrics.climatology(season)
    assert clim.sizes == {"dayofyear": 366}
    seasonal = metrics.anomaly(season, climatology=clim)
    assert float(abs(seasonal).max()) < 0.01
    assert int(metrics.climatology(_daily([0.2], "2019-03-01")).dayofyear[60]) == 61


def test_anomaly_correlation_sees_through_a_seasonal_cycle():
    rng = np.random.default_rng(0)
    n = 3 * 365
    short_term = np.zeros(n)
    for i in range(1, n):  # wetting and drying with about five days of memory
        short_term[i] = 0.8 * short_term[i - 1] + rng.normal(0, 0.01)
    days = np.arange(n)
    obs = _daily(0.25 + 0.08 * np.sin(2 * np.pi * days / 365.25) + short_term)
    pred = obs + 0.1 * np.cos(2 * np.pi * days / 365.25)  # itself plus a seasonal cycle
    s = metrics.summary(pred, obs, anomalies=True, ci=0.9, n_boot=200)
    assert float(s.pearson_r) < 0.7
    assert float(s.anomaly_r) > 0.99
    assert float(s.seasonal_anomaly_r) > 0.99
    assert s.anomaly_r_ci_lower < s.anomaly_r < s.anomaly_r_ci_upper
    assert s.attrs["anomaly_window_days"] == 35.0
    with pytest.raises(ValueError, match="anomalies need a datetime64 dim 'time'"):
        metrics.summary(xr.DataArray(PRED), xr.DataArray(OBS), anomalies=True)


def _boxcar_reference(values: np.ndarray, days: np.ndarray, window: float) -> np.ndarray:
    """pytesmo's boxcar_filter (time_series/filters.pyx), loop for loop, with fillna=False."""
    out = np.full(values.size, np.nan)
    for i in range(values.size):
        if np.isnan(values[i]):
            continue
        near = [values[j] for j in range(values.size)
                if not np.isnan(values[j]) and abs(days[j] - days[i]) <= window / 2]  # fmt: skip
        out[i] = np.mean(near)
    return out


def test_short_term_anomalies_equal_pytesmos_boxcar_on_irregular_series():
    rng = np.random.default_rng(4)
    hours = np.sort(rng.choice(400 * 24, 300, replace=False))
    time = np.datetime64("2019-05-01T00:00", "ns") + hours * np.timedelta64(1, "h")
    values = rng.uniform(0.05, 0.45, (2, hours.size))
    values[rng.uniform(size=values.shape) < 0.2] = np.nan
    x = xr.DataArray(values, dims=("station", "time"), coords={"time": time})
    days = hours / 24.0
    for window in (1.5, 10, 35):
        expected = [v - _boxcar_reference(v, days, window) for v in values]
        np.testing.assert_allclose(metrics.anomaly(x, window=window).values, expected, atol=1e-12)
