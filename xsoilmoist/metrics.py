"""Accuracy metrics for soil moisture: numpy kernels and xarray wrappers.

Definitions follow pytesmo and the soil-moisture literature, for paired
predictions ``p`` and observations ``o`` (only pairs where both are finite
count when ``skipna=True``):

- ``bias = mean(p - o)``
- ``rmse = sqrt(mean((p - o)^2))``
- ``mae = mean(|p - o|)``
- ``ubrmse = sqrt(mean(((p - mean p) - (o - mean o))^2))``, so that
  ``rmse^2 = bias^2 + ubrmse^2`` exactly
- ``pearson_r``: Pearson's correlation coefficient
- ``r2 = 1 - sum((p - o)^2) / sum((o - mean o)^2)``, the coefficient of
  determination of ``o`` by ``p`` (can be negative; it is not ``pearson_r^2``)

Each function takes DataArrays (or arrays), reduces over ``dim`` (default:
all dims) and works lazily on dask through ``apply_ufunc(dask="parallelized")``.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Callable, Hashable, Sequence

import numpy as np
import xarray as xr

from xsoilmoist.errors import InputError, InputWarning

__all__ = [
    "anomaly",
    "bias",
    "bootstrap_ci",
    "climatology",
    "mae",
    "pearson_r",
    "r2",
    "rmse",
    "summary",
    "ubrmse",
]

Dim = Hashable | Sequence[Hashable] | None


def _paired(p: np.ndarray, o: np.ndarray, skipna: bool) -> tuple[np.ndarray, np.ndarray]:
    """Flatten the core axes; with ``skipna`` mark unpaired values as NaN in both."""
    p = np.asarray(p, dtype=np.float64)
    o = np.asarray(o, dtype=np.float64)
    if skipna:
        valid = np.isfinite(p) & np.isfinite(o)
        p, o = np.where(valid, p, np.nan), np.where(valid, o, np.nan)
    return p, o


def _mean(x: np.ndarray, skipna: bool) -> np.ndarray:
    if not skipna:
        return np.mean(x, axis=-1)
    count = np.sum(np.isfinite(x), axis=-1)
    total = np.nansum(x, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _bias(p, o, skipna):
    p, o = _paired(p, o, skipna)
    return _mean(p - o, skipna)


def _rmse(p, o, skipna):
    p, o = _paired(p, o, skipna)
    return np.sqrt(_mean((p - o) ** 2, skipna))


def _mae(p, o, skipna):
    p, o = _paired(p, o, skipna)
    return _mean(np.abs(p - o), skipna)


def _anomalies(p, o, skipna):
    p, o = _paired(p, o, skipna)
    return p - _mean(p, skipna)[..., None], o - _mean(o, skipna)[..., None]


def _ubrmse(p, o, skipna):
    pa, oa = _anomalies(p, o, skipna)
    return np.sqrt(_mean((pa - oa) ** 2, skipna))


def _constant(x: np.ndarray) -> np.ndarray:
    """Whether each series has at least two values, all equal (NaN ignored)."""
    count = np.sum(np.isfinite(x), axis=-1)
    return (count >= 2) & (np.fmax.reduce(x, axis=-1) == np.fmin.reduce(x, axis=-1))


def _warn_constant(constant: np.ndarray, which: str, metric: str) -> None:
    if np.any(constant):
        warnings.warn(
            f"{metric} is undefined where {which} is constant (no variance): "
            f"{int(np.sum(constant))} of {constant.size} series; NaN returned for them (a "
            "constant series has no variations to compare)",
            InputWarning,
            stacklevel=2,
        )


def _pearson_r(p, o, skipna, warn: bool = True):
    p, o = _paired(p, o, skipna)
    constant = _constant(p) | _constant(o)
    if warn:
        _warn_constant(constant, "the prediction or the observation", "pearson_r")
    pa, oa = _anomalies(p, o, skipna)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = _mean(pa * oa, skipna) / np.sqrt(_mean(pa**2, skipna) * _mean(oa**2, skipna))
    return np.where(constant, np.nan, np.clip(r, -1.0, 1.0))


def _r2(p, o, skipna, warn: bool = True):
    p, o = _paired(p, o, skipna)
    constant = _constant(o)
    if warn:
        _warn_constant(constant, "the observation", "r2")
    _, oa = _anomalies(p, o, skipna)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        r2 = 1.0 - _mean((p - o) ** 2, skipna) / _mean(oa**2, skipna)
    return np.where(constant, np.nan, r2)


def _count(p, o, skipna):
    p, o = _paired(p, o, skipna)
    valid = np.isfinite(p) & np.isfinite(o)
    return np.sum(valid, axis=-1).astype(np.float64)


def dim_list(dim: Dim, all_dims: Sequence[Hashable]) -> list[Hashable]:
    """``dim`` as a list of dims: ``None`` means ``all_dims``, a single name a list of it.

    Examples
    --------
    >>> dim_list(None, ("time", "y")), dim_list("time", ("time", "y"))
    (['time', 'y'], ['time'])
    """
    if dim is None:
        return list(all_dims)
    if isinstance(dim, str) or not isinstance(dim, Sequence):
        return [dim]
    return list(dim)


def _flattened(kernel: Callable) -> Callable:
    def apply(p, o, *, n_core: int, skipna: bool):
        shape = (*p.shape[: p.ndim - n_core], -1)
        return kernel(p.reshape(shape), o.reshape(shape), skipna)

    return apply


def _aligned(pred, obs, dim: Dim) -> tuple[xr.DataArray, xr.DataArray, list[Hashable]]:
    pred = pred if isinstance(pred, xr.DataArray) else xr.DataArray(np.asarray(pred))
    obs = obs if isinstance(obs, xr.DataArray) else xr.DataArray(np.asarray(obs))
    dims = dim_list(dim, pred.dims)
    missing = [d for d in dims if d not in pred.dims or d not in obs.dims]
    if missing:
        raise InputError(
            f"dims {missing} are not in both pred {pred.dims} and obs {obs.dims}; "
            "reduce over dims they share"
        )
    pred, obs = xr.align(pred, obs, join="exact")
    return pred, obs, dims


def _reduce(kernel: Callable, pred, obs, dim: Dim, skipna: bool, name: str) -> xr.DataArray:
    pred, obs, dims = _aligned(pred, obs, dim)
    out = xr.apply_ufunc(
        _flattened(kernel),
        pred,
        obs,
        input_core_dims=[dims, dims],
        kwargs={"n_core": len(dims), "skipna": skipna},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"allow_rechunk": True},
    )
    return out.rename(name)


def bias(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Mean error ``mean(pred - obs)``.

    Examples
    --------
    >>> round(float(bias(xr.DataArray([0.2, 0.3]), xr.DataArray([0.1, 0.2]))), 12)
    0.1
    """
    return _reduce(_bias, pred, obs, dim, skipna, "bias")


def rmse(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Root-mean-square error.

    Examples
    --------
    >>> float(rmse(xr.DataArray([0.0, 0.0]), xr.DataArray([0.3, -0.4])))
    0.3535533905932738
    """
    return _reduce(_rmse, pred, obs, dim, skipna, "rmse")


def mae(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Mean absolute error.

    Examples
    --------
    >>> float(mae(xr.DataArray([0.0, 0.0]), xr.DataArray([0.3, -0.4])))
    0.35
    """
    return _reduce(_mae, pred, obs, dim, skipna, "mae")


def ubrmse(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Unbiased RMSE: RMSE of the anomalies from each series' mean.

    Examples
    --------
    >>> round(float(ubrmse(xr.DataArray([0.2, 0.4]), xr.DataArray([0.1, 0.3]))), 12)  # bias only
    0.0
    """
    return _reduce(_ubrmse, pred, obs, dim, skipna, "ubrmse")


def pearson_r(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Pearson correlation coefficient.

    Examples
    --------
    >>> round(float(pearson_r(xr.DataArray([1.0, 2.0, 3.0]), xr.DataArray([2.0, 4.0, 7.0]))), 4)
    0.9934
    """
    return _reduce(_pearson_r, pred, obs, dim, skipna, "pearson_r")


def r2(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.DataArray:
    """Coefficient of determination ``1 - SS_res / SS_tot`` of ``obs`` by ``pred``.

    Examples
    --------
    >>> float(r2(xr.DataArray([1.0, 2.0, 3.0]), xr.DataArray([1.0, 2.0, 3.0])))
    1.0
    """
    return _reduce(_r2, pred, obs, dim, skipna, "r2")


_KERNELS: dict[str, Callable] = {
    "r2": _r2,
    "rmse": _rmse,
    "mae": _mae,
    "bias": _bias,
    "ubrmse": _ubrmse,
    "pearson_r": _pearson_r,
}

#: Fewest valid pairs for a bootstrap confidence interval (NaN below).
BOOTSTRAP_MIN_N = 10

#: Resampled values drawn at once, per series (bounds the bootstrap's memory).
_BOOTSTRAP_BATCH = 2**22


def _series_rng(seed: int, p: np.ndarray, o: np.ndarray) -> np.random.Generator:
    """A generator seeded by ``seed`` and the series itself, so that results do not
    depend on how the data are chunked or ordered among other series."""
    return np.random.default_rng([seed, zlib.crc32(p.tobytes()), zlib.crc32(o.tobytes())])


def _bootstrap_series(p, o, kernels, n_boot: int, alpha: float, seed: int) -> np.ndarray:
    """Percentile bootstrap ``(metric, 2)`` bounds of one series' valid pairs."""
    k = p.size
    rng = _series_rng(seed, p, o)
    stats = np.empty((n_boot, len(kernels)))
    step = max(1, _BOOTSTRAP_BATCH // k)
    for start in range(0, n_boot, step):
        index = rng.integers(0, k, size=(min(step, n_boot - start), k))
        ps, os_ = p[index], o[index]
        for j, kernel in enumerate(kernels):
            extra = {"warn": False} if kernel in (_pearson_r, _r2) else {}
            stats[start : start + len(index), j] = kernel(ps, os_, False, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        lower = np.nanquantile(stats, alpha / 2, axis=0)
        upper = np.nanquantile(stats, 1 - alpha / 2, axis=0)
    return np.stack([lower, upper], axis=-1)


def _bootstrap(p, o, *, n_core: int, skipna: bool, names, n_boot: int, alpha: float, seed: int):
    """Numpy kernel: bounds ``(..., metric, 2)`` over the last ``n_core`` axes."""
    lead = p.shape[: p.ndim - n_core]
    p = np.asarray(p, np.float64).reshape(-1, int(np.prod(p.shape[p.ndim - n_core :])))
    o = np.asarray(o, np.float64).reshape(p.shape)
    kernels = [_KERNELS[name] for name in names]
    out = np.full((p.shape[0], len(names), 2), np.nan)
    for i in range(p.shape[0]):
        valid = np.isfinite(p[i]) & np.isfinite(o[i])
        if (not skipna and not valid.all()) or valid.sum() < BOOTSTRAP_MIN_N:
            continue
        out[i] = _bootstrap_series(p[i][valid], o[i][valid], kernels, n_boot, alpha, seed)
    return out.reshape(*lead, len(names), 2)


def _check_ci(ci, n_boot) -> float:
    if isinstance(ci, bool) or not isinstance(ci, int | float) or not 0 < ci < 1:
        raise InputError(f"ci must be a confidence level between 0 and 1, e.g. 0.95, got {ci!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 10:
        raise InputError(f"n_boot must be an integer of at least 10, e.g. 1000, got {n_boot!r}")
    return 1.0 - float(ci)


def bootstrap_ci(
    pred,
    obs,
    dim: Dim = None,
    skipna: bool = True,
    *,
    metrics: Sequence[str] = tuple(_KERNELS),
    ci: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> xr.Dataset:
    """Percentile bootstrap confidence intervals of the metrics, as pytesmo computes them.

    The valid pairs along ``dim`` are resampled with replacement ``n_boot``
    times; each metric's interval is the ``(1 - ci) / 2`` and ``(1 + ci) / 2``
    quantiles of its resampled values (pytesmo's
    ``with_bootstrapped_ci(method="percentile")``). Seeded: the same ``seed``
    and data give the same bounds, however the data are chunked. Pairs are
    taken as independent (no block bootstrap): with autocorrelated series the
    intervals are too narrow. NaN where fewer than :data:`BOOTSTRAP_MIN_N`
    valid pairs.

    Returns
    -------
    xarray.Dataset
        ``<metric>_ci_lower`` and ``<metric>_ci_upper`` for each metric, with
        attrs ``ci`` and ``n_boot``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> obs = xr.DataArray(rng.uniform(0.1, 0.4, 200))
    >>> pred = obs + rng.normal(0, 0.02, 200)
    >>> bounds = bootstrap_ci(pred, obs, metrics=["rmse"], seed=1)
    >>> print(f"{float(bounds.rmse_ci_lower):.4f} {float(rmse(pred, obs)):.4f} "
    ...       f"{float(bounds.rmse_ci_upper):.4f}")
    0.0183 0.0206 0.0231
    """
    alpha = _check_ci(ci, n_boot)
    names = list(metrics)
    unknown = [name for name in names if name not in _KERNELS]
    if unknown:
        raise InputError(f"unknown metrics {unknown}; choose from {list(_KERNELS)}")
    pred, obs, dims = _aligned(pred, obs, dim)
    bounds = xr.apply_ufunc(
        _bootstrap,
        pred,
        obs,
        input_core_dims=[dims, dims],
        output_core_dims=[["metric", "bound"]],
        kwargs={
            "n_core": len(dims),
            "skipna": skipna,
            "names": names,
            "n_boot": int(n_boot),
            "alpha": alpha,
            "seed": int(seed),
        },
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={
            "allow_rechunk": True,
            "output_sizes": {"metric": len(names), "bound": 2},
        },
    )
    out = xr.Dataset()
    for j, name in enumerate(names):
        for k, side in enumerate(("lower", "upper")):
            out[f"{name}_ci_{side}"] = bounds.isel(metric=j, bound=k, drop=True)
    out.attrs = _bounds_attrs(ci, n_boot)
    return out


def _bounds_attrs(ci: float, n_boot: int) -> dict:
    """The attributes that describe bootstrap bounds (for results that carry them)."""
    return {"ci": float(ci), "n_boot": int(n_boot), "ci_method": "percentile bootstrap"}


def _doy366(time: xr.DataArray) -> xr.DataArray:
    """Day of year on a leap-year calendar (1 March is day 61 in every year), as pytesmo."""
    doy = time.dt.dayofyear
    late_in_common_year = (~time.dt.is_leap_year) & (time.dt.month > 2)
    return (doy + late_in_common_year.astype(int)).rename("dayofyear")


def _moving_mean(values: np.ndarray, days: np.ndarray, window: float, fill: bool) -> np.ndarray:
    """Numpy kernel: mean of the valid values within ``window / 2`` days of each time.

    ``days`` (float, ascending) is the last axis' time; like pytesmo's boxcar
    filter, a NaN value stays NaN unless ``fill``.
    """
    values = np.asarray(values, dtype=np.float64)
    valid = np.isfinite(values)
    zeros = np.zeros((*values.shape[:-1], 1))
    total = np.concatenate([zeros, np.cumsum(np.where(valid, values, 0.0), axis=-1)], axis=-1)
    count = np.concatenate([zeros, np.cumsum(valid, axis=-1)], axis=-1)
    lo = np.searchsorted(days, days - window / 2, side="left")
    hi = np.searchsorted(days, days + window / 2, side="right")
    n = count[..., hi] - count[..., lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[..., hi] - total[..., lo]) / n
    return np.where((valid | fill) & (n > 0), mean, np.nan)


def _time_days(x: xr.DataArray, dim: str) -> np.ndarray:
    if dim not in x.dims or not np.issubdtype(x[dim].dtype, np.datetime64):
        raise InputError(
            f"anomalies need a datetime64 dim {dim!r}; the data have dims {x.dims}; pass dim= "
            "(the time dim)"
        )
    if not x.indexes[dim].is_monotonic_increasing:
        raise InputError(f"the {dim!r} coordinate must be sorted; sort it with x.sortby({dim!r})")
    return (x[dim].values - x[dim].values[0]) / np.timedelta64(1, "D")


def _smoothed(x: xr.DataArray, dim: str, window: float, fill: bool) -> xr.DataArray:
    days = _time_days(x, dim)
    return xr.apply_ufunc(
        _moving_mean,
        x,
        input_core_dims=[[dim]],
        output_core_dims=[[dim]],
        kwargs={"days": days, "window": float(window), "fill": fill},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"allow_rechunk": True},
    )


def climatology(
    x: xr.DataArray, *, dim: str = "time", window_orig: float = 5, window_clim: float = 35
) -> xr.DataArray:
    """Mean seasonal cycle by day of year, as pytesmo's ``calc_climatology``.

    The series is smoothed with a ``window_orig``-day moving average (gaps
    filled), averaged per day of year on a leap-year calendar (1 March is day
    61 in every year; dim ``dayofyear``, 1 to 366), and the 366 values are
    smoothed with a ``window_clim``-day moving average wrapping around the
    year's end.

    Examples
    --------
    >>> import pandas as pd
    >>> time = pd.date_range("2019-01-01", "2020-12-31", freq="D")
    >>> x = xr.DataArray(np.sin(2 * np.pi * time.day_of_year / 366), dims="time",
    ...                  coords={"time": time})
    >>> clim = climatology(x)
    >>> clim.sizes["dayofyear"], round(float(clim.sel(dayofyear=92)), 2)
    (366, 0.98)
    """
    daily = _smoothed(x, dim, window_orig, fill=True)
    clim = daily.groupby(_doy366(x[dim])).mean(dim).reindex(dayofyear=np.arange(1, 367))
    wrapped = xr.concat(
        [
            clim.isel(dayofyear=slice(-int(window_clim), None)),
            clim,
            clim.isel(dayofyear=slice(0, int(window_clim))),
        ],
        dim="dayofyear",
    )
    days = np.arange(wrapped.sizes["dayofyear"], dtype=np.float64)
    smooth = xr.apply_ufunc(
        _moving_mean,
        wrapped.drop_vars("dayofyear"),
        input_core_dims=[["dayofyear"]],
        output_core_dims=[["dayofyear"]],
        kwargs={"days": days, "window": float(window_clim), "fill": True},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"allow_rechunk": True},
    )
    core = smooth.isel(dayofyear=slice(int(window_clim), int(window_clim) + 366))
    return core.assign_coords(dayofyear=np.arange(1, 367)).rename("climatology")


def anomaly(
    x: xr.DataArray, *, window: float = 35, climatology=None, dim: str = "time"
) -> xr.DataArray:
    """Anomalies of a time series, as pytesmo's ``calc_anomaly``.

    Short-term anomalies (default): ``x`` minus its centred ``window``-day
    moving average (values within ``window / 2`` days; 35 days in pytesmo and
    the soil-moisture literature), which removes the seasonal cycle and slow
    changes. Seasonal anomalies: given a ``climatology`` (from
    :func:`climatology`, dim ``dayofyear``), ``x`` minus the climatology of
    its day of year.

    Examples
    --------
    >>> import pandas as pd
    >>> time = pd.date_range("2020-01-01", periods=5, freq="D")
    >>> x = xr.DataArray([1.0, 2.0, 3.0, 2.0, 1.0], dims="time", coords={"time": time})
    >>> anomaly(x, window=3).values.tolist()
    [-0.5, 0.0, 0.6666666666666665, 0.0, -0.5]
    """
    if climatology is not None:
        if "dayofyear" not in climatology.dims:
            raise InputError(
                "climatology must have a dim 'dayofyear' (1-366), as xsoilmoist.metrics."
                "climatology() returns"
            )
        _time_days(x, dim)
        seasonal = climatology.sel(dayofyear=_doy366(x[dim])).drop_vars("dayofyear")
        return (x - seasonal).rename(x.name)
    if not window > 0:
        raise InputError(f"window must be a positive number of days, e.g. 35, got {window!r}")
    return (x - _smoothed(x, dim, window, fill=False)).rename(x.name)


def _anomaly_pairs(pred, obs, window: float, dim: str):
    """Short-term and seasonal anomalies of both series (each against its own climatology)."""
    short = anomaly(pred, window=window, dim=dim), anomaly(obs, window=window, dim=dim)
    seasonal = (
        anomaly(pred, climatology=climatology(pred, dim=dim), dim=dim),
        anomaly(obs, climatology=climatology(obs, dim=dim), dim=dim),
    )
    return {"anomaly_r": short, "seasonal_anomaly_r": seasonal}


def summary(
    pred,
    obs,
    dim: Dim = None,
    skipna: bool = True,
    *,
    ci: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    anomalies: bool = False,
    window: float = 35,
    time_dim: str = "time",
) -> xr.Dataset:
    """All metrics and the number of valid pairs ``n``, as one Dataset.

    Parameters
    ----------
    pred, obs, dim, skipna
        As for the single metrics.
    ci
        A confidence level (e.g. ``0.95``) adds percentile bootstrap bounds
        ``<metric>_ci_lower``/``<metric>_ci_upper`` for every metric
        (:func:`bootstrap_ci`, with ``n_boot`` resamples and ``seed``).
    anomalies
        Add ``anomaly_r``, the correlation of the short-term anomalies
        (against a ``window``-day moving average, :func:`anomaly`), and
        ``seasonal_anomaly_r``, of the anomalies against each series' own
        climatology (:func:`climatology`), both along ``time_dim``.

    Examples
    --------
    >>> s = summary(xr.DataArray([0.1, 0.2, 0.3]), xr.DataArray([0.1, 0.25, 0.3]))
    >>> sorted(s.data_vars)
    ['bias', 'mae', 'n', 'pearson_r', 'r2', 'rmse', 'ubrmse']
    """
    kernels = {**_KERNELS, "n": _count}
    out = xr.Dataset(
        {name: _reduce(k, pred, obs, dim, skipna, name) for name, k in kernels.items()}
    )
    pairs = _anomaly_pairs(pred, obs, window, time_dim) if anomalies else {}
    for name, (p, o) in pairs.items():
        out[name] = _reduce(_pearson_r, p, o, dim, skipna, name)
    if ci is not None:
        bounds = bootstrap_ci(pred, obs, dim, skipna, ci=ci, n_boot=n_boot, seed=seed)
        out = out.assign(bounds.data_vars)
        for name, (p, o) in pairs.items():
            bounds = bootstrap_ci(
                p, o, dim, skipna, metrics=["pearson_r"], ci=ci, n_boot=n_boot, seed=seed
            )
            out[f"{name}_ci_lower"] = bounds["pearson_r_ci_lower"]
            out[f"{name}_ci_upper"] = bounds["pearson_r_ci_upper"]
        out.attrs.update(_bounds_attrs(ci, n_boot))
    if anomalies:
        out.attrs["anomaly_window_days"] = float(window)
    units = pred.attrs.get("units") if isinstance(pred, xr.DataArray) else None
    for name in ("rmse", "mae", "bias", "ubrmse"):
        for suffix in ("", "_ci_lower", "_ci_upper"):
            if units and f"{name}{suffix}" in out:
                out[f"{name}{suffix}"].attrs["units"] = units
    return out
