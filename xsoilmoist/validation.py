"""Validate a soil-moisture map against in-situ stations.

:func:`validate` samples the prediction at the station pixels, pairs each
prediction time with the station observation nearest to it in time, and
computes the accuracy metrics of :mod:`xsoilmoist.metrics` per station and
pooled over all stations.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr

from xsoilmoist import metrics, units
from xsoilmoist.errors import InputError, InputTypeError, InputWarning
from xsoilmoist.grid import spatial_dims
from xsoilmoist.stations import StationPlacement, place_stations

__all__ = ["validate"]

_METHODS = ("nearest", "linear")


def _check_ssm(ssm: xr.DataArray) -> tuple[xr.DataArray, pyproj.CRS, str, str]:
    """The prediction with a ``time`` dim, its CRS and its x/y dim names."""
    if not isinstance(ssm, xr.DataArray):
        raise InputTypeError(
            f"ssm must be an xarray.DataArray (time, y, x), got {type(ssm).__name__}"
        )
    if ssm.rio.crs is None:
        raise InputError(
            "ssm has no CRS, so the stations cannot be placed on it; set it with "
            "ssm.rio.write_crs('EPSG:32650') (the CRS of its x/y coordinates)"
        )
    y_dim, x_dim = spatial_dims(ssm, "ssm")
    if "time" not in ssm.dims:
        if "time" not in ssm.coords:
            raise InputError(
                "ssm has no time, so it cannot be paired with station observations; give it "
                "one, e.g. ssm.expand_dims(time=[np.datetime64('2021-06-01T10:00')])"
            )
        ssm = ssm.expand_dims("time")
    if set(ssm.dims) != {"time", y_dim, x_dim}:
        raise InputError(
            f"ssm must have dims (time, {y_dim}, {x_dim}) or ({y_dim}, {x_dim}), got {ssm.dims}"
        )
    return ssm, pyproj.CRS.from_user_input(ssm.rio.crs), x_dim, y_dim


def _station_variable(stations: xr.Dataset, variable: str | None) -> xr.DataArray:
    if variable is not None:
        if variable not in stations.data_vars:
            raise InputError(
                f"stations has no variable {variable!r}; it has "
                f"{sorted(map(str, stations.data_vars))}"
            )
        observed = stations[variable]
        if set(observed.dims) != {"station", "time"}:
            raise InputError(
                f"station variable {variable!r} must have dims (station, time), got {observed.dims}"
            )
        return observed
    candidates = [
        name for name, v in stations.data_vars.items() if set(v.dims) == {"station", "time"}
    ]
    if len(candidates) != 1:
        which = "no variable" if not candidates else f"several variables {candidates}"
        raise InputError(
            f"stations has {which} with dims (station, time); pass variable= to say which "
            "holds the observations"
        )
    return stations[candidates[0]]


def _bilinear(ssm: xr.DataArray, placed: StationPlacement, x_dim: str, y_dim: str):
    """Bilinear interpolation between the four pixel centres around each point (lazy)."""
    col = np.clip(placed.cols, 0, ssm.sizes[x_dim] - 1)
    row = np.clip(placed.rows, 0, ssm.sizes[y_dim] - 1)
    col0, row0 = np.floor(col).astype(int), np.floor(row).astype(int)
    col1 = np.minimum(col0 + 1, ssm.sizes[x_dim] - 1)
    row1 = np.minimum(row0 + 1, ssm.sizes[y_dim] - 1)
    wx = xr.DataArray(col - col0, dims="station")
    wy = xr.DataArray(row - row0, dims="station")

    def corner(rows, cols):
        return ssm.isel(
            {y_dim: xr.DataArray(rows, dims="station"), x_dim: xr.DataArray(cols, dims="station")}
        ).drop_vars([x_dim, y_dim])

    top = corner(row0, col0) * (1 - wx) + corner(row0, col1) * wx
    bottom = corner(row1, col0) * (1 - wx) + corner(row1, col1) * wx
    return (top * (1 - wy) + bottom * wy).astype(ssm.dtype)


def _sample(
    ssm: xr.DataArray, placed: StationPlacement, x_dim: str, y_dim: str, method: str
) -> xr.DataArray:
    """The prediction at the placed stations, ``(station, time)``, computing only those pixels."""
    if method == "nearest":
        rows, cols = placed.nearest()
        points = {
            y_dim: xr.DataArray(rows, dims="station"),
            x_dim: xr.DataArray(cols, dims="station"),
        }
        sampled = ssm.isel(points)
        sampled = sampled.assign_coords(
            pixel_x=("station", np.asarray(sampled[x_dim])),
            pixel_y=("station", np.asarray(sampled[y_dim])),
        )
    else:
        sampled = _bilinear(ssm, placed, x_dim, y_dim)
        sampled = sampled.assign_coords(
            pixel_x=("station", placed.x), pixel_y=("station", placed.y)
        )
    sampled = sampled.drop_vars([x_dim, y_dim, "spatial_ref"], errors="ignore")
    return sampled.transpose("station", "time").compute()


def _match_in_time(
    observed: xr.DataArray, times: np.ndarray, tolerance: pd.Timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """Per station, the valid observation nearest to each time, within ``tolerance``.

    Ties go to the later observation, as in pytesmo's ``temporal_collocation``
    (pandas' ``reindex(method="nearest", tolerance=...)``). Returns values and their times
    ``(station, len(times))``, NaN/NaT where no observation is near enough.
    """
    obs_times = observed["time"].values.astype("datetime64[ns]")
    targets = times.astype("datetime64[ns]")
    values = np.full((observed.sizes["station"], targets.size), np.nan)
    matched = np.full(values.shape, np.datetime64("NaT", "ns"))
    limit = tolerance.to_timedelta64().astype("timedelta64[ns]")
    for i, row in enumerate(observed.transpose("station", "time").values):
        valid = np.isfinite(row)
        t, v = obs_times[valid], row[valid]
        if t.size == 0:
            continue
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        after = np.clip(np.searchsorted(t, targets), 0, t.size - 1)
        before = np.clip(after - 1, 0, t.size - 1)
        gap_before = np.abs(targets - t[before])
        gap_after = np.abs(t[after] - targets)
        nearest = np.where(gap_before < gap_after, before, after)
        close = np.minimum(gap_before, gap_after) <= limit
        values[i, close] = v[nearest[close]]
        matched[i, close] = t[nearest[close]]
    return values, matched


def _observed_in_ssm_units(observed: xr.DataArray, ssm_units: str | None) -> xr.DataArray:
    obs_units = observed.attrs.get("units")
    if not ssm_units or not obs_units or units.same_units(obs_units, ssm_units):
        return observed
    return units.convert(observed, obs_units, ssm_units)


def validate(
    ssm: xr.DataArray,
    stations: xr.Dataset | xr.DataArray,
    *,
    tolerance: str | pd.Timedelta = "12h",
    variable: str | None = None,
    method: str = "nearest",
    crs=None,
    ci: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    anomalies: bool = False,
    window: float = 35,
) -> xr.Dataset:
    """Accuracy of a soil-moisture map at in-situ stations, per station and pooled.

    Parameters
    ----------
    ssm
        The prediction, ``(time, y, x)`` or ``(y, x)`` (then with a scalar
        ``time`` coord), with a CRS (``ssm.rio.crs``), e.g. from
        :func:`xsoilmoist.predict`. May be dask-backed: only the station
        pixels are computed.
    stations
        Observations ``(station, time)``, e.g. from
        :func:`xsoilmoist.io.read_ismn` or ``simulate_scene(...)``. Station
        positions are read from the coords (dim ``station``) ``lat``/``lon``
        (or ``latitude``/``longitude``), taken as WGS 84, or ``x``/``y`` (or
        ``station_x``/``station_y``) in the CRS given by ``crs``, else
        ``stations.attrs["crs"]``, else ``stations.rio.crs``. Lat/lon win when
        both are present and ``crs`` is not given.
    tolerance
        Largest time difference between a prediction and the station
        observation paired with it (anything :class:`pandas.Timedelta`
        accepts). Each prediction time is paired with the nearest valid
        observation of each station within ``tolerance``, as pytesmo's
        ``temporal_collocation(method="nearest")`` pairs them (ties: the
        later one); none within ``tolerance`` gives a NaN pair.
    variable
        The station variable; needed only when ``stations`` has several
        ``(station, time)`` variables.
    method
        ``"nearest"`` samples the pixel containing the station;
        ``"linear"`` interpolates bilinearly between the four surrounding
        pixel centres (NaN if one of them is NaN; the outer half pixel takes
        the edge values).
    crs
        CRS of the station ``x``/``y`` coords (anything pyproj accepts).
    ci, n_boot, seed
        A confidence level (e.g. ``0.95``) adds percentile bootstrap bounds
        ``<metric>_ci_lower``/``<metric>_ci_upper`` for every metric, per
        station and pooled (:func:`xsoilmoist.metrics.bootstrap_ci`).
    anomalies, window
        Add ``anomaly_r`` (correlation of short-term anomalies against a
        ``window``-day moving average) and ``seasonal_anomaly_r`` (of
        anomalies against each series' climatology), computed on the paired
        series along the prediction times (:func:`xsoilmoist.metrics.summary`).

    Returns
    -------
    xarray.Dataset
        Per station (dim ``station``): ``r2, rmse, ubrmse, bias, mae,
        pearson_r, n`` over time (and the bounds and anomaly correlations
        asked for); pooled over all stations and times: the
        same names prefixed ``pooled_`` (scalars); the matched pairs
        ``predicted``, ``observed`` and the observation time
        ``observed_time``, ``(station, time)`` on the prediction times. The
        station coords are kept, plus ``pixel_x``/``pixel_y``, where the
        prediction was sampled (raster CRS). Attributes: ``tolerance``,
        ``method``, ``model`` (and ``model_sha256``) of the prediction,
        ``station_variable``, ``station_coordinates`` and
        ``stations_outside`` (excluded stations). Observations are converted
        to the prediction's units when both state units.

    Raises
    ------
    InputError
        If ``ssm`` has no CRS or no time, the station variable is ambiguous,
        the station coordinates have no CRS, no station lies on the raster
        (the message gives both extents) or no observation lies within
        ``tolerance`` of a prediction time (it gives both time ranges).

    Warns
    -----
    InputWarning
        Naming the stations outside the raster, which are excluded; when a
        station's predictions or observations are constant (its ``pearson_r``
        is NaN).

    Examples
    --------
    >>> from xsoilmoist.synthetic import simulate_scene
    >>> scene = simulate_scene(shape=(32, 32), times=3, n_stations=4, seed=1)
    >>> ssm = scene.ssm_true.rio.write_crs(scene.rio.crs)
    >>> result = validate(ssm, scene, tolerance="1h")
    >>> result.rmse.dims, int(result.pooled_n)
    (('station',), 12)
    """
    ssm, raster_crs, x_dim, y_dim = _check_ssm(ssm)
    tolerance = _check_options(method, tolerance)
    if isinstance(stations, xr.DataArray):
        stations = stations.to_dataset(name=stations.name or "observed")
    observed = _station_variable(stations, variable)
    placed = place_stations(stations, ssm, crs=crs)
    outside = _stations_on_raster(ssm, stations, placed, raster_crs)
    observed = observed.isel(station=np.flatnonzero(placed.inside))
    observed = _observed_in_ssm_units(observed, ssm.attrs.get("units"))
    pairs = _pairs(ssm, observed, placed.subset(placed.inside), tolerance, (x_dim, y_dim), method)
    options = {"ci": ci, "n_boot": n_boot, "seed": seed, "anomalies": anomalies, "window": window}
    per_station = metrics.summary(pairs.predicted, pairs.observed, dim="time", **options)
    pooled = metrics.summary(pairs.predicted, pairs.observed, dim=["station", "time"], **options)
    result = pairs.assign(
        {name: var.variable for name, var in per_station.data_vars.items()}
        | {f"pooled_{name}": var.variable for name, var in pooled.data_vars.items()}
    )
    result.attrs = {
        "title": "validation of a soil-moisture map against in-situ stations",
        "tolerance": str(tolerance),
        "method": method,
        "model": str(ssm.attrs.get("model", "unknown")),
        **({"model_sha256": ssm.attrs["model_sha256"]} if "model_sha256" in ssm.attrs else {}),
        "station_variable": str(observed.name),
        "station_coordinates": placed.described,
        "crs": raster_crs.to_string(),
        "stations_outside": ", ".join(outside) or "none",
        **pooled.attrs,
    }
    return result


def _check_options(method: str, tolerance) -> pd.Timedelta:
    if method not in _METHODS:
        raise InputError(f"method must be one of {_METHODS}, got {method!r}")
    try:
        tolerance = pd.Timedelta(tolerance)
    except (TypeError, ValueError) as err:
        raise InputError(f"tolerance must be a time span like '12h', got {tolerance!r}") from err
    if pd.isna(tolerance) or tolerance < pd.Timedelta(0):
        raise InputError(f"tolerance must be a non-negative time span, got {tolerance!r}")
    return tolerance


def _stations_on_raster(ssm, stations, placed: StationPlacement, raster_crs) -> list[str]:
    """The names of the stations outside the raster (warned about); an error if all are."""
    names = [str(s) for s in stations["station"].values]
    outside = [name for name, ok in zip(names, placed.inside, strict=True) if not ok]
    if not placed.inside.any():
        left, bottom, right, top = ssm.rio.bounds()
        x, y = placed.x, placed.y
        raise InputError(
            f"no station lies on the raster: raster x {left:.6g} to {right:.6g}, y "
            f"{bottom:.6g} to {top:.6g} ({raster_crs.to_string()}); stations x "
            f"{np.nanmin(x):.6g} to {np.nanmax(x):.6g}, y {np.nanmin(y):.6g} to "
            f"{np.nanmax(y):.6g} (from {placed.described})"
        )
    if outside:
        warnings.warn(
            f"{len(outside)} station(s) outside the raster are excluded: {', '.join(outside)}",
            InputWarning,
            stacklevel=3,
        )
    return outside


def _pairs(ssm, observed, placed: StationPlacement, tolerance, xy_dims, method) -> xr.Dataset:
    """Predictions at the stations and the observations matched to them in time."""
    times = ssm["time"].values
    values, matched = _match_in_time(observed, times, tolerance)
    if np.isnan(values).all():
        obs_times = observed["time"].values
        raise InputError(
            f"no station observation lies within {tolerance} of a prediction time: "
            f"predictions from {times.min()} to {times.max()}, observations from "
            f"{obs_times.min()} to {obs_times.max()}; widen tolerance= or check the dates"
        )
    predicted = _sample(ssm, placed, *xy_dims, method)
    station_coords = {
        name: coord.variable
        for name, coord in observed.coords.items()
        if coord.dims == ("station",)
    }
    station_time = ("station", "time")
    return xr.Dataset(
        {
            "predicted": (station_time, predicted.values, _pair_attrs(ssm, "predicted")),
            "observed": (
                station_time,
                values.astype(observed.dtype),
                _pair_attrs(observed, "observed"),
            ),
            "observed_time": (
                station_time,
                matched,
                {"long_name": "time of the paired station observation"},
            ),
        },
        coords={
            **station_coords,
            "time": times,
            "pixel_x": predicted["pixel_x"].variable,
            "pixel_y": predicted["pixel_y"].variable,
        },
    )


def _pair_attrs(source: xr.DataArray, role: str) -> dict:
    attrs = {k: source.attrs[k] for k in ("units", "standard_name") if k in source.attrs}
    attrs["long_name"] = f"{role} soil moisture at the stations"
    return attrs
