"""The ``ds.ssm`` accessor: thin methods that delegate to the module functions."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from xsoilmoist import bands, encoding, inference, report

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

    def predict(
        self,
        model: str | Path | Any = "default",
        *,
        tile: int | None = None,
        overlap: int | None = None,
        batch_size: int = 4,
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
