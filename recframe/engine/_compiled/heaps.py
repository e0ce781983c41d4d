"""Bounded heaps for the compiled kernels: keep a row's best entries, best first on the way out.

Every kernel of :mod:`recframe.engine._compiled` keeps its candidates in a heap of fixed
capacity with the worst entry on top, ordered by score and then by lower column, so that
results are deterministic; these helpers are inlined into the kernels that call them. The delta
kernel sorts a row's few candidates in place instead where they are nearly in order
(:func:`_sort_best_first`), in the same order.
"""

from __future__ import annotations

import numba
import numpy as np

SORT_MOVES = 8
"""Moves per candidate :func:`_sort_best_first` may make before it gives way to the heap (candidates
far out of order: a new row's, or many found beside the listed ones), which then costs about
what the heap alone would have: at most a logarithm of the capacity per candidate, twice."""


@numba.njit(inline="always", cache=True)
def _worse(v1: float, j1: int, v2: float, j2: int) -> bool:
    """Whether (v1, j1) ranks below (v2, j2): lower score, or equal score and higher column."""
    return v1 < v2 or (v1 == v2 and j1 > j2)


@numba.njit(inline="always", cache=True)
def _sift_down(heap_v: np.ndarray, heap_j: np.ndarray, size: int, pos: int) -> None:
    """Restore the heap (worst entry on top) below `pos`."""
    while True:
        left = 2 * pos + 1
        if left >= size:
            return
        child = left
        right = left + 1
        if right < size and _worse(heap_v[right], heap_j[right], heap_v[left], heap_j[left]):
            child = right
        if _worse(heap_v[child], heap_j[child], heap_v[pos], heap_j[pos]):
            heap_v[pos], heap_v[child] = heap_v[child], heap_v[pos]
            heap_j[pos], heap_j[child] = heap_j[child], heap_j[pos]
            pos = child
        else:
            return


@numba.njit(inline="always", cache=True)
def _keep(heap_v: np.ndarray, heap_j: np.ndarray, size: int, capacity: int, v: float, j: int) -> int:
    """Offer (v, j) to a bounded heap holding `size` entries (worst on top); return its new size."""
    if size < capacity:
        i = size
        heap_v[i] = v
        heap_j[i] = j
        while i > 0:
            parent = (i - 1) // 2
            if _worse(heap_v[i], heap_j[i], heap_v[parent], heap_j[parent]):
                heap_v[i], heap_v[parent] = heap_v[parent], heap_v[i]
                heap_j[i], heap_j[parent] = heap_j[parent], heap_j[i]
                i = parent
            else:
                break
        return size + 1
    if _worse(heap_v[0], heap_j[0], v, j):
        heap_v[0] = v
        heap_j[0] = j
        _sift_down(heap_v, heap_j, size, 0)
    return size


@numba.njit(inline="always", cache=True)
def _drain_best_first(heap_v: np.ndarray, heap_j: np.ndarray, size: int, out_v: np.ndarray, out_j: np.ndarray) -> None:
    """Empty the heap into ``out[:size]``, best first (the worst is popped into the last place)."""
    for slot in range(size - 1, -1, -1):
        out_v[slot] = heap_v[0]
        out_j[slot] = heap_j[0]
        heap_v[0] = heap_v[slot]
        heap_j[0] = heap_j[slot]
        _sift_down(heap_v, heap_j, slot, 0)


@numba.njit(inline="always", cache=True)
def _sort_best_first(values: np.ndarray, columns: np.ndarray, size: int, budget: int) -> bool:
    """Sort ``values[:size]`` and `columns` best first, in place (the heaps' order); ``False`` past `budget` moves.

    An insertion sort: for entries already nearly in order it costs about one comparison each,
    where draining a heap costs a logarithm of its size each. A row's candidates after an update
    are mostly its old neighbours, listed best first, their scores changed a little. Entries far
    out of order cost a move per place: past `budget` moves the sort stops between two entries
    and returns ``False``, leaving the entries a permutation of what they were (the caller then
    keeps the best through a heap, whose cost does not depend on the order).
    """
    moves = 0
    for t in range(1, size):
        v = values[t]
        j = columns[t]
        u = t - 1
        while u >= 0 and _worse(values[u], columns[u], v, j):
            values[u + 1] = values[u]
            columns[u + 1] = columns[u]
            u -= 1
        values[u + 1] = v
        columns[u + 1] = j
        moves += t - 1 - u
        if moves > budget:
            return False
    return True
