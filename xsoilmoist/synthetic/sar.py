"""Radar backscatter: viewing geometry, bare soil, the Water Cloud Model, noise and speckle.

Geometry
    Sentinel-1-like: the ascending and descending orbits alternate every six
    days of a 12-day cycle (by the overpass date). The radar looks right of
    the platform heading; the ellipsoid incidence angle grows across the
    swath by ``incidence_gradient`` degrees per km of ground range (29 to 46
    degrees over the 250 km IW swath: about 0.068). The local incidence
    angle on a slope ``s`` facing ``a`` (aspect) seen from look azimuth
    ``phi`` is ``cos(theta_loc) = cos(theta) cos(s) - sin(theta) sin(s)
    cos(a - phi)`` (Ulaby & Long 2014, *Microwave Radar and Radiometric Remote
    Sensing*, University of Michigan Press), clipped to 10-70 degrees
    (shadow and layover are not simulated).
Bare soil
    The empirical model of Baghdadi et al. (2016), "A new empirical model for
    radar scattering from bare soil surfaces", Remote Sensing 8(11):920,
    equations 5-7: ``sigma0_pq = delta (cos theta)^beta 10^(gamma cot(theta)
    mv) (k s)^(xi sin theta)`` with ``mv`` in vol-%, ``s`` the rms height and
    ``k = 2 pi / lambda``; fitted on L-, C- and X-band data, so one model
    serves both radars. In dB it is linear in moisture, and the moisture
    sensitivity ``10 gamma cot(theta)`` (about 0.1 dB per vol-% in VV at 38
    degrees) falls with the incidence angle. VH uses the HV coefficients
    (reciprocity).
Vegetation
    The Water Cloud Model (Attema & Ulaby 1978, "Vegetation modeled as a
    water cloud", Radio Science 13:357-364), with ``V1 = V2 = LAI``:
    ``sigma0 = A LAI cos(theta) (1 - tau2) + tau2 sigma0_soil``,
    ``tau2 = exp(-2 B LAI / cos(theta))``.
Noise
    The additive thermal noise floor (noise-equivalent sigma zero), then
    multiplicative speckle: fully developed speckle of an ``L``-look intensity
    image is gamma distributed with shape ``L`` and unit mean (Goodman 1976,
    "Some fundamental properties of speckle", JOSA 66:1145-1150); it is drawn
    as the mean of ``L`` unit exponentials from hashed uniforms, so every
    pixel's speckle is independent of the chunking.
"""

from __future__ import annotations

import numpy as np

from xsoilmoist.catalogue import BANDS
from xsoilmoist.synthetic.random_fields import uniform

__all__ = [
    "BAGHDADI_2016",
    "LOCAL_INCIDENCE_LIMITS",
    "bare_soil_db",
    "incidence_angle",
    "local_incidence",
    "look_geometry",
    "speckle",
    "to_db",
    "water_cloud",
    "wavenumber",
]

#: Baghdadi et al. (2016), equations 5-7: ``(log10 delta, beta, gamma, xi)`` per polarisation.
BAGHDADI_2016: dict[str, tuple[float, float, float, float]] = {
    "hh": (-1.287, 1.227, 0.009, 0.86),
    "vv": (-1.138, 1.528, 0.008, 0.71),
    "hv": (-2.325, -0.01, 0.011, 0.44),
}
#: Local incidence angles are clipped to this range, degrees.
LOCAL_INCIDENCE_LIMITS = (10.0, 70.0)
_SPEED_OF_LIGHT = 299792458.0


def wavenumber(frequency_ghz: float) -> float:
    """Radar wavenumber ``k = 2 pi / lambda`` in rad/cm.

    Examples
    --------
    >>> round(wavenumber(5.405), 3)  # Sentinel-1 C-band
    1.133
    """
    wavelength_cm = _SPEED_OF_LIGHT / (frequency_ghz * 1e9) * 100.0
    return 2.0 * np.pi / wavelength_cm


def look_geometry(day_number: int, incidence: tuple[float, float], heading_ascending: float):
    """``(centre incidence angle, look azimuth)`` in degrees for an overpass day.

    Days 0-5 of each 12-day cycle (counted from 1970-01-01) are ascending,
    days 6-11 descending.

    Examples
    --------
    >>> look_geometry(0, (39.0, 34.0), -12.0)
    (39.0, 78.0)
    >>> look_geometry(6, (39.0, 34.0), -12.0)
    (34.0, 258.0)
    """
    ascending = int(day_number) % 12 < 6
    heading = heading_ascending if ascending else heading_ascending + 180.0
    return (incidence[0] if ascending else incidence[1]), float((heading + 90.0) % 360.0)


def incidence_angle(
    y: np.ndarray,
    x: np.ndarray,
    centre: tuple[float, float],
    centre_incidence: float,
    look_azimuth: float,
    gradient_per_km: float,
) -> np.ndarray:
    """Ellipsoid incidence angle (degrees) on the grid ``y`` by ``x`` (CRS metres)."""
    azimuth = np.radians(look_azimuth)
    ground_range = (x[None, :] - centre[0]) * np.sin(azimuth) + (y[:, None] - centre[1]) * np.cos(
        azimuth
    )
    return centre_incidence + gradient_per_km * ground_range / 1000.0


def local_incidence(incidence, slope, aspect, look_azimuth: float) -> np.ndarray:
    """Local incidence angle (degrees) on tilted ground, clipped to 10-70 degrees.

    Examples
    --------
    >>> float(local_incidence(35.0, 0.0, 0.0, 78.0))
    35.0
    >>> round(float(local_incidence(35.0, 10.0, 78.0, 78.0)), 6)  # facing away: steeper
    45.0
    """
    theta = np.radians(incidence)
    s = np.radians(slope)
    relative = np.radians(np.asarray(aspect) - look_azimuth)
    cos_local = np.cos(theta) * np.cos(s) - np.sin(theta) * np.sin(s) * np.cos(relative)
    local = np.degrees(np.arccos(np.clip(cos_local, -1.0, 1.0)))
    return np.clip(local, *LOCAL_INCIDENCE_LIMITS)


def bare_soil_db(polarisation: str, moisture, incidence, ks) -> np.ndarray:
    """Bare-soil backscatter in dB (Baghdadi et al. 2016).

    Parameters
    ----------
    polarisation
        ``"vv"``, ``"hh"``, ``"hv"`` (or ``"vh"``, the same).
    moisture
        Volumetric soil moisture, m3/m3.
    incidence
        Incidence angle, degrees.
    ks
        Wavenumber times rms height.

    Examples
    --------
    >>> wet = bare_soil_db("vv", 0.35, 38.0, 1.5)
    >>> dry = bare_soil_db("vv", 0.05, 38.0, 1.5)
    >>> round(float(wet - dry), 2)  # 30 vol-% wetter: about 3 dB brighter
    3.07
    """
    key = "hv" if polarisation == "vh" else polarisation
    log_delta, beta, gamma, xi = BAGHDADI_2016[key]
    theta = np.radians(incidence)
    return 10.0 * (
        log_delta
        + beta * np.log10(np.cos(theta))
        + gamma * 100.0 * np.asarray(moisture) / np.tan(theta)
        + xi * np.sin(theta) * np.log10(ks)
    )


def water_cloud(soil_linear, lai, incidence, a: float, b: float) -> np.ndarray:
    """Total backscatter (linear) of soil under a canopy (Water Cloud Model, V1 = V2 = LAI).

    Examples
    --------
    >>> float(water_cloud(0.1, 0.0, 35.0, 0.033, 0.15))  # no canopy: the soil
    0.1
    """
    cos_theta = np.cos(np.radians(incidence))
    tau2 = np.exp(-2.0 * b * np.asarray(lai) / cos_theta)
    return a * lai * cos_theta * (1.0 - tau2) + tau2 * soil_linear


def speckle(key: int, looks: int, *indices) -> np.ndarray:
    """Unit-mean gamma speckle with shape ``looks``, one value per broadcast index tuple.

    Examples
    --------
    >>> from xsoilmoist.synthetic.random_fields import stream_key
    >>> s = speckle(stream_key(0, "vv"), 4, np.arange(100000))
    >>> round(float(s.mean()), 2), round(float(s.var()), 2)  # mean 1, variance 1/L
    (1.0, 0.25)
    """
    total = -np.log(uniform(key, *indices, 0))
    for look in range(1, looks):
        total += -np.log(uniform(key, *indices, look))
    return total / looks


def to_db(linear) -> np.ndarray:
    """Decibels, clipped to the catalogue's valid SAR range (-50 to 20 dB)."""
    return np.clip(10.0 * np.log10(linear), *BANDS["vv"].valid_range)
