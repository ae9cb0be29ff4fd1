"""The grid of a scene: spatial dims, a regular-grid check, pixel size, CRS.

The one place where xsoilmoist finds a scene's ``y``/``x`` dimensions, checks
that its coordinates make a regular grid, converts its pixel size to metres and
carries its georeferencing (CRS as a ``spatial_ref`` grid-mapping coordinate,
``grid_mapping`` attrs and encoding) onto results. Every problem is a
:class:`~xsoilmoist.errors.GridError` naming the fix.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(
...     np.zeros((3, 4)), dims=("y", "x"),
...     coords={"y": [25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]},
... ).rio.write_crs("EPSG:32633")
>>> spatial_dims(da)
('y', 'x')
>>> check_regular(da)
(-10.0, 10.0)
>>> pixel_size_metres(da)
(10.0, 10.0)
"""

from __future__ import annotations

import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr
from rioxarray.exceptions import MissingSpatialDimensionError

from xsoilmoist.errors import GridError

__all__ = [
    "carry_georeferencing",
    "check_regular",
    "coordinate_step",
    "pixel_size_metres",
    "require_crs",
    "spacing_metres",
    "spatial_dims",
]

_DEGREE_DIM_NAMES = {"lat", "lon", "latitude", "longitude"}

#: Relative tolerance on a regular grid's steps (float32 coordinates, GeoTIFF rounding).
STEP_RTOL = 1e-3


def spatial_dims(obj: xr.Dataset | xr.DataArray, what: str = "the scene") -> tuple[str, str]:
    """The ``(y, x)`` dimension names of ``obj``, as rioxarray finds them.

    Parameters
    ----------
    obj
        A Dataset or DataArray.
    what
        How error messages name ``obj`` ("the DEM", "ssm", ...).

    Raises
    ------
    GridError
        If ``obj`` has no recognisable spatial dimensions.

    Examples
    --------
    >>> spatial_dims(xr.DataArray(np.zeros((2, 3)), dims=("y", "x")))
    ('y', 'x')
    """
    try:
        return obj.rio.y_dim, obj.rio.x_dim
    except MissingSpatialDimensionError as err:
        raise GridError(
            f"no spatial dimensions found in {what} (dims are {tuple(obj.dims)}); name them "
            "'y' and 'x' (or 'latitude'/'longitude'), or declare them with "
            "obj.rio.set_spatial_dims(x_dim=..., y_dim=...)"
        ) from err


def coordinate_step(obj: xr.Dataset | xr.DataArray, dim: str, what: str = "the scene") -> float:
    """The signed step of ``obj[dim]``, checked to be finite, unique, monotonic and even.

    Raises
    ------
    GridError
        If the coordinate is missing, has NaN/infinite values, repeats, is not
        sorted or is not evenly spaced (within :data:`STEP_RTOL`).

    Examples
    --------
    >>> coordinate_step(xr.DataArray(np.zeros(3), dims="x", coords={"x": [0, 10, 20]}), "x")
    10.0
    """
    if dim not in obj.coords:
        raise GridError(
            f"{what} has no {dim!r} coordinate, so its pixel spacing is unknown: assign "
            "pixel-centre coordinates with obj.assign_coords(...), or open the file with "
            "rioxarray.open_rasterio"
        )
    values = np.asarray(obj[dim].values, dtype=np.float64)
    if values.size < 2:
        return float("nan")
    if not np.all(np.isfinite(values)):
        raise GridError(
            f"{what}'s {dim!r} coordinate has NaN or infinite values; give every pixel a finite "
            "centre coordinate"
        )
    steps = np.diff(values)
    if np.any(steps == 0):
        raise GridError(
            f"{what}'s {dim!r} coordinate repeats values (duplicated pixels); drop them, e.g. "
            f"obj.drop_duplicates({dim!r})"
        )
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise GridError(
            f"{what}'s {dim!r} coordinate is not sorted; sort it with obj.sortby({dim!r})"
        )
    step = (values[-1] - values[0]) / (values.size - 1)
    if not np.allclose(steps, step, rtol=STEP_RTOL, atol=0):
        raise GridError(
            f"{what}'s {dim!r} coordinate is not evenly spaced (steps from {steps.min():g} to "
            f"{steps.max():g}): the bands are not on one regular grid, e.g. 10 m and 20 m bands "
            "merged with an outer join; put every band on one grid first, e.g. with "
            "xsoilmoist.assemble(...) or band.rio.reproject_match(reference)"
        )
    return float(step)


def check_regular(obj: xr.Dataset | xr.DataArray, what: str = "the scene") -> tuple[float, float]:
    """The ``(y, x)`` steps of ``obj``'s regular grid; :class:`GridError` if it has none.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"),
    ...                   coords={"y": [10.0, 0.0], "x": [0.0, 10.0]})
    >>> check_regular(da)
    (-10.0, 10.0)
    """
    y_dim, x_dim = spatial_dims(obj, what)
    return coordinate_step(obj, y_dim, what), coordinate_step(obj, x_dim, what)


def require_crs(obj: xr.Dataset | xr.DataArray, what: str = "the scene") -> pyproj.CRS:
    """The CRS of ``obj`` as a :class:`pyproj.CRS`; :class:`GridError` if it has none.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x")).rio.write_crs("EPSG:32633")
    >>> require_crs(da).to_epsg()
    32633
    """
    crs = obj.rio.crs
    if crs is not None:
        return pyproj.CRS.from_user_input(crs.to_wkt())
    if _looks_geographic(obj):
        raise GridError(
            f"{what} has no CRS and its coordinates look like longitude/latitude degrees; set "
            "its CRS so pixel sizes can be converted to metres: obj = obj.rio.write_crs("
            "'EPSG:4326') (or its own geographic CRS)"
        )
    raise GridError(
        f"{what} has no CRS, so the size of its pixels in metres is unknown (no unit is "
        "assumed); set it with obj = obj.rio.write_crs(...), e.g. "
        "obj.rio.write_crs('EPSG:32633') for UTM zone 33N"
    )


def _looks_geographic(obj: xr.Dataset | xr.DataArray) -> bool:
    try:
        y_dim, x_dim = obj.rio.y_dim, obj.rio.x_dim
    except MissingSpatialDimensionError:
        return False
    if {y_dim.lower(), x_dim.lower()} & _DEGREE_DIM_NAMES:
        return True
    if y_dim not in obj.coords or x_dim not in obj.coords:
        return False
    units = f"{obj[y_dim].attrs.get('units', '')} {obj[x_dim].attrs.get('units', '')}".lower()
    if "degree" in units:
        return True
    y = np.asarray(obj[y_dim].values, dtype=np.float64)
    x = np.asarray(obj[x_dim].values, dtype=np.float64)
    if y.size < 2 or x.size < 2:
        return False
    in_range = bool(np.all(np.abs(y) <= 90) and np.all((x >= -180) & (x <= 360)))
    return in_range and abs(x[1] - x[0]) < 1 and abs(y[1] - y[0]) < 1


def _horizontal_part(crs: pyproj.CRS) -> pyproj.CRS:
    return crs.sub_crs_list[0] if crs.is_compound else crs


def spacing_metres(
    crs: pyproj.CRS, x: np.ndarray, y: np.ndarray, what: str = "the scene"
) -> tuple[np.ndarray, np.ndarray]:
    """Signed metres to the next column (``ewres``) and to the next row (``nsres``), per row.

    Geographic CRSs use the ellipsoid's radii of curvature at each row's latitude.

    Examples
    --------
    >>> ew, ns = spacing_metres(pyproj.CRS("EPSG:32633"), np.array([0.0, 10.0]),
    ...                         np.array([10.0, 0.0]))
    >>> float(ew[0]), float(ns[0])
    (10.0, -10.0)
    """
    horizontal = _horizontal_part(crs)
    unit = horizontal.axis_info[0]
    x_step = (x[-1] - x[0]) / (x.size - 1)
    y_step = (y[-1] - y[0]) / (y.size - 1)
    if horizontal.is_geographic:
        to_radians = unit.unit_conversion_factor
        latitude = y * to_radians
        if np.any(np.abs(latitude) > np.pi / 2) or np.any(np.abs(x * to_radians) > 2 * np.pi):
            raise GridError(
                f"{what}'s CRS ({crs.name}) is geographic but its coordinates are not "
                f"longitude/latitude in {unit.unit_name}; write the CRS its coordinates are in "
                "with obj.rio.write_crs(...)"
            )
        ellipsoid = horizontal.ellipsoid
        a, b = ellipsoid.semi_major_metre, ellipsoid.semi_minor_metre
        e2 = 1.0 - (b / a) ** 2
        w2 = 1.0 - e2 * np.sin(latitude) ** 2
        prime_vertical = a / np.sqrt(w2)
        meridional = a * (1.0 - e2) / w2**1.5
        ewres = prime_vertical * np.cos(latitude) * (x_step * to_radians)
        nsres = meridional * (y_step * to_radians)
        return ewres, nsres
    if horizontal.is_projected:
        to_metres = unit.unit_conversion_factor
        rows = np.ones_like(y)
        return rows * (x_step * to_metres), rows * (y_step * to_metres)
    raise GridError(
        f"{what}'s CRS ({crs.name}) is neither projected nor geographic, so its pixel size in "
        "metres is unknown; reproject it with obj.rio.reproject('EPSG:...')"
    )


def pixel_size_metres(
    obj: xr.Dataset | xr.DataArray, what: str = "the scene"
) -> tuple[float, float]:
    """The ``(y, x)`` pixel size of ``obj`` in metres (absolute, at the scene's centre row).

    Needs a regular grid and a CRS (:class:`GridError` otherwise).

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"),
    ...                   coords={"y": [20.0, 0.0], "x": [0.0, 20.0]}).rio.write_crs("EPSG:32633")
    >>> pixel_size_metres(da)
    (20.0, 20.0)
    """
    y_dim, x_dim = spatial_dims(obj, what)
    check_regular(obj, what)
    y = np.asarray(obj[y_dim].values, dtype=np.float64)
    x = np.asarray(obj[x_dim].values, dtype=np.float64)
    if y.size < 2 or x.size < 2:
        raise GridError(
            f"{what} is {y.size} x {x.size} pixels; its pixel size needs at least 2 x 2"
        )
    ewres, nsres = spacing_metres(require_crs(obj, what), x, y, what)
    middle = y.size // 2
    return float(abs(nsres[middle])), float(abs(ewres[middle]))


def carry_georeferencing(result: xr.DataArray | xr.Dataset, source: xr.Dataset | xr.DataArray):
    """``result`` with the CRS of ``source`` written the way rioxarray writes it.

    The CRS goes into a grid-mapping coordinate of the same name as the
    source's (``spatial_ref`` by default), linked from ``result`` (and its data
    variables) as rioxarray links it. ``result`` is not modified; a source
    without a CRS returns ``result`` unchanged.

    Examples
    --------
    >>> src = xr.DataArray(np.zeros((2, 2)), dims=("y", "x")).rio.write_crs("EPSG:32633")
    >>> out = carry_georeferencing(xr.DataArray(np.ones((2, 2)), dims=("y", "x")), src)
    >>> out.rio.crs.to_epsg(), out.rio.grid_mapping
    (32633, 'spatial_ref')
    """
    crs = source.rio.crs
    if crs is None:
        return result
    return result.rio.write_crs(crs, grid_mapping_name=source.rio.grid_mapping)
