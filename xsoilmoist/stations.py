"""Placing in-situ stations on a raster's grid: the one place for it.

:func:`place_stations` reads where the stations are from their coordinates
(dim ``station``) and returns their positions in the raster's CRS and their
fractional pixel indices on its grid. :func:`xsoilmoist.validate` samples the
prediction there; training (:func:`xsoilmoist.training.scenes.prepare_scene`)
takes the nearest pixels as the station pixels. Station coordinates, in order
of precedence:

1. ``station_row``/``station_col``: pixel indices, used as they are (the
   simulator writes them), when ``pixel_indices=True``;
2. ``lat``/``lon`` (or ``latitude``/``longitude``): WGS 84 degrees, as
   :func:`xsoilmoist.io.read_ismn` gives them (unless ``crs`` is passed);
3. ``x``/``y`` (or ``station_x``/``station_y``) in the CRS given by ``crs``,
   else ``stations.attrs["crs"]``, else ``stations.rio.crs``, else (only when
   ``xy_in_raster_crs=True``) the raster's own CRS.

Examples
--------
>>> import numpy as np, xarray as xr
>>> raster = xr.DataArray(
...     np.zeros((3, 4)), dims=("y", "x"),
...     coords={"y": [25.0, 15.0, 5.0], "x": [5.0, 15.0, 25.0, 35.0]},
... ).rio.write_crs("EPSG:32633")
>>> stations = xr.Dataset(coords={"station": ["a", "b"], "x": ("station", [14.0, 99.0]),
...                               "y": ("station", [6.0, 20.0])})
>>> placed = place_stations(stations, raster, crs="EPSG:32633")
>>> placed.rows.tolist(), placed.cols.tolist(), placed.inside.tolist()
([1.9, 0.5], [0.9, 9.4], [True, False])
>>> placed.nearest()
(array([2, 0]), array([1, 9]))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr

from xsoilmoist.errors import InputError
from xsoilmoist.grid import coordinate_step, spatial_dims

__all__ = ["StationPlacement", "place_stations"]

_LONLAT = (("lon", "lat"), ("longitude", "latitude"))
_XY = (("x", "y"), ("station_x", "station_y"))
_INDICES = ("station_col", "station_row")


@dataclass(frozen=True)
class StationPlacement:
    """Where stations lie on a raster.

    Attributes
    ----------
    x, y
        ``(station,)`` positions in the raster's CRS (pixel-centre coordinates
        when the stations were given as pixel indices).
    rows, cols
        ``(station,)`` fractional pixel indices: pixel ``i``'s centre is ``i``,
        its edges ``i - 0.5`` and ``i + 0.5``.
    inside
        ``(station,)`` whether each station lies on the raster (within its
        outer pixel edges).
    described
        Where the positions came from, for messages and attributes.
    """

    x: np.ndarray
    y: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    inside: np.ndarray
    described: str

    def subset(self, index) -> StationPlacement:
        """The placement of the stations selected by ``index`` (a mask or positions)."""
        return StationPlacement(
            self.x[index],
            self.y[index],
            self.rows[index],
            self.cols[index],
            self.inside[index],
            self.described,
        )

    def nearest(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (int64) of the pixel containing each station.

        A station exactly on the edge between two pixels goes to the one first
        in the raster's order.
        """
        return (
            np.ceil(self.rows - 0.5).astype(np.int64),
            np.ceil(self.cols - 0.5).astype(np.int64),
        )


def _coordinate_pair(stations: xr.Dataset | xr.DataArray, pairs) -> tuple[str, str] | None:
    for x_name, y_name in pairs:
        if all(
            name in stations.coords and stations[name].dims == ("station",)
            for name in (x_name, y_name)
        ):
            return x_name, y_name
    return None


def _source(stations, crs, raster_crs, xy_in_raster_crs: bool):
    """The station coordinate names and the CRS they are in (``None``: the raster's)."""
    lonlat = _coordinate_pair(stations, _LONLAT)
    xy = _coordinate_pair(stations, _XY)
    stated = crs if crs is not None else stations.attrs.get("crs")
    if stated is None and stations.rio.crs is not None:
        stated = stations.rio.crs
    if crs is None and lonlat is not None:
        return lonlat, pyproj.CRS.from_epsg(4326)
    if xy is not None and stated is not None:
        return xy, pyproj.CRS.from_user_input(stated)
    if xy is not None and xy_in_raster_crs:
        return xy, raster_crs
    if xy is not None:
        raise InputError(
            f"the station coordinates {xy} need a CRS: pass crs= (e.g. crs='EPSG:32650') or "
            "set stations.attrs['crs'] (or write one with stations.rio.write_crs)"
        )
    if crs is not None:
        raise InputError(
            f"crs={crs!r} was given but the stations have no x/y station coordinates "
            f"(one of {[list(p) for p in _XY]} with dim station)"
        )
    raise InputError(
        "the stations have no station coordinates: give them lat/lon coords (dim station, "
        "WGS 84) or x/y coords with a CRS (crs= or stations.attrs['crs'])"
    )


def _in_raster_crs(stations, names, source_crs, raster_crs) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(stations[names[0]], dtype=np.float64)
    y = np.asarray(stations[names[1]], dtype=np.float64)
    if source_crs is None or (raster_crs is not None and source_crs == raster_crs):
        return x, y
    if raster_crs is None:
        raise InputError(
            f"the raster has no CRS, so stations given in {source_crs.name} cannot be placed "
            "on it; set it with raster.rio.write_crs(...) (the CRS of its x/y coordinates)"
        )
    transformer = pyproj.Transformer.from_crs(source_crs, raster_crs, always_xy=True)
    x, y = transformer.transform(x, y)
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _fractional(raster, dim: str, position: np.ndarray, what: str) -> np.ndarray:
    """Fractional index of ``position`` along the raster's regular axis ``dim``."""
    coord = np.asarray(raster[dim].values, dtype=np.float64)
    if coord.size == 1:
        return np.zeros_like(position)
    return (position - coord[0]) / coordinate_step(raster, dim, what)


def place_stations(
    stations: xr.Dataset | xr.DataArray,
    raster: xr.Dataset | xr.DataArray,
    *,
    crs=None,
    pixel_indices: bool = False,
    xy_in_raster_crs: bool = False,
) -> StationPlacement:
    """Place stations on ``raster``'s grid (see the module documentation for the coordinates).

    Parameters
    ----------
    stations
        Anything with coords along dim ``station``: a Dataset from
        :func:`xsoilmoist.io.read_ismn`, a scene's station variable.
    raster
        A DataArray or Dataset on a regular grid; its CRS (``raster.rio.crs``)
        is needed unless the stations are in the raster's CRS already.
    crs
        CRS of the stations' ``x``/``y`` coords (anything pyproj accepts).
    pixel_indices
        Use ``station_row``/``station_col`` pixel indices when present.
    xy_in_raster_crs
        Take ``x``/``y`` coords with no stated CRS in the raster's CRS (else
        an error asks for one).

    Returns
    -------
    StationPlacement

    Raises
    ------
    InputError
        If the stations have no usable coordinates, their CRS is unknown, or
        the raster has no CRS to transform them into.
    GridError
        If the raster's grid is not regular.
    """
    what = "the raster"
    y_dim, x_dim = spatial_dims(raster, what)
    raster_crs = raster.rio.crs
    raster_crs = None if raster_crs is None else pyproj.CRS.from_user_input(raster_crs)
    if pixel_indices and _coordinate_pair(stations, (_INDICES,)) is not None:
        cols = np.asarray(stations[_INDICES[0]].values).astype(np.float64)
        rows = np.asarray(stations[_INDICES[1]].values).astype(np.float64)
        x_coord, y_coord = (np.asarray(raster[d].values, np.float64) for d in (x_dim, y_dim))
        inside = (rows >= 0) & (rows < y_coord.size) & (cols >= 0) & (cols < x_coord.size)
        x = np.where(inside, x_coord[np.clip(cols, 0, x_coord.size - 1).astype(int)], np.nan)
        y = np.where(inside, y_coord[np.clip(rows, 0, y_coord.size - 1).astype(int)], np.nan)
        return StationPlacement(x, y, rows, cols, inside, "station_row/station_col pixel indices")
    names, source_crs = _source(stations, crs, raster_crs, xy_in_raster_crs)
    x, y = _in_raster_crs(stations, names, source_crs, raster_crs)
    rows = _fractional(raster, y_dim, y, what)
    cols = _fractional(raster, x_dim, x, what)
    inside = (
        (rows >= -0.5)
        & (rows <= raster.sizes[y_dim] - 0.5)
        & (cols >= -0.5)
        & (cols <= raster.sizes[x_dim] - 0.5)
    )
    source = "the raster's CRS" if source_crs is None else source_crs.to_string()
    return StationPlacement(x, y, rows, cols, inside, f"{names[0]}/{names[1]} in {source}")
