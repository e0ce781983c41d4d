"""Compiled transpose of a CSR matrix: a counting sort of its entries by column, in parallel.

The rows are split into ranges of about equal entries. Each range counts its entries per
column; the prefix sums of those counts, column by column and range by range, give every
range its own place in each row of the transpose; each range then writes its entries there,
rows in order, so every row of the transpose comes out sorted (the input's rows need not be).
Two passes over the entries and ``ranges x columns`` counters: nothing else is allocated.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def count_columns(indptr: np.ndarray, indices: np.ndarray, parts: np.ndarray, counts: np.ndarray) -> None:
    """Write into ``counts[r, c]`` the entries in column ``c`` of the rows ``[parts[r], parts[r + 1])``."""
    for r in numba.prange(parts.shape[0] - 1):
        range_counts = counts[r]
        for p in range(indptr[parts[r]], indptr[parts[r + 1]]):
            range_counts[indices[p]] += 1


@numba.njit(parallel=True, nogil=True, cache=True)
def transpose_into(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    n_columns: int,
    parts: np.ndarray,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> None:
    """Write ``X.T`` (CSR, sorted rows) into the `out_` arrays; `parts` bounds the row ranges of ``X``.

    `out_indptr` has ``n_columns + 1`` entries, `out_indices` and `out_data` one per entry of ``X``.
    """
    n_parts = parts.shape[0] - 1
    counts = np.zeros((n_parts, n_columns), dtype=np.int64)
    count_columns(indptr, indices, parts, counts)
    out_indptr[0] = 0
    total = 0
    for c in range(n_columns):  # each range's first place in row c of the transpose
        for r in range(n_parts):
            count = counts[r, c]
            counts[r, c] = total
            total += count
        out_indptr[c + 1] = total
    for r in numba.prange(n_parts):
        places = counts[r]
        for i in range(parts[r], parts[r + 1]):
            for p in range(indptr[i], indptr[i + 1]):
                c = indices[p]
                q = places[c]
                out_indices[q] = i
                out_data[q] = data[p]
                places[c] = q + 1
