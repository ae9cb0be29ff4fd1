"""Readers and writers: scenes from zarr, netCDF or GeoTIFF files; ISMN stations; results."""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import xarray as xr

from xsoilmoist.errors import InputError, InputNotFoundError, OutputExistsError
from xsoilmoist.ismn import ISMNFormatError, read_ismn
from xsoilmoist.tiling import row_ordered

__all__ = ["ISMNFormatError", "open_scene", "read_ismn", "write_result"]

_GEOTIFF_SUFFIXES = {".tif", ".tiff", ".vrt"}


def _open_geotiff(path: Path, chunks) -> xr.Dataset:
    import rioxarray

    opened = rioxarray.open_rasterio(path, chunks=chunks, band_as_variable=True)
    names = {}
    for var in opened.data_vars:
        description = opened[var].attrs.get("long_name")
        if isinstance(description, str) and description:
            names[var] = description
    if len(opened.data_vars) == 1 and not names:
        names = {next(iter(opened.data_vars)): path.stem}
    return opened.rename(names)


def open_scene(path: str | Path, *, chunks: dict | str | None = "auto") -> xr.Dataset:
    """Open a scene as a (dask-backed) Dataset.

    Parameters
    ----------
    path
        A zarr store (folder ending ``.zarr``), a netCDF file (``.nc``), a
        GeoTIFF or VRT (each band one variable, named by its band description,
        or by the file name for a single band), or a folder of GeoTIFFs (one
        variable per file, named by the file stem, all on one grid).
    chunks
        Dask chunks passed to the reader; ``None`` loads numpy arrays. With
        ``"auto"`` a zarr store keeps its own chunks (the unit it is read in:
        dask's auto chunks can span a whole band, which every block of
        :func:`xsoilmoist.predict` would then read); other formats get dask's
        auto chunks.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the format is not one of the above.

    Examples
    --------
    >>> ds = open_scene("scene.zarr")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"scene {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".zarr" or (path / ".zgroup").exists() or (path / "zarr.json").exists():
        return xr.open_zarr(path, chunks={} if chunks == "auto" else chunks, decode_coords="all")
    if suffix in {".nc", ".nc4", ".netcdf"}:
        return xr.open_dataset(path, chunks=chunks, decode_coords="all")
    if suffix in _GEOTIFF_SUFFIXES:
        return _open_geotiff(path, chunks)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _GEOTIFF_SUFFIXES)
        if files:
            try:
                return xr.merge(
                    [_open_geotiff(f, chunks) for f in files],
                    join="exact",
                    compat="no_conflicts",
                    combine_attrs="drop_conflicts",
                )
            except ValueError as err:
                raise InputError(
                    f"the GeoTIFFs in {str(path)!r} are not all on one grid ({err}); resample "
                    "them onto one grid first, e.g. with rio.reproject_match"
                ) from err
    raise InputError(
        f"cannot open {str(path)!r}: expected a .zarr store, a .nc file, a GeoTIFF/VRT or a "
        "folder of GeoTIFFs"
    )


def _compute(obj, progress: bool):
    """Compute a dask object and return its value, with the right progress bar if asked."""
    if not progress:
        return dask.compute(obj)[0]
    try:
        from distributed import default_client
        from distributed import progress as distributed_progress

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        future = client.compute(obj)
        distributed_progress(future)
        return future.result()
    from dask.diagnostics import ProgressBar

    with ProgressBar():
        return dask.compute(obj)[0]


def write_result(
    da: xr.DataArray, path: str | Path, *, overwrite: bool = False, progress: bool = False
) -> Path:
    """Write a (lazy) result to a zarr store or a Cloud-Optimized GeoTIFF.

    Zarr is written block by block (memory bounded by the blocks). A GeoTIFF
    (``.tif``) is written as a COG with one band per time step, each band
    described by its date.

    Parameters
    ----------
    da
        The result, e.g. from :func:`xsoilmoist.predict`.
    path
        ``*.zarr`` or ``*.tif``/``*.tiff``.
    overwrite
        Replace an existing output; otherwise an existing path is an error.
    progress
        Show a progress bar while computing.

    Examples
    --------
    >>> write_result(ssm, "ssm.zarr")  # doctest: +SKIP
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".zarr", ".tif", ".tiff"}:
        raise InputError(f"cannot write {str(path)!r}: the output must end in .zarr or .tif")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{str(path)!r} exists; choose another path or overwrite it")
    if suffix == ".zarr":
        store = da.to_dataset(name=da.name or "ssm")
        for name in store.variables:
            store[name].encoding = {}
            chunks = store[name].chunks
            if chunks is not None:  # zarr needs equal chunks but the last
                sizes = {dim: max(c) for dim, c in zip(store[name].dims, chunks, strict=True)}
                evened = store[name].chunk(sizes)
                store[name] = evened.copy(data=row_ordered(evened.data))
        _compute(store.to_zarr(path, mode="w", compute=False), progress)
        return path
    raster = da
    if "time" in da.dims:
        raster = da.rename(time="band").assign_coords(band=np.arange(1, da.sizes["time"] + 1))
        raster.attrs["long_name"] = [str(t)[:19] for t in da["time"].values]
    if raster.chunks is not None:
        raster = raster.copy(data=_compute(row_ordered(raster.data), progress))
    raster.rio.to_raster(path, driver="COG")
    return path
