"""Shared fixtures: the real sample data served from ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from xsoilmoist import datasets

#: The project's shared sample-data folder, beside the repository.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _sample_data_source(tmp_path_factory):
    """Point the sample-data registry at the local folder and a fresh cache."""
    old = {k: os.environ.get(k) for k in (datasets.BASE_URL_ENV, datasets.CACHE_DIR_ENV)}
    if SHARED_DATA.is_dir():
        os.environ[datasets.BASE_URL_ENV] = SHARED_DATA.as_uri() + "/"
    os.environ[datasets.CACHE_DIR_ENV] = str(tmp_path_factory.mktemp("sample-data-cache"))
    yield
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def sample_data():
    """The sample-data fetcher; skips the test when the shared data folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real sample data not found at {SHARED_DATA} (see docs/data.rst)")
    return datasets.fetch
