"""Time the observing-system simulator on a large scene, with its peak memory.

Run: ``python benchmarks/simulate.py [size] [dates] [chunk]`` (defaults 1024,
10 and 256). Simulates a ``size`` x ``size`` farmland scene at 10 m with
``dates`` overpasses, once on numpy (``chunks=None``) and once lazily on dask
(``chunks=chunk``, computed with the threaded scheduler), each in a fresh
interpreter so the peak resident memory (``ru_maxrss``) of each run is its
own. A warm-up on a small scene loads numba's compiled kernels first, so the
times are of the simulation, not of compilation.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def run_once(size: int, dates: int, chunk: int | None) -> dict:
    """Simulate and fully compute one scene; return seconds and memory (in this process)."""
    from xsoilmoist.synthetic import simulate_scene

    simulate_scene(shape=(16, 16), times=2, chunks=None if chunk is None else 8).compute()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    scene = simulate_scene(shape=(size, size), times=dates, chunks=chunk)
    built = time.perf_counter() - start
    scene = scene.compute()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "seconds": seconds,
        "build_seconds": built,
        "peak_mib": peak / 1024.0,
        "warm_up_peak_mib": before / 1024.0,
        "result_mib": scene.nbytes / 2**20,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        size, dates, chunk = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        print(json.dumps(run_once(size, dates, None if chunk == "none" else int(chunk))))
        return
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    dates = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    chunk = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    print(f"simulate_scene('farmland', shape=({size}, {size}), times={dates}) at 10 m")
    for label, chunk_arg in (("numpy (chunks=None)", "none"), (f"dask (chunks={chunk})", chunk)):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), str(dates), str(chunk_arg)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"  {label:<22} {result['seconds']:6.1f} s (graph built in "
            f"{result['build_seconds']:.1f} s); peak RSS {result['peak_mib']:6.0f} MiB "
            f"(after warm-up {result['warm_up_peak_mib']:.0f} MiB; result "
            f"{result['result_mib']:.0f} MiB)"
        )


if __name__ == "__main__":
    main()
