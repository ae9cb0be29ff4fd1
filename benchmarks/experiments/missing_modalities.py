"""The shipped default model with inputs withheld: graceful degradation (SIMULATED scenes).

Run: ``python benchmarks/experiments/missing_modalities.py OUTPUT_FOLDER [--model NAME_OR_PATH]``

Predicts the held-out test scenes of ``benchmarks/train_default.py`` (seeds
100-102 of each region, 2022 dates) with :func:`xsoilmoist.predict`, once with
every input and then with modality groups removed from the Dataset, as a
user without that sensor would call it. Modality dropout during training is
what should keep the loss of accuracy moderate. Writes
``missing_modalities.txt``, ``.json`` and ``.png``. About 2 minutes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import xarray as xr
from _common import write_outputs

from xsoilmoist import metrics, predict
from xsoilmoist.synthetic import simulate_scene
from xsoilmoist.weights import load_model

CASES = (
    ("every input", ()),
    ("no vegetation products", ("vegetation",)),
    ("no meteorology", ("meteorology",)),
    ("no optical (e.g. overcast)", ("optical",)),
    ("no optical, no meteorology", ("optical", "meteorology")),
    ("SAR only (+ time and location)", ("optical", "topography", "vegetation", "meteorology")),
)


def summary(pred: list[np.ndarray], obs: list[np.ndarray]) -> dict[str, float]:
    s = metrics.summary(xr.DataArray(np.concatenate(pred)), xr.DataArray(np.concatenate(obs)))
    return {name: float(s[name]) for name in s.data_vars}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    model = load_model(args.model)
    groups = model.config.modalities  # with the model's own bands (the default's api too)
    dates = list(pd.date_range("2022-06-05", periods=8, freq="12D"))
    scenes = [
        simulate_scene(region, shape=(128, 128), times=dates, seed=seed, coarse_resolution=320.0,
                       n_stations=64)
        for region in ("farmland", "alpine_grassland", "arid_basin")
        for seed in (100, 101, 102)
    ]  # fmt: skip
    rows = []
    for name, withheld in CASES:
        pred, truth, at_stations, readings = [], [], [], []
        for ds in scenes:
            dropped = [b for g in withheld for b in groups.get(g, ()) if b in ds.data_vars]
            ssm = predict(ds.drop_vars(dropped), model)
            values = ssm.values
            pred.append(values.ravel())
            truth.append(ds.ssm_true.values.ravel())
            at_stations.append(values[:, ds.station_row.values, ds.station_col.values].T.ravel())
            readings.append(ds.station_ssm.values.ravel())
        rows.append(
            (name, {"truth": summary(pred, truth), "stations": summary(at_stations, readings)})
        )
    full = rows[0][1]["truth"]["rmse"]
    notes = [f"RMSE relative to every input ({full:.4f} m3/m3):"]
    notes += [f"  {name:<40} x{scores['truth']['rmse'] / full:.2f}" for name, scores in rows[1:]]
    notes.append(f"model {args.model!r}; {len(scenes)} held-out scenes of 128 x 128 px, 8 dates")
    write_outputs(
        args.output,
        "missing_modalities",
        "Default model with inputs withheld",
        rows,
        "\n".join(notes),
    )


if __name__ == "__main__":
    main()
