"""Time the terrain functions on a synthetic DEM, on numpy and on dask.

Run: ``python benchmarks/terrain.py [size]`` (default 2048: a size x size
projected DEM at 10 m; dask chunks of 512). Prints the best of 3 wall-clock
times per function after a warm-up call (which includes numba's compile or
cache load, reported separately).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import xarray as xr

from xsoilmoist import terrain

RUNS = 3
CHUNK = 512


def synthetic_dem(size: int) -> xr.DataArray:
    """Rolling hills with noise on a 10 m UTM grid."""
    rng = np.random.default_rng(0)
    i, j = np.mgrid[0:size, 0:size] / size
    z = 100.0 + 30.0 * np.sin(7 * i) * np.cos(5 * j) + 5.0 * rng.random((size, size))
    x = 300_000.0 + 10.0 * np.arange(size)
    y = 4_600_000.0 - 10.0 * np.arange(size)
    dem = xr.DataArray(z, coords={"y": y, "x": x}, dims=("y", "x"), name="elevation")
    return dem.rio.write_crs("EPSG:32633")


def best_time(function, dem: xr.DataArray) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        function(dem).compute()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    dem = synthetic_dem(size)
    chunked = dem.chunk({"y": CHUNK, "x": CHUNK})
    megapixels = dem.size / 1e6
    print(f"DEM {size} x {size} ({megapixels:.1f} Mpixel); dask chunks {CHUNK} x {CHUNK}")
    for function in (terrain.slope, terrain.aspect, terrain.flow_accumulation, terrain.twi):
        start = time.perf_counter()
        function(dem.isel(y=slice(0, 8), x=slice(0, 8)))
        warm_up = time.perf_counter() - start
        on_numpy = best_time(function, dem)
        on_dask = best_time(function, chunked)
        print(
            f"{function.__name__:>17}: numpy {on_numpy:6.2f} s ({megapixels / on_numpy:5.1f} "
            f"Mpixel/s), dask {on_dask:6.2f} s; first call {warm_up:.2f} s"
        )


if __name__ == "__main__":
    main()
