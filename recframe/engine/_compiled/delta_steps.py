"""The last step of a row of the compiled dot-product update: exact dot products for its high bounds.

:func:`~recframe.engine._compiled.delta._lists_row` bounds every unlisted pair whose dot product
changed; a bound at or above the row's ``k``-th exact similarity would keep the row from
settling (it would be searched again in full). :func:`_resolve_bounds` replaces all such bounds
by the exact ``X'_i . X'_j`` when together they cost at most half a new search of the row, and
none of them otherwise (the row is then searched again). It says which bound is left highest:
it becomes part of the row's floor. The helper is inlined into the kernel.

It also names the columns of ``row_info``, the kernel's table of what it reads of each row.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.heaps import SORT_MOVES, _keep, _sort_best_first
from recframe.engine._compiled.spans import copy_span
from recframe.engine.measures import DOT_GRID

OLD_LENGTH, NEW_LENGTH, OLD_FLOOR, KIND = 0, 1, 2, 3
"""The columns of ``row_info``: a row's length before and after the update, its old floor, its kind."""

KEPT, NEW, SHRUNK = 0.0, 1.0, 2.0
"""A row's kind: an old row, a new row (its old dot products are all 0), or a shrunk row (every
pair with it is computed exactly)."""

LISTED, SUSPECTED, SUSPECTED_ONE_WAY = -2.0, -3.0, -4.0
"""The marks, in the kernel's ``mirror`` scratch array, of a row that row ``i`` lists, of a row
that row ``i`` suspects or that suspects it (its bound is in ``cap``), and of one row ``i``
suspects while the marks are made (``-1``: none of these; at least 0: the similarity of a row
that lists row ``i``)."""


@numba.njit(inline="always", cache=True)
def _recovered_dot(score: float, length_i: float, length_j: float) -> float:
    """Return the dot product a pair's similarity `score` was computed from, given the rows' lengths then.

    ``score * length_i * length_j`` carries a few units of rounding in its last place; the
    nearest multiple of ``1 / DOT_GRID`` replaces it where the fit's formula (:func:`_similarity_of`)
    gives `score` from it exactly: then it is within that rounding too, and, on data whose
    values are multiples of ``2**-4``, the exact dot product.
    """
    dot = score * length_i * length_j
    if length_i > 0.0 and length_j > 0.0:
        grid: float = np.rint(dot * DOT_GRID) / DOT_GRID
        if grid != dot and grid * ((1.0 / length_i) * (1.0 / length_j)) == score:
            return grid
    return dot


@numba.njit(inline="always", cache=True)
def _similarity_of(dot: float, inverse_i: float, length_j: float) -> float:
    """Return the similarity of a pair from its dot product, as a fit computes it (``1 / length_i`` is `inverse_i`).

    ``dot * ((1 / length_i) * (1 / length_j))``: the fit's kernels multiply each sum by the
    product of the rows' inverse lengths (:func:`~recframe.engine.pairs._scales`), and so, to the
    bit, does the update.
    """
    return dot * (inverse_i * (1.0 / length_j))


@numba.njit(inline="always", cache=True)
def _resolve_bounds(
    i: int,
    n_bounded: int,
    n_held: int,
    admit: float,
    n_cand: int,
    floor: float,
    k: int,
    heap_v: np.ndarray,
    heap_j: np.ndarray,
    bound_j: np.ndarray,
    bound_v: np.ndarray,
    cand_j: np.ndarray,
    cand_v: np.ndarray,
    dense: np.ndarray,
    present: np.ndarray,
    filled: bool,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    xnt_indptr: np.ndarray,
    row_info: np.ndarray,
    held_v: np.ndarray,
    held_j: np.ndarray,
    n_suspects: int,
) -> tuple[int, float, int, bool]:
    """Add exact similarities for the bounds at or above the ``k``-th exact one; keep the highest others as suspects.

    The `n_bounded` bounds in `bound_v` (at least the ``k``-th similarity of the listed
    neighbours) may keep the row from settling: those at or above the ``k``-th exact similarity
    are all resolved when their rows' entries number at most half of what a new search of row
    `i` reads, and none otherwise (the row is then searched again). Resolving the highest ones
    first until that budget ran out (as before) let a row settle only where a resolved
    similarity passed every bound left, which is rare: it mostly spent up to half a search and
    then searched the row again anyway.

    The other bounds join the `n_held` in `held_v` (each above `admit`, which is at most the
    ``n_suspects + 1``-th highest bound): the ``n_suspects`` highest become the row's suspects,
    first in `held_v` (in no order), and the next one bounds every other row: it becomes part of the
    floor. Folding them all into the floor (as before) set it just under the ``k``-th similarity
    wherever many bounds lay between (a median of 288 bounds above the floor per row adding 1%
    to the ML-20M shape), so the next update had to search the row again.

    Row `i` is scattered into `dense` to resolve them, unless it is there already (`filled`;
    the caller clears it). Returns the new count of candidates, a level no bound that is neither
    resolved nor a suspect passes (`admit`, raised by the last cut; the highest bound where the
    row will be searched again), how many suspects there are (``-1`` where the row will be
    searched again) and whether row `i` is in `dense` now.
    """
    if n_bounded:
        target = _kth_best(cand_v, cand_j, n_cand, k, floor, heap_v, heap_j)
        cost = 0
        highest = -np.inf
        for t in range(n_bounded):
            highest = max(highest, bound_v[t])
            if bound_v[t] >= target:
                cost += xn_indptr[bound_j[t] + 1] - xn_indptr[bound_j[t]]
        if cost:  # what a new search of row i reads (a pass over its entries: only where needed)
            search_cost = 0
            for p in range(xn_indptr[i], xn_indptr[i + 1]):
                c = xn_indices[p]
                search_cost += xnt_indptr[c + 1] - xnt_indptr[c]
            if 2 * cost > search_cost:  # the row will be searched again: its highest bound is left
                return n_cand, highest, -1, filled
        for t in range(n_bounded):
            if bound_v[t] >= target:
                j = bound_j[t]
                n_cand = _add_exact(
                    i, j, n_cand, cand_j, cand_v, dense, present, filled, xn_indptr, xn_indices, xn_data, row_info
                )
                filled = True
            elif bound_v[t] > admit:
                held_j[n_held] = bound_j[t]
                held_v[n_held] = bound_v[t]
                n_held += 1
    if n_held > n_suspects:
        n_held, admit = _compact(held_v, held_j, n_held, n_suspects + 1)
    return n_cand, admit, n_held, filled


@numba.njit(nogil=True, cache=True)
def _compact(held_v: np.ndarray, held_j: np.ndarray, n_held: int, rank: int) -> tuple[int, float]:
    """Keep, in place, the held bounds above the `rank`-th highest; return how many, and that bound.

    They number fewer than `rank` (ties with it go too): no bound at most the returned one can
    be a suspect any more, as at least `rank` bounds are that high. A quickselect of the bounds
    with their rows, linear on average; called by the kernel as bounds accumulate (not inlined:
    it is rare), and once for a row's last.
    """
    want = rank - 1  # the place of the rank-th highest, highest first
    low, high = 0, n_held - 1
    while low < high:
        pivot = held_v[(low + high) // 2]
        a, b = low, high
        while a <= b:
            while held_v[a] > pivot:
                a += 1
            while held_v[b] < pivot:
                b -= 1
            if a <= b:
                held_v[a], held_v[b] = held_v[b], held_v[a]
                held_j[a], held_j[b] = held_j[b], held_j[a]
                a += 1
                b -= 1
        if want <= b:
            high = b
        elif want >= a:
            low = a
        else:
            break
    threshold = held_v[want]
    kept = 0
    for t in range(want):  # those before it are at least as high: keep the higher ones
        if held_v[t] > threshold:
            held_v[kept] = held_v[t]
            held_j[kept] = held_j[t]
            kept += 1
    return kept, float(threshold)


@numba.njit(inline="always", cache=True)
def _kth_best(
    cand_v: np.ndarray, cand_j: np.ndarray, n_cand: int, rank: int, floor: float, heap_v: np.ndarray, heap_j: np.ndarray
) -> float:
    """Return the `rank`-th best of the `n_cand` candidates, or `floor` if that is higher or they are fewer.

    The scratch heaps `heap_v` and `heap_j` hold at least `rank` entries.

    The candidates are mostly a row's listed neighbours, best first, their scores changed a
    little: they are sorted in the scratch heaps (where they fit) by the insertion sort
    :func:`~recframe.engine._compiled.heaps._sort_best_first`, which then costs about a
    comparison each (it gives way to the heap past
    :data:`~recframe.engine._compiled.heaps.SORT_MOVES` moves a candidate in all), instead of a
    heap of `rank` entries, which costs a logarithm of `rank` for each of the first `rank` of
    them (each worse than the ones before it, so it rises to the top). Only the value is
    returned, which ties do not change. On one thread, on the inputs of a 1% add to the ML-20M
    shape, the delta kernel's rows spent 0.05-0.06 s in the heap.
    """
    if rank <= 0 or n_cand < rank:
        return max(floor, 0.0)
    if n_cand <= heap_v.shape[0]:
        copy_span(cand_v, 0, heap_v, 0, n_cand)
        copy_span(cand_j, 0, heap_j, 0, n_cand)
        if _sort_best_first(heap_v, heap_j, n_cand, SORT_MOVES * n_cand):
            return max(floor, float(heap_v[rank - 1]))
    size = 0
    for t in range(n_cand):
        size = _keep(heap_v, heap_j, size, rank, cand_v[t], cand_j[t])
    return max(floor, float(heap_v[0]))


@numba.njit(inline="always", cache=True)
def _exact_dot(
    i: int,
    j: int,
    dense: np.ndarray,
    present: np.ndarray,
    filled: bool,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
) -> float:
    """Return ``X'_i . X'_j`` from row `i` scattered into `dense` (scattered first unless `filled`).

    Row `i`'s columns are also set in the bitmap `present` (a bit per column: 17 KB for the
    138,493 users of ML-20M, where `dense` takes 1.1 MB), and each entry of row `j` reads
    `dense` only where its bit is set; elsewhere it reads the last slot of `dense`, past every
    column and always 0 (without a branch). The products are the very same (a column row `i`
    lacks holds 0 either way), in the same order; what changes is that most entries of row `j`,
    in columns row `i` lacks, read a cache line at hand instead of waiting for one of `dense`.
    On the inputs of a 1% add to the ML-20M shape (73,401 exact dot products reading 27
    million entries), the delta kernel took 0.84-1.15 s (median of 8: 1.13 s) instead of
    1.16-1.90 s (1.27 s) on two threads, and 1.97-2.56 s (2.01 s) instead of 2.09-2.98 s
    (2.27 s) on one.
    """
    if not filled:
        for p in range(xn_indptr[i], xn_indptr[i + 1]):
            c = xn_indices[p]
            dense[c] = xn_data[p]
            present[c >> 6] |= np.uint64(1) << np.uint64(c & 63)
    zero = np.uint64(dense.shape[0] - 1)
    dot = 0.0
    for q in range(xn_indptr[j], xn_indptr[j + 1]):
        c = np.uint64(xn_indices[q])
        bit = (present[c >> np.uint64(6)] >> (c & np.uint64(63))) & np.uint64(1)
        dot += dense[zero + bit * (c - zero)] * xn_data[q]  # dense[c] where row i has column c, else 0
    return dot


@numba.njit(inline="always", cache=True)
def _clear_row(i: int, dense: np.ndarray, present: np.ndarray, xn_indptr: np.ndarray, xn_indices: np.ndarray) -> None:
    """Take row `i` out of `dense` and `present` again (after :func:`_exact_dot` scattered it)."""
    for p in range(xn_indptr[i], xn_indptr[i + 1]):
        c = xn_indices[p]
        dense[c] = 0.0
        present[c >> 6] = 0


@numba.njit(inline="always", cache=True)
def _add_exact(
    i: int,
    j: int,
    n_cand: int,
    cand_j: np.ndarray,
    cand_v: np.ndarray,
    dense: np.ndarray,
    present: np.ndarray,
    filled: bool,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    row_info: np.ndarray,
) -> int:
    """Add row `j`'s exact similarity to row `i` as a candidate if positive (:func:`_exact_dot`); return the count."""
    dot = _exact_dot(i, j, dense, present, filled, xn_indptr, xn_indices, xn_data)
    v = _similarity_of(dot, 1.0 / row_info[i, NEW_LENGTH], row_info[j, NEW_LENGTH])
    if v > 0.0:
        cand_j[n_cand] = j
        cand_v[n_cand] = v
        n_cand += 1
    return n_cand
