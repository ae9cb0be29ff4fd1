import numpy as np
import pytest
import xarray as xr
from helpers import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xsoilmoist import metrics

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
