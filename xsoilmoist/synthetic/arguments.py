"""Checks of the arguments of :func:`~xsoilmoist.synthetic.simulate_scene`, saying the fix."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from xsoilmoist.errors import InputError
from xsoilmoist.synthetic.regions import REGIONS, ObservingSystem, Region

__all__ = [
    "DEFAULT_OVERPASSES",
    "check_chunks",
    "check_positive",
    "check_seed",
    "check_shape",
    "footprint_factor",
    "is_integer",
    "overpass_days",
    "resolve_region",
]

#: Number of overpasses of the default time series.
DEFAULT_OVERPASSES = 8


def resolve_region(region) -> Region:
    """The :class:`Region` named ``region`` (or ``region`` itself if it is one)."""
    if isinstance(region, Region):
        return region
    if isinstance(region, str) and region in REGIONS:
        return REGIONS[region]
    raise InputError(
        f"unknown region {region!r}; choose one of {sorted(REGIONS)}, or pass a Region "
        "(e.g. dataclasses.replace(xsoilmoist.synthetic.REGIONS['farmland'], ...))"
    )


def is_integer(value) -> bool:
    """True for integers (numpy ones too), False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_shape(shape) -> tuple[int, int]:
    """``(rows, columns)`` as ints, each at least 3."""
    if (
        not isinstance(shape, Sequence)
        or isinstance(shape, str)
        or len(shape) != 2
        or not all(is_integer(n) and n >= 3 for n in shape)
    ):
        raise InputError(
            f"shape must be two integers (rows, columns), each at least 3, e.g. (256, 256); "
            f"got {shape!r}"
        )
    return int(shape[0]), int(shape[1])


def check_seed(seed) -> int:
    """The seed as a non-negative int."""
    if not is_integer(seed) or not 0 <= seed < 2**63:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_positive(name: str, value) -> float:
    """``value`` as a positive, finite float (a length in metres)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise InputError(f"{name} must be a positive number of metres, got {value!r}")
    if not math.isfinite(value):
        raise InputError(f"{name} must be finite, got {value!r}")
    return float(value)


def footprint_factor(coarse_resolution: float, resolution: float) -> int:
    """Pixels per footprint side; the footprint must be a whole number of pixels."""
    ratio = coarse_resolution / resolution
    factor = round(ratio)
    if factor < 1 or abs(ratio - factor) > 1e-6 * ratio:
        nearby = sorted({max(1, math.floor(ratio)), max(1, math.ceil(ratio))})
        suggestions = " or ".join(f"{n * resolution:g}" for n in nearby)
        raise InputError(
            f"coarse_resolution ({coarse_resolution:g} m) must be a whole multiple of the "
            f"resolution ({resolution:g} m) so footprints cover whole pixels; use e.g. "
            f"{suggestions}"
        )
    return factor


def overpass_days(
    times, region: Region, observing: ObservingSystem
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The time coordinate and the overpass day (``datetime64[D]``) of each time."""
    if times is None or is_integer(times):
        count = DEFAULT_OVERPASSES if times is None else int(times)
        if count < 1:
            raise InputError(f"times as a count must be at least 1, got {times!r}")
        start = np.datetime64(region.default_start, "D")
        days = start + np.arange(count) * observing.revisit_days
        return pd.DatetimeIndex(days.astype("datetime64[ns]")), days
    try:
        index = pd.DatetimeIndex(pd.to_datetime(np.atleast_1d(np.asarray(times))))
    except (TypeError, ValueError) as err:
        raise InputError(
            f"times must be None, a number of overpasses, or dates (e.g. "
            f"['2021-06-01', '2021-06-13']); could not read {times!r} as dates: {err}"
        ) from None
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.size == 0 or index.hasnans:
        raise InputError(f"times must hold at least one date and no NaT, got {times!r}")
    days = index.values.astype("datetime64[D]")
    if np.any(np.diff(days) <= np.timedelta64(0, "D")):
        raise InputError(
            "times must be increasing, with at most one overpass per day (the water balance "
            f"runs daily); got {[str(d) for d in days]}"
        )
    return index, days


def check_chunks(chunks, shape: tuple[int, int]) -> tuple[int, int] | None:
    """``(rows, columns)`` per chunk, or ``None`` for numpy."""
    if chunks is None:
        return None
    if isinstance(chunks, Mapping):
        unknown = set(chunks) - {"y", "x"}
        if unknown:
            raise InputError(
                f"chunks may only split 'y' and 'x' (the water balance needs every date of a "
                f"pixel at once), got keys {sorted(map(str, unknown))}"
            )
        sizes = (chunks.get("y", shape[0]), chunks.get("x", shape[1]))
    elif is_integer(chunks):
        sizes = (chunks, chunks)
    elif isinstance(chunks, Sequence) and len(chunks) == 2:
        sizes = tuple(chunks)
    else:
        sizes = None
    if sizes is None or not all(is_integer(n) and n >= 1 for n in sizes):
        raise InputError(
            f"chunks must be None, a positive integer, (rows, columns) or {{'y': rows, 'x': "
            f"columns}}; got {chunks!r}"
        )
    return min(int(sizes[0]), shape[0]), min(int(sizes[1]), shape[1])
