"""The ``ds.ssm`` and ``da.ssm`` accessors: thin methods that delegate to the module functions.

``ds.ssm`` (on a Dataset) prepares inputs and predicts; ``da.ssm`` (on a
DataArray, e.g. the predicted ``ssm``) plots. xarray keeps the two apart, so
both can be called ``ssm``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from xsoilmoist import bands, encoding, inference, report
from xsoilmoist import plot as plotting

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SSMAccessor", "SSMDataArrayAccessor"]


@xr.register_dataset_accessor("ssm")
class SSMAccessor:
    """Soil-moisture tools on a Dataset, as ``ds.ssm``.

    Examples
    --------
    >>> import numpy as np, xsoilmoist
    >>> ds = xr.Dataset({"VV": (("y", "x"), np.zeros((2, 2)), {"units": "dB"})},
    ...                 coords={"y": [1.0, 0.0], "x": [0.0, 1.0]})
    >>> list(ds.ssm.standardize().data_vars)
    ['vv']
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def standardize(
        self,
        *,
        rename: Mapping[str, str] | None = None,
        derive: bool = True,
        processing_baseline: str | None = None,
    ) -> xr.Dataset:
        """Canonical bands and units; see :func:`xsoilmoist.standardize`."""
        return bands.standardize(
            self._ds, rename=rename, derive=derive, processing_baseline=processing_baseline
        )

    def check(
        self,
        *,
        rename: Mapping[str, str] | None = None,
        processing_baseline: str | None = None,
        valid_fraction: bool = False,
    ) -> report.CheckReport:
        """Report modalities found, derived or missing; see :func:`xsoilmoist.report.check`."""
        return report.check(
            self._ds,
            rename=rename,
            processing_baseline=processing_baseline,
            valid_fraction=valid_fraction,
        )

    def encode_time(self) -> xr.Dataset:
        """Cyclic day-of-year encoding per time step.

        See :func:`xsoilmoist.encoding.encode_time`.
        """
        return encoding.encode_time(self._ds)

    def predict(
        self,
        model: str | Path | Any = "default",
        *,
        tile: int | None = None,
        overlap: int | None = None,
        batch_size: int | None = None,
        progress: bool = False,
        date=None,
        rename: Mapping[str, str] | None = None,
    ) -> xr.DataArray:
        """Surface soil moisture for the scene; see :func:`xsoilmoist.predict`."""
        return inference.predict(
            self._ds,
            model,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            progress=progress,
            date=date,
            rename=rename,
        )


@xr.register_dataarray_accessor("ssm")
class SSMDataArrayAccessor:
    """Soil-moisture plots on a DataArray, as ``da.ssm``; matplotlib loads on the first plot.

    Examples
    --------
    >>> import numpy as np
    >>> ssm = xr.DataArray(np.full((3, 4), 0.25), dims=("y", "x"),
    ...                    coords={"y": [20.0, 10.0, 0.0], "x": [0.0, 10.0, 20.0, 30.0]},
    ...                    attrs={"units": "m3 m-3", "long_name": "surface soil moisture"})
    >>> fig = ssm.ssm.plot()
    >>> fig.axes[-1].get_ylabel()
    'surface soil moisture [m3 m-3]'
    >>> import matplotlib.pyplot as plt
    >>> plt.close(fig)
    """

    def __init__(self, da: xr.DataArray) -> None:
        self._da = da

    def plot(
        self,
        *,
        vmin: float = 0.0,
        vmax: float = 0.5,
        cmap: str = plotting.MOISTURE_CMAP,
        title: str | None = None,
        ax: Axes | None = None,
    ) -> Figure:
        """Map on the fixed moisture scale; see :func:`xsoilmoist.plot.map`."""
        return plotting.map(self._da, vmin=vmin, vmax=vmax, cmap=cmap, title=title, ax=ax)

    def scatter(
        self,
        obs: xr.DataArray,
        *,
        dim: Hashable | Sequence[Hashable] | None = None,
        ax: Axes | None = None,
        title: str | None = None,
        vmin: float = 0.0,
        vmax: float = 0.5,
        max_points: int = plotting.DENSE_POINTS,
    ) -> Figure:
        """These predictions against ``obs``; see :func:`xsoilmoist.plot.scatter`."""
        return plotting.scatter(
            self._da,
            obs,
            dim=dim,
            ax=ax,
            title=title,
            vmin=vmin,
            vmax=vmax,
            max_points=max_points,
        )
