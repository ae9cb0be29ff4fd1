"""Readers: scenes from zarr, netCDF or GeoTIFF files."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

__all__ = ["open_scene"]

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
        Dask chunks passed to the reader; ``None`` loads numpy arrays.

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
        raise FileNotFoundError(f"scene {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".zarr" or (path / ".zgroup").exists() or (path / "zarr.json").exists():
        return xr.open_zarr(path, chunks=chunks, decode_coords="all")
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
                raise ValueError(
                    f"the GeoTIFFs in {str(path)!r} are not all on one grid ({err}); resample "
                    "them onto one grid first, e.g. with rio.reproject_match"
                ) from err
    raise ValueError(
        f"cannot open {str(path)!r}: expected a .zarr store, a .nc file, a GeoTIFF/VRT or a "
        "folder of GeoTIFFs"
    )
