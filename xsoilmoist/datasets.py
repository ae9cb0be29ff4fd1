"""Registry of real sample data (Sentinel-1/2, DEM, ERA5), fetched with pooch.

Every file is listed with its sha256 in ``xsoilmoist/registry/sample_data.txt``;
a file whose hash does not match is refused. Files are cached in
``pooch.os_cache("xsoilmoist")/sample-data`` unless ``XSOILMOIST_DATA_DIR``
names another folder, and are fetched from :data:`DEFAULT_BASE_URL` unless
``XSOILMOIST_DATA_URL`` names another base URL. A ``file://`` base URL reads
from a local folder (tests and CI point it at the project's ``shared/data``).

:func:`load_bigearthnet_pair` turns one BigEarthNet Sentinel-1/Sentinel-2 patch
pair into one 10 m Dataset.

Licences: see ``docs/data.rst``. None of these files carries soil-moisture
truth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pooch
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

from xsoilmoist.downloads import downloader_for
from xsoilmoist.errors import InputError

__all__ = [
    "BASE_URL_ENV",
    "BIGEARTHNET_S1_ARCHIVE",
    "BIGEARTHNET_S2_ARCHIVE",
    "CACHE_DIR_ENV",
    "DEFAULT_BASE_URL",
    "available",
    "bigearthnet_sites",
    "fetch",
    "load_bigearthnet_pair",
    "sample_data_registry",
]

#: Environment variable overriding the base URL of the sample-data registry.
BASE_URL_ENV = "XSOILMOIST_DATA_URL"
#: Environment variable overriding the sample-data cache folder.
CACHE_DIR_ENV = "XSOILMOIST_DATA_DIR"
#: Where the sample files are published.
DEFAULT_BASE_URL = "https://github.com/xsoilmoist/xsoilmoist-data/raw/v1/"

_REGISTRY_FILE = Path(__file__).parent / "registry" / "sample_data.txt"


def sample_data_registry() -> pooch.Pooch:
    """The pooch registry of sample files, with base URL and cache from the environment.

    Read anew on each call, so changing ``XSOILMOIST_DATA_URL`` or
    ``XSOILMOIST_DATA_DIR`` takes effect at once.

    Examples
    --------
    >>> reg = sample_data_registry()
    >>> "dem/Rome-30m-DEM.tif" in reg.registry
    True
    """
    base_url = os.environ.get(BASE_URL_ENV, DEFAULT_BASE_URL)
    if not base_url.endswith("/"):
        base_url += "/"
    registry = pooch.create(
        path=pooch.os_cache("xsoilmoist") / "sample-data",
        base_url=base_url,
        env=CACHE_DIR_ENV,
        registry=None,
        retry_if_failed=0 if base_url.startswith("file://") else 2,
    )
    registry.load_registry(_REGISTRY_FILE)
    return registry


def available() -> list[str]:
    """Names of the files in the sample-data registry.

    Examples
    --------
    >>> "dem/Rome-30m-DEM.tif" in available()
    True
    """
    return sorted(sample_data_registry().registry)


def fetch(name: str, processor=None) -> Path:
    """Path to a verified local copy of sample file ``name``, downloading it if needed.

    Parameters
    ----------
    name
        A name from :func:`available`, e.g. ``"dem/Rome-30m-DEM.tif"``.
    processor
        Optional pooch processor (e.g. ``pooch.Untar()``); the return value is
        then whatever the processor returns.

    Raises
    ------
    KeyError
        If ``name`` is not in the registry.
    ValueError
        If the file's sha256 does not match the registry (the file is not kept).

    Examples
    --------
    >>> path = fetch("dem/Rome-30m-DEM.tif")  # doctest: +SKIP
    """
    registry = sample_data_registry()
    if name not in registry.registry:
        raise InputError(f"{name!r} is not a sample file; choose one of {available()}")
    url = registry.get_url(name)
    result = registry.fetch(name, processor=processor, downloader=downloader_for(url))
    return Path(result) if isinstance(result, (str, os.PathLike)) else result


# ---------------------------------------------------------------- BigEarthNet

#: Registry name of the archive of BigEarthNet Sentinel-1 example patches.
BIGEARTHNET_S1_ARCHIVE = "bigearthnet/BigEarthNet-S1-Example.tar.bz2"
#: Registry name of the archive of the matching Sentinel-2 L2A example patches.
BIGEARTHNET_S2_ARCHIVE = "bigearthnet/BigEarthNet-S2-Example.tar.bz2"

# Sentinel-2 L2A bands of a BigEarthNet patch (no B10 in L2A), in product order,
# with their native resolution in metres.
_S2_BAND_RESOLUTION = {
    "B01": 60,
    "B02": 10,
    "B03": 10,
    "B04": 10,
    "B05": 20,
    "B06": 20,
    "B07": 20,
    "B08": 10,
    "B8A": 20,
    "B09": 60,
    "B11": 20,
    "B12": 20,
}
_S2_GRID_BAND = "B02"
_S1_POLARISATIONS = ("VV", "VH")
_METADATA_SUFFIX = "_labels_metadata.json"

_BIGEARTHNET_ATTRS = {
    "title": "BigEarthNet Sentinel-1/Sentinel-2 patch pair on the Sentinel-2 10 m grid",
    "source": (
        "BigEarthNet-MM example patches (BigEarthNet-S1 and BigEarthNet-S2 v1.0), archives "
        "from the kai-tub/bigearthnet_common repository (Apache-2.0)"
    ),
    "license": "CDLA-Permissive-1.0",
    "references": (
        "Sumbul, G., de Wall, A., Kreuziger, T., Marcelino, F., Costa, H., Benevides, P., "
        "Caetano, M., Demir, B. and Markl, V. (2021): BigEarthNet-MM: A Large-Scale, "
        "Multimodal, Multilabel Benchmark Archive for Remote Sensing Image Classification "
        "and Retrieval. IEEE Geoscience and Remote Sensing Magazine 9(3), 174-180, "
        "doi:10.1109/MGRS.2021.3089174"
    ),
}


def _bigearthnet_patches(archive: str) -> dict[str, Path]:
    """Patch name -> folder of every patch in a BigEarthNet archive (fetched and unpacked)."""
    files = fetch(archive, processor=pooch.Untar())
    return {
        Path(f).name.removesuffix(_METADATA_SUFFIX): Path(f).parent
        for f in files
        if f.endswith(_METADATA_SUFFIX)
    }


def bigearthnet_sites() -> list[str]:
    """Names of the BigEarthNet Sentinel-1 patches that :func:`load_bigearthnet_pair` loads.

    Fetches (and verifies) the Sentinel-1 archive on first use.

    Examples
    --------
    >>> bigearthnet_sites()[0]  # doctest: +SKIP
    'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48'
    """
    return sorted(_bigearthnet_patches(BIGEARTHNET_S1_ARCHIVE))


def _read_band(path: Path) -> xr.DataArray:
    """One single-band GeoTIFF as an in-memory ``(y, x)`` DataArray with its CRS."""
    with rioxarray.open_rasterio(path) as raster:
        band = raster.load().squeeze("band", drop=True)
    band.encoding = {}  # file-specific (source path, block sizes); the CRS is in spatial_ref
    # Every (hash-checked) file carries identity CF packing, scale_factor=1 and
    # add_offset=0; dropped so that the BOA_* attrs alone state the Sentinel-2 DN coding.
    del band.attrs["scale_factor"], band.attrs["add_offset"]
    return band


def _read_metadata(folder: Path) -> dict:
    return json.loads((folder / f"{folder.name}{_METADATA_SUFFIX}").read_text())


def _sentinel2_band(folder: Path, band: str, grid: xr.DataArray) -> xr.DataArray:
    """A Sentinel-2 L2A band on the 10 m grid, as uint16 DN with its coding in attrs."""
    dn = _read_band(folder / f"{folder.name}_{band}.tif").rio.write_nodata(0)
    resolution = _S2_BAND_RESOLUTION[band]
    if resolution != 10:
        dn = dn.rio.reproject_match(grid, resampling=Resampling.bilinear)
    return dn.assign_attrs(
        long_name=f"Sentinel-2 L2A {band} surface reflectance (BOA) x 10000",
        units="DN",
        # BigEarthNet L2A was made by sen2cor before processing baseline 04.00 (2022),
        # so reflectance = DN / 10000, without the later -1000 DN offset.
        BOA_ADD_OFFSET=0,
        BOA_QUANTIFICATION_VALUE=10000,
        native_resolution_m=resolution,
        resampling="none" if resolution == 10 else "bilinear (rio.reproject_match)",
    )


def _sentinel1_band(folder: Path, polarisation: str, grid: xr.DataArray) -> xr.DataArray:
    """A Sentinel-1 backscatter band (float32 dB) on the Sentinel-2 10 m grid."""
    backscatter = _read_band(folder / f"{folder.name}_{polarisation}.tif")
    # Nearest neighbour: the BigEarthNet S1 patches share the S2 10 m grid, so this
    # copies values exactly; on any other grid it avoids averaging in dB.
    on_grid = backscatter.rio.reproject_match(grid, resampling=Resampling.nearest)
    return on_grid.assign_attrs(
        long_name=f"Sentinel-1 IW GRD {polarisation} backscatter",
        units="dB",
        resampling="nearest (rio.reproject_match)",
    )


def load_bigearthnet_pair(
    site: str | int = 0, *, standardize: bool = True, chunks=None
) -> xr.Dataset:
    """One real BigEarthNet Sentinel-1/Sentinel-2 patch pair as one 10 m Dataset.

    Both archives are fetched through the sample-data registry (sha256
    checked). The Sentinel-1 patch's metadata names its Sentinel-2 patch
    (``corresponding_s2_patch``); the result lies on that patch's 10 m grid
    (``B02``: 120 x 120 pixels, 1.2 km, UTM, the CRS kept as ``spatial_ref``).
    The 20 m and 60 m Sentinel-2 bands are resampled onto it bilinearly with
    ``rio.reproject_match``; ``VV`` and ``VH`` with nearest neighbour (their
    grid is the same 10 m grid, so their values are unchanged).

    Parameters
    ----------
    site
        A name from :func:`bigearthnet_sites` or its index in that list.
    standardize
        Return :func:`xsoilmoist.bands.standardize` of the raw Dataset
        (canonical names, reflectance 0-1, dB, derived ``ndvi`` and ``vh_vv``)
        instead of the raw product bands.
    chunks
        If given, the Dataset is returned dask-backed with these chunks (as for
        :meth:`xarray.Dataset.chunk`); the files are small and are read at once.

    Returns
    -------
    xarray.Dataset
        Raw (``standardize=False``): Sentinel-2 bands ``B01``..``B12`` and ``B8A``
        as uint16 DN (``units="DN"``, ``BOA_ADD_OFFSET=0``,
        ``BOA_QUANTIFICATION_VALUE=10000``, nodata 0) and Sentinel-1 ``VV`` and
        ``VH`` as float32 ``units="dB"``, all with dims ``(time, y, x)``. ``time``
        has length 1: the Sentinel-1 acquisition time (UTC); the Sentinel-2
        acquisition time (same or neighbouring day) is the coordinate
        ``s2_acquisition_time`` along ``time``. Attrs: ``source``,
        ``license`` (CDLA-Permissive-1.0), ``references`` (Sumbul et al. 2021),
        ``s1_patch``, ``s2_patch``, their source products and the CORINE
        Land Cover 2018 ``labels`` (a list of strings).

    Raises
    ------
    KeyError
        If ``site`` is not a name from :func:`bigearthnet_sites`.
    IndexError
        If ``site`` is an index outside that list.

    Examples
    --------
    >>> ds = load_bigearthnet_pair(0, standardize=False)  # doctest: +SKIP
    >>> ds["B04"].sizes  # doctest: +SKIP
    Frozen({'time': 1, 'y': 120, 'x': 120})
    """
    s1_patches = _bigearthnet_patches(BIGEARTHNET_S1_ARCHIVE)
    sites = sorted(s1_patches)
    if isinstance(site, (int, np.integer)):
        if not -len(sites) <= site < len(sites):
            raise InputError(f"site index {site} out of range: there are {len(sites)} sites")
        site = sites[site]
    if site not in s1_patches:
        raise InputError(f"{site!r} is not a BigEarthNet sample site; choose one of {sites}")
    s1_folder = s1_patches[site]
    s1_meta = _read_metadata(s1_folder)
    s2_folder = _bigearthnet_patches(BIGEARTHNET_S2_ARCHIVE)[s1_meta["corresponding_s2_patch"]]
    s2_meta = _read_metadata(s2_folder)

    grid = _read_band(s2_folder / f"{s2_folder.name}_{_S2_GRID_BAND}.tif")
    bands = {band: _sentinel2_band(s2_folder, band, grid) for band in _S2_BAND_RESOLUTION}
    bands.update({pol: _sentinel1_band(s1_folder, pol, grid) for pol in _S1_POLARISATIONS})
    s1_time = np.datetime64(s1_meta["acquisition_time"], "ns")
    s2_time = np.datetime64(s2_meta["acquisition_date"].replace(" ", "T"), "ns")
    raw = xr.merge(
        [band.rename(name) for name, band in bands.items()],
        join="exact",  # every band is on the 10 m grid, or this raises
        compat="equals",
        combine_attrs="override",
    ).expand_dims(time=[s1_time])
    if chunks is not None:
        raw = raw.chunk(chunks)
    raw = raw.assign_coords(s2_acquisition_time=("time", [s2_time]))
    raw["time"].attrs["long_name"] = "Sentinel-1 acquisition time (UTC)"
    raw["s2_acquisition_time"].attrs["long_name"] = "Sentinel-2 acquisition time (UTC)"
    raw.attrs = {
        **_BIGEARTHNET_ATTRS,
        "s1_patch": site,
        "s2_patch": s2_folder.name,
        "s1_source_product": s1_meta["scene_source"],
        "s2_source_product": s2_meta["tile_source"],
        "labels": list(s1_meta["labels"]),
    }
    raw = raw.rio.write_crs(grid.rio.crs)
    if not standardize:
        return raw
    from xsoilmoist.bands import standardize as standardize_bands

    return standardize_bands(raw)
