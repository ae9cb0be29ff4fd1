"""The ``ds.ssm`` and ``da.ssm`` accessors: thin methods that delegate to the module functions.

``ds.ssm`` (on a Dataset) prepares inputs and predicts; ``da.ssm`` (on a
DataArray) does the same for a band-dimension array such as stackstac's
``(time, band, y, x)``, and plots a predicted ``ssm``. xarray keeps the two
apart, so both can be called ``ssm``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from xsoilmoist import bands, encoding, inference, report
from xsoilmoist import plot as plotting
from xsoilmoist.assembly import dataset_from_band_array
from xsoilmoist.catalogue import lookup_alias
from xsoilmoist.errors import InputError

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
        processing_baseline: str | None = None,
        precision: str = "auto",
        device: str = "auto",
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
            processing_baseline=processing_baseline,
            precision=precision,
            device=device,
        )


@xr.register_dataarray_accessor("ssm")
class SSMDataArrayAccessor:
    """Soil-moisture tools on a DataArray, as ``da.ssm``; matplotlib loads on the first plot.

    On a band-dimension array (stackstac's ``(time, band, y, x)``, or
    ``rioxarray.open_rasterio``'s ``(band, y, x)``), ``standardize``,
    ``check`` and ``predict`` work as on the Dataset with one variable per
    band (:func:`xsoilmoist.assembly.dataset_from_band_array`); on a
    predicted ``ssm``, ``plot`` and ``scatter`` draw it.

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

    def to_dataset(self, band_dim: str = "band") -> xr.Dataset:
        """One variable per band of a band-dimension array; a named band array as is.

        Raises
        ------
        InputError
            For an array that has no ``band_dim`` dimension and is not named
            after a band (e.g. ``VV``), naming both fixes.
        """
        if band_dim in self._da.dims:
            return dataset_from_band_array(self._da, band_dim)
        if self._da.name is not None and lookup_alias(str(self._da.name)) is not None:
            return self._da.to_dataset()
        raise InputError(
            f"this DataArray (dims {self._da.dims}, name {self._da.name!r}) has no {band_dim!r} "
            "dimension and is not named after a band: name it (da.rename('VV')) or stack its "
            f"bands along a {band_dim!r} dimension"
        )

    def standardize(self, **options: Any) -> xr.Dataset:
        """Canonical bands and units; see :func:`xsoilmoist.standardize` for ``options``."""
        return bands.standardize(self.to_dataset(), **options)

    def check(self, **options: Any) -> report.CheckReport:
        """The input report; see :func:`xsoilmoist.report.check` for ``options``."""
        return report.check(self.to_dataset(), **options)

    def predict(self, model: str | Path | Any = "default", **options: Any) -> xr.DataArray:
        """Surface soil moisture; see :func:`xsoilmoist.predict` for ``options``.

        Examples
        --------
        >>> stack = stackstac.stack(items, assets=["vv", "vh"])  # doctest: +SKIP
        >>> ssm = stack.ssm.predict()  # doctest: +SKIP
        """
        return inference.predict(self.to_dataset(), model, **options)

    def plot(
        self,
        *,
        vmin: float = 0.0,
        vmax: float = 0.5,
        cmap: str = plotting.MOISTURE_CMAP,
        title: str | None = None,
        ax: Axes | None = None,
    ) -> Figure:
        """Map on the fixed moisture scale; see :func:`xsoilmoist.plot.moisture_map`."""
        return plotting.moisture_map(self._da, vmin=vmin, vmax=vmax, cmap=cmap, title=title, ax=ax)

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
