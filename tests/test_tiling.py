"""The block graph of tiled inference: values and the order dask computes it in."""

import dask
import dask.array as da
import numpy as np
import pytest
from dask.callbacks import Callback

from xsoilmoist.tiling import assemble_blocks, row_ordered


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
