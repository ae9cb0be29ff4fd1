"""Counter-based random numbers and spatially coherent noise fields.

Every random number of the simulator that varies per pixel is a pure function
of ``(seed, stream name, indices)``: a 64-bit hash of its integer indices (the
time step, the absolute row and column, a footprint or parcel number), so the
value at a pixel never depends on how the scene is split into dask chunks, nor
on which other pixels are computed. The hash is SplitMix64's finaliser
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators",
OOPSLA '14), applied once per index.

Spatially coherent fields (soil texture, land-cover patches, roughness,
clouds) are fractional Brownian motion built from *value noise* (Perlin 1985,
"An image synthesizer", SIGGRAPH '85, sections on noise and turbulence):
standard-normal values on a square lattice anchored to the scene's CRS
coordinates, smoothstep-interpolated, summed over octaves whose lattice
spacing halves and amplitude is multiplied by ``gain``. The lattice values are
hashed from the lattice indices, so the field can be evaluated for any block.
"""

from __future__ import annotations

import math
import zlib

import numba
import numpy as np

__all__ = [
    "FIELD_VARIANCE_PER_OCTAVE",
    "fbm",
    "hash_indices",
    "normal",
    "stream_key",
    "uniform",
]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)

#: Mean variance of one octave of smoothstep-interpolated value noise with
#: unit-variance lattice values: per axis ``int_0^1 s(u)^2 + (1 - s(u))^2 du``
#: = 26/35 for ``s(u) = 3u^2 - 2u^3``, squared for two axes.
FIELD_VARIANCE_PER_OCTAVE = (26.0 / 35.0) ** 2


@numba.vectorize(["uint64(uint64)"], cache=True)
def _splitmix64(z):  # pragma: no cover - compiled
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def stream_key(seed: int, name: str) -> int:
    """The 64-bit key of the random stream ``name`` for ``seed``.

    Examples
    --------
    >>> stream_key(0, "speckle") == stream_key(0, "speckle")
    True
    >>> stream_key(0, "speckle") != stream_key(1, "speckle")
    True
    """
    mixed = _splitmix64(np.uint64(seed) ^ np.uint64(zlib.crc32(name.encode())))
    return int(_splitmix64(mixed))


def hash_indices(key: int, *indices) -> np.ndarray:
    """A uint64 hash of ``key`` and integer index arrays (broadcast together)."""
    state = np.asarray(np.uint64(key))
    for index in indices:
        as_unsigned = np.asarray(index).astype(np.int64).astype(np.uint64)
        state = _splitmix64(state ^ _splitmix64(as_unsigned))
    return state


def uniform(key: int, *indices) -> np.ndarray:
    """Uniform numbers in the open interval (0, 1), one per broadcast index tuple.

    Examples
    --------
    >>> u = uniform(stream_key(0, "x"), np.arange(1000))
    >>> bool((u > 0).all() and (u < 1).all()), round(float(u.mean()), 1)
    (True, 0.5)
    """
    bits = hash_indices(key, *indices) >> _S11
    return (bits.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normal(key: int, *indices) -> np.ndarray:
    """Standard-normal numbers (Box-Muller on two hashed uniforms).

    Examples
    --------
    >>> z = normal(stream_key(0, "x"), np.arange(20000))
    >>> bool(abs(z.mean()) < 0.05), round(float(z.std()), 1)
    (True, 1.0)
    """
    u1 = uniform(key, *indices, 0)
    u2 = uniform(key, *indices, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _smoothstep(u: np.ndarray) -> np.ndarray:
    return u * u * (3.0 - 2.0 * u)


def _octave(key: int, octave: int, y: np.ndarray, x: np.ndarray, spacing: float) -> np.ndarray:
    """One octave of value noise on the grid ``y`` (rows) by ``x`` (columns), in metres."""
    u = x / spacing
    v = y / spacing
    column = np.floor(u).astype(np.int64)
    row = np.floor(v).astype(np.int64)
    wx = _smoothstep(u - column)
    wy = _smoothstep(v - row)
    first_column, first_row = column.min(), row.min()
    lattice_columns = np.arange(first_column, column.max() + 2)
    lattice_rows = np.arange(first_row, row.max() + 2)
    lattice = normal(key, octave, lattice_rows[:, None], lattice_columns[None, :])
    c = column - first_column
    along_x = lattice[:, c] * (1.0 - wx) + lattice[:, c + 1] * wx
    r = row - first_row
    return along_x[r] * (1.0 - wy)[:, None] + along_x[r + 1] * wy[:, None]


def fbm(
    key: int,
    y: np.ndarray,
    x: np.ndarray,
    *,
    scale: float,
    finest: float,
    gain: float = 0.5,
) -> np.ndarray:
    """Fractal value noise with mean 0 and, on average, unit variance.

    Parameters
    ----------
    key
        Stream key (:func:`stream_key`).
    y, x
        1-D coordinates in metres of the rows and columns to evaluate (CRS
        coordinates, so the field is anchored to the ground, not to the block).
    scale
        Lattice spacing of the coarsest octave, in metres (the size of the
        largest patches).
    finest
        Smallest lattice spacing to include, in metres (octaves stop once the
        spacing would fall below it); at most 10 octaves.
    gain
        Amplitude ratio between successive octaves (0.5: a Hurst exponent of
        1 over the octave range).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(y.size, x.size)``.

    Examples
    --------
    >>> y = np.arange(0.0, 2000.0, 10.0)[::-1]
    >>> field = fbm(stream_key(0, "soil"), y, np.arange(0.0, 2000.0, 10.0), scale=500.0,
    ...             finest=20.0)
    >>> field.shape, abs(float(field.mean())) < 1.0
    ((200, 200), True)
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    total = np.zeros((y.size, x.size))
    weight = 1.0
    weight_squares = 0.0
    spacing = float(scale)
    for octave in range(10):
        if octave > 0 and spacing < finest:
            break
        total += weight * _octave(key, octave, y, x, spacing)
        weight_squares += weight * weight
        weight *= gain
        spacing /= 2.0
    return total / math.sqrt(weight_squares * FIELD_VARIANCE_PER_OCTAVE)
