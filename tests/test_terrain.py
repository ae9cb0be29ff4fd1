"""Terrain derivatives: Horn slope/aspect as gdaldem, D8 flow accumulation, wetness index."""

from __future__ import annotations

import dask.array
import numpy as np
import pyproj
import pytest
import rioxarray
import xarray as xr
from helpers import raise_if_dask_computes
from hypothesis import given, settings
from hypothesis import strategies as st

from xsoilmoist import terrain

UTM33N = "EPSG:32633"


def _grid(z, *, res=10.0, y_descending=True, x_descending=False, crs=UTM33N, x0=300_000.0):
    """A DataArray of ``z`` (row 0 first) on a regular grid; coordinates in CRS units."""
    ny, nx = np.shape(z)
    x = x0 + res * np.arange(nx)
    y = 4_600_000.0 + res * np.arange(ny)
    x = x[::-1] if x_descending else x
    y = y[::-1] if y_descending else y
    dem = xr.DataArray(np.asarray(z), coords={"y": y, "x": x}, dims=("y", "x"))
    return dem.rio.write_crs(crs) if crs is not None else dem


def _plane(east, north, **kwargs):
    """z = east * x + north * y in metres (x east, y north), on a projected grid."""
    dem = _grid(np.zeros((7, 6)), **kwargs)
    x, y = dem.x.values, dem.y.values
    return dem.copy(data=east * (x - x.min())[None, :] + north * (y - y.min())[:, None])


def _angle_difference(a, b):
    return (np.asarray(a) - b + 180.0) % 360.0 - 180.0


def _random_dem(shape=(17, 13), seed=0):
    """A smooth random terrain in metres: random waves plus a little noise."""
    rng = np.random.default_rng(seed)
    i, j = np.mgrid[0 : shape[0], 0 : shape[1]]
    z = 50.0 + rng.normal(0.0, 0.5, shape)
    for _ in range(4):
        ki, kj = rng.uniform(-0.6, 0.6, 2)
        z += rng.uniform(5.0, 20.0) * np.sin(ki * i + kj * j + rng.uniform(0.0, 2 * np.pi))
    return z


def _dilate_3x3(mask):
    """Cells within one pixel (8-neighbourhood) of a True cell."""
    padded = np.pad(mask, 1)
    ny, nx = mask.shape
    return np.any([padded[r : r + ny, c : c + nx] for r in range(3) for c in range(3)], axis=0)


# --- slope and aspect on planes: exact everywhere, edges and corners included ---------------


@pytest.mark.parametrize(
    ("east", "north", "facing"),
    [(0.0, -0.2, 0.0), (-0.2, 0.0, 90.0), (0.0, 0.2, 180.0), (0.2, 0.0, 270.0), (-0.1, -0.1, 45.0)],
    ids=["north-facing", "east-facing", "south-facing", "west-facing", "northeast-facing"],
)
@pytest.mark.parametrize(
    ("y_descending", "x_descending"),
    [(True, False), (False, False), (True, True)],
    ids=["north-up", "south-up", "x-descending"],
)
def test_plane_slope_and_aspect_are_exact(east, north, facing, y_descending, x_descending):
    dem = _plane(east, north, y_descending=y_descending, x_descending=x_descending)
    expected_slope = np.degrees(np.arctan(np.hypot(east, north)))
    np.testing.assert_allclose(terrain.slope(dem).values, expected_slope, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        _angle_difference(terrain.aspect(dem).values, facing), 0.0, rtol=0, atol=1e-9
    )


def test_steep_plane_slope():
    dem = _plane(0.0, 1.0)  # 45 degrees
    np.testing.assert_allclose(terrain.slope(dem).values, 45.0, atol=1e-10)
    dem = _plane(3.0, 4.0)  # gradient 5
    np.testing.assert_allclose(terrain.slope(dem).values, np.degrees(np.arctan(5.0)), atol=1e-10)


def test_interior_matches_gdaldem_formulas():
    """gdaldem's Horn code, written out: slope from the 3x3 window, aspect from raw sums."""
    z = _random_dem()
    dem = _grid(z, res=30.0)  # north-up: geotransform ewres = 30, nsres = -30
    ewres, nsres = 30.0, -30.0
    w = [z[r : r + z.shape[0] - 2, c : c + z.shape[1] - 2] for r in range(3) for c in range(3)]
    x = ((w[0] + w[3] + w[3] + w[6]) - (w[2] + w[5] + w[5] + w[8])) / (8 * ewres)
    y = ((w[6] + w[7] + w[7] + w[8]) - (w[0] + w[1] + w[1] + w[2])) / (8 * nsres)
    gdal_slope = np.degrees(np.arctan(np.sqrt(x * x + y * y)))
    dx = (w[2] + w[5] + w[5] + w[8]) - (w[0] + w[3] + w[3] + w[6])
    dy = (w[6] + w[7] + w[7] + w[8]) - (w[0] + w[1] + w[1] + w[2])
    angle = np.degrees(np.arctan2(dy, -dx))
    gdal_aspect = np.where(angle > 90.0, 450.0 - angle, 90.0 - angle) % 360.0

    np.testing.assert_allclose(terrain.slope(dem).values[1:-1, 1:-1], gdal_slope, atol=1e-10)
    np.testing.assert_allclose(
        _angle_difference(terrain.aspect(dem).values[1:-1, 1:-1], gdal_aspect), 0.0, atol=1e-9
    )


def test_edges_extrapolate_like_gdaldem_compute_edges():
    """A top-edge pixel sees the missing row as 2 z[0] - z[1]; borders are finite."""
    z = _random_dem()
    dem = _grid(z, res=30.0)
    result = terrain.slope(dem).values
    assert np.isfinite(result).all()
    assert np.isfinite(terrain.aspect(dem).values).all()

    j = 5
    top = 2.0 * z[0, j - 1 : j + 2] - z[1, j - 1 : j + 2]
    a, b, c = top
    d, _, f = z[0, j - 1 : j + 2]
    g, h, i = z[1, j - 1 : j + 2]
    x = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * 30.0)
    y = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * -30.0)
    np.testing.assert_allclose(result[0, j], np.degrees(np.arctan(np.hypot(x, y))), atol=1e-10)


def test_flat_dem_has_zero_slope_and_no_aspect():
    dem = _grid(np.full((5, 6), 12.0))
    assert (terrain.slope(dem).values == 0.0).all()
    assert np.isnan(terrain.aspect(dem).values).all()


# --- geographic grids: metres per degree on the ellipsoid -----------------------------------


def _geographic_grid(lat0=60.0, shape=(9, 8), step=1 / 3600):
    lat = lat0 + step * np.arange(shape[0])[::-1]
    lon = 10.0 + step * np.arange(shape[1])
    return lon, lat


def test_geographic_plane_rising_north_at_60n():
    """1 m up per 111 m northward: slope atan(1/111), facing south."""
    lon, lat = _geographic_grid()
    geod = pyproj.Geod(ellps="WGS84")
    _, _, north = geod.inv(
        np.full(lat.size, lon[0]), np.full(lat.size, 60.0), lon[0] + 0 * lat, lat
    )
    z = np.repeat((north / 111.0)[:, None], lon.size, axis=1)
    dem = xr.DataArray(z, coords={"y": lat, "x": lon}, dims=("y", "x")).rio.write_crs("EPSG:4326")
    np.testing.assert_allclose(terrain.slope(dem).values, np.degrees(np.arctan(1 / 111)), rtol=1e-6)
    np.testing.assert_allclose(terrain.aspect(dem).values, 180.0, atol=1e-6)


def test_geographic_plane_rising_east_at_60n():
    """Eastward metres per degree at 60N are half those at the equator; the slope must not be."""
    lon, lat = _geographic_grid()
    geod = pyproj.Geod(ellps="WGS84")
    lon2d, lat2d = np.meshgrid(lon, lat)
    _, _, east = geod.inv(np.full_like(lon2d, lon[0]), lat2d, lon2d, lat2d)
    dem = xr.DataArray(east / 111.0, coords={"y": lat, "x": lon}, dims=("y", "x"))
    dem = dem.rio.write_crs("EPSG:9707")  # WGS 84 + EGM96 height, as the Rome DEM
    np.testing.assert_allclose(terrain.slope(dem).values, np.degrees(np.arctan(1 / 111)), rtol=1e-6)
    # Distance east along a parallel shrinks northward (cos latitude): at d(longitude) east of
    # the first column the surface also falls northward, turning it by d(longitude) sin(60).
    turn = np.degrees(np.radians(lon - lon[0]) * np.sin(np.radians(lat))[:, None])
    np.testing.assert_allclose(terrain.aspect(dem).values, 270.0 + turn, atol=1e-6)


def test_projected_crs_in_us_feet_is_converted():
    """Texas Central (EPSG:2277) is in US survey feet: 0.3048006 m per coordinate unit."""
    dem = _plane(0.0, 0.1, res=100.0, crs="EPSG:2277", x0=2_000_000.0)  # 0.1 m per ft of y
    expected = np.degrees(np.arctan(0.1 / (1200 / 3937)))
    np.testing.assert_allclose(terrain.slope(dem).values, expected, rtol=1e-9)


def test_elevations_in_feet_are_converted():
    dem = _plane(0.0, 0.5)
    dem.attrs["units"] = "ft"
    np.testing.assert_allclose(
        terrain.slope(dem).values, np.degrees(np.arctan(0.5 * 0.3048)), rtol=1e-9
    )


# --- the real Rome DEM against an independent implementation ---------------------------------


def _independent_horn(z, lon, lat):
    """Horn's gradients with metres from geodesic distances (pyproj.Geod), plain numpy."""
    geod = pyproj.Geod(ellps="WGS84")
    dlon, dlat = lon[1] - lon[0], lat[1] - lat[0]
    _, _, ew = geod.inv(np.full(lat.size, lon[0]), lat, np.full(lat.size, lon[0] + dlon), lat)
    _, _, two_ns = geod.inv(
        np.full(lat.size, lon[0]), lat - dlat, np.full(lat.size, lon[0]), lat + dlat
    )
    ew = np.sign(dlon) * ew[:, None]
    ns = np.sign(dlat) * two_ns[:, None] / 2.0
    ny, nx = z.shape
    w = [z[r : r + ny - 2, c : c + nx - 2] for r in range(3) for c in range(3)]
    dzdx = ((w[2] - w[0]) / ew[:-2] + 2 * (w[5] - w[3]) / ew[1:-1] + (w[8] - w[6]) / ew[2:]) / 8.0
    dzdy = ((w[6] + 2 * w[7] + w[8]) - (w[0] + 2 * w[1] + w[2])) / (8.0 * ns[1:-1])
    return dzdx, dzdy


@pytest.mark.sample_data
def test_rome_dem_against_independent_horn(sample_data):
    dem = rioxarray.open_rasterio(sample_data("dem/Rome-30m-DEM.tif")).squeeze("band", drop=True)
    assert dem.rio.nodata == -32768
    dzdx, dzdy = _independent_horn(dem.values.astype(np.float64), dem.x.values, dem.y.values)

    result = terrain.slope(dem)
    np.testing.assert_allclose(
        result.values[1:-1, 1:-1], np.degrees(np.arctan(np.hypot(dzdx, dzdy))), atol=1e-6
    )
    facing = terrain.aspect(dem).values[1:-1, 1:-1]
    expected = np.degrees(np.arctan2(-dzdx, -dzdy)) % 360.0
    flat = (dzdx == 0) & (dzdy == 0)
    assert np.array_equal(np.isnan(facing), flat)
    np.testing.assert_allclose(_angle_difference(facing[~flat], expected[~flat]), 0.0, atol=1e-5)

    # Rome is fairly flat: a median slope of a few degrees, a few steep banks.
    assert np.isfinite(result.values).all()
    assert 1.0 < float(result.median()) < 10.0
    assert 15.0 < float(result.max()) < 60.0
    assert result.rio.crs == dem.rio.crs
    assert result.dims == dem.dims


@pytest.mark.sample_data
def test_rome_dem_flow_and_wetness_are_plausible(sample_data):
    dem = rioxarray.open_rasterio(sample_data("dem/Rome-30m-DEM.tif")).squeeze("band", drop=True)
    accumulation = terrain.flow_accumulation(dem).values
    assert accumulation.min() == 1.0
    assert accumulation.max() <= dem.size
    assert accumulation.max() > 0.1 * dem.size  # the Tiber collects a large part of the scene
    index = terrain.twi(dem).values
    assert np.isfinite(index).all()
    assert 2.0 < np.median(index) < 12.0
    assert index.max() < 30.0


# --- nodata ------------------------------------------------------------------------------------


def _with_holes(z, holes, value=np.nan):
    z = np.array(z, dtype=np.float64)
    for hole in holes:
        z[hole] = value
    return z


HOLES = [(0, 0), (5, 7), (16, 3), (9, 12), (10, 12)]


def test_nodata_blanks_exactly_the_horn_window():
    z = _with_holes(_random_dem(), HOLES)
    missing = np.isnan(z)
    expected = _dilate_3x3(missing)
    for result in (terrain.slope(_grid(z)), terrain.aspect(_grid(z))):
        assert np.array_equal(np.isnan(result.values), expected)


def test_nodata_value_from_argument_fillvalue_and_rio():
    raw = _with_holes(_random_dem(), HOLES, value=-9999.0).astype(np.float32)
    expected = terrain.slope(_grid(np.where(raw == -9999.0, np.nan, raw))).values
    with_fill = _grid(raw)
    with_fill.attrs["_FillValue"] = np.float32(-9999.0)
    from_rio = _grid(raw).rio.write_nodata(-9999.0)
    results = [
        terrain.slope(_grid(raw), nodata=-9999.0),
        terrain.slope(with_fill),
        terrain.slope(from_rio),
    ]
    for result in results:
        np.testing.assert_array_equal(result.values, expected)


def test_int16_dem_with_fill_value():
    z = np.round(_random_dem()).astype(np.int16)
    z[4, 4] = -32768
    dem = _grid(z)
    dem.attrs["_FillValue"] = np.int16(-32768)
    expected = np.zeros(z.shape, dtype=bool)
    expected[3:6, 3:6] = True
    assert np.array_equal(np.isnan(terrain.slope(dem).values), expected)


# --- outputs: dims, coords, CRS, attrs; the input is left alone -------------------------------


@pytest.mark.parametrize(
    ("function", "units"),
    [
        (terrain.slope, "degree"),
        (terrain.aspect, "degree"),
        (terrain.flow_accumulation, "1"),
        (terrain.twi, "1"),
    ],
)
def test_output_keeps_grid_crs_and_names_itself(function, units):
    dem = _grid(_random_dem())
    dem.attrs.update(units="m", long_name="elevation", _FillValue=-9999.0)
    dem.encoding["dtype"] = "float32"
    before = dem.copy(deep=True)

    result = function(dem)

    xr.testing.assert_identical(dem, before)
    assert dem.attrs == before.attrs and dem.encoding == before.encoding
    assert result.name == function.__name__
    assert result.attrs["units"] == units
    assert result.attrs["long_name"]
    assert result.dims == dem.dims
    xr.testing.assert_identical(result.coords.to_dataset(), dem.coords.to_dataset())
    assert result.rio.crs == dem.rio.crs
    assert "spatial_ref" in result.coords


# --- dask: same numbers on any chunking, and lazy -----------------------------------------------


@st.composite
def _chunking(draw, size):
    cuts = draw(st.sets(st.integers(1, size - 1), max_size=size - 1))
    return tuple(np.diff([0, *sorted(cuts), size]).tolist())


_DASK_DEM = _with_holes(_random_dem(), [(5, 7), (9, 12), (0, 4), (16, 0)])


@settings(max_examples=30, deadline=None)
@given(rows=_chunking(_DASK_DEM.shape[0]), columns=_chunking(_DASK_DEM.shape[1]))
def test_dask_equals_numpy_on_any_chunking(rows, columns):
    dem = _grid(_DASK_DEM)
    chunked = dem.chunk({"y": rows, "x": columns})
    for function in (terrain.slope, terrain.aspect):
        expected = function(dem).values
        result = function(chunked)
        assert result.chunks == chunked.chunks
        np.testing.assert_array_equal(result.values, expected)


def test_dask_results_are_lazy_and_match_numpy():
    dem = _grid(_DASK_DEM)
    chunked = dem.chunk({"y": 5, "x": 4})
    functions = (terrain.slope, terrain.aspect, terrain.flow_accumulation, terrain.twi)
    with raise_if_dask_computes():
        results = [function(chunked) for function in functions]
    for function, result in zip(functions, results, strict=True):
        assert isinstance(result.data, dask.array.Array)
        assert result.chunks == chunked.chunks
        np.testing.assert_array_equal(result.values, function(dem).values)


# --- flow accumulation ---------------------------------------------------------------------


def test_flow_accumulation_on_a_tilted_plane_counts_the_rows_above():
    dem = _plane(0.0, 0.05)  # rises north: every cell drains south
    accumulation = terrain.flow_accumulation(dem).values
    rows = np.arange(1, dem.shape[0] + 1, dtype=float)[:, None]
    np.testing.assert_array_equal(accumulation, np.broadcast_to(rows, dem.shape))


def test_flow_accumulation_in_a_v_shaped_valley():
    ny, nx, floor = 8, 9, 4
    i, j = np.mgrid[0:ny, 0:nx]
    dem = _grid(10.0 * np.abs(j - floor) + 1.0 * (ny - 1 - i))  # valley runs north to south
    accumulation = terrain.flow_accumulation(dem).values
    np.testing.assert_array_equal(accumulation[:, floor], nx * np.arange(1, ny + 1))
    assert accumulation[-1, floor] == ny * nx  # the outlet collects every cell
    sides = np.delete(accumulation, floor, axis=1)
    assert (sides[:, [0, -1]] == 1).all()  # the ridges collect nothing


def test_flow_accumulation_fills_a_pit_and_drains_it_through_the_notch():
    n = 11
    i, j = np.mgrid[0:n, 0:n]
    z = np.hypot(i - n // 2, j - n // 2)  # a bowl, lowest in the centre
    z[0, n // 2] = -1.0  # a notch in the rim, lower than the pit
    accumulation = terrain.flow_accumulation(_grid(z)).values
    assert accumulation[0, n // 2] == n * n
    assert accumulation[n // 2, n // 2] >= 1


def test_flow_accumulation_on_a_flat_drains_everything_off_the_border():
    accumulation = terrain.flow_accumulation(_grid(np.full((6, 7), 3.0))).values
    assert (accumulation >= 1).all()
    border = np.ones((6, 7), dtype=bool)
    border[1:-1, 1:-1] = False
    assert accumulation[border].sum() == 6 * 7  # each cell leaves through the border once


def test_flow_accumulation_routes_around_a_nodata_hole():
    z = _with_holes(_plane(0.0, 0.05).values, [(2, 2)])
    accumulation = terrain.flow_accumulation(_grid(z)).values
    assert np.isnan(accumulation[2, 2])
    assert np.isfinite(np.delete(accumulation.ravel(), 2 * z.shape[1] + 2)).all()
    assert accumulation[3, 2] == 1.0  # nothing flows in from the hole above
    assert accumulation[-1].sum() == np.isfinite(z).sum()  # all cells leave through the south


# --- topographic wetness index ------------------------------------------------------------------


def test_twi_is_ln_specific_area_over_tan_slope():
    dem = _grid(_random_dem(), res=30.0)
    accumulation = terrain.flow_accumulation(dem).values
    tan_slope = np.tan(np.radians(terrain.slope(dem).values))
    expected = np.log(accumulation * 30.0 / np.maximum(tan_slope, np.tan(np.radians(0.1))))
    result = terrain.twi(dem)
    np.testing.assert_allclose(result.values, expected, rtol=1e-12)
    assert result.attrs["min_slope_degree"] == 0.1


def test_twi_is_higher_on_the_valley_floor_than_on_the_ridges():
    ny, nx, floor = 8, 9, 4
    i, j = np.mgrid[0:ny, 0:nx]
    index = terrain.twi(_grid(10.0 * np.abs(j - floor) + 1.0 * (ny - 1 - i))).values
    assert index[:, floor].min() > index[:, [0, -1]].max()


def test_twi_stays_finite_on_flats():
    index = terrain.twi(_grid(np.full((5, 5), 7.0)), min_slope=0.5).values
    assert np.isfinite(index).all()


# --- bad input ------------------------------------------------------------------------------------


def test_no_crs_with_degree_like_coordinates_names_epsg_4326():
    lon, lat = _geographic_grid(lat0=41.9)
    dem = xr.DataArray(np.zeros((lat.size, lon.size)), coords={"y": lat, "x": lon}, dims=("y", "x"))
    with pytest.raises(ValueError, match=r"look like longitude/latitude.*write_crs\('EPSG:4326'\)"):
        terrain.slope(dem)


def test_no_crs_with_metre_like_coordinates_asks_for_a_crs():
    with pytest.raises(ValueError, match=r"no CRS.*no unit is assumed.*write_crs"):
        terrain.aspect(_grid(_random_dem(), crs=None))


def test_non_numeric_dem_is_refused():
    dem = _grid(np.full((4, 4), "12.5"))
    with pytest.raises(TypeError, match=r"not real numbers.*astype\('float64'\)"):
        terrain.slope(dem)


def test_extra_dims_are_refused_with_the_fix():
    dem = _grid(_random_dem()).expand_dims(band=[1])
    with pytest.raises(ValueError, match=r"squeeze\('band', drop=True\)"):
        terrain.slope(dem)


def test_irregular_coordinates_are_refused():
    dem = _grid(_random_dem())
    dem = dem.assign_coords(x=dem.x.values + np.r_[0.0, np.full(dem.x.size - 1, 3.0)])
    with pytest.raises(ValueError, match="not evenly spaced"):
        terrain.slope(dem)


def test_elevation_units_that_are_not_a_length_are_refused():
    dem = _grid(_random_dem())
    dem.attrs["units"] = "K"
    with pytest.raises(ValueError, match=r"not a length.*attrs\['units'\]"):
        terrain.slope(dem)


def test_min_slope_out_of_range_is_refused():
    with pytest.raises(ValueError, match="min_slope"):
        terrain.twi(_grid(_random_dem()), min_slope=0.0)


@pytest.mark.parametrize("name", terrain.__all__)
def test_docstrings_carry_the_shared_dem_text(name):
    doc = getattr(terrain, name).__doc__
    assert "{dem_" not in doc
    for text in ("Parameters\n    ----------\n    dem\n", "``dem.rio.nodata``", "InputTypeError\n"):
        assert doc.count(text) == 1, (name, text)
