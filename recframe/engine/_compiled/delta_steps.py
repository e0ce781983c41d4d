"""The last step of a row of the compiled dot-product update: exact dot products for its highest bounds.

:func:`~recframe.engine._compiled.delta._lists_row` bounds every unlisted pair whose dot product
changed; a bound at or above the row's ``k``-th exact similarity would keep the row from
settling (it would be searched again in full). :func:`_resolve_bounds` replaces the highest such
bounds, best first, by the exact ``X'_i . X'_j`` while that costs less than half a new search of
the row, and says which bound is left highest: it becomes part of the row's floor. The helper is
inlined into the kernel.

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
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    xnt_indptr: np.ndarray,
    row_info: np.ndarray,
) -> tuple[int, float]:
    """Add exact similarities for the highest of the `n_bounded` bounds to the candidates.

    Row `i` is scattered into `dense` (the caller clears it). Returns the new count of
    candidates and the highest bound left unresolved (``-inf`` if none is).
    """
    size = 0
    for t in range(n_cand):
        size = _keep(heap_v, heap_j, size, k, cand_v[t], cand_j[t])
    target = max(floor, heap_v[0] if size == k and k > 0 else 0.0)
    order = np.argsort(-bound_v[:n_bounded])
    search_cost = 0
    for p in range(xn_indptr[i], xn_indptr[i + 1]):
        c = xn_indices[p]
        search_cost += xnt_indptr[c + 1] - xnt_indptr[c]
        dense[c] = xn_data[p]
    ni = row_info[i, NEW_LENGTH]
    spent = 0
    resolved = 0
    while resolved < n_bounded and bound_v[order[resolved]] >= target:
        j = bound_j[order[resolved]]
        cost = xn_indptr[j + 1] - xn_indptr[j]
        if 2 * (spent + cost) > search_cost:
            break
        spent += cost
        dot = 0.0
        for q in range(xn_indptr[j], xn_indptr[j + 1]):
            dot += dense[xn_indices[q]] * xn_data[q]
        v = dot / (ni * row_info[j, NEW_LENGTH])
        if v > 0.0:
            cand_j[n_cand] = j
            cand_v[n_cand] = v
            n_cand += 1
        resolved += 1
    left = bound_v[order[resolved]] if resolved < n_bounded else -np.inf
    return n_cand, left
