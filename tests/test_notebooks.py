"""The example notebooks are committed clean, run from top to bottom and print what they promise.

Each notebook in ``examples/`` is executed in a fresh ``python3`` kernel (the
interpreter running the tests) with nbclient, in a temporary working folder;
then the figures it printed are read back and checked.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need the test extra")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need the test extra")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOTEBOOKS = sorted(path.name for path in EXAMPLES.glob("*.ipynb"))
#: Notebooks that read the real sample data (skipped without ``../shared/data``).
NEEDS_SAMPLE_DATA = {"real_pair.ipynb"}
#: Seconds one cell may take on a busy CI machine (each notebook takes well under a minute).
CELL_TIMEOUT = 300
NUMBER = r"([-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?)"


def execute(name: str, folder: Path):
    """The notebook ``name`` after running every cell in a new kernel, working in ``folder``.

    A cell that raises fails the test (nbclient raises ``CellExecutionError``).
    """
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    # The kernel inherits the environment (the sample-data registry set up by conftest),
    # but not a non-interactive MPLBACKEND: the notebooks' figures must be displayed.
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}
    client.execute(env=env)
    return notebook


def code_outputs(notebook) -> list:
    return [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
    ]


def printed(notebook) -> str:
    """Everything the code cells printed to stdout."""
    return "".join(
        output.text
        for output in code_outputs(notebook)
        if output.output_type == "stream" and output.name == "stdout"
    )


def markdown(notebook) -> str:
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


def figures(notebook) -> int:
    """Number of PNG images the notebook displayed."""
    return sum("image/png" in output.get("data", {}) for output in code_outputs(notebook))


def number(pattern: str, text: str) -> float:
    """The number in ``text`` at the ``{}`` of ``pattern`` (a regular expression)."""
    match = re.search(pattern.format(NUMBER), text)
    assert match, f"{pattern!r} not found in the notebook's output:\n{text}"
    value = float(match.group(1))
    assert math.isfinite(value), f"{pattern!r}: {value}"
    return value


def check_quickstart(notebook) -> None:
    out = printed(notebook)
    assert "xsoilmoist input check: OK" in out
    r2 = number(r"against the simulated truth: R2 {}", out)
    rmse = number(r"against the simulated truth: R2 \S+, RMSE {}", out)
    assert 0.5 < r2 <= 1.0 and 0.0 < rmse < 0.06, (r2, rmse)  # the bundled model works
    assert 0.0 < number(r"station readings: RMSE {}", out) < 0.1
    assert "trained: True" in out
    assert figures(notebook) == 2  # prediction and truth


def check_real_pair(notebook) -> None:
    out = printed(notebook)
    assert "xsoilmoist input check: OK" in out
    assert "CRS EPSG:326" in out  # the pair's UTM CRS reaches the prediction
    low = number(r"5th percentile {}", out)
    median = number(r"5th percentile \S+, median {}", out)
    high = number(r"95th percentile {}", out)
    assert 0.0 <= low <= median <= high <= 0.6, (low, median, high)
    assert "pixels without a value: 0.0%" in out
    correlations = re.findall(r"^  (\w+) +([-+]\d\.\d\d)$", out, flags=re.MULTILINE)
    assert len(correlations) == 8 and all(-1 <= float(r) <= 1 for _, r in correlations)
    assert figures(notebook) == 2  # inputs and map
    text = markdown(notebook)
    assert "There is no ground truth here" in text
    assert "trained on simulated data only" in text


def check_distributed(notebook) -> None:
    out = printed(notebook)
    assert "lazy: True" in out
    loads = re.search(r"model loads per worker: \[([\d, ]+)\]", out)
    assert loads, out
    counts = [int(n) for n in loads.group(1).split(",")]
    assert len(counts) == 2 and max(counts) == 1, counts  # once per worker at most
    assert number(r"max abs difference between cluster and threaded results: {}", out) < 1e-5
    assert "client closed" in out


def check_finetuning(notebook) -> None:
    out = printed(notebook)
    before = number(r"before fine-tuning: RMSE {}", out)
    after = number(r"after fine-tuning: RMSE {}", out)
    assert 0.0 < after < before, (before, after)  # the stations improve held-out stations
    before_bias = number(r"before fine-tuning: RMSE \S+, ubRMSE \S+, bias {}", out)
    after_bias = number(r"after fine-tuning: RMSE \S+, ubRMSE \S+, bias {}", out)
    assert abs(after_bias) < abs(before_bias), (before_bias, after_bias)
    assert (
        number(r"reloaded vs in-memory model on the held-out scene: max abs difference {}", out)
        == 0
    )
    assert figures(notebook) == 1


def check_paper_experiments(notebook) -> None:
    out = printed(notebook)
    rows = re.findall(rf"^(\d)\. .+ R2 {NUMBER}, ubRMSE {NUMBER} m3 m-3$", out, flags=re.MULTILINE)
    assert [row[0] for row in rows] == ["1", "2", "3"], out
    for _, r2, ubrmse in rows:
        assert float(r2) <= 1.0 and 0.0 < float(ubrmse) < 0.3, (r2, ubrmse)
    assert len(re.findall(r"R2 gain [-+]\d\.\d{3} \(paper \+0\.\d\d\)", out)) == 2, out
    text = markdown(notebook)
    assert "smoke scale" in text and "docs/training.rst" in text


CHECKS: dict[str, Callable] = {
    "quickstart.ipynb": check_quickstart,
    "real_pair.ipynb": check_real_pair,
    "distributed.ipynb": check_distributed,
    "finetuning.ipynb": check_finetuning,
    "paper_experiments.ipynb": check_paper_experiments,
}


def test_every_notebook_has_checks():
    assert set(NOTEBOOKS) == set(CHECKS), "add or remove the checks of a notebook here"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_committed_without_outputs(name):
    notebook = nbformat.read(EXAMPLES / name, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), (
        f"{name} has outputs: clear them before committing"
    )
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            id=name.removesuffix(".ipynb"),
            marks=[pytest.mark.sample_data] if name in NEEDS_SAMPLE_DATA else [],
        )
        for name in NOTEBOOKS
    ],
)
def test_notebook_runs_and_prints_what_it_promises(name, request, tmp_path):
    if name in NEEDS_SAMPLE_DATA:
        request.getfixturevalue("sample_data")  # skips when the sample data are absent
    CHECKS[name](execute(name, tmp_path))
