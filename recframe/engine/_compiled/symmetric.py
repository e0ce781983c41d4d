"""Compiled symmetric neighbour search: the top-k of every row of ``X @ X.T``, each pair computed once.

The kernels behind :func:`recframe.engine.top_k_neighbours`: :func:`check_transpose_part` checks
that ``X.T`` holds exactly the entries of ``X`` (and weighs each row's work),
:func:`symmetric_accumulate` computes each pair ``(i, j > i)`` once and offers it to both rows'
heaps, and :func:`merge_heaps` merges the per-thread heaps into the final lists. Each is one
task of its parallel work (a range of rows, a heap set), run side by side by
:class:`~recframe.engine.tasks.TaskThreads`. A search split into blocks of pairs
(:mod:`recframe.engine.pairs`) runs the same kernels on a range of rows each and merges the
blocks' lists with :func:`merge_offers`.

Two choices make the accumulation fast (issue 16):

- Row ``i`` needs only the columns ``j > i`` of each row ``u`` of ``X.T`` it reaches: the
  stream starts right after entry ``(u, i)``, whose place is one before that of the previous
  (higher) row on row ``u``'s cursor (:func:`transpose_places`), for one batch of rows at a
  time: no binary search into short rows, no array of places the size of the
  matrix, and the kernel reads the places in order (a cursor read inside the kernel, before
  each stream, costs 9% more time).
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
from recframe.engine._compiled.prefetch import AHEAD, _prefetch_entries


@numba.njit(nogil=True, cache=True)
def check_transpose_part(
    r: int,
    parts: np.ndarray,
    x_indptr: np.ndarray,
    x_indices: np.ndarray,
    x_data: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    check_values: bool,
    work: np.ndarray,
) -> bool:
    """Check the entries of ``X`` in the columns ``[parts[r], parts[r + 1])`` against those rows of ``X.T``.

    Returns whether rows ``[low, high)`` of ``X.T`` hold exactly the entries of ``X`` in those
    columns (and, with `check_values`, the same values); over every range ``r`` (the tasks, run
    side by side: the look-ups into ``X.T``, the costly part, are shared out), whether ``X.T``
    is the transpose of ``X``. Also ``False`` unless ``X`` has sorted, distinct column indices
    in every row and the rows of ``X.T`` are sorted: then, and only then, the stream of row
    ``u`` of ``X.T`` after entry ``(u, i)`` is the columns ``j > i``, which
    :func:`symmetric_accumulate` relies on.

    Every row of ``X`` is read whole, for its order (cheap, in order); only the entries in the
    range are looked up in ``X.T``, with a cursor per row of the range. `work`, of shape
    ``(len(parts) - 1, n_rows)`` (or empty), gets in row ``r`` each row's multiply-adds in
    :func:`symmetric_accumulate` from these columns (entry ``(i, u)`` meets the entries of row
    ``u`` of ``X.T`` after its own place): their sum over the ranges is the row's.
    """
    low, high = parts[r], parts[r + 1]
    n = x_indptr.shape[0] - 1
    fill = work.shape[0] == parts.shape[0] - 1
    cursor = t_indptr[low:high].copy()
    for i in range(n):
        previous = -1
        total = 0
        for p in range(x_indptr[i], x_indptr[i + 1]):
            u = x_indices[p]
            if u <= previous:
                return False
            previous = u
            if u < low or u >= high:
                continue
            q = cursor[u - low]
            if q >= t_indptr[u + 1] or t_indices[q] != i:
                return False
            if check_values and t_data[q] != x_data[p]:
                return False
            total += t_indptr[u + 1] - q - 1
            cursor[u - low] = q + 1
        if fill:
            work[r, i] = total
    return bool(np.all(cursor == t_indptr[low + 1 : high + 1]))  # every entry of these rows of X.T was met


@numba.njit(inline="always", cache=True)
def _place(cursor: np.ndarray, u: int, i: int, t_indptr: np.ndarray, t_indices: np.ndarray) -> int:
    """Return the place of entry ``(u, i)`` in ``X.T``, from the cursor on row ``u``.

    The cursor is ``-1`` before row ``u`` is first reached (then a binary search finds the
    place), else the place of the previous (higher) row taken there. Rows come in decreasing
    order and ``X.T`` holds exactly the entries of ``X`` (:func:`check_transpose_part` said so
    first), so the place of ``i`` is the one before: the common case reads the cursor only,
    none of ``X.T``. Kept inside the row, so that even a wrong transpose reads nothing outside
    the arrays.
    """
    q: int = cursor[u]
    lo: int = t_indptr[u]
    if q < 0:
        hi = t_indptr[u + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            if t_indices[mid] < i:
                lo = mid + 1
            else:
                hi = mid
        q = lo
    elif q > lo:
        q -= 1
    cursor[u] = q
    return q


@numba.njit(nogil=True, cache=True)
def transpose_places(
    r: int,
    start: int,
    stop: int,
    x_indptr: np.ndarray,
    x_indices: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    parts: np.ndarray,
    cursor: np.ndarray,
    out: np.ndarray,
) -> None:
    """Fill ``out[p - x_indptr[start]]`` with the place in ``X.T`` of each stored entry ``p`` of rows ``[start, stop)``.

    Rows are taken from ``stop - 1`` down, with one cursor per row of ``X.T`` (:func:`_place`;
    all ``-1`` at first): call it for decreasing ranges with the same `cursor` (rows ``stop``
    and up taken before, or never: a binary search then finds the first place). It reads the
    cursors and hardly any of ``X.T``, so the places of one batch of rows cost little next to
    its pairs, and no array of places the size of the matrix is kept. The rows of ``X.T`` are
    split into ``len(parts) - 1`` ranges ``[parts[r], parts[r + 1])``, one per task, each with
    its own cursors: the places are the same however they are split. This fills the
    places of the entries in the columns of range `r` (one task; the ranges run side by side).
    """
    first = x_indptr[start]
    low, high = parts[r], parts[r + 1]
    for i in range(stop - 1, start - 1, -1):
        for p in range(x_indptr[i], x_indptr[i + 1]):
            u = x_indices[p]
            if u >= high:
                break  # a row's columns are sorted
            if u >= low:
                out[p - first] = _place(cursor, u, i, t_indptr, t_indices)


@numba.njit(nogil=True, cache=True)
def _insert(
    hv: np.ndarray, hj: np.ndarray, hsize: np.ndarray, floor: np.ndarray, c: int, row: int, v: float, j: int, k: int
) -> None:
    """Offer (v, j) to the bounded heap of `row` in heap set `c` (worst entry on top), past its floor.

    ``floor[c, row]`` mirrors the worst kept score of a full heap (``-inf`` before), so the
    common case, a rejection, is one comparison in the caller's loop, which reads one
    contiguous array instead of the heap: only an offer at or above the floor calls this. A
    call, not code inlined by numba, whose array arguments would be counted in and out of use
    on every offer (ML-20M shape, one thread: 15.6 CPU s against 10.3 s).
    """
    heap_v = hv[c, row]
    heap_j = hj[c, row]
    size = _keep(heap_v, heap_j, hsize[c, row], k, v, j)
    hsize[c, row] = size
    if size == k:
        floor[c, row] = heap_v[0]


@numba.njit(nogil=True, cache=True)
def symmetric_accumulate(
    c: int,
    start: int,
    stop: int,
    x_indptr: np.ndarray,
    x_indices: np.ndarray,
    x_data: np.ndarray,
    places: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    scales: np.ndarray,
    hv: np.ndarray,
    hj: np.ndarray,
    hsize: np.ndarray,
    floor: np.ndarray,
) -> None:
    """Offer every pair ``(i, j > i)`` of ``X @ X.T`` with ``start <= i < stop`` to both rows' heaps.

    The transpose passed :func:`check_transpose_part`, and ``places[p - x_indptr[start]]`` is the
    place in ``X.T`` of each stored entry ``p`` of the rows (:func:`transpose_places`). Each of
    the ``hv.shape[0]`` heap sets owns one heap per row and is one task (`c`; the tasks run side
    by side); rows are dealt to the sets in turn, from the last down (call with decreasing
    ranges, too), so that their work balances out and the heaps of the rows above are filled
    before the pairs from below arrive. :func:`merge_heaps` finishes.

    A pair's score is its sum over the co-rated columns in increasing order, times
    ``scales[i] * scales[j]`` when `scales` is not empty (the inverse norms: the cosine of the
    raw rows; a product of the two, so that it is the same bits whichever row comes first, and
    no division in the loop): the same operations, in the same order, as
    :func:`~recframe.engine._compiled.products.rows_top_n` computing the pair from either
    side, so every path gives the same bits.

    The heaps are those of the last ``hv.shape[1]`` rows (all rows, or, for one block of pairs,
    the rows from `start` on: no row before `start` is offered anything); heap ``r`` is row
    ``n - hv.shape[1] + r``.
    """
    n = x_indptr.shape[0] - 1
    n_sets = hv.shape[0]
    base = n - hv.shape[1]
    k = hv.shape[2]
    scaled = scales.shape[0] > 0
    first = x_indptr[start]
    acc = np.zeros(n, dtype=np.float64)
    for i in range(stop - 1 - c, start - 1, -n_sets):
        scale = scales[i] if scaled else 1.0
        last = x_indptr[i + 1]
        for p in range(x_indptr[i], last):
            u = x_indices[p]
            x = x_data[p]
            if p + AHEAD < last:  # the rest of a row of X.T two entries on: a wait otherwise
                _prefetch_entries(t_indices, t_data, places[p + AHEAD - first] + 1)  # type: ignore[call-arg,arg-type]
            for q in range(places[p - first] + 1, t_indptr[u + 1]):
                acc[t_indices[q]] += x * t_data[q]
        for j in range(i + 1, n):
            v = acc[j]
            if v != 0.0:
                acc[j] = 0.0
                if v > 0.0:
                    if scaled:  # a zero scale (a row of norm 0) offers nothing
                        v = v * (scale * scales[j])
                    if v > 0.0:  # offered to both rows' heaps (see _insert)
                        if v >= floor[c, i - base]:
                            _insert(hv, hj, hsize, floor, c, i - base, v, j, k)
                        if v >= floor[c, j - base]:
                            _insert(hv, hj, hsize, floor, c, j - base, v, i, k)


@numba.njit(nogil=True, cache=True)
def merge_heaps(
    r: int, bounds: np.ndarray, hv: np.ndarray, hj: np.ndarray, hsize: np.ndarray, out_j: np.ndarray, out_v: np.ndarray
) -> None:
    """Merge the heaps of rows ``[bounds[r], bounds[r + 1])`` into best-first top-k lists.

    The heaps are :func:`symmetric_accumulate`'s. One task per range of rows; the ranges run
    side by side.
    """
    n_sets, _, k = hv.shape
    for i in range(bounds[r], bounds[r + 1]):
        size = 0
        mv = np.empty(k, dtype=np.float64)
        mj = np.empty(k, dtype=np.int64)
        for c in range(n_sets):
            for t in range(hsize[c, i]):
                size = _keep(mv, mj, size, k, hv[c, i, t], hj[c, i, t])
        _drain_best_first(mv, mj, size, out_v[i], out_j[i])


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
