"""Train the shipped default model on SIMULATED scenes and write xsoilmoist/pretrained/default.*

Run: ``python benchmarks/train_default.py [--output PATH] [--history FILE] [--quick]
[--checkpoints DIR [--resume]]``

The two stages of :mod:`xsoilmoist.training` on scenes of the three simulated
regions (:mod:`xsoilmoist.synthetic`): stage 1 on coarse footprint labels,
stage 2 on station points with early stopping on held-out stations. The
model is then scored on held-out scenes (terrain, soil, weather and stations
never seen; dates in another year) through :func:`xsoilmoist.predict`, the
path users run, against the simulated truth at every pixel and at the
stations, pooled and per region; the scores go into the model card. Writes
``PATH.safetensors`` and ``PATH.json`` (default
``xsoilmoist/pretrained/default``), and the loss history with ``--history FILE``.
About 40 minutes on 2 free cores; ``--quick`` is a smoke test of a minute
whose model must not be shipped (it writes to ``--output`` only).

Training scenes start on dates spread from mid-April to mid-July (so their
overpasses run from spring to mid-October), and every scene is domain
randomized by the simulator (calibration offsets, incidence angles, looks,
soil brightness, atmospheric residuals). With ``--checkpoints DIR`` the best
weights of each stage so far are written to ``DIR/pretrain`` and
``DIR/finetune``, and the finished stage 1 to ``DIR/stage1``; ``--resume``
then continues: from ``DIR/stage1`` straight to stage 2, or else from
``DIR/pretrain`` through a new stage 1 (a fresh learning-rate schedule).

The meteorology modality lists ``api``, the antecedent precipitation index
(issue 15: the level of soil moisture that the rain of the previous days
sets). ``--init`` accepts a model without it (the default shipped before it):
every tensor whose name and shape match is copied, and the layers that read
the input channels (the meteorology stem and the full-resolution path) keep
the old weights in their matching channels and get zero for the new one, so
the warm-started model starts out predicting exactly as the old one (checked
on a training scene before training starts).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr

from xsoilmoist import metrics
from xsoilmoist.catalogue import MODALITY_BANDS
from xsoilmoist.inference import predict
from xsoilmoist.model import SSMNet, SSMNetConfig
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.training import (
    FinetuneSettings,
    PretrainSettings,
    finetune,
    prepare_scene,
    pretrain,
)
from xsoilmoist.training.scenes import TrainingScene, band_statistics, training_coverage
from xsoilmoist.weights import ModelCard, load_model, save_model

REGIONS = ("farmland", "alpine_grassland", "arid_basin")
DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "xsoilmoist" / "pretrained" / "default"
MAX_BYTES = 10 * 2**20

#: The shipped network: ConvNeXt V2 stages of two blocks at 0.6 x atto's widths, small
#: enough to ship (1.1 M parameters, 4.4 MiB) and to train in the CPU budget; the
#: meteorology modality reads the antecedent precipitation index ``api`` too.
CONFIG = SSMNetConfig(
    name="default-small",
    depths=(2, 2, 2, 2),
    dims=(24, 48, 96, 192),
    full_res_dim=16,
    modalities={**MODALITY_BANDS, "meteorology": (*MODALITY_BANDS["meteorology"], "api")},
)


@dataclasses.dataclass(frozen=True)
class Plan:
    """Scenes and steps of a training run."""

    scene_size: int
    train_seeds: tuple[int, ...]
    validation_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    n_times: int
    coarse_resolution: float
    n_stations: int
    test_start: str
    pretrain: PretrainSettings
    finetune: FinetuneSettings


FULL = Plan(
    scene_size=128,
    train_seeds=tuple(range(1, 17)),
    validation_seeds=(50,),
    test_seeds=(100, 101, 102),
    n_times=8,
    coarse_resolution=320.0,
    n_stations=64,
    test_start="2022-06-05",
    pretrain=PretrainSettings(steps=3000, batch_size=8, patch_size=96, eval_every=250),
    finetune=FinetuneSettings(
        steps=4000, batch_size=8, patch_size=64, learning_rate=5e-4, eval_every=100, patience=10
    ),
)
#: FULL with fewer steps, for a shared machine (best warm-started with ``--init default``).
SHORT = dataclasses.replace(
    FULL,
    pretrain=dataclasses.replace(FULL.pretrain, steps=600, eval_every=100),
    finetune=dataclasses.replace(FULL.finetune, steps=800, patience=5),
)
QUICK = Plan(
    scene_size=64,
    train_seeds=(1,),
    validation_seeds=(53,),  # 50's alpine scene is clouded on both dates: 'blue' invalid
    test_seeds=(100,),
    n_times=2,
    coarse_resolution=160.0,
    n_stations=8,
    test_start="2022-06-05",
    pretrain=PretrainSettings(steps=4, batch_size=2, patch_size=32, eval_every=2),
    finetune=FinetuneSettings(steps=4, batch_size=2, patch_size=32, eval_every=2),
)


#: Training scenes start between these days of the year (overpasses until about mid-October).
SEASON_START_DOY = (105, 196)


def training_dates(plan: Plan, region: str, seed: int) -> list[pd.Timestamp]:
    """The overpasses of a training scene: 12-day steps from a start drawn in the season."""
    rng = np.random.default_rng([seed, zlib.crc32(region.encode())])
    start = pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(*SEASON_START_DOY)))
    return list(pd.date_range(start, periods=plan.n_times, freq="12D"))


def simulate(plan: Plan, seeds, *, test: bool = False) -> list[xr.Dataset]:
    """One scene per region and seed; every third training scene has L-band SAR too."""
    test_dates = list(pd.date_range(plan.test_start, periods=plan.n_times, freq="12D"))
    return [
        simulate_scene(
            region,
            shape=(plan.scene_size, plan.scene_size),
            times=test_dates if test else training_dates(plan, region, seed),
            seed=seed,
            coarse_resolution=plan.coarse_resolution,
            n_stations=plan.n_stations,
            l_band=not test and seed % 3 == 0,
        )
        for region in REGIONS
        for seed in seeds
    ]


def scores(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    summary = metrics.summary(xr.DataArray(pred), xr.DataArray(obs))
    return {name: round(float(summary[name]), 5) for name in summary.data_vars}


def held_out_metrics(weights: Path, test: list[xr.Dataset]) -> dict:
    """Scores of the saved model through ``xsoilmoist.predict``, pooled and per region."""
    truth_pairs, station_pairs = {}, {}
    for ds in test:
        ssm = predict(ds, weights).values
        region = ds.attrs["region"]
        truth_pairs.setdefault(region, []).append((ssm.ravel(), ds.ssm_true.values.ravel()))
        rows, cols = ds.station_row.values, ds.station_col.values
        at_stations = ssm[:, rows, cols].T.ravel()
        station_pairs.setdefault(region, []).append((at_stations, ds.station_ssm.values.ravel()))

    def pooled(pairs):
        return scores(np.concatenate([p for p, _ in pairs]), np.concatenate([o for _, o in pairs]))

    every = [pair for region in truth_pairs for pair in truth_pairs[region]]
    every_station = [pair for region in station_pairs for pair in station_pairs[region]]
    return {
        "evaluated_on": (
            f"{len(test)} held-out SIMULATED scenes ({', '.join(REGIONS)}; seeds never used in "
            "training, so terrain, soil, weather and stations never seen; dates in 2022, "
            "training in 2021), predicted with xsoilmoist.predict (tiled inference)"
        ),
        "truth": pooled(every),
        "stations": pooled(every_station),
        "truth_by_region": {region: pooled(pairs) for region, pairs in truth_pairs.items()},
        "units": "m3 m-3 (rmse, ubrmse, mae, bias); r2 and pearson_r unitless",
    }


DESCRIPTION = (
    "Default xsoilmoist model: a small masked ConvNeXt V2 regression U-Net "
    "(depths 2-2-2-2, widths 24-48-96-192) estimating 0-5 cm surface soil moisture "
    "(m3/m3) at 10 m from SAR (C-band; L-band optional), optical reflectance, "
    "elevation and slope, LAI/FPAR, air temperature, precipitation and the "
    "antecedent precipitation index (api: without it the meteorology group is unused), and the "
    "day-of-year and location encodings. TRAINED ON SIMULATED SCENES ONLY "
    "(xsoilmoist.synthetic: farmland, alpine grassland and arid basin regimes, "
    "domain randomized: radar calibration offsets within +/-1.5 dB, incidence "
    "angles 30-46 degrees, 3-6 looks, soil brightness and colour, litter and crop "
    "residue, atmospheric residuals), with the two-stage method of Liu et al. (2025): "
    "coarse footprint labels, then station points. Limitations: it has never seen real "
    "observations, so its accuracy on real data is unknown and certainly lower "
    "than the simulated metrics below; real sensors and landscapes differ from "
    "the simulator (land covers such as conifer forest, urban and water, soils "
    "and climates outside the three simulated regimes); it was trained on 1.3 km "
    "scenes dated mid-April to mid-October, never on frozen or snow-covered "
    "ground; the metrics are for held-out simulated scenes, not a validation."
)


def input_channels(config: SSMNetConfig, tensor: str) -> tuple[str, ...] | None:
    """Names of the input channels of a layer that reads the bands (``None`` for others)."""
    for modality, bands in config.modalities.items():
        if tensor == f"stems.{modality}.conv.weight":
            return bands
    if tensor == "full_res.weight":  # the normalised bands, then one mask per modality
        return (*config.bands, *(f"mask:{m}" for m in config.modalities))
    return None


def widened_tensor(name: str, old: torch.Tensor, new: torch.Tensor, configs) -> torch.Tensor:
    """``old`` in the channels of ``new`` that it shares by name, zero in the others."""
    old_names, new_names = (input_channels(config, name) for config in configs)
    same_rest = old.shape[:1] + old.shape[2:] == new.shape[:1] + new.shape[2:]
    if old_names is None or new_names is None or not same_rest:
        raise SystemExit(f"--init: {name} is {tuple(old.shape)}, {tuple(new.shape)} here")
    out = torch.zeros_like(new)
    for channel, band in enumerate(new_names):
        if band in old_names:
            out[:, channel] = old[:, old_names.index(band)]
    return out


def widened(old: SSMNet, train: list[TrainingScene]) -> SSMNet:
    """A :data:`CONFIG` network carrying ``old``'s weights, zero for the channels it lacks.

    Bands ``old`` knows keep its normalisation; the new ones get the training scenes'.
    """
    mean, std = band_statistics(train)
    previous = old.config
    known = {
        band: pair
        for band, pair in zip(
            previous.bands, zip(previous.band_mean, previous.band_std, strict=True), strict=True
        )
    }
    fresh = zip(CONFIG.bands, zip(mean, std, strict=True), strict=True)
    stats = [known.get(band, pair) for band, pair in fresh]
    config = dataclasses.replace(
        old.config,
        modalities=CONFIG.modalities,
        band_mean=tuple(m for m, _ in stats),
        band_std=tuple(s for _, s in stats),
    )
    model = SSMNet(config)
    state, old_state = model.state_dict(), old.state_dict()
    if set(state) != set(old_state):
        differ = sorted(set(state) ^ set(old_state))
        raise SystemExit(f"--init: tensors {differ} are not in both networks")
    for name, tensor in old_state.items():
        if tensor.shape != state[name].shape:
            tensor = widened_tensor(name, tensor, state[name], (old.config, config))
        state[name] = tensor
    model.load_state_dict(state)
    return model.eval()


def assert_same_predictions(old: SSMNet, new: SSMNet, scene: TrainingScene) -> float:
    """The largest difference (m3/m3) of the two models' maps of ``scene``'s first date."""
    x = torch.from_numpy(scene.inputs[:1])
    keep = [new.config.bands.index(band) for band in old.config.bands]
    meta = torch.from_numpy(scene.meta[:1])
    with torch.no_grad():
        before, after = old.eval()(x[:, keep], meta), new.eval()(x, meta)
    difference = float((before - after).abs().nan_to_num(0.0).max())
    same_validity = bool((before.isnan() == after.isnan()).all())
    assert same_validity and difference <= 1e-6, (difference, same_validity)
    return difference


def initial_model(init: str, train: list[TrainingScene]) -> SSMNet:
    """``init``, widened to :data:`CONFIG`'s bands when it lacks some."""
    old = load_model(init)
    if old.config.bands == CONFIG.bands:
        return old
    model = widened(old, train)
    difference = assert_same_predictions(old, model, train[0])
    print(f"--init {init}: widened to {CONFIG.bands[-1:]}; same map (max diff {difference:.1e})")
    return model


WIDENED = (
    "; it had no api: every tensor whose name and shape match was copied, and the "
    "meteorology stem and the full-resolution path got its weights in their matching "
    "channels and zero in the new api channel (so training started from a model "
    "predicting exactly as it did)"
)


def checkpoint(args: argparse.Namespace, name: str) -> Path | None:
    """``DIR/name`` when checkpoints are asked for."""
    return args.checkpoints / name if args.checkpoints is not None else None


def run_stage1(plan: Plan, train, validation, args: argparse.Namespace):
    """Stage 1, or its saved result when resuming: ``(model, summary, loss history)``."""
    stage1_path = checkpoint(args, "stage1")
    if args.resume and stage1_path.with_suffix(".safetensors").exists():
        model = load_model(stage1_path.with_suffix(".safetensors"))
        print(f"resuming: stage 1 read from {stage1_path}")
        return model, model.card.training["stages"][0], None
    start = initial_model(args.init, train) if args.init else CONFIG
    partial = checkpoint(args, "pretrain")
    if args.resume and partial.with_suffix(".safetensors").exists():
        start = load_model(partial.with_suffix(".safetensors"))
        print(f"resuming: stage 1 continues from {partial}")
    stage1 = pretrain(
        start, train, validation=validation, settings=plan.pretrain, checkpoint=partial
    )
    summary = stage1.summary()
    if stage1_path is not None:
        card = ModelCard(
            name="stage1",
            config={},
            trained=True,
            description="stage 1 of benchmarks/train_default.py (checkpoint, not a release)",
            training={"stages": [summary]},
        )
        save_model(stage1.model, stage1_path, card)
    return stage1.model, summary, stage1.history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: robust on a shared machine)"
    )
    parser.add_argument("--history", type=Path, help="write the loss history (JSON) here")
    parser.add_argument("--quick", action="store_true", help="smoke test (do not ship)")
    parser.add_argument(
        "--short", action="store_true", help="fewer steps (600 + at most 800), for a busy machine"
    )
    parser.add_argument(
        "--init", help="start stage 1 from this model (name or path) instead of from scratch"
    )
    parser.add_argument("--checkpoints", type=Path, help="write stage checkpoints in this folder")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the checkpoints in --checkpoints"
    )
    args = parser.parse_args()
    if args.resume and args.checkpoints is None:
        parser.error("--resume needs --checkpoints DIR (where the earlier run wrote them)")
    if args.quick and args.output == DEFAULT_OUTPUT:
        parser.error("--quick writes a throwaway model: give --output elsewhere")
    torch.set_num_threads(args.threads)
    plan = QUICK if args.quick else SHORT if args.short else FULL
    initialised_from = "random (seeded)"
    if args.init:  # read now: the run may overwrite this very model at the end
        old = load_model(args.init)
        initialised_from = f"{args.init} (sha256 {old.card.sha256})"
        if old.config.bands != CONFIG.bands:
            initialised_from += WIDENED
    start = time.perf_counter()

    probe = SSMNet(CONFIG)
    train = [prepare_scene(ds, probe) for ds in simulate(plan, plan.train_seeds)]
    validation = [prepare_scene(ds, probe) for ds in simulate(plan, plan.validation_seeds)]
    test = simulate(plan, plan.test_seeds, test=True)
    print(f"{len(train)} training scenes, {len(validation)} validation, {len(test)} test")

    stage1_model, stage1_summary, stage1_history = run_stage1(plan, train, validation, args)
    stage2 = finetune(
        stage1_model, train, settings=plan.finetune, checkpoint=checkpoint(args, "finetune")
    )
    model = stage2.model
    input_ranges, trained_months = training_coverage(train)
    minutes = (time.perf_counter() - start) / 60
    data = {
        "source": "simulated scenes (xsoilmoist.synthetic)",
        "regions": list(REGIONS),
        "scene_size_px": plan.scene_size,
        "resolution_m": 10.0,
        "dates_per_scene": plan.n_times,
        "train_seeds": list(plan.train_seeds),
        "validation_seeds": list(plan.validation_seeds),
        "l_band": "in the training scenes whose seed is a multiple of 3",
        "coarse_label_footprint_m": plan.coarse_resolution,
        "stations_per_scene": plan.n_stations,
    }
    card = ModelCard(
        name="default",
        config={},
        trained=True,
        description=DESCRIPTION,
        required_modalities=["sar_c"],
        optional_modalities=[m for m in CONFIG.modalities if m != "sar_c"],
        tile=256,
        halo=32,
        input_ranges=input_ranges,
        trained_months=trained_months,
        trained_regions=list(REGIONS),
        training={
            "data": data,
            "stages": [stage1_summary, stage2.summary()],
            "script": "benchmarks/train_default.py",
            "minutes": round(minutes, 1),
            "threads": args.threads,
            "initialised_from": initialised_from,
            "training_dates": f"12-day steps from a start between days {SEASON_START_DOY} of 2021",
        },
        license="Apache-2.0",
        version="1",
    )
    weights, card_path = save_model(model, args.output, card)
    card = dataclasses.replace(card, metrics=held_out_metrics(weights, test))
    weights, card_path = save_model(model, args.output, card)  # the card with its metrics
    size = weights.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{weights} is {size / 2**20:.1f} MiB, more than the 10 MiB budget")
    reloaded = load_model(weights)
    assert reloaded.card.trained and reloaded.card.metrics == card.metrics
    if args.history is not None:
        history = {"pretrain": stage1_history, "finetune": stage2.history}
        args.history.write_text(json.dumps(history, indent=1) + "\n")
    print(json.dumps(card.metrics, indent=2))
    print(
        f"wrote {weights} ({size / 2**20:.2f} MiB) and {card_path}; "
        f"trained in {minutes:.1f} min, total {(time.perf_counter() - start) / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
