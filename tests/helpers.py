"""Test helpers shared by the test modules."""

from __future__ import annotations

import contextlib

import dask


class CountingScheduler:
    """A dask scheduler that counts computes and fails past ``max_computes`` (as cf_xarray's)."""

    def __init__(self, max_computes: int = 0) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(
                f"too many dask computations: {self.total_computes} > {self.max_computes}"
            )
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0):
    """Fail if the block computes dask arrays more than ``max_computes`` times."""
    scheduler = CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler


def raster(
    values, *, x0=400000.0, y0=5300000.0, res=10.0, crs="EPSG:32633", name="v", times=None, **attrs
):
    """A (time, y, x) or (y, x) DataArray with pixel-centre coords from the top-left corner."""
    import numpy as np
    import rioxarray  # noqa: F401  (registers .rio)
    import xarray as xr

    values = np.asarray(values)
    ny, nx = values.shape[-2:]
    coords = {"y": y0 - res * (np.arange(ny) + 0.5), "x": x0 + res * (np.arange(nx) + 0.5)}
    dims = ("y", "x")
    if times is not None:
        coords["time"] = np.asarray(times, dtype="datetime64[ns]")
        dims = ("time", "y", "x")
    return xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=attrs).rio.write_crs(crs)
