"""Download helpers shared by the sample-data and model registries (pooch)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

from xsoilmoist.errors import InputNotFoundError

__all__ = ["copy_from_file_url", "downloader_for"]


def copy_from_file_url(url: str, output_file, pooch_obj) -> None:
    """Pooch downloader for ``file://`` URLs: copy the local file.

    Pooch has no downloader for local folders; this lets a registry's base URL
    point at one (tests, CI, air-gapped mirrors). Pooch still checks the hash.
    """
    source = Path(unquote(urlparse(url).path))
    if not source.is_file():
        raise InputNotFoundError(f"{url} does not exist")
    if isinstance(output_file, (str, os.PathLike)):
        shutil.copyfile(source, output_file)
    else:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, output_file)


def downloader_for(url: str):
    """The downloader for ``url``: :func:`copy_from_file_url` for ``file://``, else pooch's."""
    return copy_from_file_url if url.startswith("file://") else None
