"""The ``ds.ssm`` accessor: thin methods that delegate to the module functions."""

from __future__ import annotations

from collections.abc import Mapping

import xarray as xr

from xsoilmoist import bands, encoding, report

__all__ = ["SSMAccessor"]


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
