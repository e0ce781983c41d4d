"""Compiled passes over every stored entry of a CSR matrix, in parallel, for the update of a model.

An update's own work is in proportion to the change, but a few steps still read every entry once
(the rows' lengths before and after, the old entries renumbered into the new columns, the old
entries in the columns the change touched). numpy runs each of them on one thread with a
temporary the size of the entries; these run on every thread with none.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.spans import copy_span


@numba.njit(parallel=True, nogil=True, cache=True)
def row_lengths(indptr: np.ndarray, data: np.ndarray, out: np.ndarray) -> None:
    """Write each row's L2 length (the root of its sum of squares in float64, summed in order) into `out`.

    numpy's ``add.reduceat`` sums in another order, so the two differ in the last bits (a few
    units in the last place), which every tolerance of the engine allows.
    """
    for i in numba.prange(out.shape[0]):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            value = np.float64(data[p])
            total += value * value
        out[i] = np.sqrt(total)


@numba.njit(parallel=True, nogil=True, cache=True)
def renumber(indices: np.ndarray, table: np.ndarray, out: np.ndarray, n_parts: int) -> None:
    """Write ``table[indices]`` into `out` (each column's new number), in `n_parts` slices in parallel."""
    n = indices.shape[0]
    step = (n + n_parts - 1) // n_parts
    for part in numba.prange(n_parts):
        for p in range(part * step, min(n, (part + 1) * step)):
            out[p] = table[indices[p]]


@numba.njit(parallel=True, nogil=True, cache=True)
def count_in_columns(indptr: np.ndarray, indices: np.ndarray, marked: np.ndarray, counts: np.ndarray) -> None:
    """Write into ``counts[i]`` how many entries of row ``i`` are in a `marked` column."""
    for i in numba.prange(counts.shape[0]):
        count = 0
        for p in range(indptr[i], indptr[i + 1]):
            if marked[indices[p]]:
                count += 1
        counts[i] = count


@numba.njit(parallel=True, nogil=True, cache=True)
def take_in_columns(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    marked: np.ndarray,
    out_indptr: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
) -> None:
    """Copy each row's entries in `marked` columns to its place ``out_indptr[i]`` (from :func:`count_in_columns`)."""
    for i in numba.prange(out_indptr.shape[0] - 1):
        q = out_indptr[i]
        for p in range(indptr[i], indptr[i + 1]):
            if marked[indices[p]]:
                out_indices[q] = indices[p]
                out_data[q] = data[p]
                q += 1


@numba.njit(parallel=True, nogil=True, cache=True)
def copy_into(source: np.ndarray, out: np.ndarray, offset: int, n_parts: int) -> None:
    """Copy `source` into ``out[offset:offset + len(source)]``, in `n_parts` slices in parallel."""
    n = source.shape[0]
    step = (n + n_parts - 1) // n_parts
    for part in numba.prange(n_parts):
        start = part * step
        stop = min(n, start + step)
        if start < stop:
            copy_span(source, start, out, offset + start, stop - start)


@numba.njit(parallel=True, nogil=True, cache=True)
def look_up(values: np.ndarray, low: int, table: np.ndarray, out: np.ndarray, n_parts: int) -> None:
    """Write into ``out[p]`` whether ``values[p] - low`` is a marked place of `table` (``False`` outside it)."""
    n = values.shape[0]
    span = table.shape[0]
    step = (n + n_parts - 1) // n_parts
    for part in numba.prange(n_parts):
        for p in range(part * step, min(n, (part + 1) * step)):
            place = values[p] - low
            out[p] = place >= 0 and place < span and table[place]
