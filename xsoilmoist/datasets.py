"""Registry of real sample data (Sentinel-1/2, DEM, ERA5), fetched with pooch.

Every file is listed in ``xsoilmoist/registry/sample_data.txt`` with its
sha256 and its upstream location: the public repository it comes from, pinned
to a release commit (see ``docs/data.rst``). A file whose hash does not match
is refused. Files are fetched from :data:`UPSTREAM_HOST` + that path unless
``XSOILMOIST_DATA_URL`` names a base URL (a mirror, or a ``file://`` folder:
tests and CI point it at the project's ``shared/data``); a file is then fetched
from that base URL + its registry name. They are cached in
``pooch.os_cache("xsoilmoist")/sample-data`` unless ``XSOILMOIST_DATA_DIR``
names another folder; a file put there by hand (under its registry name) is
used once its hash checks.

:func:`load_bigearthnet_pair` turns one BigEarthNet Sentinel-1/Sentinel-2 patch
pair into one 10 m Dataset.

Licences: see ``docs/data.rst``. None of these files carries soil-moisture
truth.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import numpy as np
import pooch
import rioxarray
import xarray as xr
from rasterio.enums import Resampling

from xsoilmoist.downloads import downloader_for
from xsoilmoist.errors import InputError, SampleDataError

__all__ = [
    "BASE_URL_ENV",
    "BIGEARTHNET_S1_ARCHIVE",
    "BIGEARTHNET_S2_ARCHIVE",
    "CACHE_DIR_ENV",
    "UPSTREAM_HOST",
    "available",
    "bigearthnet_sites",
    "fetch",
    "load_bigearthnet_pair",
    "sample_data_registry",
    "upstream_url",
]

#: Environment variable naming a base URL (mirror or ``file://`` folder) to fetch from instead.
BASE_URL_ENV = "XSOILMOIST_DATA_URL"
#: Environment variable overriding the sample-data cache folder.
CACHE_DIR_ENV = "XSOILMOIST_DATA_DIR"
#: Host of the upstream paths in the registry file (``OWNER/REPO/COMMIT/PATH``).
UPSTREAM_HOST = "https://raw.githubusercontent.com/"

_REGISTRY_FILE = Path(__file__).parent / "registry" / "sample_data.txt"


def _read_registry() -> dict[str, tuple[str, str]]:
    """Registry name -> (sha256, upstream path) from the registry file."""
    entries = {}
    for line in _REGISTRY_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sha256, upstream = line.split()
            entries[name] = (sha256, upstream)
    return entries


def upstream_url(name: str) -> str:
    """The upstream URL of sample file ``name`` (pinned to a commit), whatever the environment.

    Examples
    --------
    >>> upstream_url("dem/Rome-30m-DEM.tif").split("/")[3:5]
    ['bopen', 'sarsen']
    """
    entries = _read_registry()
    if name not in entries:
        raise InputError(f"{name!r} is not a sample file; choose one of {sorted(entries)}")
    return UPSTREAM_HOST + entries[name][1]


def sample_data_registry() -> pooch.Pooch:
    """The pooch registry of sample files, with its source and cache from the environment.

    Without ``XSOILMOIST_DATA_URL`` every file has its own upstream URL
    (``registry.urls``, under :data:`UPSTREAM_HOST`); with it, every file is
    fetched from that base URL + its registry name. Read anew on each call,
    so changing ``XSOILMOIST_DATA_URL`` or ``XSOILMOIST_DATA_DIR`` takes
    effect at once.

    Examples
    --------
    >>> reg = sample_data_registry()
    >>> "dem/Rome-30m-DEM.tif" in reg.registry
    True
    """
    entries = _read_registry()
    override = os.environ.get(BASE_URL_ENV)
    if override and not override.endswith("/"):
        override += "/"
    return pooch.create(
        path=pooch.os_cache("xsoilmoist") / "sample-data",
        base_url=override or UPSTREAM_HOST,
        env=CACHE_DIR_ENV,
        registry={name: sha256 for name, (sha256, _) in entries.items()},
        urls=None if override else {n: UPSTREAM_HOST + up for n, (_, up) in entries.items()},
        retry_if_failed=0 if (override or "").startswith("file://") else 2,
    )


def available() -> list[str]:
    """Names of the files in the sample-data registry.

    Examples
    --------
    >>> "dem/Rome-30m-DEM.tif" in available()
    True
    """
    return sorted(_read_registry())


def _short_reason(err: Exception) -> str:
    """One line saying why a fetch failed (the OS error of a connection, not its repr chain)."""
    text = " ".join(str(err).split())
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if errno:
        return f"{type(err).__name__}: {errno.group(1).strip()}"
    return f"{type(err).__name__}: {text.split(' for url: ')[0]}"


def _how_to_get(registry: pooch.Pooch, names: list[str]) -> str:
    """The fix for files that cannot be fetched: the env var, or the URLs to download by hand."""
    folders = sorted({str(Path(registry.abspath, name).parent) for name in names})
    by_hand = (
        f"download {' and '.join(upstream_url(n) for n in names)} by hand into "
        f"{' and '.join(folders)}"
    )
    if os.environ.get(BASE_URL_ENV):
        return (
            f"{BASE_URL_ENV} is {os.environ[BASE_URL_ENV]}: make it hold the sample files under "
            f"their registry names, unset it to fetch them upstream, or {by_hand}"
        )
    return (
        f"set {BASE_URL_ENV} to a mirror or file:// folder holding the sample files under "
        f"their registry names, or {by_hand}"
    )


def _fetch_all(names: list[str], processor=None) -> list:
    """Verified local copies of ``names``; a failure names the fix for all of them."""
    registry = sample_data_registry()
    unknown = [name for name in names if name not in registry.registry]
    if unknown:
        raise InputError(f"{unknown[0]!r} is not a sample file; choose one of {available()}")
    results = []
    for name in names:
        url = registry.get_url(name)
        # a copy per file: pooch's extractors keep the first file's extract_dir
        per_file = copy.copy(processor)
        try:
            result = registry.fetch(name, processor=per_file, downloader=downloader_for(url))
        except (OSError, ValueError) as err:  # requests' errors are OSErrors; hash: ValueError
            raise SampleDataError(
                f"could not fetch sample file {name!r} from {url} ({_short_reason(err)}); "
                f"{_how_to_get(registry, names)}"
            ) from err
        results.append(Path(result) if isinstance(result, (str, os.PathLike)) else result)
    return results


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
    InputError
        If ``name`` is not in the registry.
    SampleDataError
        If the file cannot be fetched (offline, source gone) or its sha256
        does not match the registry (the file is not kept). The message says
        how to get it: ``XSOILMOIST_DATA_URL``, or the upstream URL to download
        by hand into the cache folder.

    Examples
    --------
    >>> path = fetch("dem/Rome-30m-DEM.tif")  # doctest: +SKIP
    """
    return _fetch_all([name], processor=processor)[0]


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


def _bigearthnet_patches(*archives: str) -> list[dict[str, Path]]:
    """Per BigEarthNet archive, patch name -> folder (all fetched and unpacked, or none)."""
    return [
        {
            Path(f).name.removesuffix(_METADATA_SUFFIX): Path(f).parent
            for f in files
            if f.endswith(_METADATA_SUFFIX)
        }
        for files in _fetch_all(list(archives), processor=pooch.Untar())
    ]


def bigearthnet_sites() -> list[str]:
    """Names of the BigEarthNet Sentinel-1 patches that :func:`load_bigearthnet_pair` loads.

    Fetches (and verifies) the Sentinel-1 archive on first use.

    Examples
    --------
    >>> bigearthnet_sites()[0]  # doctest: +SKIP
    'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_87_48'
    """
    return sorted(_bigearthnet_patches(BIGEARTHNET_S1_ARCHIVE)[0])


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
    InputError
        If ``site`` is not a name from :func:`bigearthnet_sites` or an index
        in that list.
    SampleDataError
        If either archive cannot be fetched or verified; the message names
        both upstream URLs and ``XSOILMOIST_DATA_URL``.

    Examples
    --------
    >>> ds = load_bigearthnet_pair(0, standardize=False)  # doctest: +SKIP
    >>> ds["B04"].sizes  # doctest: +SKIP
    Frozen({'time': 1, 'y': 120, 'x': 120})
    """
    s1_patches, s2_patches = _bigearthnet_patches(BIGEARTHNET_S1_ARCHIVE, BIGEARTHNET_S2_ARCHIVE)
    sites = sorted(s1_patches)
    if isinstance(site, (int, np.integer)):
        if not -len(sites) <= site < len(sites):
            raise InputError(f"site index {site} out of range: there are {len(sites)} sites")
        site = sites[site]
    if site not in s1_patches:
        raise InputError(f"{site!r} is not a BigEarthNet sample site; choose one of {sites}")
    s1_folder = s1_patches[site]
    s1_meta = _read_metadata(s1_folder)
    s2_folder = s2_patches[s1_meta["corresponding_s2_patch"]]
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
