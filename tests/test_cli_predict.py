"""``xsoilmoist predict``: formats, exit codes and messages a batch system can act on."""

import warnings

import numpy as np
import pytest
import rioxarray
import xarray as xr
from test_inference import model_path, scene  # noqa: F401

pytest.importorskip("torch")

from xsoilmoist.cli import main
from xsoilmoist.inference import predict


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*untrained weights")
        yield


@pytest.fixture
def scene_zarr(tmp_path):
    ds = scene(ny=50, nx=60, nt=2)
    path = tmp_path / "scene.zarr"
    ds.to_zarr(path)
    return ds, path


def test_zarr_to_zarr_equals_the_python_api(scene_zarr, model_path, tmp_path, capsys):  # noqa: F811
    ds, path = scene_zarr
    out = tmp_path / "ssm.zarr"
    code = main(["predict", str(path), str(out), "--model", str(model_path), "--progress"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    written = xr.open_zarr(out, decode_coords="all")["ssm"]
    expected = predict(ds, model_path)
    np.testing.assert_allclose(written.values, expected.values, atol=1e-6)
    assert written.rio.crs.to_epsg() == 32633
    assert written.attrs["units"] == "m3 m-3"


def test_cog_output_has_one_band_per_date(scene_zarr, model_path, tmp_path):  # noqa: F811
    ds, path = scene_zarr
    out = tmp_path / "ssm.tif"
    assert main(["predict", str(path), str(out), "--model", str(model_path)]) == 0
    raster = rioxarray.open_rasterio(out)
    assert raster.shape == (2, 50, 60)
    assert raster.rio.crs.to_epsg() == 32633
    np.testing.assert_allclose(raster.x.values, ds.x.values)
    np.testing.assert_allclose(raster.values, predict(ds, model_path).values, atol=1e-6)
    assert "2022-05-01" in str(raster.attrs.get("long_name"))


def test_exit_codes(scene_zarr, model_path, tmp_path, capsys):  # noqa: F811
    _, path = scene_zarr
    out = tmp_path / "o.zarr"
    assert main(["predict", str(tmp_path / "none.zarr"), str(out), "--model", str(model_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["predict", str(path), str(out), "--model", "no-such-model"]) == 3
    assert "no model named 'no-such-model'" in capsys.readouterr().err
    assert main(["predict", str(path), str(tmp_path / "o.png"), "--model", str(model_path)]) == 2
    assert ".zarr or .tif" in capsys.readouterr().err
    args = ["predict", str(path), str(out), "--model", str(model_path)]
    assert main(args) == 0
    assert main(args) == 2  # exists
    assert "exists" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 0
    code = main(
        [*args, "--overwrite", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1"]
    )
    assert code == 4
    assert "cannot reach the dask scheduler" in capsys.readouterr().err


def test_missing_modalities_exit_2(tmp_path, model_path, capsys):  # noqa: F811
    ds = scene(ny=20, nx=20, nt=1).drop_vars(["vv", "vh"])
    ds.to_zarr(tmp_path / "s.zarr")
    code = main(
        ["predict", str(tmp_path / "s.zarr"), str(tmp_path / "o.zarr"), "--model", str(model_path)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "sar_c" in err and "missing" in err


def test_standardization_options_reach_predict(tmp_path, model_path, capsys):  # noqa: F811
    ds = scene(ny=30, nx=30, nt=1).isel(time=0, drop=True).rename(vv="sigma0_a")
    ds.to_zarr(tmp_path / "s.zarr")
    args = [
        "predict",
        str(tmp_path / "s.zarr"),
        str(tmp_path / "o.zarr"),
        "--model",
        str(model_path),
    ]
    assert main(args) == 2  # no vv, no date
    capsys.readouterr()
    assert main([*args, "--rename", "sigma0_a=vv", "--date", "2022-05-01"]) == 0
    written = xr.open_zarr(tmp_path / "o.zarr")["ssm"]
    expected = predict(ds, model_path, rename={"sigma0_a": "vv"}, date="2022-05-01")
    np.testing.assert_allclose(written.values, expected.values, atol=1e-6)


def test_processing_baseline_reaches_predict(tmp_path, model_path, capsys):  # noqa: F811
    from test_bands import raw_scene

    raw = raw_scene()
    raw.attrs = {}  # the offset of the digital numbers is unknown
    raw.to_zarr(tmp_path / "raw.zarr")
    args = [
        "predict",
        str(tmp_path / "raw.zarr"),
        str(tmp_path / "o.zarr"),
        "--model",
        str(model_path),
    ]
    assert main(args) == 2
    assert "processing_baseline" in capsys.readouterr().err
    assert main([*args, "--processing-baseline", "04.00"]) == 0
    written = xr.open_zarr(tmp_path / "o.zarr")["ssm"]
    expected = predict(raw, model_path, processing_baseline="04.00")
    np.testing.assert_allclose(written.values, expected.values, atol=1e-6)


def test_a_real_scheduler_is_used(scene_zarr, model_path, tmp_path):  # noqa: F811
    from distributed import LocalCluster

    _, path = scene_zarr
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        args = ["predict", str(path), str(tmp_path / "o.zarr"), "--model", str(model_path)]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    assert xr.open_zarr(tmp_path / "o.zarr").attrs["xsoilmoist_complete"] == "true"


def test_frozen_pixels_are_left_empty_unless_kept(tmp_path, model_path):  # noqa: F811
    ds = scene(ny=40, nx=40, nt=1)
    ds["t2m"][..., :20] = -4.0  # the west half on a freezing day
    ds.to_zarr(tmp_path / "s.zarr")
    args = ["predict", str(tmp_path / "s.zarr"), "--model", str(model_path)]
    assert main([*args[:2], str(tmp_path / "masked.zarr"), *args[2:]]) == 0
    assert main([*args[:2], str(tmp_path / "kept.zarr"), *args[2:], "--keep-conditions"]) == 0
    masked = xr.open_zarr(tmp_path / "masked.zarr")["ssm"].values
    kept = xr.open_zarr(tmp_path / "kept.zarr")["ssm"].values
    assert np.isnan(masked[..., :20]).all() and np.isfinite(kept[..., :20]).all()
    np.testing.assert_array_equal(masked[..., 20:], kept[..., 20:])
