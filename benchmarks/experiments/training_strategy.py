"""Experiment 2, training strategy: stations only, coarse labels only, two stages.

Run: ``python benchmarks/experiments/training_strategy.py OUTPUT_FOLDER [--quick]``

All scenes are SIMULATED. The same network with every input, trained in
these ways (:mod:`xsoilmoist.training`), at two station densities (every
training scene has coarse labels; a quarter of each scene's stations is held
out for early stopping):

- stations only: stage 2 from random weights (no stage 1), with stage 1's
  learning rate and the two stages' steps together;
- coarse labels only: stage 1 (footprint-mean loss), no stations;
- two stages: stage 1, then fine-tuning on stations (and once with the
  encoder frozen).

Scored on test scenes of all three regions with unseen terrain, soil and
weather and unseen dates. Liu et al. (2025) report that stage 1 then in-situ
fine-tuning cuts ubRMSE by 36.4 % to 60.8 % against models without it.
Writes ``training_strategy.txt``, ``.json`` and ``.png`` into OUTPUT_FOLDER.
About 12 minutes on 2 free cores (``--quick``: a smoke test).
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

SPARSE, DENSE = 4, 16  # stations per 1.28 km scene


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    budget, watch = args.budget, Stopwatch()
    config = network()
    dense = simulate(budget, config, REGIONS, budget.train_seeds, n_stations=DENSE)
    sparse = [scene.with_stations(range(SPARSE)) for scene in dense]
    validation = simulate(budget, config, REGIONS, (50,))
    test = simulate(budget, config, REGIONS, budget.test_seeds, test_dates=True)
    scratch = dataclasses.replace(
        budget.finetune,
        steps=budget.pretrain.steps + budget.finetune.steps,
        learning_rate=budget.pretrain.learning_rate,
        patience=None,
    )
    frozen = dataclasses.replace(budget.finetune, freeze_encoder=True)

    print("--- stage 1 (coarse labels)", flush=True)
    stage1 = pretrain(config, dense, validation=validation, settings=budget.pretrain)
    rows, kept = [("coarse labels only (stage 1)", score(stage1.model, test))], {}
    for n, scenes in ((SPARSE, sparse), (DENSE, dense)):
        print(f"--- {n} stations per scene: stations only", flush=True)
        alone = finetune(config, scenes, settings=scratch)
        print(f"--- {n} stations per scene: two stages", flush=True)
        both = finetune(stage1.model, scenes, settings=budget.finetune)
        rows.append((f"{n:>2} stations: stations only", score(alone.model, test)))
        rows.append((f"{n:>2} stations: two stages", score(both.model, test)))
        kept[n] = (alone.best_step, both.best_step)
        if n == SPARSE:
            print(f"--- {n} stations per scene: two stages, frozen encoder", flush=True)
            tuned = finetune(stage1.model, scenes, settings=frozen)
            rows.append((f"{n:>2} stations: two stages, frozen encoder", score(tuned.model, test)))
    ub = {name: scores["truth"]["ubrmse"] for name, scores in rows}
    notes = ["ubRMSE of two stages against stations only (truth, test scenes):"]
    for n in (SPARSE, DENSE):
        change = relative_change(ub[f"{n:>2} stations: two stages"], ub[f"{n:>2} stations: "
                                 "stations only"])  # fmt: skip
        notes.append(f"  {n:>2} stations per scene: {change}   paper: -36.4 % to -60.8 %")
    notes += [
        f"early stopping kept step (stations only, two stages): {SPARSE} stations "
        f"{kept[SPARSE]}, {DENSE} stations {kept[DENSE]}",
        f"train: {len(dense)} scenes ({budget.scene_size} px, {budget.n_times} dates) with "
        f"coarse labels and {SPARSE} or {DENSE} stations each; test: {len(test)} scenes; "
        f"run time {watch}",
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
