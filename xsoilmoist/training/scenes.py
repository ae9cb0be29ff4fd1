"""Training scenes: a standardized Dataset's model inputs and labels, as numpy arrays.

A :class:`TrainingScene` is what the training loop samples patches from. It is
built by :func:`prepare_scene` through :func:`xsoilmoist.inference.prepare_inputs`,
the function inference uses, so training and inference can never disagree on
band order, units or the image-level encodings. The per-band normalisation
statistics (:func:`band_statistics`) are computed from training scenes and
written into the model's configuration (:func:`normalised_config`), where they
travel with the weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from xsoilmoist.errors import InputError, InputTypeError
from xsoilmoist.stations import place_stations

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet, SSMNetConfig

__all__ = [
    "TrainingScene",
    "band_statistics",
    "normalised_config",
    "prepare_scene",
    "training_coverage",
]


@dataclass(frozen=True, eq=False)
class TrainingScene:
    """Model inputs and labels of one scene, in memory.

    Attributes
    ----------
    name
        A label for messages and reports.
    bands
        Band order of ``inputs`` (the model configuration's ``bands``).
    inputs
        ``(time, band, y, x)`` float32 in physical units, NaN where invalid.
    meta
        ``(time, n_metadata)`` float32 image-level scalars.
    coarse
        ``(time, y, x)`` coarse labels (m3/m3, constant within a footprint, NaN
        where there is none), or ``None``.
    footprint_id
        ``(y, x)`` integer index of each pixel's coarse footprint, or ``None``.
    station_rows, station_cols
        ``(station,)`` pixel indices of the in-situ stations.
    station_ssm
        ``(station, time)`` station readings (m3/m3, NaN where missing).
    truth
        ``(time, y, x)`` true soil moisture (simulated scenes only), or ``None``.
    """

    name: str
    bands: tuple[str, ...]
    inputs: np.ndarray
    meta: np.ndarray
    coarse: np.ndarray | None = None
    footprint_id: np.ndarray | None = None
    station_rows: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    station_cols: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    station_ssm: np.ndarray | None = None
    truth: np.ndarray | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.inputs.ndim != 4 or self.inputs.shape[1] != len(self.bands):
            problems.append(
                f"inputs must be (time, band, y, x) with {len(self.bands)} bands, "
                f"got shape {self.inputs.shape}"
            )
        n_times, _, height, width = self.inputs.shape
        if self.meta.ndim != 2 or self.meta.shape[0] != n_times:
            problems.append(f"meta must be (time={n_times}, n_metadata), got {self.meta.shape}")
        for name in ("coarse", "truth"):
            value = getattr(self, name)
            if value is not None and value.shape != (n_times, height, width):
                problems.append(f"{name} must be (time, y, x) = {(n_times, height, width)}")
        if (self.coarse is None) != (self.footprint_id is None):
            problems.append("coarse labels and footprint_id go together (give both or neither)")
        if self.footprint_id is not None and self.footprint_id.shape != (height, width):
            problems.append(f"footprint_id must be (y, x) = {(height, width)}")
        n_stations = self.station_rows.size
        if self.station_cols.size != n_stations:
            problems.append("station_rows and station_cols must have the same length")
        if n_stations and (
            self.station_ssm is None or self.station_ssm.shape != (n_stations, n_times)
        ):
            problems.append(f"station_ssm must be (station, time) = {(n_stations, n_times)}")
        inside = (
            (self.station_rows >= 0)
            & (self.station_rows < height)
            & (self.station_cols >= 0)
            & (self.station_cols < width)
        )
        if not inside.all():
            problems.append(f"{int((~inside).sum())} station(s) lie outside the scene's pixels")
        if problems:
            raise InputError(f"invalid TrainingScene {self.name!r}: " + "; ".join(problems))

    @property
    def n_times(self) -> int:
        """Number of time steps."""
        return self.inputs.shape[0]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the scene."""
        return self.inputs.shape[2], self.inputs.shape[3]

    @property
    def n_stations(self) -> int:
        """Number of stations."""
        return int(self.station_rows.size)

    def with_stations(self, index: Sequence[int] | np.ndarray) -> TrainingScene:
        """The same scene keeping only the stations at positions ``index``.

        Examples
        --------
        >>> scene = TrainingScene("toy", ("vv",), np.zeros((2, 1, 4, 4), np.float32),
        ...     np.zeros((2, 6), np.float32), station_rows=np.array([0, 3]),
        ...     station_cols=np.array([1, 2]), station_ssm=np.full((2, 2), 0.2))
        >>> scene.with_stations([1]).station_rows.tolist()
        [3]
        """
        index = np.asarray(index, dtype=np.int64)
        ssm = None if self.station_ssm is None else self.station_ssm[index]
        return dataclasses.replace(
            self,
            station_rows=self.station_rows[index],
            station_cols=self.station_cols[index],
            station_ssm=ssm,
        )


def _with_time(values: np.ndarray, has_time: bool) -> np.ndarray:
    return values if has_time else values[None]


def _station_pixels(std: xr.Dataset, stations: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Station rows and columns, placed by :func:`xsoilmoist.stations.place_stations`.

    ``station_row``/``station_col`` pixel indices first; else the pixel nearest to
    ``lat``/``lon`` or ``station_y``/``station_x`` (in the scene's CRS unless stated).
    """
    try:
        placed = place_stations(stations, std, pixel_indices=True, xy_in_raster_crs=True)
    except InputError as err:
        raise InputError(
            f"station variable {stations.name!r} cannot be placed on the scene: {err}; give it "
            "coordinates station_row and station_col (pixel indices), lat and lon, or "
            "station_y and station_x (in the scene's CRS)"
        ) from err
    if not placed.inside.all():
        names = [str(n) for n in np.asarray(stations["station"].values)[~placed.inside]]
        raise InputError(
            f"{len(names)} station(s) of {stations.name!r} lie outside the scene "
            f"({placed.described}): {', '.join(names)}; drop them, e.g. "
            "ds.sel(station=[...]), or check their coordinates and CRS"
        )
    return placed.nearest()


def prepare_scene(
    ds: xr.Dataset,
    model: SSMNet,
    *,
    name: str | None = None,
    coarse: str = "ssm_coarse",
    footprints: str = "footprint_id",
    stations: str = "station_ssm",
    truth: str = "ssm_true",
    date=None,
    rename=None,
) -> TrainingScene:
    """Model inputs and labels of a scene, through the inference path's ``prepare_inputs``.

    Labels are optional: variables not in ``ds`` are left out. The coarse
    labels need their footprints; stations need ``station_row``/``station_col``,
    ``lat``/``lon`` or ``station_y``/``station_x`` coordinates, placed on the
    scene as :func:`xsoilmoist.validate` places them
    (:func:`xsoilmoist.stations.place_stations`). dask-backed data are computed.

    Parameters
    ----------
    ds
        Raw or standardized scene (see :func:`xsoilmoist.standardize`).
    model
        The model to train (its configuration fixes the band order; its
        normalisation is not applied here, the model applies it).
    name
        Label of the scene (default: the Dataset's ``region`` and ``seed`` attrs).
    coarse, footprints, stations, truth
        Names of the label variables: coarse labels ``(time, y, x)``, footprint
        index ``(y, x)``, station readings ``(station, time)``, true soil
        moisture ``(time, y, x)`` (simulations only).
    date, rename
        Passed to :func:`xsoilmoist.inference.prepare_inputs`.

    Returns
    -------
    TrainingScene

    Examples
    --------
    >>> from xsoilmoist.model import SSMNet, SSMNetConfig
    >>> from xsoilmoist.synthetic import simulate_scene
    >>> model = SSMNet(SSMNetConfig(depths=(1, 1, 1, 1), dims=(8, 16, 32, 64)))
    >>> ds = simulate_scene("farmland", shape=(32, 32), times=2, coarse_resolution=160.0)
    >>> scene = prepare_scene(ds, model)
    >>> scene.inputs.shape, scene.n_stations
    ((2, 18, 32, 32), 12)
    """
    from xsoilmoist.inference import prepare_inputs

    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(f"prepare_scene needs an xarray.Dataset, got {type(ds).__name__}")
    stack, meta, std = prepare_inputs(ds, model, date=date, rename=rename)
    y_dim, x_dim = stack.dims[-2:]
    has_time = "time" in std.dims
    spatial = ("time", y_dim, x_dim) if has_time else (y_dim, x_dim)

    def field(var: str) -> np.ndarray | None:
        if var not in std.data_vars:
            return None
        values = std[var].transpose(*spatial).values.astype(np.float32)
        return _with_time(values, has_time)

    coarse_values = field(coarse)
    footprint_values = None
    if coarse_values is not None:
        if footprints not in std.data_vars:
            raise InputError(
                f"the coarse labels {coarse!r} need the footprint index {footprints!r} "
                "(y, x): which pixels each coarse value averages over"
            )
        footprint_values = std[footprints].transpose(y_dim, x_dim).values.astype(np.int64)
    rows = cols = np.zeros(0, np.int64)
    station_values = None
    if stations in std.data_vars:
        readings = std[stations]
        rows, cols = _station_pixels(std, readings)
        order = ("station", "time") if has_time else ("station",)
        station_values = readings.transpose(*order).values.astype(np.float32)
        station_values = station_values if has_time else station_values[:, None]
    label = name or f"{ds.attrs.get('region', 'scene')}-{ds.attrs.get('seed', '')}".rstrip("-")
    return TrainingScene(
        name=label,
        bands=tuple(model.config.bands),
        inputs=np.ascontiguousarray(stack.values, dtype=np.float32),
        meta=np.asarray(meta, dtype=np.float32),
        coarse=coarse_values,
        footprint_id=footprint_values,
        station_rows=rows,
        station_cols=cols,
        station_ssm=station_values,
        truth=field(truth),
    )


def band_statistics(
    scenes: Sequence[TrainingScene],
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band mean and standard deviation over the valid values of ``scenes``.

    A band never valid in any scene (an absent optional sensor) gets mean 0
    and std 1; a constant band gets std 1.

    Examples
    --------
    >>> x = np.array([[[[1.0, 3.0]], [[np.nan, np.nan]]]], np.float32)  # (1, 2, 1, 2)
    >>> scene = TrainingScene("toy", ("a", "b"), x, np.zeros((1, 6), np.float32))
    >>> band_statistics([scene])
    ((2.0, 0.0), (1.0, 1.0))
    """
    if not scenes:
        raise InputError("band_statistics needs at least one training scene")
    bands = scenes[0].bands
    total = np.zeros(len(bands))
    squares = np.zeros(len(bands))
    count = np.zeros(len(bands))
    for scene in scenes:
        if scene.bands != bands:
            raise InputError(
                f"scene {scene.name!r} has bands {scene.bands}, the first scene {bands}; "
                "prepare every scene with the same model"
            )
        values = np.moveaxis(scene.inputs, 1, 0).reshape(len(bands), -1).astype(np.float64)
        finite = np.isfinite(values)
        values = np.where(finite, values, 0.0)
        count += finite.sum(axis=1)
        total += values.sum(axis=1)
        squares += (values * values).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, 0.0)
        var = np.where(count > 1, squares / count - mean * mean, 0.0)
    std = np.sqrt(np.clip(var, 0.0, None))
    std = np.where(std > 1e-6 * np.maximum(np.abs(mean), 1.0), std, 1.0)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def normalised_config(config: SSMNetConfig, scenes: Sequence[TrainingScene]) -> SSMNetConfig:
    """``config`` with ``band_mean`` and ``band_std`` computed from the training ``scenes``.

    Examples
    --------
    >>> from xsoilmoist.model import SSMNetConfig
    >>> config = SSMNetConfig(modalities={"sar_c": ("vv", "vh", "vh_vv")})
    >>> x = np.stack([np.full((1, 2, 2), v, np.float32) for v in (-10.0, -18.0, -8.0)], 1)
    >>> x[..., 0, 0] += 1.0
    >>> scene = TrainingScene("toy", config.bands, x, np.zeros((1, 6), np.float32))
    >>> normalised_config(config, [scene]).band_mean
    (-9.75, -17.75, -7.75)
    """
    if scenes and scenes[0].bands != config.bands:
        raise InputError(
            f"the scenes' bands {scenes[0].bands} are not the configuration's {config.bands}; "
            "prepare the scenes with a model of this configuration"
        )
    mean, std = band_statistics(scenes)
    return dataclasses.replace(config, band_mean=mean, band_std=std)


def training_coverage(
    scenes: Sequence[TrainingScene],
) -> tuple[dict[str, list[float]], list[int]]:
    """What a model trained on ``scenes`` has seen: band ranges and months, for its card.

    The ranges are the least and greatest valid value of each band (bands
    never valid are left out), rounded outwards to 4 significant digits; the
    months come from the scenes' day-of-year encoding (``doy_sin``,
    ``doy_cos``, the first two metadata columns). The input checks warn when
    a scene is mostly outside them (:mod:`xsoilmoist.input_checks`).

    Examples
    --------
    >>> doy = 2 * np.pi * 180 / 365  # late June
    >>> meta = np.array([[np.sin(doy), np.cos(doy), 0, 1, 0, 1]], np.float32)
    >>> x = np.array([[[[-12.34567, -8.0]]]], np.float32)  # (1, 1, 1, 2)
    >>> training_coverage([TrainingScene("toy", ("vv",), x, meta)])
    ({'vv': [-12.35, -8.0]}, [6])
    """
    if not scenes:
        raise InputError("training_coverage needs at least one training scene")
    bands = scenes[0].bands
    low = np.full(len(bands), np.inf)
    high = np.full(len(bands), -np.inf)
    months: set[int] = set()
    for scene in scenes:
        values = np.moveaxis(scene.inputs, 1, 0).reshape(len(bands), -1)
        low = np.fmin(low, np.nanmin(np.where(np.isfinite(values), values, np.inf), axis=1))
        high = np.fmax(high, np.nanmax(np.where(np.isfinite(values), values, -np.inf), axis=1))
        angle = np.arctan2(scene.meta[:, 0], scene.meta[:, 1]) % (2 * np.pi)
        days = np.floor(angle / (2 * np.pi) * 365.25).astype(int)
        start = np.datetime64("2021-01-01")
        months.update(int(str(start + np.timedelta64(d, "D"))[5:7]) for d in days)
    ranges = {
        band: [_round_out(lo, np.floor), _round_out(hi, np.ceil)]
        for band, lo, hi in zip(bands, low, high, strict=True)
        if np.isfinite(lo) and np.isfinite(hi)
    }
    return ranges, sorted(months)


def _round_out(value: float, direction) -> float:
    """``value`` rounded away from the inside of a range to 4 significant digits."""
    if value == 0:
        return 0.0
    scale = 10 ** (np.floor(np.log10(abs(value))) - 3)
    return float(f"{direction(value / scale) * scale:.4g}")  # no binary rounding residue
