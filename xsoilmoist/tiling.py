"""The global tile grid, blending windows and the overlap-add that reassembles tiles.

Tiles of ``tile`` pixels lie on a grid fixed by the scene's pixel origin and
size, never by the chunks: tile ``k`` (along one axis) covers pixels
``[k*S - O/2, k*S + S + O/2)`` of the padded scene (which starts
:meth:`TilingPlan.lead` pixels before the scene),
with stride ``S = tile - overlap`` and ``O = overlap``; its *core*
``[k*S, (k+1)*S)`` is the part it owns. Each tile's prediction is weighted by
a window that is zero on the outer ``halo`` pixels (they only give the
model context), rises as ``sin^2`` over the next ``overlap - 2*halo``
pixels and is one in the middle. Neighbouring windows sum to one, so the
blend has no seams; dividing by the summed weights makes it exact at the
scene borders too. Because the grid does not depend on the dask chunks, the
result does not either.

The scene is padded to a whole number of cores, as evenly as possible on both
sides (:meth:`TilingPlan.lead`: a scene smaller than a core sits in the middle
of its tile, whatever its size), and given its margin by mirroring it about its
edge pixels (:func:`reflect_index`, numpy's ``"reflect"``), so tiles at the
scene border see plausible context rather than an invalid (masked) margin;
only the scene's own pixels are returned. Dask blocks hold a whole number of
cores (at most ``block_tiles``, shared out evenly). Stage 1
reads each block with an ``O/2`` margin straight from the input chunks
(:func:`overlapping_blocks`) and writes the weighted sums of its tiles over that
extended region; stage 2
(:func:`fold_overlaps`) adds each block's margins into its neighbours.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
from dask.array.optimization import optimize
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph
from dask.optimization import cull

from xsoilmoist.errors import InputError

__all__ = [
    "TilingPlan",
    "assemble_blocks",
    "fold_overlaps",
    "overlapping_blocks",
    "reflect_index",
    "row_ordered",
]


@dataclass(frozen=True)
class TilingPlan:
    """Tile size, overlap and halo of a tiled prediction (pixels).

    The halo is the model card's: the outer pixels of each tile that only give
    the model context and are never used.

    Examples
    --------
    >>> plan = TilingPlan(tile=64, overlap=24, halo=8)
    >>> plan.stride, plan.n_tiles(100)
    (40, 3)
    >>> w = plan.window_1d()
    >>> float(w[:8].max()), float(w[32])
    (0.0, 1.0)
    """

    tile: int
    overlap: int
    halo: int

    def __post_init__(self) -> None:
        tile, overlap, halo = self.tile, self.overlap, self.halo
        if halo < 0 or overlap < 0 or tile <= 0:
            raise InputError(f"tile, overlap and halo must be positive, got {self}")
        if overlap % 2:
            raise InputError(f"overlap must be even (half on each side), got {overlap}")
        if overlap < 2 * halo + 2:
            raise InputError(
                f"overlap {overlap} must be at least 2 * halo + 2 = {2 * halo + 2}: each "
                f"tile's outer {halo} pixels only give context, and neighbouring tiles "
                "need room to blend; increase overlap"
            )
        if tile - overlap < max(overlap - 2 * halo, overlap // 2):
            raise InputError(
                f"tile {tile} is too small for overlap {overlap} and halo {halo}: the "
                f"stride tile - overlap must be at least "
                f"{max(overlap - 2 * halo, overlap // 2)}; use a tile of at least "
                f"{overlap + max(overlap - 2 * halo, overlap // 2)} pixels"
            )

    @classmethod
    def for_tile(
        cls, tile: int, halo: int, overlap: int | None = None, multiple: int = 1
    ) -> TilingPlan:
        """The plan for ``tile`` and the model's ``halo``; the overlap rule lives here.

        An explicit ``overlap`` must be at least ``2 * halo + 2`` (checked by
        the plan itself). The default is the least overlap of at least
        ``2 * halo + 2 * max(1, halo // 2)`` (room to blend beyond the halos)
        that makes the stride a multiple of ``multiple`` (the network's input
        multiple, 32), so every tile sees the same alignment of the
        downsampling grid and overlapping tiles agree.

        Examples
        --------
        >>> plan = TilingPlan.for_tile(256, halo=32, multiple=32)
        >>> plan.overlap, plan.stride
        (96, 160)
        """
        if overlap is None:
            least = 2 * halo + max(2, 2 * (halo // 2))
            stride = (tile - least) // multiple * multiple
            overlap = tile - stride if stride > 0 else least
        return cls(tile=int(tile), overlap=int(overlap), halo=int(halo))

    @property
    def stride(self) -> int:
        """Distance between neighbouring tiles (the core size)."""
        return self.tile - self.overlap

    @property
    def half(self) -> int:
        """Half the overlap: how far a tile reaches beyond its core on each side."""
        return self.overlap // 2

    def n_tiles(self, length: int) -> int:
        """Number of tiles whose cores cover ``length`` pixels."""
        return -(-length // self.stride)

    def window_1d(self) -> np.ndarray:
        """Blending weights along one axis of a tile (float64, length ``tile``)."""
        ramp_width = self.overlap - 2 * self.halo
        ramp = np.sin(0.5 * np.pi * (np.arange(ramp_width) + 0.5) / ramp_width) ** 2
        weights = np.ones(self.tile)
        weights[: self.halo] = 0.0
        weights[self.halo : self.halo + ramp_width] = ramp
        weights[self.tile - self.halo - ramp_width : self.tile - self.halo] = ramp[::-1]
        weights[self.tile - self.halo :] = 0.0
        return weights

    def window_2d(self) -> np.ndarray:
        """Separable 2-D blending weights ``(tile, tile)`` float32."""
        w = self.window_1d()
        return np.outer(w, w).astype(np.float32)

    def padded_length(self, length: int) -> int:
        """``length`` rounded up to whole tile cores (the scene is mirrored out to it)."""
        return self.n_tiles(length) * self.stride

    def lead(self, length: int) -> int:
        """Padding before the scene's first pixel: half of :meth:`padded_length`'s.

        The tile grid's origin is ``-lead`` in scene pixels.

        Examples
        --------
        >>> TilingPlan(tile=64, overlap=24, halo=8).lead(30)  # padded to 40
        5
        """
        return (self.padded_length(length) - length) // 2

    def block_chunks(self, length: int, block_tiles: int) -> tuple[int, ...]:
        """Chunk sizes along a padded axis: blocks of whole cores, at most ``block_tiles`` each.

        As few blocks as that allows, all the same size but the last (as zarr
        needs), which is as close to the others as possible, so that blocks
        (dask tasks) take about the same time.

        Examples
        --------
        >>> TilingPlan(tile=64, overlap=24, halo=8).block_chunks(200, 2)
        (80, 80, 40)
        >>> TilingPlan(tile=64, overlap=24, halo=8).block_chunks(280, 6)
        (160, 120)
        """
        if length % self.stride:
            raise InputError(f"length {length} is not a whole number of cores ({self.stride})")
        n_cores = length // self.stride
        n_blocks = -(-n_cores // block_tiles)
        size = -(-n_cores // n_blocks)
        sizes = [size] * (n_cores // size) + ([n_cores % size] if n_cores % size else [])
        return tuple(k * self.stride for k in sizes)

    def read_chunks(self, length: int, block_tiles: int) -> tuple[int, ...]:
        """Chunk sizes along a scene axis that the blocks' reads are made of exactly.

        A block reads its core and ``half`` pixels on either side. Cutting the
        axis at every block edge ``e`` (in scene pixels, :meth:`lead` before
        the grid's) at ``e - half`` and ``e + half``, each
        block reads three whole chunks (a strip it shares with its neighbour,
        its own inner part, a shared strip): a block task that computes the
        chunks it overlaps computes nothing it does not use.

        Examples
        --------
        >>> plan = TilingPlan(tile=64, overlap=24, halo=8)  # half 12, stride 40
        >>> plan.block_chunks(plan.padded_length(150), 2)  # block cores
        (80, 80)
        >>> plan.lead(150), plan.read_chunks(150, 2)  # cut at 80 - 5 - 12 and 80 - 5 + 12
        (5, (63, 24, 63))
        """
        cores = self.block_chunks(self.padded_length(length), block_tiles)
        edges = np.cumsum(cores)[:-1] - self.lead(length)
        cuts = {int(c) for e in edges for c in (e - self.half, e + self.half) if 0 < c < length}
        bounds = sorted(cuts | {0, length})
        return tuple(int(b) for b in np.diff(bounds))


def reflect_index(index: np.ndarray, length: int) -> np.ndarray:
    """Pixel ``index`` of an axis of ``length`` pixels, mirrored into it about its edge pixels.

    numpy's ``"reflect"`` padding, repeated for pads longer than the axis.

    Examples
    --------
    >>> reflect_index(np.arange(-3, 7), 4).tolist()
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    """
    if length == 1:
        return np.zeros_like(index)
    period = 2 * (length - 1)
    folded = np.mod(index, period)
    return np.where(folded < length, folded, period - folded)


def _pieces(bounds: np.ndarray, start: int, stop: int) -> list[tuple[int, slice, slice]]:
    """Input chunks that pixels ``[start, stop)`` (mirrored into the axis) come from.

    Returns ``(chunk index, slice in the chunk, slice in the block)`` for each
    run of pixels read in one direction from one chunk (mirrored runs read
    backwards), so blocks are filled by plain slicing.

    Examples
    --------
    >>> pieces = _pieces(np.array([0, 3, 6]), -2, 4)  # pixels 2, 1, 0 | 1, 2 | 3
    >>> [(k, src.start, src.step, dst.start, dst.stop) for k, src, dst in pieces]
    [(0, 2, -1, 0, 3), (0, 1, 1, 3, 5), (1, 0, 1, 5, 6)]
    """
    source = reflect_index(np.arange(start, stop), int(bounds[-1])).tolist()
    chunk = (np.searchsorted(bounds, source, side="right") - 1).tolist()
    out, first = [], 0
    for i in range(1, len(source) + 1):
        if i < len(source) and chunk[i] == chunk[first]:
            step = source[i] - source[i - 1]
            if abs(step) == 1 and (i == first + 1 or step == source[first + 1] - source[first]):
                continue
        k = chunk[first]
        step = source[first + 1] - source[first] if i - first > 1 else 1
        lo = source[first] - int(bounds[k])
        hi = lo + step * (i - first)
        out.append((k, slice(lo, hi if hi >= 0 else None, step), slice(first, i)))
        first = i
    return out


def _fill_block(chunks: list[np.ndarray], places: list, shape: tuple[int, ...]) -> np.ndarray:
    block = np.empty(shape, dtype=np.float32)
    for chunk, (bands, src_y, src_x, dst_y, dst_x) in zip(chunks, places, strict=True):
        block[:, bands, dst_y, dst_x] = chunk[..., src_y, src_x]
    return block


class _GraphInTask:
    """Tasks computed inside one task, out of the outer scheduler's sight (a plain object).

    Chunks already in memory (arrays in the graph) stay with the outer
    scheduler, as the task's arguments: they travel to a worker once, not
    inside every block that needs them.
    """

    __slots__ = ("graph", "keys", "literals")

    def __init__(self, graph: dict, keys: list) -> None:
        self.literals = [k for k, v in graph.items() if isinstance(v, np.ndarray)]
        if not self.literals:
            # Fusing the reads with the slices that follow them reads only the parts needed.
            graph = optimize(graph, keys)
        # (With literals, no fusion: it could inline them into the tasks. References to them
        # are resolved when they are put back, in compute.)
        literals = set(self.literals)
        self.graph = {k: v for k, v in graph.items() if k not in literals}
        self.keys = keys

    def compute(self, literals: list) -> list:
        graph = dict(self.graph)
        graph.update(zip(self.literals, literals, strict=True))
        # The plain executor (topological order, intermediates freed as they are used): no
        # thread pool or queue as in dask.local.get_sync, half the time per block.
        return dask.core.get(graph, self.keys)


def _read_block(source: _GraphInTask, literals: list, places: list, shape: tuple) -> np.ndarray:
    return _fill_block(source.compute(literals), places, shape)


def _read_then_apply(load: Callable, apply: Callable, t: int, *args) -> np.ndarray:
    """``apply(block, t)`` on the block that ``load(*args)`` makes, in the same task."""
    return apply(load(*args), t)


def _read_apply_summarize(
    load: Callable, apply: Callable, summarize: Callable, core: tuple, t: int, *args
) -> tuple[np.ndarray, np.ndarray]:
    """``apply(block, t)`` and ``summarize`` of the block's own scene pixels, in one task."""
    block = load(*args)
    return apply(block, t), summarize(block[(slice(None), slice(None), *core)])


def _applied(pair: tuple, summary: np.ndarray) -> np.ndarray:
    """A block task's applied block, taken once its ``summary`` was taken (so it runs first)."""
    return pair[0]


def _core_in_block(start: int, length: int, half: int, size: int) -> slice:
    """The block's own scene pixels (``[start, start + length)`` within ``[0, size)``), in block
    coordinates (the block starts ``half`` pixels before ``start``)."""
    low, high = max(start, 0), min(start + length, size)
    return slice(low - start + half, max(high, low) - start + half)


def overlapping_blocks(
    data: da.Array,
    plan: TilingPlan,
    block_tiles: int,
    *,
    read_in_task: bool = False,
    apply: Callable[[np.ndarray, int], np.ndarray] | None = None,
    apply_bands: int | None = None,
    summarize: Callable[[np.ndarray], np.ndarray] | None = None,
    summary_shape: tuple[int, ...] = (),
) -> da.Array | tuple[da.Array, da.Array]:
    """The scene cut into tile-grid blocks, each with a ``half``-pixel margin, mirrored outside.

    ``data`` is ``(time, band, y, x)`` with any chunks. Each block
    ``(1, band, H + overlap, W + overlap)`` is one task that copies the parts
    of the input chunks it needs.

    With ``read_in_task`` the block task computes those input chunks itself
    (their culled graph travels with it), so no input chunk outlives the
    block that reads it: memory stays bounded by the blocks running at once,
    whatever the scene size, at the price of reading the chunks on block
    borders more than once. Without it, blocks depend on the input chunks as
    dask tasks, and a chunk shared by two rows of blocks stays in memory
    until both ran: about two rows of input chunks, growing with the scene's
    width. Use ``read_in_task`` for lazily read scenes; chunks already in
    memory stay ordinary dependencies.

    With ``apply``, each task returns ``apply(block, time_index)`` instead of
    the block, ``(1, apply_bands, H + overlap, W + overlap)``: the block never
    waits in memory between its reading and its use.

    With ``summarize`` as well (it needs ``apply``), the same task also returns
    ``summarize(core)``, an array of ``summary_shape``, where ``core`` is the
    ``(1, band, h, w)`` part of the block that is the block's own scene pixels
    (no margin, no mirrored padding): the cores of all blocks are the scene,
    each pixel once. The summaries come as a second array, ``(time, block row,
    block column, *summary_shape)``, and each is taken from its task before
    the applied block is, so they never hold the block in memory.

    Examples
    --------
    >>> x = da.arange(6 * 6, dtype=np.float32, chunks=4).reshape(1, 1, 6, 6)
    >>> blocks = overlapping_blocks(x, TilingPlan(tile=6, overlap=2, halo=0), block_tiles=2)
    >>> blocks.chunks[2:], float(blocks[0, 0, 2, 2].compute())  # lead 1, margin 1: pixel (0, 0)
    (((10,), (10,)), 0.0)
    """
    data = data.astype(np.float32).rechunk({0: 1})
    n_t, n_bands, n_y, n_x = data.shape
    band_bounds = np.cumsum((0, *data.chunks[1]))
    bands = [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(band_bounds)]
    half = plan.half
    y_chunks = plan.block_chunks(plan.padded_length(n_y), block_tiles)
    x_chunks = plan.block_chunks(plan.padded_length(n_x), block_tiles)
    y_bounds, x_bounds = (np.cumsum((0, *c)) for c in data.chunks[2:])
    if summarize is not None and apply is None:
        raise ValueError("summarize needs apply")
    prefix = "ssm-blocks-" if apply is None else "ssm-tiles-"
    name = prefix + tokenize(data.name, plan, block_tiles, read_in_task, apply, summarize)
    source = dict(data.__dask_graph__()) if read_in_task else None
    graph, pairs, summaries = {}, {}, {}
    y_start = -plan.lead(n_y)  # block edges in scene pixels
    for i, height in enumerate(y_chunks):
        rows = _pieces(y_bounds, y_start - half, y_start + height + half)
        core_y = _core_in_block(y_start, height, half, n_y)
        x_start = -plan.lead(n_x)
        for j, width in enumerate(x_chunks):
            cols = _pieces(x_bounds, x_start - half, x_start + width + half)
            core = (core_y, _core_in_block(x_start, width, half, n_x))
            pieces = [(b, ry, rx) for b in range(len(bands)) for ry in rows for rx in cols]
            places = [(bands[b], sy, sx, dy, dx) for b, (_, sy, dy), (_, sx, dx) in pieces]
            shape = (1, n_bands, height + 2 * half, width + 2 * half)
            for t in range(n_t):
                keys = [(data.name, t, b, ry[0], rx[0]) for b, ry, rx in pieces]
                if source is None:
                    task = (_fill_block, keys, places, shape)
                else:
                    own = _GraphInTask(cull(source, keys)[0], keys)
                    task = (_read_block, own, list(own.literals), places, shape)
                if summarize is not None:
                    pair = (name + "-pair", t, i, j)
                    pairs[pair] = (
                        _read_apply_summarize,
                        task[0],
                        apply,
                        summarize,
                        core,
                        t,
                        *task[1:],
                    )
                    summary = (name + "-summary", t, i, j, *(0 for _ in summary_shape))
                    summaries[summary] = (_as_block_summary, pair)
                    task = (_applied, pair, summary)
                elif apply is not None:
                    task = (_read_then_apply, task[0], apply, t, *task[1:])
                graph[(name, t, 0, i, j)] = task
            x_start += width
        y_start += height
    chunks = (
        (1,) * n_t,
        (n_bands if apply is None else apply_bands,),
        tuple(c + 2 * half for c in y_chunks),
        tuple(c + 2 * half for c in x_chunks),
    )
    if summarize is None:
        layer = HighLevelGraph.from_collections(name, graph, dependencies=[data])
        return da.Array(layer, name, chunks, dtype=np.float32)
    inputs = data.__dask_layers__()
    layers = {**data.__dask_graph__().layers, name + "-pair": pairs}
    layers |= {name + "-summary": summaries, name: graph}
    dependencies = {**data.__dask_graph__().dependencies, name + "-pair": set(inputs)}
    dependencies |= {name + "-summary": {name + "-pair"}, name: {name + "-pair", name + "-summary"}}
    hlg = HighLevelGraph(layers, dependencies)
    summary_chunks = ((1,) * n_t, (1,) * len(y_chunks), (1,) * len(x_chunks))
    summary_chunks += tuple((n,) for n in summary_shape)
    return (
        da.Array(hlg, name, chunks, dtype=np.float32),
        da.Array(hlg, name + "-summary", summary_chunks, dtype=np.float64),
    )


def _as_block_summary(pair: tuple) -> np.ndarray:
    """A block task's summary with the time and block axes in front, ``(1, 1, 1, ...)``."""
    return np.asarray(pair[1])[None, None, None]


def _fold_axis(values: np.ndarray, axis: int, half: int) -> np.ndarray:
    """Fold one axis of ``[neighbour's | own margin | core | own margin | neighbour's]``."""
    length = values.shape[axis] - 4 * half
    take = lambda start, stop: np.take(values, np.arange(start, stop), axis=axis)  # noqa: E731
    core = take(2 * half, 2 * half + length).copy()
    head = [slice(None)] * values.ndim
    tail = [slice(None)] * values.ndim
    head[axis] = slice(0, half)
    tail[axis] = slice(length - half, length)
    core[tuple(head)] += take(0, half)
    core[tuple(tail)] += take(3 * half + length, 4 * half + length)
    return core


def fold_overlaps(values: np.ndarray, half: int, axes: tuple[int, int] = (-2, -1)) -> np.ndarray:
    """Overlap-add: fold neighbours' margins into a block's core.

    ``values`` is a stage-1 block (its own ``half``-pixel margins on both sides)
    extended by ``half`` more pixels of each neighbour's margin (dask
    ``overlap`` with zero boundary). Returns the core with every tile
    contribution that falls on it summed.

    Examples
    --------
    >>> a = np.zeros((1, 10)); a[0, [0, 1]] = 1.0; a[0, [8, 9]] = 2.0
    >>> fold_overlaps(a, 1, axes=(1,)).tolist()
    [[1.0, 0.0, 0.0, 0.0, 0.0, 2.0]]
    """
    out = values
    for axis in axes:
        out = _fold_axis(out, axis % values.ndim, half)
    return out


def _edge(length: int, half: int, side: int) -> slice:
    """Rows (or columns) of a neighbour that reach into this block: its far margin."""
    return (slice(length - half, length), slice(0, length), slice(0, half))[side]


def _assemble_from_neighbours(blocks: list, half: int) -> np.ndarray:
    """Fold the 3 x 3 neighbourhood of stage-1 sums into this block's core; divide."""
    own = blocks[1][1][0]
    _, height, width = own.shape
    extended = np.zeros((own.shape[0], height + 2 * half, width + 2 * half), dtype=np.float32)
    places = (slice(0, half), slice(half, half + height), slice(half + height, height + 2 * half))
    columns = (slice(0, half), slice(half, half + width), slice(half + width, width + 2 * half))
    for di, row in enumerate(blocks):
        for dj, block in enumerate(row):
            if block is not None:
                _, h, w = block[0].shape
                extended[:, places[di], columns[dj]] = block[0][
                    :, _edge(h, half, di), _edge(w, half, dj)
                ]
    num, den = fold_overlaps(extended, half)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan).astype(np.float32)[None]


def assemble_blocks(sums: da.Array, half: int) -> da.Array:
    """Stage 2: each block's core from its own and its eight neighbours' weighted sums.

    ``sums`` is ``(time, 2, H + 2 half, W + 2 half)`` per block (the weighted
    predictions and the weights over the block and its margins). Each output
    block depends on its 3 x 3 neighbourhood of ``sums`` blocks directly, a
    graph the scheduler walks block row by block row, releasing the sums as
    it goes.

    Examples
    --------
    >>> sums = da.ones((1, 2, 8, 8), chunks=(1, 2, 4, 4))
    >>> assemble_blocks(sums, 1).compute()[0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]], dtype=float32)
    """
    n_t, n_i, n_j = len(sums.chunks[0]), len(sums.chunks[2]), len(sums.chunks[3])
    name = "ssm-assemble-" + tokenize(sums.name, half)

    def key(t, i, j):
        return (sums.name, t, 0, i, j) if 0 <= i < n_i and 0 <= j < n_j else None

    graph = {
        (name, t, i, j): (
            _assemble_from_neighbours,
            [[key(t, i + di, j + dj) for dj in (-1, 0, 1)] for di in (-1, 0, 1)],
            half,
        )
        for t in range(n_t)
        for i in range(n_i)
        for j in range(n_j)
    }
    chunks = (sums.chunks[0], *(tuple(c - 2 * half for c in cs) for cs in sums.chunks[2:]))
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[sums])
    return da.Array(layer, name, chunks, dtype=np.float32)


def _once_previous_ran(block: np.ndarray, previous: None) -> np.ndarray:
    """``block``, once the task giving ``previous`` (a token) has run."""
    return block


def _token_of(block: np.ndarray) -> None:
    """A token that ``block`` has been computed (its data does not travel further)."""


def row_ordered(array: da.Array) -> da.Array:
    """``array`` whose blocks are computed one after another in row-major order.

    A stage-2 block of :func:`assemble_blocks` needs its 3 x 3 neighbourhood of
    stage-1 sums. When one task depends on every block (a concatenation, as
    when a GeoTIFF is written), ``dask.order`` walks such a graph in a
    scattered order and computes nearly all the sums before it assembles any,
    so memory grows with the scene. Chaining the blocks (block ``k`` waits
    for a small token of block ``k - 1``) makes it walk row by row: about two
    rows of sums are alive at a time. The upstream tasks still run in
    parallel; only these cheap final ones are sequential.

    Only for results computed whole (writing a file): computing one block of
    the chained array computes every block before it.

    Examples
    --------
    >>> x = da.arange(16, chunks=4).reshape(4, 4).rechunk(2)
    >>> bool((row_ordered(x).compute() == x.compute()).all())
    True
    """
    name = "row-ordered-" + tokenize(array.name)
    token = "row-ordered-token-" + tokenize(array.name)
    graph, previous = {}, None
    for key in dask.core.flatten(array.__dask_keys__()):
        index = key[1:]
        graph[(name, *index)] = (_once_previous_ran, key, previous)
        graph[(token, *index)] = (_token_of, (name, *index))
        previous = (token, *index)
    layer = HighLevelGraph.from_collections(name, graph, dependencies=[array])
    return da.Array(layer, name, array.chunks, meta=array._meta)
