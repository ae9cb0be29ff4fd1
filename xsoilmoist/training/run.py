"""Run a whole training from a TOML file: scenes, both stages, evaluation, model card."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from xsoilmoist.training.evaluation import evaluate
from xsoilmoist.training.loop import finetune, pretrain
from xsoilmoist.training.recipe import TrainingRecipe, load_training_recipe
from xsoilmoist.training.scenes import TrainingScene, prepare_scene, training_coverage

__all__ = ["evaluation_report", "run_training", "run_training_recipe"]


def evaluation_report(model, scenes: Sequence[TrainingScene]) -> dict[str, Any]:
    """Scores on ``scenes``: against the truth where all have it, and at their stations."""
    report: dict[str, Any] = {"scenes": [s.name for s in scenes]}
    if scenes and all(s.truth is not None for s in scenes):
        report["truth"] = evaluate(model, scenes, target="truth")
    with_stations = [s for s in scenes if s.n_stations]
    if with_stations:
        report["stations"] = evaluate(model, with_stations, target="stations")
    return report


def _default_description(recipe: TrainingRecipe) -> str:
    simulated = any(d.region for d in recipe.data)
    stages = [s for s in ("pretrain", "finetune") if getattr(recipe, s) is not None]
    what = " then ".join(
        {"pretrain": "coarse footprint labels", "finetune": "station points"}[s] for s in stages
    )
    data = "simulated scenes (xsoilmoist.synthetic)" if simulated else "the scenes listed"
    return f"Soil-moisture network trained on {what} of {data}; see 'training' and 'metrics'."


def _refuse_existing_model(output: Path) -> None:
    """Raise before training if the model files at ``output`` exist (as save_model names them)."""
    from xsoilmoist.errors import OutputExistsError

    stem = output.with_suffix("") if output.suffix in {".safetensors", ".json"} else output
    files = (stem.with_suffix(".safetensors"), stem.with_suffix(".json"))
    existing = [p for p in files if p.exists()]
    if existing:
        raise OutputExistsError(
            f"the model file {str(existing[0])!r} exists; pass --overwrite (overwrite=True in "
            "Python) to replace it, or set another [output] path"
        )


def run_training(
    recipe: TrainingRecipe,
    *,
    progress: bool = True,
    log: TextIO | None = None,
    overwrite: bool = False,
) -> Path:
    """Train as ``recipe`` says, evaluate, and write the model; returns the weights path.

    See :func:`run_training_recipe`.
    """
    from xsoilmoist.weights import save_model

    if not overwrite:
        _refuse_existing_model(recipe.output_path())
    log = log or sys.stderr
    start = _starting_model(recipe)
    scenes = _training_scenes(recipe, start, log)
    model, stages = _run_stages(recipe, start, scenes, progress)
    evaluated = scenes["test"] or scenes["validation"]
    metrics = {}
    if evaluated:
        split = "test" if scenes["test"] else "validation"
        metrics = {"split": split, **evaluation_report(model, evaluated)}
    card = _trained_card(recipe, model, stages, metrics, scenes["train"])
    weights, card_path = save_model(model, recipe.output_path(), card)
    log.write(f"wrote {weights} and {card_path}\n")
    _log_scores(metrics, log)
    return weights


def _starting_model(recipe: TrainingRecipe):
    """The network to train: loaded from ``[model] start_from``, or built from the recipe."""
    from xsoilmoist.model import SSMNet
    from xsoilmoist.weights import load_model

    start_from = recipe.model.get("start_from")
    if not start_from:
        return SSMNet(recipe.network_config())
    local = recipe.base / Path(start_from).expanduser()
    local_files = [local, local.with_name(local.name + ".safetensors")]
    return load_model(local if any(p.exists() for p in local_files) else start_from)


def _training_scenes(recipe: TrainingRecipe, start, log: TextIO) -> dict[str, list[TrainingScene]]:
    """The prepared scenes of each split."""
    scenes: dict[str, list[TrainingScene]] = {
        split: [] for split in ("train", "validation", "test")
    }
    for source in recipe.data:
        for ds in source.datasets(recipe.base):
            scenes[source.split].append(prepare_scene(ds, start))
    log.write(
        f"training scenes: {len(scenes['train'])}, validation: {len(scenes['validation'])}, "
        f"test: {len(scenes['test'])}\n"
    )
    return scenes


def _run_stages(recipe: TrainingRecipe, start, scenes, progress: bool) -> tuple[Any, list]:
    """Stage 1 and stage 2 as the recipe has them; the trained model and stage summaries."""
    output = recipe.output_path()
    model: Any = start if recipe.model.get("start_from") else start.config
    stages = []
    for name, train_stage, validation in (
        ("pretrain", pretrain, scenes["validation"]),
        ("finetune", finetune, [s for s in scenes["validation"] if s.n_stations]),
    ):
        settings = getattr(recipe, name)
        if settings is None:
            continue
        checkpoint = output.with_name(f"{output.name}-{name}")
        result = train_stage(
            model,
            scenes["train"],
            validation=validation,
            settings=settings,
            checkpoint=checkpoint if recipe.output.checkpoints else None,
            progress=progress,
        )
        model = result.model
        stages.append(result.summary())
    return model, stages


def _trained_card(recipe: TrainingRecipe, model, stages, metrics, train_scenes):
    """The card of the trained model, with the band ranges and months it was trained on."""
    from xsoilmoist.weights import ModelCard

    modalities = list(model.config.modalities)
    input_ranges, months = training_coverage(train_scenes) if train_scenes else (None, None)
    return ModelCard(
        name=recipe.output.name or recipe.output_path().name,
        config={},
        trained=True,
        description=recipe.output.description or _default_description(recipe),
        required_modalities=modalities[:1],
        optional_modalities=modalities[1:],
        tile=recipe.output.tile,
        halo=recipe.output.halo,
        input_ranges=input_ranges,
        trained_months=months,
        training={
            "configuration_file": recipe.source,
            "data": [d.describe() for d in recipe.data],
            "stages": stages,
            "started_from": recipe.model.get("start_from") or None,
        },
        metrics=metrics,
        license=recipe.output.license,
        version=recipe.output.version,
    )


def _log_scores(metrics: dict, log: TextIO) -> None:
    for target in ("truth", "stations"):
        if target in metrics:
            scores = metrics[target]
            log.write(
                f"{metrics['split']} {target}: R2 {scores['r2']:.3f}  "
                f"RMSE {scores['rmse']:.4f}  ubRMSE {scores['ubrmse']:.4f}  "
                f"MAE {scores['mae']:.4f}  bias {scores['bias']:+.4f}  (n={int(scores['n'])})\n"
            )


def run_training_recipe(
    path: str | Path, *, progress: bool = True, overwrite: bool = False
) -> Path:
    """Train the model a TOML file describes and write it with its card (``xsoilmoist train``).

    Builds (or loads) the network, opens or simulates the scenes of each
    split, runs the stages present (stage 1 ``[pretrain]`` on coarse labels,
    stage 2 ``[finetune]`` on stations, early stopping on validation
    stations or on stations held out of the training scenes), scores the
    result on the ``test`` scenes (else the ``validation`` ones) and writes
    ``PATH.safetensors`` + ``PATH.json`` with :func:`xsoilmoist.weights.save_model`.

    Parameters
    ----------
    path
        The TOML file (format: :mod:`xsoilmoist.training.recipe`).
    progress
        Print progress lines to stderr.
    overwrite
        Replace model files that exist at the output path; otherwise they are
        an error, raised before any training.

    Returns
    -------
    pathlib.Path
        The written ``.safetensors`` file.

    Raises
    ------
    TrainingConfigError
        For a file that cannot be used as written (the message names the
        table and key).
    OutputExistsError
        The model files exist and ``overwrite`` is false.

    Examples
    --------
    >>> run_training_recipe("train.toml")  # doctest: +SKIP
    PosixPath('models/mymodel.safetensors')
    """
    return run_training(load_training_recipe(path), progress=progress, overwrite=overwrite)
