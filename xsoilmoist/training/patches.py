"""Patch sampling from training scenes, and modality dropout.

A :class:`PatchSampler` cuts square patches out of :class:`TrainingScene`
objects with its own seeded generator: for stage 1, random windows with their
coarse labels and footprint indices; for stage 2, windows that contain a
station with a reading, with the readings of every chosen station inside.
Windows reaching past a scene's edge are padded with NaN (invalid input, no
label).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from xsoilmoist.errors import InputError
from xsoilmoist.training.scenes import TrainingScene

__all__ = ["PatchBatch", "PatchSampler", "StationReading", "drop_modalities"]


@dataclass
class PatchBatch:
    """A batch of patches: model inputs and the labels of one training stage.

    Attributes
    ----------
    inputs
        ``(B, C, P, P)`` float32 bands, NaN where invalid.
    meta
        ``(B, M)`` float32 image-level scalars.
    coarse, footprint, footprint_pixels
        Stage 1: ``(B, P, P)`` coarse labels (NaN where none), footprint index
        and the footprint's pixel count in its whole scene; else ``None``.
    stations
        Stage 2: ``(B, P, P)`` readings at station pixels, NaN elsewhere; else ``None``.
    """

    inputs: Tensor
    meta: Tensor
    coarse: Tensor | None = None
    footprint: Tensor | None = None
    footprint_pixels: Tensor | None = None
    stations: Tensor | None = None


@dataclass(frozen=True)
class StationReading:
    """One station reading: scene, station (position in the scene) and time indices."""

    scene: int
    station: int
    time: int


def _window(array: np.ndarray, top: int, left: int, size: int, fill) -> np.ndarray:
    """``array[..., top:top+size, left:left+size]``, padded with ``fill`` past the edges."""
    height, width = array.shape[-2:]
    out = np.full((*array.shape[:-2], size, size), fill, dtype=array.dtype)
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    if y1 > y0 and x1 > x0:
        out[..., y0 - top : y1 - top, x0 - left : x1 - left] = array[..., y0:y1, x0:x1]
    return out


def _origin_range(length: int, size: int) -> int:
    """Number of window origins along an axis (one, at 0, when the scene is smaller)."""
    return max(length - size, 0) + 1


class PatchSampler:
    """Random patches from training scenes, reproducible from ``seed``.

    Parameters
    ----------
    scenes
        The training scenes.
    patch_size
        Side of the square patches, pixels.
    seed
        Seed of the sampler's own generator.

    Examples
    --------
    >>> from xsoilmoist.training.scenes import TrainingScene
    >>> x = np.zeros((2, 1, 40, 40), np.float32)
    >>> scene = TrainingScene("toy", ("vv",), x, np.zeros((2, 6), np.float32),
    ...     coarse=np.full((2, 40, 40), 0.2, np.float32),
    ...     footprint_id=np.zeros((40, 40), np.int64))
    >>> batch = PatchSampler([scene], 16, seed=0).coarse_batch(4)
    >>> tuple(batch.inputs.shape), tuple(batch.coarse.shape)
    ((4, 1, 16, 16), (4, 16, 16))
    """

    def __init__(self, scenes: Sequence[TrainingScene], patch_size: int, seed: int = 0) -> None:
        if not scenes:
            raise InputError("the sampler needs at least one training scene")
        if patch_size < 1:
            raise InputError(f"patch_size must be a positive number of pixels, got {patch_size}")
        self.scenes = list(scenes)
        self.patch_size = int(patch_size)
        self.rng = np.random.default_rng(seed)
        self._footprint_pixels = [
            None
            if s.footprint_id is None
            else np.bincount(s.footprint_id.ravel())[s.footprint_id].astype(np.float32)
            for s in self.scenes
        ]

    def coarse_batch(self, batch_size: int) -> PatchBatch:
        """Random windows with coarse labels (time steps without any label are skipped)."""
        candidates = [
            (i, t)
            for i, s in enumerate(self.scenes)
            if s.coarse is not None
            for t in range(s.n_times)
            if np.isfinite(s.coarse[t]).any()
        ]
        if not candidates:
            raise InputError(
                "no training scene has coarse labels (ssm_coarse and footprint_id): stage 1 "
                "needs them"
            )
        picks = self.rng.integers(len(candidates), size=batch_size)
        windows = []
        for pick in picks:
            i, t = candidates[pick]
            height, width = self.scenes[i].shape
            top = int(self.rng.integers(_origin_range(height, self.patch_size)))
            left = int(self.rng.integers(_origin_range(width, self.patch_size)))
            windows.append((i, t, top, left))
        return self.coarse_windows(windows)

    def coarse_windows(self, windows: Sequence[tuple[int, int, int, int]]) -> PatchBatch:
        """Patches at given ``(scene, time, top, left)`` windows, with coarse labels."""
        size = self.patch_size
        inputs, meta, coarse, footprint, pixels = [], [], [], [], []
        for i, t, top, left in windows:
            scene = self.scenes[i]
            inputs.append(_window(scene.inputs[t], top, left, size, np.nan))
            meta.append(scene.meta[t])
            coarse.append(_window(scene.coarse[t], top, left, size, np.nan))
            footprint.append(_window(scene.footprint_id, top, left, size, -1))
            pixels.append(_window(self._footprint_pixels[i], top, left, size, 1.0))
        return PatchBatch(
            inputs=torch.from_numpy(np.stack(inputs)),
            meta=torch.from_numpy(np.stack(meta)),
            coarse=torch.from_numpy(np.stack(coarse)),
            footprint=torch.from_numpy(np.stack(footprint)),
            footprint_pixels=torch.from_numpy(np.stack(pixels)),
        )

    def readings(self, stations: Sequence[np.ndarray] | None = None) -> list[StationReading]:
        """Every finite station reading, optionally of chosen stations per scene.

        ``stations[i]`` lists the station positions of scene ``i`` to use
        (default: all).
        """
        out = []
        for i, scene in enumerate(self.scenes):
            if scene.station_ssm is None:
                continue
            chosen = np.arange(scene.n_stations) if stations is None else stations[i]
            for s in chosen:
                for t in np.flatnonzero(np.isfinite(scene.station_ssm[s])):
                    out.append(StationReading(i, int(s), int(t)))
        return out

    def station_batch(
        self, batch_size: int, readings: Sequence[StationReading], stations=None
    ) -> PatchBatch:
        """Windows around randomly drawn ``readings``, the station at a random place inside.

        Every station of ``stations`` (per scene; default all) inside a window
        contributes its reading at that time.
        """
        if not readings:
            raise InputError(
                "no station readings to train on: stage 2 needs station_ssm with finite values"
            )
        picks = self.rng.integers(len(readings), size=batch_size)
        size = self.patch_size
        windows = []
        for pick in picks:
            reading = readings[pick]
            scene = self.scenes[reading.scene]
            row = scene.station_rows[reading.station]
            col = scene.station_cols[reading.station]
            top = row - int(self.rng.integers(size))
            left = col - int(self.rng.integers(size))
            height, width = scene.shape
            top = int(np.clip(top, min(0, height - size), max(height - size, 0)))
            left = int(np.clip(left, min(0, width - size), max(width - size, 0)))
            windows.append((reading.scene, reading.time, top, left))
        chosen = [
            np.arange(self.scenes[i].n_stations) if stations is None else stations[i]
            for i, _, _, _ in windows
        ]
        return self.station_windows(windows, chosen)

    def centred_station_windows(
        self, readings: Sequence[StationReading]
    ) -> list[tuple[int, int, int, int]]:
        """Deterministic windows centred (as the edges allow) on each reading's station."""
        size = self.patch_size
        windows = []
        for reading in readings:
            scene = self.scenes[reading.scene]
            height, width = scene.shape
            top = scene.station_rows[reading.station] - size // 2
            left = scene.station_cols[reading.station] - size // 2
            top = int(np.clip(top, min(0, height - size), max(height - size, 0)))
            left = int(np.clip(left, min(0, width - size), max(width - size, 0)))
            windows.append((reading.scene, reading.time, top, left))
        return windows

    def station_windows(
        self, windows: Sequence[tuple[int, int, int, int]], stations: Sequence[np.ndarray]
    ) -> PatchBatch:
        """Patches at ``(scene, time, top, left)`` windows with readings of chosen stations.

        ``stations[k]`` lists the station positions (in its scene) whose
        readings at that time label window ``k``, where they fall inside it.
        """
        size = self.patch_size
        inputs, meta, targets = [], [], []
        for (i, t, top, left), chosen in zip(windows, stations, strict=True):
            scene = self.scenes[i]
            inputs.append(_window(scene.inputs[t], top, left, size, np.nan))
            meta.append(scene.meta[t])
            target = np.full((size, size), np.nan, dtype=np.float32)
            for s in chosen:
                r, c = scene.station_rows[s] - top, scene.station_cols[s] - left
                if 0 <= r < size and 0 <= c < size:
                    target[r, c] = scene.station_ssm[s, t]
            targets.append(target)
        return PatchBatch(
            inputs=torch.from_numpy(np.stack(inputs)),
            meta=torch.from_numpy(np.stack(meta)),
            stations=torch.from_numpy(np.stack(targets)),
        )


def drop_modalities(
    inputs: Tensor,
    modality_slices: dict[str, slice],
    rate: float,
    generator: torch.Generator,
) -> tuple[Tensor, Tensor]:
    """Blank whole modalities of each image at random, never all of its present ones.

    Each modality present in an image (valid at some pixel) is set to NaN
    with probability ``rate``, independently; if that would remove every
    present modality, one of them, drawn at random, is kept.

    Parameters
    ----------
    inputs
        ``(B, C, H, W)`` bands, NaN where invalid (not modified).
    modality_slices
        Modality -> channel slice (``SSMNetConfig.modality_slices``).
    rate
        Probability of dropping each modality, in ``[0, 1]``.
    generator
        The torch generator to draw from.

    Returns
    -------
    inputs, dropped
        The new inputs, and ``(B, M)`` bool: which modalities were blanked.

    Examples
    --------
    >>> x = torch.zeros(3, 2, 4, 4)
    >>> slices = {"sar_c": slice(0, 1), "optical": slice(1, 2)}
    >>> out, dropped = drop_modalities(x, slices, 1.0, torch.Generator().manual_seed(0))
    >>> dropped.sum(dim=1).tolist()  # one of the two is always kept
    [1, 1, 1]
    """
    if not 0.0 <= rate <= 1.0:
        raise InputError(f"modality dropout rate must be within [0, 1], got {rate}")
    n_images, n_modalities = inputs.shape[0], len(modality_slices)
    finite = torch.isfinite(inputs)
    present = torch.stack(  # (B, M): all of the modality's bands valid at some pixel
        [finite[:, s].all(dim=1).flatten(1).any(dim=1) for s in modality_slices.values()], dim=1
    )
    draws = torch.rand(n_images, n_modalities, generator=generator)
    keep_one = torch.rand(n_images, n_modalities, generator=generator)
    dropped = present & (draws < rate)
    everything = (dropped == present).all(dim=1) & present.any(dim=1)
    if bool(everything.any()):
        # keep the present modality with the largest random key
        keys = torch.where(present, keep_one, -1.0)
        kept = torch.nn.functional.one_hot(keys.argmax(dim=1), n_modalities).bool()
        dropped = torch.where(everything[:, None], present & ~kept, dropped)
    if not bool(dropped.any()):
        return inputs, dropped
    out = inputs.clone()
    for m, channels in enumerate(modality_slices.values()):
        rows = dropped[:, m]
        if bool(rows.any()):
            out[rows, channels] = float("nan")
    return out, dropped
