"""Predict whole training scenes and score them with :mod:`xsoilmoist.metrics`.

Scores pool every valid pair of the scenes given: against the dense truth of
simulated scenes (``target="truth"``) or against station readings
(``target="stations"``). For tiled, lazy inference on large scenes use
:func:`xsoilmoist.predict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from xsoilmoist import metrics
from xsoilmoist.errors import InputError
from xsoilmoist.training.scenes import TrainingScene

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet

__all__ = ["evaluate", "paired_values", "predict_scene"]


def predict_scene(model: SSMNet, scene: TrainingScene, batch_size: int = 2) -> np.ndarray:
    """Soil moisture ``(time, y, x)`` for a whole scene, one forward pass per image.

    The model is run in eval mode without gradients (its mode is restored).

    Examples
    --------
    >>> from xsoilmoist.model import SSMNet, SSMNetConfig
    >>> model = SSMNet(SSMNetConfig(modalities={"sar_c": ("vv",)}, depths=(1, 1, 1, 1),
    ...                             dims=(8, 16, 32, 64)))
    >>> scene = TrainingScene("toy", ("vv",), np.full((2, 1, 20, 30), -10.0, np.float32),
    ...                       np.zeros((2, 6), np.float32))
    >>> predict_scene(model, scene).shape
    (2, 20, 30)
    """
    if scene.bands != tuple(model.config.bands):
        raise InputError(
            f"scene {scene.name!r} has bands {scene.bands}, the model wants {model.config.bands}; "
            "prepare the scene with this model"
        )
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, scene.n_times, batch_size):
                x = torch.from_numpy(scene.inputs[start : start + batch_size])
                meta = torch.from_numpy(scene.meta[start : start + batch_size])
                out.append(model(x, meta)[:, 0].numpy())
    finally:
        model.train(was_training)
    return np.concatenate(out).astype(np.float32)


def paired_values(
    model: SSMNet, scenes: Sequence[TrainingScene], target: str = "truth"
) -> tuple[np.ndarray, np.ndarray]:
    """Flattened predictions and observations over ``scenes`` (NaN pairs kept)."""
    if target not in ("truth", "stations"):
        raise InputError(f"target must be 'truth' or 'stations', got {target!r}")
    preds, observed = [], []
    for scene in scenes:
        labels = scene.truth if target == "truth" else scene.station_ssm
        if labels is None or (target == "stations" and scene.n_stations == 0):
            raise InputError(
                f"scene {scene.name!r} has no {'truth' if target == 'truth' else 'stations'} "
                "to evaluate against"
            )
        pred = predict_scene(model, scene)
        if target == "truth":
            preds.append(pred.ravel())
            observed.append(labels.ravel())
        else:
            at_stations = pred[:, scene.station_rows, scene.station_cols].T  # (station, time)
            preds.append(at_stations.ravel())
            observed.append(labels.ravel())
    return np.concatenate(preds), np.concatenate(observed)


def evaluate(
    model: SSMNet, scenes: Sequence[TrainingScene], target: str = "truth"
) -> dict[str, float]:
    """Pooled R2, RMSE, MAE, bias, ubRMSE, Pearson r and count over ``scenes``.

    Parameters
    ----------
    model
        The network.
    scenes
        Scenes to predict and score.
    target
        ``"truth"`` (every pixel of simulated scenes) or ``"stations"``.

    Returns
    -------
    dict
        ``{"r2", "rmse", "mae", "bias", "ubrmse", "pearson_r", "n"}`` (m3/m3
        for the errors), as :func:`xsoilmoist.metrics.summary`.

    Examples
    --------
    >>> scores = evaluate(model, test_scenes, target="stations")  # doctest: +SKIP
    >>> scores["ubrmse"]  # doctest: +SKIP
    0.031
    """
    pred, obs = paired_values(model, scenes, target)
    summary = metrics.summary(xr.DataArray(pred), xr.DataArray(obs))
    return {name: float(summary[name]) for name in summary.data_vars}
