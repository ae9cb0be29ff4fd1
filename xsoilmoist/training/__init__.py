"""Two-stage training of the soil-moisture network (imports torch).

Intermediate-task fine-tuning after Liu et al. (2025): stage 1
(:func:`pretrain`) learns from coarse satellite-like labels, the loss on the
prediction averaged over each coarse footprint; stage 2 (:func:`finetune`)
adapts to in-situ stations, the loss at station pixels only. Scenes enter
through :func:`prepare_scene`, which uses the inference path's
``prepare_inputs``, so band order, units and encodings are the ones
:func:`xsoilmoist.predict` will use. A whole run can be described in a TOML
file, a training recipe (:mod:`xsoilmoist.training.recipe`), and started with
:func:`run_training_recipe` (``xsoilmoist train``).

Examples
--------
>>> from xsoilmoist.model import SSMNet, SSMNetConfig
>>> from xsoilmoist.synthetic import simulate_scene
>>> from xsoilmoist.training import PretrainSettings, pretrain, prepare_scene
>>> config = SSMNetConfig(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
>>> ds = simulate_scene("farmland", shape=(48, 48), times=2, coarse_resolution=160.0)
>>> scene = prepare_scene(ds, SSMNet(config))
>>> result = pretrain(config, [scene], settings=PretrainSettings(
...     steps=2, batch_size=2, patch_size=32, eval_every=2), progress=False)
>>> result.stage, len(result.history)
('pretrain', 1)
"""

from __future__ import annotations

import warnings
from typing import Any

from xsoilmoist.training.baselines import baseline_predictions, baseline_report
from xsoilmoist.training.evaluation import evaluate, predict_scene
from xsoilmoist.training.loop import (
    TrainingResult,
    finetune,
    l2_sp_penalty,
    pretrain,
    split_dates,
    split_stations,
)
from xsoilmoist.training.losses import footprint_mean_loss, footprint_means, station_loss
from xsoilmoist.training.patches import PatchBatch, PatchSampler, drop_modalities
from xsoilmoist.training.recipe import (
    DataSource,
    OutputSettings,
    TrainingConfigError,
    TrainingRecipe,
    load_training_recipe,
)
from xsoilmoist.training.run import evaluation_report, run_training, run_training_recipe
from xsoilmoist.training.scenes import (
    TrainingScene,
    band_statistics,
    normalised_config,
    prepare_scene,
)
from xsoilmoist.training.settings import FinetuneSettings, PretrainSettings

__all__ = [
    "DataSource",
    "FinetuneSettings",
    "OutputSettings",
    "PatchBatch",
    "PatchSampler",
    "PretrainSettings",
    "TrainingConfigError",
    "TrainingRecipe",
    "TrainingResult",
    "TrainingScene",
    "band_statistics",
    "baseline_predictions",
    "baseline_report",
    "drop_modalities",
    "evaluate",
    "evaluation_report",
    "finetune",
    "footprint_mean_loss",
    "footprint_means",
    "l2_sp_penalty",
    "load_training_recipe",
    "normalised_config",
    "predict_scene",
    "prepare_scene",
    "pretrain",
    "run_training",
    "run_training_recipe",
    "split_dates",
    "split_stations",
    "station_loss",
]

_RENAMED = {
    "TrainingConfig": "TrainingRecipe",
    "load_training_config": "load_training_recipe",
    "run_training_config": "run_training_recipe",
}


def __getattr__(name: str) -> Any:
    """The training recipe's former names (deprecated): a ``FutureWarning``, then the object."""
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(
            f"xsoilmoist.training.{name} is deprecated; use xsoilmoist.training.{new} "
            "(the same object, renamed)",
            FutureWarning,
            stacklevel=2,
        )
        return globals()[new]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
