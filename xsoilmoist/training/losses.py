"""Training losses: coarse-footprint means (stage 1) and station points (stage 2).

Predictions are ``(B, 1, H, W)`` or ``(B, H, W)`` tensors in m3/m3, NaN where the
model has no valid input; NaN pixels never contribute, and a batch with nothing
to compare gives a loss of exactly 0 that still belongs to the autograd graph.
"""

from __future__ import annotations

import torch
from torch import Tensor

from xsoilmoist.errors import InputError

__all__ = ["footprint_mean_loss", "footprint_means", "station_loss"]


def _squeeze_channel(pred: Tensor) -> Tensor:
    if pred.ndim == 4:
        if pred.shape[1] != 1:
            raise InputError(f"predictions must have one channel, got shape {tuple(pred.shape)}")
        return pred[:, 0]
    if pred.ndim != 3:
        raise InputError(f"predictions must be (B, 1, H, W) or (B, H, W), got {tuple(pred.shape)}")
    return pred


def footprint_means(
    pred: Tensor,
    coarse: Tensor,
    footprint: Tensor,
    footprint_pixels: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Per footprint of each image: mean prediction, its label and its coverage.

    Only pixels with a finite prediction and a finite label count.

    Parameters
    ----------
    pred
        ``(B, 1, H, W)`` or ``(B, H, W)`` predictions.
    coarse
        ``(B, H, W)`` coarse labels, constant within a footprint, NaN where none.
    footprint
        ``(B, H, W)`` integer footprint index of each pixel (per image).
    footprint_pixels
        ``(B, H, W)`` number of pixels of each pixel's footprint in the whole
        scene (the denominator of the coverage).

    Returns
    -------
    mean_pred, label, coverage
        1-D tensors, one entry per (image, footprint) pair with at least one
        counted pixel; coverage is the counted pixels over ``footprint_pixels``.

    Examples
    --------
    >>> pred = torch.tensor([[[0.1, 0.3], [0.2, float("nan")]]])
    >>> coarse = torch.full((1, 2, 2), 0.25)
    >>> ids = torch.tensor([[[0, 0], [1, 1]]])
    >>> means, labels, coverage = footprint_means(pred, coarse, ids, torch.full((1, 2, 2), 2.0))
    >>> [round(v, 3) for v in means.tolist()], coverage.tolist()
    ([0.2, 0.2], [1.0, 0.5])
    """
    pred = _squeeze_channel(pred)
    if not (pred.shape == coarse.shape == footprint.shape == footprint_pixels.shape):
        raise InputError(
            "pred, coarse, footprint and footprint_pixels must share (B, H, W), got "
            f"{tuple(pred.shape)}, {tuple(coarse.shape)}, {tuple(footprint.shape)}, "
            f"{tuple(footprint_pixels.shape)}"
        )
    valid = torch.isfinite(pred) & torch.isfinite(coarse)
    if not bool(valid.any()):
        empty = pred.new_zeros(0)
        return empty, empty, empty
    ids = footprint.long()
    span = int(ids.max()) - int(ids.min()) + 1
    batch = torch.arange(pred.shape[0], device=pred.device).view(-1, 1, 1)
    keys = (batch * span + (ids - ids.min()))[valid]  # one key per (image, footprint)
    groups, index = torch.unique(keys, return_inverse=True)
    n = groups.shape[0]
    values = pred[valid]
    zeros = torch.zeros(n, dtype=values.dtype, device=pred.device)
    sums = zeros.index_add(0, index, values)
    counts = zeros.detach().index_add(0, index, torch.ones_like(values).detach())
    labels = zeros.detach().index_add(0, index, coarse[valid].to(values.dtype).detach()) / counts
    size = zeros.detach().index_add(0, index, footprint_pixels[valid].to(values.dtype)) / counts
    return sums / counts, labels, counts / size


def footprint_mean_loss(
    pred: Tensor,
    coarse: Tensor,
    footprint: Tensor,
    footprint_pixels: Tensor,
    min_coverage: float = 0.75,
) -> Tensor:
    """Mean squared error between footprint-averaged predictions and coarse labels.

    For every footprint of every image whose valid predictions cover at least
    ``min_coverage`` of its pixels, the prediction is averaged over the
    footprint's valid pixels and compared with the footprint's label; the
    loss is the mean of the squared differences over those footprints (0 if
    there are none). Pixels of a footprint add gradient ``2 (m - c) / (N n)``
    each, ``m`` the footprint mean, ``c`` the label, ``n`` the footprint's
    valid pixels and ``N`` the number of footprints.

    Parameters
    ----------
    pred, coarse, footprint, footprint_pixels
        As :func:`footprint_means`.
    min_coverage
        Smallest fraction of a footprint's pixels that must hold valid
        predictions (and lie in the patch) for it to count, in ``(0, 1]``.

    Examples
    --------
    >>> pred = torch.tensor([[[0.1, 0.3], [0.2, 0.4]]])
    >>> coarse = torch.tensor([[[0.25, 0.25], [0.5, 0.5]]])
    >>> ids = torch.tensor([[[0, 0], [1, 1]]])
    >>> loss = footprint_mean_loss(pred, coarse, ids, torch.full((1, 2, 2), 2.0))
    >>> round(loss.item(), 6)  # ((0.2 - 0.25)^2 + (0.3 - 0.5)^2) / 2
    0.02125
    """
    if not 0.0 < min_coverage <= 1.0:
        raise InputError(f"min_coverage must be within (0, 1], got {min_coverage}")
    means, labels, coverage = footprint_means(pred, coarse, footprint, footprint_pixels)
    counted = coverage >= min_coverage - 1e-9
    if not bool(counted.any()):
        return _zero_like(pred)
    return ((means[counted] - labels[counted]) ** 2).mean()


def station_loss(pred: Tensor, stations: Tensor) -> Tensor:
    """Mean squared error at station pixels only.

    Parameters
    ----------
    pred
        ``(B, 1, H, W)`` or ``(B, H, W)`` predictions.
    stations
        ``(B, H, W)`` station readings at station pixels, NaN everywhere else.

    Returns
    -------
    Tensor
        The mean of ``(pred - reading)^2`` over pixels where both are finite
        (0 if none). Predictions elsewhere get exactly zero gradient.

    Examples
    --------
    >>> nan = float("nan")
    >>> pred = torch.tensor([[[0.2, 0.9], [0.3, 0.5]]])
    >>> readings = torch.tensor([[[0.25, nan], [nan, 0.4]]])
    >>> round(station_loss(pred, readings).item(), 6)  # (0.05^2 + 0.1^2) / 2
    0.00625
    """
    pred = _squeeze_channel(pred)
    if pred.shape != stations.shape:
        raise InputError(
            f"pred and stations must share (B, H, W), got {tuple(pred.shape)} and "
            f"{tuple(stations.shape)}"
        )
    valid = torch.isfinite(pred) & torch.isfinite(stations)
    if not bool(valid.any()):
        return _zero_like(pred)
    return ((pred[valid] - stations[valid].to(pred.dtype)) ** 2).mean()


def _zero_like(pred: Tensor) -> Tensor:
    """A zero loss connected to ``pred`` (so ``backward`` works and gives zero gradients)."""
    return torch.where(torch.isfinite(pred), pred, 0.0).sum() * 0.0
