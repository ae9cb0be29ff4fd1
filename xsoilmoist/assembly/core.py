""":func:`assemble`: products on their own grids and times -> one model-ready scene."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from xsoilmoist.assembly.antecedent import API_RULE, antecedent_index
from xsoilmoist.assembly.rebuild import remember
from xsoilmoist.assembly.regrid import geobox_of, overlaps, target_coords, target_metres, to_grid
from xsoilmoist.assembly.sources import MASK_NAMES, Source, open_sources
from xsoilmoist.assembly.timing import (
    RULES,
    daily_meteorology,
    optical_composite,
    vegetation_composite,
)
from xsoilmoist.bands import derive_band, plan_standardization, standardize
from xsoilmoist.catalogue import BANDS, lookup_alias
from xsoilmoist.errors import GridError, InputError, InputWarning, StandardizeError
from xsoilmoist.grid import pixel_size_metres, spatial_dims

__all__ = ["assemble"]

_SAR = ("sar_c", "sar_l")
_GRID_MODALITIES = (*_SAR, "optical")
_DEGREE_DIMS = {"latitude", "longitude", "lat", "lon"}
#: A DEM with pixels over this many times the grid's gets its slope on its own grid.
COARSE_DEM = 1.25


@dataclass
class Layer:
    """One band of one source, standardized, on its own grid; then on the target grid."""

    band: str
    data: xr.DataArray
    origin: str
    native_m: float
    notes: list[str] = field(default_factory=list)
    resampling: str = ""
    rule: str = ""  # the time rule, once applied (before regridding: fewer steps to resample)

    @property
    def modality(self) -> str:
        return "mask" if self.band == "scl" else BANDS[self.band].modality


def _with_units(ds: xr.Dataset, units: Mapping[str, str]) -> xr.Dataset:
    wanted = {str(k).lower(): v for k, v in units.items()}
    for name in ds.data_vars:
        hit = lookup_alias(str(name))
        keys = [str(name).lower(), *((hit[0], BANDS[hit[0]].modality) if hit else ())]
        value = next((wanted[k] for k in keys if k in wanted), None)
        if value is not None:
            ds = ds.assign({name: ds[name].assign_attrs(units=value)})
    return ds


def _georeferenced(source: Source) -> tuple[xr.Dataset, list[str]]:
    """The source with a CRS (latitude/longitude grids: EPSG:4326) and longitudes in -180..180."""
    ds, notes = source.data, []
    if ds.rio.crs is not None or not ds.data_vars:
        return ds, notes
    y_dim, x_dim = spatial_dims(ds, source.origin)
    if {y_dim.lower(), x_dim.lower()} <= _DEGREE_DIMS:
        notes.append("CRS EPSG:4326 assumed (latitude/longitude coordinates)")
        ds = ds.rio.write_crs("EPSG:4326")
        if float(ds[x_dim].max()) > 180:
            ds = ds.assign_coords({x_dim: (ds[x_dim] + 180) % 360 - 180}).sortby(x_dim)
    return ds, notes


def _layers_of(source: Source, options: dict, units) -> tuple[list[Layer], list[str]]:
    """Standardized layers of one source (no derived bands) and its unknown variable names."""
    ds, notes = _georeferenced(source)
    ds = _with_units(ds, units or {})
    masks = [str(v) for v in ds.data_vars if str(v).lower() in MASK_NAMES]
    rest = ds.drop_vars(masks)
    plan = plan_standardization(rest, **options)
    unknown = list(plan.unrecognised)
    layers = []
    if plan.sources:
        try:
            std = standardize(rest.drop_vars(unknown), derive=False, **options)
        except StandardizeError as err:
            raise StandardizeError(f"{source.origin}: {err}") from None
        for band in plan.sources:
            layers.append(Layer(band, std[band], source.origin, 0.0, list(notes)))
    layers += [Layer("scl", ds[m], source.origin, 0.0, list(notes)) for m in masks]
    for layer in layers:
        layer.native_m = min(pixel_size_metres(layer.data, f"{layer.band!r} of {source.origin}"))
        if source.time_note:
            layer.notes.append(source.time_note)
        keep = {"time", *spatial_dims(layer.data), layer.data.rio.grid_mapping}
        layer.data = layer.data.drop_vars([c for c in layer.data.coords if c not in keep])
    return layers, unknown


def _target(layers: list[Layer], grid) -> tuple[object, str, tuple | None]:
    """The target GeoBox, a description and the dask chunks of its (y, x)."""
    if grid is not None:
        reference, what = grid, "grid="
    else:
        candidates = [la for la in layers if la.modality in _GRID_MODALITIES]
        finest = min(candidates, key=lambda la: la.native_m)
        reference, what = finest.data, f"{finest.band!r} of {finest.origin}"
    box = geobox_of(reference, what)
    chunks = None
    if isinstance(reference, xr.DataArray) and reference.chunks is not None:
        y_dim, x_dim = spatial_dims(reference)
        chunks = tuple(max(reference.chunksizes[d]) for d in (y_dim, x_dim))
    return box, what, chunks


def _slopes_of_coarse_dems(layers: list[Layer], target_m: float) -> list[Layer]:
    """The slope of each DEM coarser than the grid, on the DEM's own grid (resampled after).

    A DEM has no slopes finer than its pixels; Horn's method on its bilinear
    interpolation would show them as facets (the gradient of a bilinear
    surface jumps at every source pixel border). A DEM as fine as the grid or
    finer is resampled first, and its slope derived on the grid.
    """
    if any(layer.band == "slope" for layer in layers):
        return []
    return [
        Layer(
            "slope",
            derive_band("slope", {"elevation": layer.data}),
            layer.origin,
            layer.native_m,
            [*layer.notes, f"slope derived on the DEM's own {layer.native_m:.3g} m grid"],
        )
        for layer in layers
        if layer.band == "elevation" and layer.native_m > COARSE_DEM * target_m
    ]


def _regrid(layer: Layer, target, chunks) -> None:
    what = f"{layer.band!r} of {layer.origin}"
    box = geobox_of(layer.data, what)
    if not overlaps(box, target):
        raise GridError(
            f"{what} does not overlap the target grid (its bounds {_bounds(box)} in "
            f"{_crs_name(box.crs)}; the grid's {_bounds(target)} in {_crs_name(target.crs)}); "
            "drop it, or pass grid= covering it"
        )
    layer.data, layer.resampling = to_grid(
        layer.data,
        target,
        categorical=layer.band == "scl",
        chunks=chunks if layer.data.chunks is not None else None,
    )


def _combine(parts: list[xr.DataArray], times: np.ndarray | None) -> xr.DataArray:
    """Layers of one band as one: on ``times`` (if given), the first layer with a value wins.

    Float layers are empty where NaN; the SCL mask where 0 (no data), and 255
    (unknown: no mask, so clear) at times it does not cover.
    """
    mask = not np.issubdtype(parts[0].dtype, np.floating)
    if times is not None:
        parts = [p.reindex(time=times, fill_value=255 if mask else np.nan) for p in parts]
    out = parts[0]
    for part in parts[1:]:
        out = out.where((out != 0) & (out != 255), part) if mask else out.fillna(part)
    return out


def _times_of(layers: list[Layer]) -> np.ndarray:
    return np.unique(np.concatenate([la.data["time"].values for la in layers]))


def _sar_times(layers: list[Layer]) -> np.ndarray | None:
    sar = [la for la in layers if la.modality in _SAR]
    if not sar:
        found = sorted({la.band for la in layers})
        raise InputError(
            f"no SAR band among the inputs (found {found}); the model needs Sentinel-1 VV/VH "
            "(or L-band HH/HV): add them, e.g. assemble('..._VV.tif', '..._VH.tif', ...)"
        )
    timed = [la for la in sar if "time" in la.data.dims]
    if timed and len(timed) < len(sar):
        bare = sorted({la.origin for la in sar if "time" not in la.data.dims})
        raise InputError(
            f"SAR inputs {bare} have no time while others have; give them their acquisition "
            "time, e.g. da.expand_dims(time=[np.datetime64('2017-06-13T16:50:43')])"
        )
    if not timed:
        if any("time" in la.data.dims for la in layers):
            raise InputError(
                "the SAR inputs have no time, so the other inputs' times cannot be matched to "
                "them; give the SAR its acquisition time, e.g. da.expand_dims(time=[...])"
            )
        return None
    return _times_of(timed)


def _by_band(layers: list[Layer]) -> dict[str, list[Layer]]:
    grouped: dict[str, list[Layer]] = {}
    for layer in layers:
        grouped.setdefault(layer.band, []).append(layer)
    return grouped


def _static(parts: list[Layer], band: str) -> tuple[xr.DataArray, str]:
    """A layer without time (or with one time step, dropped): the same for every time."""
    arrays = []
    for layer in parts:
        da = layer.data
        if "time" in da.dims:
            if da.sizes["time"] > 1:
                raise InputError(
                    f"{band!r} of {layer.origin} has {da.sizes['time']} times, but it is a "
                    f"static layer; select one, e.g. .isel(time=0)"
                )
            da = da.isel(time=0, drop=True)
        arrays.append(da)
    return _combine(arrays, None), "static: the same for every time"


def _optical(grouped: dict[str, list[Layer]], times, tolerance) -> dict[str, tuple]:
    """Optical bands composited onto ``times`` (see :mod:`xsoilmoist.assembly.timing`)."""
    optical = {b: p for b, p in grouped.items() if b != "scl" and BANDS[b].modality == "optical"}
    timed = {b: p for b, p in optical.items() if all("time" in la.data.dims for la in p)}
    out = {b: _static(p, b) for b, p in optical.items() if b not in timed}
    if not timed:
        return out
    obs = _times_of([la for parts in timed.values() for la in parts])
    bands = {b: _combine([la.data for la in p], obs) for b, p in timed.items()}
    mask = None
    if "scl" in grouped:
        mask = _combine([la.data for la in grouped["scl"]], obs)
    composite, note = optical_composite(bands, mask, times, tolerance)
    rule = (
        f"closest clear observation within {tolerance / np.timedelta64(1, 'h'):g} h"
        f"{' (SCL mask honoured)' if mask is not None else ''}; offsets per time: {note}"
    )
    out.update({b: (composite[b], rule) for b in timed})
    return out


def _near_sar(layer: Layer, times, tolerance) -> Layer | None:
    """An optical/SCL layer cut to its observations within ``tolerance`` of a SAR time."""
    obs = layer.data["time"].values
    near = np.abs(obs[:, None] - times[None, :]).min(axis=1) <= tolerance
    if not near.any():
        return None
    if not near.all():
        layer.data = layer.data.isel(time=np.flatnonzero(near))
    return layer


def _precipitation_record(parts: list[Layer]) -> xr.DataArray:
    """The ``tp`` layers with time as one record (files per day joined when on one grid)."""
    if len(parts) == 1:
        return parts[0].data
    first = parts[0].data
    y_dim, x_dim = spatial_dims(first)
    if not all(
        la.data[y_dim].equals(first[y_dim]) and la.data[x_dim].equals(first[x_dim])
        for la in parts[1:]
    ):
        return first
    joined = xr.concat([la.data for la in parts], dim="time").sortby("time")
    _, unique = np.unique(joined["time"].values, return_index=True)
    return joined.isel(time=unique)


def _antecedent_layer(layers: list[Layer], times) -> tuple[list[Layer], list[str]]:
    """``api`` from the precipitation record before the SAR days, as one more layer, if whole."""
    parts = [la for la in layers if la.band == "tp" and "time" in la.data.dims]
    if not parts or any(la.band == "api" for la in layers):
        return [], []
    api, problem = antecedent_index(_precipitation_record(parts), times)
    if api is None:
        return [], [problem] if problem else []
    layer = Layer("api", api, parts[0].origin, parts[0].native_m, list(parts[0].notes))
    layer.rule = API_RULE
    return [layer], []


def _before_grid(layers: list[Layer], times, tolerance) -> tuple[list[Layer], list[str]]:
    """Time rules that shrink layers on their own grid: optical observations near SAR times,
    ERA5 aggregated to the day (and the antecedent precipitation index of the days before),
    MODIS composites picked. Returns the layers and problems."""
    antecedent, problems = _antecedent_layer(layers, times)
    kept, missing = [], {}
    for layer in layers:
        if "time" not in layer.data.dims or layer.modality in (*_SAR, "topography"):
            kept.append(layer)
        elif layer.modality in ("optical", "mask"):
            kept += [la for la in [_near_sar(layer, times, tolerance)] if la is not None]
        elif layer.modality == "meteorology":
            layer.data, layer.rule, days, found = daily_meteorology(layer.data, layer.band, times)
            missing[layer.band] = missing.get(layer.band, days) & days
            problems += found
            kept.append(layer)
        else:
            layer.data, layer.rule = vegetation_composite(layer.data, times)
            kept.append(layer)
    kept += antecedent
    problems += [
        f"{b}: no data on {', '.join(sorted(d))} (left empty)" for b, d in missing.items() if d
    ]
    lost = sorted({la.band for la in layers} - {la.band for la in kept})
    if lost:
        problems.append(
            f"no optical observation within {tolerance / np.timedelta64(1, 'h'):g} h of any SAR "
            f"time: {lost} left out; widen time_tolerance= to use them"
        )
    return kept, problems


def _on_times(grouped: dict[str, list[Layer]], times, tolerance) -> dict:
    """Every band on the SAR ``times``: the DataArray and the time rule applied."""
    placed = _optical(grouped, times, tolerance)
    for band, parts in grouped.items():
        if band == "scl" or band in placed:
            continue
        modality = BANDS[band].modality
        if modality in _SAR:
            placed[band] = (_combine([la.data for la in parts], times), "SAR acquisition: offset 0")
        elif parts[0].rule:
            rules = "; ".join(dict.fromkeys(la.rule for la in parts))
            placed[band] = (_combine([la.data for la in parts], None), rules)
        else:
            placed[band] = _static(parts, band)
    return placed


def _provenance(parts: list[Layer], rule: str) -> dict:
    first = parts[0].data.attrs
    return {
        **first,
        "source": "; ".join(dict.fromkeys(la.origin for la in parts)),
        "native_resolution_m": float(min(la.native_m for la in parts)),
        "resampling": ", ".join(dict.fromkeys(la.resampling for la in parts)),
        "time_rule": rule,
        **({"notes": "; ".join(n for la in parts for n in la.notes)} if parts[0].notes else {}),
    }


def _scene(placed: dict, grouped: dict, target, times, what: str, tolerance) -> xr.Dataset:
    coords = {k: v.values for k, v in target_coords(target).items() if k in ("y", "x")}
    variables = {}
    for band in (b for b in BANDS if b in placed):
        data, rule = placed[band]
        data = data.drop_vars([c for c in data.coords if c not in data.dims]).assign_coords(coords)
        data.attrs = _provenance(grouped[band], rule)
        variables[band] = data
    attrs = {
        "title": "scene assembled by xsoilmoist.assemble",
        "assembly_grid": f"{_crs_name(target.crs)} at {target_metres(target):g} m, from {what}",
        "assembly_rules": RULES,
        "time_tolerance": str(pd.Timedelta(tolerance)),
    }
    scene = xr.Dataset(variables, attrs=attrs).rio.write_crs(target.crs.to_wkt())
    if times is not None:
        scene["time"].attrs["long_name"] = "SAR acquisition time (UTC)"
    return scene


def _crs_name(crs) -> str:
    return f"EPSG:{crs.epsg}" if crs.epsg is not None else crs.to_wkt()


def _bounds(box) -> tuple[float, ...]:
    return tuple(float(f"{v:.6g}") for v in box.extent.boundingbox[:4])


def _derived(scene: xr.Dataset) -> xr.Dataset:
    """``scene`` with slope (unless a coarse DEM's), NDVI and VH/VV derived on the target grid
    (attrs kept)."""
    out = standardize(scene)
    for band in scene.data_vars:
        out[band].attrs = dict(scene[band].attrs)
    return out


def assemble(
    *sources,
    grid: xr.Dataset | xr.DataArray | None = None,
    time_tolerance="3D",
    rename: Mapping[str, str] | None = None,
    processing_baseline: str | None = None,
    units: Mapping[str, str] | None = None,
    chunks="auto",
) -> xr.Dataset:
    """One standardized scene on one grid from products on their own grids and times.

    Each source is standardized on its own grid (canonical names and units,
    :func:`xsoilmoist.standardize`), put on the target grid lazily with
    odc-geo (bilinear for continuous bands, average from finer pixels,
    nearest for the SCL mask) and matched to the SAR acquisition times:
    each SAR acquisition is one output time; optical bands are the closest
    clear observation within ``time_tolerance`` per pixel; ERA5 ``t2m`` and
    ``tp`` are the daily mean and total of the SAR day; MODIS composites the
    one covering the date; DEM and other layers without time are static.
    NDVI, VH-VV and slope are derived on the target grid (the slope of a DEM
    coarser than the grid on the DEM's own grid, then resampled). Every band records
    its ``source``, ``native_resolution_m``, ``resampling`` and ``time_rule``
    in its attrs; the rules are in ``attrs["assembly_rules"]``.

    Parameters
    ----------
    *sources
        Datasets, DataArrays (a ``band`` dimension, as from stackstac, or
        named by their band) and paths: a GeoTIFF, a folder of per-band
        product GeoTIFFs (``..._B02.tif``, ``..._VV.tif``; the acquisition
        time read from a product name like ``20170613T101031``), a zarr
        store, a netCDF or GRIB file.
    grid
        A Dataset or DataArray whose grid (CRS, pixels, extent) the result
        takes. By default: the finest SAR or optical input's grid (the first
        one given on a tie).
    time_tolerance
        How far from a SAR acquisition an optical observation may be
        (anything :class:`pandas.Timedelta` takes, e.g. ``"3D"``).
    rename, processing_baseline
        Passed to :func:`xsoilmoist.standardize` for every source.
    units
        Units of variables whose files do not say, by variable name,
        canonical band or modality, e.g. ``{"VV": "dB"}`` or
        ``{"sar_c": "dB", "optical": "DN"}``; they replace the files' units.
    chunks
        Dask chunks to open paths with (``None``: read into memory).

    Returns
    -------
    xarray.Dataset
        Canonical bands, dims ``(time, y, x)`` (``(y, x)`` for static layers,
        and for everything when the SAR has no time), with the target grid's
        coordinates and CRS; lazy on dask. :func:`xsoilmoist.predict` takes it
        as it is.

    Raises
    ------
    InputError
        No SAR among the inputs, unknown variable names, times that cannot be
        matched; :class:`~xsoilmoist.errors.GridError` for an input that does
        not overlap the grid or has no CRS; :class:`StandardizeError` for a
        source that cannot be standardized (the source is named).

    Examples
    --------
    >>> scene = assemble("S1/", "S2/", "era5.nc", "dem.tif",
    ...                  processing_baseline="04.00")  # doctest: +SKIP
    >>> ssm = xsoilmoist.predict(scene)  # doctest: +SKIP
    """
    tolerance = np.timedelta64(pd.Timedelta(time_tolerance).to_timedelta64(), "ns")
    settings = {
        "grid": grid,
        "tolerance": tolerance,
        "options": {"rename": rename, "processing_baseline": processing_baseline},
        "units": units,
    }
    build = functools.partial(_build, open_sources(sources, chunks), **settings)
    scene, problems = build()
    for problem in problems:
        warnings.warn(f"assemble: {problem}", InputWarning, stacklevel=2)
    remember(scene, lambda target_chunks: build(target_chunks=target_chunks)[0])
    return scene


def _build(
    opened: list[Source],
    *,
    grid,
    tolerance: np.timedelta64,
    options: dict,
    units,
    target_chunks: tuple[tuple[int, ...], tuple[int, ...]] | None = None,
) -> tuple[xr.Dataset, list[str]]:
    """The scene of :func:`assemble` from opened sources, and the problems to warn about.

    With ``target_chunks`` (``(y, x)`` chunk sizes) the layers are resampled
    straight to those chunks, whatever the sources' chunks.
    """
    layers, unknown = [], []
    for source in opened:
        found, names = _layers_of(source, options, units)
        layers += found
        unknown += [f"{name!r} in {source.origin}" for name in names]
    if unknown:
        raise InputError(
            f"unknown band names: {', '.join(unknown)}; map them to canonical bands with "
            f"rename={{name: band}} (bands: {sorted(BANDS)}), or drop them before assembling"
        )
    times = _sar_times(layers)
    target, what, chunks = _target(layers, grid)
    layers += _slopes_of_coarse_dems(layers, target_metres(target))
    problems = []
    if times is not None:
        layers, problems = _before_grid(layers, times, tolerance)
    for layer in layers:
        _regrid(layer, target, target_chunks or chunks)
    grouped = _by_band(layers)
    if times is None:
        placed = {b: _static(p, b) for b, p in grouped.items() if b != "scl"}
    else:
        placed = _on_times(grouped, times, tolerance)
    return _derived(_scene(placed, grouped, target, times, what, tolerance)), problems
