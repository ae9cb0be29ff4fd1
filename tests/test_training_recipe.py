"""Training recipes (TOML files): parsing, clear errors, and a whole tiny run."""

from __future__ import annotations

import json

import pytest

from xsoilmoist.training import (
    FinetuneSettings,
    PretrainSettings,
    TrainingConfigError,
    load_training_recipe,
    run_training_recipe,
)
from xsoilmoist.weights import load_model

TINY_RUN = """
seed = 3

[model]
config = "atto"
depths = [1, 1, 1, 1]
dims = [8, 16, 32, 64]
name = "tiny"

[[data]]
split = "train"
region = "farmland"
seeds = [1]
shape = [48, 48]
times = 2
coarse_resolution = 160.0
n_stations = 8

[[data]]
split = "test"
region = "arid_basin"
seeds = [5]
shape = [48, 48]
times = ["2022-07-01", "2022-07-13"]
coarse_resolution = 160.0
n_stations = 8

[pretrain]
steps = 4
batch_size = 2
patch_size = 32
eval_every = 2

[finetune]
steps = 4
batch_size = 2
patch_size = 32
eval_every = 2
freeze_encoder = true
patience = 0

[output]
path = "out/tiny"
license = "CC-BY-4.0"
"""


def write(tmp_path, text: str):
    path = tmp_path / "train.toml"
    path.write_text(text)
    return path


def test_a_valid_file_parses_into_settings(tmp_path):
    recipe = load_training_recipe(write(tmp_path, TINY_RUN))
    assert recipe.pretrain == PretrainSettings(
        steps=4, batch_size=2, patch_size=32, eval_every=2, seed=3
    )
    assert recipe.finetune.freeze_encoder and recipe.finetune.patience is None  # 0: off
    assert isinstance(recipe.finetune, FinetuneSettings) and recipe.finetune.seed == 3
    assert recipe.data[1].times == ("2022-07-01", "2022-07-13")
    assert recipe.data[0].coarse_resolution == 160.0
    network = recipe.network_config()
    assert network.depths == (1, 1, 1, 1) and network.name == "tiny"
    assert recipe.output_path() == tmp_path / "out" / "tiny"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("TrainingConfig", "TrainingRecipe"),
        ("load_training_config", "load_training_recipe"),
        ("run_training_config", "run_training_recipe"),
    ],
)
def test_the_former_names_warn_and_give_the_renamed_object(old, new):
    import xsoilmoist.training as training

    with pytest.warns(FutureWarning, match=f"training.{old} is deprecated; use .*training.{new}"):
        assert getattr(training, old) is getattr(training, new)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        training.not_a_name  # noqa: B018


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("steps = 4", "stepz = 4"), r"unknown key\(s\) \['stepz'\] in \[pretrain\]"),
        (("steps = 4", 'steps = "four"'), r"\[pretrain\] steps must be an integer, got 'four'"),
        (("steps = 4", "steps = 4.5"), r"\[pretrain\] steps must be an integer"),
        (("freeze_encoder = true", "freeze_encoder = 1"), r"freeze_encoder must be true or false"),
        (("depths = [1, 1, 1, 1]", 'depths = [1, "a"]'), r"\[model\] depths\[1\] must be an int"),
        (("depths = [1, 1, 1, 1]", "depths = [1, 1]"), r"\[model\].*need 4 stages"),
        (('split = "test"', 'split = "tset"'), r"split must be one of"),
        (('path = "out/tiny"', ""), r"\[output\] needs path"),
        (("[output]", "[outptu]"), r"unknown key\(s\) \['outptu'\] in the top level"),
        (("steps = 4", "steps = -1"), r"\[pretrain\] .*steps must be a positive integer"),
        (('region = "farmland"', 'region = "farmland"\nfiles = ["a.nc"]'), "not both"),
        (("seed = 3", "seed = 3\n[x"), r"is not valid TOML: .*line"),
    ],
)
def test_mistakes_get_an_error_naming_the_table_and_key(tmp_path, edit, message):
    old, new = edit
    assert old in TINY_RUN
    path = write(tmp_path, TINY_RUN.replace(old, new, 1))
    with pytest.raises(TrainingConfigError, match=message) as info:
        load_training_recipe(path)
    assert str(path) in str(info.value)


def test_a_file_needs_a_stage_and_training_scenes(tmp_path):
    single = TINY_RUN.replace("[[data]]", "[data]", 1).replace(
        TINY_RUN[TINY_RUN.index('[[data]]\nsplit = "test"') : TINY_RUN.index("[pretrain]")], ""
    )
    with pytest.raises(TrainingConfigError, match=r"array of tables, written \[\[data\]\]"):
        load_training_recipe(write(tmp_path, single))
    no_stage = TINY_RUN.split("[pretrain]")[0] + '[output]\npath = "x"\n'
    with pytest.raises(TrainingConfigError, match="nothing to train"):
        load_training_recipe(write(tmp_path, no_stage))
    no_train = TINY_RUN.replace('split = "train"', 'split = "validation"')
    with pytest.raises(TrainingConfigError, match='no \\[\\[data\\]\\] table has split = "train"'):
        load_training_recipe(write(tmp_path, no_train))
    with pytest.raises(TrainingConfigError, match="cannot read"):
        load_training_recipe(tmp_path / "missing.toml")


def test_missing_scene_files_are_named(tmp_path):
    text = TINY_RUN.replace('region = "farmland"', 'files = ["scenes/*.zarr"]', 1)
    with pytest.raises(TrainingConfigError, match=r"'scenes/\*.zarr' matches no file"):
        run_training_recipe(write(tmp_path, text), progress=False)


def test_a_tiny_run_writes_a_loadable_model_with_an_honest_card(tmp_path):
    weights = run_training_recipe(write(tmp_path, TINY_RUN), progress=False)
    assert weights == tmp_path / "out" / "tiny.safetensors"
    model = load_model(weights)
    card = model.card
    assert card.trained and card.license == "CC-BY-4.0"
    assert "simulated scenes (xsoilmoist.synthetic)" in card.description
    assert [s["stage"] for s in card.training["stages"]] == ["pretrain", "finetune"]
    assert card.training["data"][0]["source"] == "simulated scenes (xsoilmoist.synthetic)"
    assert card.metrics["split"] == "test" and card.metrics["scenes"] == ["arid_basin-5"]
    assert set(card.metrics["truth"]) >= {"r2", "rmse", "ubrmse", "mae", "bias", "n"}
    assert card.metrics["truth"]["n"] == 2 * 48 * 48
    assert card.required_modalities == ["sar_c"]
    assert model.config.band_mean[0] != 0.0  # normalisation from the training scenes
    low, high = card.input_ranges["vv"]  # what the input checks compare scenes with
    assert -40 < low < high < 10
    assert card.trained_months and set(card.trained_months) <= set(range(1, 13))
    json.loads((tmp_path / "out" / "tiny.json").read_text())
