"""Print how long ``import xsoilmoist`` takes and confirm it does not import torch.

Run: ``python benchmarks/import_time.py``. Uses ``python -X importtime`` in a
fresh interpreter (best of 5), and reports the heaviest imports.
"""

from __future__ import annotations

import re
import subprocess
import sys

RUNS = 5


def import_profile() -> tuple[float, dict[str, float]]:
    """Total import time of xsoilmoist (s) and cumulative time per top-level package."""
    code = "import xsoilmoist, sys; assert 'torch' not in sys.modules, 'torch was imported'"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    per_package: dict[str, float] = {}
    total = 0.0
    for line in out.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if not match:
            continue
        cumulative_us, name = int(match[1]), match[3]
        package = name.split(".")[0]
        per_package[package] = max(per_package.get(package, 0.0), cumulative_us / 1e6)
        if name == "xsoilmoist":
            total = cumulative_us / 1e6
    return total, per_package


def main() -> None:
    profiles = [import_profile() for _ in range(RUNS)]
    best_total, packages = min(profiles, key=lambda p: p[0])
    print(f"import xsoilmoist: {best_total:.2f} s (best of {RUNS}); torch imported: no")
    packages.pop("xsoilmoist", None)
    heaviest = sorted(packages.items(), key=lambda kv: -kv[1])[:8]
    print("heaviest packages it imports (cumulative s):")
    for name, seconds in heaviest:
        print(f"  {name:<24}{seconds:6.2f}")


if __name__ == "__main__":
    main()
