"""Readers and writers: scenes from zarr, netCDF or GeoTIFF files; ISMN stations; results."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dask
import numpy as np
import xarray as xr

from xsoilmoist.errors import (
    InputError,
    InputNotFoundError,
    InputTypeError,
    OutputExistsError,
    OutputPathError,
)
from xsoilmoist.ismn import ISMNFormatError, read_ismn
from xsoilmoist.tiling import row_ordered

__all__ = [
    "COMPLETE_ATTR",
    "ISMNFormatError",
    "check_output",
    "is_complete",
    "open_scene",
    "read_ismn",
    "write_result",
]

_GEOTIFF_SUFFIXES = {".tif", ".tiff", ".vrt"}


def open_raster(path: str | Path, **kwargs):
    """``rioxarray.open_rasterio(path, **kwargs)`` without the FutureWarning rioxarray
    raises about its own chunk handling (nothing a user can act on)."""
    import rioxarray

    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Supplying chunks as dimension-order tuples", FutureWarning
        )
        return rioxarray.open_rasterio(path, **kwargs)


def _open_geotiff(path: Path, chunks) -> xr.Dataset:
    opened = open_raster(path, chunks=chunks, band_as_variable=True)
    names = {}
    for var in opened.data_vars:
        description = opened[var].attrs.get("long_name")
        if isinstance(description, str) and description:
            names[var] = description
    if len(opened.data_vars) == 1 and not names:
        names = {next(iter(opened.data_vars)): path.stem}
    return opened.rename(names)


def open_scene(path: str | Path, *, chunks: dict | str | None = "auto") -> xr.Dataset:
    """Open a scene as a (dask-backed) Dataset.

    Parameters
    ----------
    path
        A zarr store (folder ending ``.zarr``), a netCDF file (``.nc``), a
        GeoTIFF or VRT (each band one variable, named by its band description,
        or by the file name for a single band), or a folder of GeoTIFFs (one
        variable per file, named by the file stem, all on one grid).
    chunks
        Dask chunks passed to the reader; ``None`` loads numpy arrays. With
        ``"auto"`` a zarr store keeps its own chunks (the unit it is read in:
        dask's auto chunks can span a whole band, which every block of
        :func:`xsoilmoist.predict` would then read); other formats get dask's
        auto chunks.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the format is not one of the above.

    Examples
    --------
    >>> ds = open_scene("scene.zarr")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"scene {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".zarr" or (path / ".zgroup").exists() or (path / "zarr.json").exists():
        return xr.open_zarr(path, chunks={} if chunks == "auto" else chunks, decode_coords="all")
    if suffix in {".nc", ".nc4", ".netcdf"}:
        return xr.open_dataset(path, chunks=chunks, decode_coords="all")
    if suffix in _GEOTIFF_SUFFIXES:
        return _open_geotiff(path, chunks)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _GEOTIFF_SUFFIXES)
        if files:
            try:
                return xr.merge(
                    [_open_geotiff(f, chunks) for f in files],
                    join="exact",
                    compat="no_conflicts",
                    combine_attrs="drop_conflicts",
                )
            except ValueError as err:
                raise InputError(
                    f"the GeoTIFFs in {str(path)!r} are not all on one grid ({err}); build one "
                    f"scene from them with `xsoilmoist assemble {path} scene.zarr` (or resample "
                    "them onto one grid first, e.g. with rio.reproject_match)"
                ) from err
    raise InputError(
        f"cannot open {str(path)!r}: expected a .zarr store, a .nc file, a GeoTIFF/VRT or a "
        "folder of GeoTIFFs"
    )


# --- writing results: checked paths, atomic moves, a completion marker --------

COMPLETE_ATTR = "xsoilmoist_complete"
"""Attribute set to ``"true"`` on a complete output: written last into a zarr store's
group attributes, and as a dataset tag of a GeoTIFF (which only ever appears under its
final name complete, by an atomic rename). See :func:`is_complete`."""

_OUTPUT_SUFFIXES = {".zarr", ".tif", ".tiff"}
_ZARR_METADATA = {"zarr.json", ".zgroup", ".zattrs", ".zmetadata"}
_ZARR_CONSOLIDATED_WARNING = "Consolidated metadata is currently not part"


def _zarr_attrs(path: Path) -> tuple[dict, dict[str, dict]] | None:
    """Group attrs and ``{array name: attrs}`` of a zarr store, or None if ``path`` is not one."""
    if not path.is_dir() or not any((path / name).exists() for name in ("zarr.json", ".zgroup")):
        return None
    import zarr

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _ZARR_CONSOLIDATED_WARNING)
            group = zarr.open_group(str(path), mode="r")
            return dict(group.attrs), {name: dict(a.attrs) for name, a in group.arrays()}
    except Exception:  # unreadable metadata of any kind: not a store xsoilmoist can vouch for
        return None


def _geotiff_tags(path: Path) -> dict | None:
    """The dataset tags of a GeoTIFF, or None if ``path`` is not a readable one."""
    if not path.is_file() or path.suffix.lower() not in {".tif", ".tiff"}:
        return None
    import rasterio

    try:
        with rasterio.open(path) as src:
            return src.tags()
    except (rasterio.errors.RasterioError, OSError):
        return None


def is_complete(path: str | Path) -> bool:
    """True when ``path`` is an xsoilmoist output that was written to the end.

    :func:`write_result` writes into a hidden sibling (``.NAME.xsoilmoist-partial-*``)
    and moves it to ``path`` only once complete, so a half-written result never
    carries the final name. Readers that want to be sure (a store copied by
    another tool, one written by an older version) check the marker
    :data:`COMPLETE_ATTR`: the last attribute written into a zarr store's group
    attributes (``xr.open_zarr(path).attrs["xsoilmoist_complete"] == "true"``),
    a dataset tag of a GeoTIFF (``rasterio.open(path).tags()``).

    Examples
    --------
    >>> is_complete("ssm.zarr")  # doctest: +SKIP
    True
    """
    path = Path(path)
    attrs = _zarr_attrs(path)
    if attrs is not None:
        return attrs[0].get(COMPLETE_ATTR) == "true"
    tags = _geotiff_tags(path)
    return tags is not None and tags.get(COMPLETE_ATTR) == "true"


def _not_ours(path: Path) -> str | None:
    """Why ``path`` is not an earlier xsoilmoist output that may be replaced, or None if it is."""
    if path.suffix.lower() == ".zarr":
        if not path.is_dir():
            return "is not a folder (a zarr store is one)"
        entries = sorted(p.name for p in path.iterdir())
        attrs = _zarr_attrs(path)
        if attrs is None:
            if not entries:
                return None  # an empty folder: nothing to lose
            return f"is a folder that is not a zarr store (it holds {', '.join(entries[:3])} ...)"
        group, arrays = attrs
        if COMPLETE_ATTR not in group and not any("model_sha256" in a for a in arrays.values()):
            return "is a zarr store that xsoilmoist did not write (no 'xsoilmoist_complete' attr)"
        foreign = [name for name in entries if name not in _ZARR_METADATA | set(arrays)]
        if foreign:
            return f"holds files that are not part of the store ({', '.join(foreign[:3])})"
        return None
    tags = _geotiff_tags(path)
    if tags is None:
        return "is not a GeoTIFF file"
    if COMPLETE_ATTR not in tags and "model_sha256" not in tags:
        return "is a GeoTIFF that xsoilmoist did not write (no 'xsoilmoist_complete' tag)"
    return None


def _refuse_overlap(target: Path, source: Path) -> None:
    if target == source:
        why = "is the input: writing it would destroy the input"
    elif source in target.parents:
        why = f"is inside the input {str(source)!r}: the input would no longer be what was read"
    elif target in source.parents:
        why = f"contains the input {str(source)!r}: replacing it would delete the input"
    else:
        return
    raise OutputPathError(f"the output {str(target)!r} {why}; choose an output path elsewhere")


def check_output(
    path: str | Path, *, overwrite: bool = False, inputs: Iterable[str | Path] = ()
) -> Path:
    """Check, before anything is computed, that a result can be written to ``path``.

    Parameters
    ----------
    path
        ``*.zarr`` or ``*.tif``/``*.tiff``; its folder must exist.
    overwrite
        Allow replacing an existing output, which must be an earlier xsoilmoist
        output (a zarr store or GeoTIFF it wrote), never anything else.
    inputs
        Paths read to make the result: the output may not be one of them, be
        inside one, or contain one (compared after resolving links).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputExistsError
        ``path`` exists and ``overwrite`` is false.
    OutputPathError
        For any other reason, named in the message.

    Examples
    --------
    >>> check_output("ssm.zarr", inputs=["scene.zarr"])  # doctest: +SKIP
    PosixPath('ssm.zarr')
    """
    path = Path(path)
    if path.suffix.lower() not in _OUTPUT_SUFFIXES:
        raise OutputPathError(f"cannot write {str(path)!r}: the output must end in .zarr or .tif")
    target = path.resolve()
    for source in inputs:
        _refuse_overlap(target, Path(source).resolve())
    if not target.parent.is_dir():
        raise OutputPathError(
            f"cannot write {str(path)!r}: the folder {str(target.parent)!r} does not exist; "
            "create it first (mkdir -p)"
        )
    if os.path.lexists(target):
        if not overwrite:
            raise OutputExistsError(
                f"{str(path)!r} exists; pass --overwrite (overwrite=True in Python) to replace "
                "it, or choose another path"
            )
        _require_ours(target)
    return path


def _require_ours(target: Path) -> None:
    reason = _not_ours(target)
    if reason is not None:
        raise OutputPathError(
            f"{str(target)!r} exists and {reason}; --overwrite (overwrite=True) only replaces an "
            "earlier xsoilmoist output: choose another path, or move it away yourself"
        )


def _sibling(target: Path, kind: str) -> Path:
    """A hidden sibling of ``target``, unique to this call (same folder: renames are atomic)."""
    return target.with_name(f".{target.stem}.xsoilmoist-{kind}-{uuid.uuid4().hex[:12]}")


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _move_into_place(partial: Path, target: Path) -> None:
    """Rename the complete ``partial`` to ``target``, replacing an earlier output of ours."""
    if not os.path.lexists(target):
        os.replace(partial, target)
        return
    _require_ours(target)  # checked again: something may have appeared since check_output
    if target.is_file():
        os.replace(partial, target)  # atomic: readers see the old file or the new one
        return
    previous = _sibling(target, "previous")
    os.replace(target, previous)
    try:
        os.replace(partial, target)
    except BaseException:
        os.replace(previous, target)
        raise
    _discard(previous)


@contextlib.contextmanager
def _atomically(target: Path) -> Iterator[Path]:
    """Yield a partial path to write; move it to ``target`` on success, discard it otherwise."""
    partial = _sibling(target, "partial")
    try:
        yield partial
        _move_into_place(partial, target)
    except BaseException:
        _discard(partial)
        raise


def _client():
    """The default dask-distributed client, if one is running."""
    if "distributed" not in sys.modules:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:
        return None


def _block_progress_bar():
    """dask's progress bar, advancing with the model's block tasks rather than with every task.

    A small scene is a few heavy block tasks (keys naming ``ssm-tiles``, from
    :func:`xsoilmoist.tiling.overlapping_blocks`) among many light ones (reads,
    rechunks), so a bar counting tasks leaps to 90 % and waits there. Graphs
    without block tasks are counted as dask does.
    """
    from dask.diagnostics import ProgressBar
    from dask.utils import key_split

    def blocks(keys) -> int:
        return sum("ssm-tiles" in key_split(k) for k in tuple(keys))

    class BlockProgressBar(ProgressBar):
        def _update_bar(self, elapsed):
            state = self._state
            if not state:
                return super()._update_bar(elapsed)
            done = blocks(state["finished"])
            left = sum(blocks(state[kind]) for kind in ("ready", "waiting", "running"))
            if done + left == 0:
                return super()._update_bar(elapsed)
            if left:
                self._draw_bar(done / (done + left), elapsed)

    return BlockProgressBar()


def _compute(obj, progress: bool):
    """Compute a dask object; no task of it still runs (or writes) when this returns or raises."""
    client = _client()
    if client is not None:
        from distributed import progress as distributed_progress

        future = client.compute(obj)
        try:
            if progress:
                distributed_progress(future)
            return future.result()
        except BaseException:
            future.cancel()
            raise
    with contextlib.ExitStack() as stack:
        if progress:
            stack.enter_context(_block_progress_bar())
        if dask.config.get("scheduler", None) is not None:  # the user chose a scheduler
            return dask.compute(obj)[0]
        # dask's shared thread pool keeps running a failed graph's tasks; ours is joined
        workers = dask.config.get("num_workers", None) or dask.system.CPU_COUNT
        pool = ThreadPoolExecutor(workers, thread_name_prefix="xsoilmoist-write")
        stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        return dask.compute(obj, scheduler="threads", pool=pool)[0]


def _zarr_dataset(obj: xr.DataArray | xr.Dataset) -> xr.Dataset:
    store = obj.to_dataset(name=obj.name or "ssm") if isinstance(obj, xr.DataArray) else obj.copy()
    store.attrs = {k: v for k, v in store.attrs.items() if k != COMPLETE_ATTR}
    for name in store.variables:
        if store[name].dtype.kind == "U":  # fixed-width unicode has no zarr 3 spec; strings do
            store[name] = store[name].astype(object)
        store[name].encoding = {}
        chunks = store[name].chunks
        if chunks is not None:  # zarr needs equal chunks but the last
            sizes = {dim: max(c) for dim, c in zip(store[name].dims, chunks, strict=True)}
            store[name] = store[name].chunk(sizes)
    return store


def _write_chunk(chunk: np.ndarray, root: str, name: str, region: tuple, previous: None) -> None:
    """Write ``chunk`` into ``region`` of array ``name`` of the zarr store at ``root``."""
    import zarr

    zarr.open_array(root, path=name, mode="r+")[region] = chunk


def _all_written(*tokens: None) -> None:
    """The token of every write having run."""


def _ordered_writes(data, root: str, name: str):
    """A ``dask.delayed`` writing ``data``'s chunks into ``root``'s ``name`` in row-major order.

    Each write waits for the one before (as :func:`xsoilmoist.tiling.row_ordered`
    chains blocks), so dask walks the scene row by row and a chunk is written,
    and freed, as soon as it is computed: memory stays bounded by a few rows of
    blocks whatever the scene's size. (Left to xarray's store, the writes of a
    predicted map came last in dask's order, after every chunk was computed,
    so the whole map waited in memory.)
    """
    from dask.base import tokenize
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    layer_name = "write-ordered-" + tokenize(data.name, root, name)
    bounds = [np.cumsum((0, *c)) for c in data.chunks]
    graph, previous = {}, None
    for index in np.ndindex(*data.numblocks):
        region = tuple(slice(int(b[i]), int(b[i + 1])) for b, i in zip(bounds, index, strict=True))
        key = (layer_name, *index)
        graph[key] = (_write_chunk, (data.name, *index), root, name, region, previous)
        previous = key
    layer = HighLevelGraph.from_collections(layer_name, graph, dependencies=[data])
    return Delayed(previous, layer, layer=layer_name)


def _write_zarr(obj: xr.DataArray | xr.Dataset, target: Path, progress: bool) -> None:
    import zarr

    store = _zarr_dataset(obj)
    lazy = {name: v for name, v in store.variables.items() if v.chunks is not None}
    numeric = all(v.dtype.kind in "fiub" for v in lazy.values())  # written as they are
    with warnings.catch_warnings(), _atomically(target) as partial:
        # our own consolidated metadata (zarr 3 warns that the spec lacks it; xarray reads it)
        warnings.filterwarnings("ignore", _ZARR_CONSOLIDATED_WARNING)
        by_xarray = store.to_zarr(partial, mode="w-", compute=False)  # metadata, numpy data
        if numeric:
            writes = [_ordered_writes(v.data, str(partial), str(n)) for n, v in lazy.items()]
            _compute(dask.delayed(_all_written)(*writes), progress)
        else:  # values xarray encodes (times, strings): its own store
            _compute(by_xarray, progress)
        group = zarr.open_group(str(partial), mode="r+")
        group.attrs[COMPLETE_ATTR] = "true"  # last: the store is complete
        zarr.consolidate_metadata(str(partial))


def _geotiff_raster(da: xr.DataArray) -> xr.DataArray:
    """``da`` as rioxarray writes it: one band per date, NaN nodata, units on every band."""
    attrs = {k: v for k, v in da.attrs.items() if k != COMPLETE_ATTR}
    band_tag = {k: str(attrs[k]) for k in ("units", "standard_name", "long_name") if k in attrs}
    raster = da
    if "time" in da.dims:
        dates = [str(t)[:19] for t in da["time"].values]
        raster = da.rename(time="band").assign_coords(band=np.arange(1, len(dates) + 1))
        attrs["long_name"] = dates  # the band descriptions
        attrs["band_tags"] = [{**band_tag, "time": date} for date in dates]
    else:
        attrs["band_tags"] = [band_tag]
    raster = raster.copy()
    raster.attrs = {**attrs, COMPLETE_ATTR: "true"}
    return raster.rio.write_nodata(np.nan, encoded=False)


def _write_geotiff(da: xr.DataArray, target: Path, progress: bool) -> None:
    if not isinstance(da, xr.DataArray):
        raise InputTypeError(f"a GeoTIFF takes one DataArray, got {type(da).__name__}")
    raster = _geotiff_raster(da)
    if raster.chunks is not None:
        raster = raster.copy(data=_compute(row_ordered(raster.data), progress))
    with _atomically(target) as partial:
        raster.rio.to_raster(partial, driver="COG")


def write_result(
    da: xr.DataArray | xr.Dataset,
    path: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = False,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Write a (lazy) result to a zarr store or a Cloud-Optimized GeoTIFF, atomically.

    Zarr is written block by block (memory bounded by the blocks). A GeoTIFF
    (``.tif``) is written as a COG with one band per time step, each band
    described by its date and tagged with the units and long name; NaN is its
    nodata value.

    The result is written to a hidden sibling and renamed to ``path`` only once
    complete, with the marker :data:`COMPLETE_ATTR` (see :func:`is_complete`).
    An interrupted or failed write leaves no partial output under ``path`` and
    an earlier output there untouched.

    Parameters
    ----------
    da
        The result, e.g. from :func:`xsoilmoist.predict` (a Dataset too, for zarr).
    path
        ``*.zarr`` or ``*.tif``/``*.tiff``, in a folder that exists.
    overwrite
        Replace an earlier xsoilmoist output at ``path``; anything else there is
        never replaced (:class:`~xsoilmoist.errors.OutputPathError`).
    progress
        Show a progress bar while computing.
    inputs
        Paths the result was read from: the output may not be, be inside or
        contain one of them.

    Raises
    ------
    OutputExistsError, OutputPathError
        Before anything is computed, see :func:`check_output`.

    Examples
    --------
    >>> write_result(ssm, "ssm.zarr", inputs=["scene.zarr"])  # doctest: +SKIP
    PosixPath('ssm.zarr')
    """
    path = check_output(path, overwrite=overwrite, inputs=inputs)
    target = path.resolve()
    if path.suffix.lower() == ".zarr":
        _write_zarr(da, target, progress)
    else:
        _write_geotiff(da, target, progress)
    return path
