"""The input rules shared by ``check()``, ``predict()`` and training.

One set of rules decides whether a scene can give a correct map:

- **errors** (:class:`~xsoilmoist.errors.InputError` and its subclasses) for
  what would give a wrong map: coordinates that are not one regular grid, a
  required modality missing, reflectance stored as integers but labelled
  ``"1"``, a band that is entirely invalid after standardization, values that
  cannot be what the units say (backscatter above a few dB over most of the
  scene), a time step without SAR;
- **warnings** (:class:`~xsoilmoist.errors.InputWarning`) for what the model
  will ignore or was not trained on: a partial modality, a pixel size far
  from the model's 10 m, values mostly outside the ranges the model card
  records, months the card does not cover.

The rules that need only metadata run before anything is computed
(:func:`inspect_metadata`). The rules that need values are counted over the
standardized bands (:func:`value_counts`, or per block of a prediction as it
reads its input: :func:`block_counter`) and judged by :func:`judge_counts`: at
once for data in memory, and for dask data inside the computation
(:func:`guard`), so an error names the band when the result is computed and
nothing is computed before it is asked for.

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xsoilmoist.bands import plan_standardization, standardize
>>> ds = xr.Dataset(
...     {"VV": (("y", "x"), np.full((2, 2), 8.0), {"units": "dB"}),
...      "VH": (("y", "x"), np.full((2, 2), -18.0), {"units": "dB"})},
...     coords={"y": [10.0, 0.0], "x": [0.0, 10.0]})
>>> std = standardize(ds)
>>> plan = ScenePlan.of(std, ["vv", "vh"])
>>> findings = judge_counts(value_counts(std, plan.bands, plan).compute(), plan)
>>> findings.errors[0].split(";")[0]
"'vv' is above 0 dB over 100% of its valid pixels"
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dask.array as da
import numpy as np
import pandas as pd
import xarray as xr
from dask.base import tokenize
from dask.core import flatten
from dask.highlevelgraph import HighLevelGraph

from xsoilmoist.bands import StandardizationPlan
from xsoilmoist.catalogue import BANDS, MODALITY_BANDS, aliases_of
from xsoilmoist.errors import GridError, InputError, InputWarning
from xsoilmoist.grid import check_regular, pixel_size_metres, spatial_dims

__all__ = [
    "PIXEL_SIZE_RANGE",
    "PLAUSIBLE_RANGES",
    "InputFindings",
    "ScenePlan",
    "block_counter",
    "counts_of_blocks",
    "guard",
    "inspect_metadata",
    "judge_counts",
    "value_counts",
]

#: Values most pixels of a real land scene fall within, per band; a band with
#: over half of its valid pixels outside cannot be what its units say.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "vv": (-35.0, 0.0),
    "vh": (-45.0, -5.0),
    "hh": (-35.0, 0.0),
    "hv": (-45.0, -5.0),
}

#: Pixel sizes (m) the 10 m model is used at without a warning.
PIXEL_SIZE_RANGE = (5.0, 20.0)

#: Share of valid pixels past a limit from which a band counts as "mostly" past it.
MOSTLY = 0.5

#: The counts :func:`value_counts` makes per band and time step, in this order.
COUNTS = ("pixels", "valid", "implausible", "untrained")


@dataclass
class InputFindings:
    """Errors and warnings found in an input, each naming the band and the fix."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: InputFindings) -> InputFindings:
        """Add ``other``'s findings to these; returns ``self``."""
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        return self

    def raise_errors(self) -> None:
        """Raise one :class:`InputError` listing every error, if there is any."""
        if self.errors:
            listing = "\n".join(f"  - {e}" for e in self.errors)
            raise InputError(f"this input would give a wrong map:\n{listing}")

    def emit_warnings(self, stacklevel: int = 3) -> None:
        """Emit each warning as an :class:`InputWarning`."""
        for message in self.warnings:
            warnings.warn(message, InputWarning, stacklevel=stacklevel)


@dataclass(frozen=True)
class ScenePlan:
    """What the value rules need to know about a scene (small: travels with dask tasks).

    Attributes
    ----------
    bands
        The bands counted, in :func:`value_counts` order.
    times
        The time labels (ISO strings), or ``("",)`` for a scene without time.
    sar_bands
        Which of ``bands`` are SAR (a time step with none valid is an error).
    trained_ranges
        Band -> (low, high) the model was trained on, from the model card.
    """

    bands: tuple[str, ...]
    times: tuple[str, ...]
    sar_bands: tuple[str, ...] = ()
    trained_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        std: xr.Dataset,
        bands: Sequence[str],
        trained_ranges: Mapping[str, Sequence[float]] | None = None,
    ) -> ScenePlan:
        """The plan for the bands of ``std`` among ``bands``."""
        present = tuple(b for b in bands if b in std.data_vars)
        times = (
            tuple(str(t)[:19] for t in np.asarray(std["time"].values).ravel())
            if "time" in std.dims
            else ("",)
        )
        sar = tuple(b for b in present if b in MODALITY_BANDS["sar_c"] + MODALITY_BANDS["sar_l"])
        ranges = {b: tuple(map(float, r)) for b, r in (trained_ranges or {}).items()}
        return cls(present, times, sar, ranges)


def _partial_modalities(present: set[str], modalities: Mapping[str, Sequence[str]]):
    for modality, bands in modalities.items():
        missing = [b for b in bands if b not in present]
        if missing and len(missing) < len(bands):
            yield modality, missing


def inspect_metadata(
    ds: xr.Dataset,
    plan: StandardizationPlan,
    modalities: Mapping[str, Sequence[str]],
    required: Sequence[str] = ("sar_c",),
    trained_months: Sequence[int] | None = None,
) -> InputFindings:
    """The findings that need no data: grid, modalities, integer codings, pixel size, dates.

    Parameters
    ----------
    ds
        The raw Dataset.
    plan
        Its standardization plan (:func:`xsoilmoist.bands.plan_standardization`).
    modalities
        Modality -> bands the model reads.
    required
        Modalities the model cannot do without.
    trained_months
        Months (1-12) the model was trained on; other months warn.
    """
    findings = InputFindings()
    try:
        y_dim, x_dim = spatial_dims(ds)
        sized = min(ds.sizes[y_dim], ds.sizes[x_dim]) >= 2
        pixel = None
        if sized and ds.rio.crs is not None:
            pixel = pixel_size_metres(ds)  # checks the regular grid on the way
        else:
            check_regular(ds)
    except GridError as err:
        findings.errors.append(str(err))
        pixel = None
    if pixel is not None:
        low, high = PIXEL_SIZE_RANGE
        if not all(low <= p <= high for p in pixel):
            findings.warnings.append(
                f"the pixels are {pixel[0]:g} x {pixel[1]:g} m; the model works at 10 m (used "
                f"without warning from {low:g} to {high:g} m): resample to 10 m, e.g. with "
                "xsoilmoist.assemble(...)"
            )
    present = set(plan.sources) | set(plan.derivable)
    for modality in required:
        bands = list(modalities[modality])
        if not present & set(bands):
            names = "; ".join(f"{b}: {', '.join(aliases_of(b)[:6])}" for b in bands)
            findings.errors.append(
                f"the model needs modality {modality!r}, which is missing: add {bands} "
                f"(accepted names: {names}; with units), or map your names with "
                "rename={...}; ds.ssm.check() shows what was found"
            )
    for modality, missing in _partial_modalities(present, modalities):
        names = "; ".join(f"{b}: {', '.join(aliases_of(b)[:4])}" for b in missing)
        message = (
            f"modality {modality!r} is incomplete: {missing} missing (accepted names: {names}); "
            f"the model ignores the whole modality. Add the missing bands or drop the others"
        )
        hints = [
            f"{b}: {BANDS[b].how_to_get}" for b in missing if b in BANDS and BANDS[b].how_to_get
        ]
        if hints:
            message += " (" + "; ".join(hints) + ")"
        (findings.errors if modality in required else findings.warnings).append(message)
    findings.errors.extend(_integer_reflectance(ds, plan))
    findings.warnings.extend(_assumed_units(plan))
    time_dtype = ds["time"].dtype if "time" in ds.coords else None
    if time_dtype is not None and not (
        isinstance(time_dtype, np.dtype) and np.issubdtype(time_dtype, np.datetime64)
    ):
        findings.errors.append(
            f"the time coordinate has dtype {ds['time'].dtype}, not timezone-free datetime64: "
            "give times as UTC without a timezone, e.g. ds.assign_coords(time=ds.indexes['time']"
            ".tz_convert(None)) for timezone-aware times, or pandas.to_datetime(...) for text"
        )
    elif trained_months and "time" in ds.coords:
        months = sorted(set(pd.DatetimeIndex(np.atleast_1d(ds["time"].values)).month))
        outside = [m for m in months if m not in set(trained_months)]
        if outside:
            findings.warnings.append(
                f"months {outside} are outside the months the model was trained on "
                f"({sorted(trained_months)}); expect larger errors"
            )
    return findings


def _assumed_units(plan: StandardizationPlan) -> list[str]:
    """Bands without a units attribute whose units the product convention supplies."""
    return [
        f"{source.source!r} (band {name!r}) has no units attribute; assumed "
        f"{source.physical_units!r} (the product convention). If that is wrong, set "
        f"ds[{source.source!r}].attrs['units']"
        for name, source in plan.sources.items()
        if source.source_units is None and source.coding is None and not source.cf_packing
    ]


def _integer_reflectance(ds: xr.Dataset, plan: StandardizationPlan) -> list[str]:
    """Reflectance stored as integers but labelled as a fraction (what odc-stac attaches)."""
    out = []
    for name, source in plan.sources.items():
        if source.band.units != "1" or source.coding is not None or source.cf_packing:
            continue
        if source.band.valid_range != (0.0, 1.0):
            continue
        if np.issubdtype(ds[source.source].dtype, np.integer) and source.source_units is not None:
            out.append(
                f"{source.source!r} (band {name!r}) holds integers labelled "
                f"{source.source_units!r}: reflectance as a fraction cannot be an integer, these "
                f"look like digital numbers (x 10000); set ds[{source.source!r}].attrs['units'] = "
                "'DN' (with processing_baseline=... for Sentinel-2) or scale them to 0-1"
            )
    return out


def value_counts(std: xr.Dataset, bands: Sequence[str], plan: ScenePlan | None = None) -> da.Array:
    """Lazy counts per band and time step, shape ``(band, time, len(COUNTS))``.

    The counts (:data:`COUNTS`) are the pixels of the grid, the valid ones
    (finite after standardization), the valid ones outside
    :data:`PLAUSIBLE_RANGES` and those outside the model's trained range:
    one pass (numba, without the GIL) and one task per chunk of each band.
    """
    from xsoilmoist.pixel_counts import count_block  # numba: not on the import path

    plan = plan or ScenePlan.of(std, bands)
    y_dim, x_dim = spatial_dims(std)
    n_time = len(plan.times)
    rows = []
    for band in plan.bands:
        values = std[band]
        if "time" not in values.dims:
            values = values.expand_dims(time=n_time)
        values = da.asarray(values.transpose("time", y_dim, x_dim).data)
        per_chunk = values.map_blocks(
            count_block,
            *_count_bounds(band, plan),
            new_axis=3,
            chunks=(values.chunks[0], (1,) * values.numblocks[1], (1,) * values.numblocks[2], 3),
            dtype=np.float64,
        )
        pixels = da.full((n_time, 1), values.shape[1] * values.shape[2], dtype=np.float64)
        rows.append(da.concatenate([pixels, per_chunk.sum(axis=(1, 2))], axis=1))
    if not rows:
        return da.zeros((0, n_time, len(COUNTS)))
    return da.stack(rows)


def _count_bounds(band: str, plan: ScenePlan) -> tuple[float, float, float, float]:
    """The plausible and the trained range of ``band``, as :func:`count_block` takes them."""
    bounds = (
        *PLAUSIBLE_RANGES.get(band, (-np.inf, np.inf)),
        *plan.trained_ranges.get(band, (-np.inf, np.inf)),
    )
    return tuple(float(b) for b in bounds)


def block_counter(plan: ScenePlan, layout: Sequence[str]) -> tuple[Callable, tuple[int, int]]:
    """A function counting, in one ``(1, band, y, x)`` block stacked in ``layout``'s band order,
    the :data:`COUNTS` after ``"pixels"`` of ``plan``'s bands, and the shape it returns:
    ``(band, 3)``.

    What :func:`value_counts` counts per chunk, for blocks that are read anyway
    (:func:`counts_of_blocks` sums them over blocks that cover the scene once).
    """
    where = [layout.index(band) for band in plan.bands]
    bounds = [_count_bounds(band, plan) for band in plan.bands]
    count = functools.partial(_count_bands, where=where, bounds=bounds)
    return count, (len(plan.bands), len(COUNTS) - 1)


def counts_of_blocks(summaries: da.Array, pixels: int) -> da.Array:
    """:func:`value_counts`' counts from the ``(time, block row, block column, band, 3)``
    counts of :func:`block_counter` over blocks that cover the scene's ``pixels`` once."""
    counted = summaries.sum(axis=(1, 2)).transpose(1, 0, 2)  # (band, time, count)
    grid = da.full((*counted.shape[:2], 1), pixels, dtype=counted.dtype)
    return da.concatenate([grid, counted], axis=2)


def _count_bands(block: np.ndarray, where: list[int], bounds: list) -> np.ndarray:
    from xsoilmoist.pixel_counts import count_block  # numba: not on the import path

    out = np.zeros((len(where), len(COUNTS) - 1))
    for k, (index, limits) in enumerate(zip(where, bounds, strict=True)):
        out[k] = count_block(block[:, index], *limits)[0, 0, 0]
    return out


def judge_counts(counts: np.ndarray, plan: ScenePlan) -> InputFindings:
    """The findings from :func:`value_counts`' counts (numpy), naming band and fix."""
    findings = InputFindings()
    index = {name: i for i, name in enumerate(COUNTS)}
    total = counts.sum(axis=1)
    for i, band in enumerate(plan.bands):
        valid = total[i, index["valid"]]
        if valid == 0:
            findings.errors.append(_all_invalid_message(band))
            continue
        implausible = total[i, index["implausible"]] / valid
        if implausible > MOSTLY:
            low, high = PLAUSIBLE_RANGES[band]
            side = f"above {high:g}" if high < np.inf else f"below {low:g}"
            findings.errors.append(
                f"{band!r} is {side} {BANDS[band].units} over {implausible:.0%} of its valid "
                f"pixels; a land surface is from {low:g} to {high:g} {BANDS[band].units}: check "
                "its units (linear power must be labelled '1', not 'dB') and calibration"
            )
        untrained = total[i, index["untrained"]] / valid
        if untrained > MOSTLY:
            low, high = plan.trained_ranges[band]
            findings.warnings.append(
                f"{band!r} is outside the range the model was trained on ({low:g} to {high:g} "
                f"{BANDS[band].units}) over {untrained:.0%} of its valid pixels; expect larger "
                "errors"
            )
    if plan.sar_bands:
        sar = [plan.bands.index(b) for b in plan.sar_bands]
        sar_valid = counts[sar][:, :, index["valid"]].sum(axis=0)
        empty = [plan.times[t] or "the scene" for t in np.flatnonzero(sar_valid == 0)]
        if empty:
            findings.errors.append(
                f"time step(s) {empty} have no valid SAR pixel; radar is required. Optical and "
                "SAR a few hours apart make separate time steps: match them to the SAR times "
                "with xsoilmoist.assemble(..., time_tolerance=...), or drop those steps"
            )
    return findings


def _all_invalid_message(band: str) -> str:
    low, high = BANDS[band].valid_range
    units = BANDS[band].units
    return (
        f"{band!r} has no valid pixel after standardization (every value is missing, a fill "
        f"value or outside {low:g} to {high:g} {units}): the values may be in other units than "
        "labelled (e.g. reflectance x 10000 labelled '1'), or the band was aligned from another "
        "grid (xarray fills non-overlapping pixels with NaN): put every band on one grid with "
        f"xsoilmoist.assemble(...), fix its units, or drop {band!r}"
    )


def _verdict(counts: np.ndarray, plan: ScenePlan) -> np.ndarray:
    """Raise the errors and emit the warnings of ``counts``; a 0-d token when it passes."""
    findings = judge_counts(counts, plan)
    findings.raise_errors()
    findings.emit_warnings(stacklevel=2)
    return np.zeros((), dtype=bool)


def _after_verdict(block: np.ndarray, verdict: np.ndarray) -> np.ndarray:
    return block


def guard(result: da.Array, counts: da.Array, plan: ScenePlan) -> da.Array:
    """``result`` whose last block waits for the verdict on ``counts`` (judged once).

    The counts are a reduction over the whole input, judged in one task: its
    errors are raised and its warnings emitted when the last block of
    ``result`` (in row-major order: the last one a map written as it is
    computed writes) is computed. Only that block waits for the verdict, so
    the others stream as before; no block changes when there is no error.
    (Array operations all through: a ``dask.delayed`` verdict would optimize
    the whole counting graph when the result is built.)
    """
    whole = counts.rechunk(-1)
    verdict = whole.map_blocks(
        _verdict, plan, drop_axis=list(range(whole.ndim)), dtype=bool, meta=np.empty((), bool)
    )
    name = "checked-" + tokenize(result.name, verdict.name)
    keys = list(flatten(result.__dask_keys__()))
    graph = {(name, *key[1:]): (_after_verdict, key, None) for key in keys[:-1]}
    graph[(name, *keys[-1][1:])] = (_after_verdict, keys[-1], (verdict.name,))
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[result, verdict])
    return da.Array(layer, name, result.chunks, dtype=result.dtype, meta=result._meta)
