"""Compiled passes over a neighbour update's old lists: renumbered into the new rows, then packed.

:func:`~recframe.recommender.delta_rows.lists_in_new_rows` gives each new row its old row's
neighbours in new positions (numpy takes six passes over the ``rows x width`` lists and a
temporary for each); :func:`lists_by_new_row` writes them in one. The compiled update then reads
each row's list as a CSR row and the lists transposed: :func:`packed_lists` packs the present
entries into CSR arrays in one more pass (numpy's boolean selection takes two, and a copy).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def lists_by_new_row(
    indices: np.ndarray,
    scores: np.ndarray,
    floors: np.ndarray,
    old_rows: np.ndarray,
    row_map: np.ndarray,
    listed: np.ndarray,
    listed_scores: np.ndarray,
    out_floors: np.ndarray,
) -> None:
    """Write row ``r``'s old list (row ``old_rows[r]``, ``-1``: none) in new positions, and its floor.

    A neighbour that is gone (``row_map`` ``-1``) or absent (``-1``) becomes ``-1`` with score
    0, in place: the list keeps its order and width.
    """
    for r in numba.prange(old_rows.shape[0]):
        s = old_rows[r]
        if s < 0:
            for c in range(listed.shape[1]):
                listed[r, c] = -1
                listed_scores[r, c] = 0.0
            out_floors[r] = 0.0
        else:
            for c in range(listed.shape[1]):
                j = indices[s, c]
                mapped = row_map[j] if j >= 0 else -1
                listed[r, c] = mapped
                listed_scores[r, c] = np.float64(scores[s, c]) if mapped >= 0 else 0.0
            out_floors[r] = floors[s]


@numba.njit(parallel=True, nogil=True, cache=True)
def packed_lists(
    listed: np.ndarray, listed_scores: np.ndarray, offsets: np.ndarray, out_indices: np.ndarray, out_data: np.ndarray
) -> None:
    """Write each row's present neighbours (``listed >= 0``) and scores, in list order, from ``offsets[r]``."""
    for r in numba.prange(listed.shape[0]):
        o = offsets[r]
        for c in range(listed.shape[1]):
            if listed[r, c] >= 0:
                out_indices[o] = listed[r, c]
                out_data[o] = listed_scores[r, c]
                o += 1
