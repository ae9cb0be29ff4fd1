"""Inputs of :func:`xsoilmoist.assemble`: paths, Datasets and DataArrays as Datasets.

Each source becomes one or more Datasets (a folder of per-band GeoTIFFs gives
one per file, since each file has its own grid), each with a text saying where
it came from. Nothing is read here beyond file headers: GeoTIFFs and zarr
stores open lazily with dask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from xsoilmoist.catalogue import lookup_alias
from xsoilmoist.errors import InputError, InputNotFoundError, InputTypeError
from xsoilmoist.io import open_raster

__all__ = ["MASK_NAMES", "Source", "dataset_from_band_array", "open_sources"]

#: Variable names read as the Sentinel-2 scene classification (a categorical mask).
MASK_NAMES = frozenset({"scl", "scene_classification"})

_GEOTIFF_SUFFIXES = {".tif", ".tiff", ".vrt"}
_GRIB_SUFFIXES = {".grib", ".grib2", ".grb", ".grb2"}
# Sentinel/Landsat product names carry the acquisition time: 20170613T101031 (or T93020).
_NAME_TIME = re.compile(r"(?<!\d)(\d{8})T(\d{4,6})(?!\d)")
_TIME_DIMS = ("valid_time", "date")
# stackstac/rioxarray attrs that describe the whole array, not one band's values.
_ARRAY_ATTRS = {"spec", "transform", "resolution", "crs"}


@dataclass(frozen=True)
class Source:
    """One Dataset taken from the inputs, with where it came from."""

    data: xr.Dataset
    origin: str
    time_note: str = ""


def _band_names(da: xr.DataArray, band_dim: str) -> list[str]:
    values = da[band_dim].values if band_dim in da.coords else np.arange(da.sizes[band_dim])
    descriptions = da.attrs.get("long_name")
    if (
        np.issubdtype(np.asarray(values).dtype, np.integer)
        and isinstance(descriptions, (tuple, list))
        and len(descriptions) == len(values)
        and all(isinstance(d, str) and d for d in descriptions)
    ):
        values = descriptions  # rioxarray.open_rasterio: band numbers, names in long_name
    names = [str(v) for v in values]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"the {band_dim!r} coordinate repeats {repeated}; give every band a distinct name, "
            f"e.g. da.assign_coords({band_dim}=[...])"
        )
    return names


def dataset_from_band_array(da: xr.DataArray, band_dim: str = "band") -> xr.Dataset:
    """A band-dimension DataArray (stackstac, rioxarray) as one variable per band.

    Coordinates along ``band_dim`` alone (stackstac's ``title``, ``common_name``,
    ``gsd``...) become each variable's attrs; other coordinates, the array's
    attrs (units, scale and fill values apply to every band) and its CRS (as a
    ``spatial_ref`` coordinate) are kept. Integer band numbers with names in
    ``attrs["long_name"]`` (``rioxarray.open_rasterio``) are named by those.
    The input is not modified; dask arrays stay lazy.

    Parameters
    ----------
    da
        DataArray with a ``band_dim`` dimension, e.g. ``(time, band, y, x)``.
    band_dim
        Name of the band dimension.

    Returns
    -------
    xarray.Dataset
        One variable per band, named by the band coordinate's values.

    Raises
    ------
    InputError
        If ``da`` has no ``band_dim`` dimension or repeats a band name.

    Examples
    --------
    >>> da = xr.DataArray(
    ...     np.zeros((2, 2, 3)), dims=("band", "y", "x"),
    ...     coords={"band": ["B04", "B08"], "common_name": ("band", ["red", "nir"]),
    ...             "y": [10.0, 0.0], "x": [0.0, 10.0, 20.0]},
    ...     attrs={"units": "DN"}).rio.write_crs("EPSG:32633")
    >>> ds = dataset_from_band_array(da)
    >>> list(ds.data_vars), ds["B08"].attrs["common_name"], ds.rio.crs.to_epsg()
    (['B04', 'B08'], 'nir', 32633)
    """
    if not isinstance(da, xr.DataArray):
        raise InputTypeError(f"expected an xarray.DataArray, got {type(da).__name__}")
    if band_dim not in da.dims:
        raise InputError(
            f"the DataArray has dims {da.dims}, no {band_dim!r} dimension; name its band "
            f"dimension {band_dim!r} (da.rename({{'...': {band_dim!r}}})) or turn it into a "
            "Dataset with da.to_dataset(name='vv') (the canonical band it holds)"
        )
    names = _band_names(da, band_dim)
    band_coords = [
        str(c) for c in da.coords if c != band_dim and band_dim in da[c].dims and c not in da.dims
    ]
    crs = da.rio.crs
    if crs is None and "epsg" in da.coords and da["epsg"].size == 1:
        crs = f"EPSG:{int(da['epsg'].values)}"  # stackstac's scalar coordinate
    variables = {}
    for i, name in enumerate(names):
        layer = da.isel({band_dim: i})
        per_band = {c: _attr_value(layer[c].values) for c in band_coords}
        attrs = {k: v for k, v in da.attrs.items() if k not in _ARRAY_ATTRS}
        if isinstance(attrs.get("long_name"), (tuple, list)):
            attrs["long_name"] = name
        layer = layer.drop_vars([*band_coords, band_dim], errors="ignore")
        variables[name] = layer.assign_attrs({**attrs, **per_band})
    out = xr.Dataset(variables, attrs=dict(da.attrs))
    return out if crs is None else out.rio.write_crs(crs)


def _attr_value(values: np.ndarray):
    """A band coordinate's value as an attribute (a scalar, or a list)."""
    return values.item() if values.ndim == 0 else values.tolist()


def _name_time(name: str) -> np.datetime64 | None:
    match = _NAME_TIME.search(name)
    if match is None:
        return None
    day, clock = match.groups()
    return np.datetime64(pd.Timestamp(f"{day}T{clock.rjust(6, '0')}").to_datetime64(), "ns")


def _is_known(name: str) -> bool:
    return lookup_alias(name) is not None or name.lower() in MASK_NAMES


def _band_token(stem: str) -> str:
    """The band a product file holds, from its name: ``..._B02`` -> ``B02``; else the stem."""
    token = stem.rsplit("_", 1)[-1]
    return token if _is_known(token) else stem


def _open_geotiff(path: Path, chunks) -> Source:

    if chunks == "auto":  # rioxarray turns "auto" into a deprecated tuple of chunks
        chunks = {"band": 1, "y": "auto", "x": "auto"}
    raster = open_raster(path, chunks=chunks)
    if raster.sizes["band"] == 1 and not isinstance(raster.attrs.get("long_name"), tuple):
        described = str(raster.attrs.get("long_name") or "")
        name = described if _is_known(described) or not described else _band_token(path.stem)
        ds = raster.squeeze("band", drop=True).to_dataset(name=name or _band_token(path.stem))
    else:
        ds = dataset_from_band_array(raster)
    ds = ds.drop_vars("band", errors="ignore")
    when = _name_time(path.stem)
    if when is None:
        return Source(ds, str(path))
    ds = ds.expand_dims(time=[when])
    return Source(ds, str(path), f"time {str(when)[:19]} from the file name")


def _open_grib(path: Path, chunks) -> xr.Dataset:
    try:
        ds = xr.open_dataset(path, engine="cfgrib", chunks=chunks)
    except ValueError as err:
        raise InputError(
            f"cannot read GRIB {str(path)!r} ({err}); install the reader with "
            "pip install 'xsoilmoist[grib]'"
        ) from err
    if "valid_time" in ds.coords and "time" not in ds.dims:
        ds = ds.drop_vars("time", errors="ignore")
        if ds["valid_time"].ndim == 0:
            ds = ds.expand_dims("valid_time")
    return ds


def _open_path(path: Path, chunks) -> list[Source]:
    from xsoilmoist.io import open_scene

    if not path.exists():
        raise InputNotFoundError(f"input {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix in _GEOTIFF_SUFFIXES:
        return [_open_geotiff(path, chunks)]
    if suffix in _GRIB_SUFFIXES:
        return [Source(_open_grib(path, chunks), str(path))]
    if path.is_dir() and suffix != ".zarr" and not (path / ".zgroup").exists():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in _GEOTIFF_SUFFIXES)
        if not files:
            raise InputError(
                f"folder {str(path)!r} holds no GeoTIFF (.tif) and is not a zarr store; pass "
                "the product files, or a .zarr/.nc path"
            )
        return [_open_geotiff(f, chunks) for f in files]
    return [Source(open_scene(path, chunks=chunks), str(path))]


def _with_time_dim(source: Source) -> Source:
    """``time`` as the time dimension's name (ERA5 from the CDS uses ``valid_time``)."""
    ds = source.data
    for dim in _TIME_DIMS:
        if dim in ds.dims and "time" not in ds.dims:
            ds = ds.drop_vars("time", errors="ignore").rename({dim: "time"})
    if "time" in ds.coords and "time" not in ds.dims and ds["time"].ndim == 0:
        ds = ds.expand_dims("time")
    if "time" in ds.dims and np.issubdtype(ds["time"].dtype, np.datetime64):
        ds = ds.assign_coords(time=ds["time"].values.astype("datetime64[ns]"))
    return Source(ds, source.origin, source.time_note)


def open_sources(sources, chunks="auto") -> list[Source]:
    """Every input of :func:`xsoilmoist.assemble` as :class:`Source` Datasets."""
    opened: list[Source] = []
    for i, item in enumerate(sources, start=1):
        if isinstance(item, (str, Path)):
            opened.extend(_open_path(Path(item), chunks))
        elif isinstance(item, xr.Dataset):
            opened.append(Source(item, f"argument {i} (Dataset)"))
        elif isinstance(item, xr.DataArray):
            if "band" in item.dims:
                opened.append(Source(dataset_from_band_array(item), f"argument {i} (DataArray)"))
            elif item.name is None:
                raise InputError(
                    f"argument {i} is a DataArray without a name or a 'band' dimension, so the "
                    "band it holds is unknown; name it, e.g. da.rename('vv')"
                )
            else:
                opened.append(Source(item.to_dataset(), f"argument {i} (DataArray {item.name!r})"))
        else:
            raise InputTypeError(
                f"argument {i} is a {type(item).__name__}; assemble takes xarray Datasets, "
                "DataArrays and paths (GeoTIFF, folder of GeoTIFFs, .zarr, .nc, .grib)"
            )
    return [_with_time_dim(s) for s in opened]
