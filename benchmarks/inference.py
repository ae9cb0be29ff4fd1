"""Tiled-inference benchmark: runtimes side by side, predict() against a bare loop and peers.

Run: ``python benchmarks/inference.py [--model NAME | --config NAME]
[--runtime-sizes 2048 4096] [--size 1024] [--rounds 2] [--memory-sizes 4096 8192]``
(about 15 minutes on 2 idle cores, the first compilation included).

Prints, measured side by side in one run on the same model:

0. every runtime available here (device x precision x eager/compiled, and
   ``predict``'s default choice) on smooth dask scenes of each
   ``--runtime-sizes`` edge, end to end (``predict(...).values``), best of
   ``--rounds`` interleaved rounds, with each one's speed-up over eager float32
   and its mean/max |difference| to it; the time each compiled runtime took
   to build its AOTInductor package (or load it, when the disk cache held it)
   in this process, and to load it in a second process;
1. at ``--size``: end-to-end eager float32 ``predict(ds).compute()`` against a
   bare torch loop over the same tiles held in memory (the ceiling), and their
   ratio;
2. straightforward peers at the model card's tile: a plain loop over windows
   overlapping by twice the halo, each cropped to its core (the usual
   "overlap-tile" approach), and non-overlapping windows; also ``predict()``
   forced to the card's tile. Time and seam ratio (mean |difference| across
   tile-core borders over that across other lines, on a smooth scene; 1.0
   means no seam);
3. peak resident memory and throughput of a subprocess predicting a dask
   scene streamed from zarr to zarr (17 bands, ``predict``'s default runtime,
   loading compiled code from the disk cache when it compiles) at each
   ``--memory-sizes`` edge length, and its growth.

Parts 1 and 2 run in eager float32, so that they compare tiling, not arithmetic.

The model is the bundled default (``--model``), or a configuration with random
weights (``--config``: speed and memory do not depend on weight values, seams do).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

BANDS = (
    "vv",
    "vh",
    "blue",
    "green",
    "red",
    "nir",
    "swir1",
    "swir2",
    "elevation",
    "slope",
    "lai",
    "fpar",
    "t2m",
    "tp",
    "api",
    "hh",
    "hv",
)
UNITS = {
    "vv": "dB",
    "vh": "dB",
    "hh": "dB",
    "hv": "dB",
    "elevation": "m",
    "slope": "degree",
    "lai": "m2 m-2",
    "t2m": "degC",
    "tp": "mm",
    "api": "mm",
}
MEANS = {
    "vv": -12,
    "vh": -19,
    "hh": -9,
    "hv": -16,
    "blue": 0.05,
    "green": 0.08,
    "red": 0.07,
    "nir": 0.3,
    "swir1": 0.2,
    "swir2": 0.12,
    "elevation": 300,
    "slope": 5,
    "lai": 2,
    "fpar": 0.5,
    "t2m": 18,
    "tp": 2,
    "api": 10,
}


def smooth_scene(size: int, chunks: int | None = None) -> xr.Dataset:
    """A scene of smooth fields in every band the default model reads (17).

    Dask-generated when ``chunks`` is given.
    """
    import dask.array as dsa
    import rioxarray  # noqa: F401

    def field(i, mean):
        def block(block_info=None):
            (y0, y1), (x0, x1) = block_info[None]["array-location"]
            yy, xx = np.meshgrid(np.arange(y0, y1), np.arange(x0, x1), indexing="ij")
            wave = np.sin(yy / (37.0 + i) + i) * np.cos(xx / (29.0 + i))
            return (mean * (1 + 0.2 * wave)).astype(np.float32)

        c = chunks or size
        return dsa.map_blocks(
            block, chunks=((c,) * (size // c), (c,) * (size // c)), dtype=np.float32
        )

    data = {}
    for i, name in enumerate(BANDS):
        values = field(i, MEANS[name])
        data[name] = (
            ("y", "x"),
            values if chunks else values.compute(),
            {"units": UNITS.get(name, "1")},
        )
    ds = xr.Dataset(
        data,
        coords={
            "y": 5e6 - 10.0 * np.arange(size),
            "x": 6e5 + 10.0 * np.arange(size),
            "time": pd.Timestamp("2022-06-01"),
        },
    )
    return ds.rio.write_crs("EPSG:32633")


def save_random_model(config_name: str, folder: Path) -> Path:
    import torch

    from xsoilmoist.model import build_model
    from xsoilmoist.weights import ModelCard, save_model

    torch.manual_seed(0)
    card = ModelCard(
        name=f"{config_name}-random",
        config={},
        trained=False,
        description="random weights, for speed benchmarks only",
    )
    return save_model(build_model(config_name), folder / config_name, card)[0]


def seam_ratio(values: np.ndarray, stride: int, margin: int, offset: int = 0) -> float:
    """Mean |diff| across core borders over that across other lines, away from the edges.

    Core borders lie at ``k * stride - offset`` (``offset``: the tiling's lead).
    """
    ratios = []
    for axis in (0, 1):
        diffs = np.abs(np.diff(values, axis=axis))
        diffs = diffs[margin:-margin] if axis == 1 else diffs[:, margin:-margin]
        profile = diffs.mean(axis=1 - axis)
        n = profile.size
        lines = range(stride - offset, n, stride)
        border = [i - 1 for i in lines if margin <= i - 1 < n - margin]
        other = [i for i in range(margin, n - margin) if i not in border]
        ratios.append(profile[border].mean() / profile[other].mean())
    return float(max(ratios))


def stack_inputs(ds, model):
    from xsoilmoist.inference import prepare_inputs

    stack, meta, _ = prepare_inputs(ds, model)
    return np.asarray(stack.values[0], dtype=np.float32), meta[:1]


def window_loop(model, stack, meta, tile, stride, batch_size):
    """Plain loop over windows with the given stride, each cropped to its centre core."""
    import torch

    _, ny, nx = stack.shape
    margin = (tile - stride) // 2
    padded = np.pad(stack, ((0, 0), (margin, tile), (margin, tile)), constant_values=np.nan)
    out = np.full((ny + tile, nx + tile), np.nan, dtype=np.float32)
    origins = [(y, x) for y in range(0, ny, stride) for x in range(0, nx, stride)]
    meta_t = torch.from_numpy(meta)
    for start in range(0, len(origins), batch_size):
        batch = origins[start : start + batch_size]
        tiles = np.stack([padded[:, y : y + tile, x : x + tile] for y, x in batch])
        with torch.inference_mode():
            pred = model(torch.from_numpy(tiles), meta_t.expand(len(batch), -1))[:, 0].numpy()
        for (y, x), values in zip(batch, pred, strict=True):
            out[y : y + stride, x : x + stride] = values[
                margin : margin + stride, margin : margin + stride
            ]
    return out[:ny, :nx]


def tile_batches(stack, plan, batch_size) -> list:
    """Exactly predict()'s tiles of the scene (mirrored at its edges), batched in memory."""
    import torch

    from xsoilmoist.tiling import reflect_index

    _, ny, nx = stack.shape
    py, px = plan.padded_length(ny), plan.padded_length(nx)
    rows = reflect_index(np.arange(py + plan.overlap) - plan.lead(ny) - plan.half, ny)
    cols = reflect_index(np.arange(px + plan.overlap) - plan.lead(nx) - plan.half, nx)
    padded = stack[:, rows][:, :, cols]
    tiles = [
        padded[:, y : y + plan.tile, x : x + plan.tile]
        for y in range(0, py, plan.stride)
        for x in range(0, px, plan.stride)
    ]
    return [
        torch.from_numpy(np.ascontiguousarray(np.stack(tiles[i : i + batch_size])))
        for i in range(0, len(tiles), batch_size)
    ]


def bare_tile_loop(model, batches, meta) -> None:
    """The ceiling: the model over the tiles held in memory, nothing else."""
    import torch

    meta_t = torch.from_numpy(meta)
    with torch.inference_mode():
        for batch in batches:
            model(batch, meta_t.expand(len(batch), -1))


def available_devices() -> list[str]:
    """The torch devices predict can use here."""
    import torch

    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def build_runner(model_path, runtime) -> tuple[float, bool]:
    """Build (or load from the disk cache) predict()'s compiled runner for ``runtime``.

    Returns the seconds it took and whether the package was on disk already.
    """
    from xsoilmoist.inference import BATCH_PIXELS, _default_tiling, _resolve_model
    from xsoilmoist.runtime import package_path, tile_runner

    ref, model = _resolve_model(model_path)
    plan = _default_tiling(model, None, None)  # the compiled tile shape
    batch = max(1, BATCH_PIXELS // plan.tile**2)
    on_disk = package_path(ref.sha256, runtime, plan.tile, batch).exists()
    runner = tile_runner(model, ref, ref.sha256, runtime, plan.tile, batch)
    return runner.compile_seconds, on_disk


def compile_child(args) -> None:
    """Subprocess: load the compiled runner (from the disk cache) and print JSON figures."""
    from xsoilmoist.runtime import Runtime

    device, precision = args.compile_child[1:]
    seconds, on_disk = build_runner(args.compile_child[0], Runtime(device, precision, True))
    print(json.dumps({"seconds": seconds, "on_disk": on_disk}))


def memory_child(args) -> None:
    """Subprocess: predict a zarr scene to zarr and print the peak RSS as JSON."""
    from xsoilmoist.inference import predict
    from xsoilmoist.io import open_scene, write_result

    scene = open_scene(args.memory_child[0])
    start = time.perf_counter()
    ssm = predict(scene, args.memory_child[1])
    write_result(ssm, args.memory_child[2], overwrite=True)
    seconds = time.perf_counter() - start
    figures = {"peak_bytes": peak_rss_bytes(), "seconds": seconds, "runtime": ssm.attrs["runtime"]}
    print(json.dumps(figures))


def peak_rss_bytes() -> int:
    """This process's peak resident memory.

    On Linux, ``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` survives
    ``exec``, so a child started by a big parent would report the parent's
    peak (a 7.6 GiB "peak" after parts 1-2 at 4096 x 4096, for a 1.1 GiB child).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default", help="model name or path (default: bundled)")
    parser.add_argument("--config", default=None, help="use this configuration, random weights")
    parser.add_argument("--size", type=int, default=1024, help="scene edge for parts 1 and 2")
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[4096, 8192])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of parts 1-2")
    parser.add_argument("--runtime-sizes", type=int, nargs="*", default=[2048, 4096])
    parser.add_argument(
        "--compiled-precisions",
        nargs="*",
        default=["float32", "bfloat16"],
        help="precisions also run compiled (none: eager only)",
    )
    parser.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--compile-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*untrained weights")
    if args.memory_child:
        memory_child(args)
        return
    if args.compile_child:
        compile_child(args)
        return

    with tempfile.TemporaryDirectory(prefix="xsoilmoist-bench-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    """Parts 0 to 3 (see the module docstring); scenes and outputs go to ``work``."""
    import torch

    from xsoilmoist.runtime import (
        COMPILE_MIN_PIXELS,
        COMPILE_MIN_PIXELS_COLD,
        compile_cache_dir,
        cpu_bf16_native,
    )
    from xsoilmoist.weights import load_card

    if args.config:
        model_path = save_random_model(args.config, work)
        label = f"{args.config} (random weights)"
    else:
        model_path = args.model
        label = f"{args.model} (trained)"
    print(
        f"model {label}; {os.cpu_count()} cores; torch {torch.__version__}, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}, native bf16 "
        f"{'yes' if cpu_bf16_native() else 'no'}; devices {available_devices()}\n"
        f"compile by default from {COMPILE_MIN_PIXELS / 1e6:.1f} MP (from "
        f"{COMPILE_MIN_PIXELS_COLD / 1e6:.1f} MP before a first compilation); compiled code in "
        f"{compile_cache_dir(load_card(model_path).sha256)}"
    )
    measured = {}  # second-process load figures by runtime: measured once
    for size in args.runtime_sizes:
        runtime_part(args, model_path, size, measured)
    tiling_parts(args, model_path)
    if args.memory_sizes:
        memory_part(args, model_path, work)


def runtime_cases(devices: list[str], compiled_precisions: list[str]) -> dict[str, dict]:
    """predict() keyword arguments of every runtime, and of predict's default, by label."""
    cases = {}
    for device in devices:
        for precision in ("float32", "bfloat16"):
            for compiled in (False, True) if precision in compiled_precisions else (False,):
                kind = "compiled" if compiled else "eager"
                cases[f"{device} {precision} {kind}"] = {
                    "device": device,
                    "precision": precision,
                    "compile": compiled,
                }
    cases["default (auto)"] = {}
    return cases


def runtime_part(args: argparse.Namespace, model_path, size: int, measured: dict) -> None:
    """Part 0 at one scene size: every runtime end to end, its compile time, its accuracy."""
    from xsoilmoist.inference import predict
    from xsoilmoist.runtime import Runtime

    chunked = smooth_scene(size).chunk({"y": 1024, "x": 1024})
    cases = runtime_cases(available_devices(), args.compiled_precisions)
    warm = {}
    print(
        f"\n0. runtimes on a {size} x {size} scene ({len(BANDS)} bands, dask, "
        f"best of {args.rounds})"
    )
    for label, kwargs in cases.items():
        if kwargs.get("compile"):
            runtime = Runtime(kwargs["device"], kwargs["precision"], compiled=True)
            if runtime in measured:
                warm[label] = measured[runtime]["seconds"]
                print(f"   compile {label}: held in this process (one tile shape)")
                continue
            seconds, on_disk = build_runner(model_path, runtime)
            measured[runtime] = child = second_process_compile(model_path, runtime)
            warm[label] = child["seconds"]
            how = "loaded from" if on_disk else "built into"
            print(
                f"   compile {label}: {seconds:6.1f} s here ({how} the disk cache); "
                f"{child['seconds']:6.1f} s in a second process "
                f"({'loaded' if child['on_disk'] else 'NOT on disk'})"
            )
    seconds = dict.fromkeys(cases, float("inf"))
    outputs, chosen = {}, {}
    for _ in range(args.rounds):  # interleaved, so a burst of load cannot spoil one case only
        for label, kwargs in cases.items():
            start = time.perf_counter()
            ssm = predict(chunked, model_path, **kwargs)
            outputs[label] = ssm.values
            seconds[label] = min(seconds[label], time.perf_counter() - start)
            chosen[label] = ssm.attrs["runtime"]
    reference = "cpu float32 eager"
    columns = f"{'MP/s':>7}{'x fp32 eager':>14}{'mean|d|':>9}{'max|d|':>8}"
    print(f"   {'runtime':<26}{'ran as':<28}{columns}")
    for label in cases:
        difference = np.abs(outputs[label] - outputs[reference])
        print(
            f"   {label:<26}{chosen[label]:<28}{size**2 / seconds[label] / 1e6:7.3f}"
            f"{seconds[reference] / seconds[label]:14.2f}"
            f"{np.nanmean(difference):9.1e}{np.nanmax(difference):8.1e}"
        )
    print("   (goals: default >= 2.0x fp32 eager and >= 2.0 MP/s; |d| mean <= 2e-3, max <= 2e-2)")
    for label, compile_seconds in warm.items():
        saved = (seconds[reference] - seconds[label]) / size**2  # per pixel, against fp32 eager
        even = f"{compile_seconds / saved / 1e6:.1f} MP" if saved > 0 else "never"
        print(f"   break-even of {label} (its second-process compile time): {even}")


def second_process_compile(model_path, runtime) -> dict:
    """Load time of the same compiled runner in a fresh process."""
    command = [
        sys.executable,
        __file__,
        "--compile-child",
        str(model_path),
        runtime.device,
        runtime.precision,
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tiling_parts(args: argparse.Namespace, model_path) -> None:
    """Parts 1 and 2 at ``--size``, all in eager float32."""
    import torch

    from xsoilmoist.inference import BATCH_PIXELS, _default_tiling, _plan, predict
    from xsoilmoist.weights import load_model

    model = load_model(model_path)
    card_plan = _plan(model.card.tile, None, model.card.halo)  # what a peer would use
    plan = _default_tiling(model, None, None, (args.size, args.size))  # predict()'s choice
    batch_size = max(1, BATCH_PIXELS // plan.tile**2)
    card_batch = max(1, BATCH_PIXELS // card_plan.tile**2)
    cores = os.cpu_count()
    print(
        f"\nscene {args.size} x {args.size}, {len(BANDS)} bands, eager float32; halo {plan.halo}\n"
        f"predict() tiling for this scene: tile {plan.tile}, overlap {plan.overlap}, "
        f"batch {batch_size}; the card's tile: {card_plan.tile}, batch {card_batch}"
    )

    ds = smooth_scene(args.size)
    stack, meta = stack_inputs(ds, model)
    pixels = args.size**2
    chunked = ds.chunk({"y": 1024, "x": 1024})
    batches = tile_batches(stack, plan, batch_size)
    n_tiles = sum(len(batch) for batch in batches)
    peer_stride = card_plan.tile - 2 * plan.halo  # crop the context margin only
    eager = {"precision": "float32", "compile": False}
    runs = {
        "ceiling": lambda: bare_tile_loop(model, batches, meta),
        "predict": lambda: predict(chunked, model_path, **eager).values,
        "predict at the card's tile": lambda: (
            predict(chunked, model_path, tile=card_plan.tile, **eager).values
        ),
        "core crop": lambda: window_loop(
            model, stack, meta, card_plan.tile, peer_stride, card_batch
        ),
        "non-overlapping": lambda: window_loop(
            model, stack, meta, card_plan.tile, card_plan.tile, card_batch
        ),
    }
    seconds = dict.fromkeys(runs, float("inf"))
    outputs = {}
    torch.set_num_threads(cores)
    for _ in range(args.rounds):  # interleaved, so a burst of load cannot spoil one case only
        for name, run_case in runs.items():
            start = time.perf_counter()
            outputs[name] = run_case()
            seconds[name] = min(seconds[name], time.perf_counter() - start)

    print(f"\n1. throughput (megapixels of scene per second, best of {args.rounds} rounds)")
    ceiling = pixels / seconds["ceiling"] / 1e6
    print(f"   bare torch loop over the same {n_tiles} tiles: {ceiling:6.3f}")
    print(f"   predict(...).compute() end to end:        {pixels / seconds['predict'] / 1e6:6.3f}")
    print(
        f"   ratio end-to-end / ceiling:               "
        f"{seconds['ceiling'] / seconds['predict']:6.3f}   (goal >= 0.8 at 1024 x 1024)"
    )

    margin = card_plan.tile
    print(
        f"\n2. against peer approaches (same model and scene; loops over {card_plan.tile} px "
        f"windows, batch {card_batch})"
    )
    print(f"   {'approach':<52}{'seconds':>8}{'seam ratio':>12}")
    lead, card_lead = plan.lead(args.size), card_plan.lead(args.size)
    rows = [
        (f"predict() (tile {plan.tile}, blended, dask)", "predict", plan.stride, lead),
        (
            f"predict(tile={card_plan.tile}) (blended, dask)",
            "predict at the card's tile",
            card_plan.stride,
            card_lead,
        ),
        (f"loop over windows, stride {peer_stride}, core crop", "core crop", peer_stride, 0),
        ("loop over non-overlapping windows", "non-overlapping", card_plan.tile, 0),
    ]
    for label, name, stride, offset in rows:
        ratio = seam_ratio(outputs[name], stride, margin, offset)
        print(f"   {label:<52}{seconds[name]:8.2f}{ratio:12.3f}")
    print(
        f"   predict() / core-crop loop time: {seconds['predict'] / seconds['core crop']:.2f}"
        "   (goal < 1, seamless)"
    )


def memory_part(args: argparse.Namespace, model_path, work: Path) -> None:
    """Part 3: each size in a fresh process, zarr to zarr, predict's default runtime."""
    print(
        "\n3. peak resident memory and throughput, zarr -> zarr in a subprocess "
        f"({len(BANDS)} bands)"
    )
    peaks = []
    for size in args.memory_sizes:
        scene_path = work / f"scene-{size}.zarr"
        smooth_scene(size, chunks=1024).to_zarr(scene_path, mode="w")
        command = [
            sys.executable,
            __file__,
            "--memory-child",
            str(scene_path),
            str(model_path),
            str(work / f"ssm-{size}.zarr"),
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        peaks.append(figures["peak_bytes"])
        gb = figures["peak_bytes"] / 2**30
        print(
            f"   {size:>5} x {size:<5} peak {gb:5.2f} GiB in {figures['seconds']:6.1f} s"
            f" ({size**2 / figures['seconds'] / 1e6:.2f} MP/s, {figures['runtime']})"
            "   (goals < 3 GiB, >= 1.5 MP/s)"
        )
    if len(peaks) > 1:
        growth = peaks[-1] / peaks[0] - 1
        print(
            f"   growth from the smallest to the largest scene: {growth:+.1%}"
            "   (goal < +20 % for 4x the pixels)"
        )


if __name__ == "__main__":
    main()
