"""Assembly benchmark: products on their own grids -> one scene, streamed, against predict alone.

Run: ``python benchmarks/assemble.py [--size 4096] [--chunk 1024] [--rounds 1]`` (about 2
minutes per round at 4096 x 4096 on 2 idle cores).

Writes a synthetic multi-product input to a temp dir: Sentinel-1 VV/VH (10 m,
float32 dB) and Sentinel-2 B02/B03/B04/B08 (10 m, uint16 DN) as one tiled
GeoTIFF per band, B11/B12 and SCL at 20 m, a 30 m DEM, and an hourly
ERA5-like t2m/tp netCDF on a 0.1 degree grid reaching 30 days back (for
``api``). Then, each in a subprocess (peak resident memory from ``VmHWM``):

1. ``assemble`` of the files, written to zarr (the assembly's own throughput);
2. ``predict`` on that pre-assembled zarr scene, written to zarr (predict alone);
3. ``assemble`` of the files then ``predict``, streamed to zarr in one graph.

Steps 2 and 3 alternate ``--rounds`` times (the best of each counts: other
work on the machine only slows a run down). Prints the seconds, megapixels per
second and peak memory of each, and what assembling adds to predict's time: in
one graph (3 against 2), and when the assembled scene is written first (1 and
2 against 2).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

CRS = "EPSG:32633"
X0, Y0 = 400000.0, 5300000.0
S1_TIME = "20210610T165043"
S2_TIME = "20210609T101031"


def _raster(values, res: float, name: str) -> xr.DataArray:
    ny, nx = values.shape
    coords = {"y": Y0 - res * (np.arange(ny) + 0.5), "x": X0 + res * (np.arange(nx) + 0.5)}
    return xr.DataArray(values, dims=("y", "x"), coords=coords, name=name).rio.write_crs(CRS)


def _field(n: int, seed: int) -> np.ndarray:
    """A smooth random field in [0, 1] (sums of a few sines), float32."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.linspace(0, 1, n, dtype="f4"), np.linspace(0, 1, n, dtype="f4"))
    out = np.zeros((n, n), "f4")
    for _ in range(4):
        fy, fx, phase = rng.uniform(1, 8), rng.uniform(1, 8), rng.uniform(0, 6)
        out += np.sin(2 * np.pi * (fy * y + fx * x) + phase)
    return (out - out.min()) / (out.max() - out.min())


def write_inputs(folder: Path, size: int) -> list[str]:
    """The synthetic products; returns the paths to pass to ``assemble``."""
    s1, s2 = folder / "S1", folder / "S2"
    s1.mkdir()
    s2.mkdir()
    profile = {"tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate"}
    for i, pol in enumerate(("VV", "VH")):
        values = (-20 + 10 * _field(size, i)).astype("f4")
        _raster(values, 10.0, pol).rio.to_raster(s1 / f"S1A_IW_GRDH_{S1_TIME}_{pol}.tif", **profile)
    for i, band in enumerate(("B02", "B03", "B04", "B08", "B11", "B12")):
        res = 10.0 if band in ("B02", "B03", "B04", "B08") else 20.0
        n = int(size * 10 / res)
        values = (500 + 3000 * _field(n, 10 + i)).astype("uint16")
        path = s2 / f"S2A_MSIL2A_{S2_TIME}_{band}.tif"
        _raster(values, res, band).rio.to_raster(path, **profile)
    scl = np.where(_field(size // 2, 30) > 0.85, 9, 4).astype("uint8")
    _raster(scl, 20.0, "SCL").rio.to_raster(s2 / f"S2A_MSIL2A_{S2_TIME}_SCL.tif", **profile)
    dem = (200 + 300 * _field(size // 3, 40)).astype("f4")
    _raster(dem, 30.0, "dem").assign_attrs(units="m").rio.to_raster(folder / "dem.tif", **profile)
    # 30 days of hours before the SAR day, so that assemble derives api (the default reads it)
    hours = pd.date_range("2021-05-11", periods=31 * 24 + 1, freq="h")
    lat, lon = np.arange(48.5, 47.0, -0.1), np.arange(12.5, 14.5, 0.1)
    shape = (hours.size, lat.size, lon.size)
    era5 = xr.Dataset(
        {
            "t2m": (("time", "latitude", "longitude"), np.full(shape, 290.0, "f4"), {"units": "K"}),
            "tp": (("time", "latitude", "longitude"), np.full(shape, 1e-4, "f4"), {"units": "m"}),
        },
        coords={"time": hours, "latitude": lat, "longitude": lon},
    )
    era5.to_netcdf(folder / "era5.nc")
    return [str(s1), str(s2), str(folder / "dem.tif"), str(folder / "era5.nc")]


def peak_rss_bytes() -> int:
    """This process's peak resident memory (``VmHWM``: ``ru_maxrss`` survives exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def child(mode: str, inputs: list[str], output: str, chunk: int) -> None:
    """Subprocess: one measured step, printing seconds and peak memory as JSON."""
    import xsoilmoist
    from xsoilmoist.io import open_scene, write_result

    start = time.perf_counter()
    chunks = {"band": 1, "y": chunk, "x": chunk}
    options = {"processing_baseline": "04.00", "units": {"sar_c": "dB"}, "chunks": chunks}
    if mode == "assemble":
        result = xsoilmoist.assemble(*inputs, **options)
    elif mode == "predict":
        result = xsoilmoist.predict(open_scene(inputs[0]))
    else:
        result = xsoilmoist.predict(xsoilmoist.assemble(*inputs, **options))
    write_result(result, output, overwrite=True)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_rss_bytes()}))


def measure(mode: str, inputs: list[str], output: Path, chunk: int) -> dict:
    command = [sys.executable, __file__, "--child", mode, str(output), str(chunk), *inputs]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="scene edge in 10 m pixels")
    parser.add_argument("--chunk", type=int, default=1024, help="dask chunk edge when reading")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of steps 2 and 3")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, output, chunk, *inputs = args.child
        child(mode, inputs, output, int(chunk))
        return
    with tempfile.TemporaryDirectory(prefix="xsoilmoist-assemble-") as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        inputs = write_inputs(work, args.size)
        print(f"{args.size} x {args.size} px inputs written in {time.perf_counter() - start:.0f} s")
        megapixels = args.size**2 / 1e6
        steps = [
            ("1. assemble -> zarr", "assemble", inputs, work / "scene.zarr"),
            ("2. predict (pre-assembled zarr) -> zarr", "predict", [str(work / "scene.zarr")],
             work / "ssm.zarr"),
            ("3. assemble + predict -> zarr", "both", inputs, work / "ssm2.zarr"),
        ]  # fmt: skip
        best: dict[str, float] = {}
        for label, mode, paths, output in steps[:1] + steps[1:] * args.rounds:
            found = measure(mode, paths, output, args.chunk)
            best[mode] = min(best.get(mode, np.inf), found["seconds"])
            print(
                f"{label:<42} {found['seconds']:7.1f} s {megapixels / found['seconds']:6.2f} Mpx/s "
                f"peak {found['peak_bytes'] / 2**30:5.2f} GiB"
            )
        added = best["both"] / best["predict"] - 1
        print(f"assembling adds {100 * added:+.0f} % to predict's time in one graph (goal: 25 %)")
        two_steps = best["assemble"] + best["predict"]
        print(
            f"written first (1 then 2): {two_steps:.1f} s, "
            f"{100 * (two_steps / best['predict'] - 1):+.0f} % to predict's time"
        )


if __name__ == "__main__":
    main()
