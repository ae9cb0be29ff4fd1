"""Daily water balance of the 0-5 cm soil layer, per pixel (numba).

Each day, in this order, for a layer of depth ``Z`` (50 mm) holding
``theta`` (m3/m3):

1. Air temperature at the pixel: the coarse cell temperature interpolated
   bilinearly, corrected to the pixel's height with the lapse rate
   (6.5 K/km).
2. Snow (degree-day model; Hock 2003, "Temperature index melt modelling in
   mountain areas", Journal of Hydrology 282:104-115): precipitation falls as
   snow below 0 degC and accumulates; melt is ``DDF * max(T, 0)``, at most
   the snowpack.
3. Canopy interception: ``I = min(P_rain, S_c LAI)`` with ``S_c = 0.2`` mm
   per unit LAI (Dickinson 1984, in *Climate Processes and Climate
   Sensitivity*, AGU Geophysical Monograph 29), evaporated the same day.
4. Irrigation: flood irrigation of ``amount`` mm on the parcel's turn, every
   ``interval`` days within the irrigation season (arid-basin maize).
5. Infiltration: saturation excess only, ``F = min(W, (theta_s - theta) Z)``
   for the water ``W`` reaching the ground; the rest runs off.
6. Drainage: gravity drainage at the unsaturated conductivity
   ``K(theta) = K_s (theta / theta_s)^(3 + 2/lambda)`` (Saxton & Rawls
   2006, equation 16) over one day, stopping at field capacity.
7. Evapotranspiration: potential ET from Hamon's formula (Hamon 1961, as
   written by Lu et al. 2005, "A comparison of six potential
   evapotranspiration methods for regional use in the southeastern United
   States", JAWRA 41:621-633): ``PET = 0.1651 * (N / 12) * rho_sat * KPEC``
   mm/day, with day length ``N`` in hours, ``rho_sat = 216.7 e_sat / (T +
   273.3)`` g/m3, ``e_sat = 6.108 exp(17.26939 T / (T + 237.3))`` hPa and
   ``KPEC = 1.2``. Beer's law splits it between the soil and the canopy
   (Ritchie 1972, Water Resources Research 8:1204-1213): soil evaporation
   ``PET exp(-k LAI) beta_e`` with ``beta_e = (theta - theta_r) /
   (theta_fc - theta_r)`` clipped to 0-1, none under snow; transpiration
   from the layer ``PET (1 - exp(-k LAI)) f_root beta_t`` with ``beta_t =
   (theta - theta_wp) / (theta_fc - theta_wp)`` clipped to 0-1 and
   ``f_root`` the roots' share in the layer.
8. Exchange with the subsoil and the slope: the layer relaxes towards an
   equilibrium content ``theta_eq`` at ``exchange_rate`` per day; in the
   spirit of TOPMODEL (Beven & Kirkby 1979, Hydrological Sciences Bulletin
   24:43-69), ``theta_eq`` rises with the topographic wetness index (see
   :func:`equilibrium_moisture`), so convergent hollows stay wetter and
   divergent ridges drier; under irrigated parcels it is at least the
   field capacity.
9. ``theta`` is kept within ``[theta_r, theta_s]``. Every flux above is
   bounded so that it stays there; the final clip only guards rounding.

Day length: FAO-56 (Allen et al. 1998), equations 24, 25 and 34.

Each step is a small compiled function (``_at_pixel``, ``_snow``, ``_through_canopy``,
``_irrigated``, ``_infiltrate``, ``_drain``, ``_evapotranspire``, ``_exchange``);
``_pixel_series`` runs them day by day for one pixel, and
:func:`simulate_water_balance` for every pixel of a block.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from xsoilmoist.synthetic.regions import Hydrology
from xsoilmoist.synthetic.vegetation import double_logistic

__all__ = [
    "day_length",
    "equilibrium_moisture",
    "hamon_pet",
    "simulate_water_balance",
]


def day_length(latitude: float, doy) -> np.ndarray:
    """Hours of daylight (FAO-56 equations 24, 25 and 34).

    Examples
    --------
    >>> round(float(day_length(46.8, 172)), 1)  # Wangkui at the June solstice
    15.7
    """
    phi = math.radians(latitude)
    declination = 0.409 * np.sin(2.0 * np.pi * np.asarray(doy, dtype=np.float64) / 365.0 - 1.39)
    cos_sunset = np.clip(-math.tan(phi) * np.tan(declination), -1.0, 1.0)
    return 24.0 / np.pi * np.arccos(cos_sunset)


@numba.njit(cache=True, nogil=True)
def hamon_pet(temperature, day_hours, coefficient):  # pragma: no cover - compiled
    """Hamon potential evapotranspiration, mm/day (Lu et al. 2005, equation 4)."""
    e_sat = 6.108 * math.exp(17.26939 * temperature / (temperature + 237.3))
    rho_sat = 216.7 * e_sat / (temperature + 273.3)
    return 0.1651 * (day_hours / 12.0) * rho_sat * coefficient


def equilibrium_moisture(
    twi: np.ndarray,
    twi_mean: float,
    twi_sd: float,
    residual: np.ndarray,
    saturation: np.ndarray,
    hydrology: Hydrology,
    *,
    field_capacity: np.ndarray | None = None,
    irrigated: np.ndarray | None = None,
) -> np.ndarray:
    """The content the layer relaxes to, rising with the wetness index.

    ``theta_eq = theta_r + (theta_s - theta_r) * (s_low + (s_high - s_low) *
    L(z))`` with ``z = (TWI - mean) / sd`` the scene's standardised wetness
    index (TOPMODEL relates local storage deficits to the deviation of the
    index from its catchment mean) and ``L(z) = 1 / (1 + exp(-(g z - o)))``.
    Under irrigated parcels the irrigation keeps the subsoil moist, so there
    the equilibrium is at least the field capacity.

    Examples
    --------
    >>> h = Hydrology(equilibrium_saturation_low=0.2, equilibrium_saturation_high=0.8)
    >>> eq = equilibrium_moisture(np.array([5.0, 15.0]), 8.0, 2.0, np.array([0.05, 0.05]),
    ...                           np.array([0.45, 0.45]), h)
    >>> bool(eq[1] > eq[0])
    True
    """
    z = (np.asarray(twi, dtype=np.float64) - twi_mean) / max(twi_sd, 1e-9)
    logistic = 1.0 / (
        1.0 + np.exp(-(hydrology.wetness_index_gain * z - hydrology.wetness_index_offset))
    )
    low, high = hydrology.equilibrium_saturation_low, hydrology.equilibrium_saturation_high
    relative = low + (high - low) * logistic
    equilibrium = residual + (saturation - residual) * relative
    if irrigated is not None:
        equilibrium = np.where(irrigated, np.maximum(equilibrium, field_capacity), equilibrium)
    return equilibrium


@numba.njit(cache=True, nogil=True)
def _at_pixel(cells, day, at):  # pragma: no cover - compiled
    """Step 1: a coarse daily field interpolated bilinearly to the pixel ``at``."""
    row, row_weight, col, col_weight = at
    return (1.0 - row_weight) * (
        (1.0 - col_weight) * cells[day, row, col] + col_weight * cells[day, row, col + 1]
    ) + row_weight * (
        (1.0 - col_weight) * cells[day, row + 1, col] + col_weight * cells[day, row + 1, col + 1]
    )


@numba.njit(cache=True, nogil=True)
def _snow(precipitation, temperature, snowpack, degree_day_factor):  # pragma: no cover
    """Step 2, degree-day snow: ``(rain, melt, snowpack)`` of the day."""
    rain = precipitation
    if temperature < 0.0:
        snowpack += precipitation
        rain = 0.0
    melt = min(snowpack, degree_day_factor * max(temperature, 0.0))
    return rain, melt, snowpack - melt


@numba.njit(cache=True, nogil=True)
def _through_canopy(rain, lai, interception_per_lai):  # pragma: no cover - compiled
    """Step 3: the rain left once the canopy has intercepted its share (evaporated the same day)."""
    return rain - min(rain, interception_per_lai * lai)


@numba.njit(cache=True, nogil=True)
def _irrigated(flooding, doy, day_number):  # pragma: no cover - compiled
    """Step 4: whether the parcel is flooded today (``flooding``: interval, phase, days of year)."""
    interval, phase, first_doy, last_doy = flooding
    return interval > 0 and first_doy <= doy <= last_doy and (day_number + phase) % interval == 0


@numba.njit(cache=True, nogil=True)
def _infiltrate(theta, water, saturation, depth):  # pragma: no cover - compiled
    """Step 5, saturation excess: ``theta`` after the water that fits has entered."""
    return theta + min(water, (saturation - theta) * depth) / depth


@numba.njit(cache=True, nogil=True)
def _drain(theta, field_capacity, saturation, ksat_per_day, exponent, depth):  # pragma: no cover
    """Step 6: one day of gravity drainage at ``K(theta)``, stopping at field capacity."""
    if theta > field_capacity:
        conductivity = ksat_per_day * (theta / saturation) ** exponent
        theta -= min(conductivity, (theta - field_capacity) * depth) / depth
    return theta


@numba.njit(cache=True, nogil=True)
def _evapotranspire(
    theta, pet, lai, snowpack, hydraulics, root_fraction, extinction, depth
):  # pragma: no cover - compiled
    """Step 7: ``theta`` after soil evaporation (none under snow) and root uptake."""
    th_r, th_wp, th_fc = hydraulics[0], hydraulics[1], hydraulics[2]
    cover = 1.0 - math.exp(-extinction * lai)
    evaporation = 0.0
    if snowpack <= 0.0:
        stress_e = min(max((theta - th_r) / (th_fc - th_r), 0.0), 1.0)
        evaporation = pet * (1.0 - cover) * stress_e
    stress_t = min(max((theta - th_wp) / (th_fc - th_wp), 0.0), 1.0)
    transpiration = pet * cover * root_fraction * stress_t
    return theta - min(evaporation + transpiration, max(theta - th_r, 0.0) * depth) / depth


@numba.njit(cache=True, nogil=True)
def _exchange(theta, theta_eq, rate, residual, saturation):  # pragma: no cover - compiled
    """Steps 8 and 9: relax towards ``theta_eq``, then keep within ``[theta_r, theta_s]``."""
    theta += rate * (theta_eq - theta)
    return min(max(theta, residual), saturation)


@numba.njit(cache=True, nogil=True)
def _pixel_inputs(fields, i, j):  # pragma: no cover - compiled
    """Pixel ``(i, j)``'s own values of the per-pixel ``fields``, read once, as scalars."""
    _, _, rows, columns, height, soil, theta_eq, vegetation, irrigation = fields
    residual, wilting_point, field_capacity, saturation, ksat_per_day, exponent = soil
    lai_min, lai_max, green_up, senescence, rate, root_fraction = vegetation
    interval, phase, amount, first_doy, last_doy = irrigation
    return (
        (rows[0][i], rows[1][i], columns[0][j], columns[1][j]),
        height[i, j],
        (residual[i, j], wilting_point[i, j], field_capacity[i, j], saturation[i, j]),
        (ksat_per_day[i, j], exponent[i, j]),
        min(max(theta_eq[i, j], residual[i, j]), saturation[i, j]),
        (lai_min[i, j], lai_max[i, j], green_up[i, j], senescence[i, j], rate[i, j]),
        root_fraction[i, j],
        (interval[i, j], phase[i, j], first_doy[i, j], last_doy[i, j]),
        amount[i, j],
    )


@numba.njit(cache=True, nogil=True)
def _pixel_series(out, i, j, fields, output_days, constants):  # pragma: no cover - compiled
    """The daily balance of pixel ``(i, j)``, written into ``out[:, i, j]`` on the output days."""
    depth, exchange, interception, extinction, ddf, lapse, kpec = constants
    (doy, day_number, day_hours), (precipitation, temperature) = fields[0], fields[1]
    at, height, hydraulics, drainage, th_eq, phenology, roots, flooding, amount = _pixel_inputs(
        fields, i, j
    )
    th_r, _, th_fc, th_s = hydraulics
    theta = th_eq
    snowpack = 0.0
    next_output = 0
    for d in range(doy.shape[0]):
        p = _at_pixel(precipitation, d, at)
        t = _at_pixel(temperature, d, at) - lapse * height
        lai = double_logistic(
            doy[d], phenology[0], phenology[1], phenology[2], phenology[3], phenology[4]
        )
        rain, melt, snowpack = _snow(p, t, snowpack, ddf)
        water = _through_canopy(rain, lai, interception) + melt
        if _irrigated(flooding, doy[d], day_number[d]):
            water += amount
        theta = _infiltrate(theta, water, th_s, depth)
        theta = _drain(theta, th_fc, th_s, drainage[0], drainage[1], depth)
        pet = hamon_pet(t, day_hours[d], kpec) if t > -30.0 else 0.0
        theta = _evapotranspire(theta, pet, lai, snowpack, hydraulics, roots, extinction, depth)
        theta = _exchange(theta, th_eq, exchange, th_r, th_s)
        if next_output < output_days.shape[0] and output_days[next_output] == d:
            out[next_output, i, j] = theta
            next_output += 1


@numba.njit(cache=True, nogil=True)
def _water_balance(fields, output_days, constants):  # pragma: no cover - compiled
    """Soil moisture of every pixel on the output days (``fields`` as the caller groups them)."""
    ny, nx = fields[6].shape  # theta_eq
    out = np.empty((output_days.shape[0], ny, nx), dtype=np.float32)
    for i in range(ny):
        for j in range(nx):
            _pixel_series(out, i, j, fields, output_days, constants)
    return out


def simulate_water_balance(
    *,
    doy: np.ndarray,
    day_number: np.ndarray,
    day_hours: np.ndarray,
    cell_precipitation: np.ndarray,
    cell_temperature: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    columns: tuple[np.ndarray, np.ndarray],
    height_above_reference: np.ndarray,
    soil,
    theta_eq: np.ndarray,
    vegetation,
    output_days: np.ndarray,
    hydrology: Hydrology,
) -> np.ndarray:
    """Soil moisture (m3/m3, float32) of every pixel at the end of each output day.

    Parameters
    ----------
    doy, day_number, day_hours
        Per simulated day: day of year, days since 1970-01-01 (the irrigation
        calendar) and hours of daylight.
    cell_precipitation, cell_temperature
        Coarse daily weather, ``(day, cell_y, cell_x)``, mm and degC.
    rows, columns
        Bilinear (index, weight) of each pixel row and column between cell
        centres (:func:`~xsoilmoist.synthetic.weather.bilinear_weights`).
    height_above_reference
        Pixel elevation minus the weather's reference height, m.
    soil
        :class:`~xsoilmoist.synthetic.soil.SoilHydraulics` of the pixels.
    theta_eq
        Equilibrium content (:func:`equilibrium_moisture`).
    vegetation
        :class:`~xsoilmoist.synthetic.vegetation.VegetationMaps` of the pixels.
    output_days
        Increasing indices of the days to return.
    hydrology
        Water-balance constants.

    Returns
    -------
    numpy.ndarray
        ``(output day, y, x)`` float32.
    """
    constants = (
        float(hydrology.layer_depth),
        float(hydrology.exchange_rate),
        float(hydrology.interception_per_lai),
        float(hydrology.radiation_extinction),
        float(hydrology.degree_day_factor),
        float(hydrology.lapse_rate) / 1000.0,
        float(hydrology.potential_et_coefficient),
    )
    f64 = np.float64
    fields = (
        (np.asarray(doy, f64), np.asarray(day_number, np.int64), np.asarray(day_hours, f64)),
        (np.asarray(cell_precipitation, f64), np.asarray(cell_temperature, f64)),
        (np.asarray(rows[0], np.int64), np.asarray(rows[1], f64)),
        (np.asarray(columns[0], np.int64), np.asarray(columns[1], f64)),
        np.asarray(height_above_reference, f64),
        (
            soil.residual,
            soil.wilting_point,
            soil.field_capacity,
            soil.saturation,
            soil.ksat * 24.0,
            3.0 + 2.0 / soil.pore_size_index,
        ),
        np.asarray(theta_eq, f64),
        (
            vegetation.lai_min,
            vegetation.lai_max,
            vegetation.green_up,
            vegetation.senescence,
            vegetation.rate,
            vegetation.root_fraction,
        ),
        (
            vegetation.irrigation_interval,
            vegetation.irrigation_phase,
            vegetation.irrigation_amount,
            vegetation.irrigation_start,
            vegetation.irrigation_end,
        ),
    )
    return _water_balance(fields, np.asarray(output_days, np.int64), constants)
