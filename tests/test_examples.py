"""The example scripts run and print what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xsoilmoist import datasets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_standardize_real_pair_example(sample_data):
    env = {**os.environ}
    assert env[datasets.BASE_URL_ENV].startswith("file://")
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "standardize_real_pair.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "xsoilmoist input check: OK" in out.stdout
    assert "CRS EPSG:326" in out.stdout
    assert "median slope" in out.stdout


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_docstring_saying_how_to_run_it(script):
    text = (EXAMPLES / script).read_text()
    assert text.startswith('"""') and "Run:" in text
