"""The block graph of tiled inference: values and the order dask computes it in."""

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback
from hypothesis import given, settings
from hypothesis import strategies as st

from xsoilmoist.tiling import TilingPlan, assemble_blocks, overlapping_blocks, row_ordered


class _AliveSums(Callback):
    """Most stage-1 blocks (``sums`` keys) held in the scheduler's cache at once."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name, self.peak = name, 0

    def _posttask(self, key, result, dsk, state, worker_id):
        alive = sum(isinstance(k, tuple) and k[0] == self.name for k in state["cache"])
        self.peak = max(self.peak, alive)


def _sums(n_blocks: int, block: int = 8) -> da.Array:
    """Stage-1 sums ``(1, 2, ., .)`` for ``n_blocks x n_blocks`` blocks: weights 1, values 2."""
    edge = n_blocks * block
    ones = da.ones((1, 2, edge, edge), chunks=(1, 2, block, block), dtype=np.float32)
    return ones * da.from_array(np.array([2.0, 1.0], dtype=np.float32).reshape(1, 2, 1, 1))


def test_row_ordered_keeps_values_chunks_and_dtype():
    x = da.random.default_rng(0).random((3, 20, 30), chunks=(1, 7, 11)).astype(np.float32)
    ordered = row_ordered(x)
    assert ordered.chunks == x.chunks and ordered.dtype == x.dtype
    np.testing.assert_array_equal(ordered.compute(), x.compute())


@pytest.mark.parametrize("n_blocks", [6, 12])
def test_writing_the_assembled_blocks_keeps_about_two_rows_of_sums(n_blocks):
    sums = _sums(n_blocks).persist()  # in memory, so the scheduler tracks them as data
    sums = sums.map_blocks(np.copy)  # ... and each block is a task whose output it holds
    assembled = row_ordered(assemble_blocks(sums, 1))
    target = np.zeros(assembled.shape, dtype=np.float32)
    tracker = _AliveSums(sums.name)
    with tracker, dask.config.set(scheduler="sync"):
        da.store(assembled, target)  # one final task depends on every block
    np.testing.assert_allclose(target[0, 1:-1, 1:-1], 2.0)
    # Row-major: two rows of blocks, the one being assembled next to them, and a few more.
    assert tracker.peak <= 2 * n_blocks + 3, tracker.peak


def _reference_blocks(scene: np.ndarray, plan, block_tiles: int) -> list[list[np.ndarray]]:
    """Each block of :func:`overlapping_blocks` straight from numpy: the scene mirrored
    (``np.pad(..., "reflect")``) and cut at the plan's block edges, with ``half`` around."""
    n_y, n_x = scene.shape[-2:]
    pad = max(n_y, n_x) * 4 + 4 * plan.tile
    padded = np.pad(scene, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="reflect")

    def edges(length):
        sizes = plan.block_chunks(plan.padded_length(length), block_tiles)
        starts = np.cumsum((0, *sizes))[:-1] - plan.lead(length)
        return [
            (int(a) - plan.half, int(a) + s + plan.half) for a, s in zip(starts, sizes, strict=True)
        ]

    return [
        [padded[..., pad + y0 : pad + y1, pad + x0 : pad + x1] for x0, x1 in edges(n_x)]
        for y0, y1 in edges(n_y)
    ]


@settings(max_examples=25, deadline=None)
@given(
    n_y=st.integers(1, 70),
    n_x=st.integers(1, 70),
    chunk_y=st.integers(1, 40),
    chunk_x=st.integers(1, 40),
    block_tiles=st.integers(1, 3),
    read_in_task=st.booleans(),
)
def test_overlapping_blocks_are_the_mirrored_scene_for_any_shape_and_chunks(
    n_y, n_x, chunk_y, chunk_x, block_tiles, read_in_task
):
    plan = TilingPlan(tile=16, overlap=8, halo=2)
    rng = np.random.default_rng(n_y * 71 + n_x)
    scene = rng.random((2, 3, n_y, n_x), dtype=np.float32)
    data = da.from_array(scene, chunks=(1, 2, chunk_y, chunk_x)) * 1  # a graph, not literals
    blocks = overlapping_blocks(data, plan, block_tiles, read_in_task=read_in_task)
    expected = _reference_blocks(scene, plan, block_tiles)
    assert blocks.chunks[2] == tuple(row[0].shape[-2] for row in expected)
    assert blocks.chunks[3] == tuple(block.shape[-1] for block in expected[0])
    np.testing.assert_array_equal(blocks.compute(), np.block(expected))


def test_overlapping_blocks_apply_runs_on_each_block_with_its_time_index():
    plan = TilingPlan(tile=16, overlap=8, halo=2)
    scene = np.arange(3 * 1 * 30 * 30, dtype=np.float32).reshape(3, 1, 30, 30)
    data = da.from_array(scene, chunks=(1, 1, 13, 17))

    def apply(block, t):
        return np.stack([block[0, 0] + 1000 * t, np.full(block.shape[-2:], t, np.float32)])[None]

    out = overlapping_blocks(data, plan, 2, apply=apply, apply_bands=2).compute()
    plain = np.block(_reference_blocks(scene, plan, 2))
    np.testing.assert_array_equal(out[:, 0], plain[:, 0] + 1000 * np.arange(3)[:, None, None])
    np.testing.assert_array_equal(
        out[:, 1], np.broadcast_to(np.arange(3.0)[:, None, None], out[:, 1].shape)
    )


def test_overlapping_blocks_compute_nothing_until_asked():
    calls = []

    def source(block):
        calls.append(block.shape)
        return block

    data = da.ones((1, 2, 40, 40), chunks=(1, 2, 10, 10), dtype=np.float32).map_blocks(source)
    calls.clear()  # map_blocks may run the function on a meta array
    plan = TilingPlan(tile=16, overlap=8, halo=2)
    for read_in_task in (False, True):
        blocks = overlapping_blocks(data, plan, 2, read_in_task=read_in_task)
    assert calls == []
    blocks.compute()
    assert calls  # and then it does


def test_assembled_blocks_are_the_overlap_add_of_the_tiles_numpy():
    """Stage 2 against a direct numpy overlap-add of every block's margins."""
    rng = np.random.default_rng(1)
    half, core = 3, 8
    sums = rng.random((1, 2, 3 * (core + 2 * half), 2 * (core + 2 * half)), dtype=np.float32)
    sums[:, 1] += 0.5  # weights > 0
    out = assemble_blocks(
        da.from_array(sums, chunks=(1, 2, core + 2 * half, core + 2 * half)), half
    )
    total = np.zeros((1, 2, 3 * core + 2 * half, 2 * core + 2 * half), np.float32)
    for i in range(3):
        for j in range(2):
            block = sums[
                ...,
                i * (core + 2 * half) : (i + 1) * (core + 2 * half),
                j * (core + 2 * half) : (j + 1) * (core + 2 * half),
            ]
            total[
                ..., i * core : i * core + core + 2 * half, j * core : j * core + core + 2 * half
            ] += block
    inner = total[..., half:-half, half:-half]
    np.testing.assert_allclose(out.compute(), inner[:, 0] / inner[:, 1], rtol=1e-6)
