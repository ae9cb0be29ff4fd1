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


def test_zarr_chunks_are_written_row_by_row_as_they_are_computed(tmp_path, monkeypatch):
    """Each chunk is written (and can be freed) before the scene's last chunk is computed."""
    import dask
    import dask.array as dsa

    from xsoilmoist import io

    events = []

    def computed(block, block_info=None):
        events.append(("computed", block_info[None]["chunk-location"]))
        return block

    def write(chunk, root, name, region, previous):
        events.append(("written", tuple(r.start // 10 for r in region)))
        original(chunk, root, name, region, previous)

    original = io._write_chunk
    monkeypatch.setattr(io, "_write_chunk", write)
    values = np.arange(40 * 40, dtype=np.float32).reshape(40, 40)
    lazy = dsa.from_array(values, chunks=10).map_blocks(computed, dtype=np.float32)
    da = xr.DataArray(lazy, dims=("y", "x"), coords={"y": np.arange(40.0), "x": np.arange(40.0)})
    with dask.config.set(scheduler="sync"):
        io.write_result(da.rename("ssm"), tmp_path / "out.zarr")
    np.testing.assert_array_equal(xr.open_zarr(tmp_path / "out.zarr")["ssm"].values, values)
    written = [where for what, where in events if what == "written"]
    assert written == sorted(written)  # row-major
    assert events.index(("written", (0, 0))) < events.index(("computed", (3, 3)))


def small_result(nt=2):
    """A lazy ssm-like result with CF attrs and a CRS."""
    values = np.linspace(0.05, 0.45, nt * 6 * 5, dtype=np.float32).reshape(nt, 6, 5)
    values[0, 0, 0] = np.nan
    da = xr.DataArray(
        values,
        dims=("time", "y", "x"),
        coords={
            "time": np.array(["2022-05-01", "2022-05-13"][:nt], dtype="datetime64[ns]"),
            "y": 5_000_000.0 - 10.0 * np.arange(6),
            "x": 600_000.0 + 10.0 * np.arange(5),
        },
        name="ssm",
        attrs={
            "units": "m3 m-3",
            "long_name": "surface soil moisture (0-5 cm)",
            "model_sha256": "ab" * 32,
        },
    )
    return da.rio.write_crs(32633).chunk({"time": 1})


def test_outputs_carry_a_completion_marker_that_a_reader_can_check(tmp_path):
    from xsoilmoist.io import COMPLETE_ATTR, is_complete, write_result

    da = small_result()
    store = write_result(da, tmp_path / "ssm.zarr")
    assert xr.open_zarr(store).attrs[COMPLETE_ATTR] == "true"
    assert is_complete(store) and is_complete(write_result(da, tmp_path / "ssm.tif"))
    da.to_dataset().to_zarr(tmp_path / "plain.zarr")  # written by someone else
    assert not is_complete(tmp_path / "plain.zarr")
    assert not is_complete(tmp_path / "missing.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.zarr", "ssm.tif", "ssm.zarr"]


def test_geotiff_output_has_nodata_and_units_on_every_band(tmp_path):
    import rasterio

    from xsoilmoist.io import write_result

    for nt, name in ((2, "stack.tif"), (1, "one.tif")):
        da = small_result(nt)
        path = write_result(da if nt > 1 else da.isel(time=0), tmp_path / name)
        with rasterio.open(path) as src:
            assert np.isnan(src.nodata)
            assert src.count == nt
            for band in range(1, nt + 1):
                tags = src.tags(band)
                assert tags["units"] == "m3 m-3"
                assert tags["long_name"] == "surface soil moisture (0-5 cm)"
            expected = ("2022-05-01T00:00:00", "2022-05-13T00:00:00") if nt > 1 else None
            assert src.descriptions == (expected or ("surface soil moisture (0-5 cm)",))
            assert np.isnan(src.read(1)[0, 0])


def test_our_own_zarr_and_rioxarray_calls_do_not_warn(tmp_path):
    import warnings

    from xsoilmoist.io import write_result

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_result(small_result().assign_coords(site="abcd"), tmp_path / "ssm.zarr")
        write_result(small_result(), tmp_path / "ssm.tif")
        open_scene(tmp_path / "ssm.tif")
    noisy = [
        w
        for w in caught
        if issubclass(w.category, FutureWarning)
        or any(text in str(w.message) for text in ("onsolidated", "Zarr V3 specification"))
    ]
    assert noisy == []
    assert str(xr.open_zarr(tmp_path / "ssm.zarr")["site"].values) == "abcd"


def test_write_result_refuses_before_computing(tmp_path):
    import dask.array as dsa

    from xsoilmoist.errors import OutputExistsError, OutputPathError
    from xsoilmoist.io import write_result

    def boom(block):
        raise AssertionError("computed although the output cannot be written")

    da = small_result()
    lazy = da.copy(data=dsa.map_blocks(boom, da.data, dtype=da.dtype))
    with pytest.raises(OutputPathError, match="does not exist; create it first"):
        write_result(lazy, tmp_path / "missing" / "ssm.tif")
    (tmp_path / "ssm.zarr").mkdir()
    (tmp_path / "ssm.zarr" / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="pass --overwrite"):
        write_result(lazy, tmp_path / "ssm.zarr")
    with pytest.raises(OutputPathError, match="not a zarr store"):
        write_result(lazy, tmp_path / "ssm.zarr", overwrite=True)
    with pytest.raises(OutputPathError, match="is the input"):
        write_result(lazy, tmp_path / "in.zarr", inputs=[tmp_path / "in.zarr"])
    assert (tmp_path / "ssm.zarr" / "keep.txt").read_text() == "x"


def test_cli_check_on_product_files_names_the_missing_bands(scene, tmp_path, capsys):
    folder = tmp_path / "S2A_MSIL2A_20220601T100031_N0400"
    folder.mkdir()
    for band in ("B02", "B04", "VV"):  # as products come: no band description
        raster = scene[band].isel(time=0).rename(None)
        raster.attrs.pop("long_name", None)
        raster.rio.to_raster(folder / f"{folder.name}_{band}.tif")
    assert main(["check", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "no band of any modality was recognised" in err
    assert "missing: vv, vh" in err and "blue" in err
    assert f"xsoilmoist assemble {folder} scene.zarr" in err
    assert "B02, B04, VV" in err
    assert main(["predict", str(folder), str(tmp_path / "ssm.zarr")]) == 2
    assert f"xsoilmoist assemble {folder} scene.zarr" in capsys.readouterr().err
    assert not (tmp_path / "ssm.zarr").exists()


def test_cli_rename_option(scene, tmp_path, capsys):
    renamed = scene.rename(VV="sigma0_a", VH="sigma0_b")
    renamed.to_zarr(tmp_path / "s.zarr")
    assert main(["check", str(tmp_path / "s.zarr")]) == 1
    assert "kept as they are (not bands): scl, sigma0_a, sigma0_b" in capsys.readouterr().out
    args = ["check", str(tmp_path / "s.zarr"), "--rename", "sigma0_a=vv", "--rename", "sigma0_b=vh"]
    assert main(args) == 0
    assert "sigma0_a" not in capsys.readouterr().out.split("kept as they are")[-1]
    with pytest.raises(SystemExit) as info:
        main(["check", str(tmp_path / "s.zarr"), "--rename", "sigma0_a"])
    assert info.value.code == 2
    assert "takes OLD=NEW" in capsys.readouterr().err


def test_cli_models_columns_line_up(capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = lines[0]
    for column in ("config", "cached", "modalities", "metrics"):
        start = header.index(column)
        for line in lines[1:]:
            assert line[start - 2 : start] == "  ", (column, line)  # two spaces before each column


def test_cli_train_refuses_to_replace_a_model_without_overwrite(tmp_path, capsys):
    from test_training_recipe import TINY_RUN

    config = tmp_path / "train.toml"
    config.write_text(TINY_RUN)
    (tmp_path / "out").mkdir()
    weights = tmp_path / "out" / "tiny.safetensors"
    weights.write_bytes(b"an earlier model")
    assert main(["train", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "tiny.safetensors' exists; pass --overwrite" in err
    assert weights.read_bytes() == b"an earlier model"


def test_progress_bar_advances_with_the_model_blocks(capsys):
    from xsoilmoist.io import _block_progress_bar

    def block(i):
        return ("ssm-tiles-" + "0123456789abcdef" * 2, i, 0, 0)

    bar = _block_progress_bar()
    light = {f"stack-{i:032x}" for i in range(30)}  # reads and rechunks, done at once
    bar._state = {
        "finished": light | {block(0)},
        "ready": set(),
        "running": {block(1)},
        "waiting": {block(2)},
    }
    bar._update_bar(1.0)
    assert "33% Completed" in capsys.readouterr().out  # dask's count would say 94 %
