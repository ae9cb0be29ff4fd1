"""Lazy tiled inference: ``predict(ds)`` and ``ds.ssm.predict()``.

The scene is standardized, its bands stacked in the model's order, and the
model run over a global tile grid (:mod:`xsoilmoist.tiling`) block by block
with dask: nothing is computed until asked, memory is bounded by the block
size, and the result does not depend on the input's chunks. Tasks carry a
small :class:`ModelRef` (a path or name and the weights' sha256), never a
pickled network; each process loads the weights once and keeps them.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
import xarray as xr

from xsoilmoist.assembly.rebuild import is_assembled, spatially_chunked
from xsoilmoist.bands import plan_standardization, standardize
from xsoilmoist.catalogue import BANDS
from xsoilmoist.encoding import metadata_features
from xsoilmoist.errors import InputError, InputTypeError, ModelError
from xsoilmoist.grid import carry_georeferencing, coordinate_step, spatial_dims
from xsoilmoist.input_checks import (
    ScenePlan,
    block_counter,
    counts_of_blocks,
    guard,
    inspect_metadata,
    judge_counts,
    value_counts,
)
from xsoilmoist.model_card import MAX_TILE
from xsoilmoist.runtime import (
    Runtime,
    compiled_where,
    plan_runtime,
    tile_runner,
    torch_threads,
)
from xsoilmoist.surface_conditions import CONDITION_BANDS, applied_rules, condition_flags
from xsoilmoist.tiling import TilingPlan, assemble_blocks, overlapping_blocks

if TYPE_CHECKING:
    from xsoilmoist.model import SSMNet

__all__ = ["ModelRef", "model_load_count", "predict", "prepare_inputs"]

#: Pixels per block edge that inference aims for (a whole number of tile cores).
TARGET_BLOCK = 1024
#: The same for a scene from :func:`~xsoilmoist.assemble`, whose blocks resample, composite
#: and derive what they read: bigger blocks read fewer pieces and a smaller share of margins.
ASSEMBLED_BLOCK = 1536
#: Largest default tile, as a multiple of the model card's tile (see :func:`_default_tiling`).
MAX_TILE_FACTOR = 2
#: Pixels per forward pass when ``batch_size`` is not given: 4 tiles of 256 x 256.
BATCH_PIXELS = 4 * 256 * 256

_CACHE: dict[ModelRef, Any] = {}
_CACHE_LOCK = threading.Lock()
_LOADS = {"count": 0}


@dataclass(frozen=True)
class ModelRef:
    """What a task needs to find a model: where it comes from and the weights' sha256.

    ``source`` is a bundled or registered name, a ``.safetensors`` path, or
    ``memory:<hash>`` for a model object living in this process only.
    """

    source: str
    sha256: str
    name: str


def model_load_count() -> int:
    """How many times this process has loaded model weights for inference.

    Each process loads a given model once; tests use this to prove it.

    Examples
    --------
    >>> model_load_count() >= 0
    True
    """
    return _LOADS["count"]


def _state_sha256(model: SSMNet) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _resolve_model(model: str | Path | SSMNet) -> tuple[ModelRef, SSMNet]:
    """The reference tasks will carry, and the model loaded (once) in this process."""
    if isinstance(model, (str, Path)):
        from xsoilmoist.weights import load_card

        path = Path(model).expanduser()
        source = str(path.resolve()) if path.exists() else str(model)
        card = load_card(source)
        ref = ModelRef(source, card.sha256, card.name)
        return ref, _cached_model(ref, warn=True)
    ref = ModelRef(f"memory:{_state_sha256(model)}", model.card.sha256, model.card.name)
    with _CACHE_LOCK:
        _CACHE.setdefault(ref, model.eval())
    return ref, _CACHE[ref]


def _cached_model(ref: ModelRef, warn: bool = False) -> SSMNet:
    """The model for ``ref``, loaded at most once per process (``warn``: show load warnings)."""
    with _CACHE_LOCK:
        model = _CACHE.get(ref)
        if model is not None:
            return model
        if ref.source.startswith("memory:"):
            raise ModelError(
                "this task runs in a process that does not hold the in-memory model; save it "
                "with xsoilmoist.weights.save_model and pass its path to predict(), so every "
                "worker can load it"
            )
        import warnings

        from xsoilmoist.weights import load_model

        with warnings.catch_warnings():
            if not warn:  # in tasks: the caller was warned already
                warnings.simplefilter("ignore", UserWarning)
            model = load_model(ref.source)
        if ref.sha256 and model.card.sha256 != ref.sha256:
            raise ModelError(
                f"model {ref.source!r} on this worker has sha256 {model.card.sha256}, but the "
                f"task expects {ref.sha256}; give every worker the same model files"
            )
        _CACHE[ref] = model
        _LOADS["count"] += 1
        return model


@functools.cache
def _libc_malloc_trim():
    """glibc's ``malloc_trim``, or None off glibc (looked up on first use, not at import)."""
    import ctypes

    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def _predict_block(
    block: np.ndarray,
    t: int,
    *,
    meta: np.ndarray,
    ref: ModelRef,
    plan: TilingPlan,
    batch_size: int,
    runtime: Runtime,
    conditions: Mapping[str, int],
) -> np.ndarray:
    """Stage 1: weighted tile predictions over one block and its halo.

    ``block`` is ``(1, bands, H + O, W + O)``; returns ``(1, 2, H + O, W + O)``
    float32 holding the weighted sum of predictions and the sum of weights,
    both 0 on pixels :func:`~xsoilmoist.surface_conditions.condition_flags`
    flags from the bands at ``conditions`` (band -> index in the block).
    """
    import torch

    torch.set_num_threads(torch_threads())
    run = tile_runner(_cached_model(ref), ref, ref.sha256, runtime, plan.tile, batch_size)
    meta_row = np.ascontiguousarray(meta[t : t + 1], dtype=np.float32)
    _, _, height, width = block.shape
    stride, tile = plan.stride, plan.tile
    ny, nx = (height - plan.overlap) // stride, (width - plan.overlap) // stride
    num = np.zeros((height, width), dtype=np.float32)
    den = np.zeros((height, width), dtype=np.float32)
    window = plan.window_2d()
    origins = [
        (y, x)
        for y in range(0, ny * stride, stride)
        for x in range(0, nx * stride, stride)
        if np.isfinite(block[0, :, y : y + tile, x : x + tile]).any()  # else nothing to do
    ]
    for start in range(0, len(origins), batch_size):
        batch = origins[start : start + batch_size]
        tiles = np.stack([block[0, :, y : y + tile, x : x + tile] for y, x in batch])
        for (y, x), values in zip(batch, run(tiles, meta_row), strict=True):
            valid = np.isfinite(values)
            weights = np.where(valid, window, 0.0)
            num[y : y + tile, x : x + tile] += np.where(valid, values, 0.0) * weights
            den[y : y + tile, x : x + tile] += weights
    if conditions:
        flagged = condition_flags({b: block[0, k] for b, k in conditions.items()}) > 0
        num[flagged], den[flagged] = 0.0, 0.0
    malloc_trim = _libc_malloc_trim()
    if malloc_trim is not None:
        # Hand the block's freed buffers back to the OS: glibc keeps them otherwise, and a
        # long prediction's resident memory grows with the scene (dask-distributed trims
        # its workers' memory the same way).
        malloc_trim(0)
    return np.stack([num, den])[None]


def _block_aligned_chunks(
    ds: xr.Dataset, plan: TilingPlan, block_tiles: int, y_dim: str, x_dim: str
) -> xr.Dataset:
    """``ds`` rechunked in space to :meth:`TilingPlan.read_chunks` (other dims untouched).

    Each block task computes (reads and standardizes) the input chunks it
    overlaps. With the user's chunks, a block of about 1000 px overlapping four
    1024 px chunks would compute all four whole (and ``xr.open_zarr``'s
    ``"auto"`` chunks can hold a whole band). Cut at the blocks' read edges,
    every block computes exactly the pixels it reads; the file is still read
    in its own chunks, each piece taking its part. A scene from
    :func:`~xsoilmoist.assemble` is built again at those chunks
    (:func:`~xsoilmoist.assembly.rebuild.spatially_chunked`), so each piece
    resamples only its own pixels.
    """
    sizes = {
        y_dim: plan.read_chunks(ds.sizes[y_dim], block_tiles),
        x_dim: plan.read_chunks(ds.sizes[x_dim], block_tiles),
    }
    return spatially_chunked(ds, sizes)


def _block_tiles(plan: TilingPlan, target: int = TARGET_BLOCK) -> int:
    """Tile cores per block edge: the whole number that comes nearest ``target`` pixels.

    Not fewer so that every thread gets a block: the model runs one forward
    pass at a time per process, on all its cores (:func:`~xsoilmoist.runtime.tile_runner`),
    so more and smaller blocks only read their margins again and set the
    reading threads against the model's. Measured at 1024 x 1024 px (eager,
    448 px tiles, 2 cores, best of 3): one block 2.0-2.4 s, four 2.2-2.6 s, nine 3.2-3.4 s.
    Blocks of a scene read from zarr gain nothing from being larger (4096 and 8192 px, zarr
    to zarr: the same time with 2048 px blocks, twice the peak memory); those of an assembled
    scene do (:data:`ASSEMBLED_BLOCK`; assemble + predict in one graph at 8192 px: 1024 px
    blocks 111 s and 2.4 GiB, 1536 px 78 s and 2.8 GiB, 2048 px 86 s and 3.7 GiB).
    """
    return max(1, round(target / plan.stride))


def _check_inputs(ds: xr.Dataset, model: SSMNet, plan, required: list[str]) -> None:
    """The metadata rules of :mod:`xsoilmoist.input_checks`: raise errors, emit warnings."""
    findings = inspect_metadata(
        ds, plan, model.config.modalities, required, model.card.trained_months
    )
    findings.raise_errors()
    findings.emit_warnings(stacklevel=4)


def scene_plan(std: xr.Dataset, model: SSMNet) -> ScenePlan:
    """The value rules' view of ``std`` for ``model`` (bands it reads, trained ranges)."""
    return ScenePlan.of(std, model.config.bands, model.card.input_ranges)


def prepare_inputs(
    ds: xr.Dataset,
    model: SSMNet,
    *,
    date=None,
    rename: Mapping[str, str] | None = None,
    processing_baseline: str | None = None,
) -> tuple[xr.DataArray, np.ndarray, xr.Dataset]:
    """Check and standardize ``ds`` and stack the model's bands; lazy on dask.

    The input rules of :mod:`xsoilmoist.input_checks` run here, for
    :func:`predict` and training alike: the metadata rules at once, the value
    rules at once for data in memory (for dask data :func:`predict` runs them
    when the result is computed).

    Returns
    -------
    stack
        ``(time, band, y, x)`` float32 in the model's band order, all-NaN for
        the bands of absent optional modalities.
    meta
        ``(time, n_metadata)`` float32 image-level scalars.
    standardized
        The standardized Dataset.

    Raises
    ------
    InputError
        If the input would give a wrong map (listing every reason and its
        fix), or the model wants bands the catalogue does not know.
    """
    config = model.config
    required = list(model.card.required_modalities)
    unknown = [b for b in config.bands if b not in BANDS]
    if unknown:
        raise InputError(
            f"the model wants bands {unknown} that xsoilmoist does not know; the model's "
            "configuration does not fit this version of xsoilmoist"
        )
    plan = plan_standardization(ds, rename=rename, processing_baseline=processing_baseline)
    plan.raise_problems()
    _check_inputs(ds, model, plan, required)
    std = standardize(ds, rename=rename, processing_baseline=processing_baseline)
    if not any(v.chunks is not None for v in std.data_vars.values()):
        scene = scene_plan(std, model)
        findings = judge_counts(np.asarray(value_counts(std, scene.bands, scene)), scene)
        findings.raise_errors()
        findings.emit_warnings(stacklevel=3)
    y_dim, x_dim = spatial_dims(std)
    has_time = "time" in std.dims
    template_dims = ("time", y_dim, x_dim) if has_time else (y_dim, x_dim)
    sizes = tuple(std.sizes[d] for d in template_dims)
    chunks = None
    present = [std[b] for b in config.bands if b in std.data_vars]
    if any(v.chunks is not None for v in present):
        chunks = "auto"
    layers = []
    template = xr.DataArray(da.empty(sizes), dims=template_dims)  # the shape every band takes
    for band in config.bands:
        if band in std.data_vars:
            layer = std[band].transpose(*[d for d in template_dims if d in std[band].dims])
            layers.append(layer.broadcast_like(template).data)
        else:
            layers.append(da.full(sizes, np.nan, dtype=np.float32, chunks=chunks or -1))
    stack = da.stack([da.asarray(layer, dtype=np.float32) for layer in layers], axis=-3)
    if not has_time:
        stack = stack[None]
    features = metadata_features(std, date=date)
    meta = np.asarray(features.values, dtype=np.float32).reshape(stack.shape[0], -1)
    names = list(features["feature"].values)
    if names != list(config.metadata):
        raise InputError(
            f"the model expects image-level features {list(config.metadata)}, xsoilmoist "
            f"computes {names}; the model does not fit this version of xsoilmoist"
        )
    dims = ("time", "band", y_dim, x_dim)
    return xr.DataArray(stack, dims=dims), meta, std


def _plan(tile: int, overlap: int | None, halo: int) -> TilingPlan:
    from xsoilmoist.model import INPUT_MULTIPLE

    return TilingPlan.for_tile(tile, halo, overlap, multiple=INPUT_MULTIPLE)


def _default_tiling(
    model: SSMNet,
    tile: int | None,
    overlap: int | None,
    shape: tuple[int, int] | None = None,
) -> TilingPlan:
    """Tile and overlap from the arguments, the model card and the scene's ``shape``.

    Without ``tile``: the card's tile, or, for a model with local statistics
    (whose output does not depend on the tile beyond its receptive field), a
    tile between the card's and ``MAX_TILE_FACTOR`` times it (in steps of
    32 px): with a known ``shape`` the one that computes the fewest pixels
    over the scene, overlaps and padding included (the smaller tile on a
    tie), and without one the largest (a compiled model has one tile shape,
    and bigger tiles waste less on overlaps: with a 32 px halo, 256 px tiles
    compute 2.6 times the scene's pixels, 512 px tiles 1.5 times).
    """
    from xsoilmoist.model import INPUT_MULTIPLE

    halo = model.card.halo
    if tile is not None:
        return _plan(tile, overlap, halo)
    base = model.card.tile
    if not model.config.local_statistics:
        return _plan(base, overlap, halo)
    plans = [
        _plan(size, overlap, halo)
        for size in range(base, MAX_TILE_FACTOR * base + 1, INPUT_MULTIPLE)
        if overlap is None or size > overlap
    ]
    if shape is None:
        return plans[-1]
    n_y, n_x = shape
    return min(plans, key=lambda p: (p.n_tiles(n_y) * p.n_tiles(n_x) * p.tile**2, p.tile))


def _output_coords(ds: xr.Dataset, dims: tuple[str, ...]) -> dict[str, xr.DataArray]:
    return {name: coord for name, coord in ds.coords.items() if set(coord.dims) <= set(dims)}


def predict(
    ds: xr.Dataset,
    model: str | Path | SSMNet = "default",
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
    compile: bool | None = None,
    mask_conditions: bool = True,
) -> xr.DataArray:
    """Surface soil moisture (m3/m3) for every pixel and time step of ``ds``.

    The scene is standardized (:func:`xsoilmoist.standardize`), its bands are
    stacked in the model's order with the image-level encodings, and the model
    runs over a global tile grid with blended overlaps. On dask-backed input
    the result is lazy (nothing is computed until ``.compute()``); on numpy
    input it is computed.

    Parameters
    ----------
    ds
        Raw or standardized scene with ``(time, y, x)`` or ``(y, x)`` bands.
    model
        ``"default"``, a registered name, a ``.safetensors`` path, or an
        :class:`~xsoilmoist.model.SSMNet` (in-memory models work with the local
        schedulers only; save them for a distributed cluster).
    tile, overlap
        Tile size and overlap in pixels. By default the halo comes from the
        model card, and the tile is the card's or, for models with local
        statistics, up to twice that, whichever computes the fewest pixels
        for this scene (bigger tiles waste less on overlaps); the overlap is
        the least that keeps tiles aligned. The result's ``tiling`` attribute
        says which were used.
    batch_size
        Tiles per forward pass (default: about 262 000 pixels per pass, e.g.
        4 tiles of 256 x 256, 1 of 512 x 512).
    progress
        Compute now, with a progress bar (dask's locally, distributed's on a
        cluster); the result is then in memory.
    date
        Acquisition date for scenes without a ``time`` coordinate.
    rename, processing_baseline
        Passed to :func:`xsoilmoist.standardize`.
    precision
        ``"float32"``, ``"bfloat16"`` (autocast: within 0.002 m3/m3 of float32
        on average, 0.02 at most, tested) or ``"auto"``: bfloat16 on GPUs and,
        compiled, on CPUs with native bfloat16 (AVX512-BF16/AMX), float32
        elsewhere (:mod:`xsoilmoist.runtime`).
    device
        ``"auto"`` (the first CUDA GPU if torch sees one, else the CPU),
        ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
    compile
        Run the model compiled by :func:`torch.compile` (compiled code cached
        on disk per torch version and model); ``None``: for scenes of at least
        :data:`xsoilmoist.runtime.COMPILE_MIN_PIXELS` pixels (times time
        steps) when the disk cache holds the compiled code,
        :data:`~xsoilmoist.runtime.COMPILE_MIN_PIXELS_COLD` when it does not,
        or when this process compiled it already. A failed compilation falls
        back to eager with a ``ModelWarning``.
    mask_conditions
        Leave empty the pixels where soil moisture cannot be estimated: frozen
        ground (``t2m`` at or below 0 degC), snow cover and open water, each
        from the scene's bands (:mod:`xsoilmoist.surface_conditions`; its
        :func:`~xsoilmoist.surface_conditions.surface_conditions` maps them).

    Returns
    -------
    xarray.DataArray
        ``ssm`` float32 with the input's dims, coordinates and CRS; NaN where
        no input is valid and, with ``mask_conditions``, where the surface is
        frozen, snow-covered or water (the ``masked`` attribute says so).
        Either orientation of ``y`` gives the same map. The ``runtime``
        attribute says where and how the model ran.

    Raises
    ------
    InputError
        For an input that would give a wrong map (the rules of
        :mod:`xsoilmoist.input_checks`): before any compute for what the
        metadata shows (coordinates that are not one regular grid, a missing
        required modality, integer reflectance labelled ``"1"`` ...), and for
        dask input when the result is computed for what needs the values (a
        band with no valid pixel, backscatter above 0 dB over most of the
        scene, a time step without SAR). Also for a tile too small for the
        halo, or bands the model needs but the catalogue does not know.

    Warns
    -----
    InputWarning
        For a partial modality (ignored), a pixel size far from 10 m, or
        values and months outside what the model card says it was trained on.

    Examples
    --------
    >>> ssm = predict(ds, "path/to/model.safetensors")  # doctest: +SKIP
    >>> ssm.rio.to_raster("ssm.tif")  # doctest: +SKIP
    """
    _check_arguments(ds, tile, batch_size)
    ref, loaded = _resolve_model(model)
    y_dim, x_dim = spatial_dims(ds)
    y_ascending = y_dim in ds.coords and coordinate_step(ds, y_dim) > 0
    if y_ascending:  # predict north-up, so both orientations give the same map
        ds = ds.isel({y_dim: slice(None, None, -1)})
    shape = (ds.sizes.get("time", 1), ds.sizes[y_dim], ds.sizes[x_dim])
    plan, runtime, batch_size = _choose_runtime(
        ref, loaded, shape, tile, overlap, batch_size, (precision, device, compile)
    )
    block_tiles = _block_tiles(plan, ASSEMBLED_BLOCK if is_assembled(ds) else TARGET_BLOCK)
    dask_input = any(v.chunks is not None for v in ds.data_vars.values())
    if dask_input:
        ds = _block_aligned_chunks(ds, plan, block_tiles, y_dim, x_dim)
    stack, meta, std = prepare_inputs(
        ds, loaded, date=date, rename=rename, processing_baseline=processing_baseline
    )
    needed = CONDITION_BANDS if mask_conditions else frozenset()
    conditions = {b: i for i, b in enumerate(loaded.config.bands) if b in needed}
    predict_block = functools.partial(
        _predict_block,
        meta=meta,
        ref=ref,
        plan=plan,
        batch_size=batch_size,
        runtime=runtime,
        conditions=conditions,
    )
    blocks = functools.partial(
        overlapping_blocks, stack.data, plan, block_tiles, apply=predict_block, apply_bands=2
    )
    if dask_input:  # the input checks count each block's own pixels as the block reads them
        scene = scene_plan(std, loaded)
        count, count_shape = block_counter(scene, loaded.config.bands)
        sums, counts = blocks(read_in_task=True, summarize=count, summary_shape=count_shape)
    else:
        sums = blocks()
    lead_y, lead_x = plan.lead(shape[1]), plan.lead(shape[2])
    result = assemble_blocks(sums, plan.half)[
        :, lead_y : lead_y + shape[1], lead_x : lead_x + shape[2]
    ]
    if dask_input:
        result = guard(result, counts_of_blocks(counts, shape[1] * shape[2]), scene)
    ssm = _as_ssm(result, std, (y_dim, x_dim), ref, loaded.card.trained)
    ssm.attrs["tiling"] = f"tile {plan.tile}, overlap {plan.overlap}, halo {plan.halo} px"
    ssm.attrs["runtime"] = runtime.describe()
    if mask_conditions:
        rules = applied_rules([b for b in conditions if b in std.data_vars])
        ssm.attrs["masked"] = f"left empty: {rules} (xsoilmoist.surface_conditions)"
    if y_ascending:
        ssm = ssm.isel({y_dim: slice(None, None, -1)})
    if progress:  # computed as write_result computes: one progress bar, cluster or local
        from xsoilmoist.io import _compute

        return _compute(ssm, progress=True)
    return ssm if dask_input else ssm.compute()


def _check_arguments(ds: xr.Dataset, tile: int | None, batch_size: int | None) -> None:
    """predict's checks of its arguments that need neither the model nor the values."""
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(f"predict needs an xarray.Dataset, got {type(ds).__name__}")
    if batch_size is not None and batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if tile is not None and not 32 <= tile <= MAX_TILE:
        raise InputError(
            f"tile must be from 32 to {MAX_TILE} pixels, got {tile}; leave it out for the "
            "model card's tile"
        )
    y_dim, x_dim = spatial_dims(ds)
    if ds.sizes[y_dim] == 0 or ds.sizes[x_dim] == 0 or ds.sizes.get("time", 1) == 0:
        raise InputError(
            f"the scene is empty ({dict(ds.sizes)}); select a region and times with data"
        )


def _choose_runtime(
    ref: ModelRef,
    model: SSMNet,
    shape: tuple[int, int, int],
    tile: int | None,
    overlap: int | None,
    batch_size: int | None,
    how: tuple[str, str, bool | None],
) -> tuple[TilingPlan, Runtime, int]:
    """Tiling, runtime and batch of a prediction over ``shape`` (time, y, x).

    A compiled model has one tile shape (:func:`_default_tiling` without the
    scene's shape); running eagerly, the tile fits the scene.
    """
    precision, device, compile = how
    compiled_plan = _default_tiling(model, tile, overlap)
    compiled_batch = batch_size or max(1, BATCH_PIXELS // compiled_plan.tile**2)
    runtime = plan_runtime(
        precision,
        device,
        compile,
        pixels=int(np.prod(shape)),
        held=lambda r: compiled_where(ref, ref.sha256, r, compiled_plan.tile, compiled_batch),
    )
    if runtime.compiled:
        return compiled_plan, runtime, compiled_batch
    plan = _default_tiling(model, tile, overlap, shape[1:])
    return plan, runtime, batch_size or max(1, BATCH_PIXELS // plan.tile**2)


def _as_ssm(
    result: da.Array, std: xr.Dataset, spatial: tuple[str, str], ref: ModelRef, trained: bool
) -> xr.DataArray:
    """The ``ssm`` DataArray of ``result`` (time, y, x): dims, coords, CF attrs and CRS of
    the standardized scene ``std``."""
    has_time = "time" in std.dims
    if not has_time:
        result = result[0]
    dims = ("time", *spatial) if has_time else spatial
    ssm = xr.DataArray(result, dims=dims, coords=_output_coords(std, dims), name="ssm")
    ssm.attrs = {
        "units": "m3 m-3",
        "standard_name": "volume_fraction_of_condensed_water_in_soil",
        "long_name": "surface soil moisture (0-5 cm)",
        "model": ref.name,
        "model_sha256": ref.sha256,
        "model_trained": str(trained),
    }
    return carry_georeferencing(ssm, std)
