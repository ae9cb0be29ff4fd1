"""Two simple baselines a fine-tuned model must beat at its stations.

With few stations, a network fine-tuned on them can easily do worse than
what a hydrologist would try first. Two baselines are fitted on the training
rows of a table of station readings and scored beside the model on the
held-out rows:

- ``climatology``: the mean of the station's training readings (a constant);
- ``vv_regression``: a least-squares line of the station's soil moisture on
  its Sentinel-1 VV backscatter in dB (the change-detection idea in one
  line; e.g. Wagner et al. 1999, Zribi et al. 2008).

The baselines are fitted per station when the held-out rows are later dates
of the training stations; when whole stations are held out they are fitted
on the pooled training rows (the held-out station has none of its own).
Scores come from :mod:`xsoilmoist.metrics`, computed per station and
averaged over the stations (the field's usual way: a station's ubRMSE is
about its own temporal dynamics).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from xsoilmoist import metrics
from xsoilmoist.errors import InputError, ModelWarning

__all__ = ["BASELINES", "REPORT_METRICS", "baseline_predictions", "baseline_report"]

#: Columns the baselines add to a table of held-out rows.
BASELINES = ("climatology", "vv_regression")
#: Scores of :func:`baseline_report`, per predictor.
REPORT_METRICS = ("rmse", "ubrmse", "pearson_r", "bias")


def _check_table(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"the {what} rows must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"the {what} rows lack the column(s) {missing}; give one row per station reading "
            "with 'station', 'ssm' (m3/m3) and 'vv' (dB) columns"
        )


def _line(vv: np.ndarray, ssm: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of ssm on vv; slope 0 (the mean) without spread in vv."""
    valid = np.isfinite(vv) & np.isfinite(ssm)
    vv, ssm = vv[valid], ssm[valid]
    if ssm.size == 0:
        return 0.0, float("nan")
    if ssm.size < 2 or np.ptp(vv) == 0:
        return 0.0, float(ssm.mean())
    slope, intercept = np.polyfit(vv, ssm, 1)
    return float(slope), float(intercept)


def baseline_predictions(
    train: pd.DataFrame, test: pd.DataFrame, *, per_station: bool = True
) -> pd.DataFrame:
    """The held-out rows with the two baselines' predictions added.

    Parameters
    ----------
    train, test
        One row per station reading, with columns ``station`` (any key),
        ``ssm`` (m3/m3) and ``vv`` (dB); ``train`` fits, ``test`` is predicted.
    per_station
        Fit each station on its own training rows (a test station without
        any falls back to the pooled fit); ``False``: one pooled fit.

    Returns
    -------
    pandas.DataFrame
        A copy of ``test`` with columns ``climatology`` and ``vv_regression``.

    Examples
    --------
    >>> train = pd.DataFrame({"station": [0, 0, 0], "ssm": [0.1, 0.2, 0.3],
    ...                       "vv": [-14.0, -12.0, -10.0]})
    >>> test = pd.DataFrame({"station": [0], "ssm": [0.25], "vv": [-11.0]})
    >>> out = baseline_predictions(train, test)
    >>> out[["climatology", "vv_regression"]].round(3).values.tolist()
    [[0.2, 0.25]]
    """
    _check_table(train, ("station", "ssm", "vv"), "training")
    _check_table(test, ("station", "ssm", "vv"), "held-out")
    pooled = _line(train["vv"].to_numpy(float), train["ssm"].to_numpy(float))
    pooled_mean = float(np.nanmean(train["ssm"].to_numpy(float))) if len(train) else np.nan
    fits: dict[Hashable, tuple[float, float, float]] = {}
    if per_station:
        for station, rows in train.groupby("station", sort=False):
            ssm = rows["ssm"].to_numpy(float)
            fits[station] = (np.nanmean(ssm), *_line(rows["vv"].to_numpy(float), ssm))
    default = (pooled_mean, *pooled)
    params = np.array([fits.get(s, default) for s in test["station"]], float).reshape(-1, 3)
    out = test.copy()
    out["climatology"] = params[:, 0]
    out["vv_regression"] = params[:, 1] * test["vv"].to_numpy(float) + params[:, 2]
    return out


def _scores(table: pd.DataFrame, column: str) -> dict[str, float]:
    """Each metric per station, then the mean over stations; ``n`` rows in all."""
    per_station = []
    with warnings.catch_warnings():  # a constant predictor has no R: NaN, said in the docs
        warnings.simplefilter("ignore")
        for _, rows in table.groupby("station", sort=False):
            pred, obs = rows[column].to_numpy(float), rows["ssm"].to_numpy(float)
            per_station.append(
                [float(getattr(metrics, name)(pred, obs)) for name in REPORT_METRICS]
            )
        means = np.nanmean(np.array(per_station, float).reshape(-1, len(REPORT_METRICS)), 0)
    scores = {name: float(v) for name, v in zip(REPORT_METRICS, means, strict=True)}
    scores["n"] = int((np.isfinite(table[column]) & np.isfinite(table["ssm"])).sum())
    return scores


def _losses(scores: dict[str, dict[str, float]], prediction: str) -> list[str]:
    """``"ubRMSE 0.041 vs vv_regression 0.037"``-style lines where the model is not better."""
    lost = []
    for baseline in BASELINES:
        for name, label in (("ubrmse", "ubRMSE"), ("rmse", "RMSE")):
            model, other = scores[prediction][name], scores[baseline][name]
            if not model < other:
                lost.append(f"{label} {model:.4f} vs {baseline} {other:.4f}")
    return lost


def baseline_report(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    prediction: str = "model",
    per_station: bool = True,
    warn: bool = True,
) -> dict[str, Any]:
    """The model's scores beside the climatology and the VV regression, on the same rows.

    Parameters
    ----------
    train
        Training rows (``station``, ``ssm``, ``vv``) the baselines are fitted on.
    test
        Held-out rows with the same columns and the model's predictions in
        column ``prediction``.
    prediction
        The column of ``test`` holding the model's predictions (m3/m3).
    per_station
        As :func:`baseline_predictions`.
    warn
        Emit a :class:`~xsoilmoist.errors.ModelWarning` when the model's
        ubRMSE or RMSE is not below both baselines'.

    Returns
    -------
    dict
        ``{"scores": {predictor: {"rmse", "ubrmse", "pearson_r", "bias", "n"}},
        "baselines_fitted": "per station" | "pooled", "stations": int,
        "model_beats_baselines": bool, "losses": [str, ...]}``. Each metric is
        computed per station with :mod:`xsoilmoist.metrics` (m3/m3, ``bias``
        prediction minus observation) and averaged over the stations;
        ``pearson_r`` is NaN for the climatology (a constant has no
        correlation).

    Examples
    --------
    >>> train = pd.DataFrame({"station": [0] * 4, "ssm": [0.1, 0.2, 0.3, 0.2],
    ...                       "vv": [-14.0, -12.0, -10.0, -12.0]})
    >>> test = pd.DataFrame({"station": [0, 0], "ssm": [0.15, 0.25], "vv": [-11.0, -13.0],
    ...                      "model": [0.16, 0.24]})
    >>> report = baseline_report(train, test)
    >>> report["model_beats_baselines"], round(report["scores"]["model"]["rmse"], 3)
    (True, 0.01)
    >>> round(report["scores"]["vv_regression"]["rmse"], 3)  # VV misleads on these dates
    0.1
    """
    _check_table(test, (prediction,), "held-out")
    if not len(test):
        raise InputError("no held-out rows to compare the model with the baselines on")
    table = baseline_predictions(train, test, per_station=per_station)
    scores = {c: _scores(table, c) for c in (prediction, *BASELINES)}
    lost = _losses(scores, prediction)
    if lost and warn:
        warnings.warn(
            f"the model does not beat the simple baselines on {scores[prediction]['n']} "
            f"held-out station readings ({'; '.join(lost)}); with few stations prefer "
            "FinetuneSettings(adaptation='recalibrate') or more stations, or use the "
            "per-station VV regression",
            ModelWarning,
            stacklevel=2,
        )
    return {
        "scores": scores,
        "baselines_fitted": "per station" if per_station else "pooled",
        "stations": int(table["station"].nunique()),
        "model_beats_baselines": not lost,
        "losses": lost,
    }
