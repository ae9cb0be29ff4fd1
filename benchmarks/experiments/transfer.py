"""Experiment 3, transfer: train on two regions, fine-tune with few stations in the third.

Run: ``python benchmarks/experiments/transfer.py OUTPUT_FOLDER [--quick] [--target REGION]``

All scenes are SIMULATED. Source regions: the two others than ``--target``
(default ``arid_basin``, the Heihe-like arid basin; the sources are then
farmland and alpine grassland).
The target has few stations: 2 training scenes with 4 stations each (one
per scene held out for early stopping). Variants:

1. target stations only, from random weights;
2. source model (two stages on the sources), applied to the target as is;
3. the source model fine-tuned on the target's few stations;
4. stage 1 on the coarse labels of all three regions (a coarse satellite
   product covers the target too), stage 2 on the sources' stations and the
   target's few stations.

Scored on target test scenes with unseen terrain, soil, weather and dates.
Writes ``transfer.txt``, ``.json`` and ``.png`` into OUTPUT_FOLDER. About 12
minutes on 2 free cores (``--quick``: a smoke test).
"""

from __future__ import annotations

import dataclasses
import sys

from _common import (
    REGIONS,
    Stopwatch,
    network,
    parse_args,
    relative_change,
    score,
    simulate,
    write_outputs,
)

from xsoilmoist.training import finetune, pretrain

FEW_STATIONS = 4
TARGET_SEEDS = (1, 2)


def _target_from_argv() -> str:
    """``--target REGION`` (removed from ``sys.argv`` before the common parser sees it)."""
    if "--target" not in sys.argv:
        return "arid_basin"
    i = sys.argv.index("--target")
    target = sys.argv[i + 1]
    del sys.argv[i : i + 2]
    if target not in REGIONS:
        raise SystemExit(f"--target must be one of {list(REGIONS)}, got {target!r}")
    return target


def main() -> None:
    target = _target_from_argv()
    args = parse_args(__doc__.splitlines()[0])
    budget, watch = args.budget, Stopwatch()
    sources = tuple(r for r in REGIONS if r != target)
    config = network()
    source_train = simulate(budget, config, sources, budget.train_seeds)
    source_validation = simulate(budget, config, sources, (50,))
    target_few = simulate(budget, config, (target,), TARGET_SEEDS, n_stations=FEW_STATIONS)
    target_validation = simulate(budget, config, (target,), (50,))
    test = simulate(budget, config, (target,), budget.test_seeds, test_dates=True)

    print(f"--- 1. {target} stations only", flush=True)
    scratch = dataclasses.replace(
        budget.finetune,
        steps=budget.pretrain.steps + budget.finetune.steps,
        learning_rate=budget.pretrain.learning_rate,
        patience=None,
    )
    target_only = finetune(config, target_few, settings=scratch)
    print(f"--- 2. source model ({', '.join(sources)})", flush=True)
    source_stage1 = pretrain(
        config, source_train, validation=source_validation, settings=budget.pretrain
    )
    source_model = finetune(source_stage1.model, source_train, settings=budget.finetune)
    print("--- 3. source model fine-tuned on the target's stations", flush=True)
    adapted = finetune(source_model.model, target_few, settings=budget.finetune)
    print("--- 4. stage 1 on every region's coarse labels", flush=True)
    all_stage1 = pretrain(
        config,
        source_train + target_few,
        validation=source_validation + target_validation,
        settings=budget.pretrain,
    )
    joint = finetune(all_stage1.model, source_train + target_few, settings=budget.finetune)
    rows = [
        (f"1. {target} stations only", score(target_only.model, test)),
        ("2. source model as is", score(source_model.model, test)),
        ("3. source model + target stations", score(adapted.model, test)),
        ("4. all coarse + all stations", score(joint.model, test)),
    ]
    ub = [scores["truth"]["ubrmse"] for _, scores in rows]
    mae = [scores["truth"]["mae"] for _, scores in rows]
    notes = [
        f"target {target}: {len(TARGET_SEEDS)} training scenes with {FEW_STATIONS} stations "
        f"each; sources {', '.join(sources)}: {len(source_train)} scenes with "
        f"{budget.n_stations} stations each; test: {len(test)} {target} scenes",
        f"ubRMSE 3 against 1: {relative_change(ub[2], ub[0])}; 3 against 2: "
        f"{relative_change(ub[2], ub[1])}; 4 against 1: {relative_change(ub[3], ub[0])}",
        f"MAE 3 against 1: {relative_change(mae[2], mae[0])}",
        f"run time {watch}",
    ]
    write_outputs(
        args.output,
        "transfer",
        f"Experiment 3: transfer to {target} with few stations",
        rows,
        "\n".join(notes),
    )


if __name__ == "__main__":
    main()
