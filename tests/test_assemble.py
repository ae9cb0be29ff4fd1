"""xsoilmoist.assemble: products on their own grids and times -> one scene predict takes."""

from __future__ import annotations

import datetime
import shutil
import warnings

import numpy as np
import pooch
import pytest
import xarray as xr
from dask.optimization import cull
from helpers import raise_if_dask_computes, raster
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Transformer

import xsoilmoist
from xsoilmoist import datasets
from xsoilmoist.assembly import dataset_from_band_array
from xsoilmoist.assembly.rebuild import is_assembled, spatially_chunked
from xsoilmoist.assembly.regrid import geobox_of, to_grid
from xsoilmoist.errors import GridError, InputError, InputWarning, StandardizeError

pytest.importorskip("odc.geo")

UTM = "EPSG:32633"
T_SAR = np.datetime64("2021-06-10T16:50:00", "ns")
BASELINE = "02.05"  # BigEarthNet L2A (2017-2018): before baseline 04.00, no DN offset


def sar(times=(T_SAR,), n=40, res=10.0, **kw):
    rng = np.random.default_rng(0)
    shape = (len(times), n, n)
    vv = raster(rng.uniform(-15, -8, shape).astype("f4"), res=res, times=times, units="dB", **kw)
    vh = raster(rng.uniform(-22, -15, shape).astype("f4"), res=res, times=times, units="dB", **kw)
    return xr.Dataset({"VV": vv, "VH": vh})


def optical(times, n=40, res=10.0, value=1000):
    bands = {}
    for i, band in enumerate(["B02", "B03", "B04", "B08", "B11", "B12"]):
        dn = np.full((len(times), n, n), value + 100 * i, dtype="uint16")
        bands[band] = raster(dn, res=res, times=times, units="DN", BOA_ADD_OFFSET=0)
    return xr.Dataset(bands)


# ------------------------------------------------------------------ real BigEarthNet files


@pytest.fixture
def bigearthnet_files(sample_data, tmp_path):
    """Site 0's per-band product GeoTIFFs (10/20/60 m S2, 10 m S1), copied as a user holds them."""
    site = datasets.bigearthnet_sites()[0]
    s1 = [f for f in sample_data(datasets.BIGEARTHNET_S1_ARCHIVE, pooch.Untar()) if site in f]
    pair = datasets.load_bigearthnet_pair(site, standardize=False)
    s2 = [
        f
        for f in sample_data(datasets.BIGEARTHNET_S2_ARCHIVE, pooch.Untar())
        if pair.attrs["s2_patch"] in f
    ]
    folders = {"S1": tmp_path / "S1", "S2": tmp_path / "S2"}
    for key, files in (("S1", s1), ("S2", s2)):
        folders[key].mkdir()
        for f in files:
            if f.endswith(".tif"):
                shutil.copy(f, folders[key])
    return folders


@pytest.mark.filterwarnings("error::FutureWarning")  # none of rioxarray's from our own calls
def test_bigearthnet_per_band_files_agree_with_load_bigearthnet_pair(bigearthnet_files):
    scene = xsoilmoist.assemble(
        bigearthnet_files["S1"],
        bigearthnet_files["S2"],
        processing_baseline=BASELINE,
        units={"sar_c": "dB"},
    )
    reference = datasets.load_bigearthnet_pair(0)
    assert scene.rio.crs == reference.rio.crs
    np.testing.assert_allclose(scene["x"], reference["x"])
    np.testing.assert_allclose(scene["y"], reference["y"])
    assert scene["time"].values.tolist() == reference["time"].values.tolist()
    assert scene["swir1"].attrs["native_resolution_m"] == 20.0
    assert scene["swir1"].attrs["resampling"] == "bilinear"
    assert scene["coastal"].attrs["native_resolution_m"] == 60.0
    assert scene["vv"].attrs["resampling"] == "none"
    assert scene["swir1"].attrs["source"].endswith("_B11.tif")
    assert "-6.7 h" in scene["red"].attrs["time_rule"]
    for band in ("vv", "vh", "blue", "red", "nir", "ndvi"):
        np.testing.assert_array_equal(scene[band].values, reference[band].values)
    ours = xsoilmoist.predict(scene).compute()
    theirs = xsoilmoist.predict(reference).compute()
    assert float(abs(ours - theirs).mean()) < 0.005
    assert ours.rio.crs == reference.rio.crs


def _stackstac_like(raw: xr.Dataset, bands: list[str]) -> xr.DataArray:
    """A stackstac-style (time, band, y, x) float64 array: NaN fill, per-band coords, no units."""
    da = raw[bands].to_dataarray("band").transpose("time", "band", "y", "x")
    da = da.astype("float64").where(da != 0).chunk({"y": 60, "x": 60})
    da = da.assign_coords(
        common_name=("band", [f"name-{b}" for b in bands]),
        gsd=("band", [10.0] * len(bands)),
        epsg=32633,
    ).drop_vars("spatial_ref")
    da.attrs = {"crs": "epsg:32633", "resolution": 10.0}
    return da


def test_stackstac_style_band_arrays(sample_data):
    raw = datasets.load_bigearthnet_pair(0, standardize=False)
    s2 = _stackstac_like(raw, ["B02", "B03", "B04", "B08", "B11", "B12"])
    s1 = _stackstac_like(raw, ["VV", "VH"])
    with raise_if_dask_computes():
        scene = xsoilmoist.assemble(
            s1, s2, processing_baseline=BASELINE, units={"optical": "DN", "sar_c": "dB"}
        )
    reference = datasets.load_bigearthnet_pair(0)
    assert scene.rio.crs.to_epsg() == 32633
    assert scene["red"].attrs["common_name"] == "name-B04"
    for band in ("vv", "vh", "red", "swir1"):
        np.testing.assert_array_equal(scene[band].values, reference[band].values)


def test_dataset_from_band_array_keeps_attrs_coords_and_crs():
    da = xr.concat([raster(np.zeros((1, 3, 3)), times=[T_SAR])] * 2, dim="band")
    da = da.transpose("time", "band", "y", "x").assign_coords(
        band=["B04", "B08"], title=("band", ["Red", "NIR"]), cloud=("time", [3.0])
    )
    da.attrs = {"units": "DN", "scale_factor": 1.0}
    ds = dataset_from_band_array(da)
    assert list(ds.data_vars) == ["B04", "B08"]
    assert ds["B08"].attrs == {"units": "DN", "scale_factor": 1.0, "title": "NIR"}
    assert ds["B04"].dims == ("time", "y", "x")
    assert ds["cloud"].values.tolist() == [3.0]
    assert ds.rio.crs.to_epsg() == 32633
    assert "band" in da.dims and "title" in da.coords  # input untouched
    numbered = da.assign_coords(band=[1, 2]).assign_attrs(long_name=("VV", "VH"))
    assert list(dataset_from_band_array(numbered).data_vars) == ["VV", "VH"]
    with pytest.raises(InputError, match="no 'band' dimension"):
        dataset_from_band_array(da.isel(band=0))
    with pytest.raises(InputError, match="repeats"):
        dataset_from_band_array(da.assign_coords(band=["B04", "B04"]))


def test_odc_stac_load_from_a_local_static_catalogue(bigearthnet_files, tmp_path):
    pystac = pytest.importorskip("pystac")
    odc_stac = pytest.importorskip("odc.stac")
    import rioxarray

    def item(name, folder, when):
        new = pystac.Item(name, geometry=None, bbox=None, datetime=when, properties={})
        new.stac_extensions.append(
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
        )
        for path in sorted(folder.glob("*.tif")):
            with rioxarray.open_rasterio(path) as r:
                fields = {
                    "proj:epsg": r.rio.crs.to_epsg(),
                    "proj:shape": list(r.shape[1:]),
                    "proj:transform": list(r.rio.transform())[:6],
                }
            asset = pystac.Asset(str(path), media_type=pystac.MediaType.GEOTIFF, roles=["data"])
            asset.extra_fields.update(fields)
            new.add_asset(path.stem.rsplit("_", 1)[1], asset)
        return new

    catalog = pystac.Catalog("sample", "BigEarthNet sample patches")
    catalog.add_item(
        item("s1", bigearthnet_files["S1"], datetime.datetime(2017, 6, 13, 16, 50, 43))
    )
    catalog.add_item(
        item("s2", bigearthnet_files["S2"], datetime.datetime(2017, 6, 13, 10, 10, 31))
    )
    catalog.normalize_and_save(str(tmp_path / "stac"), pystac.CatalogType.SELF_CONTAINED)
    items = {
        i.id: i for i in pystac.Catalog.from_file(str(tmp_path / "stac/catalog.json")).get_items()
    }
    options = {"chunks": {}, "resolution": 10, "resampling": "bilinear"}
    s1 = odc_stac.load([items["s1"]], bands=["VV", "VH"], **options)
    s2 = odc_stac.load([items["s2"]], bands=["B02", "B03", "B04", "B08", "B11", "B12"], **options)
    scene = xsoilmoist.assemble(
        s1, s2, processing_baseline=BASELINE, units={"optical": "DN", "sar_c": "dB"}
    )
    reference = datasets.load_bigearthnet_pair(0)
    for band in ("vv", "red"):
        np.testing.assert_array_equal(scene[band].values, reference[band].values)
    ours = xsoilmoist.predict(scene).compute()
    theirs = xsoilmoist.predict(reference).compute()
    assert float(abs(ours - theirs).mean()) < 0.005


# ------------------------------------------------------------------ grid, time, laziness


def test_grid_is_the_finest_sar_or_optical_one_and_others_are_resampled():
    s1 = sar(res=20.0, n=20)
    s2 = optical([T_SAR - np.timedelta64(1, "D")])
    lon, lat = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True).transform(400200, 5299800)
    dem = raster(
        np.linspace(100, 300, 40 * 40).reshape(40, 40).astype("f4"),
        x0=lon - 0.01,
        y0=lat + 0.01,
        res=0.0005,
        crs="EPSG:4326",
        name="dem",
        units="m",
    )
    scene = xsoilmoist.assemble(s1, s2, dem)
    assert scene.sizes == {"time": 1, "y": 40, "x": 40}
    assert scene["vv"].attrs["resampling"] == "bilinear"
    assert scene["red"].attrs["resampling"] == "none"
    assert scene["elevation"].dims == ("y", "x")
    assert scene["elevation"].attrs["time_rule"].startswith("static")
    assert "slope" in scene and "derived_from" in scene["slope"].attrs
    finer = xsoilmoist.assemble(s1, grid=sar(res=40.0, n=10))
    assert finer.sizes == {"time": 1, "y": 10, "x": 10}
    assert finer["vv"].attrs["resampling"] == "average"
    assert "EPSG:32633" in finer.attrs["assembly_grid"]


def test_slope_of_a_dem_coarser_than_the_grid_has_no_facets():
    """A 30 m DEM's slope comes from its own grid, resampled: on a curved surface it follows
    the true slope, where Horn's method on the interpolated DEM shows the 30 m pixels."""
    x0 = 400000.0 - 150.0
    x = x0 + 30.0 * (np.arange(30) + 0.5)
    z = 0.001 * (x - 399700.0) ** 2  # dz/dx = 0.002 (x - 399700): 0.6 to 1.8 over the scene
    dem = raster(np.tile(z, (30, 1)).astype("f4"), x0=x0, y0=5300150.0, res=30.0, name="dem")
    scene = xsoilmoist.assemble(sar(n=60), dem.assign_attrs(units="m"))
    truth = np.degrees(np.arctan(0.002 * (scene["x"].values - 399700.0)))
    error = np.abs(scene["slope"].values - truth)[2:-2, 2:-2]  # the edges are extrapolated
    assert error.max() < 0.05  # degrees; Horn's on the bilinear DEM: up to 0.38, 0.17 mean
    assert scene["slope"].attrs["resampling"] == "bilinear"
    assert scene["slope"].attrs["native_resolution_m"] == 30.0
    assert "DEM's own 30 m grid" in scene["slope"].attrs["notes"]
    fine = xsoilmoist.assemble(sar(n=60), dem.assign_attrs(units="m"), grid=dem)
    assert "notes" not in fine["slope"].attrs  # as fine as the grid: derived on the grid


def test_times_sar_anchored_optical_composited_with_scl_and_era5_aggregated():
    day = np.datetime64("2021-06-10", "ns")
    sar_times = [day + np.timedelta64(6, "h"), day + np.timedelta64(17, "h")]
    obs = [day - np.timedelta64(2, "D"), day - np.timedelta64(1, "D"), day + np.timedelta64(5, "D")]
    s2 = optical(obs)
    for i, value in enumerate([2000, 3000, 4000]):
        s2["B04"][i] = value
    scl = np.full((3, 20, 20), 4, dtype="uint8")
    scl[1, :10] = 9  # cloud (high probability) over the top half on the day before
    scl = raster(scl, res=20.0, times=obs, name="SCL")  # a 20 m product of its own
    hours = day + np.arange(0, 25) * np.timedelta64(1, "h")
    era5 = xr.Dataset(
        {
            "t2m": raster(
                np.broadcast_to(np.arange(25, dtype="f4")[:, None, None] + 280.0, (25, 4, 4)),
                x0=13.0,
                y0=48.0,
                res=0.25,
                crs="EPSG:4326",
                times=hours,
                units="K",
            ),
            "tp": raster(
                np.full((25, 4, 4), 0.001, dtype="f4"),
                x0=13.0,
                y0=48.0,
                res=0.25,
                crs="EPSG:4326",
                times=hours,
                units="m",
            ),
        }
    )
    s1 = sar(sar_times)  # near 13.7 E, 47.8 N: inside the ERA5 cells
    scene = xsoilmoist.assemble(s1, s2, scl, era5, time_tolerance="3D")
    np.testing.assert_array_equal(scene["time"].values, np.array(sar_times))
    red = scene["red"].values
    np.testing.assert_allclose(red[:, 20:], 0.3)  # clear day before: the closest
    np.testing.assert_allclose(red[:, :20], 0.2)  # cloudy there: two days before
    t2m = scene["t2m"].values
    np.testing.assert_allclose(t2m, np.mean(np.arange(24)) + 280 - 273.15, rtol=1e-5)
    np.testing.assert_allclose(scene["tp"].values, 24.0, rtol=1e-5)  # (00:00, 24:00], mm
    assert "daily sum" in scene["tp"].attrs["time_rule"]
    assert "SCL mask honoured" in scene["red"].attrs["time_rule"]
    assert "assembly_rules" in scene.attrs
    with pytest.warns(InputWarning, match=r"no optical observation within 12 h.*'red'"):
        far = xsoilmoist.assemble(s1, s2, time_tolerance="12h")
    assert "red" not in far and "vv" in far


def test_partial_era5_day_warns():
    hours = T_SAR.astype("datetime64[D]").astype("datetime64[ns]") + np.arange(
        1, 7
    ) * np.timedelta64(1, "h")
    tp = raster(
        np.zeros((6, 4, 4), "f4"),
        x0=13.0,
        y0=48.0,
        res=0.25,
        crs="EPSG:4326",
        times=hours,
        units="m",
        name="tp",
    )
    with pytest.warns(InputWarning, match="only 6 steps"):
        xsoilmoist.assemble(sar(), tp)


def test_era5_files_per_day_and_modis_composites():
    days = [T_SAR - np.timedelta64(1, "D"), T_SAR + np.timedelta64(1, "D")]
    sar_times = [T_SAR, *days]
    era5 = [
        raster(np.full((1, 4, 4), 290.0 + i, "f4"), x0=13.0, y0=48.0, res=0.25,
               crs="EPSG:4326", times=[np.datetime64(str(t)[:10], "ns")], units="K", name="t2m")
        for i, t in enumerate(sar_times[:2])
    ]  # fmt: skip
    starts = np.array(["2021-06-02", "2021-06-10"], dtype="datetime64[ns]")
    lai = raster(np.stack([np.full((10, 10), 10), np.full((10, 10), 20)]).astype("uint8"),
                 res=40.0, times=starts, name="Lai_500m")  # fmt: skip
    with pytest.warns(InputWarning, match=r"t2m: no data on 2021-06-11"):
        scene = xsoilmoist.assemble(sar(sar_times), *era5, lai)
    t2m = scene["t2m"].values
    np.testing.assert_allclose(t2m[0], 291 - 273.15, rtol=1e-5)  # 2021-06-09: second file
    np.testing.assert_allclose(t2m[1], 290 - 273.15, rtol=1e-5)  # 2021-06-10: first file
    assert np.isnan(t2m[2]).all()  # 2021-06-11: no file
    lai_values = scene["lai"].values
    np.testing.assert_allclose(lai_values[0], 1.0)  # 2021-06-09: the composite from 06-02
    np.testing.assert_allclose(lai_values[1:], 2.0)  # 06-10 and 06-11: the one from 06-10
    assert "composite covering the SAR time" in scene["lai"].attrs["time_rule"]


def test_nothing_computes_on_dask_inputs_until_asked():
    obs = [T_SAR - np.timedelta64(1, "D")]
    s1 = sar(n=64).chunk({"y": 32, "x": 32})
    s2 = optical(obs, n=32, res=20.0).chunk({"y": 16, "x": 16})
    dem = raster(np.full((16, 16), 300.0, "f4"), res=40.0, name="dem", units="m").chunk(8)
    with raise_if_dask_computes():
        scene = xsoilmoist.assemble(s1, s2, dem)
    assert all(v.chunks is not None for v in scene.data_vars.values())
    assert np.isfinite(scene["red"].values).all()


@settings(max_examples=25, deadline=None)
@given(
    source_chunks=st.tuples(st.integers(3, 16), st.integers(3, 16)),
    target_chunks=st.tuples(st.integers(5, 64), st.integers(5, 64)),
    res=st.sampled_from([5.0, 20.0, 40.0]),
)
def test_lazy_resampling_is_the_in_memory_one_for_any_chunks(source_chunks, target_chunks, res):
    """Every target pixel reads all its source neighbours, whatever both grids' chunks."""
    n = int(640 / res)
    values = np.random.default_rng(2).uniform(100, 400, (2, n, n)).astype("f4")
    values[0, : n // 4, : n // 3] = np.nan
    source = raster(values, res=res, times=[T_SAR, T_SAR + np.timedelta64(1, "D")], units="m")
    source = source.assign_coords(baseline=("time", ["04.00", "05.00"]))  # kept, as odc-geo does
    target = geobox_of(raster(np.zeros((64, 64), "f4")), "the target")
    expected, method = to_grid(source, target, categorical=False)
    lazy, _ = to_grid(source.chunk({"time": 1, "y": source_chunks[0], "x": source_chunks[1]}),
                      target, categorical=False, chunks=target_chunks)  # fmt: skip
    assert method == {5.0: "average", 20.0: "bilinear", 40.0: "bilinear"}[res]
    assert lazy.chunks[1:] == tuple(
        (c,) * (64 // c) + ((64 % c,) if 64 % c else ()) for c in target_chunks
    )
    assert lazy.dims == expected.dims and sorted(lazy.coords) == sorted(expected.coords)
    np.testing.assert_array_equal(lazy.values, expected.values)
    xr.testing.assert_identical(lazy["time"], expected["time"])


@pytest.mark.parametrize("res", [5.0, 20.0])
def test_chunks_inside_the_source_without_nodata_take_the_unmasked_kernel(res, monkeypatch):
    """GDAL's kernel without a mask (about twice as fast) gives the masked kernel's values."""
    from xsoilmoist.assembly import regrid

    calls = []
    unmasked = regrid._warp_without_mask
    monkeypatch.setattr(regrid, "_warp_without_mask", lambda *a: calls.append(1) or unmasked(*a))
    n = int(960 / res)  # the source reaches 160 m beyond the target on every side
    values = np.random.default_rng(3).uniform(100, 400, (n, n)).astype("f4")
    values[: n // 2, : n // 2] = np.nan  # the chunks reading these take the masked kernel
    source = raster(values, x0=399840.0, y0=5300160.0, res=res, units="m")
    target = geobox_of(raster(np.zeros((64, 64), "f4")), "the target")
    expected, _ = to_grid(source, target, categorical=False)
    lazy, _ = to_grid(source.chunk(16), target, categorical=False, chunks=(16, 16))
    np.testing.assert_array_equal(lazy.values, expected.values)
    assert 0 < len(calls) < 16  # some chunks read NaN
    scl = (source // 100).fillna(0).astype("uint8")  # classes 1 to 4; 0 is no data
    calls.clear()
    expected, _ = to_grid(scl, target, categorical=True)
    lazy, _ = to_grid(scl.chunk(16), target, categorical=True, chunks=(16, 16))
    np.testing.assert_array_equal(lazy.values, expected.values)
    assert 0 < len(calls) < 16


def _reprojections(array) -> int:
    """Resampling tasks in the graph that computes the first chunk of ``array``'s second row."""
    key = (array.name, *([0] * (array.ndim - 2)), 1, 0)
    graph = cull(dict(array.__dask_graph__()), [key])[0]
    return sum(str(k[0] if isinstance(k, tuple) else k).startswith("regrid") for k in graph)


def test_predict_reads_an_assembled_scene_built_again_at_its_block_edges():
    rng = np.random.default_rng(1)
    obs = [T_SAR - np.timedelta64(1, "D")]
    s1 = sar(n=64)
    s2 = xr.Dataset(
        {
            band: raster(rng.integers(500, 3000, (1, 32, 32)).astype("u2"), res=20.0,
                         times=obs, units="DN", BOA_ADD_OFFSET=0)
            for band in ["B02", "B03", "B04", "B08", "B11", "B12"]
        }
    )  # fmt: skip
    dem = raster(rng.uniform(100, 400, (16, 16)).astype("f4"), res=40.0, name="dem", units="m")
    scene = xsoilmoist.assemble(s1.chunk(32), s2.chunk(16), dem.chunk(8))
    sizes = {"y": (24, 16, 24), "x": (40, 24)}  # (1, 0) straddles 2 x 2 of the scene's chunks
    with raise_if_dask_computes():
        again = spatially_chunked(scene, sizes)
    assert again["swir1"].chunks[1:] == (sizes["y"], sizes["x"])
    assert again["elevation"].chunks == (sizes["y"], sizes["x"])
    # each chunk resamples only its own pixels: one task per resampled optical band, where
    # cutting the scene's chunks would resample whole the four chunks the piece straddles
    assert _reprojections(again["swir1"].data) == 6
    assert _reprojections(scene.chunk(sizes)["swir1"].data) == 24
    xr.testing.assert_allclose(again, xsoilmoist.assemble(s1, s2, dem), rtol=1e-5)
    for name in again.data_vars:
        assert again[name].attrs == scene[name].attrs
    assert again.rio.crs == scene.rio.crs
    # predict gives such scenes bigger blocks (inference.ASSEMBLED_BLOCK): fewer pieces to build
    assert is_assembled(scene)
    assert not is_assembled(scene.chunk(sizes)) and not is_assembled(scene.compute())
    changed = spatially_chunked(scene.assign(vv=scene["vv"] + 1.0), sizes)  # not the assembled vv
    xr.testing.assert_allclose(changed["vv"], scene["vv"] + 1.0)
    assert changed["vv"].chunks[1:] == (sizes["y"], sizes["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        lazy = xsoilmoist.predict(scene).compute()
        eager = xsoilmoist.predict(scene.compute())
    xr.testing.assert_allclose(lazy, eager, atol=1e-5)


def test_inputs_are_not_modified():
    s1 = sar()
    before = s1.copy(deep=True)
    xsoilmoist.assemble(s1, units={"VV": "dB"})
    xr.testing.assert_identical(s1, before)


# ------------------------------------------------------------------ clear errors


def test_no_sar_is_an_error():
    with pytest.raises(InputError, match="no SAR band"):
        xsoilmoist.assemble(optical([T_SAR]))


def test_no_overlap_is_a_grid_error():
    far = optical([T_SAR], n=10).pipe(lambda d: d.assign_coords(x=d["x"] + 1e6))
    with pytest.raises(GridError, match="does not overlap"):
        xsoilmoist.assemble(sar(), far)


def test_unknown_band_names_are_named():
    with pytest.raises(InputError, match=r"unknown band names: 'foo' in argument 2.*rename="):
        xsoilmoist.assemble(sar(), raster(np.zeros((4, 4)), name="foo", units="1"))


def test_unnamed_data_array_and_bad_types():
    with pytest.raises(InputError, match="without a name"):
        xsoilmoist.assemble(sar(), raster(np.zeros((4, 4))).rename(None))
    with pytest.raises(InputError, match="assemble takes"):
        xsoilmoist.assemble(sar(), 42)


def test_missing_units_names_the_source():
    s1 = sar()
    s1["VV"].attrs = {}
    with pytest.raises(StandardizeError, match=r"(?s)argument 1 \(Dataset\).*'VV'.*units"):
        xsoilmoist.assemble(s1)


def test_assembled_scene_predicts_on_its_grid():
    scene = xsoilmoist.assemble(sar(n=48), optical([T_SAR], n=24, res=20.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InputWarning)
        ssm = xsoilmoist.predict(scene)
    assert ssm.sizes == {"time": 1, "y": 48, "x": 48}
    assert ssm.rio.crs.to_epsg() == 32633


def test_cli_assemble_writes_a_scene_predict_takes(bigearthnet_files, tmp_path, capsys):
    from xsoilmoist.cli import main
    from xsoilmoist.io import open_scene

    out = tmp_path / "scene.zarr"
    args = [str(bigearthnet_files["S1"]), str(bigearthnet_files["S2"]), str(out)]
    options = ["--processing-baseline", BASELINE, "--units", "sar_c=dB"]
    assert main(["assemble", *args, *options]) == 0
    assert "wrote" in capsys.readouterr().out
    scene = open_scene(out)
    reference = datasets.load_bigearthnet_pair(0)
    np.testing.assert_array_equal(scene["red"].values, reference["red"].values)
    assert scene.rio.crs == reference.rio.crs
    assert main(["assemble", str(bigearthnet_files["S2"]), str(tmp_path / "x.zarr")]) == 2
    assert "no SAR band" in capsys.readouterr().err
