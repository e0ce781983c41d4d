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

from recframe.engine._compiled.heaps import _keep

OLD_LENGTH, NEW_LENGTH, OLD_FLOOR, KIND = 0, 1, 2, 3
"""The columns of ``row_info``: a row's length before and after the update, its old floor, its kind."""

KEPT, NEW, SHRUNK = 0.0, 1.0, 2.0
"""A row's kind: an old row, a new row (its old dot products are all 0), or a shrunk row (every
pair with it is computed exactly)."""

LISTED = -2.0
"""The mark, in the kernel's ``mirror`` scratch array, of a row that row ``i`` lists (``-1``:
neither listed nor listing row ``i``; at least 0: the similarity of a row that lists row ``i``)."""


@numba.njit(inline="always", cache=True)
def _resolve_bounds(
    i: int,
    n_bounded: int,
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
    filled: bool,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    xnt_indptr: np.ndarray,
    row_info: np.ndarray,
) -> tuple[int, float, bool]:
    """Add exact similarities for the `n_bounded` bounds at or above the ``k``-th exact one, or for none.

    All of them are resolved when their rows' entries number at most half of what a new search
    of row `i` reads, and none otherwise. Resolving the highest ones first until that budget ran
    out (as before) let a row settle only where a resolved similarity passed every bound left,
    which is rare: it mostly spent up to half a search and then searched the row again anyway.
    That is most rows after a few updates in a row, whose floors sit just under their ``k``-th
    similarity: adding 1% twice to the ML-20M shape, the second update's kernel took 1.18 s that
    way and 0.66 s this way (11,843 and 11,849 rows searched again); the benchmark's single 1%
    add searches 575 and 595 rows again.

    Row `i` is scattered into `dense` to resolve them, unless it is there already (`filled`;
    the caller clears it). Returns the new count of candidates, the highest bound left
    unresolved (``-inf`` if none is) and whether row `i` is in `dense` now.
    """
    size = 0
    for t in range(n_cand):
        size = _keep(heap_v, heap_j, size, k, cand_v[t], cand_j[t])
    target = max(floor, heap_v[0] if size == k and k > 0 else 0.0)
    search_cost = 0
    for p in range(xn_indptr[i], xn_indptr[i + 1]):
        c = xn_indices[p]
        search_cost += xnt_indptr[c + 1] - xnt_indptr[c]
    cost = 0
    left, highest = -np.inf, -np.inf  # the highest bound below the target, and of all
    for t in range(n_bounded):
        highest = max(highest, bound_v[t])
        if bound_v[t] >= target:
            j = bound_j[t]
            cost += xn_indptr[j + 1] - xn_indptr[j]
        else:
            left = max(left, bound_v[t])
    if 2 * cost > search_cost:  # the row will be searched again: its highest bound is left
        return n_cand, highest, filled
    if not filled:
        for p in range(xn_indptr[i], xn_indptr[i + 1]):
            dense[xn_indices[p]] = xn_data[p]
    ni = row_info[i, NEW_LENGTH]
    for t in range(n_bounded):
        if bound_v[t] >= target:
            j = bound_j[t]
            dot = 0.0
            for q in range(xn_indptr[j], xn_indptr[j + 1]):
                dot += dense[xn_indices[q]] * xn_data[q]
            v = dot / (ni * row_info[j, NEW_LENGTH])
            if v > 0.0:
                cand_j[n_cand] = j
                cand_v[n_cand] = v
                n_cand += 1
    return n_cand, left, True
