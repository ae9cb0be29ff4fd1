"""Per-pixel fields of one block of a scene, from soil to sensors.

:func:`simulate_block` makes all per-pixel fields of a block of the scene
from its terrain (elevation, slope, aspect, wetness index) and a
:class:`BlockContext` (seed, parameters, coarse weather, overpass days). It
reads nothing else, and every random number it draws is a function of the
seed and the pixels' absolute grid indices or CRS coordinates, so a block
gives the same values whether the scene is made whole or in chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array
import numpy as np
import xarray as xr

from xsoilmoist.catalogue import BANDS
from xsoilmoist.synthetic import optical, sar
from xsoilmoist.synthetic.random_fields import fbm, stream_key
from xsoilmoist.synthetic.randomization import SceneDraws, atmosphere_residual
from xsoilmoist.synthetic.regions import OPTICAL_BANDS, ObservingSystem, Region
from xsoilmoist.synthetic.soil import clip_texture, saxton_rawls, texture_fields
from xsoilmoist.synthetic.vegetation import lai_on_day, litter_cover, vegetation_maps
from xsoilmoist.synthetic.water_balance import (
    day_length,
    equilibrium_moisture,
    simulate_water_balance,
)
from xsoilmoist.synthetic.weather import CoarseWeather, bilinear_weights

__all__ = [
    "BLOCK_FIELDS",
    "EPOCH",
    "TIME_YX",
    "YX",
    "BlockContext",
    "block_template",
    "simulate_block",
]

#: Day 0 of the day numbers (the irrigation calendar, orbits, per-date random streams).
EPOCH = np.datetime64("1970-01-01", "D")
TIME_YX = ("time", "y", "x")
YX = ("y", "x")

#: name -> (dims, dtype, units, long_name) of the per-pixel fields made block by block.
BLOCK_FIELDS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    **{pol: (TIME_YX, "float32", "dB", BANDS[pol].long_name) for pol in ("vv", "vh", "hh", "hv")},
    "angle": (TIME_YX, "float32", "degree", "SAR incidence angle on the ellipsoid"),
    **{band: (TIME_YX, "float32", "1", BANDS[band].long_name) for band in OPTICAL_BANDS},
    "t2m": (TIME_YX, "float32", "degC", "daily mean air temperature at 2 m (ERA5-like grid)"),
    "tp": (
        TIME_YX,
        "float32",
        "mm",
        "total precipitation of the overpass day (ERA5-like grid)",
    ),
    "ssm_true": (TIME_YX, "float32", "m3 m-3", "true surface soil moisture, 0-5 cm"),
    "sim_lai": (
        TIME_YX,
        "float32",
        "m2 m-2",
        "true leaf area index at 10 m (simulation internal)",
    ),
    "sim_cloud_mask": (
        TIME_YX,
        "uint8",
        "1",
        "optical cloud mask: 0 clear, 1 cloud, 2 cloud shadow (simulation internal)",
    ),
    "sim_sand": (YX, "float32", "1", "sand mass fraction (simulation internal)"),
    "sim_clay": (YX, "float32", "1", "clay mass fraction (simulation internal)"),
    "sim_land_cover": (YX, "uint8", "1", "land-cover class (simulation internal)"),
    "sim_rms_height": (YX, "float32", "cm", "surface rms height (simulation internal)"),
    "sim_residual_moisture": (
        YX,
        "float32",
        "m3 m-3",
        "residual (air-dry) water content (simulation internal)",
    ),
    "sim_wilting_point": (
        YX,
        "float32",
        "m3 m-3",
        "water content at 1500 kPa (simulation internal)",
    ),
    "sim_field_capacity": (
        YX,
        "float32",
        "m3 m-3",
        "water content at 33 kPa (simulation internal)",
    ),
    "sim_saturated_moisture": (
        YX,
        "float32",
        "m3 m-3",
        "saturated water content (simulation internal)",
    ),
}


@dataclass(frozen=True)
class BlockContext:
    """Everything a block needs besides its terrain fields.

    Attributes
    ----------
    seed, region, observing, resolution
        The scene's seed, parameters and pixel size (m).
    centre
        Scene centre ``(x, y)`` in the CRS (the swath's incidence gradient).
    l_band
        Whether to simulate ``hh`` and ``hv``.
    weather
        Coarse weather of every simulated day, spin-up included.
    output_days
        Index into ``weather.days`` of each overpass.
    twi_mean, twi_sd
        The whole scene's wetness-index mean and standard deviation.
    draws
        The scene's calibration offsets, incidence angles and looks.
    """

    seed: int
    region: Region
    observing: ObservingSystem
    resolution: float
    centre: tuple[float, float]
    l_band: bool
    weather: CoarseWeather
    output_days: np.ndarray
    twi_mean: float
    twi_sd: float
    draws: SceneDraws

    @property
    def doy(self) -> np.ndarray:
        """Day of year of each simulated day."""
        days = self.weather.days
        return ((days - days.astype("datetime64[Y]")).astype(np.int64) + 1).astype(np.float64)

    @property
    def day_number(self) -> np.ndarray:
        """Days since 1970-01-01 of each simulated day."""
        return (self.weather.days - EPOCH).astype(np.int64)

    def field_names(self) -> list[str]:
        """Names of the fields a block returns."""
        return [n for n in BLOCK_FIELDS if self.l_band or n not in ("hh", "hv")]


def _interpolate_cells(cells: np.ndarray, rows, columns) -> np.ndarray:
    """Bilinear interpolation of a ``(cell_y, cell_x)`` field onto a block's pixels."""
    (r0, wy), (c0, wx) = rows, columns
    upper = cells[r0][:, c0] * (1.0 - wx) + cells[r0][:, c0 + 1] * wx
    lower = cells[r0 + 1][:, c0] * (1.0 - wx) + cells[r0 + 1][:, c0 + 1] * wx
    return upper * (1.0 - wy)[:, None] + lower * wy[:, None]


def _radar(
    context: BlockContext,
    moisture: np.ndarray,
    lai: np.ndarray,
    local_angle: np.ndarray,
    surface: tuple[np.ndarray, np.ndarray],
    indices: tuple,
) -> dict[str, np.ndarray]:
    """Backscatter (dB) of one date in every simulated polarisation.

    ``surface`` is the rms height (cm) and the per-pixel factor on the WCM ``A``.
    """
    observing = context.observing
    rms_height, a_factor = surface
    bands = {"vv": ("c", observing.wcm_vv), "vh": ("c", observing.wcm_vh)}
    if context.l_band:
        bands.update(hh=("l", observing.wcm_hh), hv=("l", observing.wcm_hv))
    out = {}
    for pol, (band, (a, b)) in bands.items():
        frequency = observing.c_band_frequency if band == "c" else observing.l_band_frequency
        floor_db = (
            observing.noise_equivalent_sigma0_c
            if band == "c"
            else observing.noise_equivalent_sigma0_l
        )
        ks = sar.wavenumber(frequency) * rms_height
        soil = 10.0 ** (sar.bare_soil_db(pol, moisture, local_angle, ks) / 10.0)
        total = sar.water_cloud(soil, lai, local_angle, a * a_factor, b)
        total = total + 10.0 ** (floor_db / 10.0)
        looks = context.draws.looks
        noise = sar.speckle(stream_key(context.seed, f"speckle_{pol}"), looks, *indices)
        out[pol] = sar.to_db(total * noise * 10.0 ** (context.draws.calibration_offset[pol] / 10.0))
    return out


def _optical(
    context: BlockContext,
    moisture: np.ndarray,
    saturation: np.ndarray,
    lai: np.ndarray,
    litter: np.ndarray,
    mask: np.ndarray,
    optics: optical.SurfaceOptics,
    indices: tuple,
) -> dict[str, np.ndarray]:
    """Reflectance of one date in the six optical bands, NaN under clouds and shadows.

    ``litter`` is the fraction of the ground under dead plant material.
    """
    observing = context.observing
    relative_saturation = moisture / saturation
    offsets, gain = atmosphere_residual(context.seed, int(indices[0]), observing)
    out = {}
    for i, band in enumerate(OPTICAL_BANDS):
        soil = optical.soil_reflectance(optics.dry[i], optics.darkening[i], relative_saturation)
        ground = optical.ground_reflectance(soil, optics.residue[i], litter)
        value = optical.reflectance(ground, lai, optics.canopy[i], observing.canopy_extinction[i])
        value = value * gain + offsets[i]
        key = stream_key(context.seed, f"reflectance_noise_{band}")
        value = optical.add_noise(value, key, observing.reflectance_noise, *indices)
        out[band] = np.where(mask == optical.CLEAR, value, np.nan)
    return out


def simulate_block(static: xr.Dataset, context: BlockContext) -> xr.Dataset:
    """Every per-pixel field of one block of the scene."""
    land = _land_surface(static, context)
    weather = context.weather
    rows = bilinear_weights(static["y"].values, weather.cell_y)
    columns = bilinear_weights(static["x"].values, weather.cell_x)
    moisture = _block_moisture(static, context, land, rows, columns)
    dated_fields = _dated_fields(static, context, land, moisture, rows, columns)
    static_fields = {
        "sim_sand": land.sand,
        "sim_clay": land.clay,
        "sim_land_cover": land.vegetation.land_cover,
        "sim_rms_height": land.vegetation.rms_height,
        "sim_residual_moisture": land.soil.residual,
        "sim_wilting_point": land.soil.wilting_point,
        "sim_field_capacity": land.soil.field_capacity,
        "sim_saturated_moisture": land.soil.saturation,
    }
    variables = {}
    for name in context.field_names():
        dims, dtype = BLOCK_FIELDS[name][:2]
        if dims == TIME_YX:
            variables[name] = (dims, dated_fields[name])
        else:
            variables[name] = (dims, static_fields[name].astype(dtype))
    return xr.Dataset(
        variables, coords={"time": static["time"], "y": static["y"], "x": static["x"]}
    )


@dataclass(frozen=True)
class _LandSurface:
    """The block's time-invariant surface: vegetation, soil, optics and radar roughness."""

    vegetation: object
    optics: optical.SurfaceOptics
    surface: tuple[np.ndarray, np.ndarray]
    sand: np.ndarray
    clay: np.ndarray
    soil: object


def _land_surface(static: xr.Dataset, context: BlockContext) -> _LandSurface:
    region, observing, seed, resolution = (
        context.region,
        context.observing,
        context.seed,
        context.resolution,
    )
    y = static["y"].values
    x = static["x"].values
    vegetation = vegetation_maps(
        seed,
        y,
        x,
        region,
        resolution,
        roughness_sd=observing.roughness_sd,
        rms_height_limits=observing.rms_height_limits,
        residue_cover_limit=observing.residue_cover_limit,
    )
    dry = np.asarray(region.soil.dry_reflectance) * context.draws.soil_brightness
    optics = optical.surface_optics(seed, y, x, dry, observing, resolution)
    sd = observing.wcm_a_sd
    a_noise = fbm(stream_key(seed, "wcm_a"), y, x, scale=300.0, finest=2.0 * resolution)
    surface = (vegetation.rms_height, np.exp(sd * a_noise - 0.5 * sd * sd))
    sand, clay = texture_fields(
        (stream_key(seed, "sand"), stream_key(seed, "clay")), y, x, region.soil, resolution
    )
    sand, clay = clip_texture(sand + vegetation.sand_offset, clay + vegetation.clay_offset)
    soil = saxton_rawls(sand, clay, region.soil.organic_matter)
    return _LandSurface(vegetation, optics, surface, sand, clay, soil)


def _block_moisture(static, context: BlockContext, land: _LandSurface, rows, columns):
    """Daily surface moisture of the block at the overpass days (the water balance)."""
    region, soil, vegetation = context.region, land.soil, land.vegetation
    theta_eq = equilibrium_moisture(
        static["twi"].values,
        context.twi_mean,
        context.twi_sd,
        soil.residual,
        soil.saturation,
        region.hydrology,
        field_capacity=soil.field_capacity,
        irrigated=vegetation.irrigation_interval > 0,
    )
    doy = context.doy
    return simulate_water_balance(
        doy=doy,
        day_number=context.day_number,
        day_hours=day_length(region.latitude, doy),
        cell_precipitation=context.weather.precipitation,
        cell_temperature=context.weather.temperature,
        rows=rows,
        columns=columns,
        height_above_reference=static["elevation"].values - region.terrain.base_elevation,
        soil=soil,
        theta_eq=theta_eq,
        vegetation=vegetation,
        output_days=context.output_days,
        hydrology=region.hydrology,
    )


def _dated_fields(static, context: BlockContext, land: _LandSurface, moisture, rows, columns):
    """The observations and internals of every overpass day, ``(time, y, x)`` each."""
    region, observing, seed = context.region, context.observing, context.seed
    y = static["y"].values
    x = static["x"].values
    absolute_rows = np.round(y / context.resolution).astype(np.int64)[:, None]
    absolute_columns = np.round(x / context.resolution).astype(np.int64)[None, :]
    shape = (context.output_days.size, y.size, x.size)
    dated_fields = {
        name: np.empty(shape, dtype=BLOCK_FIELDS[name][1])
        for name in context.field_names()
        if BLOCK_FIELDS[name][0] == TIME_YX
    }
    slope = static["slope"].values
    aspect = static["aspect"].values
    doy, day_number, weather = context.doy, context.day_number, context.weather
    for step, day in enumerate(context.output_days):
        number = int(day_number[day])
        indices = (number, absolute_rows, absolute_columns)
        theta = moisture[step].astype(np.float64)
        lai = lai_on_day(land.vegetation, doy[day])
        centre_angle, look_azimuth = sar.look_geometry(
            number, context.draws.incidence, observing.heading_ascending
        )
        angle = sar.incidence_angle(
            y, x, context.centre, centre_angle, look_azimuth, observing.incidence_gradient
        )
        local_angle = sar.local_incidence(angle, slope, aspect, look_azimuth)
        radar = _radar(context, theta, lai, local_angle, land.surface, indices)
        cover = optical.cloud_cover(seed, number, region.cloud_cover_mean)
        offset = optical.shadow_offset(
            region.latitude, int(doy[day]), observing.overpass_solar_time, observing.cloud_height
        )
        mask = optical.cloud_mask(seed, number, y, x, cover, offset, context.resolution)
        saturation = land.soil.saturation
        litter = litter_cover(
            land.vegetation,
            doy[day],
            lai,
            observing.litter_decay_days,
            region.hydrology.radiation_extinction,
        )
        reflectances = _optical(context, theta, saturation, lai, litter, mask, land.optics, indices)
        dated = {
            **radar,
            **reflectances,
            "angle": angle,
            "t2m": _interpolate_cells(weather.temperature[day], rows, columns),
            "tp": _interpolate_cells(weather.precipitation[day], rows, columns),
            "ssm_true": theta,
            "sim_lai": lai,
            "sim_cloud_mask": mask,
        }
        for name, values in dated_fields.items():
            values[step] = dated[name]
    return dated_fields


def block_template(static: xr.Dataset, context: BlockContext) -> xr.Dataset:
    """Lazy stand-in with the dims, dtypes and chunks :func:`simulate_block` returns."""
    chunks = {"time": (static.sizes["time"],), "y": static.chunks["y"], "x": static.chunks["x"]}
    variables = {}
    for name in context.field_names():
        dims, dtype = BLOCK_FIELDS[name][:2]
        variables[name] = (
            dims,
            dask.array.empty(
                tuple(static.sizes[d] for d in dims),
                chunks=tuple(chunks[d] for d in dims),
                dtype=dtype,
            ),
        )
    return xr.Dataset(
        variables, coords={"time": static["time"], "y": static["y"], "x": static["x"]}
    )
