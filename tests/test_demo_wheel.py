"""A wheel of the repository, installed in a fresh environment, runs ``xsoilmoist demo`` offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from test_demo import SKIP_LINE, dead_port

from xsoilmoist import datasets

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*cache", ".hypothesis"
)


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


def _build_wheel(tmp_path: Path) -> Path:
    """The wheel of a copy of the repository (no index, no build isolation: offline)."""
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    pip = [sys.executable, "-m", "pip"]
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, source)
    (wheel,) = dist.glob("xsoilmoist-*.whl")
    return wheel


def _fresh_environment(tmp_path: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; its ``bin`` folder.

    There is no index to install the dependencies from offline, so they are read
    from this test's environment through a ``.pth`` line. Its ``.pth`` files are not
    run, so the repository's editable install stays out of the fresh environment.
    """
    fresh = tmp_path / "fresh"
    _run(sys.executable, "-m", "venv", "--without-pip", fresh)
    python = fresh / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    _run(*pip, "install", "--no-deps", "--no-index", wheel)
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(purelib.stdout.strip()) / "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    return fresh / "bin"


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """This environment without the sample-data override; every connection refused."""
    env = {k: v for k, v in os.environ.items() if k not in {datasets.BASE_URL_ENV, "PYTHONPATH"}}
    refused = f"http://127.0.0.1:{dead_port()}"
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env[proxy] = refused
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    env[datasets.CACHE_DIR_ENV] = str(tmp_path / "empty-cache")
    env["MPLCONFIGDIR"] = str(tmp_path / "matplotlib")
    return env


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_runs_the_demo_offline_with_the_bundled_model(tmp_path):
    wheel = _build_wheel(tmp_path)
    packaged = zipfile.ZipFile(wheel).namelist()
    assert "xsoilmoist/registry/sample_data.txt" in packaged
    assert any(name.startswith("xsoilmoist/pretrained/") for name in packaged)
    bin_dir = _fresh_environment(tmp_path, wheel)
    env = _offline_env(tmp_path)
    show = "import xsoilmoist; print(xsoilmoist.__file__)"
    where = _run(bin_dir / "python", "-c", show, cwd=tmp_path, env=env)  # not the repository
    assert where.stdout.startswith(str(tmp_path / "fresh"))

    demo = _run(bin_dir / "xsoilmoist", "demo", "--output", "out", cwd=tmp_path, env=env)
    assert "no trained model" not in demo.stdout
    assert "SIMULATED farmland scene" in demo.stdout
    assert "against the simulated truth: r2" in demo.stdout
    skipped = [line for line in demo.stdout.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith(SKIP_LINE)
    assert datasets.BASE_URL_ENV in skipped[0]
    for archive in (datasets.BIGEARTHNET_S1_ARCHIVE, datasets.BIGEARTHNET_S2_ARCHIVE):
        assert datasets.upstream_url(archive) in skipped[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "simulated_farmland_ssm.png",
        "simulated_farmland_ssm.tif",
        "simulated_farmland_truth.png",
    ]
