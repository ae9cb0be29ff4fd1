"""Domain randomization: what differs from one scene (or one date) to the next.

A model trained on scenes that all share one calibration, one viewing
geometry and one atmosphere learns those along with soil moisture, and
transfers badly. So, unless ``ObservingSystem.domain_randomization`` is off,
each scene draws from its seed:

- a radar calibration offset, uniform within +/- ``calibration_offset_limit``
  dB (1.5: the spread between processing chains, terrain flattening and
  calibration epochs; Sentinel-1's own absolute calibration is within about
  0.3-0.5 dB, Schwerdt et al. 2017), plus a per-polarisation part of standard
  deviation ``polarisation_offset_sd``;
- the centre incidence angle of each orbit, uniform within
  ``incidence_limits`` (Sentinel-1 IW: about 30-46 degrees across the swath);
- the equivalent number of looks, uniform within ``looks_limits``;
- a brightness factor of the region's dry soils, lognormal with log-space
  standard deviation ``scene_soil_brightness_sd`` (soils beyond the three
  regions' own: the dry SWIR reflectance of mineral soils spans about 0.1 to
  0.5);

and each date draws an optical atmospheric-correction residual: an additive
offset per band (``atmosphere_offset_sd``) and a relative gain
(``atmosphere_gain_sd``), uniform over the scene (aerosol varies over tens of
kilometres).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from xsoilmoist.synthetic.regions import ObservingSystem

__all__ = ["SceneDraws", "atmosphere_residual", "scene_draws"]

_POLARISATIONS = ("vv", "vh", "hh", "hv")


@dataclass(frozen=True)
class SceneDraws:
    """The per-scene draws of the domain randomization.

    Attributes
    ----------
    incidence
        Centre incidence angle of the ascending and descending orbits, degrees.
    looks
        Equivalent number of looks of the speckle.
    calibration_offset
        Offset added to each polarisation's backscatter, dB.
    soil_brightness
        Factor on the region's dry-soil reflectance.
    """

    incidence: tuple[float, float]
    looks: int
    calibration_offset: dict[str, float]
    soil_brightness: float = 1.0

    def as_attrs(self) -> dict:
        """The draws as JSON-able attributes."""
        return {
            "incidence_ascending": round(self.incidence[0], 3),
            "incidence_descending": round(self.incidence[1], 3),
            "looks": self.looks,
            "calibration_offset_db": {k: round(v, 3) for k, v in self.calibration_offset.items()},
            "soil_brightness": round(self.soil_brightness, 3),
        }


def _rng(seed: int, name: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), *more])


def scene_draws(seed: int, observing: ObservingSystem) -> SceneDraws:
    """The scene's calibration offsets, incidence angles and looks.

    Examples
    --------
    >>> draws = scene_draws(0, ObservingSystem())
    >>> 30.0 <= min(draws.incidence) <= max(draws.incidence) <= 46.0
    True
    >>> scene_draws(0, ObservingSystem(domain_randomization=False)).calibration_offset["vv"]
    0.0
    """
    if not observing.domain_randomization:
        return SceneDraws(
            incidence=(observing.incidence_ascending, observing.incidence_descending),
            looks=observing.looks,
            calibration_offset=dict.fromkeys(_POLARISATIONS, 0.0),
        )
    rng = _rng(seed, "domain_randomization")
    low, high = observing.incidence_limits
    incidence = (float(rng.uniform(low, high)), float(rng.uniform(low, high)))
    looks = int(rng.integers(observing.looks_limits[0], observing.looks_limits[1] + 1))
    limit = observing.calibration_offset_limit
    common = float(rng.uniform(-limit, limit))
    own = rng.normal(0.0, observing.polarisation_offset_sd, len(_POLARISATIONS))
    offsets = {pol: common + float(extra) for pol, extra in zip(_POLARISATIONS, own, strict=True)}
    brightness = float(np.exp(observing.scene_soil_brightness_sd * rng.normal()))
    return SceneDraws(
        incidence=incidence, looks=looks, calibration_offset=offsets, soil_brightness=brightness
    )


def atmosphere_residual(
    seed: int, day_number: int, observing: ObservingSystem
) -> tuple[np.ndarray, float]:
    """Additive offsets (one per optical band) and the relative gain of one date.

    Examples
    --------
    >>> offsets, gain = atmosphere_residual(0, 18779, ObservingSystem())
    >>> offsets.shape, 0.8 < gain < 1.2
    ((6,), True)
    """
    if not observing.domain_randomization:
        return np.zeros(len(observing.atmosphere_offset_sd)), 1.0
    rng = _rng(seed, "atmosphere", int(day_number))
    offsets = rng.normal(0.0, 1.0, len(observing.atmosphere_offset_sd))
    gain = 1.0 + observing.atmosphere_gain_sd * float(rng.normal())
    return offsets * np.asarray(observing.atmosphere_offset_sd), gain
