"""``xsoilmoist demo`` on the bundled simulator and the real sample pair."""

import warnings

from test_inference import model_path  # noqa: F401

from xsoilmoist.cli import main


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
