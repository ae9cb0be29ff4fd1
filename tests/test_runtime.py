"""Where and how the model runs (xsoilmoist.runtime), and clean scene edges."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xsoilmoist import predict
from xsoilmoist.errors import DeviceError, InputError, ModelWarning
from xsoilmoist.runtime import (
    Runtime,
    cpu_bf16_native,
    plan_runtime,
    resolve_device,
    resolve_precision,
    tile_runner,
)
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.tiling import TilingPlan, overlapping_blocks, reflect_index

BANDS = ("vv", "vh", "blue", "green", "red", "nir", "swir1", "swir2", "elevation", "slope")
BANDS += ("lai", "fpar", "t2m", "tp")


@pytest.fixture(autouse=True)
def _compile_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XSOILMOIST_COMPILE_DIR", str(tmp_path / "compiled"))


def held_out_scene(region: str, seed: int, size: int = 96) -> xr.Dataset:
    """A simulated scene of seeds the default model never saw (its test seeds)."""
    times = list(pd.date_range("2022-06-05", periods=2, freq="12D"))
    ds = simulate_scene(region, shape=(size, size), times=times, seed=seed)
    return ds[[b for b in BANDS if b in ds.data_vars]]


def test_runtime_recorded_in_attrs_and_float32_eager_on_request():
    ssm = predict(held_out_scene("farmland", 100, 64), precision="float32", compile=False)
    assert ssm.attrs["runtime"] == "cpu, float32, eager"


@pytest.mark.parametrize("region, seed", [("farmland", 100), ("arid_basin", 101)])
def test_bfloat16_within_the_accuracy_bound_on_held_out_scenes(region, seed):
    ds = held_out_scene(region, seed)
    fp32 = predict(ds, precision="float32", compile=False)
    bf16 = predict(ds, precision="bfloat16", compile=False)
    assert bf16.attrs["runtime"] == "cpu, bfloat16, eager"
    assert np.array_equal(np.isnan(fp32.values), np.isnan(bf16.values))
    difference = np.abs(bf16.values - fp32.values)
    assert np.nanmean(difference) <= 0.002
    assert np.nanmax(difference) <= 0.02


def test_cuda_without_a_gpu_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceError, match=r"'cuda'.*(CPU-only build|finds 0 GPU).*device='cpu'"):
        predict(held_out_scene("farmland", 100, 32), device="cuda")
    with pytest.raises(DeviceError, match="not a torch device name"):
        resolve_device("gpu-please")
    assert resolve_device("auto") == "cpu"


def test_bad_precision_is_an_input_error():
    with pytest.raises(InputError, match=r"precision must be one of \['auto', 'float32'"):
        plan_runtime("half", "cpu")


def test_auto_precision_follows_the_cpu_flags(monkeypatch):
    from xsoilmoist import runtime

    with open("/proc/cpuinfo") as info:
        flags = set(next(line for line in info if line.startswith("flags")).split())
    assert cpu_bf16_native() == bool(flags & {"avx512_bf16", "amx_bf16"})
    for cpu_flags, expected in [({"avx2", "avx512f"}, "float32"), ({"amx_bf16"}, "bfloat16")]:
        monkeypatch.setattr(runtime, "_cpu_flags", lambda f=cpu_flags: f)
        runtime.cpu_bf16_native.cache_clear()
        assert resolve_precision("auto", "cpu", compiled=True) == expected
        assert resolve_precision("auto", "cpu", compiled=False) == "float32"
    runtime.cpu_bf16_native.cache_clear()


def test_compile_decided_by_scene_size_and_what_the_caches_hold():
    from xsoilmoist.runtime import COMPILE_MIN_PIXELS, COMPILE_MIN_PIXELS_COLD

    assert not plan_runtime("auto", "cpu", None, pixels=64 * 64).compiled
    assert not plan_runtime("auto", "cpu", None, pixels=COMPILE_MIN_PIXELS).compiled
    big = plan_runtime("float32", "cpu", None, pixels=COMPILE_MIN_PIXELS_COLD)
    assert big == Runtime("cpu", "float32", compiled=True)
    on_disk = plan_runtime("auto", "cpu", None, pixels=COMPILE_MIN_PIXELS, held=lambda r: "disk")
    assert on_disk.compiled
    held = plan_runtime("float32", "cpu", None, pixels=64, held=lambda r: "process")
    assert held.compiled


def test_runner_cache_keys_on_precision_and_device():
    from xsoilmoist.weights import load_model

    model = load_model("default")
    fp32 = tile_runner(model, "k", "0" * 64, Runtime("cpu", "float32"), 64, 1)
    bf16 = tile_runner(model, "k", "0" * 64, Runtime("cpu", "bfloat16"), 64, 1)
    assert fp32 is not bf16
    assert tile_runner(model, "k", "0" * 64, Runtime("cpu", "float32"), 64, 1) is fp32


def test_failed_compilation_falls_back_to_eager_with_a_warning(monkeypatch):
    import torch

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch.export, "export", broken)
    ds = held_out_scene("farmland", 102, 64)
    eager = predict(ds, precision="float32", compile=False)
    with pytest.warns(ModelWarning, match="no compiler here.*running it eagerly"):
        fallback = predict(ds, precision="float32", tile=192, compile=True)
    assert fallback.attrs["runtime"] == "cpu, float32, compiled"
    reference = predict(ds, precision="float32", tile=192, compile=False)
    np.testing.assert_allclose(fallback.values, reference.values, atol=1e-6)
    assert eager.shape == fallback.shape


def test_overlapping_blocks_mirror_the_scene_at_its_border():
    import dask.array as da

    assert reflect_index(np.arange(-3, 7), 4).tolist() == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    assert reflect_index(np.arange(-2, 3), 1).tolist() == [0, 0, 0, 0, 0]
    scene = np.arange(7 * 9, dtype=np.float32).reshape(1, 1, 7, 9)
    plan = TilingPlan(tile=8, overlap=4, halo=1)
    for chunks in (3, 5, -1):
        blocks = overlapping_blocks(da.from_array(scene, chunks=(1, 1, chunks, chunks)), plan, 2)
        first = blocks.blocks[0, 0, 0, 0].compute()[0, 0]
        padded = np.pad(scene[0, 0], ((2, 6), (3, 6)), mode="reflect")  # x: lead 1
        np.testing.assert_array_equal(first, padded[:12, :12])


def uniform_scene(size: int) -> xr.Dataset:
    """Every band constant at its median over a simulated scene."""
    base = held_out_scene("farmland", 100, 64).isel(time=[0])
    values = {
        b: (("time", "y", "x"), np.full((1, size, size), float(base[b].median())), base[b].attrs)
        for b in base.data_vars
    }
    coords = {
        "time": base.time.values,
        "y": float(base.y[0]) - 10.0 * np.arange(size),
        "x": float(base.x[0]) + 10.0 * np.arange(size),
    }
    ds = xr.Dataset(values, coords=coords, attrs=base.attrs)
    return ds.rio.write_crs(base.rio.crs) if base.rio.crs else ds


def test_uniform_scene_gives_the_same_centre_value_at_any_size():
    centres = []
    for size in (32, 64, 128, 256):
        ssm = predict(uniform_scene(size), precision="float32", compile=False)
        centres.append(float(ssm[0, size // 2, size // 2]))
        assert np.isfinite(ssm.values).all()
    assert max(centres) - min(centres) <= 0.001, centres


def smooth_scene(size: int = 160) -> xr.Dataset:
    """Bands of a simulated scene replaced by smooth waves around their medians."""
    base = held_out_scene("farmland", 101, size).isel(time=[0])
    yy, xx = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    ds = base.copy()
    for i, band in enumerate(base.data_vars):
        wave = np.sin(yy / (37.0 + i) + i) * np.cos(xx / (29.0 + i))
        median, spread = float(base[band].median()), float(base[band].std())
        values = np.broadcast_to(median + 0.5 * spread * wave, base[band].shape)
        ds[band] = base[band].copy(data=values.astype(np.float32))
    return ds


def test_no_scene_edge_step_stands_out_on_a_smooth_scene():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ssm = predict(smooth_scene(), precision="float32", compile=False).values[0]
    for values in (ssm, ssm.T):
        steps = np.abs(np.diff(values, axis=0)).mean(axis=1)
        median = np.median(steps)
        assert steps[0] < 3 * median and steps[-1] < 3 * median, (steps[:3], median)


COMPILE_CHILD = """
import json, warnings
warnings.simplefilter("ignore")
from xsoilmoist.inference import _resolve_model
from xsoilmoist.runtime import Runtime, tile_runner
ref, model = _resolve_model("default")
runner = tile_runner(model, ref, ref.sha256, Runtime("cpu", "bfloat16", compiled=True), 512, 1)
print(json.dumps({"seconds": runner.compile_seconds, "eager": runner.forward is runner.model}))
"""


@pytest.mark.slow
def test_compiled_stays_within_the_bound_and_a_second_process_reads_the_disk_cache():
    import json
    import subprocess
    import sys

    from xsoilmoist.runtime import package_path

    ds = held_out_scene("farmland", 100, 64)
    eager = predict(ds, precision="float32", compile=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelWarning)  # no fallback
        compiled = predict(ds, precision="bfloat16", compile=True)
    assert compiled.attrs["runtime"] == "cpu, bfloat16, compiled"
    assert compiled.attrs["tiling"].startswith("tile 512,")  # the compiled tile shape
    difference = np.abs(compiled.values - eager.values)
    assert np.nanmean(difference) <= 0.002 and np.nanmax(difference) <= 0.02
    package = package_path(compiled.attrs["model_sha256"], Runtime("cpu", "bfloat16", True), 512, 1)
    built = package.stat().st_mtime_ns
    child = subprocess.run(
        [sys.executable, "-c", COMPILE_CHILD], capture_output=True, text=True, check=True
    )
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    assert not loaded["eager"] and package.stat().st_mtime_ns == built  # read, not rebuilt
    assert loaded["seconds"] < 30, loaded


def test_compile_must_be_a_bool_or_none():
    from xsoilmoist.errors import InputTypeError

    with pytest.raises(InputTypeError, match=r"compile must be True, False or None.*'False'"):
        plan_runtime("auto", "cpu", "False")
