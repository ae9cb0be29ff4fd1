"""Registry of real sample data (Sentinel-1/2, DEM, ERA5), fetched with pooch.

Every file is listed with its sha256 in ``xsoilmoist/registry/sample_data.txt``;
a file whose hash does not match is refused. Files are cached in
``pooch.os_cache("xsoilmoist")/sample-data`` unless ``XSOILMOIST_DATA_DIR``
names another folder, and are fetched from :data:`DEFAULT_BASE_URL` unless
``XSOILMOIST_DATA_URL`` names another base URL. A ``file://`` base URL reads
from a local folder (tests and CI point it at the project's ``shared/data``).

Licences: see ``docs/data.rst``. None of these files carries soil-moisture
truth.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pooch

__all__ = [
    "BASE_URL_ENV",
    "CACHE_DIR_ENV",
    "DEFAULT_BASE_URL",
    "available",
    "fetch",
    "sample_data_registry",
]

#: Environment variable overriding the base URL of the sample-data registry.
BASE_URL_ENV = "XSOILMOIST_DATA_URL"
#: Environment variable overriding the sample-data cache folder.
CACHE_DIR_ENV = "XSOILMOIST_DATA_DIR"
#: Where the sample files are published.
DEFAULT_BASE_URL = "https://github.com/xsoilmoist/xsoilmoist-data/raw/v1/"

_REGISTRY_FILE = Path(__file__).parent / "registry" / "sample_data.txt"


def _copy_from_file_url(url: str, output_file, pooch_obj) -> None:
    """Pooch downloader for ``file://`` URLs: copy the local file."""
    source = Path(unquote(urlparse(url).path))
    if not source.is_file():
        raise FileNotFoundError(
            f"sample file {source} not found (base URL from ${BASE_URL_ENV} or the default); "
            f"point ${BASE_URL_ENV} at the folder that holds the sample data"
        )
    if isinstance(output_file, (str, os.PathLike)):
        shutil.copyfile(source, output_file)
    else:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, output_file)


def _downloader_for(url: str):
    return _copy_from_file_url if url.startswith("file://") else None


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
        retry_if_failed=2,
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
        raise KeyError(f"{name!r} is not a sample file; choose one of {available()}")
    url = registry.get_url(name)
    result = registry.fetch(name, processor=processor, downloader=_downloader_for(url))
    return Path(result) if isinstance(result, (str, os.PathLike)) else result
