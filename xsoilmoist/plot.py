"""Plots of soil-moisture maps: fixed physical range, units on the colorbar, gaps visible."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MOISTURE_CMAP", "map"]

#: Perceptually uniform and colour-blind safe: pale yellow (dry) to dark blue (wet).
MOISTURE_CMAP = "cividis_r"
_MAX_PANELS = 6


def _label(da: xr.DataArray) -> str:
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def map(  # the name DESIGN.md gives: xsoilmoist.plot.map
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
    >>> fig = map(ssm)  # doctest: +SKIP
    >>> fig.savefig("ssm.png")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    if da.ndim not in (2, 3):
        raise ValueError(f"map needs (y, x) or (time, y, x) data, got dims {da.dims}")
    frames = [da] if da.ndim == 2 else [da.isel({da.dims[0]: i}) for i in range(da.shape[0])]
    if len(frames) > _MAX_PANELS:
        frames = frames[:_MAX_PANELS]
    if ax is not None and len(frames) > 1:
        raise ValueError("ax= works with 2-D data only; select one time step first")
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
