"""Experiment 2, training strategy: stations only, coarse labels only, two stages (SIMULATED).

Run: ``python benchmarks/experiments/training_strategy.py OUTPUT_FOLDER [--quick]``

The same network with every input, trained four ways (:mod:`xsoilmoist.training`):

1. stations only: stage 2 from random weights (no stage 1), with stage 1's
   learning rate and the two stages' steps together;
2. coarse labels only: stage 1 (footprint-mean loss), no stations;
3. two stages: stage 1, then fine-tuning on stations;
4. two stages with the encoder frozen in stage 2.

Scored on test scenes of all three regions with unseen terrain, soil and
weather and unseen dates. Liu et al. (2025) report that stage 1 then in-situ
fine-tuning cuts ubRMSE by 36.4 % to 60.8 % against models without it.
Writes ``training_strategy.txt``, ``.json`` and ``.png`` into OUTPUT_FOLDER.
About 8 minutes on 2 free cores (``--quick``: a smoke test).
"""

from __future__ import annotations

import dataclasses

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


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    budget, watch = args.budget, Stopwatch()
    config = network()
    train = simulate(budget, config, REGIONS, budget.train_seeds)
    validation = simulate(budget, config, REGIONS, (50,))
    test = simulate(budget, config, REGIONS, budget.test_seeds, test_dates=True)

    print("--- stations only", flush=True)
    scratch = dataclasses.replace(
        budget.finetune,
        steps=budget.pretrain.steps + budget.finetune.steps,
        learning_rate=budget.pretrain.learning_rate,
        patience=None,
    )
    stations_only = finetune(config, train, settings=scratch)
    print("--- stage 1", flush=True)
    stage1 = pretrain(config, train, validation=validation, settings=budget.pretrain)
    print("--- stage 2", flush=True)
    stage2 = finetune(stage1.model, train, settings=budget.finetune)
    print("--- stage 2, frozen encoder", flush=True)
    frozen = dataclasses.replace(budget.finetune, freeze_encoder=True)
    stage2_frozen = finetune(stage1.model, train, settings=frozen)
    rows = [
        ("1. stations only (no stage 1)", score(stations_only.model, test)),
        ("2. coarse labels only (stage 1)", score(stage1.model, test)),
        ("3. two stages", score(stage2.model, test)),
        ("4. two stages, frozen encoder", score(stage2_frozen.model, test)),
    ]
    ub = {name: scores["truth"]["ubrmse"] for name, scores in rows}
    names = [name for name, _ in rows]
    notes = [
        "ubRMSE change of the two-stage models (truth, test scenes):",
        f"  3 against 1 (stage 1 added): {relative_change(ub[names[2]], ub[names[0]])}"
        "   paper: -36.4 % to -60.8 %",
        f"  3 against 2 (stations added): {relative_change(ub[names[2]], ub[names[1]])}",
        f"  4 against 1: {relative_change(ub[names[3]], ub[names[0]])}",
        f"stage 2 early stopping: two stages kept step {stage2.best_step}, frozen encoder "
        f"step {stage2_frozen.best_step}; stations only kept step {stations_only.best_step}",
        f"train: {len(train)} scenes ({budget.scene_size} px, {budget.n_times} dates, "
        f"{budget.n_stations} stations each), test: {len(test)} scenes; run time {watch}",
    ]
    write_outputs(
        args.output,
        "training_strategy",
        "Experiment 2: training strategy (every input, same network)",
        rows,
        "\n".join(notes),
    )


if __name__ == "__main__":
    main()
