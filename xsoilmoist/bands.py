"""Band standardization: canonical names, units, valid ranges and derived bands.

:func:`standardize` turns a Dataset with product band names (``B04``,
``SR_B4``, ``VV``, ``Lai_500m``, ``2t`` ...) and product units or integer
codings into the canonical bands of :mod:`xsoilmoist.catalogue`, lazily on
dask. The work is split in two: :func:`plan_standardization` reads names,
dims, dtypes and attrs only (never data) and collects every problem;
:func:`standardize` applies the plan. :func:`xsoilmoist.report.check` shows a
plan without applying it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from xsoilmoist.catalogue import (
    BANDS,
    PRODUCTS,
    Band,
    DigitalNumberCoding,
    aliases_of,
    lookup_alias,
)
from xsoilmoist.errors import GridError, InputError, InputTypeError, StandardizeError, UnitError
from xsoilmoist.grid import spatial_dims
from xsoilmoist.units import check_convertible, convert_values, same_units

__all__ = [
    "DERIVATIONS",
    "BandSource",
    "StandardizationPlan",
    "StandardizeError",
    "derive_band",
    "plan_standardization",
    "standardize",
]

_DN_SPELLINGS = {"dn", "digital_number", "digital number", "count", "counts"}
# Attributes that describe the source coding; they no longer hold after standardizing.
_CODING_ATTRS = {
    "units",
    "scale_factor",
    "add_offset",
    "_FillValue",
    "missing_value",
    "nodata",
    "valid_range",
    "valid_min",
    "valid_max",
    "BOA_ADD_OFFSET",
    "BOA_QUANTIFICATION_VALUE",
    "RADIO_ADD_OFFSET",
    "long_name",
}
_FILL_ATTRS = ("_FillValue", "missing_value", "nodata")
_S2_OFFSET_ATTRS = ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET")
_S2_BASELINE_ATTRS = ("processing_baseline", "s2:processing_baseline", "PROCESSING_BASELINE")
_S2_OFFSET_APPLIED = "earthsearch:boa_offset_applied"


def _slope(bands: Mapping[str, xr.DataArray]) -> xr.DataArray:
    from xsoilmoist.terrain import slope

    try:
        return slope(bands["elevation"])
    except ValueError as err:
        source = bands["elevation"].attrs["source_variable"]
        raise StandardizeError(
            f"cannot derive 'slope' from 'elevation' ({source!r}): {err}. Fix the DEM as "
            "said, add a 'slope' band, or pass derive=False"
        ) from None


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a - b) / (a + b)`` of two reflectances, NaN where their sum is not positive."""
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - b) / np.where(total > 0, total, np.nan)


def _elementwise(function: Callable, *inputs: str) -> Callable:
    """A derivation computing ``function`` of the named bands, one dask task per chunk."""

    def compute(bands: Mapping[str, xr.DataArray]) -> xr.DataArray:
        return xr.apply_ufunc(
            function,
            *(bands[name] for name in inputs),
            dask="parallelized",
            output_dtypes=[np.float32],
        )

    return compute


@dataclass(frozen=True)
class Derivation:
    """A band computed from others when absent: its inputs, formula (text) and function."""

    inputs: tuple[str, ...]
    formula: str
    compute: Callable[[Mapping[str, xr.DataArray]], xr.DataArray]


#: Bands derived when absent, by name.
DERIVATIONS: dict[str, Derivation] = {
    "slope": Derivation(("elevation",), "Horn's slope of elevation", _slope),
    "ndvi": Derivation(
        ("nir", "red"),
        "(nir - red) / (nir + red)",
        _elementwise(normalized_difference, "nir", "red"),
    ),
    "vh_vv": Derivation(("vh", "vv"), "vh - vv", _elementwise(np.subtract, "vh", "vv")),
}


@dataclass(frozen=True)
class BandSource:
    """How one input variable becomes one canonical band.

    Attributes
    ----------
    source
        Variable name in the input Dataset.
    band
        The canonical band it becomes.
    source_units
        ``attrs["units"]`` as found, or ``None`` when absent.
    physical_units
        Units of the values once decoded (before conversion to ``band.units``).
    decoding
        Human-readable description of the decoding and conversion applied.
    coding
        Integer coding applied (``None`` for physical values).
    dn_offset
        DN offset of the integer coding (Sentinel-2: from the processing baseline;
        a DataArray along time where the baseline is given per scene).
    cf_packing
        ``(scale_factor, add_offset)`` from the attrs, when not trivial.
    """

    source: str
    band: Band
    source_units: str | None
    physical_units: str
    decoding: str
    coding: DigitalNumberCoding | None = None
    dn_offset: float | xr.DataArray = 0.0
    cf_packing: tuple[float, float] | None = None


@dataclass
class StandardizationPlan:
    """What :func:`standardize` would do to a Dataset, found without reading data."""

    sources: dict[str, BandSource] = field(default_factory=dict)
    derivable: dict[str, str] = field(default_factory=dict)
    unrecognised: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    y_dim: str | None = None
    x_dim: str | None = None

    def raise_problems(self) -> None:
        """Raise :class:`StandardizeError` listing every problem, if there are any."""
        if self.problems:
            listing = "\n".join(f"  - {p}" for p in self.problems)
            raise StandardizeError(f"cannot standardize this Dataset:\n{listing}")


def _first_attr(attrs_list, keys):
    for attrs in attrs_list:
        for key in keys:
            if key in attrs:
                return key, attrs[key]
    return None, None


def _baseline_offset(baseline, name: str) -> float:
    try:
        return -1000.0 if float(baseline) >= 4.0 else 0.0
    except (TypeError, ValueError):
        raise InputError(
            f"processing baseline {baseline!r} for {name!r} is not a number like '04.00'"
        ) from None


def _per_time_offset(name: str, da: xr.DataArray, ds: xr.Dataset) -> xr.DataArray | None:
    """Offsets from per-scene STAC properties carried as coordinates (stackstac, odc-stac).

    ``earthsearch:boa_offset_applied`` true means Earth Search already removed
    the offset (0); otherwise ``s2:processing_baseline`` decides, per time.
    """
    coords = {**ds.coords, **da.coords}
    applied = coords.get(_S2_OFFSET_APPLIED)
    baseline = next((coords[k] for k in _S2_BASELINE_ATTRS if k in coords), None)
    if applied is None and baseline is None:
        return None
    if baseline is None:
        offsets = xr.zeros_like(applied, dtype=np.float64)
        undecided = ~applied.astype(bool)
        if bool(undecided.any()):
            raise InputError(
                f"{name!r}: {_S2_OFFSET_APPLIED} is false for some scenes and no "
                "s2:processing_baseline says their offset; add it, or pass processing_baseline="
            )
        return offsets
    values = np.vectorize(lambda b: _baseline_offset(b, name), otypes=[float])(baseline.values)
    offsets = xr.DataArray(values, dims=baseline.dims, coords=baseline.coords)
    if applied is not None:
        offsets = offsets.where(~applied.astype(bool), 0.0)
    return offsets.drop_vars([c for c in offsets.coords if c not in offsets.dims])


def _sentinel2_offset(
    name: str, da: xr.DataArray, ds: xr.Dataset, processing_baseline: str | None
) -> float | xr.DataArray:
    """The Sentinel-2 DN offset (0 or -1000): from the attrs, per time, or the baseline."""
    key, value = _first_attr((da.attrs, ds.attrs), _S2_OFFSET_ATTRS)
    if key is not None:
        return float(value)
    key, value = _first_attr((da.attrs, ds.attrs), (_S2_OFFSET_APPLIED,))
    if key is not None and str(value).lower() in {"true", "1"}:
        return 0.0
    per_time = _per_time_offset(name, da, ds)
    if per_time is not None:
        return per_time
    baseline = processing_baseline
    if baseline is None:
        _, baseline = _first_attr((da.attrs, ds.attrs), _S2_BASELINE_ATTRS)
    if baseline is None:
        raise InputError(
            f"{name!r} holds Sentinel-2 digital numbers, whose offset depends on the processing "
            "baseline (-1000 DN from baseline 04.00, January 2022, also for reprocessed older "
            "scenes); pass processing_baseline='04.00' (or the scene's baseline), or set "
            f"attrs['BOA_ADD_OFFSET'] on {name!r} (0 or -1000)"
        )
    return _baseline_offset(baseline, name)


def _cf_packing(da: xr.DataArray) -> tuple[float, float] | None:
    scale = float(da.attrs.get("scale_factor", 1.0))
    offset = float(da.attrs.get("add_offset", 0.0))
    return None if (scale, offset) == (1.0, 0.0) else (scale, offset)


def _plan_band(
    name: str,
    da: xr.DataArray,
    band: Band,
    product: str | None,
    ds: xr.Dataset,
    processing_baseline: str | None,
) -> BandSource:
    """Resolve units and coding of one recognised variable; raise InputError on a problem."""
    if not (np.issubdtype(da.dtype, np.integer) or np.issubdtype(da.dtype, np.floating)):
        raise InputError(
            f"{name!r} has dtype {da.dtype}, not a real number type; convert it (e.g. "
            f"ds[{name!r}].astype('float32'), or take the amplitude of complex SAR data)"
        )
    units = da.attrs.get("units")
    units = None if units is None else str(units).strip()
    coding = PRODUCTS.get(product) if product else None
    packing = _cf_packing(da)
    is_dn = units is not None and units.lower() in _DN_SPELLINGS
    if packing is not None:
        # CF packing says how to decode; the decoded values are in physical units.
        physical = band.units if units is None or is_dn else units
        decoding = f"CF packing x {packing[0]:g} + {packing[1]:g}"
        source = BandSource(name, band, units, physical, decoding, cf_packing=packing)
    elif is_dn or (units is None and coding is not None and np.issubdtype(da.dtype, np.integer)):
        if coding is None:
            raise InputError(
                f"{name!r} is in digital numbers but no product coding is known for that name; "
                f"rename it to a product band name (e.g. {aliases_of(band.name)[:4]}) or convert "
                "it to physical units and set attrs['units']"
            )
        offset = coding.offset
        if coding.offset_from_baseline:
            offset = _sentinel2_offset(name, da, ds, processing_baseline)
        if isinstance(offset, xr.DataArray):
            values = ", ".join(f"{v:+g}" for v in sorted(set(offset.values.ravel())))
            decoding = f"{coding.product} DN: (DN + offset per scene: {values}) x {coding.scale:g}"
        else:
            decoding = f"{coding.product} DN: (DN {offset:+g}) x {coding.scale:g}"
        source = BandSource(name, band, units, band.units, decoding, coding, offset)
    elif units is None:
        if band.default_units is None:
            raise InputError(
                f"{name!r} (band {band.name!r}) has no units attribute and its product does not "
                f"settle them; set ds[{name!r}].attrs['units'] (expected {band.units!r} or "
                "convertible to it, e.g. '1' for linear power)"
            )
        decoding = f"units assumed {band.default_units!r} (product convention)"
        source = BandSource(name, band, None, band.default_units, decoding)
    else:
        source = BandSource(name, band, units, units, "")
    try:
        check_convertible(source.physical_units, band.units)
    except UnitError as err:
        raise InputError(
            f"{name!r}: {err}; band {band.name!r} needs units convertible to {band.units!r}"
        ) from None
    conversion = "" if same_units(source.physical_units, band.units) else f"-> {band.units}"
    if not source.decoding:
        decoding = f"from {units} {conversion}" if conversion else f"in {units}"
    else:
        decoding = " ".join(part for part in (source.decoding, conversion) if part)
    return BandSource(**{**source.__dict__, "decoding": decoding})


def plan_standardization(
    ds: xr.Dataset,
    *,
    rename: Mapping[str, str] | None = None,
    processing_baseline: str | None = None,
) -> StandardizationPlan:
    """Find how :func:`standardize` would treat each variable, reading no data.

    Parameters
    ----------
    ds
        The raw Dataset.
    rename
        User mapping from variable name to canonical band name, taking
        precedence over the built-in aliases.
    processing_baseline
        Sentinel-2 processing baseline (e.g. ``"04.00"``) for DN bands whose
        attrs do not give their offset.

    Returns
    -------
    StandardizationPlan
        Recognised sources, derivable bands, unrecognised variables (kept as
        they are) and every problem found.

    Examples
    --------
    >>> ds = xr.Dataset({"VV": (("y", "x"), np.zeros((2, 2)), {"units": "dB"})},
    ...                 coords={"y": [1.0, 0.0], "x": [0.0, 1.0]})
    >>> plan = plan_standardization(ds)
    >>> plan.sources["vv"].source, plan.problems
    ('VV', [])
    """
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(
            f"expected an xarray.Dataset, got {type(ds).__name__}; wrap a DataArray with "
            "da.to_dataset(name=...)"
        )
    plan = StandardizationPlan()
    rename = dict(rename or {})
    for source, target in rename.items():
        if source not in ds.data_vars:
            plan.problems.append(
                f"rename names {source!r}, which is not a data variable of the Dataset "
                f"(variables: {sorted(map(str, ds.data_vars))})"
            )
        if target not in BANDS:
            plan.problems.append(
                f"rename maps {source!r} to {target!r}, which is not a canonical band; "
                f"choose one of {sorted(BANDS)}"
            )
    try:
        plan.y_dim, plan.x_dim = spatial_dims(ds)
    except GridError as err:
        plan.problems.append(str(err))

    claims: dict[str, list[tuple[str, str | None]]] = {}
    for name in ds.data_vars:
        name = str(name)
        if name in rename and rename[name] in BANDS:
            claims.setdefault(rename[name], []).append((name, None))
        elif (hit := lookup_alias(name)) is not None and name not in rename:
            claims.setdefault(hit[0], []).append((name, hit[1]))
        else:
            plan.unrecognised.append(name)

    for canonical, claimants in claims.items():
        if len(claimants) > 1:
            names = [n for n, _ in claimants]
            plan.problems.append(
                f"{names} all claim band {canonical!r}; drop all but one, or map the others "
                "elsewhere with rename={...}"
            )
            continue
        name, product = claimants[0]
        da = ds[name]
        band = BANDS[canonical]
        if plan.y_dim is not None and not _on_grid(name, da, plan, ds):
            continue
        try:
            plan.sources[canonical] = _plan_band(name, da, band, product, ds, processing_baseline)
        except ValueError as err:
            plan.problems.append(str(err))

    present = set(plan.sources)
    for name, derivation in DERIVATIONS.items():
        if set(derivation.inputs) <= present and name not in present:
            plan.derivable[name] = derivation.formula
    return plan


def _on_grid(name: str, da: xr.DataArray, plan: StandardizationPlan, ds: xr.Dataset) -> bool:
    grid = (plan.y_dim, plan.x_dim)
    if tuple(da.dims[-2:]) != grid:
        plan.problems.append(
            f"{name!r} has dims {da.dims}, not on the Dataset's grid {grid}; resample it onto "
            f"the common grid first, e.g. ds[{name!r}] = other.rio.reproject_match(reference) "
            "(rioxarray), with bilinear resampling for continuous bands"
        )
        return False
    extra = [d for d in da.dims[:-2] if d != "time"]
    if extra:
        hint = f".squeeze({extra[0]!r}, drop=True)" if ds.sizes[extra[0]] == 1 else ".sel(...)"
        plan.problems.append(
            f"{name!r} has dims {da.dims}; xsoilmoist expects (time, y, x) or (y, x): remove "
            f"{extra} first, e.g. ds[{name!r}]{hint}"
        )
        return False
    return True


def _fill_values(da: xr.DataArray) -> tuple[float, ...]:
    """The finite fill values the attrs declare (``_FillValue``, ``missing_value``, ``nodata``)."""
    values = (da.attrs.get(key) for key in _FILL_ATTRS)
    return tuple(float(v) for v in values if v is not None and np.isfinite(float(v)))


def _decode_block(
    raw: np.ndarray, dn_offset: np.ndarray | float = 0.0, *, source: BandSource, fills: tuple
) -> np.ndarray:
    """One block of a source variable as its canonical band: float32, NaN where invalid.

    Fill values (compared in the raw dtype) and the integer coding's fill
    range become NaN; the CF packing or the DN coding is decoded in float64
    (exact for 16-bit DN), converted to the band's units, rounded once to
    float32, and values outside the band's valid range become NaN. One numpy
    pass per block: the whole decoding is one dask task per chunk.
    """
    fill = None
    for value in fills:
        fill = (raw == value) if fill is None else fill | (raw == value)
    if source.coding is not None and source.coding.fill is not None:
        low, high = source.coding.fill
        in_range = (raw >= low) & (raw <= high)
        fill = in_range if fill is None else fill | in_range
    src, dst = check_convertible(source.physical_units, source.band.units)
    if source.cf_packing is None and source.coding is None and src == dst:
        out = np.array(raw, dtype=np.float32)  # nothing to decode: one copy, rounded once
    else:
        values = np.array(raw, dtype=np.float64)
        if source.cf_packing is not None:
            scale, offset = source.cf_packing
            values = values * scale + offset
        elif source.coding is not None:
            values = (values + dn_offset) * source.coding.scale
        out = values.astype(np.float32) if src == dst else convert_values(values, src, dst)
    if fill is not None:  # (a per-time offset may have broadcast raw along time)
        out[np.broadcast_to(fill, out.shape)] = np.nan
    return _mask_outside(out, *source.band.valid_range)


def _mask_outside(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """NaN written into ``values`` (float, changed in place) outside ``[low, high]``."""
    with np.errstate(invalid="ignore"):
        values[~((values >= low) & (values <= high))] = np.nan
    return values


def _within_range(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """A float32 copy of ``values`` with NaN outside ``[low, high]`` (NaN stays NaN)."""
    return _mask_outside(np.array(values, dtype=np.float32), low, high)


def _apply_source(da: xr.DataArray, source: BandSource) -> xr.DataArray:
    kwargs = {"source": source, "fills": _fill_values(da)}
    offset = source.dn_offset
    if isinstance(offset, xr.DataArray):  # per time: an input the ufunc broadcasts
        args = (da, offset)
    else:
        args, kwargs["dn_offset"] = (da,), offset
    values = xr.apply_ufunc(
        _decode_block, *args, kwargs=kwargs, dask="parallelized", output_dtypes=[np.float32]
    )
    band, name, units = source.band, source.source, source.source_units
    return _with_band_attrs(values, da.attrs, band, name, units, source)


def _with_band_attrs(values, original_attrs, band, source_name, source_units, source=None):
    attrs = {k: v for k, v in original_attrs.items() if k not in _CODING_ATTRS}
    attrs.update(units=band.units, long_name=band.long_name, source_variable=source_name)
    if source_units is not None:
        attrs["source_units"] = source_units
    if source is not None:
        attrs["standardization"] = source.decoding
    values.attrs = attrs
    values.encoding = {}
    return values.rename(band.name)


def derive_band(name: str, out: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Band ``name`` derived from the standardized bands in ``out`` (:data:`DERIVATIONS`), with
    its valid range applied and ``derived_from`` in its attrs: what :func:`standardize` adds.

    Examples
    --------
    >>> vv = xr.DataArray([[-10.0]], dims=("y", "x"), attrs={"units": "dB"})
    >>> vh = xr.DataArray([[-17.0]], dims=("y", "x"), attrs={"units": "dB"})
    >>> float(derive_band("vh_vv", {"vv": vv, "vh": vh})[0, 0])
    -7.0
    """
    band = BANDS[name]
    derivation = DERIVATIONS[name]
    values = xr.apply_ufunc(
        _within_range,
        derivation.compute(out),
        *band.valid_range,
        dask="parallelized",
        output_dtypes=[np.float32],
    )
    values.attrs = {
        "units": band.units,
        "long_name": band.long_name,
        "derived_from": derivation.formula,
    }
    values.encoding = {}
    return values.rename(name)


def standardize(
    ds: xr.Dataset,
    *,
    rename: Mapping[str, str] | None = None,
    derive: bool = True,
    processing_baseline: str | None = None,
) -> xr.Dataset:
    """Canonical band names, units and valid ranges, plus derived bands; lazy on dask.

    Recognises the names real products use (Sentinel-1 ``VV``/``sigma0_vv``,
    Sentinel-2 ``B02``..``B12``/``B8A``, Landsat collection-2 ``SR_B2``..``SR_B7``,
    MODIS ``Lai_500m``/``Fpar_500m``, ERA5 ``t2m``/``2t``/``tp``, DEM ``dem``/
    ``elevation``/``height``) and converts through one pint registry: linear
    power to dB, K to degC, m to mm, digital numbers to reflectance (with the
    Sentinel-2 processing-baseline offset). Fill values and values outside a
    band's valid range become NaN. ``slope`` (from ``elevation``), ``ndvi`` and
    ``vh_vv`` are derived when absent. Unrecognised variables, every
    coordinate, the CRS and the Dataset attrs are kept; the input is not
    modified.

    Parameters
    ----------
    ds
        Raw Dataset with bands on one ``(y, x)`` grid, optionally with ``time``.
    rename
        Mapping from variable name to canonical band name, for names the
        catalogue does not know (e.g. ``{"my_vv": "vv"}``).
    derive
        Derive ``slope``, ``ndvi`` and ``vh_vv`` when their inputs are present.
    processing_baseline
        Sentinel-2 processing baseline for DN bands whose attrs do not say
        their offset (``BOA_ADD_OFFSET``) or baseline (``processing_baseline``).

    Returns
    -------
    xarray.Dataset
        Canonical float32 bands with ``units``, ``long_name`` and provenance
        attrs (``source_variable``, ``source_units``, ``standardization``).

    Raises
    ------
    StandardizeError
        Listing every problem found (unknown or missing units, two variables
        claiming one band, variables on another grid, non-numeric data ...)
        and how to fix each, before anything is computed.

    Examples
    --------
    >>> ds = xr.Dataset(
    ...     {"B04": (("y", "x"), np.array([[1000, 2000]], dtype="uint16"), {"units": "DN"}),
    ...      "2t": (("y", "x"), np.array([[293.15, 273.15]]), {"units": "K"})},
    ...     coords={"y": [0.0], "x": [0.0, 10.0]})
    >>> out = standardize(ds, processing_baseline="04.00")
    >>> out["red"].values.tolist(), out["t2m"].attrs["units"]
    ([[0.0, 0.10000000149011612]], 'degC')
    """
    plan = plan_standardization(ds, rename=rename, processing_baseline=processing_baseline)
    plan.raise_problems()
    out: dict[str, xr.DataArray] = {
        name: _apply_source(ds[source.source], source) for name, source in plan.sources.items()
    }
    if derive:
        for name in plan.derivable:
            out[name] = derive_band(name, out)
    ordered = {name: out[name] for name in BANDS if name in out}
    others = {name: ds[name] for name in plan.unrecognised}
    result = xr.Dataset({**ordered, **others}, coords=ds.coords, attrs=dict(ds.attrs))
    result.encoding = dict(ds.encoding)
    return result
