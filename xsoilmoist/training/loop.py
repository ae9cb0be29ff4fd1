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
import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from xsoilmoist.errors import InputError, InputTypeError, ModelWarning
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.model_card import default_card
from xsoilmoist.training.baselines import baseline_report
from xsoilmoist.training.losses import footprint_mean_loss, station_loss
from xsoilmoist.training.patches import (
    PatchBatch,
    PatchSampler,
    StationReading,
    drop_modalities,
)
from xsoilmoist.training.progress import ProgressLine
from xsoilmoist.training.scenes import TrainingScene, normalised_config
from xsoilmoist.training.settings import FinetuneSettings, PretrainSettings

__all__ = [
    "ENCODER_PARTS",
    "HEAD_PARTS",
    "TrainingResult",
    "finetune",
    "l2_sp_penalty",
    "pretrain",
    "split_dates",
    "split_stations",
]

#: Top-level parts of :class:`~xsoilmoist.model.SSMNet` frozen by ``freeze_encoder``.
ENCODER_PARTS = ("stems", "fusion", "downsample", "stages")
#: Top-level parts trained by ``FinetuneSettings(adaptation="head")``.
HEAD_PARTS = ("full_res", "head_project", "head_conv", "head_out")


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
    validation_split
        Fine-tuning: what early stopping validated on, ``"stations"``,
        ``"dates"``, ``"validation scenes"`` or ``"none"``.
    adaptation
        Fine-tuning: ``"full"``, ``"head"`` or ``"recalibrate"`` (``"auto"`` resolved).
    recalibration
        ``{"gain", "offset"}`` of the head's logit with ``adaptation="recalibrate"``.
    report
        Fine-tuning: the model beside the station climatology and the
        per-station VV regression on the held-out rows
        (:func:`~xsoilmoist.training.baselines.baseline_report`, plus
        ``held_out``: how they were chosen); ``None`` without held-out rows or
        without a ``vv`` band.
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
    validation_split: str | None = None
    adaptation: str | None = None
    recalibration: dict[str, float] | None = None
    report: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """A JSON-able record of the stage for model cards (NaN written as ``None``)."""
        steps = self.history[-1]["step"] if self.history else 0
        record = {
            "stage": self.stage,
            "steps_run": int(steps),
            "best_step": self.best_step,
            "best_validation_loss": self.best_validation,
            "stopped_early": self.stopped_early,
            "skipped_steps": self.skipped_steps,
            "seconds": round(self.seconds, 1),
            "settings": self.settings,
        }
        if self.stage == "finetune":
            record.update(
                validation_split=self.validation_split,
                adaptation=self.adaptation,
                recalibration=self.recalibration,
                baselines=_jsonable(self.report),
            )
        return record


def _jsonable(value: Any) -> Any:
    """``value`` with NaN floats as ``None`` (JSON has no NaN), recursively."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    penalty: Callable[[], Tensor] | None = None,
) -> TrainingResult:
    """The loop shared by both stages: AdamW, schedule, dropout, validation, checkpoints.

    ``penalty()`` (e.g. L2-SP) is added to the training loss, not to the
    validation loss.
    """
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
        if penalty is not None:
            loss = loss + penalty()
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


def split_dates(
    readings: Sequence[StationReading], fraction: float
) -> tuple[list[StationReading], list[StationReading]]:
    """Per station, its earlier readings to train on and its latest ``fraction`` held out.

    A station with two or more readings holds out at least one and keeps at
    least one; a station with a single reading trains on it.

    Examples
    --------
    >>> readings = [StationReading(0, 0, t) for t in range(10)]
    >>> train, held_out = split_dates(readings, 0.3)
    >>> [r.time for r in held_out]
    [7, 8, 9]
    """
    if not 0.0 <= fraction < 1.0:
        raise InputError(f"the fraction of dates held out must be within [0, 1), got {fraction}")
    by_station: dict[tuple[int, int], list[StationReading]] = {}
    for reading in readings:
        by_station.setdefault((reading.scene, reading.station), []).append(reading)
    train, held_out = [], []
    for station_readings in by_station.values():
        ordered = sorted(station_readings, key=lambda r: r.time)
        n_held = round(fraction * len(ordered))
        if fraction > 0 and len(ordered) >= 2:
            n_held = min(max(n_held, 1), len(ordered) - 1)
        cut = len(ordered) - n_held
        train += ordered[:cut]
        held_out += ordered[cut:]
    return train, held_out


@dataclass
class _HeldOut:
    """The rows fine-tuning trains on and those early stopping validates on."""

    kind: str  # "stations", "dates", "validation scenes" or "none"
    scenes: list[TrainingScene]  # training scenes, held-out readings blanked
    stations: list[np.ndarray]  # per training scene, the stations to train on
    readings: list[StationReading]  # training readings
    validation_sampler: PatchSampler | None
    validation_readings: list[StationReading]
    described: str


def _without_readings(
    scenes: Sequence[TrainingScene], readings: Sequence[StationReading]
) -> list[TrainingScene]:
    """Copies of ``scenes`` whose ``readings`` are NaN (so no window is labelled with them)."""
    out = []
    for i, scene in enumerate(scenes):
        ssm = None if scene.station_ssm is None else scene.station_ssm.copy()
        for r in readings:
            if r.scene == i:
                ssm[r.station, r.time] = np.nan
        out.append(dataclasses.replace(scene, station_ssm=ssm))
    return out


def _split_kind(settings: FinetuneSettings, n_stations: int) -> str:
    if settings.validation_split != "auto":
        return settings.validation_split
    return "stations" if n_stations >= settings.few_stations else "dates"


def _held_out_rows(
    scenes: Sequence[TrainingScene],
    validation: Sequence[TrainingScene],
    settings: FinetuneSettings,
) -> _HeldOut:
    """Validation scenes if given, else held-out stations or held-out dates (see settings)."""
    n_stations = sum(s.n_stations for s in scenes)
    everything = [np.arange(s.n_stations) for s in scenes]
    all_readings = PatchSampler(scenes, settings.patch_size).readings()
    if validation:
        sampler = PatchSampler(validation, settings.patch_size, seed=settings.seed + 1)
        held = sampler.readings()
        return _HeldOut(
            "validation scenes", list(scenes), everything, all_readings, sampler, held,
            f"validation on the {len(validation)} validation scene(s) given",
        )  # fmt: skip
    kind = _split_kind(settings, n_stations)
    sampler = PatchSampler(scenes, settings.patch_size, seed=settings.seed + 1)
    if kind == "stations":
        train_stations, held_stations = split_stations(
            scenes, settings.validation_fraction, settings.seed
        )
        held = sampler.readings(held_stations)
        train = sampler.readings(train_stations)
        described = (
            f"validation on {sum(len(h) for h in held_stations)} held-out station(s) of "
            f"{n_stations} ({settings.validation_fraction:.0%} per scene)"
        )
        return _HeldOut(kind, list(scenes), train_stations, train, sampler, held, described)
    train, held = split_dates(all_readings, settings.validation_dates_fraction)
    reason = (
        f"{n_stations} station(s), fewer than {settings.few_stations}: too few to hold one out"
        if settings.validation_split == "auto"
        else "validation_split='dates'"
    )
    described = (
        f"validation on the last {settings.validation_dates_fraction:.0%} of each station's "
        f"dates ({reason})"
    )
    return _HeldOut(
        kind, _without_readings(scenes, held), everything, train, sampler, held, described
    )


def _freeze_encoder(model: SSMNet) -> None:
    for name, parameter in model.named_parameters():
        if name.split(".", 1)[0] in ENCODER_PARTS:
            parameter.requires_grad_(False)


def _train_only(model: SSMNet, parts: Sequence[str]) -> None:
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.split(".", 1)[0] in parts)


def _adaptation(settings: FinetuneSettings, n_stations: int) -> str:
    if settings.adaptation != "auto":
        return settings.adaptation
    return "recalibrate" if n_stations < settings.few_stations else "full"


def l2_sp_penalty(model: torch.nn.Module, reference: dict[str, Tensor], alpha: float) -> Tensor:
    """The L2-SP penalty ``alpha / 2 * sum ||w - w0||^2`` over the parameters in ``reference``.

    Li, Grandvalet and Davoine (2018), "Explicit inductive bias for transfer
    learning with convolutional networks" (ICML): fine-tuned weights ``w``
    are pulled toward the pretrained starting point ``w0`` rather than toward
    zero, so that what the pretrained network learned is kept where the new
    data do not say otherwise.

    Parameters
    ----------
    model
        The network being trained.
    reference
        Parameter name -> starting value ``w0`` (detached copies).
    alpha
        Strength of the pull.

    Examples
    --------
    >>> net = torch.nn.Linear(2, 1)
    >>> start = {n: p.detach().clone() for n, p in net.named_parameters()}
    >>> l2_sp_penalty(net, start, 0.1).item()
    0.0
    >>> with torch.no_grad():
    ...     net.bias += 2.0
    >>> round(l2_sp_penalty(net, start, 0.1).item(), 6)  # 0.1 / 2 * 2^2
    0.2
    """
    parameters = dict(model.named_parameters())
    total = torch.zeros(())
    for name, start in reference.items():
        total = total + ((parameters[name] - start) ** 2).sum()
    return 0.5 * alpha * total


def _predict_readings(
    model: SSMNet, sampler: PatchSampler, readings: Sequence[StationReading], chunk: int = 32
) -> np.ndarray:
    """The model's prediction at each reading's station pixel (windows centred on it)."""
    out = []
    for start in range(0, len(readings), chunk):
        part = readings[start : start + chunk]
        windows = sampler.centred_station_windows(part)
        batch = sampler.station_windows(windows, [np.array([r.station]) for r in part])
        pred = _forward_in_chunks(model, batch, chunk)[:, 0]
        labelled = torch.isfinite(batch.stations)
        out.append(torch.where(labelled, pred, 0.0).sum(dim=(1, 2)).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def _labels(sampler: PatchSampler, readings: Sequence[StationReading]) -> np.ndarray:
    return np.array(
        [sampler.scenes[r.scene].station_ssm[r.station, r.time] for r in readings], np.float64
    )


def _logits(model: SSMNet, sampler: PatchSampler, readings, chunk: int) -> Tensor:
    """The head's logit ``z`` at the readings, from ``sigmoid(z) * out_max`` inverted."""
    out_max = model.config.out_max
    values = _predict_readings(model, sampler, readings, chunk).astype(np.float64)
    fraction = np.clip(values / out_max, 1e-6, 1 - 1e-6)
    return torch.from_numpy(np.log(fraction / (1 - fraction)))


#: Peak Adam learning rate of the two recalibration numbers (they are of order 1).
RECALIBRATION_RATE = 0.02


def _fit_recalibration(
    z: Tensor, y: Tensor, z_val: Tensor, y_val: Tensor, settings: FinetuneSettings, out_max: float,
    result: TrainingResult, line: ProgressLine,
) -> tuple[float, float]:  # fmt: skip
    """Gain ``a`` and offset ``b`` of the logit minimising the squared error (early stopping)."""
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([params], lr=RECALIBRATION_RATE)
    train_ok, val_ok = torch.isfinite(z) & torch.isfinite(y), torch.isfinite(z_val)
    z, y, z_val, y_val = z[train_ok], y[train_ok], z_val[val_ok], y_val[val_ok]
    start = torch.tensor([1.0, 0.0], dtype=torch.float64)

    def loss(zs: Tensor, ys: Tensor) -> Tensor:
        return ((torch.sigmoid(params[0] * zs + params[1]) * out_max - ys) ** 2).mean()

    best, waited = params.detach().clone(), 0
    for step in range(1, settings.steps + 1):
        lr = RECALIBRATION_RATE * _learning_rate(step, settings) / settings.learning_rate
        optimizer.param_groups[0]["lr"] = lr
        value = loss(z, y) + 0.5 * settings.l2_sp * ((params - start) ** 2).sum()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        if not (step % settings.eval_every == 0 or step == settings.steps):
            continue
        entry = {"step": step, "loss": float(value.detach()), "learning_rate": lr}
        improved = False
        if z_val.numel():
            with torch.no_grad():
                entry["validation"] = float(loss(z_val, y_val))
            improved = (
                result.best_validation is None or entry["validation"] < result.best_validation
            )
            if improved:
                result.best_validation, result.best_step, waited = entry["validation"], step, 0
                best = params.detach().clone()
            else:
                waited += 1
        else:
            best = params.detach().clone()
        result.history.append(entry)
        line.update(step, entry["loss"], entry.get("validation"), improved)
        if settings.patience is not None and z_val.numel() and waited >= settings.patience:
            result.stopped_early = True
            line.message(f"early stop at step {step}; keeping step {result.best_step}")
            break
    return float(best[0]), float(best[1])


def _recalibrate(
    model: SSMNet, held: _HeldOut, settings: FinetuneSettings, result: TrainingResult,
    progress: bool,
) -> TrainingResult:  # fmt: skip
    """Fit ``sigmoid(a * z + b) * out_max`` on the training readings; fold it into head_out."""
    start = time.perf_counter()
    chunk = settings.batch_size
    train_sampler = PatchSampler(held.scenes, settings.patch_size)
    z = _logits(model, train_sampler, held.readings, chunk)
    y = torch.from_numpy(_labels(train_sampler, held.readings))
    if held.validation_sampler is not None and held.validation_readings:
        z_val = _logits(model, held.validation_sampler, held.validation_readings, chunk)
        y_val = torch.from_numpy(_labels(held.validation_sampler, held.validation_readings))
    else:
        z_val = y_val = torch.zeros(0, dtype=torch.float64)
    line = ProgressLine(result.stage, settings.steps, enabled=progress)
    a, b = _fit_recalibration(z, y, z_val, y_val, settings, model.config.out_max, result, line)
    line.message(f"recalibration of the head's logit: z -> {a:.3f} z {b:+.3f}")
    line.close()
    with torch.no_grad():
        model.head_out.weight.mul_(a)
        model.head_out.bias.mul_(a).add_(b)
    result.recalibration = {"gain": a, "offset": b}
    model.card = default_card(model.config.to_dict(), trained=True)
    result.model = model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _reading_table(
    sampler: PatchSampler, readings: Sequence[StationReading], prefix: str
) -> pd.DataFrame:
    """``station``, ``ssm``, ``vv`` (dB) of each reading (``vv`` NaN without the band)."""
    rows = []
    for r in readings:
        scene = sampler.scenes[r.scene]
        vv = (
            scene.inputs[r.time, scene.bands.index("vv"), scene.station_rows[r.station],
                         scene.station_cols[r.station]]
            if "vv" in scene.bands
            else np.nan
        )  # fmt: skip
        rows.append(
            {
                "station": f"{prefix}{r.scene}/{r.station}",
                "scene": scene.name,
                "time": r.time,
                "ssm": float(scene.station_ssm[r.station, r.time]),
                "vv": float(vv),
            }
        )
    return pd.DataFrame(rows, columns=["station", "scene", "time", "ssm", "vv"])


def _baseline_comparison(
    model: SSMNet, held: _HeldOut, scenes: Sequence[TrainingScene], settings: FinetuneSettings
) -> dict[str, Any] | None:
    """:func:`baseline_report` on the held-out rows (``None`` without any or without VV)."""
    if held.validation_sampler is None or not held.validation_readings:
        return None
    if "vv" not in scenes[0].bands:
        return None
    train = _reading_table(PatchSampler(scenes, settings.patch_size), held.readings, "")
    prefix = "validation " if held.kind == "validation scenes" else ""
    test = _reading_table(held.validation_sampler, held.validation_readings, prefix)
    test["model"] = _predict_readings(
        model, held.validation_sampler, held.validation_readings, settings.batch_size
    )
    report = baseline_report(train, test, per_station=held.kind == "dates")
    report["held_out"] = held.described
    return report


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

    Which rows early stopping validates on is chosen automatically and
    stated on the progress line and in the result: validation scenes when
    given; else, with ``settings.few_stations`` (4) training stations or more,
    a ``validation_fraction`` of the stations; with fewer, the last
    ``validation_dates_fraction`` (30 %) of each station's dates. What is
    trained follows ``settings.adaptation``: with few stations by default
    only a two-number recalibration of the output, else the network with an
    L2-SP pull toward the pretrained weights. On the held-out rows the
    fine-tuned model is then put beside two baselines, the station
    climatology and a per-station linear regression on VV in dB
    (:func:`~xsoilmoist.training.baselines.baseline_report`), in
    ``result.report``; a :class:`~xsoilmoist.errors.ModelWarning` says when
    the model does not beat them, and another when nothing could be held out.

    Parameters
    ----------
    model
        The (pretrained) network; it is copied, not modified. A configuration
        is accepted too, to train on stations alone from scratch (its
        normalisation is then computed from ``scenes``).
    scenes
        Scenes with station readings (:func:`prepare_scene`).
    validation
        Scenes whose stations drive early stopping. Empty: rows of ``scenes``
        are held out, as above.
    settings
        :class:`FinetuneSettings` (defaults when ``None``).
    checkpoint, progress
        As :func:`pretrain`.

    Returns
    -------
    TrainingResult
        With the weights of the best validation pass, ``validation_split``,
        ``adaptation`` and ``report``.

    Examples
    --------
    >>> stage1 = pretrain(get_config("atto"), scenes)  # doctest: +SKIP
    >>> stage2 = finetune(stage1.model, one_station_scenes)  # doctest: +SKIP
    finetune: validation on the last 30% of each station's dates (1 station(s), fewer than 4: ...
    >>> stage2.best_step, stage2.report["scores"]["model"]["ubrmse"]  # doctest: +SKIP
    (350, 0.031)
    """
    settings = settings or FinetuneSettings()
    model = _starting_model(model, scenes, settings.seed)
    held = _held_out_rows(scenes, validation, settings)
    if not held.readings:
        raise InputError(
            "no station readings to train on: stage 2 needs station_ssm with finite values "
            "in the training scenes"
        )
    n_stations = sum(s.n_stations for s in scenes)
    adaptation = _adaptation(settings, n_stations)
    result = TrainingResult(model=model, stage="finetune", settings=settings.to_dict())
    result.validation_split, result.adaptation = held.kind, adaptation
    if not held.validation_readings:
        result.validation_split = "none"
        held.described = "nothing held out for validation"
        warnings.warn(
            "finetune has no held-out station readings to validate on: every step runs, the "
            "last weights are kept and the model cannot be compared with the baselines; give "
            "validation scenes, or stations with at least two dates each",
            ModelWarning,
            stacklevel=2,
        )
    ProgressLine("finetune", settings.steps, enabled=progress).message(
        f"{held.described}: {len(held.readings)} training and "
        f"{len(held.validation_readings)} held-out readings; adaptation {adaptation!r}"
        + (f" (fewer than {settings.few_stations} stations)" if settings.adaptation == "auto"
           and adaptation == "recalibrate" else "")
    )  # fmt: skip
    if adaptation == "recalibrate":
        result = _recalibrate(model, held, settings, result, progress)
    else:
        result = _train_network(model, held, settings, result, adaptation, checkpoint, progress)
    result.report = _baseline_comparison(result.model, held, scenes, settings)
    return result


def _train_network(
    model: SSMNet, held: _HeldOut, settings: FinetuneSettings, result: TrainingResult,
    adaptation: str, checkpoint: str | Path | None, progress: bool,
) -> TrainingResult:  # fmt: skip
    """The ``"full"`` and ``"head"`` adaptations: gradient steps with L2-SP."""
    if adaptation == "head":
        _train_only(model, HEAD_PARTS)
    elif settings.freeze_encoder:
        _freeze_encoder(model)
    validation_batch = None
    if held.validation_readings:
        windows = held.validation_sampler.centred_station_windows(held.validation_readings)
        validation_batch = held.validation_sampler.station_windows(
            windows, [np.array([r.station]) for r in held.validation_readings]
        )
    sampler = PatchSampler(held.scenes, settings.patch_size, seed=settings.seed)
    reference = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    penalty = None
    if settings.l2_sp > 0:

        def penalty() -> Tensor:
            return l2_sp_penalty(model, reference, settings.l2_sp)

    def loss_fn(pred: Tensor, batch: PatchBatch) -> Tensor:
        return station_loss(pred, batch.stations)

    def next_batch() -> PatchBatch:
        return sampler.station_batch(settings.batch_size, held.readings, held.stations)

    return _train(
        model, result, settings, next_batch, loss_fn, validation_batch, checkpoint, progress,
        penalty,
    )  # fmt: skip
