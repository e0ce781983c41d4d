"""Compiled neighbour search by a similarity measure: each query row's ``k`` most similar rows.

The kernel behind :func:`recframe.engine.top_k_by_measure` (:func:`rows_by_measure`, run on
slices of the query rows by :func:`recframe.engine.slices.run_in_slices`). It runs
the same :func:`~recframe.engine.similarity` and :func:`~recframe.engine.modify` formulas as
the scipy engine, compiled here, so both engines agree. The random-walk measures (p3alpha,
rp3beta) reach it as ``dot`` of their prepared rows (see :mod:`recframe.engine.graph`).

numba's on-disk cache keys a kernel on this file only; the package's cache stamp
(:mod:`.cache_stamp`) hashes :mod:`recframe.engine.measures` with it, so no process loads a
kernel compiled from another version of a formula.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import register_jitable

from recframe.engine._compiled.heaps import _drain_best_first, _keep
from recframe.engine.measures import _ratio, modify, similarity

register_jitable(_ratio)  # similarity() calls it: compiled kernels may, too
_similarity = numba.njit(cache=True)(similarity)
_modify = numba.njit(cache=True)(modify)


@numba.njit(nogil=True, cache=True)
def rows_by_measure(
    start: int,
    stop: int,
    rows: np.ndarray,
    a_indptr: np.ndarray,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    norm_a: np.ndarray,
    count_a: np.ndarray,
    norm_b: np.ndarray,
    count_b: np.ndarray,
    n_columns: float,
    code: int,
    needs: int,
    params: np.ndarray,
    min_support: int,
    keep_negative: bool,
    exclude_self: bool,
    k: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
) -> None:
    """Fill ``out[start:stop]`` with each query row's `k` most similar targets by a measure.

    ``norm_a`` and ``count_a`` are per position in `rows`; ``norm_b`` and ``count_b`` per target.
    """
    n_targets = norm_b.shape[0]
    dot = np.zeros(n_targets)
    n = np.zeros(n_targets)
    sum_a = np.zeros(n_targets)
    sum_b = np.zeros(n_targets)
    sq_a = np.zeros(n_targets)
    sq_b = np.zeros(n_targets)
    mark = np.zeros(n_targets, dtype=np.bool_)
    touched = np.empty(n_targets, dtype=np.int64)
    heap_v = np.empty(k, dtype=np.float64)
    heap_j = np.empty(k, dtype=np.int64)
    sums = (needs & 1) != 0
    squares = (needs & 2) != 0
    alpha, beta, shrinkage, min_similarity = params[0], params[1], params[2], params[3]
    for pos in range(start, stop):
        r = rows[pos]
        if r < 0:
            continue
        n_touched = 0
        for p in range(a_indptr[r], a_indptr[r + 1]):
            u = a_indices[p]
            x = a_data[p]
            for q in range(t_indptr[u], t_indptr[u + 1]):
                j = t_indices[q]
                y = t_data[q]
                if not mark[j]:
                    mark[j] = True
                    touched[n_touched] = j
                    n_touched += 1
                dot[j] += x * y
                n[j] += 1.0
                if sums:
                    sum_a[j] += x
                    sum_b[j] += y
                if squares:
                    sq_a[j] += x * x
                    sq_b[j] += y * y
        found = touched[:n_touched]
        sims = _similarity(
            code,
            alpha,
            beta,
            n[found],
            dot[found],
            sum_a[found],
            sum_b[found],
            sq_a[found],
            sq_b[found],
            norm_a[pos],
            norm_b[found],
            count_a[pos],
            count_b[found],
            n_columns,
        )
        sims = _modify(sims, n[found], shrinkage, min_support, min_similarity, keep_negative)
        size = 0
        for t in range(n_touched):
            j = found[t]
            v = sims[t]
            mark[j] = False
            dot[j] = 0.0
            n[j] = 0.0
            sum_a[j] = 0.0
            sum_b[j] = 0.0
            sq_a[j] = 0.0
            sq_b[j] = 0.0
            if v == 0.0 or (exclude_self and j == r):
                continue
            size = _keep(heap_v, heap_j, size, k, v, j)
        _drain_best_first(heap_v, heap_j, size, out_v[pos], out_j[pos])
