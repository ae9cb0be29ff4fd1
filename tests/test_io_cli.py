import numpy as np
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from test_bands import raw_scene

from xsoilmoist.cli import main
from xsoilmoist.io import open_scene


@pytest.fixture
def scene():
    return raw_scene()


def test_open_zarr_and_netcdf_round_trip(scene, tmp_path):
    scene.to_zarr(tmp_path / "scene.zarr")
    scene.to_netcdf(tmp_path / "scene.nc")
    for path in (tmp_path / "scene.zarr", tmp_path / "scene.nc"):
        opened = open_scene(path)
        assert opened["B04"].chunks is not None  # lazy
        np.testing.assert_array_equal(opened["B04"].values, scene["B04"].values)
        assert opened.rio.crs.to_epsg() == 32633


def test_open_folder_of_geotiffs_names_variables_by_file(scene, tmp_path):
    folder = tmp_path / "tifs"
    folder.mkdir()
    for name in ("VV", "VH", "dem"):
        da = scene[name].isel(time=0) if "time" in scene[name].dims else scene[name]
        da.rio.to_raster(folder / f"{name}.tif")
    opened = open_scene(folder)
    assert set(opened.data_vars) == {"VV", "VH", "dem"}
    assert opened.rio.crs.to_epsg() == 32633
    np.testing.assert_allclose(opened["dem"].values, scene["dem"].values)


def test_open_scene_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_scene(tmp_path / "nope.zarr")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"expected a \.zarr store"):
        open_scene(tmp_path / "notes.txt")


def test_cli_check_exit_codes(scene, tmp_path, capsys):
    scene.to_zarr(tmp_path / "good.zarr")
    assert main(["check", str(tmp_path / "good.zarr")]) == 0
    assert "xsoilmoist input check: OK" in capsys.readouterr().out
    bad = scene.copy()
    bad.attrs = {}
    bad.to_zarr(tmp_path / "bad.zarr")
    assert main(["check", str(tmp_path / "bad.zarr")]) == 1
    assert "processing_baseline" in capsys.readouterr().out
    assert main(["check", str(tmp_path / "bad.zarr"), "--processing-baseline", "04.00"]) == 0
    assert main(["check", str(tmp_path / "missing.zarr")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2


def test_check_reads_attrs_only_from_zarr(scene, tmp_path):
    scene.to_zarr(tmp_path / "s.zarr")
    ds = xr.open_zarr(tmp_path / "s.zarr")
    assert ds.ssm.check().ok


def test_cli_train_reports_a_bad_config_with_exit_2(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text('[model]\nconfig = "atto"\n')
    assert main(["train", str(config)]) == 2
    assert "no scenes; add [[data]] tables" in capsys.readouterr().err


def test_write_result_to_zarr_accepts_uneven_dask_chunks(tmp_path):
    import dask.array as dsa

    from xsoilmoist.io import write_result

    values = np.arange(10 * 7, dtype=np.float32).reshape(10, 7)
    da = xr.DataArray(
        dsa.from_array(values, chunks=((4, 3, 3), (5, 2))),
        dims=("y", "x"),
        coords={"y": np.arange(10.0), "x": np.arange(7.0)},
        name="ssm",
        attrs={"units": "m3 m-3"},
    )
    path = write_result(da, tmp_path / "out.zarr")
    back = xr.open_zarr(path)["ssm"]
    np.testing.assert_array_equal(back.values, values)
    assert back.attrs["units"] == "m3 m-3"
    assert da.chunks == ((4, 3, 3), (5, 2))  # the input is not rechunked in place
