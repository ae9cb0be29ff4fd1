"""The per-chunk pixel counts of the input checks, in one numba pass.

Imported by :func:`xsoilmoist.input_checks.value_counts` when it builds its
graph, so that ``import xsoilmoist`` does not import numba.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["count_block"]


@numba.njit(cache=True, nogil=True)
def count_block(values, low, high, t_low, t_high):
    """Valid, implausible and untrained pixels per time step of a ``(time, y, x)`` block."""
    n_t, n_y, n_x = values.shape
    out = np.zeros((n_t, 1, 1, 3))
    for t in range(n_t):
        for i in range(n_y):
            for j in range(n_x):
                v = values[t, i, j]
                if np.isfinite(v):
                    out[t, 0, 0, 0] += 1.0
                    if v < low or v > high:
                        out[t, 0, 0, 1] += 1.0
                    if v < t_low or v > t_high:
                        out[t, 0, 0, 2] += 1.0
    return out
