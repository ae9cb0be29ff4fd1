"""Topsoil texture fields and their hydraulic properties (pedotransfer functions).

Texture: sand and clay mass fractions drawn as correlated fractal fields
(:func:`xsoilmoist.synthetic.random_fields.fbm`) around the region's means,
shifted per land-cover class where the class says so (the loamy
irrigation-silted soils of an oasis amid desert sands).

Hydraulics: Saxton & Rawls (2006), "Soil water characteristic estimates by
texture and organic matter for hydrologic solutions", Soil Science Society of
America Journal 70:1569-1578, Table 1, equations 1-3, 5 and 15-18:

- ``theta_1500`` (wilting point, 1500 kPa), ``theta_33`` (field capacity,
  33 kPa) and ``theta_s`` (saturation) from sand ``S``, clay ``C`` (fractions)
  and organic matter ``OM`` (% by weight);
- ``B = (ln 1500 - ln 33) / (ln theta_33 - ln theta_1500)``, ``lambda = 1/B``;
- ``K_s = 1930 (theta_s - theta_33)^(3 - lambda)`` mm/h and the unsaturated
  conductivity ``K(theta) = K_s (theta / theta_s)^(3 + 2/lambda)`` (their
  equation 16, after Campbell 1974).

The residual (air-dry) content ``theta_r`` extends the same power-law
retention curve, ``psi = A theta^-B`` (their equation 11, Campbell 1974), to
the suction of air-dry soil, about 100 MPa (pF 6):
``theta_r = theta_1500 (1500 / 100000)^lambda``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xsoilmoist.synthetic.random_fields import fbm
from xsoilmoist.synthetic.regions import SoilTexture

__all__ = [
    "AIR_DRY_SUCTION_KPA",
    "SoilHydraulics",
    "clip_texture",
    "saxton_rawls",
    "texture_fields",
]

#: Suction of air-dry soil (pF 6), kPa: the residual water content's suction.
AIR_DRY_SUCTION_KPA = 1.0e5

_SAND_LIMITS = (0.02, 0.92)
_CLAY_LIMITS = (0.02, 0.58)  # Saxton & Rawls (2006) fit clay up to 60 %
_MAX_SAND_PLUS_CLAY = 0.97


@dataclass(frozen=True)
class SoilHydraulics:
    """Hydraulic properties of the topsoil, one value per pixel (m3/m3 unless noted).

    Attributes
    ----------
    residual, wilting_point, field_capacity, saturation
        ``theta_r`` (air dry), ``theta_1500``, ``theta_33`` and ``theta_s``.
    ksat
        Saturated hydraulic conductivity, mm/h.
    pore_size_index
        Campbell's ``lambda = 1/B``.
    """

    residual: np.ndarray
    wilting_point: np.ndarray
    field_capacity: np.ndarray
    saturation: np.ndarray
    ksat: np.ndarray
    pore_size_index: np.ndarray


def saxton_rawls(sand, clay, organic_matter) -> SoilHydraulics:
    """Water retention and conductivity from texture (Saxton & Rawls 2006).

    Parameters
    ----------
    sand, clay
        Mass fractions, 0-1 (arrays or scalars).
    organic_matter
        Organic matter, % by weight.

    Returns
    -------
    SoilHydraulics

    Examples
    --------
    A loam (40 % sand, 20 % clay, 2.5 % organic matter):

    >>> loam = saxton_rawls(0.4, 0.2, 2.5)
    >>> [round(float(v), 2) for v in (loam.wilting_point, loam.field_capacity, loam.saturation)]
    [0.14, 0.28, 0.46]
    >>> round(float(loam.ksat), 1)  # mm/h
    15.5
    """
    s = np.asarray(sand, dtype=np.float64)
    c = np.asarray(clay, dtype=np.float64)
    om = float(organic_matter)
    t1500t = -0.024 * s + 0.487 * c + 0.006 * om + 0.005 * s * om - 0.013 * c * om
    t1500t = t1500t + 0.068 * s * c + 0.031
    theta_1500 = t1500t + (0.14 * t1500t - 0.02)  # equation 1
    t33t = -0.251 * s + 0.195 * c + 0.011 * om + 0.006 * s * om - 0.027 * c * om
    t33t = t33t + 0.452 * s * c + 0.299
    theta_33 = t33t + (1.283 * t33t**2 - 0.374 * t33t - 0.015)  # equation 2
    ts33t = 0.278 * s + 0.034 * c + 0.022 * om - 0.018 * s * om - 0.027 * c * om
    ts33t = ts33t - 0.584 * s * c + 0.078
    theta_s33 = ts33t + (0.636 * ts33t - 0.107)  # equation 3
    theta_s = theta_33 + theta_s33 - 0.097 * s + 0.043  # equation 5
    b = (np.log(1500.0) - np.log(33.0)) / (np.log(theta_33) - np.log(theta_1500))  # eq. 15
    pore_size_index = 1.0 / b  # equation 18
    ksat = 1930.0 * (theta_s - theta_33) ** (3.0 - pore_size_index)  # equation 16
    residual = theta_1500 * (1500.0 / AIR_DRY_SUCTION_KPA) ** pore_size_index
    return SoilHydraulics(residual, theta_1500, theta_33, theta_s, ksat, pore_size_index)


def texture_fields(
    keys: tuple[int, int], y: np.ndarray, x: np.ndarray, texture: SoilTexture, resolution: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sand and clay fractions on the grid ``y`` by ``x`` (CRS metres).

    The clay field is ``rho * f_sand + sqrt(1 - rho^2) * f_clay`` of two
    independent unit fields, so the two correlate with ``rho``
    (``texture.sand_clay_correlation``). Fractions are clipped to the range
    the pedotransfer functions were fitted on, and ``sand + clay`` to at most
    0.97.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> grid = np.arange(0.0, 640.0, 10.0)
    >>> sand, clay = texture_fields((1, 2), grid[::-1], grid, REGIONS["farmland"].soil, 10.0)
    >>> bool(((sand + clay) <= 0.97 + 1e-12).all())
    True
    """
    finest = 2.0 * resolution
    scale = max(texture.correlation_scale, finest)
    sand_noise = fbm(keys[0], y, x, scale=scale, finest=finest)
    clay_noise = fbm(keys[1], y, x, scale=scale, finest=finest)
    rho = texture.sand_clay_correlation
    clay_noise = rho * sand_noise + np.sqrt(1.0 - rho * rho) * clay_noise
    return clip_texture(
        texture.sand_mean + texture.sand_sd * sand_noise,
        texture.clay_mean + texture.clay_sd * clay_noise,
    )


def clip_texture(sand, clay) -> tuple[np.ndarray, np.ndarray]:
    """Sand and clay clipped to the pedotransfer functions' range, ``sand + clay <= 0.97``.

    Examples
    --------
    >>> sand, clay = clip_texture(np.array([0.9]), np.array([0.2]))
    >>> round(float(sand[0] + clay[0]), 2)
    0.97
    """
    sand = np.clip(sand, *_SAND_LIMITS)
    clay = np.clip(clay, *_CLAY_LIMITS)
    excess = np.maximum(sand + clay - _MAX_SAND_PLUS_CLAY, 0.0)
    share = sand / (sand + clay)
    return sand - excess * share, clay - excess * (1.0 - share)
