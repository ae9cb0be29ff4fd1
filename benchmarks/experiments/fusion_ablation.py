"""Experiment 1, fusion ablation: what each group of inputs adds (on SIMULATED scenes).

Run: ``python benchmarks/experiments/fusion_ablation.py OUTPUT_FOLDER [--quick]``

Three networks of the same size, trained the same way (stage 1 on coarse
footprint labels, stage 2 on stations; :mod:`xsoilmoist.training`), differ
only in their inputs:

1. SAR only (Sentinel-1-like VV, VH, VH/VV);
2. SAR + optical (six reflectances, NDVI) + topography (elevation, slope);
3. + vegetation products (LAI, FPAR), meteorology (air temperature,
   precipitation) and the time and location encodings.

Variants 1 and 2 see the image-level encodings as zeros. Each is scored on
test scenes of all three regions with unseen terrain, soil and weather and
unseen dates. Liu et al. (2025) report about +0.20 R2 for step 2 and +0.05
for step 3. Writes ``fusion_ablation.txt``, ``.json`` and ``.png`` into
OUTPUT_FOLDER. About 10 minutes on 2 free cores (``--quick``: seconds, a
smoke test whose numbers mean nothing).
"""

from __future__ import annotations

from _common import (
    ALL_MODALITIES,
    REGIONS,
    Stopwatch,
    network,
    parse_args,
    restricted,
    score,
    simulate,
    without_metadata,
    write_outputs,
)

from xsoilmoist.training import finetune, pretrain

VARIANTS = (
    ("1. SAR only", ("sar_c",), False),
    ("2. SAR + optical + topography", ("sar_c", "optical", "topography"), False),
    ("3. + vegetation, meteorology, time", ALL_MODALITIES, True),
)
PAPER_GAINS = (None, 0.20, 0.05)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    budget, watch = args.budget, Stopwatch()
    full = network()
    train = simulate(budget, full, REGIONS, budget.train_seeds)
    validation = simulate(budget, full, REGIONS, (50,))
    test = simulate(budget, full, REGIONS, budget.test_seeds, test_dates=True)
    rows = []
    for name, modalities, with_metadata in VARIANTS:
        config = network(modalities)

        def inputs(scenes, config=config, with_metadata=with_metadata):
            return restricted(scenes if with_metadata else without_metadata(scenes), config)

        print(f"--- {name}", flush=True)
        stage1 = pretrain(
            config, inputs(train), validation=inputs(validation), settings=budget.pretrain
        )
        stage2 = finetune(stage1.model, inputs(train), settings=budget.finetune)
        rows.append((name, score(stage2.model, inputs(test))))
    notes = ["R2 gain of each step (truth, test scenes) against the paper's:"]
    for i in range(1, len(rows)):
        gain = rows[i][1]["truth"]["r2"] - rows[i - 1][1]["truth"]["r2"]
        notes.append(f"  {rows[i][0]:<40} {gain:+.3f}   paper {PAPER_GAINS[i]:+.2f}")
    total = rows[-1][1]["truth"]["mae"] / rows[0][1]["truth"]["mae"]
    notes.append(f"MAE of 3 over MAE of 1: {total:.2f} (paper, Heihe: 0.0509 / 0.1004 = 0.51)")
    notes.append(
        f"train: {len(train)} scenes ({budget.scene_size} px, {budget.n_times} dates, "
        f"{budget.n_stations} stations each), test: {len(test)} scenes; run time {watch}"
    )
    write_outputs(
        args.output,
        "fusion_ablation",
        "Experiment 1: fusion ablation (two-stage training, same network size)",
        rows,
        "\n".join(notes),
    )


if __name__ == "__main__":
    main()
