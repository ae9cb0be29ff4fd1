"""The antecedent precipitation index (API) of the days before each SAR acquisition.

Kohler and Linsley (1951, "Predicting the runoff from storm rainfall", U.S.
Weather Bureau Research Paper 34) summarise the rain of the preceding days
as ``API_d = k API_(d-1) + P_(d-1)``, with ``P`` daily totals and ``k`` a
daily recession constant, which they and Linsley, Kohler and Paulhus
(*Hydrology for Engineers*, 1982) put between 0.85 and 0.98. Saxton and Lenz
(1967, "Antecedent retention indexes predict soil moisture", J. Hydraulics
Division 93(HY4)) derived 0.92 (summer) to 0.98 for the top 30 cm, and
recommended constants of 0.88 and 0.92 compared poorly with it. The top 5 cm
that Sentinel-1 senses dries faster than any deeper layer: most of its
drying happens within five days of rain (Shellito, Small and Livneh 2018,
HESS 22:1649), so xsoilmoist takes the low end, ``k = 0.85`` (an e-folding
time of 6.2 days).

Unrolled, the index on day ``d`` is ``sum_(i>=1) k^(i-1) P_(d-i)``: the rain of
the SAR day itself is not in it (that is ``tp``). The sum is cut after
:data:`API_DAYS` days, where the weight of what is left out, ``k^N``, falls
below 1 % (29 days for ``k = 0.85``): the same as the recursion started at
zero 29 days before, so the result does not depend on how far back a record
reaches. Every one of those days must be whole in the record.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from xsoilmoist.assembly.timing import day_start, record_step, steps_of_day
from xsoilmoist.catalogue import BANDS

__all__ = ["API_DAYS", "API_RECESSION", "API_RULE", "antecedent_index", "api_weights"]

#: Daily recession constant ``k`` of the index (see the module documentation).
API_RECESSION = 0.85

#: Largest weight, relative to the day before's, of the rain left out of the sum.
API_TRUNCATION = 0.01

#: Days of daily totals in the sum: ``k^N`` below :data:`API_TRUNCATION`.
API_DAYS = math.ceil(math.log(API_TRUNCATION) / math.log(API_RECESSION))

#: The rule, as written into the attrs of ``api``.
API_RULE = (
    f"antecedent precipitation index (Kohler & Linsley 1951): API_d = k API_(d-1) + P_(d-1), "
    f"k = {API_RECESSION}, P the daily totals (UTC days) of the {API_DAYS} days before the SAR "
    f"day (sum_i k^(i-1) P_(d-i), i = 1..{API_DAYS}; the SAR day's own rain is tp)"
)

_DAY = np.timedelta64(1, "D")


def api_weights() -> np.ndarray:
    """Weights ``k^(i-1)`` of the daily totals ``i = 1 .. API_DAYS`` days before.

    Examples
    --------
    >>> w = api_weights()
    >>> w.size, float(w[0]), round(float(w[1]), 2)
    (29, 1.0, 0.85)
    """
    return API_RECESSION ** np.arange(API_DAYS, dtype=np.float64)


def _daily_total(da: xr.DataArray, start: np.datetime64, step, daily: bool):
    """The total of the UTC day from ``start``, or ``None`` if the record does not cover it whole.

    Daily records: the value stamped on the day. Sub-daily ones (ERA5's
    accumulations end at their time stamp): the sum of the steps in
    ``(start, start + 1 day]``, which must cover the day.
    """
    inside = steps_of_day(da["time"].values, start, accumulated=not daily)
    if daily:
        return da.isel(time=inside[0], drop=True) if inside.size else None
    if inside.size * step < _DAY:
        return None
    return da.isel(time=inside).sum("time", min_count=1)


def _needed_days(times: np.ndarray) -> dict[np.datetime64, list[np.datetime64]]:
    """For each SAR day, the days of its sum, the day before first."""
    days = dict.fromkeys(day_start(t) for t in times)
    return {day: [day - i * _DAY for i in range(1, API_DAYS + 1)] for day in days}


def antecedent_index(tp: xr.DataArray, times: np.ndarray) -> tuple[xr.DataArray | None, str | None]:
    """``api`` (mm) at each SAR time from a precipitation record ``tp`` in mm.

    ``tp`` is ``(time, y, x)``, hourly (or any sub-daily step) or daily, on
    its own grid. Returns the index on ``times`` (lazy if ``tp`` is) and
    ``None``; or ``None`` and a reason when a day of a sum is not in the
    record whole (``None`` and ``None`` when the record has no whole day
    before any SAR day: it was not meant for the index).

    Examples
    --------
    >>> days = np.arange("2021-05-01", "2021-06-01", dtype="datetime64[D]").astype("datetime64[ns]")
    >>> tp = xr.DataArray(np.zeros((days.size, 1, 1)), dims=("time", "y", "x"),
    ...                   coords={"time": days}, attrs={"units": "mm"})
    >>> tp[-1] = 10.0  # 10 mm on 31 May
    >>> api, _ = antecedent_index(tp, np.array(["2021-06-01T06:00"], dtype="datetime64[ns]"))
    >>> float(api.squeeze())
    10.0
    """
    step = record_step(tp["time"].values, _DAY)
    daily = step >= _DAY
    needed = _needed_days(times)
    totals = {
        day: _daily_total(tp, day, step, daily)
        for day in sorted({d for v in needed.values() for d in v})
    }
    absent = sorted(day for day, total in totals.items() if total is None)
    if absent:
        if len(absent) == len(totals):
            return None, None
        first = min(totals)
        return None, (
            f"api (antecedent precipitation index) left out: it needs whole daily "
            f"precipitation totals of the {API_DAYS} days before each SAR day, from "
            f"{str(first)[:10]}; {len(absent)} of them are not in the record "
            f"({_days_text(absent)}): extend the precipitation series back to {str(first)[:10]}"
        )
    weights = xr.DataArray(api_weights(), dims="lag")
    per_day = {
        day: (xr.concat([totals[d] for d in lags], dim="lag") * weights).sum("lag", skipna=False)
        for day, lags in needed.items()
    }
    parts = [per_day[day_start(t)].astype(np.float32) for t in times]
    api = xr.concat(parts, dim=xr.DataArray(times, dims="time", name="time"))
    api.attrs = {
        **tp.attrs,
        "units": BANDS["api"].units,
        "long_name": BANDS["api"].long_name,
        "api_recession_constant": API_RECESSION,
        "api_window_days": API_DAYS,
    }
    return api, None


def _days_text(days: list[np.datetime64]) -> str:
    text = [str(d)[:10] for d in days]
    return ", ".join(text) if len(text) <= 4 else f"{text[0]} ... {text[-1]}"
