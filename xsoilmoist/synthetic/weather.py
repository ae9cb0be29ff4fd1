"""Daily weather on a coarse, ERA5-like grid, and its delivery onto the scene grid.

A stochastic weather generator in the manner of WGEN (Richardson 1981,
"Stochastic simulation of daily precipitation, temperature, and solar
radiation", Water Resources Research 17:182-190):

- Occurrence: a two-state first-order Markov chain. With ``pi`` the month's
  wet-day fraction and ``r`` the lag-1 autocorrelation of occurrence,
  ``P(wet | wet) = pi + r (1 - pi)`` and ``P(wet | dry) = pi (1 - r)``, which
  keeps the stationary wet fraction at ``pi``.
- Amount on a wet day: gamma-distributed with shape ``a`` and mean
  ``monthly_total / (days_in_month * pi)``.
- Temperature: the monthly climatology, linearly interpolated between
  mid-month values, plus an AR(1) anomaly (lag-1 correlation ``phi``,
  standard deviation ``sd``), minus a cooling ``c`` on wet days, centred so
  that the monthly mean is kept: ``- c (wet - pi)``.

The regional series is shared by all cells of the weather grid (cells are
25 km squares anchored at multiples of the cell size in the scene CRS, about
ERA5's 0.25 degrees); each cell scales the day's amount by a lognormal factor
with the region's coefficient of variation and adds a fixed temperature
offset. Cell factors are hashed from the cell's absolute indices, so a cell
gets the same weather whatever the scene's extent. On the scene grid the cell
values are interpolated bilinearly between cell centres, as ERA5 fields are
when resampled to a fine grid.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from xsoilmoist.synthetic.random_fields import normal, stream_key
from xsoilmoist.synthetic.regions import Climate

__all__ = ["CoarseWeather", "bilinear_weights", "simulate_weather"]

_MID_MONTH_DOY = np.array([15.5, 45, 74.5, 105, 135.5, 166, 196.5, 227.5, 258, 288.5, 319, 349.5])
_DAYS_IN_MONTH = np.array([31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


@dataclass(frozen=True)
class CoarseWeather:
    """Daily weather on the coarse grid.

    Attributes
    ----------
    days
        The days simulated (``datetime64[D]``), consecutive.
    cell_x, cell_y
        Cell-centre coordinates in the scene CRS (y descending), m.
    precipitation
        Daily totals, mm, shape ``(day, cell_y, cell_x)``.
    temperature
        Daily mean 2 m air temperature, degC, same shape.
    """

    days: np.ndarray
    cell_x: np.ndarray
    cell_y: np.ndarray
    precipitation: np.ndarray
    temperature: np.ndarray


def _day_of_year(days: np.ndarray) -> np.ndarray:
    return (days - days.astype("datetime64[Y]")).astype(np.int64) + 1


def _daily_climatology(monthly, doy: np.ndarray) -> np.ndarray:
    """Monthly values interpolated linearly (and cyclically) between mid-month days."""
    xp = np.concatenate([_MID_MONTH_DOY - 365.25, _MID_MONTH_DOY, _MID_MONTH_DOY + 365.25])
    fp = np.tile(np.asarray(monthly, dtype=np.float64), 3)
    return np.interp(doy, xp, fp)


def _regional_series(climate: Climate, days: np.ndarray, seed: int):
    """Regional daily precipitation (mm) and temperature (degC) of the days."""
    rng = np.random.default_rng([seed, zlib.crc32(b"weather")])
    doy = _day_of_year(days).astype(np.float64)
    wet_fraction = np.clip(_daily_climatology(climate.monthly_wet_day_fraction, doy), 1e-3, 0.99)
    monthly_mean_amount = np.asarray(climate.monthly_precipitation, dtype=np.float64) / (
        _DAYS_IN_MONTH * np.asarray(climate.monthly_wet_day_fraction, dtype=np.float64)
    )
    mean_amount = _daily_climatology(monthly_mean_amount, doy)
    r = climate.wet_day_persistence
    uniforms = rng.random(days.size)
    amounts = rng.gamma(climate.rain_amount_shape, 1.0, days.size)
    innovations = rng.standard_normal(days.size)
    wet = np.zeros(days.size, dtype=bool)
    previous_wet = uniforms[0] < wet_fraction[0]
    for day in range(days.size):
        pi = wet_fraction[day]
        p_wet = pi + r * (1.0 - pi) if previous_wet else pi * (1.0 - r)
        wet[day] = previous_wet = uniforms[day] < p_wet
    precipitation = np.where(wet, amounts * mean_amount / climate.rain_amount_shape, 0.0)

    phi, sd = climate.temperature_persistence, climate.temperature_anomaly_sd
    anomaly = np.empty(days.size)
    anomaly[0] = sd * innovations[0]
    for day in range(1, days.size):
        anomaly[day] = phi * anomaly[day - 1] + sd * np.sqrt(1.0 - phi * phi) * innovations[day]
    temperature = _daily_climatology(climate.monthly_temperature, doy) + anomaly
    temperature = temperature - climate.wet_day_cooling * (wet - wet_fraction)
    return precipitation, temperature


def simulate_weather(
    climate: Climate,
    days: np.ndarray,
    bounds: tuple[float, float, float, float],
    cell_size: float,
    seed: int,
) -> CoarseWeather:
    """Daily weather on the coarse cells around the scene ``bounds`` (xmin, ymin, xmax, ymax).

    The cells cover the scene plus one ring, so that bilinear interpolation
    between cell centres covers every pixel.

    Examples
    --------
    >>> from xsoilmoist.synthetic.regions import REGIONS
    >>> days = np.arange("2021-06-01", "2021-07-01", dtype="datetime64[D]")
    >>> weather = simulate_weather(REGIONS["farmland"].climate, days,
    ...                            (500000.0, 5e6, 502560.0, 5002560.0), 25000.0, seed=0)
    >>> weather.precipitation.shape[0], bool((weather.precipitation >= 0).all())
    (30, True)
    """
    xmin, ymin, xmax, ymax = bounds
    first_col = int(np.floor(xmin / cell_size - 0.5)) - 1
    last_col = int(np.floor(xmax / cell_size - 0.5)) + 2
    first_row = int(np.floor(ymin / cell_size - 0.5)) - 1
    last_row = int(np.floor(ymax / cell_size - 0.5)) + 2
    columns = np.arange(first_col, last_col + 1)
    rows = np.arange(last_row, first_row - 1, -1)  # north first
    cell_x = (columns + 0.5) * cell_size
    cell_y = (rows + 0.5) * cell_size

    precipitation, temperature = _regional_series(climate, days, seed)
    day_index = (days - np.datetime64("1970-01-01", "D")).astype(np.int64)
    cv = climate.cell_precipitation_cv
    log_sd = np.sqrt(np.log1p(cv * cv))
    rain_key = stream_key(seed, "weather_cell_rain")
    factor = np.exp(
        log_sd * normal(rain_key, day_index[:, None, None], rows[:, None], columns[None, :])
        - 0.5 * log_sd * log_sd
    )
    offset_key = stream_key(seed, "weather_cell_temperature")
    offset = climate.cell_temperature_sd * normal(offset_key, rows[:, None], columns[None, :])
    return CoarseWeather(
        days=days,
        cell_x=cell_x,
        cell_y=cell_y,
        precipitation=precipitation[:, None, None] * factor,
        temperature=temperature[:, None, None] + offset[None, :, :],
    )


def bilinear_weights(coordinates: np.ndarray, centres: np.ndarray):
    """Index of the lower cell centre and the weight of the next, per coordinate.

    ``centres`` are evenly spaced (ascending or descending); the value at a
    coordinate is ``(1 - w) * v[i] + w * v[i + 1]``.

    Examples
    --------
    >>> bilinear_weights(np.array([5.0, 12.5]), np.array([0.0, 10.0, 20.0]))
    (array([0, 1]), array([0.5 , 0.25]))
    """
    step = centres[1] - centres[0]
    position = (np.asarray(coordinates, dtype=np.float64) - centres[0]) / step
    index = np.clip(np.floor(position).astype(np.int64), 0, centres.size - 2)
    return index, position - index
