"""``xsoilmoist demo`` on the bundled simulator and the real sample pair."""

import socket
import warnings

import pytest
from test_inference import model_path  # noqa: F401

from xsoilmoist import datasets
from xsoilmoist.cli import main

SKIP_LINE = "skipped the real Sentinel-1/Sentinel-2 pair: "


def dead_port() -> int:
    """A local port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_with_a_model_predicts_and_writes_maps(sample_data, model_path, tmp_path, capsys):  # noqa: F811
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*untrained weights")
        code = main(["demo", "--output", str(tmp_path), "--model", str(model_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "SIMULATED farmland scene" in out
    assert "against the simulated truth: r2" in out
    assert "xsoilmoist input check: OK" in out
    names = {p.name for p in tmp_path.iterdir()}
    assert "simulated_farmland_ssm.tif" in names and "simulated_farmland_ssm.png" in names
    assert any(n.endswith("_ssm.tif") and n.startswith("S2") for n in names)
    for path in tmp_path.iterdir():
        assert str(path) in out  # says where it wrote what
        assert path.stat().st_size > 1000


def test_demo_without_a_model_says_so_and_shows_the_inputs(sample_data, tmp_path, capsys):
    assert main(["demo", "--output", str(tmp_path), "--model", "no-such-model"]) == 0
    out = capsys.readouterr().out
    assert "no trained model to run" in out and "no-such-model" in out
    assert [p.name for p in tmp_path.iterdir()] == ["S2A_MSIL2A_20170613T101031_87_48_inputs.png"]


@pytest.mark.parametrize("override", [False, True], ids=["upstream", "XSOILMOIST_DATA_URL"])
def test_demo_without_the_real_pair_runs_the_simulated_part_and_says_how_to_get_it(
    model_path,  # noqa: F811
    tmp_path,
    capsys,
    monkeypatch,
    override,
):
    dead = f"http://127.0.0.1:{dead_port()}/"
    monkeypatch.setattr(datasets, "UPSTREAM_HOST", dead)
    if override:
        monkeypatch.setenv(datasets.BASE_URL_ENV, dead)
    else:
        monkeypatch.delenv(datasets.BASE_URL_ENV, raising=False)
    monkeypatch.setenv(datasets.CACHE_DIR_ENV, str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*untrained weights")
        code = main(["demo", "--output", str(tmp_path / "out"), "--model", str(model_path)])
    assert code == 0
    out = capsys.readouterr().out
    assert "SIMULATED farmland scene" in out and "against the simulated truth: r2" in out
    skipped = [line for line in out.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith(SKIP_LINE)
    assert "Connection refused" in skipped[0]
    assert datasets.BASE_URL_ENV in skipped[0]
    for archive in (datasets.BIGEARTHNET_S1_ARCHIVE, datasets.BIGEARTHNET_S2_ARCHIVE):
        assert datasets.upstream_url(archive) in skipped[0]  # the URLs to download by hand
    assert "input check" not in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "simulated_farmland_ssm.png",
        "simulated_farmland_ssm.tif",
        "simulated_farmland_truth.png",
    ]
