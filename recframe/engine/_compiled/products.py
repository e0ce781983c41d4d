"""Compiled top-n products: ``A[r] @ B`` per query row.

The kernel behind :func:`recframe.engine.top_n_product` (:func:`rows_top_n`, run on slices of
the query rows by :func:`recframe.engine.slices.run_in_slices`). The symmetric ``X @ X.T``
neighbours are in :mod:`recframe.engine._compiled.symmetric`.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.heaps import _drain_best_first, _keep
from recframe.engine._compiled.prefetch import AHEAD, _prefetch_row

BLOCK = 64  # columns a dense row's scan tests at once against the heap's floor
LIGHT = 1  # a row whose work is at most LIGHT times the columns lists the columns it reaches


@numba.njit(inline="always", cache=True)
def _clear_excluded(
    acc: np.ndarray,
    r: int,
    pos: int,
    has_seen: bool,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    has_extra: bool,
    extra_indptr: np.ndarray,
    extra_indices: np.ndarray,
    exclude_self: bool,
) -> None:
    """Zero the sums of the columns row `r` (at batch position `pos`) leaves out: a zero is never kept."""
    if has_seen:
        for p in range(seen_indptr[r], seen_indptr[r + 1]):
            acc[seen_indices[p]] = 0.0
    if has_extra:
        for p in range(extra_indptr[pos], extra_indptr[pos + 1]):
            acc[extra_indices[p]] = 0.0
    if exclude_self:
        acc[r] = 0.0


@numba.njit(inline="always", cache=True)
def _block_may_enter(
    acc: np.ndarray, b0: int, b1: int, scaled: bool, q_scale: float, t_scales: np.ndarray, floor: float
) -> bool:
    """Whether a column of ``b0:b1`` scores positive and at least `floor` (one branch-free pass)."""
    hit = False
    if scaled:
        for j in range(b0, b1):
            v = acc[j] * (q_scale * t_scales[j])
            hit |= (v > 0.0) & (v >= floor)
    else:
        for j in range(b0, b1):
            v = acc[j]
            hit |= (v > 0.0) & (v >= floor)
    return hit


@numba.njit(nogil=True, cache=True)
def rows_top_n(
    start: int,
    stop: int,
    rows: np.ndarray,
    a_indptr: np.ndarray,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    n_cols: int,
    q_scales: np.ndarray,
    t_scales: np.ndarray,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    extra_indptr: np.ndarray,
    extra_indices: np.ndarray,
    exclude_self: bool,
    n: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
) -> None:
    """Fill ``out_j[start:stop]`` and ``out_v[start:stop]`` with the top-`n` of each row's product.

    With non-empty `q_scales` (by row of ``A``) and `t_scales` (by column of ``B``), each positive
    sum ``v`` of row ``r`` and column ``j`` scores ``v * (q_scales[r] * t_scales[j])`` (inverse
    norms: the cosine of raw rows, bit for bit as
    :func:`~recframe.engine._compiled.symmetric.symmetric_accumulate`); empty arrays keep the sums.

    Each row's sums go into a dense accumulator in the order of the row's entries; the excluded
    columns' sums are then zeroed, so that only positive sums are offered to the heap. A row whose
    work (entries of ``B`` it reads) exceeds the columns scans every column in blocks that skip
    the heap unless one of their columns can enter; a lighter one lists the columns it reaches,
    using the sum itself as the mark, and reads only those (ML-20M shape, batch top-10 for all
    users, one thread: 3.4 s with a separate mark, a branch per entry and a column-by-column scan;
    2.5 s without).
    """
    acc = np.zeros(n_cols, dtype=np.float64)
    touched = np.empty(LIGHT * n_cols + 1, dtype=np.int64)  # a light row lists at most its work, +1 spare
    heap_v = np.empty(n, dtype=np.float64)
    heap_j = np.empty(n, dtype=np.int64)
    has_seen = seen_indptr.shape[0] > 1
    has_extra = extra_indptr.shape[0] > 1
    scaled = q_scales.shape[0] > 0
    for pos in range(start, stop):
        r = rows[pos]
        if r < 0:
            continue
        q_scale = q_scales[r] if scaled else 1.0
        work = 0
        for p in range(a_indptr[r], a_indptr[r + 1]):
            u = a_indices[p]
            work += b_indptr[u + 1] - b_indptr[u]
        dense = work > LIGHT * n_cols
        n_touched = 0
        if dense:
            for p in range(a_indptr[r], a_indptr[r + 1]):
                u = a_indices[p]
                x = a_data[p]
                for q in range(np.uint64(b_indptr[u]), np.uint64(b_indptr[u + 1])):
                    acc[np.uint64(b_indices[q])] += x * b_data[q]  # unsigned: no negative-index check
        else:
            last = a_indptr[r + 1]
            for p in range(a_indptr[r], last):
                u = a_indices[p]
                x = a_data[p]
                if p + AHEAD < last:
                    _prefetch_row(b_indptr, b_indices, b_data, a_indices[p + AHEAD])  # type: ignore[call-arg,arg-type]
                for q in range(np.uint64(b_indptr[u]), np.uint64(b_indptr[u + 1])):
                    col = np.uint64(b_indices[q])
                    # a column reached while its sum is zero is listed (again, if its sum came
                    # back to zero: at most `work` listings), with no branch
                    touched[n_touched] = col
                    n_touched += acc[col] == 0.0
                    acc[col] += x * b_data[q]
        _clear_excluded(
            acc, r, pos, has_seen, seen_indptr, seen_indices, has_extra, extra_indptr, extra_indices, exclude_self
        )
        size = 0
        floor = -np.inf  # the heap's worst score once it is full: most columns fail this one test
        # the offer to the heap is written out in both loops: an inlined helper returning the
        # heap's (size, floor) made the whole kernel 1.7x slower (ML-20M-real, two threads)
        if dense:
            for b0 in range(0, n_cols, BLOCK):
                b1 = min(b0 + BLOCK, n_cols)
                if _block_may_enter(acc, b0, b1, scaled, q_scale, t_scales, floor):
                    for j in range(b0, b1):
                        v = acc[j]
                        if v > 0.0:
                            if scaled:  # a zero scale (a row of norm 0) keeps nothing
                                v = v * (q_scale * t_scales[j])
                            if v >= floor and v > 0.0:
                                size = _keep(heap_v, heap_j, size, n, v, j)
                                if size == n:
                                    floor = heap_v[0]
                acc[b0:b1] = 0.0
        else:
            for t in range(n_touched):
                j = touched[t]
                v = acc[j]
                acc[j] = 0.0  # a column listed twice reads zero the second time
                if v > 0.0:
                    if scaled:  # a zero scale (a row of norm 0) keeps nothing
                        v = v * (q_scale * t_scales[j])
                    if v >= floor and v > 0.0:
                        size = _keep(heap_v, heap_j, size, n, v, j)
                        if size == n:
                            floor = heap_v[0]
        _drain_best_first(heap_v, heap_j, size, out_v[pos], out_j[pos])
