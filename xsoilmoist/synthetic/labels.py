"""Labels and coarse products: footprint averages (SMAP-like, MODIS-like) and stations.

Footprints
    Square cells of ``factor`` x ``factor`` pixels anchored at multiples of
    the cell size in the scene CRS (as a product grid is anchored to the
    Earth, not to the scene), so cells on the scene border are only partly
    covered. A footprint's value is the mean of the pixels it covers.
    Sums run in a fixed order per footprint (a numba loop), block by block
    on dask with blocks holding whole footprints, so every chunking gives the
    same numbers, bit for bit.
Coarse labels
    ``ssm_coarse = footprint mean + bias + e``, ``e ~ N(0, sd)`` hashed per
    footprint and date; NaN where less than ``min_footprint_coverage`` of the
    footprint lies in the scene. Broadcast back to every pixel of the
    footprint.
Stations
    ``station_ssm = ssm_true(pixel) + o + e``: a fixed representativeness
    offset ``o ~ N(0, station_offset)`` per station (a point probe is not the
    10 m pixel) plus a reading error ``e ~ N(0, station_noise)``; readings are
    kept at or above 0.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass

import dask.array
import numba
import numpy as np

from xsoilmoist.synthetic.random_fields import normal

__all__ = [
    "FootprintGrid",
    "footprint_grid",
    "footprint_means",
    "footprint_noise",
    "smooth_to_pixels",
    "station_errors",
    "station_pixels",
    "to_pixels",
]


@dataclass(frozen=True)
class FootprintGrid:
    """Where the footprints of one cell size lie on a scene.

    Attributes
    ----------
    factor
        Footprint size in pixels (per side).
    pad
        Pixels of the outer footprints outside the scene: ``(top, bottom, left, right)``.
    rows, columns
        Absolute indices of the footprint rows (north first) and columns.
    coverage
        Fraction of each footprint inside the scene, ``(row, column)``.
    """

    factor: int
    pad: tuple[int, int, int, int]
    rows: np.ndarray
    columns: np.ndarray
    coverage: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Number of footprint rows and columns touching the scene."""
        return self.rows.size, self.columns.size

    def footprint_id(self, shape: tuple[int, int]) -> np.ndarray:
        """Index (row-major, 0-based) of the footprint of each pixel of a scene of ``shape``."""
        top, _, left, _ = self.pad
        row = (np.arange(shape[0]) + top) // self.factor
        column = (np.arange(shape[1]) + left) // self.factor
        return (row[:, None] * self.columns.size + column[None, :]).astype(np.int32)

    def pixel_coverage(self, shape: tuple[int, int]) -> np.ndarray:
        """Coverage of the footprint of each pixel of a scene of ``shape``."""
        top, _, left, _ = self.pad
        row = (np.arange(shape[0]) + top) // self.factor
        column = (np.arange(shape[1]) + left) // self.factor
        return self.coverage[row[:, None], column[None, :]]


def footprint_grid(
    shape: tuple[int, int], left: float, top: float, resolution: float, factor: int
) -> FootprintGrid:
    """Footprints of ``factor`` pixels over a north-up scene whose outer corner is ``(left, top)``.

    ``left`` and ``top`` must be multiples of ``resolution`` for footprints
    to fall on pixel edges.

    Examples
    --------
    >>> grid = footprint_grid((10, 10), 1020.0, 2000.0, 10.0, 5)
    >>> grid.pad, grid.shape
    ((0, 0, 2, 3), (2, 3))
    >>> grid.coverage.tolist()
    [[0.6, 1.0, 0.4], [0.6, 1.0, 0.4]]
    """
    size = factor * resolution
    ny, nx = shape
    first_column = int(np.floor(left / size + 1e-9))
    pad_left = round((left - first_column * size) / resolution)
    top_row = int(np.ceil(top / size - 1e-9))  # footprint rows counted northwards
    pad_top = round((top_row * size - top) / resolution)
    n_rows = -(-(ny + pad_top) // factor)
    n_columns = -(-(nx + pad_left) // factor)
    pad_bottom = n_rows * factor - ny - pad_top
    pad_right = n_columns * factor - nx - pad_left
    row_counts = np.full(n_rows, factor)
    row_counts[0] -= pad_top
    row_counts[-1] -= pad_bottom
    column_counts = np.full(n_columns, factor)
    column_counts[0] -= pad_left
    column_counts[-1] -= pad_right
    coverage = np.outer(row_counts, column_counts) / float(factor * factor)
    return FootprintGrid(
        factor=factor,
        pad=(pad_top, pad_bottom, pad_left, pad_right),
        rows=np.arange(top_row - 1, top_row - 1 - n_rows, -1),
        columns=np.arange(first_column, first_column + n_columns),
        coverage=coverage,
    )


@numba.njit(cache=True, nogil=True)
def _footprint_sums(block, factor):  # pragma: no cover - compiled
    """Sum of each ``factor`` x ``factor`` footprint of a ``(time, y, x)`` block, in float64."""
    nt, ny, nx = block.shape
    out = np.zeros((nt, ny // factor, nx // factor), dtype=np.float64)
    for t in range(nt):
        for fi in range(ny // factor):
            for fj in range(nx // factor):
                total = 0.0
                for i in range(fi * factor, (fi + 1) * factor):
                    for j in range(fj * factor, (fj + 1) * factor):
                        total += block[t, i, j]
                out[t, fi, fj] = total
    return out


def _aligned_chunks(chunks: tuple[int, ...], factor: int) -> int:
    return factor * max(1, round(max(chunks) / factor))


def footprint_means(values, grid: FootprintGrid):
    """Mean of ``values`` (``(time, y, x)``, numpy or dask) over each footprint.

    Returns ``(time, footprint row, footprint column)`` float64, lazily on dask.

    Examples
    --------
    >>> grid = footprint_grid((4, 4), 0.0, 40.0, 10.0, 2)
    >>> footprint_means(np.arange(16.0).reshape(1, 4, 4), grid)[0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    top, bottom, left, right = grid.pad
    widths = ((0, 0), (top, bottom), (left, right))
    count = grid.coverage * grid.factor * grid.factor
    if isinstance(values, dask.array.Array):
        padded = dask.array.pad(values.astype(np.float64), widths, mode="constant")
        padded = padded.rechunk(
            {
                0: -1,
                1: _aligned_chunks(values.chunks[1], grid.factor),
                2: _aligned_chunks(values.chunks[2], grid.factor),
            }
        )
        sums = padded.map_blocks(
            _footprint_sums,
            grid.factor,
            chunks=(
                padded.chunks[0],
                tuple(c // grid.factor for c in padded.chunks[1]),
                tuple(c // grid.factor for c in padded.chunks[2]),
            ),
            dtype=np.float64,
            meta=np.array((), dtype=np.float64),
        )
    else:
        padded = np.pad(np.asarray(values, dtype=np.float64), widths, mode="constant")
        sums = _footprint_sums(padded, grid.factor)
    return sums / count


def to_pixels(coarse, grid: FootprintGrid, shape: tuple[int, int], chunks=None):
    """Broadcast ``(time, footprint row, footprint column)`` values back to the scene's pixels."""
    top, _, left, _ = grid.pad
    xp = dask.array if isinstance(coarse, dask.array.Array) else np
    fine = xp.repeat(xp.repeat(coarse, grid.factor, axis=1), grid.factor, axis=2)
    fine = fine[:, top : top + shape[0], left : left + shape[1]]
    if chunks is not None and isinstance(fine, dask.array.Array):
        fine = fine.rechunk(chunks)
    return fine


def _linear_weights(n_pixels: int, pad: int, factor: int, n_cells: int) -> np.ndarray:
    """``(pixel, cell)`` weights of linear interpolation between cell centres (ends held)."""
    position = (np.arange(n_pixels) + pad + 0.5) / factor - 0.5
    position = np.clip(position, 0.0, n_cells - 1.0)
    lower = np.minimum(np.floor(position).astype(np.int64), max(n_cells - 2, 0))
    fraction = position - lower
    weights = np.zeros((n_pixels, n_cells))
    weights[np.arange(n_pixels), lower] += 1.0 - fraction
    if n_cells > 1:
        weights[np.arange(n_pixels), lower + 1] += fraction
    return weights


def smooth_to_pixels(coarse, grid: FootprintGrid, shape: tuple[int, int], chunks=None):
    """Bilinear interpolation of ``(time, footprint row, footprint column)`` values to pixels.

    What a user does with a coarse product on a fine grid (resampling with
    bilinear weights between cell centres), so the product shows no blocks.

    Examples
    --------
    >>> grid = footprint_grid((10, 10), 0.0, 100.0, 10.0, 5)
    >>> fine = smooth_to_pixels(np.array([[[0.0, 1.0], [0.0, 1.0]]]), grid, (10, 10))
    >>> fine[0, 0, :].round(2).tolist()
    [0.0, 0.0, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 1.0]
    """
    top, _, left, _ = grid.pad
    rows = _linear_weights(shape[0], top, grid.factor, grid.shape[0])
    columns = _linear_weights(shape[1], left, grid.factor, grid.shape[1])
    if isinstance(coarse, dask.array.Array):
        out_chunks = chunks if chunks is not None else ((shape[0],), (shape[1],))[-2:]
        rows = dask.array.from_array(rows, chunks=(out_chunks[-2], -1))
        columns = dask.array.from_array(columns, chunks=(out_chunks[-1], -1))
        coarse = coarse.rechunk({0: out_chunks[0], 1: -1, 2: -1} if chunks else {1: -1, 2: -1})
        with warnings.catch_warnings():  # one output block per (row, column) chunk: intended
            warnings.simplefilter("ignore", dask.array.PerformanceWarning)
            return dask.array.einsum("ij,tjk,lk->til", rows, coarse, columns, dtype=np.float64)
    return np.einsum("ij,tjk,lk->til", rows, np.asarray(coarse, dtype=np.float64), columns)


def footprint_noise(key: int, day_numbers: np.ndarray, grid: FootprintGrid) -> np.ndarray:
    """Standard-normal numbers per date and footprint, hashed from absolute indices."""
    return normal(
        key, day_numbers[:, None, None], grid.rows[None, :, None], grid.columns[None, None, :]
    )


def station_pixels(
    seed: int, shape: tuple[int, int], n_stations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``n_stations`` distinct pixels, drawn uniformly.

    Examples
    --------
    >>> rows, cols = station_pixels(0, (8, 8), 5)
    >>> len(set(zip(rows.tolist(), cols.tolist())))
    5
    """
    rng = np.random.default_rng([seed, zlib.crc32(b"stations")])
    flat = np.sort(rng.choice(shape[0] * shape[1], size=n_stations, replace=False))
    return flat // shape[1], flat % shape[1]


def station_errors(
    seed: int, n_stations: int, n_times: int, offset_sd: float, noise_sd: float
) -> np.ndarray:
    """Representativeness offset plus reading error, ``(station, time)``, m3/m3."""
    rng = np.random.default_rng([seed, zlib.crc32(b"station_errors")])
    offset = offset_sd * rng.standard_normal((n_stations, 1))
    return offset + noise_sd * rng.standard_normal((n_stations, n_times))
