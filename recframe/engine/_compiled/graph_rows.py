"""Compiled kernel of :func:`~recframe.engine.graph_matrix`: each row's neighbours sorted by column, in parallel."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(parallel=True, nogil=True, cache=True)
def sorted_rows(
    indices: np.ndarray, scores: np.ndarray, indptr: np.ndarray, out_indices: np.ndarray, out_data: np.ndarray
) -> None:
    """Write each row's neighbours (``indices >= 0``) and scores at ``indptr[row]`` on, by increasing column.

    An insertion sort per row, in place in the output: a graph's rows are short (``k``), and
    the caller runs this only up to :data:`~recframe.engine.graph_matrices.SORTED_WIDTH`.
    """
    for row in numba.prange(indices.shape[0]):
        start = indptr[row]
        filled = 0
        for slot in range(indices.shape[1]):
            column = indices[row, slot]
            if column < 0:
                continue
            place = start + filled
            while place > start and out_indices[place - 1] > column:
                out_indices[place] = out_indices[place - 1]
                out_data[place] = out_data[place - 1]
                place -= 1
            out_indices[place] = column
            out_data[place] = scores[row, slot]
            filled += 1
