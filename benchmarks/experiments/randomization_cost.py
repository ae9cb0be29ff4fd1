"""Experiment 6, what domain randomization costs: the shipped model with each draw switched off.

Run: ``python benchmarks/experiments/randomization_cost.py OUTPUT_FOLDER [--quick] [--threads N]``

All scenes are SIMULATED. The shipped default model (``xsoilmoist.load_model()``)
is scored on its own held-out scenes (the seeds and 2022 dates of
``benchmarks/train_default.py``, so the first row is the model card's
figure up to the tiling of ``predict``), simulated again with parts of the
domain randomization switched off, one at a time: the per-scene radar
calibration offset (at smaller limits than the +/- 1.5 dB the model was
trained with; each polarisation's own extra offset scaled alike), the
per-date atmospheric residuals, the soil and surface confounders (the
scene's soil brightness; per pixel: roughness, Water Cloud Model ``A``, soil
brightness, colour and darkening, canopy reflectance, litter and crop
residue), and all of them.
Truth, terrain, weather and stations are the same in every row: only what
the sensors see changes.

Each row also gives the share of the squared error that is the level of a
scene's date (the mean error over the scene on that date): what a single
date cannot tell apart when the whole scene's radar is offset.

Writes ``randomization_cost.txt``, ``.json`` and ``.png`` into OUTPUT_FOLDER.
About 2 minutes with ``--threads 2`` (``--quick``: a smoke test).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from _common import REGIONS, TEST_START, Stopwatch, parse_args, score, simulate, write_outputs

from xsoilmoist.synthetic import ObservingSystem
from xsoilmoist.training import predict_scene
from xsoilmoist.weights import load_model

#: The default model's held-out seeds (``benchmarks/train_default.py``).
TEST_SEEDS = (100, 101, 102)
SURFACE_CONFOUNDERS_OFF = {
    "roughness_sd": 0.0,
    "wcm_a_sd": 0.0,
    "soil_brightness_sd": 0.0,
    "soil_colour_sd": 0.0,
    "darkening_sd": 0.0,
    "canopy_reflectance_sd": 0.0,
    "residue_cover_limit": 0.0,
    "scene_soil_brightness_sd": 0.0,
}


def variants() -> list[tuple[str, ObservingSystem]]:
    """``(name, observing system)``: the shipped simulator, then one change per row."""
    shipped = ObservingSystem()
    offsets = [
        (
            f"calibration offset +/- {limit:.1f} dB",
            dataclasses.replace(
                shipped,
                calibration_offset_limit=limit,
                polarisation_offset_sd=shipped.polarisation_offset_sd
                * limit
                / shipped.calibration_offset_limit,
            ),
        )
        for limit in (1.0, 0.5, 0.0)
    ]
    return [
        ("shipped simulator (+/- 1.5 dB)", shipped),
        *offsets,
        (
            "no atmospheric residuals",
            dataclasses.replace(shipped, atmosphere_offset_sd=(0.0,) * 6, atmosphere_gain_sd=0.0),
        ),
        (
            "no soil and surface confounders",
            dataclasses.replace(shipped, **SURFACE_CONFOUNDERS_OFF),
        ),
        (
            "no randomization at all",
            dataclasses.replace(shipped, domain_randomization=False, **SURFACE_CONFOUNDERS_OFF),
        ),
    ]


def level_share(model, scenes) -> float:
    """Share of the squared error (every pixel) that is each scene-date's mean error."""
    total, level = 0.0, 0.0
    for scene in scenes:
        error = predict_scene(model, scene) - scene.truth
        valid = np.isfinite(error)
        for date_error, date_valid in zip(error, valid, strict=True):
            values = date_error[date_valid]
            total += float(np.sum(values**2))
            level += values.size * float(np.mean(values)) ** 2
    return level / total


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    watch = Stopwatch()
    budget = args.budget
    seeds = TEST_SEEDS if not args.quick else TEST_SEEDS[:1]
    model = load_model()
    rows, shares = [], []
    for name, observing in variants():
        scenes = simulate(
            budget, model.config, REGIONS, seeds, test_dates=True, observing_system=observing
        )
        scores = score(model, scenes)
        share = level_share(model, scenes)
        rows.append((name, {**scores, "level_share": share}))
        shares.append(f"  {name:<40} {share:.2f}")
        print(f"{name}: R2 {scores['truth']['r2']:.3f}, level share {share:.2f} ({watch})")
    notes = "\n".join(
        [
            "share of the squared error that is a scene-date's level (its mean error):",
            *shares,
            "",
            f"model: the shipped default ({model.card.name}); {len(seeds) * len(REGIONS)} held-out "
            f"scenes of {budget.scene_size} x {budget.scene_size} pixels, {budget.n_times} dates "
            f"from {TEST_START}; run time {watch}",
        ]
    )
    write_outputs(args.output, "randomization_cost", "What domain randomization costs", rows, notes)


if __name__ == "__main__":
    main()
