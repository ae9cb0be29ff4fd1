"""One pint registry for the package, with CF/UDUNITS spellings, and lazy conversions.

Units are read from and written back to ``attrs["units"]`` (as pint-xarray and
xclim do). Conversions run block by block through :func:`xarray.apply_ufunc`
with ``dask="parallelized"``, so converting a dask-backed variable computes
nothing until asked.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pint
import xarray as xr

from xsoilmoist.errors import UnitError

__all__ = [
    "UnitError",
    "check_convertible",
    "convert",
    "convert_values",
    "parse_units",
    "same_units",
    "ureg",
]

#: The package's unit registry. Offset units (degC) convert through base units.
ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
ureg.define("linear_power_ratio = 1 = linear")

# CF/UDUNITS spellings pint does not know, mapped to what it does.
_ALIASES = {
    "": "dimensionless",
    "1": "dimensionless",
    "-": "dimensionless",
    "none": "dimensionless",
    "unitless": "dimensionless",
    "fraction": "dimensionless",
    "reflectance": "dimensionless",
    "%": "percent",
    "db": "dB",
    "decibel": "dB",
    "decibels": "dB",
    "degc": "degC",
    "deg_c": "degC",
    "degree_c": "degC",
    "degrees_c": "degC",
    "celsius": "degC",
    "degree_celsius": "degC",
    "degrees_celsius": "degC",
    "degk": "K",
    "deg_k": "K",
    "degree_k": "K",
    "degrees_k": "K",
    "deg": "degree",
    "degrees": "degree",
    "degrees_north": "degree",
    "degrees_east": "degree",
    "metre": "m",
    "metres": "m",
    "meters": "m",
}
# "m3 m-3", "kg m-2 s-1": a unit name followed by an integer exponent.
_EXPONENT = re.compile(r"(?<=[A-Za-z])(-?\d+)")


@lru_cache(maxsize=256)
def parse_units(units: str) -> pint.Unit:
    """Parse a CF/UDUNITS or pint units string.

    Parameters
    ----------
    units
        E.g. ``"m3 m-3"``, ``"K"``, ``"degrees_Celsius"``, ``"dB"``, ``"1"``, ``"%"``.

    Raises
    ------
    UnitError
        If the string is not a unit pint or the CF spellings know.

    Examples
    --------
    >>> parse_units("m3 m-3")
    <Unit('dimensionless')>
    >>> parse_units("degrees_Celsius")
    <Unit('degree_Celsius')>
    """
    text = units.strip()
    text = _ALIASES.get(text.lower(), text)
    if text not in _ALIASES.values():
        text = " * ".join(_EXPONENT.sub(r"**\1", part) for part in text.split())
    try:
        return ureg.parse_units(text)
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, SyntaxError) as err:
        raise UnitError(f"unknown units {units!r}: not a CF/UDUNITS or pint unit") from err


def same_units(a: str, b: str) -> bool:
    """Whether two units strings denote the same unit (``"m3 m-3"`` and ``"1"`` do).

    Examples
    --------
    >>> same_units("degC", "degree_Celsius")
    True
    """
    return parse_units(a) == parse_units(b)


def check_convertible(source: str, target: str) -> tuple[pint.Unit, pint.Unit]:
    """Parse both units strings and check that the first converts to the second.

    Raises
    ------
    UnitError
        If either is not a unit or their dimensions differ.

    Examples
    --------
    >>> check_convertible("K", "degC")
    (<Unit('kelvin')>, <Unit('degree_Celsius')>)
    """
    src, dst = parse_units(source), parse_units(target)
    if not ureg.Quantity(1.0, src).is_compatible_with(dst):
        raise UnitError(f"cannot convert {source!r} to {target!r}: incompatible dimensions")
    return src, dst


def convert_values(values: np.ndarray, source: pint.Unit, target: pint.Unit) -> np.ndarray:
    """``values`` (numpy) converted from pint unit ``source`` to ``target``, as float32.

    The conversion runs in float64; the result is rounded once.

    Examples
    --------
    >>> convert_values(np.array([0.01, 1.0]), *check_convertible("1", "dB")).tolist()
    [-20.0, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 linear power -> -inf dB
        magnitude = ureg.Quantity(np.asarray(values, dtype=np.float64), source).to(target).magnitude
    return np.asarray(magnitude, dtype=np.float32)


def convert(da: xr.DataArray, source: str, target: str) -> xr.DataArray:
    """Convert ``da`` from units ``source`` to ``target`` as float32, lazily on dask.

    Linear power ratios convert to decibels (``10 log10``), kelvin to degrees
    Celsius, metres to millimetres, per cent to fractions, and so on: anything
    pint can convert. Coordinates and attrs are kept; ``attrs["units"]`` is set
    to ``target``.

    Raises
    ------
    UnitError
        If either string is not a unit, or the two are not convertible.

    Examples
    --------
    >>> t = xr.DataArray([273.15, 293.15], dims="x", attrs={"units": "K"})
    >>> convert(t, "K", "degC").values.round(2).tolist()
    [0.0, 20.0]
    """
    src, dst = check_convertible(source, target)
    if src == dst:
        out = da.astype(np.float32)
    else:
        out = xr.apply_ufunc(
            convert_values,
            da,
            kwargs={"source": src, "target": dst},
            dask="parallelized",
            output_dtypes=[np.float32],
            keep_attrs=True,
        )
    out.attrs["units"] = target
    return out
