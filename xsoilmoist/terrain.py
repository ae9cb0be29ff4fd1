"""Terrain derivatives of a DEM: slope, aspect, D8 flow accumulation, wetness index.

numba kernels on plain numpy arrays do the work; thin xarray wrappers read the
grid (pixel spacing in metres, CRS, nodata) and keep the input's dims, coords
and CRS (as xskillscore keeps its numpy kernels apart from the xarray layer).

Conventions
-----------
Slope and gradient
    Horn's (1981) 3x3 method, as GDAL's ``gdaldem slope``: with the window::

        a b c
        d e f
        g h i

    ``dz/dx = ((c + 2f + i) - (a + 2d + g)) / (8 ewres)`` and
    ``dz/dy = ((g + 2h + i) - (a + 2b + c)) / (8 nsres)``, where ``ewres`` and
    ``nsres`` are the signed coordinate steps in metres from one column (row)
    to the next. So ``dz/dx`` is the rise towards +x (east) and ``dz/dy`` the
    rise towards +y (north) whatever the order of the coordinates: north-up
    (descending y) and south-up rasters give the same answer.
    ``slope = atan(hypot(dz/dx, dz/dy))`` in degrees. On a geographic grid each
    row has its own ``ewres`` (the prime-vertical radius of curvature times
    ``cos(latitude)`` times the longitude step) and ``nsres`` (the meridional
    radius of curvature times the latitude step), on the CRS's ellipsoid; the
    three rows of the window each divide by their own ``ewres``. On a projected
    grid both are constant and the formula is GDAL's.
Aspect
    The azimuth (degrees clockwise from north, in ``[0, 360)``) of the
    direction the slope faces, i.e. downslope: ``atan2(-dz/dx, -dz/dy)``.
    This is ``gdaldem aspect`` on square north-up pixels; unlike gdaldem it
    uses the metric pixel spacing, so it stays a true azimuth on non-square and
    geographic pixels. North is grid north on a projected CRS (it differs from
    true north by the meridian convergence, a few degrees at most in UTM).
    Flat pixels (both gradients exactly 0) have no aspect: NaN (gdaldem writes
    its nodata value, -9999 by default).
Scene edges
    As ``gdaldem -compute_edges``: a neighbour outside the raster is
    extrapolated linearly from the two nearest cells across the edge,
    ``z[-1] = 2 z[0] - z[1]`` (rows first, then columns, so the four corner
    pixels get a bilinear extrapolation). So a finite DEM gives finite values
    along its border, and a plane is exact up to the corners. gdaldem differs
    only at the four corner pixels, where it repeats the centre column instead
    of extrapolating it (which halves the east-west gradient there).
Nodata
    NaN, infinities, the ``nodata`` argument, or else ``dem.rio.nodata``
    (``_FillValue``) mark missing elevations. The output is NaN wherever
    Horn's 3x3 window (extrapolated neighbours included) contains a missing
    cell: the nodata pixel and its 8 neighbours (gdaldem's default; its
    ``-compute_edges`` mode instead replaces missing neighbours by the centre
    value, which biases the gradient low next to gaps).
Flow routing
    Depressions and flats are handled by a Priority-Flood (Barnes et al.
    2014, Computers & Geosciences 62:117-127) seeded with every cell on the
    scene border or next to a missing cell, which drain off the grid. A cell
    with a lower neighbour in the filled DEM flows to its steepest one (D8,
    drop over the metric distance); a cell on a flat or in a filled depression
    flows to the cell it was flooded from (equal levels are flooded first in,
    first out, so this leads breadth-first across the flat to its spill
    point). The flow graph has no cycles, and every valid cell drains off the
    grid, through the border or into a nodata hole.
Units
    Horizontal spacing in metres: from a projected CRS (its linear unit, e.g.
    US survey feet, is converted) or from a geographic CRS (see above; a
    compound CRS such as EPSG:9707, WGS 84 + EGM96 height, uses its horizontal
    part). Elevations in metres, unless ``dem.attrs["units"]`` (or the
    vertical axis of a compound CRS) says another length unit, converted.
    ``scale_factor`` / ``add_offset`` in ``dem.attrs`` (raw, undecoded
    values) are applied after nodata is masked.
Dask
    :func:`slope` and :func:`aspect` run block by block
    (``dask.array.map_overlap``, depth 1, no boundary padding; each block
    extrapolates its own scene edges), so they stay lazy and give the same
    numbers as on numpy, at chunk borders too. :func:`flow_accumulation` and
    :func:`twi` are global: on dask input they return a lazy result that is
    computed as one block holding the whole scene.
"""

from __future__ import annotations

import heapq
import math
from functools import partial

import dask.array
import numba
import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr

from xsoilmoist.errors import GridError, InputError, InputTypeError
from xsoilmoist.grid import (
    carry_georeferencing,
    check_regular,
    require_crs,
    spacing_metres,
    spatial_dims,
)
from xsoilmoist.units import UnitError, check_convertible, ureg

__all__ = ["aspect", "flow_accumulation", "slope", "twi"]

# ---------------------------------------------------------------------------
# numba kernels (numpy in, numpy out; NaN marks missing cells)
# ---------------------------------------------------------------------------

# The 8 D8 neighbours as (row offset, column offset).
_D8_OFFSETS = np.array(
    [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)], dtype=np.int64
)


@numba.njit(cache=True, nogil=True)
def _horn_gradients(padded, inv_8ewres, inv_8nsres):  # pragma: no cover - compiled
    """Horn's ``dz/dx`` and ``dz/dy`` of the interior of ``padded`` (shape + 2 each way).

    ``inv_8ewres`` has one value per padded row, ``inv_8nsres`` one per interior row.
    A result is NaN when its centre or any neighbour is NaN.
    """
    ny = padded.shape[0] - 2
    nx = padded.shape[1] - 2
    dzdx = np.empty((ny, nx), dtype=np.float64)
    dzdy = np.empty((ny, nx), dtype=np.float64)
    for i in range(ny):
        ew_top = inv_8ewres[i]
        ew_mid = 2.0 * inv_8ewres[i + 1]
        ew_bottom = inv_8ewres[i + 2]
        ns = inv_8nsres[i]
        for j in range(nx):
            a = padded[i, j]
            b = padded[i, j + 1]
            c = padded[i, j + 2]
            d = padded[i + 1, j]
            e = padded[i + 1, j + 1]
            f = padded[i + 1, j + 2]
            g = padded[i + 2, j]
            h = padded[i + 2, j + 1]
            k = padded[i + 2, j + 2]
            gx = (c - a) * ew_top + (f - d) * ew_mid + (k - g) * ew_bottom
            gy = ((g + 2.0 * h + k) - (a + 2.0 * b + c)) * ns
            if math.isnan(e) or math.isnan(gx) or math.isnan(gy):
                gx = np.nan
                gy = np.nan
            dzdx[i, j] = gx
            dzdy[i, j] = gy
    return dzdx, dzdy


@numba.njit(cache=True, nogil=True)
def _priority_flood(z):  # pragma: no cover - compiled
    """Fill depressions; return the filled DEM and each cell's flooding parent (flat index).

    Seeds (parent -1) are the valid cells on the border or next to a NaN cell.
    Ties in elevation pop first-in first-out, so flats are flooded breadth-first.
    """
    ny, nx = z.shape
    filled = z.copy()
    parent = np.full(ny * nx, -1, dtype=np.int64)
    closed = np.zeros(ny * nx, dtype=np.bool_)
    heap = [(0.0, np.int64(0), np.int64(0))]
    heap.pop()
    order = np.int64(0)
    for i in range(ny):
        for j in range(nx):
            if math.isnan(z[i, j]):
                continue
            seed = i == 0 or j == 0 or i == ny - 1 or j == nx - 1
            for n in range(8):
                ni = i + _D8_OFFSETS[n, 0]
                nj = j + _D8_OFFSETS[n, 1]
                if 0 <= ni < ny and 0 <= nj < nx and math.isnan(z[ni, nj]):
                    seed = True
            if seed:
                closed[i * nx + j] = True
                heapq.heappush(heap, (z[i, j], order, np.int64(i * nx + j)))
                order += 1
    while len(heap) > 0:
        level, _, cell = heapq.heappop(heap)
        i = cell // nx
        j = cell % nx
        for n in range(8):
            ni = i + _D8_OFFSETS[n, 0]
            nj = j + _D8_OFFSETS[n, 1]
            if not (0 <= ni < ny and 0 <= nj < nx):
                continue
            neighbour = ni * nx + nj
            if closed[neighbour] or math.isnan(z[ni, nj]):
                continue
            closed[neighbour] = True
            parent[neighbour] = cell
            filled[ni, nj] = max(z[ni, nj], level)
            heapq.heappush(heap, (filled[ni, nj], order, neighbour))
            order += 1
    return filled, parent


@numba.njit(cache=True, nogil=True)
def _d8_receivers(filled, parent, dx_rows, dy_rows):  # pragma: no cover - compiled
    """Flat index of the cell each cell drains to (-1: off the grid or missing)."""
    ny, nx = filled.shape
    receivers = np.full(ny * nx, -1, dtype=np.int64)
    for i in range(ny):
        dx = dx_rows[i]
        dy = dy_rows[i]
        diagonal = math.hypot(dx, dy)
        for j in range(nx):
            here = filled[i, j]
            if math.isnan(here):
                continue
            steepest = 0.0
            receiver = np.int64(-1)
            for n in range(8):
                di = _D8_OFFSETS[n, 0]
                dj = _D8_OFFSETS[n, 1]
                ni = i + di
                nj = j + dj
                if not (0 <= ni < ny and 0 <= nj < nx) or math.isnan(filled[ni, nj]):
                    continue
                distance = dx if di == 0 else (dy if dj == 0 else diagonal)
                drop = (here - filled[ni, nj]) / distance
                if drop > steepest:
                    steepest = drop
                    receiver = ni * nx + nj
            receivers[i * nx + j] = receiver if receiver >= 0 else parent[i * nx + j]
    return receivers


@numba.njit(cache=True, nogil=True)
def _accumulate(receivers, weights):  # pragma: no cover - compiled
    """Sum ``weights`` down the flow graph (a forest), upstream cells first (Kahn's order)."""
    size = receivers.size
    inflows = np.zeros(size, dtype=np.int64)
    for cell in range(size):
        if receivers[cell] >= 0:
            inflows[receivers[cell]] += 1
    total = weights.copy()
    ready = np.empty(size, dtype=np.int64)
    top = 0
    for cell in range(size):
        if inflows[cell] == 0 and not math.isnan(weights[cell]):
            ready[top] = cell
            top += 1
    while top > 0:
        top -= 1
        cell = ready[top]
        receiver = receivers[cell]
        if receiver >= 0:
            total[receiver] += total[cell]
            inflows[receiver] -= 1
            if inflows[receiver] == 0:
                ready[top] = receiver
                top += 1
    return total


# ---------------------------------------------------------------------------
# the grid: dims, elevations in metres, pixel spacing in metres
# ---------------------------------------------------------------------------

_DEM = "the DEM"


def _read_dem(dem: xr.DataArray, nodata: float | None):
    """Validate ``dem``; return float64 elevations in metres (NaN missing), ``ewres``, ``nsres``.

    The elevations are numpy or dask like ``dem``; ``ewres`` and ``nsres`` are
    the signed metres to the next column and to the next row, one per row.
    """
    if not isinstance(dem, xr.DataArray):
        raise InputTypeError(f"the DEM must be an xarray.DataArray, got {type(dem).__name__}")
    if not np.issubdtype(dem.dtype, np.number) or np.issubdtype(dem.dtype, np.complexfloating):
        raise InputTypeError(
            f"the DEM has dtype {dem.dtype}, not real numbers; pass elevations as a numeric "
            "array, e.g. dem.astype('float64') if they are stored as text"
        )
    y_dim, x_dim = _spatial_dims(dem)
    check_regular(dem, _DEM)
    y = np.asarray(dem[y_dim].values, dtype=np.float64)
    x = np.asarray(dem[x_dim].values, dtype=np.float64)
    crs = require_crs(dem, _DEM)
    ewres, nsres = spacing_metres(crs, x, y, _DEM)
    elevation = _elevation_metres(dem, nodata, _elevation_unit_factor(dem, crs))
    return elevation, ewres, nsres


def _spatial_dims(dem: xr.DataArray) -> tuple[str, str]:
    y_dim, x_dim = spatial_dims(dem, _DEM)
    if dem.dims != (y_dim, x_dim):
        extra = [dim for dim in dem.dims if dim not in (y_dim, x_dim)]
        fix = (
            f"select a single DEM, e.g. dem.squeeze({extra[0]!r}, drop=True) or "
            f"dem.isel({extra[0]}=0)"
            if extra
            else f"transpose it with dem.transpose({y_dim!r}, {x_dim!r})"
        )
        raise GridError(f"the DEM must have dims ({y_dim!r}, {x_dim!r}), got {dem.dims}: {fix}")
    if min(dem.shape) < 2:
        raise GridError(f"the DEM must be at least 2 x 2 pixels for a 3x3 window, got {dem.shape}")
    return y_dim, x_dim


def _elevation_unit_factor(dem: xr.DataArray, crs: pyproj.CRS) -> float:
    units = dem.attrs.get("units")
    if units is None:
        if crs.is_compound and len(crs.sub_crs_list) > 1:
            return crs.sub_crs_list[1].axis_info[0].unit_conversion_factor
        return 1.0
    try:
        source, _ = check_convertible(str(units), "m")
    except UnitError as err:
        raise InputError(
            f"the DEM's units {units!r} are not a length; elevations must be heights, e.g. in "
            "metres: correct dem.attrs['units']"
        ) from err
    return float(ureg.Quantity(1.0, source).to("m").magnitude)


def _elevation_metres(dem: xr.DataArray, nodata: float | None, to_metres: float):
    """Float64 elevations in metres (numpy or dask), NaN where missing; ``dem`` is untouched."""
    raw = dem.data
    if nodata is None:
        nodata = dem.rio.nodata
    elevation = raw.astype(np.float64)
    missing = ~np.isfinite(elevation)
    if nodata is not None and not np.isnan(nodata):
        missing = missing | (raw == nodata)
    scale = float(dem.attrs.get("scale_factor", 1.0)) * to_metres
    offset = float(dem.attrs.get("add_offset", 0.0)) * to_metres
    return np.where(missing, np.nan, elevation * scale + offset)


# ---------------------------------------------------------------------------
# Horn's gradient, block by block
# ---------------------------------------------------------------------------

#: ``block_info`` of a numpy array taken as one block covering the whole scene.
_WHOLE_SCENE = {0: {"chunk-location": (0, 0), "num-chunks": (1, 1)}}


def _extrapolate_edges(z: np.ndarray, top: bool, bottom: bool, left: bool, right: bool):
    """Add the missing outer rows/columns as ``2 z[0] - z[1]`` (rows first, then columns)."""
    if top:
        z = np.concatenate([2.0 * z[:1] - z[1:2], z], axis=0)
    if bottom:
        z = np.concatenate([z, 2.0 * z[-1:] - z[-2:-1]], axis=0)
    if left:
        z = np.concatenate([2.0 * z[:, :1] - z[:, 1:2], z], axis=1)
    if right:
        z = np.concatenate([z, 2.0 * z[:, -1:] - z[:, -2:-1]], axis=1)
    return z


def _slope_degrees(dzdx: np.ndarray, dzdy: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan(np.hypot(dzdx, dzdy)))


def _aspect_degrees(dzdx: np.ndarray, dzdy: np.ndarray) -> np.ndarray:
    azimuth = np.degrees(np.arctan2(-dzdx, -dzdy))
    azimuth = np.where(azimuth < 0.0, azimuth + 360.0, azimuth) + 0.0  # -0.0 -> 0.0
    azimuth[azimuth >= 360.0] = 0.0
    azimuth[(dzdx == 0.0) & (dzdy == 0.0)] = np.nan
    return azimuth


def _horn_block(z, *, inv_8ewres, inv_8nsres, row_starts, result, block_info=None):
    """``result(dz/dx, dz/dy)`` of one block that carries a 1-pixel halo on its inner sides.

    The sides on the scene edge have no halo (``boundary="none"``); they are
    extrapolated here, so a block gives the same numbers as the whole scene.
    """
    (row_block, column_block) = block_info[0]["chunk-location"]
    (row_blocks, column_blocks) = block_info[0]["num-chunks"]
    first, stop = row_starts[row_block], row_starts[row_block + 1]
    padded = _extrapolate_edges(
        z,
        top=row_block == 0,
        bottom=row_block == row_blocks - 1,
        left=column_block == 0,
        right=column_block == column_blocks - 1,
    )
    dzdx, dzdy = _horn_gradients(padded, inv_8ewres[first : stop + 2], inv_8nsres[first:stop])
    return result(dzdx, dzdy)


def _horn(z, ewres: np.ndarray, nsres: np.ndarray, result):
    """``result(dz/dx, dz/dy)`` over the whole scene ``z``, block by block if it is dask."""
    padded_ewres = np.concatenate([[2 * ewres[0] - ewres[1]], ewres, [2 * ewres[-1] - ewres[-2]]])
    block = partial(
        _horn_block,
        inv_8ewres=1.0 / (8.0 * padded_ewres),
        inv_8nsres=1.0 / (8.0 * nsres),
        result=result,
    )
    if isinstance(z, dask.array.Array):
        return dask.array.map_overlap(
            partial(block, row_starts=np.cumsum((0, *z.chunks[0]))),
            z,
            depth=1,
            boundary="none",
            trim=False,
            allow_rechunk=False,
            dtype=np.float64,
            meta=np.array((), dtype=np.float64),
        )
    return block(z, row_starts=(0, z.shape[0]), block_info=_WHOLE_SCENE)


# ---------------------------------------------------------------------------
# global operations: flow accumulation and the wetness index
# ---------------------------------------------------------------------------


def _whole_scene(z, func):
    """``func(z)``; on dask, one lazy task over a single block, rechunked back like ``z``."""
    if isinstance(z, dask.array.Array):
        one_block = z.rechunk(-1).map_blocks(
            func, dtype=np.float64, meta=np.array((), dtype=np.float64)
        )
        return one_block.rechunk(z.chunks)
    return func(z)


def _upslope_total(z: np.ndarray, ewres, nsres, weight_per_row: np.ndarray) -> np.ndarray:
    """Sum of ``weight_per_row`` over each cell and all cells draining through it (D8)."""
    filled, parent = _priority_flood(z)
    receivers = _d8_receivers(filled, parent, np.abs(ewres), np.abs(nsres))
    weights = np.where(np.isnan(z), np.nan, weight_per_row[:, None] * np.ones_like(z))
    return _accumulate(receivers, weights.ravel()).reshape(z.shape)


def _cell_count(z: np.ndarray, ewres: np.ndarray, nsres: np.ndarray) -> np.ndarray:
    return _upslope_total(z, ewres, nsres, np.ones(z.shape[0]))


def _wetness_index(z: np.ndarray, ewres, nsres, min_slope: float) -> np.ndarray:
    cell_area = np.abs(ewres * nsres)
    specific_area = _upslope_total(z, ewres, nsres, cell_area) / np.sqrt(cell_area)[:, None]
    degrees = _horn(z, ewres, nsres, _slope_degrees)
    tan_slope = np.maximum(np.tan(np.radians(degrees)), math.tan(math.radians(min_slope)))
    return np.log(specific_area / tan_slope)


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


#: Docstring text the DEM functions share, written once: it replaces ``{dem_parameters}``
#: and ``{dem_raises}`` (with their headings) in their docstrings (:func:`_shared_docs`).
_SHARED_DOCS = {
    "{dem_parameters}": """Parameters
    ----------
    dem
        Elevations with dims ``(y, x)`` (as rioxarray names them), evenly spaced
        pixel-centre coordinates and a projected or geographic CRS
        (``dem.rio.crs``); numpy- or dask-backed. Metres unless
        ``dem.attrs["units"]`` names another length unit.
    nodata
        Elevation value marking missing pixels, in addition to NaN; defaults to
        ``dem.rio.nodata`` (the ``_FillValue``).""",
    "{dem_raises}": """Raises
    ------
    InputTypeError
        If ``dem`` is not a numeric DataArray.
    InputError
        If the DEM has no CRS, no regular y/x coordinates, extra dims, or
        elevation units that are not a length. The message says how to fix it.""",
}


def _shared_docs(func):
    """Fill ``func``'s docstring with the shared text of :data:`_SHARED_DOCS`."""
    if func.__doc__:  # None under python -OO
        for marker, text in _SHARED_DOCS.items():
            func.__doc__ = func.__doc__.replace(marker, text)
    return func


def _as_dataarray(values, dem: xr.DataArray, name: str, units: str, long_name: str, **attrs):
    out = xr.DataArray(
        values,
        coords=dem.coords,
        dims=dem.dims,
        name=name,
        attrs={"units": units, "long_name": long_name, **attrs},
    )
    return carry_georeferencing(out, dem)


@_shared_docs
def slope(dem: xr.DataArray, *, nodata: float | None = None) -> xr.DataArray:
    """Terrain slope in degrees, by Horn's method as ``gdaldem slope -compute_edges``.

    {dem_parameters}

    Returns
    -------
    xarray.DataArray
        ``slope`` in degrees (0 flat, 90 vertical), float64, with the DEM's
        dims, coords and CRS; lazy if the DEM is dask-backed. NaN at missing
        pixels and their 8 neighbours; the scene border is computed by linear
        extrapolation (see the module docs).

    {dem_raises}

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x, y = np.arange(5) * 10.0, np.arange(5)[::-1] * 10.0
    >>> dem = xr.DataArray(0.1 * x + 0 * y[:, None], coords={"y": y, "x": x}, dims=("y", "x"))
    >>> dem = dem.rio.write_crs("EPSG:32633")
    >>> float(slope(dem)[2, 2].round(3))
    5.711
    """
    values = _horn(*_read_dem(dem, nodata), _slope_degrees)
    return _as_dataarray(values, dem, "slope", "degree", "terrain slope (Horn's method)")


@_shared_docs
def aspect(dem: xr.DataArray, *, nodata: float | None = None) -> xr.DataArray:
    """The direction the terrain faces (downslope), in degrees clockwise from north.

    Horn's gradient as in :func:`slope`; 0 faces north, 90 east, 180 south,
    270 west, as ``gdaldem aspect``. Flat pixels (zero gradient) have no
    aspect and are NaN (gdaldem writes -9999).

    {dem_parameters}

    Returns
    -------
    xarray.DataArray
        ``aspect`` in degrees in ``[0, 360)``, float64, with the DEM's dims,
        coords and CRS; lazy if the DEM is dask-backed.

    {dem_raises}

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x, y = np.arange(5) * 10.0, np.arange(5)[::-1] * 10.0
    >>> falling_east = np.tile(-0.1 * x, (5, 1))
    >>> dem = xr.DataArray(falling_east, coords={"y": y, "x": x}, dims=("y", "x"))
    >>> float(aspect(dem.rio.write_crs("EPSG:32633"))[2, 2])  # faces east
    90.0
    """
    values = _horn(*_read_dem(dem, nodata), _aspect_degrees)
    return _as_dataarray(
        values,
        dem,
        "aspect",
        "degree",
        "terrain aspect: azimuth of the downslope direction, clockwise from north",
    )


@_shared_docs
def flow_accumulation(dem: xr.DataArray, *, nodata: float | None = None) -> xr.DataArray:
    """D8 flow accumulation: the number of cells draining through each cell, itself included.

    Depressions and flats are resolved by Priority-Flood filling; every valid
    cell drains off the scene border or into a nodata hole (see the module
    docs). A cell nothing flows into has 1; an outlet has the size of its
    catchment.

    {dem_parameters}

    Returns
    -------
    xarray.DataArray
        ``flow_accumulation`` (cell counts, units ``"1"``), float64, NaN at
        missing pixels, with the DEM's dims, coords and CRS. On a dask-backed
        DEM the result is lazy, but computing it loads the whole scene into
        one task (flow routing is global).

    {dem_raises}

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> y = np.arange(4)[::-1] * 10.0
    >>> rising_north = xr.DataArray(np.repeat(0.1 * y[:, None], 3, axis=1), dims=("y", "x"),
    ...                             coords={"y": y, "x": [0.0, 10.0, 20.0]})
    >>> rising_north = rising_north.rio.write_crs("EPSG:32633")
    >>> flow_accumulation(rising_north).values[:, 1].tolist()  # north to south
    [1.0, 2.0, 3.0, 4.0]
    """
    elevation, ewres, nsres = _read_dem(dem, nodata)
    values = _whole_scene(elevation, partial(_cell_count, ewres=ewres, nsres=nsres))
    return _as_dataarray(
        values,
        dem,
        "flow_accumulation",
        "1",
        "D8 flow accumulation: number of cells draining through each cell, itself included",
    )


@_shared_docs
def twi(dem: xr.DataArray, *, nodata: float | None = None, min_slope: float = 0.1) -> xr.DataArray:
    """Topographic wetness index ``ln(a / tan(slope))`` (Beven and Kirkby 1979).

    ``a`` is the specific catchment area in metres: the D8 contributing area
    (m2, the areas of the cells draining through a cell, itself included; see
    :func:`flow_accumulation`) over the contour width, taken as the cell size
    ``sqrt(cell area)``. ``slope`` is the local Horn slope of :func:`slope`,
    floored at ``min_slope`` so that flats get a large but finite index.

    {dem_parameters}
    min_slope
        Slope floor in degrees, ``0 < min_slope < 90``; the default 0.1 degree
        is a tangent of 0.0017.

    Returns
    -------
    xarray.DataArray
        ``twi`` (dimensionless, units ``"1"``), float64, NaN where the slope
        is (missing pixels and their neighbours), with the DEM's dims, coords
        and CRS. On a dask-backed DEM the result is lazy, computed as one
        task over the whole scene.

    {dem_raises}
        Also for a ``min_slope`` outside ``(0, 90)``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> x, y = np.arange(5) * 10.0, np.arange(5)[::-1] * 10.0
    >>> valley = xr.DataArray(
    ...     np.abs(x - 20.0) + 0.1 * y[:, None], coords={"y": y, "x": x}, dims=("y", "x")
    ... ).rio.write_crs("EPSG:32633")
    >>> index = twi(valley)
    >>> bool(index[4, 2] > index[4, 0])  # the valley floor is wetter than the ridge
    True
    """
    if not 0.0 < min_slope < 90.0:
        raise InputError(f"min_slope must be between 0 and 90 degrees, got {min_slope}")
    elevation, ewres, nsres = _read_dem(dem, nodata)
    values = _whole_scene(
        elevation, partial(_wetness_index, ewres=ewres, nsres=nsres, min_slope=min_slope)
    )
    return _as_dataarray(
        values,
        dem,
        "twi",
        "1",
        "topographic wetness index ln(a / tan(slope)), a: specific catchment area in m",
        min_slope_degree=min_slope,
    )
