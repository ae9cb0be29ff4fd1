"""The simulated scenes' ``api``: the antecedent precipitation index of the coarse weather.

The same rule as :func:`xsoilmoist.assemble` applies to ERA5
(:mod:`xsoilmoist.assembly.antecedent`): ``sum_i k^(i-1) P_(d-i)`` over the
:data:`~xsoilmoist.assembly.antecedent.API_DAYS` days before the overpass
day, from the daily totals of the weather cells that the water balance is
driven by, then interpolated bilinearly onto the pixels as ``tp`` is. The
scene's spin-up covers the whole sum, so it is never cut short.
"""

from __future__ import annotations

import dask.array
import numpy as np
import xarray as xr

from xsoilmoist.assembly.antecedent import API_DAYS, API_RECESSION, API_RULE, api_weights
from xsoilmoist.catalogue import BANDS
from xsoilmoist.errors import InputError
from xsoilmoist.synthetic.weather import CoarseWeather, bilinear_weights

__all__ = ["api_variable", "cell_antecedent_index", "pixel_antecedent_index"]


def cell_antecedent_index(weather: CoarseWeather, output_days: np.ndarray) -> np.ndarray:
    """``(time, cell_y, cell_x)`` index, mm, of each output day (indices into ``weather.days``).

    Raises
    ------
    InputError
        If an output day has fewer than ``API_DAYS`` simulated days before it.

    Examples
    --------
    >>> days = np.arange("2021-05-01", "2021-06-02", dtype="datetime64[D]")
    >>> rain = np.zeros((days.size, 1, 1)); rain[-2] = 10.0  # 10 mm on 31 May
    >>> weather = CoarseWeather(days, np.zeros(1), np.zeros(1), rain, np.zeros_like(rain))
    >>> cell_antecedent_index(weather, np.array([days.size - 1])).ravel()  # 1 June
    array([10.])
    """
    output_days = np.asarray(output_days)
    if output_days.size and output_days.min() < API_DAYS:
        raise InputError(
            f"the antecedent precipitation index needs {API_DAYS} simulated days before "
            f"each overpass, got {int(output_days.min())}: start the weather earlier"
        )
    weights = api_weights()
    rain = weather.precipitation
    return np.stack(
        [np.tensordot(weights, rain[day - API_DAYS : day][::-1], axes=1) for day in output_days]
    )


def _interpolate(cells: np.ndarray, rows, columns) -> np.ndarray:
    """Bilinear interpolation of ``(time, cell_y, cell_x)`` onto pixels, as ``tp`` is."""
    (r0, wy), (c0, wx) = rows, columns
    upper = cells[:, r0][:, :, c0] * (1.0 - wx) + cells[:, r0][:, :, c0 + 1] * wx
    lower = cells[:, r0 + 1][:, :, c0] * (1.0 - wx) + cells[:, r0 + 1][:, :, c0 + 1] * wx
    return upper * (1.0 - wy)[None, :, None] + lower * wy[None, :, None]


def pixel_antecedent_index(
    weather: CoarseWeather,
    output_days: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    chunks: tuple[int, int] | None = None,
):
    """``(time, y, x)`` float32 index on the pixels at ``y``, ``x`` (lazy by ``chunks``)."""
    cells = cell_antecedent_index(weather, output_days)

    def block(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        rows = bilinear_weights(ys, weather.cell_y)
        columns = bilinear_weights(xs, weather.cell_x)
        return _interpolate(cells, rows, columns).astype(np.float32)

    if chunks is None:
        return block(y, x)
    ys = dask.array.from_array(y, chunks=chunks[0])
    xs = dask.array.from_array(x, chunks=chunks[1])
    return dask.array.blockwise(
        block,
        "tyx",
        ys,
        "y",
        xs,
        "x",
        new_axes={"t": cells.shape[0]},
        dtype=np.float32,
        concatenate=True,
    )


def api_variable(context, y: np.ndarray, x: np.ndarray, chunks) -> xr.DataArray:
    """The scene's ``api`` variable ``(time, y, x)`` with its units and rule in attrs."""
    data = pixel_antecedent_index(context.weather, context.output_days, y, x, chunks)
    return xr.DataArray(
        data,
        dims=("time", "y", "x"),
        attrs={
            "units": BANDS["api"].units,
            "long_name": f"{BANDS['api'].long_name} of the days before the overpass day "
            "(ERA5-like grid)",
            "time_rule": API_RULE,
            "api_recession_constant": API_RECESSION,
            "api_window_days": API_DAYS,
        },
    )
