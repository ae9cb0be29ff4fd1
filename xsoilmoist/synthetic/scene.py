"""``simulate_scene``: a multimodal scene with known soil-moisture truth.

The work splits in two:

- global, computed when :func:`simulate_scene` is called: the fractal DEM,
  its slope, aspect and wetness index (flow routing needs the whole scene),
  and the daily weather on the coarse grid (a few cells);
- per pixel, block by block (:func:`~xsoilmoist.synthetic.pixel_fields.simulate_block`;
  through :func:`xarray.map_blocks` when ``chunks`` is given, so nothing is
  computed until asked): soil, land cover, the daily water balance,
  vegetation, radar and optical signals. Products on coarser grids (the
  LAI/FPAR product, the coarse labels) are sums over whole footprints, and
  the stations read the truth at their pixels.

Every random number is derived from ``seed`` and a stream name (and, per
pixel, the pixel's absolute grid indices or CRS coordinates), so a scene is
the same whatever its chunking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import dask.array
import numpy as np
import pandas as pd
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr

from xsoilmoist.catalogue import BANDS
from xsoilmoist.errors import InputError
from xsoilmoist.synthetic import labels, optical
from xsoilmoist.synthetic.antecedent import API_DAYS, api_variable
from xsoilmoist.synthetic.arguments import (
    check_chunks,
    check_positive,
    check_seed,
    check_shape,
    footprint_factor,
    is_integer,
    overpass_days,
    resolve_region,
)
from xsoilmoist.synthetic.dem import fractal_dem, terrain_derivatives
from xsoilmoist.synthetic.pixel_fields import (
    BLOCK_FIELDS,
    EPOCH,
    TIME_YX,
    YX,
    BlockContext,
    block_template,
    simulate_block,
)
from xsoilmoist.synthetic.random_fields import stream_key
from xsoilmoist.synthetic.randomization import scene_draws
from xsoilmoist.synthetic.regions import OPTICAL_BANDS, ObservingSystem, Region, parameters_dict
from xsoilmoist.synthetic.vegetation import fpar_from_lai
from xsoilmoist.synthetic.weather import simulate_weather

__all__ = ["simulate_scene"]

_SIMULATED = "SIMULATED by xsoilmoist.synthetic (observing-system simulator), not observed"


@dataclass(frozen=True)
class _Grid:
    """The scene's pixel grid: north-up, outer corner on multiples of the resolution."""

    shape: tuple[int, int]
    resolution: float
    left: float
    top: float
    epsg: int

    @classmethod
    def centred_on(cls, region: Region, shape: tuple[int, int], resolution: float) -> _Grid:
        to_utm = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{region.epsg}", always_xy=True)
        centre_x, centre_y = to_utm.transform(region.longitude, region.latitude)
        left = round((centre_x - shape[1] * resolution / 2.0) / resolution) * resolution
        top = round((centre_y + shape[0] * resolution / 2.0) / resolution) * resolution
        return cls(shape, resolution, float(left), float(top), region.epsg)

    @property
    def y(self) -> np.ndarray:
        return self.top - (np.arange(self.shape[0]) + 0.5) * self.resolution

    @property
    def x(self) -> np.ndarray:
        return self.left + (np.arange(self.shape[1]) + 0.5) * self.resolution

    @property
    def bottom(self) -> float:
        return self.top - self.shape[0] * self.resolution

    @property
    def right(self) -> float:
        return self.left + self.shape[1] * self.resolution

    @property
    def crs(self) -> str:
        return f"EPSG:{self.epsg}"

    def footprints(self, factor: int) -> labels.FootprintGrid:
        return labels.footprint_grid(self.shape, self.left, self.top, self.resolution, factor)


def _terrain(grid: _Grid, region: Region, seed: int) -> dict[str, xr.DataArray]:
    """Elevation, slope, aspect and wetness index (numpy, without the CRS coordinate)."""
    dem = xr.DataArray(
        fractal_dem(grid.shape, grid.resolution, region.terrain, seed),
        coords={"y": grid.y, "x": grid.x},
        dims=YX,
        attrs={"units": "m"},
    ).rio.write_crs(grid.crs)
    fields = {"elevation": dem, **terrain_derivatives(dem)}
    return {name: da.drop_vars("spatial_ref") for name, da in fields.items()}


def _per_pixel_fields(
    terrain: dict[str, xr.DataArray], times: pd.DatetimeIndex, context: BlockContext, chunks
) -> xr.Dataset:
    """Every per-pixel field: now on numpy, or as a lazy ``map_blocks`` graph on dask."""
    static = xr.Dataset(terrain, coords={"time": times.values})
    if chunks is None:
        return simulate_block(static, context)
    static = static.chunk({"y": chunks[0], "x": chunks[1]})
    return xr.map_blocks(
        simulate_block,
        static,
        kwargs={"context": context},
        template=block_template(static, context),
    )


def _vegetation_products(lai, context: BlockContext, grid: labels.FootprintGrid, day_numbers):
    """MODIS-like LAI and FPAR: cell means with a multiplicative retrieval error."""
    observing = context.observing
    sd = observing.lai_product_noise
    noise = labels.footprint_noise(stream_key(context.seed, "lai_product"), day_numbers, grid)
    factor = np.exp(sd * noise - 0.5 * sd * sd)
    cell_lai = np.clip(labels.footprint_means(lai, grid) * factor, *BANDS["lai"].valid_range)
    chunks = lai.chunks if isinstance(lai, dask.array.Array) else None
    lai_product = labels.smooth_to_pixels(cell_lai, grid, lai.shape[1:], chunks)
    lai_product = lai_product.astype(np.float32)
    fpar = fpar_from_lai(lai_product, observing.fpar_extinction).astype(np.float32)
    return lai_product, fpar


def _coarse_labels(truth, context: BlockContext, grid: labels.FootprintGrid, day_numbers):
    """SMAP-like labels: footprint means plus bias and noise, NaN where poorly covered."""
    observing = context.observing
    noise = labels.footprint_noise(stream_key(context.seed, "coarse_label"), day_numbers, grid)
    covered = grid.coverage >= observing.min_footprint_coverage
    values = labels.footprint_means(truth, grid) + observing.coarse_bias
    values = values + observing.coarse_noise * noise
    xp = dask.array if isinstance(values, dask.array.Array) else np
    values = xp.where(covered[None, :, :], values, np.nan)
    chunks = truth.chunks if isinstance(truth, dask.array.Array) else None
    return labels.to_pixels(values, grid, truth.shape[1:], chunks).astype(np.float32)


def _stations(truth: xr.DataArray, context: BlockContext, grid: _Grid, n_stations: int):
    """Station readings ``(station, time)`` with their pixel and CRS coordinates."""
    rows, columns = labels.station_pixels(context.seed, grid.shape, n_stations)
    at_pixels = truth.isel(
        y=xr.DataArray(rows, dims="station"), x=xr.DataArray(columns, dims="station")
    ).drop_vars(["y", "x"])
    observing = context.observing
    errors = labels.station_errors(
        context.seed,
        n_stations,
        truth.sizes["time"],
        observing.station_offset,
        observing.station_noise,
    )
    readings = (at_pixels.transpose("station", "time") + errors).clip(min=0.0).astype(np.float32)
    coords = {
        # variable-length strings: zarr v3 has no fixed-width unicode type
        "station": np.array([f"S{i + 1:03d}" for i in range(n_stations)], dtype=object),
        "station_x": ("station", grid.x[columns], {"units": "m", "long_name": "station easting"}),
        "station_y": ("station", grid.y[rows], {"units": "m", "long_name": "station northing"}),
        "station_row": (
            "station",
            rows.astype(np.int64),
            {"long_name": "row of the station pixel"},
        ),
        "station_col": (
            "station",
            columns.astype(np.int64),
            {"long_name": "column of the station pixel"},
        ),
    }
    return readings.assign_coords(coords).assign_attrs(
        units="m3 m-3",
        long_name="in-situ surface soil moisture (0-5 cm) at the stations",
        representativeness_sd=observing.station_offset,
        noise_sd=observing.station_noise,
    )


def _block_attrs(name: str, region: Region) -> dict:
    _, _, units, long_name = BLOCK_FIELDS[name]
    attrs = {"units": units, "long_name": long_name}
    if name == "sim_land_cover":
        attrs["flag_values"] = list(range(len(region.land_cover)))
        attrs["flag_meanings"] = " ".join(c.name for c in region.land_cover)
    elif name == "sim_cloud_mask":
        attrs["flag_values"] = [optical.CLEAR, optical.CLOUD, optical.SHADOW]
        attrs["flag_meanings"] = "clear cloud cloud_shadow"
    return attrs


def simulate_scene(
    region: str | Region = "farmland",
    shape: tuple[int, int] = (256, 256),
    times=None,
    seed: int = 0,
    resolution: float = 10.0,
    *,
    n_stations: int = 12,
    coarse_resolution: float = 1000.0,
    chunks=None,
    l_band: bool = False,
    observing_system: ObservingSystem | None = None,
) -> xr.Dataset:
    """Simulate a multimodal scene with known surface soil moisture (an OSSE).

    All data are SIMULATED (the Dataset's attrs say so): a fractal terrain,
    soil texture, weather, a daily water balance, vegetation phenology, then
    radar (Water Cloud Model with speckle), optical reflectance (wet soil
    darker, clouds and shadows), coarse satellite-like labels and noisy
    stations. :doc:`/simulator` gives every equation and parameter with its
    source.

    Parameters
    ----------
    region
        ``"farmland"``, ``"alpine_grassland"`` or ``"arid_basin"`` (the keys of
        :data:`~xsoilmoist.synthetic.REGIONS`), or a
        :class:`~xsoilmoist.synthetic.Region`.
    shape
        ``(rows, columns)`` of the scene, each at least 3.
    times
        ``None`` for 8 overpasses every 12 days (``revisit_days``) from
        the region's default start (its growing season of 2021); an integer for
        that many overpasses from the same start; or increasing dates, at most
        one per day (anything :func:`pandas.to_datetime` reads).
    seed
        Non-negative integer; the scene is a function of ``seed`` and the
        arguments only.
    resolution
        Pixel size, m.
    n_stations
        Number of in-situ stations, on distinct pixels.
    coarse_resolution
        Footprint size of the coarse labels, m; a whole multiple of
        ``resolution`` (SMAP-like: 1000 to 36000).
    chunks
        ``None`` (numpy, computed now), an integer, ``(rows, columns)`` or
        ``{"y": rows, "x": columns}``: dask-backed and lazy, computed block by
        block. ``time`` is never split.
    l_band
        Add L-band ``hh`` and ``hv``.
    observing_system
        Sensor and label parameters; default :class:`ObservingSystem`.

    Returns
    -------
    xarray.Dataset
        On ``(time, y, x)`` (y descending, pixel centres, UTM CRS of the
        region, written with rioxarray), in canonical names and units:
        ``vv, vh`` (dB), optional ``hh, hv`` (dB), ``angle`` (degree),
        ``blue, green, red, nir, swir1, swir2`` (reflectance, NaN under clouds
        and shadows), ``elevation`` (m), ``slope`` (degree), ``lai``
        (m2 m-2) and ``fpar`` (MODIS-like 500 m products), ``t2m`` (degC,
        daily mean), ``tp`` (mm, total of the overpass day; the truth is the
        state at the end of that day); labels ``ssm_true``, ``ssm_coarse``
        (m3 m-3, constant within a footprint, NaN where a footprint is less
        than half in the scene), ``footprint_id`` (y, x) and ``station_ssm``
        (station, time) with ``station_x``, ``station_y`` (scene CRS),
        ``station_row`` and ``station_col``; and ``sim_*`` variables, the
        simulation's internals (soil texture and hydraulic limits, land
        cover, 10 m LAI, roughness, wetness index, cloud mask, footprint
        coverage).

    Raises
    ------
    ValueError
        For an unknown region (the message lists the valid ones), a bad
        shape, seed, resolution, time series, chunks or station count.

    Examples
    --------
    >>> from xsoilmoist.synthetic import simulate_scene
    >>> ds = simulate_scene("arid_basin", shape=(32, 32), times=2, seed=1, coarse_resolution=160.0)
    >>> ds.vv.dims, ds.rio.crs.to_epsg(), ds.attrs["simulated"]
    (('time', 'y', 'x'), 32647, 'yes')
    >>> bool((ds.ssm_true >= ds.sim_residual_moisture).all())
    True
    """
    region_params = resolve_region(region)
    observing = observing_system if observing_system is not None else ObservingSystem()
    shape = check_shape(shape)
    seed = check_seed(seed)
    resolution = check_positive("resolution", resolution)
    coarse_resolution = check_positive("coarse_resolution", coarse_resolution)
    label_factor = footprint_factor(coarse_resolution, resolution)
    time_index, days_of_overpass = overpass_days(times, region_params, observing)
    chunk_sizes = check_chunks(chunks, shape)
    _check_stations_and_l_band(n_stations, l_band, shape)

    grid = _Grid.centred_on(region_params, shape, resolution)
    terrain = _terrain(grid, region_params, seed)
    context = _block_context(
        grid, terrain, region_params, observing, seed, l_band, days_of_overpass
    )
    fields = _per_pixel_fields(terrain, time_index, context, chunk_sizes)
    variables = {
        **_observed_variables(fields, terrain, context, grid, days_of_overpass, chunk_sizes),
        **_label_variables(
            fields, context, grid, days_of_overpass, chunk_sizes, coarse_resolution, int(n_stations)
        ),
        **_internal_variables(fields, terrain, context, grid, chunk_sizes, label_factor),
    }
    for da in variables.values():
        da.attrs["comment"] = _SIMULATED

    ds = _on_scene_coordinates(variables, time_index, grid)
    arguments = {
        "seed": seed,
        "shape": list(shape),
        "resolution": resolution,
        "coarse_resolution": coarse_resolution,
        "n_stations": int(n_stations),
        "l_band": l_band,
        "times": [str(d) for d in days_of_overpass],
    }
    ds.attrs = _dataset_attrs(region_params, observing, arguments)
    ds.attrs["domain_randomization"] = json.dumps(context.draws.as_attrs())
    return ds.rio.write_crs(grid.crs, inplace=True)  # ds is new: no need to copy it


def _check_stations_and_l_band(n_stations, l_band, shape: tuple[int, int]) -> None:
    if not is_integer(n_stations) or not 0 <= n_stations <= shape[0] * shape[1]:
        raise InputError(
            f"n_stations must be an integer from 0 to the number of pixels "
            f"({shape[0] * shape[1]}), got {n_stations!r}"
        )
    if not isinstance(l_band, bool):
        raise InputError(f"l_band must be True or False, got {l_band!r}")


def _block_context(
    grid, terrain, region_params: Region, observing: ObservingSystem, seed, l_band, days
) -> BlockContext:
    """What every block of the scene shares: parameters, weather, draws, TWI statistics."""
    twi = terrain["twi"].values
    spin_up = max(region_params.hydrology.spin_up_days, API_DAYS)  # api's days before, too
    first_day = days[0] - np.timedelta64(spin_up, "D")
    weather = simulate_weather(
        region_params.climate,
        np.arange(first_day, days[-1] + np.timedelta64(1, "D")),
        (grid.left, grid.bottom, grid.right, grid.top),
        observing.weather_resolution,
        seed,
    )
    return BlockContext(
        seed=seed,
        region=region_params,
        observing=observing,
        resolution=grid.resolution,
        centre=((grid.left + grid.right) / 2.0, (grid.top + grid.bottom) / 2.0),
        l_band=l_band,
        weather=weather,
        output_days=(days - first_day).astype(np.int64),
        twi_mean=float(np.nanmean(twi)),
        twi_sd=float(np.nanstd(twi)),
        draws=scene_draws(seed, observing),
    )


def _static_field(values, chunk_sizes, units: str, long_name: str, dtype="float32"):
    data = np.asarray(values).astype(dtype)
    if chunk_sizes is not None:
        data = dask.array.from_array(data, chunks=chunk_sizes)
    return xr.DataArray(data, dims=YX, attrs={"units": units, "long_name": long_name})


def _dated_field(data, units: str, long_name: str, **attrs) -> xr.DataArray:
    attrs = {"units": units, "long_name": long_name, **attrs}
    return xr.DataArray(data, dims=TIME_YX, attrs=attrs)


def _observed_variables(fields, terrain, context, grid, days, chunk_sizes) -> dict:
    """The input bands: radar, optical, terrain, vegetation products, weather."""
    region_params, observing = context.region, context.observing
    resolution = context.resolution
    product_factor = max(1, round(observing.vegetation_product_resolution / resolution))
    product_size = f"{product_factor * resolution:g} m"
    lai, fpar = _vegetation_products(
        fields["sim_lai"].data,
        context,
        grid.footprints(product_factor),
        (days - EPOCH).astype(np.int64),
    )
    variables = {
        name: fields[name].assign_attrs(_block_attrs(name, region_params))
        for name in ("vv", "vh", "hh", "hv", "angle", *OPTICAL_BANDS)
        if name in fields
    }
    variables["elevation"] = _static_field(
        terrain["elevation"], chunk_sizes, "m", BANDS["elevation"].long_name
    )
    variables["slope"] = _static_field(
        terrain["slope"], chunk_sizes, "degree", BANDS["slope"].long_name
    )
    variables["lai"] = _dated_field(
        lai, "m2 m-2", f"leaf area index, MODIS-like {product_size} product"
    )
    variables["fpar"] = _dated_field(
        fpar, "1", f"fraction of absorbed PAR, MODIS-like {product_size} product"
    )
    for name in ("t2m", "tp"):
        variables[name] = fields[name].assign_attrs(_block_attrs(name, region_params))
    variables["api"] = api_variable(context, grid.y, grid.x, chunk_sizes)
    return variables


def _label_variables(
    fields, context, grid, days, chunk_sizes, coarse_resolution: float, n_stations: int
) -> dict:
    """The truth, the coarse labels and their footprints, the stations."""
    observing = context.observing
    label_grid = grid.footprints(footprint_factor(coarse_resolution, context.resolution))
    ssm_true = fields["ssm_true"].assign_attrs(_block_attrs("ssm_true", context.region))
    ssm_true.attrs["standard_name"] = "volume_fraction_of_condensed_water_in_soil"
    return {
        "ssm_true": ssm_true,
        "ssm_coarse": _dated_field(
            _coarse_labels(
                fields["ssm_true"].data, context, label_grid, (days - EPOCH).astype(np.int64)
            ),
            "m3 m-3",
            f"coarse satellite-like soil moisture label, {coarse_resolution:g} m footprints",
            bias=observing.coarse_bias,
            noise_sd=observing.coarse_noise,
            min_footprint_coverage=observing.min_footprint_coverage,
        ),
        "footprint_id": _static_field(
            label_grid.footprint_id(grid.shape),
            chunk_sizes,
            "1",
            "index of the coarse footprint of each pixel (row-major)",
            "int32",
        ),
        "station_ssm": _stations(fields["ssm_true"], context, grid, n_stations),
    }


def _internal_variables(fields, terrain, context, grid, chunk_sizes, label_factor) -> dict:
    """The simulation's internals (``sim_*``)."""
    variables = {
        name: fields[name].assign_attrs(_block_attrs(name, context.region))
        for name in context.field_names()
        if name.startswith("sim_")
    }
    variables["sim_twi"] = _static_field(
        terrain["twi"].values,
        chunk_sizes,
        "1",
        "topographic wetness index ln(a / tan(slope)) (simulation internal)",
    )
    variables["sim_footprint_coverage"] = _static_field(
        grid.footprints(label_factor).pixel_coverage(grid.shape),
        chunk_sizes,
        "1",
        "fraction of the pixel's coarse footprint inside the scene (simulation internal)",
    )
    return variables


def _on_scene_coordinates(variables: dict, time_index, grid) -> xr.Dataset:
    ds = xr.Dataset(variables, coords={"time": time_index.values, "y": grid.y, "x": grid.x})
    ds["y"].attrs = {
        "units": "m",
        "standard_name": "projection_y_coordinate",
        "long_name": "northing",
    }
    ds["x"].attrs = {
        "units": "m",
        "standard_name": "projection_x_coordinate",
        "long_name": "easting",
    }
    ds["time"].attrs = {"long_name": "overpass day"}
    return ds


def _dataset_attrs(region: Region, observing: ObservingSystem, arguments: dict) -> dict:
    """Dataset attributes: plainly simulated, with every parameter as JSON."""
    parameters = {
        "region": parameters_dict(region),
        "observing_system": parameters_dict(observing),
        **arguments,
    }
    return {
        "title": f"SIMULATED multimodal soil-moisture scene ({region.name})",
        "simulated": "yes",
        "comment": (
            "Every variable is SIMULATED by the xsoilmoist observing-system simulator: "
            "no value is an observation. ssm_true is the simulation's truth."
        ),
        "source": "xsoilmoist.synthetic.simulate_scene",
        "region": region.name,
        "region_description": region.description,
        "seed": arguments["seed"],
        "resolution": arguments["resolution"],
        "coarse_resolution": arguments["coarse_resolution"],
        "n_stations": arguments["n_stations"],
        "l_band": "yes" if arguments["l_band"] else "no",
        "tp_period": "total of the overpass day; the truth is the state at the end of that day",
        "simulation_parameters": json.dumps(parameters),
        "references": "see the xsoilmoist documentation, page 'simulator'",
    }
