"""Time rules of :func:`xsoilmoist.assemble`: every layer onto the SAR acquisition times.

- SAR: each acquisition is one output time (two on the same day stay two).
- Optical: per pixel, the clear observation closest in time to the SAR
  acquisition within ``time_tolerance`` (the later one on a tie); a pixel is
  clear when every optical band has a value and the scene classification
  (Sentinel-2 ``SCL``), when given, is not no-data, defective, cloud shadow,
  cloud or cirrus.
- Meteorology: the SAR acquisition's UTC day. Daily fields are taken as they
  are; sub-daily fields are aggregated: ``t2m`` as the mean of the steps in
  [00:00, 24:00), ``tp`` as the sum of the steps in (00:00, 24:00] (ERA5's
  hourly accumulations end at their time stamp). When the precipitation
  record holds the days before, ``api`` is the antecedent precipitation index
  of the 29 UTC days before the SAR day (``k = 0.85``, see
  :mod:`xsoilmoist.assembly.antecedent`); left out, with a warning, when one
  of those days is not whole in the record.
- Vegetation (MODIS composites): the latest composite starting at or before
  the SAR time, within one composite period (the step between composites).
- Layers without time (DEM, slope) are static: the same for every time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "CLOUD_CLASSES",
    "RULES",
    "daily_meteorology",
    "optical_composite",
    "vegetation_composite",
]

#: Sentinel-2 SCL classes masked: no data, defective, cloud shadow, cloud medium/high, cirrus.
CLOUD_CLASSES = (0, 1, 3, 8, 9, 10)

#: The rules, as written into the assembled Dataset's attrs.
RULES = " ".join(line.strip() for line in __doc__.split("\n\n", 1)[1].splitlines())

_HOUR = np.timedelta64(3600, "s")


def _hours(delta) -> str:
    return f"{delta / _HOUR:+.1f} h"


def _empty_like(da: xr.DataArray) -> xr.DataArray:
    """All-NaN ``(y, x)`` like one time step of ``da`` (lazy if ``da`` is)."""
    step = da.isel(time=0, drop=True) if "time" in da.dims else da
    return xr.full_like(step, np.nan, dtype=np.float32)


def _stack(per_time: list[xr.DataArray], times: np.ndarray) -> xr.DataArray:
    return xr.concat(per_time, dim=xr.DataArray(times, dims="time", name="time"))


def _candidates(obs: np.ndarray, when: np.datetime64, tolerance: np.timedelta64) -> list[int]:
    """Indices of ``obs`` within ``tolerance`` of ``when``, best first (closest, then later)."""
    offsets = obs - when
    inside = np.flatnonzero(np.abs(offsets) <= tolerance)
    return sorted(inside, key=lambda i: (abs(offsets[i]), -offsets[i].astype(np.int64)))


def _clear(bands: dict[str, xr.DataArray], mask: xr.DataArray | None) -> xr.DataArray:
    clear = None
    for da in bands.values():
        clear = da.notnull() if clear is None else clear & da.notnull()
    if mask is not None:
        clear = clear & ~mask.isin(CLOUD_CLASSES)
    return clear


def optical_composite(
    bands: dict[str, xr.DataArray],
    mask: xr.DataArray | None,
    times: np.ndarray,
    tolerance: np.timedelta64,
) -> tuple[dict[str, xr.DataArray], str]:
    """Optical bands at ``times``: per pixel the best clear observation (see module doc).

    ``bands`` are ``(time, y, x)`` on one grid and one set of observation
    times (NaN where missing); ``mask`` the SCL layer on those times (or
    ``None``). Returns the composited bands and a note of the offsets used.
    """
    obs = next(iter(bands.values()))["time"].values
    clear = _clear(bands, mask)
    out: dict[str, list[xr.DataArray]] = {name: [] for name in bands}
    notes = []
    for when in times:
        order = _candidates(obs, when, tolerance)
        notes.append(", ".join(_hours(obs[i] - when) for i in order) or "none")
        for name, da in bands.items():
            result = _empty_like(da)
            for i in reversed(order):
                result = da.isel(time=i, drop=True).where(clear.isel(time=i, drop=True), result)
            out[name].append(result)
    note = "; ".join(f"{str(t)[:19]}: {n}" for t, n in zip(times, notes, strict=True))
    return {name: _stack(parts, times) for name, parts in out.items()}, note


def record_step(obs: np.ndarray, default: np.timedelta64) -> np.timedelta64:
    """The typical step of the record times ``obs`` (their median spacing), or ``default``."""
    return np.median(np.diff(obs)) if obs.size > 1 else default


def day_start(when) -> np.datetime64:
    """The start (00 UTC) of the day of ``when``, as ``datetime64[ns]``."""
    return np.datetime64(pd.Timestamp(when).floor("D").to_datetime64(), "ns")


def steps_of_day(obs: np.ndarray, start: np.datetime64, accumulated: bool) -> np.ndarray:
    """Indices of the record times ``obs`` that make up the UTC day from ``start``.

    Values valid at their time stamp: those in ``[start, start + 1 day)``.
    Accumulations ending at their time stamp (ERA5's sub-daily ``tp``): those
    in ``(start, start + 1 day]``.
    """
    day = np.timedelta64(1, "D")
    if accumulated:
        return np.flatnonzero((obs > start) & (obs <= start + day))
    return np.flatnonzero((obs >= start) & (obs < start + day))


def daily_meteorology(
    da: xr.DataArray, band: str, times: np.ndarray
) -> tuple[xr.DataArray, str, set[str], list[str]]:
    """``t2m`` (daily mean) or ``tp`` (daily total) on each SAR time's UTC day.

    Returns the layer, a note of the steps used, the days without data (left
    empty) and the problems found (sub-daily precipitation not covering the
    whole day).
    """
    obs = da["time"].values
    step = record_step(obs, np.timedelta64(1, "D"))
    daily = step >= np.timedelta64(1, "D")
    per_time, notes, missing, problems = [], [], set(), []
    day = np.timedelta64(1, "D")
    for when in times:
        start = day_start(when)
        inside = steps_of_day(obs, start, accumulated=band == "tp" and not daily)
        if inside.size == 0:
            per_time.append(_empty_like(da))
            missing.add(str(start)[:10])
            notes.append(f"{str(start)[:10]}: none")
            continue
        picked = da.isel(time=inside)
        total = band == "tp" and not daily
        if total and inside.size * step < day:
            problems.append(
                f"tp: only {inside.size} steps of {step / _HOUR:g} h on {str(start)[:10]}, "
                "not the whole day: its total is too small"
            )
        value = picked.sum("time", min_count=1) if total else picked.mean("time")
        per_time.append(value.astype(np.float32))
        notes.append(f"{str(start)[:10]}: {inside.size} step(s)")
    rule = "daily value" if daily else ("daily sum" if band == "tp" else "daily mean")
    note = f"{rule} on the SAR day ({'; '.join(notes)})"
    return _stack(per_time, times), note, missing, problems


def vegetation_composite(
    da: xr.DataArray, times: np.ndarray, period: np.timedelta64 | None = None
) -> tuple[xr.DataArray, str]:
    """The latest composite starting at or before each time, within one composite period."""
    obs = da["time"].values
    period = record_step(obs, np.timedelta64(8, "D")) if period is None else period
    per_time, notes = [], []
    for when in times:
        inside = np.flatnonzero((obs <= when) & (when - obs < period))
        if inside.size == 0:
            per_time.append(_empty_like(da))
            notes.append("none")
            continue
        latest = inside[np.argmax(obs[inside])]
        per_time.append(da.isel(time=latest, drop=True).astype(np.float32))
        notes.append(_hours(obs[latest] - when))
    note = "; ".join(f"{str(t)[:19]}: {n}" for t, n in zip(times, notes, strict=True))
    return _stack(per_time, times), f"composite covering the SAR time ({note})"
