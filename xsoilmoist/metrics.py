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

from collections.abc import Callable, Hashable, Sequence

import numpy as np
import xarray as xr

from xsoilmoist.errors import InputError

__all__ = ["bias", "mae", "pearson_r", "r2", "rmse", "summary", "ubrmse"]

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


def _pearson_r(p, o, skipna):
    pa, oa = _anomalies(p, o, skipna)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _mean(pa * oa, skipna) / np.sqrt(_mean(pa**2, skipna) * _mean(oa**2, skipna))


def _r2(p, o, skipna):
    p, o = _paired(p, o, skipna)
    _, oa = _anomalies(p, o, skipna)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - _mean((p - o) ** 2, skipna) / _mean(oa**2, skipna)


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


def _reduce(kernel: Callable, pred, obs, dim: Dim, skipna: bool, name: str) -> xr.DataArray:
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


def summary(pred, obs, dim: Dim = None, skipna: bool = True) -> xr.Dataset:
    """All metrics and the number of valid pairs ``n``, as one Dataset.

    Examples
    --------
    >>> s = summary(xr.DataArray([0.1, 0.2, 0.3]), xr.DataArray([0.1, 0.25, 0.3]))
    >>> sorted(s.data_vars)
    ['bias', 'mae', 'n', 'pearson_r', 'r2', 'rmse', 'ubrmse']
    """
    kernels = {
        "r2": _r2,
        "rmse": _rmse,
        "mae": _mae,
        "bias": _bias,
        "ubrmse": _ubrmse,
        "pearson_r": _pearson_r,
        "n": _count,
    }
    out = xr.Dataset(
        {name: _reduce(k, pred, obs, dim, skipna, name) for name, k in kernels.items()}
    )
    units = pred.attrs.get("units") if isinstance(pred, xr.DataArray) else None
    for name in ("rmse", "mae", "bias", "ubrmse"):
        if units:
            out[name].attrs["units"] = units
    return out
