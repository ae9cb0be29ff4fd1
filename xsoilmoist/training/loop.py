"""The two training stages: :func:`pretrain` on coarse labels, :func:`finetune` on stations.

This is intermediate-task fine-tuning (Liu et al. 2025): stage 1 learns from
plentiful coarse satellite-like labels, comparing the prediction averaged over
each coarse footprint with the footprint's value; stage 2 adapts the network
to sparse in-situ stations, with the loss at station pixels only, a lower
learning rate, optionally a frozen encoder, and early stopping on held-out
stations. Both stages apply modality dropout, are reproducible from their
``seed``, print a progress line and can write checkpoints with
:func:`xsoilmoist.weights.save_model`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from xsoilmoist.errors import InputError, InputTypeError
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.model_card import default_card
from xsoilmoist.training.losses import footprint_mean_loss, station_loss
from xsoilmoist.training.patches import PatchBatch, PatchSampler, drop_modalities
from xsoilmoist.training.progress import ProgressLine
from xsoilmoist.training.scenes import TrainingScene, normalised_config
from xsoilmoist.training.settings import FinetuneSettings, PretrainSettings

__all__ = ["ENCODER_PARTS", "TrainingResult", "finetune", "pretrain", "split_stations"]

#: Top-level parts of :class:`~xsoilmoist.model.SSMNet` frozen by ``freeze_encoder``.
ENCODER_PARTS = ("stems", "fusion", "downsample", "stages")


@dataclass
class TrainingResult:
    """What a training stage returns.

    Attributes
    ----------
    model
        The trained network (a new object without the input's model card; the
        model passed in is untouched), in eval mode, with the best validation
        weights when there was validation.
    stage
        ``"pretrain"`` or ``"finetune"``.
    history
        One dict per logged step: ``step``, ``loss`` (mean training loss since
        the previous entry), ``learning_rate``, and ``validation`` at
        validation passes.
    best_step, best_validation
        Step and loss of the kept weights (``None`` without validation).
    stopped_early
        Whether early stopping ended the stage.
    skipped_steps
        Steps whose gradient was not finite, so no update was made.
    seconds
        Wall-clock time.
    settings
        The settings used.
    """

    model: SSMNet
    stage: str
    history: list[dict[str, float]] = field(default_factory=list)
    best_step: int | None = None
    best_validation: float | None = None
    stopped_early: bool = False
    skipped_steps: int = 0
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """A JSON-able record of the stage for model cards."""
        steps = self.history[-1]["step"] if self.history else 0
        return {
            "stage": self.stage,
            "steps_run": int(steps),
            "best_step": self.best_step,
            "best_validation_loss": self.best_validation,
            "stopped_early": self.stopped_early,
            "skipped_steps": self.skipped_steps,
            "seconds": round(self.seconds, 1),
            "settings": self.settings,
        }


def _learning_rate(step: int, settings: PretrainSettings | FinetuneSettings) -> float:
    """Linear warm-up then cosine decay to 5 % of the peak (``step`` from 1)."""
    warmup = int(settings.warmup_fraction * settings.steps)
    if step <= warmup:
        return settings.learning_rate * step / max(warmup, 1)
    progress = (step - warmup) / max(settings.steps - warmup, 1)
    return settings.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _starting_model(
    model: SSMNet | SSMNetConfig, scenes: Sequence[TrainingScene], seed: int
) -> SSMNet:
    """A copy of ``model``, or a new model with normalisation from ``scenes`` for a config."""
    if isinstance(model, SSMNetConfig):
        config = normalised_config(model, scenes)
        torch.manual_seed(seed)
        return SSMNet(config)
    if not isinstance(model, SSMNet):
        raise InputTypeError(f"expected an SSMNet or an SSMNetConfig, got {type(model).__name__}")
    bands = tuple(model.config.bands)
    for scene in scenes:
        if scene.bands != bands:
            raise InputError(
                f"scene {scene.name!r} has bands {scene.bands}, the model wants {bands}; "
                "prepare the scenes with prepare_scene(ds, model)"
            )
    trained = copy.deepcopy(model)
    trained.card = default_card(trained.config.to_dict())  # the old hash and metrics will not hold
    return trained


def _forward_in_chunks(model: SSMNet, batch: PatchBatch, chunk: int) -> Tensor:
    with torch.no_grad():
        return torch.cat(
            [
                model(batch.inputs[i : i + chunk], batch.meta[i : i + chunk])
                for i in range(0, batch.inputs.shape[0], chunk)
            ]
        )


def _checkpoint(model: SSMNet, path: Path, result: TrainingResult, step: int) -> None:
    from xsoilmoist.weights import ModelCard, save_model

    card = ModelCard(
        name=path.name,
        config={},
        trained=True,
        description=(
            f"checkpoint of xsoilmoist.training.{result.stage} at step {step} of "
            f"{result.settings['steps']} (validation loss {result.best_validation})"
        ),
        training={"stages": [result.summary()]},
    )
    save_model(model, path, card)


def _train(
    model: SSMNet,
    result: TrainingResult,
    settings: PretrainSettings | FinetuneSettings,
    next_batch: Callable[[], PatchBatch],
    loss_fn: Callable[[Tensor, PatchBatch], Tensor],
    validation: PatchBatch | None,
    checkpoint: str | Path | None,
    progress: bool,
) -> TrainingResult:
    """The loop shared by both stages: AdamW, schedule, dropout, validation, checkpoints."""
    start = time.perf_counter()
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    generator = torch.Generator().manual_seed(settings.seed)
    slices = model.config.modality_slices
    line = ProgressLine(result.stage, settings.steps, enabled=progress)
    best_state, waited, running = None, 0, []
    path = Path(checkpoint) if checkpoint is not None else None
    model.train()
    for step in range(1, settings.steps + 1):
        lr = _learning_rate(step, settings)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = next_batch()
        inputs, _ = drop_modalities(batch.inputs, slices, settings.modality_dropout, generator)
        loss = loss_fn(model(inputs, batch.meta), batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm=1.0)
        if torch.isfinite(norm):
            optimizer.step()
            running.append(float(loss.detach()))
        else:  # a non-finite gradient: skip the update rather than poison the weights
            result.skipped_steps += 1
        evaluate_now = step % settings.eval_every == 0 or step == settings.steps
        if not evaluate_now:
            line.update(step, float(np.mean(running[-50:] or [np.nan])))
            continue
        entry = {"step": step, "loss": float(np.mean(running or [np.nan])), "learning_rate": lr}
        running = []
        improved = False
        if validation is not None:
            model.eval()
            value = float(
                loss_fn(_forward_in_chunks(model, validation, settings.batch_size), validation)
            )
            model.train()
            entry["validation"] = value
            improved = result.best_validation is None or value < result.best_validation
            if improved:
                result.best_validation, result.best_step, waited = value, step, 0
                best_state = copy.deepcopy(model.state_dict())
            else:
                waited += 1
        result.history.append(entry)
        line.update(step, entry["loss"], entry.get("validation"), improved)
        if path is not None and (validation is None or improved):
            _checkpoint(model, path, result, step)
        if settings.patience is not None and validation is not None and waited >= settings.patience:
            result.stopped_early = True
            line.message(
                f"early stop at step {step}: no improvement in {waited} validation passes; "
                f"keeping step {result.best_step}"
            )
            break
    if result.skipped_steps:
        line.message(f"{result.skipped_steps} step(s) skipped for a non-finite gradient")
    line.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.card = default_card(model.config.to_dict(), trained=True)
    result.model = model.eval()
    result.seconds = time.perf_counter() - start
    return result


def pretrain(
    model: SSMNet | SSMNetConfig,
    scenes: Sequence[TrainingScene],
    *,
    validation: Sequence[TrainingScene] = (),
    settings: PretrainSettings | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Stage 1: train on coarse labels, the loss on footprint-averaged predictions.

    Parameters
    ----------
    model
        A network to continue training (it is copied, not modified), or a
        configuration: the per-band normalisation is then computed from
        ``scenes`` and stored in it, and a network initialised with
        ``settings.seed``.
    scenes
        Training scenes with coarse labels (:func:`prepare_scene`).
    validation
        Scenes for the validation loss (patches drawn once with
        ``settings.seed + 1``); the best weights are kept. Empty: no
        validation, the last weights are kept.
    settings
        :class:`PretrainSettings` (defaults when ``None``).
    checkpoint
        Path (without suffix) to write ``.safetensors`` + ``.json`` checkpoints
        at every improvement (every validation pass without validation).
    progress
        Print a progress line to stderr.

    Returns
    -------
    TrainingResult

    Examples
    --------
    >>> result = pretrain(get_config("atto"), train_scenes, validation=val_scenes,
    ...                   settings=PretrainSettings(steps=2000))  # doctest: +SKIP
    >>> result.model.config.band_mean[:2]  # set from the training scenes  # doctest: +SKIP
    (-10.1, -17.2)
    """
    settings = settings or PretrainSettings()
    model = _starting_model(model, scenes, settings.seed)
    sampler = PatchSampler(scenes, settings.patch_size, seed=settings.seed)
    validation_batch = None
    if validation:
        validation_sampler = PatchSampler(validation, settings.patch_size, seed=settings.seed + 1)
        validation_batch = validation_sampler.coarse_batch(
            settings.validation_batches * settings.batch_size
        )

    def loss_fn(pred: Tensor, batch: PatchBatch) -> Tensor:
        return footprint_mean_loss(
            pred,
            batch.coarse,
            batch.footprint,
            batch.footprint_pixels,
            settings.min_footprint_coverage,
        )

    result = TrainingResult(model=model, stage="pretrain", settings=settings.to_dict())
    return _train(
        model,
        result,
        settings,
        lambda: sampler.coarse_batch(settings.batch_size),
        loss_fn,
        validation_batch,
        checkpoint,
        progress,
    )


def split_stations(
    scenes: Sequence[TrainingScene], fraction: float, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per scene, the station positions to train on and those held out (a ``fraction``).

    A scene with two or more stations holds out at least one when ``fraction > 0``.

    Examples
    --------
    >>> scene = TrainingScene("toy", ("vv",), np.zeros((1, 1, 8, 8), np.float32),
    ...     np.zeros((1, 6), np.float32), station_rows=np.arange(4), station_cols=np.arange(4),
    ...     station_ssm=np.full((4, 1), 0.2))
    >>> train, held_out = split_stations([scene], 0.25, seed=0)
    >>> len(train[0]), len(held_out[0])
    (3, 1)
    """
    rng = np.random.default_rng([seed, 2])
    train, held_out = [], []
    for scene in scenes:
        order = rng.permutation(scene.n_stations)
        n_held = round(fraction * scene.n_stations)
        if fraction > 0 and scene.n_stations >= 2:
            n_held = min(max(n_held, 1), scene.n_stations - 1)
        held_out.append(np.sort(order[:n_held]))
        train.append(np.sort(order[n_held:]))
    return train, held_out


def _freeze_encoder(model: SSMNet) -> None:
    for name, parameter in model.named_parameters():
        if name.split(".", 1)[0] in ENCODER_PARTS:
            parameter.requires_grad_(False)


def finetune(
    model: SSMNet,
    scenes: Sequence[TrainingScene],
    *,
    validation: Sequence[TrainingScene] = (),
    settings: FinetuneSettings | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = True,
) -> TrainingResult:
    """Stage 2: fine-tune on station readings, the loss at station pixels only.

    Parameters
    ----------
    model
        The (pretrained) network; it is copied, not modified. A configuration
        is accepted too, to train on stations alone from scratch (its
        normalisation is then computed from ``scenes``).
    scenes
        Scenes with station readings (:func:`prepare_scene`).
    validation
        Scenes whose stations drive early stopping. Empty: a
        ``settings.validation_fraction`` of each training scene's stations is
        held out for it (:func:`split_stations`).
    settings
        :class:`FinetuneSettings` (defaults when ``None``).
    checkpoint, progress
        As :func:`pretrain`.

    Returns
    -------
    TrainingResult
        With the weights of the best validation pass.

    Examples
    --------
    >>> stage1 = pretrain(get_config("atto"), scenes)  # doctest: +SKIP
    >>> stage2 = finetune(stage1.model, scenes,
    ...                   settings=FinetuneSettings(freeze_encoder=True))  # doctest: +SKIP
    """
    settings = settings or FinetuneSettings()
    model = _starting_model(model, scenes, settings.seed)
    if settings.freeze_encoder:
        _freeze_encoder(model)
    if validation:
        train_stations = [np.arange(s.n_stations) for s in scenes]
        validation_sampler = PatchSampler(validation, settings.patch_size, seed=settings.seed + 1)
        held_out = None
    else:
        train_stations, held_out = split_stations(
            scenes, settings.validation_fraction, settings.seed
        )
        validation_sampler = PatchSampler(scenes, settings.patch_size, seed=settings.seed + 1)
    sampler = PatchSampler(scenes, settings.patch_size, seed=settings.seed)
    readings = sampler.readings(train_stations)
    validation_readings = validation_sampler.readings(held_out)
    validation_batch = None
    if validation_readings:
        windows = validation_sampler.centred_station_windows(validation_readings)
        validation_batch = validation_sampler.station_windows(
            windows, [np.array([r.station]) for r in validation_readings]
        )

    def loss_fn(pred: Tensor, batch: PatchBatch) -> Tensor:
        return station_loss(pred, batch.stations)

    def next_batch() -> PatchBatch:
        return sampler.station_batch(settings.batch_size, readings, train_stations)

    result = TrainingResult(model=model, stage="finetune", settings=settings.to_dict())
    return _train(
        model, result, settings, next_batch, loss_fn, validation_batch, checkpoint, progress
    )
