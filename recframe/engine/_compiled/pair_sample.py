"""Compiled kernel of :func:`~recframe.engine.pairs_met_often`: each row's sampled partners, in parallel."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def sampled_partners(indptr: np.ndarray, indices: np.ndarray, masks: np.ndarray) -> int:
    """Return the bits set in each row's OR of its columns' `masks`, summed over the rows.

    ``masks[c]`` has bit ``b`` set when the ``b``-th sampled row holds column ``c``: a row's OR
    is the set of sampled rows it shares a column with.
    """
    total = 0
    for row in numba.prange(indptr.shape[0] - 1):
        seen = np.uint64(0)
        for entry in range(indptr[row], indptr[row + 1]):
            seen |= masks[indices[entry]]
        count = 0
        while seen:
            seen &= seen - np.uint64(1)
            count += 1
        total += count
    return total
