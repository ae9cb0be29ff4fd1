"""Putting layers on one grid: the target grid, overlap checks, lazy reprojection (odc-geo)."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pyproj
import xarray as xr
from dask.array import Array
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from xsoilmoist.errors import GridError, InputError
from xsoilmoist.grid import (
    check_regular,
    pixel_size_metres,
    require_crs,
    spacing_metres,
    spatial_dims,
)
from xsoilmoist.tiling import _pieces

__all__ = [
    "geobox_of",
    "overlaps",
    "resampling_for",
    "target_coords",
    "target_metres",
    "to_grid",
]

#: Relative difference of pixel sizes below which two resolutions count as equal.
_SAME_RESOLUTION = 0.02

#: Source pixels read around each target chunk's footprint: more than any kernel reaches.
SOURCE_MARGIN = 2


def _odc():
    try:
        import odc.geo.xr  # noqa: F401  (registers the ``.odc`` accessor)
    except ImportError as err:
        raise InputError(
            "putting inputs from different grids on one grid needs odc-geo; install it with "
            "pip install 'xsoilmoist[geo]'"
        ) from err
    from odc.geo.xr import xr_reproject

    return xr_reproject


def geobox_of(obj: xr.Dataset | xr.DataArray, what: str):
    """The odc-geo ``GeoBox`` of ``obj``: its regular grid and CRS (:class:`GridError` if none)."""
    _odc()
    check_regular(obj, what)
    require_crs(obj, what)
    y_dim, x_dim = spatial_dims(obj, what)
    if obj.sizes[y_dim] < 2 or obj.sizes[x_dim] < 2:
        raise GridError(f"{what} is {obj.sizes[y_dim]} x {obj.sizes[x_dim]} pixels; need 2 x 2")
    box = obj.odc.geobox
    if box is None:
        raise GridError(
            f"odc-geo finds no grid in {what} (dims {tuple(obj.dims)}); name its spatial dims "
            "'y'/'x' or 'latitude'/'longitude' and write its CRS with obj.rio.write_crs(...)"
        )
    return box


def overlaps(box, target) -> bool:
    """Whether grid ``box`` covers some area of grid ``target`` (in ``target``'s CRS)."""
    footprint = box.extent.to_crs(target.crs)
    return bool(footprint.intersection(target.extent).area > 0)


def resampling_for(native_m: float, target_m: float, categorical: bool) -> str:
    """``nearest`` for categories, ``average`` from finer pixels, else ``bilinear``.

    Examples
    --------
    >>> resampling_for(20.0, 10.0, False), resampling_for(5.0, 10.0, False)
    ('bilinear', 'average')
    """
    if categorical:
        return "nearest"
    return "average" if native_m < target_m * (1 - _SAME_RESOLUTION) else "bilinear"


def _same_grid(box, target) -> bool:
    if box.shape != target.shape or box.crs != target.crs:
        return False
    res = abs(target.resolution.x)
    return bool(np.allclose(tuple(box.affine)[:6], tuple(target.affine)[:6], atol=res * 1e-3))


def to_grid(
    da: xr.DataArray, target, *, categorical: bool, chunks=None
) -> tuple[xr.DataArray, str]:
    """``da`` on grid ``target`` and the resampling used; lazy when ``da`` is on dask.

    A layer already on ``target`` is only given ``target``'s coordinates (no
    resampling). Float layers get NaN where the source has no data; a
    categorical layer keeps its dtype with 0 (no data) outside the source.
    ``chunks`` are the result's ``(y, x)`` chunks (sizes, or tuples of sizes)
    when ``da`` is on dask.
    """
    xr_reproject = _odc()
    box = da.odc.geobox
    y_dim, x_dim = spatial_dims(da)
    if _same_grid(box, target):
        coords = target_coords(target)
        out = da.rename({y_dim: "y", x_dim: "x"}) if (y_dim, x_dim) != ("y", "x") else da
        if chunks is not None and out.chunks is not None:
            out = out.chunk(dict(zip(("y", "x"), chunks, strict=True)))
        return out.assign_coords(y=coords["y"].values, x=coords["x"].values), "none"
    native = min(pixel_size_metres(da))
    target_m = target_metres(target)
    method = resampling_for(native, target_m, categorical)
    order = [d for d in da.dims if d not in (y_dim, x_dim)] + [y_dim, x_dim]
    source = da.transpose(*order)
    if categorical:  # SCL: 0 is no data
        nodata = 0
    else:  # NaN is no data: resampling uses the valid neighbours only
        source, nodata = source.astype(np.float32), np.nan
    options = {"resampling": method, "src_nodata": nodata, "dst_nodata": nodata}
    if source.chunks is None:
        out = xr_reproject(source, target, always_yx=True, **options)
    else:
        data = _lazy_reproject(
            source.data, box, target, chunks or source.data.chunksize[-2:], options
        )
        kept = {  # coordinates off the grid (time, per-time metadata), as odc-geo keeps them
            k: c for k, c in source.coords.items() if not {y_dim, x_dim} & set(c.dims)
        }
        kept.pop("spatial_ref", None)
        out = xr.DataArray(
            data, dims=(*order[:-2], "y", "x"), coords={**kept, **target_coords(target)}
        )
    out.name, out.attrs = da.name, dict(da.attrs)
    return out, method


def _warp_chunk(source_box, chunk_box, options, shape, places, interior, *blocks) -> np.ndarray:
    """One target chunk, resampled from the source window pasted from its ``blocks``.

    A chunk whose source window lies inside the source (``interior``) and
    holds no nodata value (NaN, or 0 for the SCL mask) goes through GDAL's
    kernel for data without a mask: the same values (the assembly tests
    compare every chunk with resampling the whole input in memory), two to
    three times as fast as the masked one.
    """
    from odc.geo.warp import rio_reproject

    window = np.empty(shape, dtype=blocks[0].dtype)
    for place, block in zip(places, blocks, strict=True):
        window[place] = block
    out = np.full((*shape[:-2], *chunk_box.shape.yx), options["dst_nodata"], dtype=window.dtype)
    nodata = options["src_nodata"]
    if interior and not (np.isnan(window) if np.isnan(nodata) else window == nodata).any():
        return _warp_without_mask(window, out, source_box, chunk_box, options["resampling"])
    return rio_reproject(window, out, source_box, chunk_box, ydim=window.ndim - 2, **options)


def _warp_without_mask(window, out, source_box, chunk_box, resampling: str) -> np.ndarray:
    """GDAL's warp of ``window`` into ``out`` without nodata, plane by plane, as odc-geo does."""
    import rasterio.warp
    from odc.geo.warp import resampling_s2rio

    for index in np.ndindex(*window.shape[:-2]):
        rasterio.warp.reproject(
            window[index],
            out[index],
            src_transform=source_box.transform,
            src_crs=str(source_box.crs),
            dst_transform=chunk_box.transform,
            dst_crs=str(chunk_box.crs),
            resampling=resampling_s2rio(resampling),
            XSCALE=1,  # odc-geo's fix for GDAL's kernel radius (OSGeo/gdal#7750)
            YSCALE=1,
        )
    return out


def _lazy_reproject(data, box, target, chunks, options: dict):
    """``data`` (``(..., y, x)`` dask, on grid ``box``) on grid ``target`` in ``chunks``.

    Each target chunk is one task that reads the source window under its
    footprint and ``SOURCE_MARGIN`` pixels around it (however the source is
    chunked), so every pixel is what resampling the whole source gives. (odc-geo's
    own dask path reads only the source chunks under the footprint: pixels
    near source chunk edges then lose their neighbours, and the result depends
    on the chunks; opendatacube/odc-geo#238.)
    """
    from odc.geo.geobox import GeoboxTiles
    from odc.geo.overlap import compute_reproject_roi

    tiles = GeoboxTiles(target, chunks)
    y_bounds, x_bounds = (np.cumsum((0, *c)) for c in data.chunks[-2:])
    lead = [range(len(c)) for c in data.chunks[:-2]]
    name = "regrid-" + tokenize(data.name, box, target, tiles.chunks, options)
    graph = {}
    for i, j in itertools.product(*(range(len(c)) for c in tiles.chunks)):
        chunk_box = tiles[i, j]
        window = compute_reproject_roi(box, chunk_box, padding=SOURCE_MARGIN).roi_src
        rows = _pieces(y_bounds, window[0].start, window[0].stop)
        cols = _pieces(x_bounds, window[1].start, window[1].stop)
        for outer in itertools.product(*lead):
            shape = (
                *(data.chunks[d][k] for d, k in enumerate(outer)),
                *(w.stop - w.start for w in window),
            )
            if not rows or not cols:
                graph[(name, *outer, i, j)] = (
                    np.full,
                    (*shape[:-2], *chunk_box.shape.yx),
                    options["dst_nodata"],
                    data.dtype,
                )
                continue
            interior = all(  # the footprint and its margin lie inside the source
                0 < w.start and w.stop < n for w, n in zip(window, box.shape.yx, strict=True)
            )
            pieces = list(itertools.product(rows, cols))
            places = [(..., ry[2], rx[2]) for ry, rx in pieces]
            blocks = [
                (operator.getitem, (data.name, *outer, ry[0], rx[0]), (..., ry[1], rx[1]))
                for ry, rx in pieces
            ]
            graph[(name, *outer, i, j)] = (
                _warp_chunk,
                box[window],
                chunk_box,
                options,
                shape,
                places,
                interior,
                *blocks,
            )
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[data])
    return Array(layer, name, (*data.chunks[:-2], *tiles.chunks), dtype=data.dtype)


def target_coords(target) -> dict[str, xr.DataArray]:
    """``y``/``x`` pixel-centre coordinates of grid ``target``."""
    from odc.geo.xr import xr_coords

    return xr_coords(target, always_yx=True)


def target_metres(target) -> float:
    """The smaller pixel side of grid ``target`` in metres (at its centre row)."""
    coords = target_coords(target)
    y, x = coords["y"].values, coords["x"].values
    ewres, nsres = spacing_metres(pyproj.CRS.from_wkt(target.crs.to_wkt()), x, y, "the grid")
    middle = y.size // 2
    return float(min(abs(ewres[middle]), abs(nsres[middle])))
