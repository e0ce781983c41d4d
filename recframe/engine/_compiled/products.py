"""Compiled top-n products: ``A[r] @ B`` per query row.

The kernel behind :func:`recframe.engine.top_n_product` (:func:`top_n_product`); the
symmetric ``X @ X.T`` neighbours are in :mod:`recframe.engine._compiled.symmetric`.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.heaps import _drain_best_first, _keep
from recframe.engine._compiled.scatter import _scatter_row


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
    """
    acc = np.zeros(n_cols, dtype=np.float64)
    touched_mark = np.zeros(n_cols, dtype=np.bool_)
    banned = np.zeros(n_cols, dtype=np.bool_)
    touched = np.empty(n_cols, dtype=np.int64)
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
        # a row that reaches about every column scans them all afterwards and tracks nothing;
        # a lighter one lists the columns it reaches (ML-20M shape, batch top-10, one thread:
        # a scan from work > 1x the columns 3.2 s, > 4x 4.1 s, never 3.2 s)
        dense = work > n_cols
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
        floor = -np.inf  # the heap's worst score once it is full: most columns fail this one test
        if dense:
            for p in range(a_indptr[r], a_indptr[r + 1]):
                u = a_indices[p]
                x = a_data[p]
                for q in range(b_indptr[u], b_indptr[u + 1]):
                    acc[b_indices[q]] += x * b_data[q]
            for j in range(n_cols):
                v = acc[j]
                if v != 0.0:
                    acc[j] = 0.0
                    if v > 0.0 and not banned[j]:
                        if scaled:  # a zero scale (a row of norm 0) keeps nothing
                            v = v * (q_scale * t_scales[j])
                        if v >= floor and v > 0.0:
                            size = _keep(heap_v, heap_j, size, n, v, j)
                            if size == n:
                                floor = heap_v[0]
        else:
            n_touched = _scatter_row(
                a_indptr[r],
                a_indptr[r + 1],
                a_indices,
                a_data,
                b_indptr,
                b_indices,
                b_data,
                acc,
                touched_mark,
                touched,
                0,
            )
            for t in range(n_touched):
                j = touched[t]
                v = acc[j]
                acc[j] = 0.0
                touched_mark[j] = False
                if v > 0.0 and not banned[j]:
                    if scaled:  # a zero scale (a row of norm 0) keeps nothing
                        v = v * (q_scale * t_scales[j])
                    if v >= floor and v > 0.0:
                        size = _keep(heap_v, heap_j, size, n, v, j)
                        if size == n:
                            floor = heap_v[0]
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
    q_scales: np.ndarray,
    t_scales: np.ndarray,
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
                q_scales,
                t_scales,
                seen_indptr,
                seen_indices,
                extra_indptr,
                extra_indices,
                exclude_self,
                n,
                out_j,
                out_v,
            )
