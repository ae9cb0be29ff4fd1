"""The experiment scripts and the default-model script run end to end (smoke budgets; slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "rows"),
    [("fusion_ablation", 3), ("training_strategy", 6), ("transfer", 4)],
)
def test_experiment_writes_its_table_and_plot(tmp_path, script, rows):
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "experiments" / f"{script}.py"), str(tmp_path),
         "--quick", "--threads", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    table = json.loads((tmp_path / f"{script}.json").read_text())
    assert len(table) == rows
    for scores in table.values():
        assert set(scores) == {"truth", "stations"}
        assert {"r2", "rmse", "ubrmse", "mae", "bias"} <= set(scores["truth"])
    assert (tmp_path / f"{script}.png").stat().st_size > 10_000
    assert "SIMULATED" in out.stdout or "simulated" in (tmp_path / f"{script}.txt").read_text()


@pytest.mark.slow
def test_default_model_script_writes_a_trained_card(tmp_path):
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "train_default.py"), "--quick",
         "--output", str(tmp_path / "model"), "--threads", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["trained"] is True
    assert "SIMULATED" in card["description"]
    assert card["training"]["data"]["source"] == "simulated scenes (xsoilmoist.synthetic)"
    assert set(card["metrics"]["truth_by_region"]) == {"farmland", "alpine_grassland", "arid_basin"}


@pytest.mark.slow
def test_randomization_cost_scores_the_shipped_model_on_the_same_truth(tmp_path):
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "experiments" / "randomization_cost.py"), str(tmp_path),
         "--quick", "--threads", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    table = json.loads((tmp_path / "randomization_cost.json").read_text())
    assert next(iter(table)) == "shipped simulator (+/- 1.5 dB)" and len(table) == 7
    assert all(0.0 < row["level_share"] < 1.0 for row in table.values())
    assert len({row["truth"]["n"] for row in table.values()}) == 1  # the same truth in every row
    # a scene's radar offset can only hurt a model that sees one date
    assert (
        table["calibration offset +/- 0.0 dB"]["truth"]["r2"]
        > table["shipped simulator (+/- 1.5 dB)"]["truth"]["r2"]
    )
