"""Land cover, vegetation phenology (LAI), FPAR and the per-pixel vegetation parameters.

Land cover
    A fractal field ``q`` (:func:`~xsoilmoist.synthetic.random_fields.fbm`)
    is cut at the standard-normal quantiles of the classes' cumulative shares:
    the region's natural classes take the lowest quantiles in the order they
    are listed, the managed (parcel) classes share the rest. Managed land is
    divided into rectangular parcels laid like bricks (each row of parcels
    shifted by a random fraction of a parcel); each parcel gets one crop,
    drawn with the crops' relative shares, one sowing offset, one vigour and
    one irrigation turn.
Phenology
    The double logistic of Beck et al. (2006), "Improved monitoring of
    vegetation dynamics at very high latitudes: a new method using MODIS
    NDVI", Remote Sensing of Environment 100:321-334, applied to LAI:
    ``LAI(t) = LAI_min + (LAI_max - LAI_min) (1/(1 + exp(-r (t - t_up)))
    + 1/(1 + exp(r (t - t_down))) - 1)``, with ``t`` the day of year. Each
    parcel (or, off parcels, a smooth field) shifts ``t_up`` and ``t_down``
    by a few days and scales ``LAI_max`` by a lognormal vigour.
FPAR
    Beer's law, ``FPAR = 1 - exp(-k LAI)`` with ``k = 0.5`` (Monsi & Saeki
    1953; the relation underlying the MODIS LAI/FPAR product, Myneni et al.
    2002, Remote Sensing of Environment 83:214-231).
Litter and crop residue
    Dead plant material covering the soil: a time-invariant residue and
    litter cover (per parcel on managed land, uniform between 0 and
    ``residue_cover_limit``: from clean tillage to the 30 % and more that
    defines conservation tillage, USDA-NRCS; a smooth field elsewhere) and
    the standing dead biomass of the season, ``LAI_peak - LAI(t)`` after the
    peak, which decays (harvest, lodging, decomposition) with an e-folding
    time of ``litter_decay_days`` after senescence. Both are optically
    non-photosynthetic vegetation (:mod:`~xsoilmoist.synthetic.optical`);
    the radar's Water Cloud Model sees the green LAI only (dry matter holds
    little water).
Rooting
    The fraction of roots in the 0-5 cm layer, ``1 - beta^5`` (Jackson et al.
    1996, Oecologia 108:389-411), sets the layer's share of transpiration.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numba
import numpy as np

from xsoilmoist.synthetic.random_fields import fbm, hash_indices, normal, stream_key, uniform
from xsoilmoist.synthetic.regions import Region

__all__ = [
    "LAYER_DEPTH_CM",
    "VegetationMaps",
    "double_logistic",
    "fpar_from_lai",
    "lai_on_day",
    "litter_cover",
    "vegetation_maps",
]

#: Depth of the simulated soil layer, cm (roots above it feed its transpiration).
LAYER_DEPTH_CM = 5.0
_TIMING_SD_DAYS = 5.0
_VIGOUR_SD = 0.15
_ROUGHNESS_SD = 0.45  # log-space standard deviation of the rms height


@dataclass(frozen=True)
class VegetationMaps:
    """Per-pixel land cover and vegetation parameters of one block.

    Attributes
    ----------
    land_cover
        Index into the region's ``land_cover`` classes (uint8).
    lai_min, lai_max, green_up, senescence, rate
        Double-logistic parameters (LAI in m2 m-2, days of year, 1/day).
    root_fraction
        Fraction of roots in the 0-5 cm layer.
    rms_height
        Surface rms height, cm.
    irrigation_interval, irrigation_phase
        Days between irrigations (0: none) and the day offset of the parcel's turn.
    irrigation_amount, irrigation_start, irrigation_end
        mm per irrigation and the first and last day of year it is applied.
    sand_offset, clay_offset
        Texture shift of the pixel's class.
    residue_cover
        Fraction of the soil under litter and crop residue outside the
        season's own dead biomass (0-1).
    """

    land_cover: np.ndarray
    lai_min: np.ndarray
    lai_max: np.ndarray
    green_up: np.ndarray
    senescence: np.ndarray
    rate: np.ndarray
    root_fraction: np.ndarray
    rms_height: np.ndarray
    irrigation_interval: np.ndarray
    irrigation_phase: np.ndarray
    irrigation_amount: np.ndarray
    irrigation_start: np.ndarray
    irrigation_end: np.ndarray
    sand_offset: np.ndarray
    clay_offset: np.ndarray
    residue_cover: np.ndarray


@numba.njit(cache=True, nogil=True)
def double_logistic(doy, lai_min, lai_max, green_up, senescence, rate):  # pragma: no cover
    """LAI on day of year ``doy`` (Beck et al. 2006 double logistic, scalars)."""
    rise = 1.0 / (1.0 + np.exp(-rate * (doy - green_up)))
    fall = 1.0 / (1.0 + np.exp(rate * (doy - senescence)))
    return lai_min + (lai_max - lai_min) * max(rise + fall - 1.0, 0.0)


@numba.njit(cache=True, nogil=True)
def _lai_grid(doy, lai_min, lai_max, green_up, senescence, rate):  # pragma: no cover
    out = np.empty(lai_min.shape, dtype=np.float64)
    for i in range(lai_min.shape[0]):
        for j in range(lai_min.shape[1]):
            out[i, j] = double_logistic(
                doy, lai_min[i, j], lai_max[i, j], green_up[i, j], senescence[i, j], rate[i, j]
            )
    return out


def lai_on_day(maps: VegetationMaps, doy: float) -> np.ndarray:
    """LAI (m2 m-2) of every pixel of ``maps`` on day of year ``doy``.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> grid = np.arange(0.0, 320.0, 10.0)
    >>> maps = vegetation_maps(0, grid[::-1] + 5e6, grid + 5e5, REGIONS["farmland"], 10.0)
    >>> bool(lai_on_day(maps, 210.0).mean() > lai_on_day(maps, 140.0).mean())
    True
    """
    return _lai_grid(
        float(doy), maps.lai_min, maps.lai_max, maps.green_up, maps.senescence, maps.rate
    )


def litter_cover(
    maps: VegetationMaps, doy: float, lai: np.ndarray, decay_days: float, extinction: float
) -> np.ndarray:
    """Fraction of the ground hidden by dead plant material on day of year ``doy``.

    The season's standing dead biomass, ``LAI_peak - LAI`` once the peak has
    passed (``LAI_peak = LAI_max`` of the pixel), decaying as
    ``exp(-(doy - senescence) / decay_days)`` after senescence, covers the
    ground by Beer's law with ``extinction`` (the canopy's,
    ``Hydrology.radiation_extinction``); the residue cover fills the rest:
    ``1 - (1 - residue) exp(-k LAI_dead)``.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> grid = np.arange(0.0, 320.0, 10.0)
    >>> maps = vegetation_maps(0, grid[::-1] + 5e6, grid + 5e5, REGIONS["farmland"], 10.0,
    ...                        residue_cover_limit=0.5)
    >>> before = litter_cover(maps, 120.0, lai_on_day(maps, 120.0), 40.0, 0.5)
    >>> after = litter_cover(maps, 265.0, lai_on_day(maps, 265.0), 40.0, 0.5)
    >>> bool(np.allclose(before, maps.residue_cover)), bool(after.mean() > before.mean())
    (True, True)
    """
    peak = 0.5 * (maps.green_up + maps.senescence)
    since = np.maximum(doy - maps.senescence, 0.0)
    dead = np.where(doy > peak, np.maximum(maps.lai_max - lai, 0.0), 0.0)
    dead = dead * np.exp(-since / decay_days)
    return 1.0 - (1.0 - maps.residue_cover) * np.exp(-extinction * dead)


def fpar_from_lai(lai, extinction: float = 0.5):
    """Fraction of absorbed PAR from LAI by Beer's law, ``1 - exp(-k LAI)``.

    Examples
    --------
    >>> round(float(fpar_from_lai(2.0)), 3)
    0.632
    """
    return 1.0 - np.exp(-extinction * lai)


def _class_thresholds(region: Region) -> tuple[list[int], np.ndarray, list[int], np.ndarray]:
    """Natural classes with their upper ``q`` thresholds; parcel classes with cumulative shares."""
    classes = region.land_cover
    total = sum(c.fraction for c in classes)
    natural = [i for i, c in enumerate(classes) if not c.in_parcels]
    parcels = [i for i, c in enumerate(classes) if c.in_parcels]
    cumulative = np.cumsum([classes[i].fraction / total for i in natural])
    normal_dist = NormalDist()
    thresholds = np.array(
        [normal_dist.inv_cdf(min(max(p, 1e-9), 1 - 1e-9)) if p < 1 else np.inf for p in cumulative]
    )
    parcel_shares = np.array([classes[i].fraction for i in parcels], dtype=np.float64)
    parcel_cumulative = np.cumsum(parcel_shares / parcel_shares.sum()) if parcels else parcel_shares
    return natural, thresholds, parcels, parcel_cumulative


def _parcel_ids(key: int, y: np.ndarray, x: np.ndarray, size: tuple[float, float]):
    """Row and column of the brick-laid parcel of each pixel (2-D int64 arrays)."""
    width, height = size
    parcel_row = np.floor(y / height).astype(np.int64)[:, None]
    shift = uniform(key, parcel_row) * width
    parcel_col = np.floor((x[None, :] + shift) / width).astype(np.int64)
    return np.broadcast_to(parcel_row, parcel_col.shape), parcel_col


def _land_cover(seed: int, y, x, region: Region, finest: float, parcel):
    """Class index of each pixel, and where it is managed (in parcels).

    Natural classes come from thresholds of a fractal field; where the field
    leaves room, the ``in_parcels`` classes are drawn parcel by parcel.
    """
    natural, thresholds, parcels, parcel_cumulative = _class_thresholds(region)
    q = fbm(stream_key(seed, "land_cover"), y, x, scale=max(600.0, finest), finest=finest)
    land_cover = np.full((y.size, x.size), -1, dtype=np.int64)
    lower = -np.inf
    for index, upper in zip(natural, thresholds, strict=True):
        land_cover[(q >= lower) & (q < upper)] = index
        lower = upper
    managed = land_cover < 0
    if parcels:
        draw = uniform(stream_key(seed, "parcel_crop"), *parcel)
        crop = np.searchsorted(parcel_cumulative, draw, side="right")
        crop = np.minimum(crop, len(parcels) - 1)
        land_cover[managed] = np.asarray(parcels)[crop[managed]]
    else:
        land_cover[managed] = natural[-1]
    return land_cover, managed


def _variations(seed: int, y, x, finest: float, managed, parcel):
    """Sowing-date shift (days), vigour factor and roughness noise of each pixel.

    Per parcel where ``managed``, smooth fractal fields elsewhere.
    """
    smooth_timing = fbm(stream_key(seed, "timing"), y, x, scale=2000.0, finest=finest)
    parcel_timing = normal(stream_key(seed, "parcel_timing"), *parcel)
    timing = _TIMING_SD_DAYS * np.where(managed, parcel_timing, smooth_timing)
    smooth_vigour = fbm(stream_key(seed, "vigour"), y, x, scale=300.0, finest=finest)
    parcel_vigour = normal(stream_key(seed, "parcel_vigour"), *parcel)
    vigour_noise = np.where(managed, 0.7 * parcel_vigour + 0.3 * smooth_vigour, smooth_vigour)
    vigour = np.exp(_VIGOUR_SD * vigour_noise - 0.5 * _VIGOUR_SD**2)
    roughness_noise = fbm(stream_key(seed, "roughness"), y, x, scale=200.0, finest=finest)
    parcel_roughness = normal(stream_key(seed, "parcel_roughness"), *parcel)
    return timing, vigour, np.where(managed, parcel_roughness, roughness_noise)


def vegetation_maps(
    seed: int,
    y: np.ndarray,
    x: np.ndarray,
    region: Region,
    resolution: float,
    *,
    roughness_sd: float = _ROUGHNESS_SD,
    rms_height_limits: tuple[float, float] = (0.4, 4.0),
    residue_cover_limit: float = 0.0,
) -> VegetationMaps:
    """Land cover and vegetation parameters on the grid ``y`` by ``x`` (CRS metres).

    Every value is a function of the seed and the pixel's coordinates only,
    so blocks of a scene can be made independently.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> grid = np.arange(0.0, 640.0, 10.0)
    >>> maps = vegetation_maps(0, grid[::-1] + 5e6, grid + 5e5, REGIONS["arid_basin"], 10.0)
    >>> sorted(set(np.unique(maps.land_cover).tolist()) - {0, 1, 2, 3})
    []
    """
    finest = 2.0 * resolution
    parcel_row, parcel_col = _parcel_ids(stream_key(seed, "parcel_shift"), y, x, region.parcel_size)
    land_cover, managed = _land_cover(seed, y, x, region, finest, (parcel_row, parcel_col))
    timing, vigour, roughness_noise = _variations(
        seed, y, x, finest, managed, (parcel_row, parcel_col)
    )

    def per_class(attribute: str) -> np.ndarray:
        values = [getattr(c, attribute) for c in region.land_cover]
        return np.array(values, dtype=np.float64)[land_cover]

    parcel_residue = uniform(stream_key(seed, "parcel_residue"), parcel_row, parcel_col)
    smooth_residue = fbm(stream_key(seed, "residue"), y, x, scale=300.0, finest=finest)
    smooth_residue = 1.0 / (1.0 + np.exp(-1.7 * smooth_residue))  # about uniform on 0-1
    residue = residue_cover_limit * np.where(managed, parcel_residue, smooth_residue)
    interval = per_class("irrigation_interval").astype(np.int64)
    turn = hash_indices(stream_key(seed, "irrigation_turn"), parcel_row, parcel_col)
    phase = (turn % np.maximum(interval, 1).astype(np.uint64)).astype(np.int64)
    return VegetationMaps(
        land_cover=land_cover.astype(np.uint8),
        lai_min=per_class("lai_min"),
        lai_max=per_class("lai_min") + (per_class("lai_max") - per_class("lai_min")) * vigour,
        green_up=per_class("green_up_doy") + timing,
        senescence=per_class("senescence_doy") + timing,
        rate=per_class("phenology_rate"),
        root_fraction=1.0 - per_class("root_beta") ** LAYER_DEPTH_CM,
        rms_height=np.clip(
            per_class("rms_height") * np.exp(roughness_sd * roughness_noise), *rms_height_limits
        ),
        irrigation_interval=interval,
        irrigation_phase=phase,
        irrigation_amount=per_class("irrigation_amount"),
        irrigation_start=per_class("irrigation_start_doy"),
        irrigation_end=per_class("irrigation_end_doy"),
        sand_offset=per_class("sand_offset"),
        clay_offset=per_class("clay_offset"),
        residue_cover=residue,
    )
