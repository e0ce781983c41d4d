"""The scatter step every sparse product kernel shares: add one row's product into a dense accumulator.

Kernels of :mod:`recframe.engine._compiled` compute ``A[r] @ B`` one row at a time into a dense
per-thread accumulator and keep the list of columns they reached, so that reading the results
and clearing the accumulator cost the columns reached rather than all columns. The helper is
inlined into the kernels that call it.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.prefetch import AHEAD, _prefetch


@numba.njit(inline="always", cache=True)
def _scatter_row(
    start: int,
    stop: int,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    acc: np.ndarray,
    mark: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add the entries ``start:stop`` of a row of ``A`` times ``B`` into `acc`; return the new count of `touched`.

    Each column reached for the first time (``mark`` unset) is marked and listed in `touched`
    after its ``n_touched`` columns already there; the sums are added in the order of the
    entries, so a kernel gets the same float results as with the loop written out.

    `touched` needs room for one column more than it can list: every column reached is
    written at the list's end and counted only when it is new, which needs no branch (a
    column reached again is most of the work and a mispredicted branch costs more than the
    write; ML-20M shape, batch top-10 of its light rows, one thread: 2.5 s with the branch,
    1.6 s without). Columns index through unsigned integers, which skips numba's check for
    negative indices in the innermost loop.
    """
    for p in range(start, stop):
        n_touched = _add_times_row(a_data[p], a_indices[p], b_indptr, b_indices, b_data, acc, mark, touched, n_touched)
    return n_touched


@numba.njit(inline="always", cache=True)
def _add_times_row(
    x: float,
    c: int,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    acc: np.ndarray,
    mark: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """Add `x` times row `c` of ``B`` into `acc`, listing the columns reached first; return the new count."""
    for q in range(np.uint64(b_indptr[c]), np.uint64(b_indptr[c + 1])):
        j = np.uint64(b_indices[q])
        touched[n_touched] = j
        n_touched += not mark[j]
        mark[j] = True
        acc[j] += x * b_data[q]
    return n_touched


OFFSETS_AHEAD = 4
"""Entries ahead whose row of ``B``'s offsets :func:`_scatter_short_rows` asks for (its rows then
:data:`~recframe.engine._compiled.prefetch.AHEAD` entries ahead, once their offsets are near)."""


@numba.njit(inline="always", cache=True)
def _scatter_short_rows(
    start: int,
    stop: int,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    acc: np.ndarray,
    mark: np.ndarray,
    touched: np.ndarray,
    n_touched: int,
) -> int:
    """:func:`_scatter_row` for a ``B`` of short rows met at random (an update's change ``D^T``: a row per user).

    Each entry of ``A`` then costs waits for memory, not arithmetic: the offsets of its row of
    ``B`` and that row's one or two entries, neither near the last ones. The kernel asks for
    the offsets :data:`OFFSETS_AHEAD` entries ahead and for the row itself
    :data:`~recframe.engine._compiled.prefetch.AHEAD` entries ahead (hints: the sums are the
    same, in the same order).
    """
    for p in range(start, stop):
        if p + OFFSETS_AHEAD < stop:
            _prefetch(b_indptr, a_indices[p + OFFSETS_AHEAD])  # type: ignore[call-arg]
        if p + AHEAD < stop:
            first = b_indptr[a_indices[p + AHEAD]]
            _prefetch(b_indices, first)  # type: ignore[call-arg]
            _prefetch(b_data, first)
        n_touched = _add_times_row(a_data[p], a_indices[p], b_indptr, b_indices, b_data, acc, mark, touched, n_touched)
    return n_touched
