"""Cyclic encodings of acquisition time and scene location: image-level scalars.

The model's metadata branch sees, per time step, six numbers
(:data:`METADATA_FEATURES`): the day of year and the scene centre's latitude and
longitude, each as a sine/cosine pair, so that 31 December sits next to
1 January and 180 degrees east next to 180 degrees west.

- Day of year: ``angle = 2*pi*(day_of_year - 1 + fraction_of_day) / days_in_year``
  with ``days_in_year`` 366 in leap years and 365 otherwise. Times are
  timezone-naive ``datetime64`` taken as UTC (the convention of satellite
  products); timezone-aware pandas indexes are converted to UTC first.
- Location: the centre of the scene's x/y extent, transformed from the
  object's CRS (rioxarray's ``spatial_ref`` grid mapping) to WGS 84 with
  pyproj; ``angle = radians(latitude)`` and ``radians(longitude)``.

Only coordinates and attributes are read, never data variables, so dask-backed
datasets are not computed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import rioxarray  # noqa: F401  (registers the ``.rio`` accessor)
import xarray as xr

from xsoilmoist.catalogue import METADATA_FEATURES
from xsoilmoist.errors import GridError, InputError, InputTypeError
from xsoilmoist.grid import spatial_dims

__all__ = ["METADATA_FEATURES", "encode_location", "encode_time", "metadata_features"]


_DOY_FORMULA = (
    "angle = 2*pi*(day_of_year - 1 + fraction_of_day)/days_in_year, "
    "days_in_year = 366 in leap years else 365; times taken as UTC"
)
_LOCATION_FORMULA = (
    "angle = radians(latitude) and radians(longitude) of the scene centre (centre of the "
    "x/y extent), transformed from the object's CRS to WGS 84 (EPSG:4326)"
)


def _day_of_year_angle(times: np.ndarray) -> np.ndarray:
    """Angle in radians of each time within its calendar year (NaN for NaT)."""
    times = times.astype("datetime64[ns]")
    year_start = times.astype("datetime64[Y]").astype("datetime64[ns]")
    next_year_start = (times.astype("datetime64[Y]") + 1).astype("datetime64[ns]")
    one_day = np.timedelta64(1, "D")
    days_in_year = (next_year_start - year_start) / one_day
    days_elapsed = (times - year_start) / one_day
    return 2.0 * np.pi * days_elapsed / days_in_year


def _as_time_dataarray(time) -> xr.DataArray:
    """The times as a DataArray of timezone-naive UTC ``datetime64``."""
    if isinstance(time, (xr.Dataset, xr.DataArray)):
        if isinstance(time, xr.DataArray) and np.issubdtype(time.dtype, np.datetime64):
            times = time
        elif "time" in time.coords:
            times = time["time"]
        else:
            raise InputError(
                "the object has no 'time' coordinate; add one with "
                "ds.assign_coords(time=...) or pass the times directly"
            )
        # scalar coords such as spatial_ref describe the scene, not its times
        times = times.drop_vars([n for n, c in times.coords.items() if n != "time" and c.ndim == 0])
    else:
        if isinstance(time, pd.DatetimeIndex) and time.tz is not None:
            time = time.tz_convert("UTC").tz_localize(None)
        values = np.asarray(time)
        if values.ndim > 1:
            raise InputError(
                f"times must be 0- or 1-dimensional, got shape {values.shape}; "
                "pass a DataArray to keep several dimensions"
            )
        dims = ("time",) if values.ndim == 1 else ()
        coords = {"time": values} if values.ndim == 1 else {}
        times = xr.DataArray(values, dims=dims, coords=coords)
    if not np.issubdtype(times.dtype, np.datetime64):
        raise InputTypeError(
            f"times must be numpy datetime64 (taken as UTC), got dtype {times.dtype}; convert "
            "strings or numbers with pandas.to_datetime(...), CF-encoded times with "
            "xarray.decode_cf(ds), cftime dates with "
            "ds.convert_calendar('standard', use_cftime=False)"
        )
    return times


def encode_time(time) -> xr.Dataset:
    """Day of year as a point on the unit circle.

    Parameters
    ----------
    time
        ``datetime64`` values: a DataArray, a pandas ``DatetimeIndex``, a numpy
        array or scalar, or a Dataset/DataArray with a ``time`` coordinate (then
        that coordinate is encoded). Timezone-naive values are taken as UTC;
        a timezone-aware ``DatetimeIndex`` is converted to UTC. A datetime64
        DataArray is encoded itself, whatever its coordinates.

    Returns
    -------
    xarray.Dataset
        ``doy_sin`` and ``doy_cos`` (float64, dimensionless) with the dims and
        coords of the times (``time`` for arrays and indexes; none for a
        scalar), less scalar coordinates such as ``spatial_ref``.
        ``angle = 2*pi*(day_of_year - 1 + fraction_of_day) / days_in_year``,
        with 366 days in leap years, so 31 December 23:59 of any year is
        adjacent to 1 January 00:00 of the next. NaT gives NaN.

    Raises
    ------
    InputTypeError
        If the times are not ``datetime64`` (e.g. floats, strings or cftime).
    InputError
        If a Dataset without a ``time`` coordinate is passed.

    Examples
    --------
    >>> import numpy as np
    >>> enc = encode_time(np.array(["2023-07-02T12:00"], dtype="datetime64[ns]"))
    >>> float(enc.doy_cos[0])  # mid-year: angle pi
    -1.0
    """
    times = _as_time_dataarray(time)
    angle = xr.apply_ufunc(
        _day_of_year_angle,
        times,
        dask="parallelized",
        output_dtypes=[np.float64],
        keep_attrs=True,  # keeps the attrs of the time coordinate
    )
    angle.attrs = {}
    common = {"units": "1", "formula": _DOY_FORMULA}
    doy_sin = np.sin(angle).assign_attrs(long_name="sine of the day-of-year angle", **common)
    doy_cos = np.cos(angle).assign_attrs(long_name="cosine of the day-of-year angle", **common)
    return xr.Dataset(
        {"doy_sin": doy_sin, "doy_cos": doy_cos},
        attrs={"description": "cyclic day-of-year encoding", "formula": _DOY_FORMULA},
    )


def _scene_centre(obj: xr.Dataset | xr.DataArray) -> tuple[float, float]:
    """Centre (x, y) of the object's x/y extent, from the coordinates only."""
    y_dim, x_dim = spatial_dims(obj)
    x = np.asarray(obj[x_dim].values, dtype=np.float64)
    y = np.asarray(obj[y_dim].values, dtype=np.float64)
    return (x.min() + x.max()) / 2.0, (y.min() + y.max()) / 2.0


def encode_location(obj: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """Scene-centre latitude and longitude as points on the unit circle.

    Parameters
    ----------
    obj
        A Dataset or DataArray with x/y coordinates and a CRS that rioxarray
        can read (``obj.rio.crs``, normally the ``spatial_ref`` grid-mapping
        coordinate). Only coordinates are read.

    Returns
    -------
    xarray.Dataset
        Scalar float64 variables ``lat_sin``, ``lat_cos``, ``lon_sin`` and
        ``lon_cos``. The centre itself, in degrees on WGS 84, is kept in the
        attrs ``centre_latitude`` (degrees_north) and ``centre_longitude``
        (degrees_east, -180 to 180), with the source CRS in ``source_crs``.

    Raises
    ------
    InputError
        If the object has no CRS or no x/y dimensions.

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray
    >>> da = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"),
    ...                   coords={"y": [45.5, 44.5], "x": [9.5, 10.5]}).rio.write_crs("EPSG:4326")
    >>> enc = encode_location(da)
    >>> enc.attrs["centre_latitude"], enc.attrs["centre_longitude"]
    (45.0, 10.0)
    """
    crs = obj.rio.crs
    if crs is None:
        raise InputError(
            "the object has no CRS, so its location cannot be encoded; set the CRS of its "
            "x/y coordinates with ds = ds.rio.write_crs('EPSG:32633') (your CRS)"
        )
    centre_x, centre_y = _scene_centre(obj)
    to_wgs84 = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    longitude, latitude = to_wgs84.transform(centre_x, centre_y)
    if not (np.isfinite(longitude) and np.isfinite(latitude) and abs(latitude) <= 90):
        raise GridError(
            f"the scene centre (x {centre_x:.6g}, y {centre_y:.6g}) is not a place on Earth in "
            f"its CRS ({crs.to_string()}): check that the coordinates are in that CRS's units "
            "and that the CRS is the right one (ds.rio.write_crs(...))"
        )
    longitude = (longitude + 180.0) % 360.0 - 180.0
    lat, lon = np.radians(latitude), np.radians(longitude)
    scalars = {
        "lat_sin": (np.sin(lat), "sine of the scene-centre latitude"),
        "lat_cos": (np.cos(lat), "cosine of the scene-centre latitude"),
        "lon_sin": (np.sin(lon), "sine of the scene-centre longitude"),
        "lon_cos": (np.cos(lon), "cosine of the scene-centre longitude"),
    }
    return xr.Dataset(
        {
            name: ((), value, {"long_name": long_name, "units": "1"})
            for name, (value, long_name) in scalars.items()
        },
        attrs={
            "description": "cyclic scene-centre location encoding",
            "formula": _LOCATION_FORMULA,
            "centre_latitude": float(latitude),
            "centre_longitude": float(longitude),
            "source_crs": crs.to_string(),
        },
    )


def metadata_features(ds: xr.Dataset | xr.DataArray, *, date=None) -> xr.DataArray:
    """The image-level scalar features of a scene, in :data:`METADATA_FEATURES` order.

    Parameters
    ----------
    ds
        A Dataset (or DataArray) with x/y coordinates, a CRS and a ``time``
        coordinate (a dimension or a scalar). Only coordinates are read.
    date
        The acquisition time (``datetime64`` or a string numpy understands),
        required when ``ds`` has no ``time`` coordinate and refused when it has
        one.

    Returns
    -------
    xarray.DataArray
        float32 ``metadata`` with dims ``(time, feature)`` when ``time`` is a
        dimension of ``ds``, else ``(feature,)``; the ``feature`` coordinate
        lists :data:`METADATA_FEATURES`. Location features repeat along time.

    Raises
    ------
    InputError
        If ``ds`` has no ``time`` coordinate and no ``date`` was given, or has
        one and ``date`` was given too; or as :func:`encode_location`.
    InputTypeError
        As :func:`encode_time`, for times that are not ``datetime64``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray
    >>> da = xr.DataArray(np.zeros((1, 2, 2)), dims=("time", "y", "x"),
    ...                   coords={"time": np.array(["2020-01-01"], dtype="datetime64[ns]"),
    ...                           "y": [45.5, 44.5], "x": [9.5, 10.5]}).rio.write_crs(4326)
    >>> metadata_features(da).sizes
    Frozen({'time': 1, 'feature': 6})
    """
    has_time = "time" in ds.coords
    if has_time and date is not None:
        raise InputError(
            "the dataset already has a 'time' coordinate; drop the date= argument "
            "(or drop the coordinate with ds.drop_vars('time'))"
        )
    if not has_time and date is None:
        raise InputError(
            "the dataset has no 'time' coordinate, and the day-of-year features need one; "
            "pass date='YYYY-MM-DD' or add it with ds.assign_coords(time=np.datetime64(...))"
        )
    times = ds["time"] if has_time else np.datetime64(date, "ns")
    encoded = xr.merge([encode_time(times), encode_location(ds)], combine_attrs="drop")
    features = encoded[list(METADATA_FEATURES)].to_dataarray(dim="feature", name="metadata")
    features = features.transpose(..., "feature").astype(np.float32)
    return features.assign_attrs(
        long_name="image-level scalar features (cyclic day of year and scene-centre location)",
        units="1",
        doy_formula=_DOY_FORMULA,
        location_formula=_LOCATION_FORMULA,
    )
