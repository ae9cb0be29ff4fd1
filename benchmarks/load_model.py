"""Print how long loading the bundled default model takes, in a fresh interpreter.

Run: ``python benchmarks/load_model.py``. Each of 5 runs starts a new Python,
imports torch and xsoilmoist (timed apart: every torch program pays for that
import), then times ``load_model("default")``: reading the card, hashing and
reading the safetensors weights, building the network and loading its state
strictly. Prints the best and median of the runs.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

RUNS = 5
CODE = """
import time
t0 = time.perf_counter()
import torch, xsoilmoist
t1 = time.perf_counter()
model = xsoilmoist.load_model("default")
t2 = time.perf_counter()
size = sum(p.numel() for p in model.parameters())
print(t1 - t0, t2 - t1, size, model.card.sha256)
"""


def main() -> None:
    imports, loads = [], []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        ).stdout.split()
        imports.append(float(out[0]))
        loads.append(float(out[1]))
        parameters, sha = int(out[2]), out[3]
    print(f"default model: {parameters / 1e6:.2f} M parameters, sha256 {sha[:12]}...")
    print(
        f"load_model('default'): best {min(loads):.3f} s, median {statistics.median(loads):.3f} s"
        f" ({RUNS} fresh interpreters)"
    )
    print(f"import torch + xsoilmoist before it: median {statistics.median(imports):.2f} s")


if __name__ == "__main__":
    main()
