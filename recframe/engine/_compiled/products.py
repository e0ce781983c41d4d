"""Compiled top-n products: ``A[r] @ B`` per query row, and the symmetric ``X @ X.T`` neighbours.

The kernels behind :func:`recframe.engine.top_n_product` (:func:`top_n_product`) and
:func:`recframe.engine.top_k_neighbours` (:func:`symmetric_accumulate`, then
:func:`merge_heaps`).
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.heaps import _drain_best_first, _keep


@numba.njit(inline="always", cache=True)
def _mark(
    banned: np.ndarray,
    value: bool,
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
    """Set (or clear) the excluded columns of row `r` at batch position `pos`."""
    if has_seen:
        for p in range(seen_indptr[r], seen_indptr[r + 1]):
            banned[seen_indices[p]] = value
    if has_extra:
        for p in range(extra_indptr[pos], extra_indptr[pos + 1]):
            banned[extra_indices[p]] = value
    if exclude_self:
        banned[r] = value


@numba.njit(nogil=True, cache=True)
def _rows_top_n(
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
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    extra_indptr: np.ndarray,
    extra_indices: np.ndarray,
    exclude_self: bool,
    n: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
) -> None:
    """Fill ``out_j[start:stop]`` and ``out_v[start:stop]`` with the top-`n` of each row's product."""
    acc = np.zeros(n_cols, dtype=np.float64)
    touched_mark = np.zeros(n_cols, dtype=np.bool_)
    banned = np.zeros(n_cols, dtype=np.bool_)
    touched = np.empty(n_cols, dtype=np.int64)
    heap_v = np.empty(n, dtype=np.float64)
    heap_j = np.empty(n, dtype=np.int64)
    has_seen = seen_indptr.shape[0] > 1
    has_extra = extra_indptr.shape[0] > 1
    for pos in range(start, stop):
        r = rows[pos]
        if r < 0:
            continue
        n_touched = 0
        work = 0
        for p in range(a_indptr[r], a_indptr[r + 1]):
            u = a_indices[p]
            work += b_indptr[u + 1] - b_indptr[u]
        # most columns are reached: scan them all and track nothing (factor measured on the
        # ML-20M shape, batch top-10: 1x 4.1 s, 2x 4.3 s, 4x 3.3-3.6 s, 8x 5.1 s)
        dense = 4 * work > n_cols
        for p in range(a_indptr[r], a_indptr[r + 1]):
            u = a_indices[p]
            x = a_data[p]
            if dense:
                for q in range(b_indptr[u], b_indptr[u + 1]):
                    acc[b_indices[q]] += x * b_data[q]
            else:
                for q in range(b_indptr[u], b_indptr[u + 1]):
                    j = b_indices[q]
                    if not touched_mark[j]:
                        touched_mark[j] = True
                        touched[n_touched] = j
                        n_touched += 1
                    acc[j] += x * b_data[q]
        if dense:
            for j in range(n_cols):
                if acc[j] != 0.0:
                    touched[n_touched] = j
                    n_touched += 1
        _mark(
            banned,
            True,
            r,
            pos,
            has_seen,
            seen_indptr,
            seen_indices,
            has_extra,
            extra_indptr,
            extra_indices,
            exclude_self,
        )
        size = 0
        for t in range(n_touched):
            j = touched[t]
            v = acc[j]
            acc[j] = 0.0
            touched_mark[j] = False
            if v <= 0.0 or banned[j]:
                continue
            size = _keep(heap_v, heap_j, size, n, v, j)
        _drain_best_first(heap_v, heap_j, size, out_v[pos], out_j[pos])
        _mark(
            banned,
            False,
            r,
            pos,
            has_seen,
            seen_indptr,
            seen_indices,
            has_extra,
            extra_indptr,
            extra_indices,
            exclude_self,
        )


@numba.njit(parallel=True, nogil=True, cache=True)
def top_n_product(
    rows: np.ndarray,
    a_indptr: np.ndarray,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    n_cols: int,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    extra_indptr: np.ndarray,
    extra_indices: np.ndarray,
    exclude_self: bool,
    n: int,
    n_chunks: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
) -> None:
    """Run :func:`_rows_top_n` over `n_chunks` slices of `rows` in parallel."""
    m = rows.shape[0]
    step = (m + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        start = c * step
        stop = min(m, start + step)
        if start < stop:
            _rows_top_n(
                start,
                stop,
                rows,
                a_indptr,
                a_indices,
                a_data,
                b_indptr,
                b_indices,
                b_data,
                n_cols,
                seen_indptr,
                seen_indices,
                extra_indptr,
                extra_indices,
                exclude_self,
                n,
                out_j,
                out_v,
            )


@numba.njit(inline="always", cache=True)
def _offer(
    hv: np.ndarray, hj: np.ndarray, hsize: np.ndarray, floor: np.ndarray, c: int, row: int, v: float, j: int, k: int
) -> None:
    """Offer (v, j) to the bounded heap of `row` in heap set `c` (worst entry on top).

    ``floor[c, row]`` mirrors the worst kept score of a full heap (``-inf`` before), so the
    common case, a rejection, reads one contiguous array instead of the heap itself.
    """
    if v < floor[c, row]:
        return
    heap_v = hv[c, row]
    heap_j = hj[c, row]
    size = _keep(heap_v, heap_j, hsize[c, row], k, v, j)
    hsize[c, row] = size
    if size == k:
        floor[c, row] = heap_v[0]


@numba.njit(parallel=True, nogil=True, cache=True)
def symmetric_accumulate(
    start: int,
    stop: int,
    x_indptr: np.ndarray,
    x_indices: np.ndarray,
    x_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    hv: np.ndarray,
    hj: np.ndarray,
    hsize: np.ndarray,
    floor: np.ndarray,
) -> None:
    """Offer every pair ``(i, j > i)`` of ``X @ X.T`` with ``start <= i < stop`` to both rows' heaps.

    Row ``i`` accumulates only the columns ``j > i`` (the rows of ``X.T`` have sorted indices,
    so a binary search skips the rest): each pair is computed once, halving the work. Each of
    the ``hv.shape[0]`` parallel chunks owns one heap per row; rows are dealt to the chunks in
    turn, so that their shrinking work balances out. :func:`merge_heaps` finishes the job.
    """
    n = x_indptr.shape[0] - 1
    n_sets = hv.shape[0]
    k = hv.shape[2]
    for c in numba.prange(n_sets):
        acc = np.zeros(n, dtype=np.float64)
        for i in range(start + c, stop, n_sets):
            for p in range(x_indptr[i], x_indptr[i + 1]):
                u = x_indices[p]
                x = x_data[p]
                lo = t_indptr[u]
                hi = t_indptr[u + 1]
                first = lo + np.searchsorted(t_indices[lo:hi], i, side="right")
                for q in range(first, hi):
                    acc[t_indices[q]] += x * t_data[q]
            for j in range(i + 1, n):
                v = acc[j]
                if v != 0.0:
                    acc[j] = 0.0
                    if v > 0.0:
                        _offer(hv, hj, hsize, floor, c, i, v, j, k)
                        _offer(hv, hj, hsize, floor, c, j, v, i, k)


@numba.njit(parallel=True, nogil=True, cache=True)
def merge_heaps(hv: np.ndarray, hj: np.ndarray, hsize: np.ndarray, out_j: np.ndarray, out_v: np.ndarray) -> None:
    """Merge each row's heaps from :func:`symmetric_accumulate` into its best-first top-k."""
    n_sets, n, k = hv.shape
    for i in numba.prange(n):
        size = 0
        mv = np.empty(k, dtype=np.float64)
        mj = np.empty(k, dtype=np.int64)
        for c in range(n_sets):
            for t in range(hsize[c, i]):
                size = _keep(mv, mj, size, k, hv[c, i, t], hj[c, i, t])
        _drain_best_first(mv, mj, size, out_v[i], out_j[i])
