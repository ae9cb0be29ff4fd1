"""Hyper-parameters of the two training stages.

Both are frozen dataclasses with defaults that suit a small model on a CPU;
``dataclasses.replace(settings, steps=...)`` makes a variant. The same fields
are the keys of the ``[pretrain]`` and ``[finetune]`` tables of a training
TOML file (:mod:`xsoilmoist.training.recipe`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xsoilmoist.errors import InputError

__all__ = ["ADAPTATIONS", "VALIDATION_SPLITS", "FinetuneSettings", "PretrainSettings"]

#: Values of :attr:`FinetuneSettings.adaptation`.
ADAPTATIONS = ("auto", "full", "head", "recalibrate")
#: Values of :attr:`FinetuneSettings.validation_split`.
VALIDATION_SPLITS = ("auto", "stations", "dates")


def _check_common(settings: PretrainSettings | FinetuneSettings) -> list[str]:
    problems = []
    for name in ("steps", "batch_size", "patch_size", "eval_every"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a positive integer, got {value!r}")
    if not settings.learning_rate > 0:
        problems.append(f"learning_rate must be positive, got {settings.learning_rate!r}")
    if settings.weight_decay < 0:
        problems.append(f"weight_decay must be >= 0, got {settings.weight_decay!r}")
    if not 0.0 <= settings.warmup_fraction < 1.0:
        problems.append(f"warmup_fraction must be within [0, 1), got {settings.warmup_fraction!r}")
    if not 0.0 <= settings.modality_dropout <= 1.0:
        problems.append(
            f"modality_dropout must be a probability in [0, 1], got {settings.modality_dropout!r}"
        )
    if settings.patience is not None and settings.patience < 1:
        problems.append(f"patience must be a positive integer or None, got {settings.patience!r}")
    if settings.seed < 0:
        problems.append(f"seed must be a non-negative integer, got {settings.seed!r}")
    return problems


@dataclass(frozen=True)
class PretrainSettings:
    """Stage 1: training on coarse footprint labels.

    Attributes
    ----------
    steps
        Optimiser steps.
    batch_size
        Patches per step.
    patch_size
        Patch side, pixels; make it at least twice the coarse footprint's side
        so that whole footprints fall inside patches.
    learning_rate
        Peak learning rate of AdamW (linear warm-up, then cosine decay to 5 %).
    weight_decay
        AdamW weight decay.
    warmup_fraction
        Fraction of the steps spent warming the learning rate up.
    modality_dropout
        Probability of blanking each modality of a patch (never all of them).
    min_footprint_coverage
        Smallest fraction of a footprint covered by valid predictions in the
        patch for its label to count.
    eval_every
        Steps between validation passes (and checkpoints).
    validation_batches
        Batches of validation patches (drawn once, with ``seed + 1``).
    patience
        Stop after this many validation passes without improvement (``None``:
        run every step).
    seed
        Seed of the initialisation, the patch sampler and the dropout.
    """

    steps: int = 2000
    batch_size: int = 8
    patch_size: int = 96
    learning_rate: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    modality_dropout: float = 0.25
    min_footprint_coverage: float = 0.75
    eval_every: int = 200
    validation_batches: int = 8
    patience: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        problems = _check_common(self)
        if not 0.0 < self.min_footprint_coverage <= 1.0:
            problems.append(
                f"min_footprint_coverage must be within (0, 1], got {self.min_footprint_coverage!r}"
            )
        if self.validation_batches < 1:
            problems.append(f"validation_batches must be positive, got {self.validation_batches!r}")
        if problems:
            raise InputError("invalid PretrainSettings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for model cards and logs)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FinetuneSettings:
    """Stage 2: fine-tuning on station points, with early stopping on held-out rows.

    Attributes
    ----------
    steps
        Maximum optimiser steps.
    batch_size
        Patches per step (each around a station reading).
    patch_size
        Patch side, pixels (the station sits at a random place in the patch).
    learning_rate
        Peak learning rate, lower than stage 1's.
    weight_decay, warmup_fraction, modality_dropout
        As :class:`PretrainSettings`.
    freeze_encoder
        Train only the metadata branch, decoder and head (stems, SE fusion and
        encoder stages frozen); with ``adaptation="full"``.
    validation_fraction
        Fraction of each scene's stations held out for early stopping when
        stations are held out (at least one when a scene has two or more
        stations; 0 disables the split).
    eval_every
        Steps between validation passes.
    patience
        Stop after this many validation passes without improvement; the best
        weights are restored (``None``: run every step, still keep the best).
    seed
        Seed of the station split, the sampler and the dropout.
    adaptation
        What is trained. ``"full"``: every weight (or all but the encoder with
        ``freeze_encoder``), pulled toward the pretrained weights by L2-SP;
        ``"head"``: only the full-resolution head (``full_res``,
        ``head_project``, ``head_conv``, ``head_out``), with L2-SP;
        ``"recalibrate"``: only an affine recalibration ``a * z + b`` of the
        head's logit ``z`` (two numbers, folded into ``head_out`` so the saved
        model is an ordinary network), fitted on the model's predictions at
        the training readings. ``"auto"`` (default): ``"recalibrate"`` with
        fewer than ``few_stations`` training stations, else ``"full"``. A
        network of a million weights fitted to the dozens of readings of one
        station learns the station, not soil moisture: predictions collapse
        toward the station's mean. Two numbers cannot collapse the spatial and
        temporal pattern the pretrained model learned; they fix its bias and
        its gain, the usual failures when moving from simulated to real
        observations.
    l2_sp
        ``alpha`` of the L2-SP penalty ``alpha / 2 * ||w - w0||^2`` on the
        trained weights ``w`` (``w0``: the starting weights; Li et al. 2018,
        "Explicit inductive bias for transfer learning with convolutional
        networks", ICML). Li et al. tune ``alpha`` by cross-validation over
        0.001-1 for a cross-entropy loss of order 1; the station loss here is a
        squared error in (m3/m3)^2, of order 1e-3, so the default 1e-4 is
        about as strong relative to the loss. 0 disables it.
    validation_split
        How early stopping's rows are held out when no validation scenes are
        given: ``"stations"`` (a ``validation_fraction`` of the stations),
        ``"dates"`` (the last ``validation_dates_fraction`` of each station's
        dates) or ``"auto"`` (default: dates with fewer than ``few_stations``
        stations, where holding one out would leave too few to train on).
    validation_dates_fraction
        Fraction of each station's dates, the latest, held out with
        ``validation_split="dates"`` (at least one date of a station with two
        or more).
    few_stations
        Below this many training stations ``"auto"`` means date hold-out and
        recalibration.
    """

    steps: int = 1000
    batch_size: int = 8
    patch_size: int = 64
    learning_rate: float = 2e-4
    weight_decay: float = 0.05
    warmup_fraction: float = 0.05
    modality_dropout: float = 0.1
    freeze_encoder: bool = False
    validation_fraction: float = 0.25
    eval_every: int = 50
    patience: int | None = 6
    seed: int = 0
    adaptation: str = "auto"
    l2_sp: float = 1e-4
    validation_split: str = "auto"
    validation_dates_fraction: float = 0.3
    few_stations: int = 4

    def __post_init__(self) -> None:
        problems = _check_common(self)
        for name in ("validation_fraction", "validation_dates_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} must be within [0, 1), got {getattr(self, name)!r}")
        if self.adaptation not in ADAPTATIONS:
            problems.append(f"adaptation must be one of {ADAPTATIONS}, got {self.adaptation!r}")
        if self.validation_split not in VALIDATION_SPLITS:
            problems.append(
                f"validation_split must be one of {VALIDATION_SPLITS}, "
                f"got {self.validation_split!r}"
            )
        if not self.l2_sp >= 0:
            problems.append(f"l2_sp must be >= 0, got {self.l2_sp!r}")
        if isinstance(self.few_stations, bool) or not isinstance(self.few_stations, int):
            problems.append(f"few_stations must be an integer, got {self.few_stations!r}")
        if problems:
            raise InputError("invalid FinetuneSettings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for model cards and logs)."""
        return dataclasses.asdict(self)
