"""Where a pixel's soil moisture cannot be estimated: frozen ground, snow, open water.

:func:`xsoilmoist.predict` leaves these pixels empty (NaN) rather than guess,
each rule from standardized bands, per pixel and time step; a rule whose bands
are not in the scene is not applied:

- **frozen ground**: the day's mean 2 m air temperature (``t2m``) at or below
  0 degC. Frozen soil water has a permittivity near that of dry soil, so
  C-band backscatter stops following soil moisture (Wagner et al. 1999,
  doi:10.1016/S0034-4257(99)00036-X); satellite soil-moisture products mask
  such days (ESA CCI SM flags them from ERA5 temperatures, Dorigo et al. 2017,
  doi:10.1016/j.rse.2017.07.001). Air temperature is the only temperature
  the model reads: a day at or below 0 degC is flagged even where the soil
  may still be unfrozen.
- **snow cover**: NDSI ``(green - swir1) / (green + swir1)`` of at least 0.4
  with NIR reflectance above 0.11, the MODIS snow rule (Hall et al. 1995,
  doi:10.1016/0034-4257(95)00137-P; the NIR test keeps water out).
- **open water**: NDWI ``(green - nir) / (green + nir)`` above 0 (McFeeters
  1996, doi:10.1080/01431169608948714) where it is not snow (snow is
  brighter in green than in NIR too): soil moisture is not defined there.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"t2m": (("y", "x"), [[-2.0, 5.0]], {"units": "degC"})},
...                 coords={"y": [0.0], "x": [0.0, 10.0]})
>>> surface_conditions(ds).values.tolist()
[[1, 0]]
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from xsoilmoist.bands import normalized_difference, standardize
from xsoilmoist.grid import carry_georeferencing

__all__ = [
    "CONDITION_BANDS",
    "FLAGS",
    "FROZEN",
    "OPEN_WATER",
    "SNOW",
    "applied_rules",
    "condition_flags",
    "surface_conditions",
]

FROZEN, SNOW, OPEN_WATER = 1, 2, 4
#: Flag bit -> (name, bands it needs, rule).
FLAGS: dict[int, tuple[str, tuple[str, ...], str]] = {
    FROZEN: ("frozen_ground", ("t2m",), "frozen ground (t2m <= 0 degC)"),
    SNOW: ("snow_cover", ("green", "swir1", "nir"), "snow cover (NDSI >= 0.4 and nir > 0.11)"),
    OPEN_WATER: ("open_water", ("green", "nir"), "open water (NDWI > 0, not snow)"),
}
#: Every band a rule reads.
CONDITION_BANDS = frozenset(b for _, needs, _ in FLAGS.values() for b in needs)
_FREEZING = 0.0  # degC
_NDSI_SNOW, _NIR_SNOW = 0.4, 0.11
_NDWI_WATER = 0.0


def condition_flags(bands: Mapping[str, np.ndarray]) -> np.ndarray:
    """The flags (bits of :data:`FLAGS`, uint8) of standardized band values (numpy).

    ``bands`` maps band names to arrays of one shape; missing bands skip their
    rules, and NaN values raise no flag.

    Examples
    --------
    >>> condition_flags({"green": np.array([0.5, 0.05]), "swir1": np.array([0.1, 0.2]),
    ...                  "nir": np.array([0.4, 0.3])}).tolist()
    [2, 0]
    """
    shape = np.shape(next(iter(bands.values())))
    flags = np.zeros(shape, dtype=np.uint8)
    if "t2m" in bands:
        flags[bands["t2m"] <= _FREEZING] |= FROZEN
    if {"green", "nir"} <= bands.keys():
        green, nir = bands["green"], bands["nir"]
        snow = np.zeros(shape, dtype=bool)
        if "swir1" in bands:
            snow = (normalized_difference(green, bands["swir1"]) >= _NDSI_SNOW) & (nir > _NIR_SNOW)
            flags[snow] |= SNOW
        flags[(normalized_difference(green, nir) > _NDWI_WATER) & ~snow] |= OPEN_WATER
    return flags


def applied_rules(bands) -> str:
    """The rules that ``bands`` (names) let apply, as one line for attrs.

    Examples
    --------
    >>> applied_rules(["vv", "t2m"])
    'frozen ground (t2m <= 0 degC)'
    """
    rules = [rule for _, needs, rule in FLAGS.values() if set(needs) <= set(bands)]
    return ", ".join(rules) or "none (the scene has no band the rules read)"


def surface_conditions(ds: xr.Dataset, **standardize_options) -> xr.DataArray:
    """Per-pixel flags of frozen ground, snow cover and open water (see the module doc).

    Parameters
    ----------
    ds
        A raw or standardized scene (standardized first with
        ``standardize_options``, as :func:`xsoilmoist.standardize` takes them).

    Returns
    -------
    xarray.DataArray
        ``conditions`` (uint8, lazy on dask) on the scene's dims and
        coordinates, CF flag attributes (``flag_masks``, ``flag_meanings``)
        and the ``rules_applied``; 0 where no rule flags the pixel.
    """
    std = standardize(ds, **standardize_options)
    names = sorted(CONDITION_BANDS & set(std.data_vars))
    if names:
        arrays = xr.broadcast(*(std[b] for b in names))
        flags = xr.apply_ufunc(
            lambda *values: condition_flags(dict(zip(names, values, strict=True))),
            *arrays,
            dask="parallelized",
            output_dtypes=[np.uint8],
        )
    else:
        template = next(iter(std.data_vars.values()))
        flags = xr.zeros_like(template, dtype=np.uint8)
    flags = flags.rename("conditions")
    flags.attrs = {
        "long_name": "surface conditions where soil moisture is not estimated",
        "flag_masks": np.array(list(FLAGS), dtype=np.uint8),
        "flag_meanings": " ".join(name for name, _, _ in FLAGS.values()),
        "rules_applied": applied_rules(names),
    }
    return carry_georeferencing(flags, std)
