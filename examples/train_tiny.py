"""Two-stage training of a tiny network on simulated scenes, in a few minutes on a CPU.

Run: ``python examples/train_tiny.py [OUTPUT_STEM]`` (default ``tiny-model``)

Simulates a few scenes (:mod:`xsoilmoist.synthetic`; everything is SIMULATED),
trains stage 1 on their coarse labels and stage 2 on their stations
(:mod:`xsoilmoist.training`), scores the model on a held-out scene, saves it
with its card and predicts that scene with :func:`xsoilmoist.predict` from the
saved file. The network is far too small and too briefly trained to be
useful; see ``benchmarks/train_default.py`` for the real thing.
"""

from __future__ import annotations

import sys

from xsoilmoist import predict
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.training import (
    FinetuneSettings,
    PretrainSettings,
    evaluate,
    finetune,
    prepare_scene,
    pretrain,
)
from xsoilmoist.weights import ModelCard, save_model


def main() -> None:
    stem = sys.argv[1] if len(sys.argv) > 1 else "tiny-model"
    config = SSMNetConfig(name="tiny", depths=(1, 1, 1, 1), dims=(8, 16, 32, 64))
    probe = SSMNet(config)  # fixes the band order prepare_scene stacks in

    def scenes(region: str, seeds, **kwargs):
        return [
            prepare_scene(
                simulate_scene(region, shape=(96, 96), times=4, seed=seed,
                               coarse_resolution=320.0, **kwargs),
                probe,
            )
            for seed in seeds
        ]  # fmt: skip

    train = scenes("farmland", [1, 2]) + scenes("arid_basin", [1])
    held_out = scenes("farmland", [9])

    stage1 = pretrain(
        config, train, settings=PretrainSettings(steps=120, patch_size=64, eval_every=40)
    )
    stage2 = finetune(stage1.model, train, settings=FinetuneSettings(steps=60, eval_every=20))
    for name, model in (("stage 1", stage1.model), ("stage 2", stage2.model)):
        s = evaluate(model, held_out)
        print(f"{name}: R2 {s['r2']:.3f}, RMSE {s['rmse']:.4f}, ubRMSE {s['ubrmse']:.4f} m3/m3")

    card = ModelCard(
        name="tiny",
        config={},
        trained=True,
        description="tiny example model trained on simulated scenes (not for use)",
        training={"stages": [stage1.summary(), stage2.summary()]},
    )
    weights, _ = save_model(stage2.model, stem, card)
    ds = simulate_scene("farmland", shape=(96, 96), times=4, seed=9, coarse_resolution=320.0)
    ssm = predict(ds, weights)
    print(f"wrote {weights}; predicted {dict(ssm.sizes)}, mean {float(ssm.mean()):.3f} m3/m3")


if __name__ == "__main__":
    main()
