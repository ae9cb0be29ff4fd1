"""Optical reflectance: wet-soil darkening, the canopy, clouds and their shadows.

Soil
    Reflectance falls exponentially with moisture (Lobell & Asner 2002,
    "Moisture effects on soil reflectance", Soil Science Society of America
    Journal 66:722-727, who found the exponential form and the strongest
    effect in the shortwave infrared): ``R_soil = R_dry exp(-c S)`` with
    ``S = theta / theta_s`` the relative saturation and ``c`` per band
    (``ObservingSystem.moisture_darkening``: a saturated soil keeps about
    60 % of its dry reflectance in the visible and NIR and about 45 % in the
    SWIR).
Litter and crop residue
    Dead plant material (non-photosynthetic vegetation) covering a fraction
    ``f`` of the ground (:func:`~xsoilmoist.synthetic.vegetation.litter_cover`)
    mixes linearly with the soil beneath the green canopy, ``R_ground = f
    R_residue + (1 - f) R_soil``, as in the green/non-photosynthetic/bare
    unmixing of Guerschman et al. (2009), Remote Sensing of Environment
    113:928-945. ``R_residue`` (``ObservingSystem.residue_reflectance``)
    follows dry crop residues and litter: brighter than most soils in the
    SWIR at 1.6 um, darker at 2.2 um where ligno-cellulose absorbs (Daughtry
    2001, "Discriminating crop residues from soil by shortwave infrared
    reflectance", Agronomy Journal 93:125-131; Nagler et al. 2000, Remote
    Sensing of Environment 71:207-215), with a lognormal brightness
    (``residue_brightness_sd``). Residue dries within hours of rain, so its
    reflectance is taken as independent of the soil layer's moisture: bright
    SWIR over sparse vegetation may be residue, not dry soil.
Canopy
    The semi-empirical exponential model of Baret & Guyot (1991), "Potentials
    and limits of vegetation indices for LAI and APAR assessment", Remote
    Sensing of Environment 35:161-173: ``R = R_inf + (R_soil - R_inf)
    exp(-K LAI)``, with ``R_inf`` the reflectance of an infinitely thick
    canopy and ``K`` the band's extinction.
Variability independent of moisture
    The dry soil's brightness (lognormal, ``soil_brightness_sd``) and colour
    (a spectral tilt of the log reflectance, ``soil_colour_sd``), its
    darkening coefficient (``darkening_sd``) and the canopy's ``R_inf``
    (``canopy_reflectance_sd``) vary in space as smooth fractal fields,
    independently of the moisture: soils differ in mineralogy, iron oxides,
    organic matter, crusts and residues (Ben-Dor et al. 1999, Remote Sensing
    for the Earth Sciences, ch. 3, report dry-soil SWIR reflectances from
    about 0.1 to 0.5), so that no band alone gives moisture away.
Atmosphere
    Per date, an additive residual per band and a relative gain
    (:func:`~xsoilmoist.synthetic.randomization.atmosphere_residual`).
Noise
    Additive Gaussian noise of standard deviation ``reflectance_noise``
    (hashed per band, date and pixel); reflectances are kept within 0-1.
Clouds and shadows
    Each date draws a cloud fraction from a beta distribution with the
    region's mean and concentration 2 (U-shaped: many clear and many
    overcast scenes). Clouds are where a large-scale fractal field exceeds
    the standard-normal quantile of that fraction; their shadows fall
    ``h tan(SZA)`` away from the sun (``h``: cloud height), with the solar
    zenith angle ``SZA`` and azimuth at the overpass (declination after
    Cooper 1969, Solar Energy 12:333-346; hour angle from the local solar
    time). Optical bands are NaN under clouds and shadows.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from xsoilmoist.synthetic.random_fields import fbm, normal, stream_key

__all__ = [
    "BAND_POSITION",
    "CLEAR",
    "CLOUD",
    "SHADOW",
    "SurfaceOptics",
    "add_noise",
    "cloud_cover",
    "cloud_mask",
    "ground_reflectance",
    "reflectance",
    "shadow_offset",
    "soil_reflectance",
    "solar_position",
    "surface_optics",
]

#: Values of the ``sim_cloud_mask`` variable.
CLEAR, CLOUD, SHADOW = 0, 1, 2
_CLOUD_SCALE = 4000.0
#: Position of each optical band (blue ... swir2) on the axis of the soil-colour tilt.
BAND_POSITION = np.linspace(-1.0, 1.0, 6)
_SOIL_SCALE = 400.0  # m, largest patches of soil brightness, colour and darkening
_CANOPY_SCALE = 300.0
_DRY_CAP = 0.5  # dry-soil reflectance approaches this smoothly (tanh), never exceeds it


@dataclass(frozen=True)
class SurfaceOptics:
    """Per-pixel optical properties of one block, each ``(band, y, x)``.

    Attributes
    ----------
    dry
        Reflectance of the dry soil.
    darkening
        ``c`` of ``R_soil = R_dry exp(-c S)``.
    canopy
        Reflectance of an infinitely thick canopy.
    residue
        Reflectance of dry litter and crop residue.
    """

    dry: np.ndarray
    darkening: np.ndarray
    canopy: np.ndarray
    residue: np.ndarray


def surface_optics(
    seed: int, y: np.ndarray, x: np.ndarray, dry_reflectance, observing, resolution: float
) -> SurfaceOptics:
    """Dry-soil, darkening and canopy properties varying in space, independently of moisture.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import ObservingSystem
    >>> grid = np.arange(0.0, 320.0, 10.0)
    >>> optics = surface_optics(0, grid[::-1] + 5e6, grid + 5e5, (0.05, 0.07, 0.09, 0.12,
    ...                         0.2, 0.17), ObservingSystem(), 10.0)
    >>> optics.dry.shape
    (6, 32, 32)
    """

    def field(name: str, scale: float) -> np.ndarray:
        return fbm(stream_key(seed, name), y, x, scale=scale, finest=2.0 * resolution)

    brightness = observing.soil_brightness_sd * field("soil_brightness", _SOIL_SCALE)
    tilt = observing.soil_colour_sd * field("soil_colour", 2.0 * _SOIL_SCALE)
    position = BAND_POSITION[:, None, None]
    dry = np.asarray(dry_reflectance)[:, None, None] * np.exp(brightness + tilt * position)
    spread = 1.0 + observing.darkening_sd * field("soil_darkening", 2.0 * _SOIL_SCALE)
    darkening = np.asarray(observing.moisture_darkening)[:, None, None] * np.clip(spread, 0.3, 2)
    shared = field("canopy_reflectance", _CANOPY_SCALE)
    own = np.stack(
        [field(f"canopy_reflectance_{i}", _CANOPY_SCALE) for i in range(len(BAND_POSITION))]
    )
    sd = observing.canopy_reflectance_sd
    canopy = np.asarray(observing.vegetation_reflectance)[:, None, None] * np.exp(
        sd * (0.7 * shared + 0.7 * own)
    )
    dry = _DRY_CAP * np.tanh(dry / _DRY_CAP)  # brightest dry soils: sands, crusts (about 0.5)
    residue_brightness = observing.residue_brightness_sd * field(
        "residue_brightness", _CANOPY_SCALE
    )
    residue = np.asarray(observing.residue_reflectance)[:, None, None] * np.exp(residue_brightness)
    return SurfaceOptics(dry=dry, darkening=darkening, canopy=canopy, residue=residue)


def soil_reflectance(dry, darkening, relative_saturation):
    """Reflectance of moist soil, ``R_dry exp(-c S)`` (Lobell & Asner 2002).

    Examples
    --------
    >>> round(float(soil_reflectance(0.3, 0.8, 1.0)), 3)
    0.135
    """
    return dry * np.exp(-darkening * np.asarray(relative_saturation))


def ground_reflectance(soil, residue, litter):
    """Linear mixture of residue (fraction ``litter``) and soil (Guerschman et al. 2009).

    Examples
    --------
    >>> round(float(ground_reflectance(0.2, 0.4, 0.25)), 3)
    0.25
    """
    return soil + (residue - soil) * np.asarray(litter)


def reflectance(soil, lai, vegetation: float, extinction: float):
    """Canopy reflectance over soil (Baret & Guyot 1991).

    Examples
    --------
    >>> float(reflectance(0.2, 0.0, 0.45, 0.45))  # bare: the soil
    0.2
    >>> round(float(reflectance(0.2, 10.0, 0.45, 0.45)), 2)  # dense: the canopy
    0.45
    """
    return vegetation + (soil - vegetation) * np.exp(-extinction * np.asarray(lai))


def solar_position(latitude: float, doy: int, solar_time: float) -> tuple[float, float]:
    """Solar zenith and azimuth (degrees clockwise from north) at a local solar time.

    Examples
    --------
    >>> zenith, azimuth = solar_position(46.8, 172, 10.5)
    >>> round(zenith), 90 < azimuth < 180  # mid-morning in June: south-east
    (30, True)
    """
    declination = math.radians(23.45) * math.sin(2.0 * math.pi * (284 + doy) / 365.0)
    hour_angle = math.radians(15.0 * (solar_time - 12.0))
    phi = math.radians(latitude)
    cos_zenith = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(
        declination
    ) * math.cos(hour_angle)
    zenith = math.acos(min(max(cos_zenith, -1.0), 1.0))
    sin_zenith = max(math.sin(zenith), 1e-9)
    cos_azimuth = (math.sin(declination) - math.sin(phi) * cos_zenith) / (
        math.cos(phi) * sin_zenith
    )
    azimuth = math.degrees(math.acos(min(max(cos_azimuth, -1.0), 1.0)))
    if hour_angle > 0:
        azimuth = 360.0 - azimuth
    return math.degrees(zenith), azimuth


def shadow_offset(
    latitude: float, doy: int, solar_time: float, cloud_height: float
) -> tuple[float, float]:
    """Ground displacement ``(dx, dy)`` in metres from a cloud to its shadow.

    Examples
    --------
    >>> dx, dy = shadow_offset(46.8, 172, 10.5, 1000.0)
    >>> dx < 0 and dy > 0  # sun in the south-east: shadows to the north-west
    True
    """
    zenith, azimuth = solar_position(latitude, doy, solar_time)
    length = cloud_height * math.tan(math.radians(min(zenith, 85.0)))
    away = math.radians(azimuth + 180.0)
    return length * math.sin(away), length * math.cos(away)


def cloud_cover(seed: int, day_number: int, mean: float) -> float:
    """The cloud fraction of one date: beta-distributed with mean ``mean``, concentration 2.

    Examples
    --------
    >>> cloud_cover(0, 18779, 0.0)
    0.0
    >>> 0.0 <= cloud_cover(0, 18779, 0.4) <= 1.0
    True
    """
    if mean <= 0.0:
        return 0.0
    if mean >= 1.0:
        return 1.0
    rng = np.random.default_rng([seed, zlib.crc32(b"cloud_cover"), int(day_number)])
    return float(rng.beta(2.0 * mean, 2.0 * (1.0 - mean)))


def cloud_mask(
    seed: int,
    day_number: int,
    y: np.ndarray,
    x: np.ndarray,
    cover: float,
    offset: tuple[float, float],
    resolution: float,
) -> np.ndarray:
    """``CLEAR``, ``CLOUD`` or ``SHADOW`` (uint8) on the grid ``y`` by ``x`` for one date."""
    if cover <= 0.0:
        return np.zeros((y.size, x.size), dtype=np.uint8)
    threshold = NormalDist().inv_cdf(1.0 - cover) if cover < 1.0 else -np.inf
    key = stream_key(seed, f"clouds_{int(day_number)}")
    finest = max(4.0 * resolution, 40.0)
    cloud = fbm(key, y, x, scale=_CLOUD_SCALE, finest=finest) > threshold
    dx, dy = offset
    shadow = fbm(key, y - dy, x - dx, scale=_CLOUD_SCALE, finest=finest) > threshold
    return np.where(cloud, CLOUD, np.where(shadow, SHADOW, CLEAR)).astype(np.uint8)


def add_noise(values: np.ndarray, key: int, sd: float, *indices) -> np.ndarray:
    """``values`` plus hashed Gaussian noise, kept within 0-1."""
    return np.clip(values + sd * normal(key, *indices), 0.0, 1.0)
