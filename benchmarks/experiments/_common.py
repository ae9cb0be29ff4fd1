"""Shared set-up of the training experiments: simulated scenes, budgets, scores, tables, plots.

Every figure these experiments produce comes from SIMULATED scenes
(:mod:`xsoilmoist.synthetic`); they test the method under known truth, they
are not a validation against real observations.

Splits (the same in every experiment unless it says otherwise):

- train: seeds ``1..n`` per region (new terrain, soil, weather and stations
  per seed), 8 overpasses from the region's 2021 default start;
- validation: seed 50 per region, 2021 (early stopping of stage 1);
- test: seeds 100 and 101 per region (terrain, soil and weather never seen),
  8 overpasses from 2022-06-05 (dates never seen).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.synthetic import ObservingSystem, simulate_scene
from xsoilmoist.training import (
    FinetuneSettings,
    PretrainSettings,
    TrainingScene,
    evaluate,
    prepare_scene,
)

REGIONS = ("farmland", "alpine_grassland", "arid_basin")
#: Every modality the simulator makes without L-band, in model order.
ALL_MODALITIES = ("sar_c", "optical", "topography", "vegetation", "meteorology")
TEST_START = "2022-06-05"
#: The network of the experiments: ConvNeXt V2 blocks, one per stage (CPU budget).
EXPERIMENT_CONFIG = SSMNetConfig(name="experiment", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
METRICS = ("r2", "rmse", "ubrmse", "mae", "bias")


@dataclass(frozen=True)
class Budget:
    """Scene counts and steps of an experiment run."""

    scene_size: int
    train_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    n_times: int
    coarse_resolution: float
    n_stations: int
    pretrain: PretrainSettings
    finetune: FinetuneSettings


FULL = Budget(
    scene_size=128,
    train_seeds=(1, 2, 3, 4),
    test_seeds=(100, 101),
    n_times=8,
    coarse_resolution=320.0,
    n_stations=16,
    pretrain=PretrainSettings(steps=1000, batch_size=8, patch_size=96, eval_every=200),
    finetune=FinetuneSettings(
        steps=1200, batch_size=8, patch_size=64, learning_rate=3e-4, eval_every=100, patience=6
    ),
)
#: A smoke-test budget: every code path in well under a minute, numbers meaningless.
QUICK = Budget(
    scene_size=64,
    train_seeds=(1,),
    test_seeds=(100,),
    n_times=2,
    coarse_resolution=160.0,
    n_stations=8,
    pretrain=PretrainSettings(steps=6, batch_size=2, patch_size=32, eval_every=3),
    finetune=FinetuneSettings(steps=6, batch_size=2, patch_size=32, eval_every=3),
)


def parse_args(description: str) -> argparse.Namespace:
    """``OUTPUT_FOLDER [--quick] [--threads N]``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("output", type=Path, help="folder for the table (.txt, .json) and plot")
    parser.add_argument("--quick", action="store_true", help="smoke-test budget (seconds)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: robust on a shared machine)"
    )
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    args.budget = QUICK if args.quick else FULL
    return args


def network(modalities: Sequence[str] = ALL_MODALITIES) -> SSMNetConfig:
    """The experiment network restricted to ``modalities``."""
    from xsoilmoist.model import MODALITY_BANDS

    return dataclasses.replace(
        EXPERIMENT_CONFIG,
        modalities={m: MODALITY_BANDS[m] for m in modalities},
        band_mean=None,
        band_std=None,
    )


def simulate(
    budget: Budget,
    config: SSMNetConfig,
    regions: Sequence[str],
    seeds: Sequence[int],
    *,
    test_dates: bool = False,
    n_stations: int | None = None,
    observing_system: ObservingSystem | None = None,
) -> list[TrainingScene]:
    """Simulate and prepare one scene per region and seed (numpy, in memory)."""
    probe = SSMNet(config)
    times = (
        list(pd.date_range(TEST_START, periods=budget.n_times, freq="12D"))
        if test_dates
        else budget.n_times
    )
    scenes = []
    for region in regions:
        for seed in seeds:
            ds = simulate_scene(
                region,
                shape=(budget.scene_size, budget.scene_size),
                times=times,
                seed=seed,
                coarse_resolution=budget.coarse_resolution,
                n_stations=budget.n_stations if n_stations is None else n_stations,
                observing_system=observing_system,
            )
            scenes.append(prepare_scene(ds, probe, name=f"{region}-{seed}"))
    return scenes


def without_metadata(scenes: Sequence[TrainingScene]) -> list[TrainingScene]:
    """The scenes with the image-level encodings (time, location) withheld (all zero)."""
    return [dataclasses.replace(s, meta=np.zeros_like(s.meta)) for s in scenes]


def restricted(scenes: Sequence[TrainingScene], config: SSMNetConfig) -> list[TrainingScene]:
    """The scenes' bands restricted to ``config``'s (same units and values)."""
    out = []
    for scene in scenes:
        index = [scene.bands.index(b) for b in config.bands]
        out.append(
            dataclasses.replace(scene, bands=tuple(config.bands), inputs=scene.inputs[:, index])
        )
    return out


def score(model: SSMNet, scenes: Sequence[TrainingScene]) -> dict[str, dict[str, float]]:
    """Pooled scores against the truth (every pixel) and at the stations."""
    return {
        "truth": evaluate(model, scenes, target="truth"),
        "stations": evaluate(model, scenes, target="stations"),
    }


def format_table(title: str, rows: Sequence[tuple[str, dict]]) -> str:
    """A fixed-width table of truth and station scores, one row per variant."""
    header = (
        f"{'variant':<40} {'R2':>7} {'RMSE':>7} {'ubRMSE':>7} {'MAE':>7} {'bias':>7}"
        f" | {'stn R2':>7} {'stn ubRMSE':>10}"
    )
    lines = [
        title,
        "",
        "scores against the truth at every pixel of SIMULATED test scenes (m3/m3) | at stations",
    ]
    lines += [header, "-" * len(header)]
    for name, scores in rows:
        t, s = scores["truth"], scores["stations"]
        lines.append(
            f"{name:<40} {t['r2']:7.3f} {t['rmse']:7.4f} {t['ubrmse']:7.4f} {t['mae']:7.4f}"
            f" {t['bias']:+7.4f} | {s['r2']:7.3f} {s['ubrmse']:10.4f}"
        )
    return "\n".join(lines)


def bar_plot(path: Path, title: str, rows: Sequence[tuple[str, dict]]) -> None:
    """R2 and ubRMSE against the truth, one bar per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name, _ in rows]
    r2 = [scores["truth"]["r2"] for _, scores in rows]
    ubrmse = [scores["truth"]["ubrmse"] for _, scores in rows]
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(rows) + 2.2), constrained_layout=True)
    positions = np.arange(len(rows))[::-1]
    axes[0].barh(positions, r2, color="tab:blue")
    axes[0].set_xlabel("R2 against the truth (test scenes)")
    axes[0].set_xlim(min(0.0, min(r2)), 1.0)
    axes[1].barh(positions, ubrmse, color="tab:orange")
    axes[1].axvline(0.04, color="k", ls="--", lw=1, label="SMAP requirement 0.04")
    axes[1].set_xlabel("ubRMSE against the truth, m3/m3")
    axes[1].legend(loc="lower right")
    for ax, values in zip(axes, (r2, ubrmse), strict=True):
        ax.set_yticks(positions, names if ax is axes[0] else [""] * len(names))
        for y, v in zip(positions, values, strict=True):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    fig.suptitle(f"{title} (SIMULATED scenes)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(
    folder: Path, name: str, title: str, rows: Sequence[tuple[str, dict]], notes: str
) -> None:
    """Print the table and notes; write ``NAME.txt``, ``NAME.json`` and ``NAME.png``."""
    text = format_table(title, rows) + "\n\n" + notes.strip() + "\n"
    print(text)
    (folder / f"{name}.txt").write_text(text)
    (folder / f"{name}.json").write_text(json.dumps(dict(rows), indent=2) + "\n")
    bar_plot(folder / f"{name}.png", title, rows)
    print(f"wrote {folder / name}.txt, .json and .png")


class Stopwatch:
    """Seconds since creation, for the run-time line of each table."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __str__(self) -> str:
        return f"{time.perf_counter() - self.start:.0f} s"


def relative_change(new: float, old: float) -> str:
    """``new`` against ``old`` in percent, signed."""
    return f"{100.0 * (new - old) / abs(old):+.0f} %"
