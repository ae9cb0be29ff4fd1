"""Assembled scenes built again at other chunks, so that each chunk computes only its pixels.

:func:`xsoilmoist.predict` reads a lazy scene block by block, each block with
a margin into its neighbours, and asks for the scene in chunks cut at those
margins (:meth:`~xsoilmoist.tiling.TilingPlan.read_chunks`). For a scene read
from files a rechunk does that: each piece reads its part of a file chunk.
An assembled scene's chunks are resampled, composited and derived: cut by a
rechunk, every block would compute whole each chunk its margin reaches into
(at 4096 px in 1024 px chunks, six times the assembly's work). So
:func:`~xsoilmoist.assemble` remembers how it built each scene, and
:func:`spatially_chunked` builds the scene again straight at the chunks asked
for. A variable is known by its dask name, which names its computation: the
rebuilt variable has the same values, in other chunks. A variable changed
since (another dask name) is rechunked.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping

import xarray as xr

from xsoilmoist.grid import spatial_dims

__all__ = ["is_assembled", "remember", "spatially_chunked"]

#: How many assembled scenes are remembered (the latest ones).
KEEP = 16

Build = Callable[[tuple[tuple[int, ...], tuple[int, ...]]], xr.Dataset]
_BUILDS: OrderedDict[str, tuple[Build, str]] = OrderedDict()


def remember(scene: xr.Dataset, build: Build) -> None:
    """Record that ``build((y_chunks, x_chunks))`` gives ``scene`` again at those chunks."""
    for name, variable in scene.data_vars.items():
        if variable.chunks is not None:
            _BUILDS[variable.data.name] = (build, str(name))
            _BUILDS.move_to_end(variable.data.name)
    while len(_BUILDS) > KEEP * max(1, len(scene.data_vars)):
        _BUILDS.popitem(last=False)


def is_assembled(ds: xr.Dataset) -> bool:
    """Whether a variable of ``ds`` is one :func:`~xsoilmoist.assemble` can build again.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> is_assembled(xr.Dataset({"vv": (("y", "x"), np.zeros((4, 4)))}).chunk(2))
    False
    """
    return any(v.chunks is not None and v.data.name in _BUILDS for v in ds.data_vars.values())


def spatially_chunked(ds: xr.Dataset, sizes: Mapping[str, tuple[int, ...]]) -> xr.Dataset:
    """``ds`` in chunks ``sizes`` along its spatial dims; lazy, values unchanged.

    Variables of a scene from :func:`~xsoilmoist.assemble` are built again at
    those chunks (so each chunk resamples only its own pixels); the others
    are rechunked.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"vv": (("y", "x"), np.zeros((4, 4)))}).chunk(2)
    >>> spatially_chunked(ds, {"y": (1, 3), "x": (4,)})["vv"].chunks
    ((1, 3), (4,))
    """
    out = ds.chunk(dict(sizes))
    y_dim, x_dim = spatial_dims(ds)
    rebuilt: dict[int, xr.Dataset] = {}
    for name, variable in ds.data_vars.items():
        found = _BUILDS.get(variable.data.name) if variable.chunks is not None else None
        if found is None:
            continue
        build, band = found
        if id(build) not in rebuilt:
            with warnings.catch_warnings():  # warned about when the scene was assembled
                warnings.simplefilter("ignore")
                rebuilt[id(build)] = build((tuple(sizes[y_dim]), tuple(sizes[x_dim])))
        again = rebuilt[id(build)][band]
        if again.dims == variable.dims and again.chunks == out[name].chunks:
            out[name] = out[name].copy(data=again.data)
    return out
