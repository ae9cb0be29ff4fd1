"""Putting layers on one grid: the target grid, overlap checks, lazy reprojection (odc-geo)."""

from __future__ import annotations

import numpy as np
import pyproj
import xarray as xr

from xsoilmoist.errors import GridError, InputError
from xsoilmoist.grid import (
    check_regular,
    pixel_size_metres,
    require_crs,
    spacing_metres,
    spatial_dims,
)

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
    """
    xr_reproject = _odc()
    box = da.odc.geobox
    y_dim, x_dim = spatial_dims(da)
    if _same_grid(box, target):
        coords = target_coords(target)
        out = da.rename({y_dim: "y", x_dim: "x"}) if (y_dim, x_dim) != ("y", "x") else da
        return out.assign_coords(y=coords["y"].values, x=coords["x"].values), "none"
    native = min(pixel_size_metres(da))
    target_m = target_metres(target)
    method = resampling_for(native, target_m, categorical)
    order = [d for d in da.dims if d not in (y_dim, x_dim)] + [y_dim, x_dim]
    source = da.transpose(*order)
    options = {"resampling": method, "always_yx": True}
    if chunks is not None:  # dask only: the numpy path hands extra options to GDAL
        options["chunks"] = chunks
    if categorical:  # SCL: 0 is no data
        out = xr_reproject(source, target, src_nodata=0, dst_nodata=0, **options)
    else:  # NaN is no data: resampling uses the valid neighbours only
        source = source.astype(np.float32)
        out = xr_reproject(source, target, src_nodata=np.nan, dst_nodata=np.nan, **options)
    out.attrs = dict(da.attrs)
    return out, method


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
