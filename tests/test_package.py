import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_import_torch():
    code = "import sys, xsoilmoist; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_names():
    import xsoilmoist

    assert callable(xsoilmoist.standardize)
    assert callable(xsoilmoist.check)
    assert xsoilmoist.__version__


def test_docs_build_without_warnings(tmp_path):
    sphinx = pytest.importorskip("sphinx.cmd.build")
    status = sphinx.build_main(["-W", "-q", "-b", "html", str(ROOT / "docs"), str(tmp_path)])
    assert status == 0
    assert (tmp_path / "inputs.html").read_text().count("<tr") > 20  # generated band table
