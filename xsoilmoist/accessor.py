"""The ``ds.ssm`` and ``da.ssm`` accessors: thin methods that delegate to the module functions.

``ds.ssm`` (on a Dataset) prepares inputs and predicts; ``da.ssm`` (on a
DataArray) does the same for a band-dimension array such as stackstac's
``(time, band, y, x)``, and plots a predicted ``ssm``. xarray keeps the two
apart, so both can be called ``ssm``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import xarray as xr

from xsoilmoist import bands, encoding, inference, report
from xsoilmoist import plot as plotting
from xsoilmoist.assembly import dataset_from_band_array
from xsoilmoist.catalogue import lookup_alias
from xsoilmoist.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SSMAccessor", "SSMDataArrayAccessor"]

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _signature_of(func: Callable[..., Any]) -> Callable[[_Method], _Method]:
    """Give an accessor method ``func``'s signature, the data argument replaced by ``self``.

    The method forwards its keywords to ``func`` unchanged, so ``help()``, IDEs and the API
    docs show ``func``'s own parameters, defaults and types, written once (in ``func``).
    """
    signature = inspect.signature(func)
    data, *parameters = signature.parameters.values()
    self_parameter = data.replace(name="self", annotation=inspect.Parameter.empty)

    def decorate(method: _Method) -> _Method:
        method.__signature__ = signature.replace(parameters=[self_parameter, *parameters])  # type: ignore[attr-defined]
        return method

    return decorate


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

    @_signature_of(bands.standardize)
    def standardize(self, **options: Any) -> xr.Dataset:
        """Canonical bands and units; see :func:`xsoilmoist.standardize` for ``options``."""
        return bands.standardize(self._ds, **options)

    @_signature_of(report.check)
    def check(self, **options: Any) -> report.CheckReport:
        """Modalities found, derived or missing; see :func:`xsoilmoist.report.check`."""
        return report.check(self._ds, **options)

    def encode_time(self) -> xr.Dataset:
        """Cyclic day-of-year encoding per time step.

        See :func:`xsoilmoist.encoding.encode_time`.
        """
        return encoding.encode_time(self._ds)

    @_signature_of(inference.predict)
    def predict(self, model: str | Path | Any = "default", **options: Any) -> xr.DataArray:
        """Surface soil moisture for the scene; see :func:`xsoilmoist.predict` for ``options``."""
        return inference.predict(self._ds, model, **options)


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

    @_signature_of(bands.standardize)
    def standardize(self, **options: Any) -> xr.Dataset:
        """Canonical bands and units; see :func:`xsoilmoist.standardize` for ``options``."""
        return bands.standardize(self.to_dataset(), **options)

    @_signature_of(report.check)
    def check(self, **options: Any) -> report.CheckReport:
        """The input report; see :func:`xsoilmoist.report.check` for ``options``."""
        return report.check(self.to_dataset(), **options)

    @_signature_of(inference.predict)
    def predict(self, model: str | Path | Any = "default", **options: Any) -> xr.DataArray:
        """Surface soil moisture; see :func:`xsoilmoist.predict` for ``options``.

        Examples
        --------
        >>> stack = stackstac.stack(items, assets=["vv", "vh"])  # doctest: +SKIP
        >>> ssm = stack.ssm.predict()  # doctest: +SKIP
        """
        return inference.predict(self.to_dataset(), model, **options)

    @_signature_of(plotting.moisture_map)
    def plot(self, **options: Any) -> Figure:
        """Map on the fixed moisture scale; see :func:`xsoilmoist.plot.moisture_map`."""
        return plotting.moisture_map(self._da, **options)

    @_signature_of(plotting.scatter)
    def scatter(self, obs: xr.DataArray, **options: Any) -> Figure:
        """These predictions against ``obs``; see :func:`xsoilmoist.plot.scatter`."""
        return plotting.scatter(self._da, obs, **options)
