"""Plots of soil moisture: maps, predicted against observed, and station time series.

Every plot keeps the fixed physical range (0 to 0.5 m3/m3 by default) so that
figures compare, puts units on its axes and colorbars, and shows gaps as gaps.
Matplotlib is imported only when a plot is drawn.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from xsoilmoist import metrics
from xsoilmoist.errors import InputError, InputTypeError
from xsoilmoist.units import same_units

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["DENSE_POINTS", "MOISTURE_CMAP", "moisture_map", "scatter", "timeseries"]

#: Perceptually uniform and colour-blind safe: pale yellow (dry) to dark blue (wet).
MOISTURE_CMAP = "cividis_r"
#: Above this many pairs, :func:`scatter` draws a 2-D histogram instead of points.
DENSE_POINTS = 5000
_MAX_PANELS = 6
_DEFAULT_UNITS = "m3 m-3"
# Okabe-Ito black and blue: distinguishable with any colour vision.
_OBSERVED_COLOUR = "black"
_PREDICTED_COLOUR = "#0072B2"


def _label(da: xr.DataArray) -> str:
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def moisture_map(
    da: xr.DataArray,
    *,
    vmin: float = 0.0,
    vmax: float = 0.5,
    cmap: str = MOISTURE_CMAP,
    title: str | None = None,
    ax: Axes | None = None,
):
    """Map a soil-moisture DataArray: one panel, or one per time step (up to six).

    The colour range is fixed (0 to 0.5 m3/m3 by default) so maps compare;
    NaN pixels show the hatched background, never a colour of the scale.

    Parameters
    ----------
    da
        ``(y, x)`` or ``(time, y, x)``.
    vmin, vmax
        Colour range in the data's units.
    cmap
        Matplotlib colormap name.
    title
        Figure title (default: the model name for predictions).
    ax
        Axes to draw into (2-D data only).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = moisture_map(ssm)  # doctest: +SKIP
    >>> fig.savefig("ssm.png")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if da.ndim not in (2, 3):
        raise InputError(f"moisture_map needs (y, x) or (time, y, x) data, got dims {da.dims}")
    frames = [da] if da.ndim == 2 else [da.isel({da.dims[0]: i}) for i in range(da.shape[0])]
    if len(frames) > _MAX_PANELS:
        frames = frames[:_MAX_PANELS]
    if ax is not None and len(frames) > 1:
        raise InputError("ax= works with 2-D data only; select one time step first")
    if ax is None:
        width = 4.2 * len(frames) + 1.2
        fig, axes = plt.subplots(
            1, len(frames), figsize=(width, 4.2), squeeze=False, constrained_layout=True
        )
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax]
    colours = plt.get_cmap(cmap).with_extremes(bad=(0, 0, 0, 0))
    image = None
    for index, (axis, frame) in enumerate(zip(axes, frames, strict=True)):
        y_dim, x_dim = frame.dims
        x, y = frame[x_dim].values, frame[y_dim].values
        dx = (x[1] - x[0]) / 2 if x.size > 1 else 0.5
        dy = abs(y[1] - y[0]) / 2 if y.size > 1 else 0.5
        extent = (x[0] - dx, x[-1] + dx, y.min() - dy, y.max() + dy)
        axis.patch.set_facecolor("white")
        axis.patch.set_hatch("////")
        axis.patch.set_edgecolor("0.75")
        image = axis.imshow(
            np.ma.masked_invalid(frame.values),
            cmap=colours,
            vmin=vmin,
            vmax=vmax,
            extent=extent,
            origin="upper" if y.size < 2 or y[0] > y[-1] else "lower",
            interpolation="nearest",
        )
        if "time" in frame.coords and frame["time"].size == 1:
            axis.set_title(str(frame["time"].values)[:10])
        axis.set_xlabel(f"{x_dim} [m]" if abs(x[0]) > 360 else x_dim)
        if index == 0:
            axis.set_ylabel(f"{y_dim} [m]" if abs(y[0]) > 360 else y_dim)
        axis.ticklabel_format(useOffset=False, style="plain")
        axis.tick_params(labelsize=7)
    colorbar = fig.colorbar(image, ax=axes, shrink=0.85, extend="max")
    colorbar.set_label(_label(da))
    fig.suptitle(title if title is not None else da.attrs.get("model", ""))
    return fig


def _panel_axes(
    count: int,
    ax: Axes | None,
    *,
    columns: int,
    panel_size: tuple[float, float],
    what: str,
    sharex: bool = False,
) -> tuple[Figure, list[Axes]]:
    """The figure and ``count`` axes, ``columns`` to a row; or ``ax`` for a single panel."""
    import matplotlib.pyplot as plt

    if ax is not None:
        if count > 1:
            raise InputError(f"ax= draws one panel but there are {count}; select one {what} first")
        return ax.figure, [ax]
    rows = -(-count // columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(panel_size[0] * columns, panel_size[1] * rows),
        squeeze=False,
        sharex=sharex,
        constrained_layout=True,
    )
    flat = list(axes.flat)
    for unused in flat[count:]:
        unused.remove()
    return fig, flat[:count]


def _matched(pred: xr.DataArray, obs: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Check that ``pred`` and ``obs`` pair value by value; ``obs`` in ``pred``'s dim order."""
    for role, da in (("pred", pred), ("obs", obs)):
        if not isinstance(da, xr.DataArray):
            raise InputTypeError(f"{role} must be an xarray.DataArray, got {type(da).__name__}")
    if set(pred.dims) != set(obs.dims):
        raise InputError(
            f"pred dims {pred.dims} and obs dims {obs.dims} differ; "
            "select or rename so that both have the same dims"
        )
    obs = obs.transpose(*pred.dims)
    if pred.shape != obs.shape:
        raise InputError(
            f"pred sizes {dict(pred.sizes)} and obs sizes {dict(obs.sizes)} differ; "
            "match them first (e.g. with .sel or xr.align)"
        )
    try:
        xr.align(pred, obs, join="exact")
    except ValueError as err:
        raise InputError(
            f"pred and obs have different coordinate labels ({err}); "
            "align them first (e.g. pred.sel(time=obs.time))"
        ) from err
    return pred, obs


def _common_units(pred: xr.DataArray, obs: xr.DataArray) -> str:
    """The units both share (from attrs; ``m3 m-3`` when neither says)."""
    pred_units, obs_units = pred.attrs.get("units"), obs.attrs.get("units")
    if pred_units and obs_units and not same_units(pred_units, obs_units):
        raise InputError(
            f"pred is in {pred_units!r} but obs in {obs_units!r}; "
            "convert one first (xsoilmoist.units.convert)"
        )
    return pred_units or obs_units or _DEFAULT_UNITS


def _metric_lines(stats: xr.Dataset, units: str) -> list[str]:
    """R², RMSE, ubRMSE, bias and n from a :func:`xsoilmoist.metrics.summary` result."""
    return [
        f"R² = {float(stats['r2']):.3f}",
        f"RMSE = {float(stats['rmse']):.4f} {units}",
        f"ubRMSE = {float(stats['ubrmse']):.4f} {units}",
        f"bias = {float(stats['bias']):+.4f} {units}",
        f"n = {int(stats['n'])}",
    ]


def _label_text(value) -> str:
    """A coordinate value as a short label (dates without the time of day)."""
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="D"))
    return str(value)


def _draw_pairs(
    axis: Axes,
    pred: xr.DataArray,
    obs: xr.DataArray,
    units: str,
    vmin: float,
    vmax: float,
    max_points: int,
) -> None:
    """One predicted-against-observed panel: points or a 2-D histogram, 1:1 line, metrics."""
    from matplotlib.colors import LogNorm

    stats = metrics.summary(pred, obs)
    p, o = pred.values.ravel(), obs.values.ravel()
    valid = np.isfinite(p) & np.isfinite(o)
    p, o = p[valid], o[valid]
    inside = (p >= vmin) & (p <= vmax) & (o >= vmin) & (o <= vmax)
    if p.size > max_points:
        counts = axis.hexbin(
            o[inside],
            p[inside],
            gridsize=60,
            extent=(vmin, vmax, vmin, vmax),
            mincnt=1,
            norm=LogNorm(),
            cmap="viridis",
        )
        axis.figure.colorbar(counts, ax=axis, label="count", shrink=0.8)
    else:
        axis.scatter(o, p, s=12, alpha=0.7, color=_PREDICTED_COLOUR, edgecolors="none")
    axis.plot([vmin, vmax], [vmin, vmax], color="0.3", linewidth=1, linestyle="--", label="1:1")
    axis.set_xlim(vmin, vmax)
    axis.set_ylim(vmin, vmax)
    axis.set_aspect("equal")
    axis.set_xlabel(f"observed soil moisture [{units}]")
    axis.set_ylabel(f"predicted soil moisture [{units}]")
    lines = _metric_lines(stats, units)
    outside = int(np.count_nonzero(~inside))
    if outside:
        lines.append(f"{outside} outside the axes")
    axis.text(
        0.03,
        0.97,
        "\n".join(lines),
        transform=axis.transAxes,
        verticalalignment="top",
        fontsize=8,
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "0.7"},
    )


def scatter(
    pred: xr.DataArray,
    obs: xr.DataArray,
    *,
    dim: Hashable | Sequence[Hashable] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 0.5,
    max_points: int = DENSE_POINTS,
) -> Figure:
    """Predicted against observed soil moisture, with the 1:1 line and the metrics.

    Pairs where either value is NaN are left out. Both axes span the same fixed
    physical range, so figures compare; pairs outside it are counted in the
    text box. Above ``max_points`` pairs a 2-D histogram (log colour scale,
    colorbar "count") replaces the points, which would merge into a cloud.

    Parameters
    ----------
    pred, obs
        Predicted and observed values with the same dims, sizes and coordinate
        labels (any dim order), e.g. two ``(time, y, x)`` maps or two
        ``(station, time)`` tables. Units from ``attrs["units"]`` (default
        ``m3 m-3``); they must agree.
    dim
        Dims pooled into one panel (default: all). A dim left over gives one
        panel per label (the first six), each with its own metrics; e.g.
        ``dim="time"`` on ``(station, time)`` data gives one panel per station.
    ax
        Axes to draw into (one panel only).
    title
        Title (default: the prediction's model name, if any).
    vmin, vmax
        Range of both axes, in the data's units.
    max_points
        The most pairs drawn as points in a panel.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> obs = xr.DataArray(np.linspace(0.1, 0.4, 50), dims="time", attrs={"units": "m3 m-3"})
    >>> fig = scatter(obs + 0.02, obs)
    >>> print(fig.axes[0].texts[0].get_text())
    R² = 0.949
    RMSE = 0.0200 m3 m-3
    ubRMSE = 0.0000 m3 m-3
    bias = +0.0200 m3 m-3
    n = 50
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    pred, obs = _matched(pred, obs)
    units = _common_units(pred, obs)
    pooled = metrics.dim_list(dim, pred.dims)
    unknown = [d for d in pooled if d not in pred.dims]
    if unknown:
        raise InputError(f"dim {unknown} not in the data's dims {pred.dims}")
    left = [d for d in pred.dims if d not in pooled]
    if len(left) > 1:
        raise InputError(
            f"dim={dim!r} leaves dims {left}; scatter makes panels along one dim at most, "
            "so add the others to dim"
        )
    if left:
        panel_dim = left[0]
        count = min(pred.sizes[panel_dim], _MAX_PANELS)
        labels = pred[panel_dim].values if panel_dim in pred.coords else np.arange(count)
        panels = [
            (
                f"{panel_dim} = {_label_text(labels[i])}",
                pred.isel({panel_dim: i}),
                obs.isel({panel_dim: i}),
            )
            for i in range(count)
        ]
    else:
        panels = [(None, pred, obs)]
    fig, axes = _panel_axes(
        len(panels),
        ax,
        columns=min(len(panels), 3),
        panel_size=(4.4, 4.2),
        what=left[0] if left else "panel",
    )
    heading = title if title is not None else pred.attrs.get("model", "")
    if left and pred.sizes[left[0]] > len(panels):
        heading = f"{heading} (first {len(panels)} of {pred.sizes[left[0]]} along {left[0]})"
    for axis, (label, p, o) in zip(axes, panels, strict=True):
        _draw_pairs(axis, p.compute(), o.compute(), units, vmin, vmax, max_points)
        if label is None:
            axis.set_title(heading)
        elif ax is None:
            axis.set_title(label)
        else:
            axis.set_title(f"{heading}, {label}" if heading else label)
    if left and ax is None and heading:
        fig.suptitle(heading.strip())
    return fig


def _with_station_dim(da: xr.DataArray) -> xr.DataArray:
    """A single station's ``(time,)`` series as ``(station, time)``; others unchanged."""
    if isinstance(da, xr.DataArray) and "station" not in da.dims and da.dims == ("time",):
        return da.expand_dims("station")  # a scalar station coordinate becomes its label
    return da


def timeseries(
    pred: xr.DataArray | xr.Dataset,
    obs: xr.DataArray | None = None,
    *,
    station: Hashable | Sequence[Hashable] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    vmin: float = 0.0,
    vmax: float = 0.5,
) -> Figure:
    """Predicted and observed soil moisture over time at stations, one panel per station.

    The observation is a line with markers, the prediction markers only; each
    panel's title gives the station and its metrics over time.

    Parameters
    ----------
    pred
        Predictions ``(station, time)`` (a single station's ``(time,)`` series
        works too); or a Dataset with variables ``predicted`` and ``observed``
        as :func:`xsoilmoist.validate` returns, in which case leave ``obs`` out.
    obs
        Observations matching ``pred``: same dims, sizes and labels.
    station
        A station name (a label of the ``station`` coordinate, or its position
        when there is none) or a list of names. Default: the first six.
    ax
        Axes to draw into (one station only).
    title
        Figure title (default: the prediction's model name, if any).
    vmin, vmax
        Range of the y axis, in the data's units.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> obs = xr.DataArray(
    ...     np.linspace(0.1, 0.4, 20).reshape(2, 10), dims=("station", "time"),
    ...     coords={"station": ["S001", "S002"], "time": pd.date_range("2022-05-01", periods=10)},
    ...     attrs={"units": "m3 m-3"})
    >>> fig = timeseries(xr.Dataset({"predicted": obs + 0.01, "observed": obs}), station="S002")
    >>> print(fig.axes[0].get_title(loc="left"))
    S002: R² = 0.951, RMSE = 0.0100 m3 m-3, ubRMSE = 0.0000 m3 m-3, bias = +0.0100 m3 m-3, n = 10
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """
    pred, obs = _series_pair(pred, obs)
    units = _common_units(pred, obs)
    names = (
        [str(v) for v in pred["station"].values]
        if "station" in pred.coords
        else [str(i) for i in range(pred.sizes["station"])]
    )
    positions = _station_positions(names, station)
    pred = pred.isel(station=positions).compute()
    obs = obs.isel(station=positions).compute()
    stats = metrics.summary(pred, obs, dim="time")
    fig, axes = _panel_axes(
        len(positions), ax, columns=1, panel_size=(9.0, 2.4), what="station", sharex=True
    )
    for row, (axis, position) in enumerate(zip(axes, positions, strict=True)):
        _draw_series(axis, pred.isel(station=row), obs.isel(station=row), vmin, vmax, units)
        lines = _metric_lines(stats.isel(station=row), units)
        axis.set_title(f"{names[position]}: {', '.join(lines)}", loc="left", fontsize=9)
    axes[0].legend(loc="upper right", fontsize=8, ncols=2)
    heading = title if title is not None else pred.attrs.get("model", "")
    if station is None and len(names) > len(positions):
        heading = f"{heading} (first {len(positions)} of {len(names)} stations)".strip()
    if heading:
        fig.suptitle(heading)
    return fig


def _series_pair(pred, obs) -> tuple[xr.DataArray, xr.DataArray]:
    """``(station, time)`` predictions and observations from either way of passing them."""
    if isinstance(pred, xr.Dataset):
        if obs is not None:
            raise InputTypeError(
                "pass either a Dataset with 'predicted' and 'observed', or two DataArrays"
            )
        missing = [name for name in ("predicted", "observed") if name not in pred.data_vars]
        if missing:
            raise InputError(
                f"the Dataset has no {missing}; timeseries needs variables 'predicted' and "
                "'observed' (as xsoilmoist.validate returns), or pass two DataArrays"
            )
        pred, obs = pred["predicted"], pred["observed"]
    elif obs is None:
        raise InputTypeError(
            "obs is missing: pass the observed DataArray, "
            "or a Dataset with 'predicted' and 'observed'"
        )
    pred, obs = _matched(_with_station_dim(pred), _with_station_dim(obs))
    if set(pred.dims) != {"station", "time"}:
        raise InputError(
            f"timeseries needs (station, time) data, got dims {pred.dims}; "
            "rename or select dims first"
        )
    return pred.transpose("station", "time"), obs.transpose("station", "time")


def _station_positions(names: list[str], station) -> list[int]:
    """Positions of the wanted stations (default: the first panels' worth)."""
    if station is None:
        return list(range(min(len(names), _MAX_PANELS)))
    single = isinstance(station, str) or not isinstance(station, Sequence)
    wanted = [station] if single else list(station)
    unknown = [s for s in wanted if str(s) not in names]
    if unknown:
        raise InputError(
            f"station {unknown} not found; available: {', '.join(names[:10])}"
            + (", ..." if len(names) > 10 else "")
        )
    return [names.index(str(s)) for s in wanted]


def _draw_series(axis, pred: xr.DataArray, obs: xr.DataArray, vmin, vmax, units: str) -> None:
    """One station's observed line and predicted markers on ``axis``."""
    from matplotlib.dates import ConciseDateFormatter

    times = pred["time"].values if "time" in pred.coords else np.arange(pred.sizes["time"])
    axis.plot(
        times,
        obs.values,
        marker="o",
        markersize=3.5,
        linewidth=1,
        color=_OBSERVED_COLOUR,
        label="observed",
    )
    axis.plot(
        times,
        pred.values,
        marker="s",
        markersize=4,
        linestyle="none",
        color=_PREDICTED_COLOUR,
        label="predicted",
    )
    axis.set_ylim(vmin, vmax)
    axis.set_ylabel(f"soil moisture [{units}]")
    axis.tick_params(labelsize=8)
    if np.issubdtype(times.dtype, np.datetime64):
        axis.xaxis.set_major_formatter(ConciseDateFormatter(axis.xaxis.get_major_locator()))


def __getattr__(name: str) -> Any:
    """``map``, the former name of :func:`moisture_map` (it shadowed the builtin): deprecated."""
    if name == "map":
        warnings.warn(
            "xsoilmoist.plot.map is deprecated; use xsoilmoist.plot.moisture_map (the same "
            "function, renamed so that it no longer shadows the builtin map)",
            FutureWarning,
            stacklevel=2,
        )
        return moisture_map
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
