"""Sample-data registry and the BigEarthNet Sentinel-1/Sentinel-2 pair loader."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path

import numpy as np
import pooch
import pytest
import rioxarray
import xarray as xr
from conftest import SHARED_DATA

from xsoilmoist import datasets
from xsoilmoist.datasets import (
    BIGEARTHNET_S1_ARCHIVE,
    BIGEARTHNET_S2_ARCHIVE,
    available,
    bigearthnet_sites,
    load_bigearthnet_pair,
)
from xsoilmoist.errors import InputError, SampleDataError

N_SITES = 6  # the six example patch pairs described in shared/data/README.md
S2_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"]


def _patch_folders(fetch, archive: str) -> dict[str, Path]:
    files = fetch(archive, processor=pooch.Untar())
    return {Path(f).parent.name: Path(f).parent for f in files}


def _read(folder: Path, suffix: str) -> xr.DataArray:
    with rioxarray.open_rasterio(folder / f"{folder.name}_{suffix}") as raster:
        return raster.load().squeeze("band", drop=True)


def _utm_epsg_from_patch_name(s1_patch: str) -> int:
    """EPSG code of the UTM zone in the MGRS tile of a BigEarthNet S1 patch name."""
    mgrs_tile = s1_patch.split("_")[5]  # e.g. 33UUP: zone 33, latitude band U
    zone, latitude_band = int(mgrs_tile[:2]), mgrs_tile[2]
    return (32600 if latitude_band >= "N" else 32700) + zone


@functools.cache
def _load_site(site: int):
    raw = load_bigearthnet_pair(site, standardize=False)
    s1_folder = _patch_folders(datasets.fetch, BIGEARTHNET_S1_ARCHIVE)[raw.attrs["s1_patch"]]
    s2_folder = _patch_folders(datasets.fetch, BIGEARTHNET_S2_ARCHIVE)[raw.attrs["s2_patch"]]
    s1_meta = json.loads((s1_folder / f"{s1_folder.name}_labels_metadata.json").read_text())
    s2_meta = json.loads((s2_folder / f"{s2_folder.name}_labels_metadata.json").read_text())
    return raw, s1_folder, s2_folder, s1_meta, s2_meta


@pytest.fixture
def patch(sample_data, request):
    """(raw Dataset, S1 folder, S2 folder, S1 metadata, S2 metadata) of one site, loaded once."""
    return _load_site(request.param)


all_sites = pytest.mark.parametrize("patch", range(N_SITES), indirect=True)


# ---------------------------------------------------------------- registry


def test_registry_lists_every_shared_file_with_its_published_hash(sample_data):
    published = {}
    for line in (SHARED_DATA / "SHA256SUMS").read_text().splitlines():
        sha256, name = line.split()
        published[name.removeprefix("./")] = sha256
    assert datasets.sample_data_registry().registry == published
    assert datasets.available() == sorted(published)
    path = sample_data("dem/Rome-30m-DEM.tif")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["dem/Rome-30m-DEM.tif"]


def test_registry_refuses_a_file_whose_hash_does_not_match(sample_data, tmp_path, monkeypatch):
    name = "dem/Rome-30m-DEM.tif"
    tampered = bytearray(sample_data(name).read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    served = tmp_path / "served"
    (served / "dem").mkdir(parents=True)
    (served / name).write_bytes(bytes(tampered))
    cache = tmp_path / "cache"
    monkeypatch.setenv(datasets.BASE_URL_ENV, served.as_uri() + "/")
    monkeypatch.setenv(datasets.CACHE_DIR_ENV, str(cache))
    with pytest.raises(ValueError, match=r"(?i)hash.*does not match"):
        datasets.fetch(name)
    assert [p for p in cache.rglob("*") if p.is_file()] == []
    # the refused file did not poison the cache: the genuine one is fetched afterwards
    monkeypatch.setenv(datasets.BASE_URL_ENV, SHARED_DATA.as_uri() + "/")
    assert datasets.fetch(name).read_bytes() == sample_data(name).read_bytes()


def test_unknown_sample_name_lists_the_names():
    with pytest.raises(InputError, match=r"not a sample file.*dem/Rome-30m-DEM\.tif"):
        datasets.fetch("dem/Paris-30m-DEM.tif")


# ---------------------------------------------------------------- upstream

# Where each shared folder really lives: repository, release commit, folder in the repository.
UPSTREAM_FOLDERS = {
    "bigearthnet/": "kai-tub/bigearthnet_common/2a86ce7d3f8db72127de66f1a59a8b8e5e6f4d77/"
    "src/bigearthnet_common/",  # v2.8.0
    "dem/": "bopen/sarsen/e7540e973763a70b49f8e07b93891e37ba48eb36/tests/data/",  # v0.9.6
    "eolearn-testeopatch/": "sentinel-hub/eo-learn/303e75855880531d519264f847e7c6b2fb97104d/"
    "example_data/TestEOPatch/",  # v1.5.6
    "era5/": "ecmwf/cfgrib/2b58e81ace22c1632b3aded1de86207b103fe382/tests/sample-data/",
}


def _upstream_path(name: str) -> str:
    folder = next(f for f in UPSTREAM_FOLDERS if name.startswith(f))
    return "/" + UPSTREAM_FOLDERS[folder] + name.removeprefix(folder)


@pytest.fixture
def upstream(sample_data, monkeypatch, tmp_path):
    """A local HTTP server standing in for the upstream host, serving the shared files.

    The registry's upstream host is patched to it, ``XSOILMOIST_DATA_URL`` is unset and
    the cache is empty. Yields the server's ``files`` (URL path -> bytes, editable) and
    the ``requested`` URL paths.
    """
    files = {_upstream_path(name): (SHARED_DATA / name).read_bytes() for name in available()}
    requested = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requested.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(datasets, "UPSTREAM_HOST", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.delenv(datasets.BASE_URL_ENV, raising=False)
    monkeypatch.setenv(datasets.CACHE_DIR_ENV, str(tmp_path / "cache"))
    yield files, requested
    server.shutdown()
    server.server_close()
    thread.join()


def test_every_sample_file_names_its_upstream_url_pinned_to_a_release_commit():
    assert sorted(UPSTREAM_FOLDERS) == sorted({name.split("/")[0] + "/" for name in available()})
    for name in datasets.available():
        url = datasets.upstream_url(name)
        assert url == "https://raw.githubusercontent.com" + _upstream_path(name)
    assert not hasattr(datasets, "DEFAULT_BASE_URL")  # no default pointing nowhere


def test_without_the_override_every_file_is_fetched_upstream_and_verified(upstream):
    files, requested = upstream
    registry = datasets.sample_data_registry()
    for name in datasets.available():
        assert registry.get_url(name) == datasets.UPSTREAM_HOST + _upstream_path(name)[1:]
        path = datasets.fetch(name)
        assert path.read_bytes() == (SHARED_DATA / name).read_bytes()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == registry.registry[name]
    assert sorted(requested) == sorted(files)  # each upstream path once, nothing else
    assert load_bigearthnet_pair(0, standardize=False).sizes == {"time": 1, "y": 120, "x": 120}
    assert len(requested) == len(files)  # the pair came from the cache


def test_a_wrong_upstream_file_is_refused_and_not_kept(upstream, tmp_path):
    files, _ = upstream
    name = "eolearn-testeopatch/timestamps.json"
    files[_upstream_path(name)] = files[_upstream_path(name)].replace(b"2017", b"2018")
    with pytest.raises(SampleDataError, match=r"(?i)timestamps\.json.*hash.*does not match"):
        datasets.fetch(name)
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_a_failed_fetch_says_how_to_get_the_files(upstream, tmp_path):
    files, _ = upstream
    del files[_upstream_path(BIGEARTHNET_S2_ARCHIVE)]  # upstream gone
    with pytest.raises(SampleDataError) as refused:
        load_bigearthnet_pair(0)
    message = str(refused.value)
    assert "\n" not in message
    assert f"could not fetch sample file {BIGEARTHNET_S2_ARCHIVE!r}" in message
    assert "HTTPError: 404" in message
    assert f"set {datasets.BASE_URL_ENV} to a mirror or file:// folder" in message
    for archive in (BIGEARTHNET_S1_ARCHIVE, BIGEARTHNET_S2_ARCHIVE):
        assert datasets.upstream_url(archive) in message
    assert f"by hand into {tmp_path / 'cache' / 'bigearthnet'}" in message


def test_with_the_override_files_come_from_its_base_under_their_registry_names(sample_data):
    registry = datasets.sample_data_registry()
    for name in datasets.available():
        assert registry.get_url(name) == SHARED_DATA.as_uri() + "/" + name


# ---------------------------------------------------------------- BigEarthNet sites


def test_sites_are_the_sentinel1_patches_with_their_sentinel2_partners(sample_data):
    sites = bigearthnet_sites()
    assert len(sites) == N_SITES
    assert sites == sorted(sites)
    assert all(site.startswith("S1") for site in sites)
    s2_patches = _patch_folders(sample_data, BIGEARTHNET_S2_ARCHIVE)
    assert load_bigearthnet_pair(sites[2], standardize=False).attrs["s2_patch"] in s2_patches


def test_unknown_site_is_refused_with_the_site_names(sample_data):
    with pytest.raises(InputError, match=r"not a BigEarthNet sample site.*S1A_IW_GRDH"):
        load_bigearthnet_pair("S1A_nowhere")
    with pytest.raises(InputError, match=r"there are 6 sites"):
        load_bigearthnet_pair(N_SITES)


@all_sites
def test_pair_is_one_10m_utm_dataset_on_the_sentinel2_grid(patch):
    raw, _, s2_folder, s1_meta, _ = patch
    grid = _read(s2_folder, "B02.tif")
    assert list(raw.data_vars) == [*S2_BANDS, "VV", "VH"]
    for name, variable in raw.data_vars.items():
        assert variable.dims == ("time", "y", "x"), name
    assert raw.sizes == {"time": 1, "y": 120, "x": 120}
    assert raw.rio.resolution() == (10.0, -10.0)
    assert raw.rio.crs.to_epsg() == _utm_epsg_from_patch_name(raw.attrs["s1_patch"])
    assert raw.rio.crs == grid.rio.crs
    np.testing.assert_array_equal(raw.x, grid.x)
    np.testing.assert_array_equal(raw.y, grid.y)
    assert raw.attrs["s2_patch"] == s1_meta["corresponding_s2_patch"]
    assert raw.attrs["labels"] == s1_meta["labels"]
    assert raw.attrs["license"] == "CDLA-Permissive-1.0"
    assert "Sumbul" in raw.attrs["references"]


@all_sites
def test_times_are_the_acquisition_times_in_the_metadata(patch):
    raw, _, _, s1_meta, s2_meta = patch
    np.testing.assert_array_equal(
        raw.time.values, np.array([s1_meta["acquisition_time"]], dtype="datetime64[ns]")
    )
    s2_time = np.datetime64(s2_meta["acquisition_date"].replace(" ", "T"), "ns")
    np.testing.assert_array_equal(raw.s2_acquisition_time.values, [s2_time])
    assert abs(raw.time.values[0] - s2_time) < np.timedelta64(2, "D")


@all_sites
def test_sentinel1_backscatter_is_unchanged_and_plausible_db(patch):
    raw, s1_folder, *_ = patch
    for polarisation in ("VV", "VH"):
        original = _read(s1_folder, f"{polarisation}.tif")
        np.testing.assert_array_equal(raw[polarisation].isel(time=0), original)
        assert raw[polarisation].dtype == np.float32
        assert raw[polarisation].attrs["units"] == "dB"
        in_range = (raw[polarisation] > -35) & (raw[polarisation] < 5)
        assert float(in_range.mean()) > 0.98, polarisation
    assert float(raw.VH.median()) < float(raw.VV.median())  # cross-pol is the weaker return


@all_sites
def test_sentinel2_bands_keep_their_dn_coding(patch):
    raw, _, s2_folder, *_ = patch
    np.testing.assert_array_equal(raw.B04.isel(time=0), _read(s2_folder, "B04.tif"))
    for band in S2_BANDS:
        variable = raw[band]
        assert variable.dtype == np.uint16, band
        assert variable.attrs["units"] == "DN"
        assert variable.attrs["BOA_ADD_OFFSET"] == 0
        assert variable.attrs["BOA_QUANTIFICATION_VALUE"] == 10000
        assert variable.rio.nodata == 0


@all_sites
@pytest.mark.parametrize("band, factor", [("B11", 2), ("B8A", 2), ("B09", 6)])
def test_resampled_bands_are_aligned_with_their_native_pixels(patch, band, factor):
    raw, _, s2_folder, *_ = patch
    native = _read(s2_folder, f"{band}.tif").values.astype(np.float64)
    assert native.shape == (120 // factor, 120 // factor)
    resampled = raw[band].isel(time=0).values.astype(np.float64)

    def block_mean_error(values):
        n = 120 // factor
        blocks = values.reshape(n, factor, n, factor).mean(axis=(1, 3))
        return np.abs(blocks - native)[1:-1, 1:-1].mean()

    aligned = block_mean_error(resampled)
    half_pixel = factor // 2
    for shift in (half_pixel, -half_pixel):
        for axis in (0, 1):
            misaligned = block_mean_error(np.roll(resampled, shift, axis=axis))
            assert aligned < 0.7 * misaligned, (shift, axis)
    assert aligned < 0.5 * np.abs(np.diff(native, axis=1)).mean()


@pytest.mark.parametrize("patch", [0], indirect=True)
def test_20m_band_is_bilinear_upsampling_of_the_native_pixels(patch):
    raw, _, s2_folder, *_ = patch
    native = _read(s2_folder, "B8A.tif").values.astype(np.float64)

    def upsample_twice(values, axis):
        # pixel centres of the 10 m grid sit 1/4 of a 20 m pixel from the 20 m centres;
        # the edge rows and columns repeat (GDAL's clamped edge)
        values = np.moveaxis(values, axis, 0)
        before = np.concatenate([values[:1], values[:-1]])
        after = np.concatenate([values[1:], values[-1:]])
        out = np.empty((2 * values.shape[0], *values.shape[1:]))
        out[0::2] = 0.75 * values + 0.25 * before
        out[1::2] = 0.75 * values + 0.25 * after
        return np.moveaxis(out, 0, axis)

    expected = upsample_twice(upsample_twice(native, 0), 1)
    np.testing.assert_allclose(raw.B8A.isel(time=0), expected, atol=0.5 + 1e-9)


@pytest.mark.parametrize("patch", [4], indirect=True)
def test_standardized_pair(patch):
    pytest.importorskip("xsoilmoist.bands")
    raw = patch[0]
    ds = load_bigearthnet_pair(4)
    canonical = ["vv", "vh", "blue", "green", "red", "nir", "swir1", "swir2"]
    extra = ["re1", "re2", "re3", "nir08", "coastal", "water_vapour", "ndvi", "vh_vv"]
    assert set(canonical + extra) <= set(ds.data_vars)
    for name in ["blue", "green", "red", "nir", "swir1", "swir2", "re1", "nir08", "coastal"]:
        values = ds[name].values
        valid = values[np.isfinite(values)]
        assert valid.size > 0.99 * values.size, name
        assert valid.min() >= 0 and valid.max() <= 1, name
        assert ds[name].attrs["units"] == "1"
    np.testing.assert_allclose(ds.red, raw.B04 / 10000, rtol=1e-6)
    np.testing.assert_allclose(ds.vv, raw.VV)
    assert ds.vv.attrs["units"] == "dB"
    np.testing.assert_allclose(ds.vh_vv, raw.VH - raw.VV, atol=1e-5)
    assert float(np.nanmin(ds.ndvi)) >= -1 and float(np.nanmax(ds.ndvi)) <= 1
    assert ds.rio.crs == raw.rio.crs
    xr.testing.assert_identical(ds.coords.to_dataset(), raw.coords.to_dataset())
    assert ds.attrs == raw.attrs


@pytest.mark.parametrize("patch", [1], indirect=True)
def test_chunks_give_dask_backed_identical_values(patch):
    raw = patch[0]
    chunked = load_bigearthnet_pair(1, standardize=False, chunks={"y": 60, "x": 60})
    assert chunked.B05.chunks == ((1,), (60, 60), (60, 60))
    assert all(coord.chunks is None for coord in chunked.coords.values())  # coords in memory
    xr.testing.assert_identical(chunked.compute(), raw)
