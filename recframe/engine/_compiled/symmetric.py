"""Compiled symmetric neighbour search: the top-k of every row of ``X @ X.T``, each pair computed once.

The kernels behind :func:`recframe.engine.top_k_neighbours`: :func:`transpose_positions` maps
every stored entry of ``X`` to its place in ``X.T`` (and checks that the two agree),
:func:`symmetric_accumulate` computes each pair ``(i, j > i)`` once and offers it to both rows'
heaps, and :func:`merge_heaps` merges the per-thread heaps into the final lists.
A search split into blocks of pairs (:mod:`recframe.engine.pairs`) runs the same kernels on a
range of rows each, weighs the ranges by :func:`pair_work` and merges the blocks' lists with
:func:`merge_offers`.

Two choices make the accumulation fast (issue 16):

- Row ``i`` needs only the columns ``j > i`` of each row ``u`` of ``X.T`` it reaches, and entry
  ``(i, u)`` of ``X`` sits at a known place in that row: the stream starts right after it,
  with no binary search into short rows.
- Rows are taken in decreasing order, so that when the pairs ``(i, j)`` with ``i < j`` reach
  row ``j``'s heap it already holds row ``j``'s best partners above ``j``: its floor is high
  and more offers are rejected by one comparison instead of being inserted into a heap that
  is out of cache (realistic ML-20M shape, 2 threads: 8.1 million insertions into row ``j``'s
  heaps instead of 14.6 million; row ``i``'s own heap, in cache, takes 8.3 instead of 1.9).
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.heaps import _drain_best_first, _keep, _worse


@numba.njit(nogil=True, cache=True)
def transpose_positions(
    x_indptr: np.ndarray, x_indices: np.ndarray, t_indptr: np.ndarray, t_indices: np.ndarray, out: np.ndarray
) -> bool:
    """Fill ``out[p]`` with the position in ``X.T`` of stored entry ``p`` of ``X``.

    Returns ``False`` (leaving `out` partly filled) unless ``X`` has sorted, distinct column
    indices in every row and ``X.T`` holds exactly the same entries, each row sorted: then,
    and only then, the stream of row ``u`` of ``X.T`` after ``out[p]`` is the columns ``j > i``.
    """
    n = x_indptr.shape[0] - 1
    cursor = t_indptr[:-1].copy()
    for i in range(n):
        previous = -1
        for p in range(x_indptr[i], x_indptr[i + 1]):
            u = x_indices[p]
            if u <= previous:
                return False
            previous = u
            q = cursor[u]
            if q >= t_indptr[u + 1] or t_indices[q] != i:
                return False
            out[p] = q
            cursor[u] = q + 1
    return bool(np.all(cursor == t_indptr[1:]))  # every entry of X.T was met


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
    positions: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    hv: np.ndarray,
    hj: np.ndarray,
    hsize: np.ndarray,
    floor: np.ndarray,
) -> None:
    """Offer every pair ``(i, j > i)`` of ``X @ X.T`` with ``start <= i < stop`` to both rows' heaps.

    `positions` comes from :func:`transpose_positions`. Each of the ``hv.shape[0]`` parallel
    chunks owns one heap per row; rows are dealt to the chunks in turn, from the last down
    (call with decreasing ranges, too), so that their work balances out and the heaps of the
    rows above are filled before the pairs from below arrive. :func:`merge_heaps` finishes.

    The heaps are those of the last ``hv.shape[1]`` rows (all rows, or, for one block of pairs,
    the rows from `start` on: no row before `start` is offered anything); heap ``r`` is row
    ``n - hv.shape[1] + r``.
    """
    n = x_indptr.shape[0] - 1
    n_sets = hv.shape[0]
    base = n - hv.shape[1]
    k = hv.shape[2]
    for c in numba.prange(n_sets):
        acc = np.zeros(n, dtype=np.float64)
        for i in range(stop - 1 - c, start - 1, -n_sets):
            for p in range(x_indptr[i], x_indptr[i + 1]):
                u = x_indices[p]
                x = x_data[p]
                for q in range(positions[p] + 1, t_indptr[u + 1]):
                    acc[t_indices[q]] += x * t_data[q]
            for j in range(i + 1, n):
                v = acc[j]
                if v != 0.0:
                    acc[j] = 0.0
                    if v > 0.0:
                        _offer(hv, hj, hsize, floor, c, i - base, v, j, k)
                        _offer(hv, hj, hsize, floor, c, j - base, v, i, k)


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


@numba.njit(nogil=True, cache=True)
def pair_work(
    x_indptr: np.ndarray, x_indices: np.ndarray, positions: np.ndarray, t_indptr: np.ndarray, out: np.ndarray
) -> None:
    """Fill ``out[i]`` with the multiply-adds of row ``i``'s pairs ``(i, j > i)`` in :func:`symmetric_accumulate`.

    Entry ``(i, u)`` of ``X`` meets the entries of row ``u`` of ``X.T`` after its own place:
    ``t_indptr[u + 1] - positions[p] - 1`` of them.
    """
    n = x_indptr.shape[0] - 1
    for i in range(n):
        total = 0
        for p in range(x_indptr[i], x_indptr[i + 1]):
            total += t_indptr[x_indices[p] + 1] - positions[p] - 1
        out[i] = total


@numba.njit(nogil=True, cache=True)
def merge_offers(
    into_j: np.ndarray, into_v: np.ndarray, offered_j: np.ndarray, offered_v: np.ndarray, first_row: int
) -> None:
    """Merge each row's best-first `offered` list into its best-first list of ``into`` (from `first_row` on).

    Row ``r`` of `offered` is row ``first_row + r`` of ``into``. Both lists are padded by ``-1``
    at the end; the merged list keeps the best ``into_j.shape[1]`` of the two by the kernels'
    order (:func:`~recframe.engine._compiled.heaps._worse`: score, then lower column), so that
    merging lists of disjoint partners in any order gives the top-k of their union.
    """
    k = into_j.shape[1]
    width = offered_j.shape[1]
    mj = np.empty(k, dtype=np.int64)
    mv = np.empty(k, dtype=np.float64)
    for r in range(offered_j.shape[0]):
        row = first_row + r
        a = 0
        b = 0
        for t in range(k):
            has_a = a < k and into_j[row, a] >= 0
            has_b = b < width and offered_j[r, b] >= 0
            if has_a and (not has_b or _worse(offered_v[r, b], offered_j[r, b], into_v[row, a], into_j[row, a])):
                mj[t] = into_j[row, a]
                mv[t] = into_v[row, a]
                a += 1
            elif has_b:
                mj[t] = offered_j[r, b]
                mv[t] = offered_v[r, b]
                b += 1
            else:
                mj[t] = -1
                mv[t] = 0.0
        into_j[row] = mj
        into_v[row] = mv
