"""Updating cosine (or dot) neighbour lists from how each pair's dot product changed: exact, and cheap.

For cosine, ``sim(i, j) = d_ij / (|i| |j|)`` with ``d_ij`` the dot product of rows ``i`` and
``j``. An update changes a few entries ``D = X' - X`` of the rows; the dot products change by
``Delta = X' X'^T - X X^T = D X'^T + X D^T``, which costs one multiply-add per changed entry and
stored entry of its column: the work of the update, not of the data. Each row keeps, besides
its ``k`` neighbours, up to ``k + slack`` of them (:class:`NeighbourLists`) and a *floor*: no
row outside its list has a similarity above it. After the update, for row ``i``:

* a listed neighbour ``j``: ``d_ij = s_ij |i| |j|`` is known, so ``s'_ij = (d_ij + Delta_ij) / (|i'| |j'|)``
  exactly; so is every pair with a new row (its old ``d`` is 0), and every pair with a row
  whose length shrank most (computed exactly, ``X' X'_S^T``, within :data:`SHRUNK_WORK`);
* an unlisted ``j`` whose dot product changed: ``s'_ij <= (floor_i |i| |j| + Delta_ij) / (|i'| |j'|)``;
* any other unlisted ``j``: ``s'_ij = s_ij (|i| / |i'|) (|j| / |j'|) <= floor_i (|i| / |i'|) G``,
  ``G`` the largest length ratio of the other rows.

The new floor is the largest of those bounds; the exact values above it are the row's new list,
certainly the best ones. A row with fewer than ``k`` of them (and a positive floor) is searched
again in full. The result is what a full search gives, up to exact ties at the ``k``-th place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine import Engine, resolve_engine
from recframe.interfaces import NeighbourGraph
from recframe.recommender.delta_rows import RowWork, block_products, concatenated, lists_in_new_rows, row_blocks
from recframe.recommender.neighbour_lists import NeighbourLists

DeltaMeasure = Literal["cosine", "dot"]
"""The measures whose similarities follow from each pair's dot product and the rows' lengths."""

SHRUNK_WORK = 0.05
"""The rows whose length shrank most get exact similarities to every row (the largest shrinking
left bounds every floor), as many as cost at most this fraction of a full search's work."""

FULL_SEARCH_WORK = 0.5
"""Above this fraction of a full search's multiply-adds, a full search replaces the update."""


@dataclass(frozen=True)
class DeltaUpdate:
    """Neighbour lists brought up to date, and how many rows each way."""

    lists: NeighbourLists
    searched: int
    merged: int
    exact_rows: int

    def record(self) -> dict[str, Any]:
        """Return what was done, as JSON values (for the model's lineage)."""
        return {
            "mode": "delta",
            "rows_searched": self.searched,
            "rows_merged": self.merged,
            "rows_shrunk": self.exact_rows,
        }


def update_lists(
    lists: NeighbourLists,
    old: sp.csr_array,
    new: sp.csr_array,
    row_map: IntArray,
    column_map: IntArray,
    measure: DeltaMeasure,
    k: int,
    width: int,
    search: Callable[[IntArray, int], NeighbourGraph],
    engine: Engine = "auto",
    new_t: sp.csr_array | None = None,
) -> DeltaUpdate | str:
    """Return the neighbour lists of the `new` rows, from the old lists and the change of the rows.

    Returns the reason instead when the change is so large that a full search costs less
    (more than :data:`FULL_SEARCH_WORK` of its multiply-adds).

    Parameters
    ----------
    lists : NeighbourLists
        The lists of the `old` rows.
    old, new : csr_array
        The rows before and after the update, as given to the similarity backend.
    row_map, column_map : ndarray of int64
        The new position of each old row and column, ``-1`` if it is gone.
    measure : {"cosine", "dot"}
        What the backend computes.
    k, width : int
        Neighbours served per row, and kept per row (``k`` plus the slack).
    search : callable
        ``search(rows, width)``: a full search of some new rows.
    engine : {"auto", "numba", "scipy"}
        The compiled kernel, or blocks of scipy products (which search more rows again: they
        bound every pair they don't know, where the kernel computes the highest ones exactly).
    new_t : csr_array, optional
        The transpose of `new`, where the caller has it (the matrix's other orientation).
    """
    n_new = new.shape[0]
    width = min(width, max(n_new - 1, 0))
    k = min(k, width)
    old_x, new_x = _common_columns(old, new, row_map, column_map)
    change = sp.csr_array(new_x - old_x)
    change.eliminate_zeros()
    new_degree = np.bincount(new_x.indices, minlength=new_x.shape[1]).astype(np.float64)
    old_degree = np.bincount(old_x.indices, minlength=new_x.shape[1]).astype(np.float64)
    work = float((new_degree + old_degree)[change.indices].sum())
    full = float((new_degree**2).sum())
    if work > FULL_SEARCH_WORK * full:
        share = work / max(full, 1.0)
        return f"the changed entries cost {share:.0%} of a full search's work, so one full search costs less"
    old_lengths, new_lengths = _lengths(old_x, measure), _lengths(new_x, measure)
    is_new = np.ones(n_new, dtype=bool)
    is_new[row_map[row_map >= 0]] = False
    ratio = np.divide(old_lengths, new_lengths, out=np.ones(n_new), where=new_lengths > 0)
    shrunk, growth_bound = _most_shrunk(ratio, is_new, new_x, new_degree, full)
    old_rows = np.full(n_new, -1, dtype=np.int64)
    kept = np.flatnonzero(row_map >= 0)
    old_rows[row_map[kept]] = kept
    new_x_t = _transposed(new_x, new_t)
    change_t = sp.csr_array(change.T)
    shrunk_t = sp.csr_array(new_x[shrunk].T) if len(shrunk) else None
    listed, listed_scores, old_floors = lists_in_new_rows(lists, old_rows, row_map)
    context = RowWork(
        listed, listed_scores, old_floors, is_new, old_lengths, new_lengths, ratio, growth_bound, shrunk, new_x
    )
    if resolve_engine(engine) == "numba":
        block = context.compiled(change, change_t, new_x, new_x_t, old_x, shrunk_t, k, width)
    else:
        block = concatenated(
            context.block(
                start, stop, *block_products(change, new_x, new_x_t, old_x, change_t, shrunk_t, start, stop), width
            )
            for start, stop in row_blocks(lists.graph.indices.shape[1], new_x, change, n_new)
        )
    indices, scores, floors = block.indices, block.scores, block.floors
    again = np.flatnonzero(~((block.counts >= k) | (floors <= 0)))
    if len(again) and width:
        found = search(again, width)
        redone = NeighbourLists.of(found, width)
        indices[again] = found.indices[:, :width]
        scores[again] = found.scores[:, :width]
        floors[again] = redone.floors
    graph = NeighbourGraph(indices, scores, n_new)
    return DeltaUpdate(NeighbourLists(graph, floors), len(again), n_new - len(again), len(shrunk))


def _most_shrunk(
    ratio: FloatArray, is_new: np.ndarray, rows: sp.csr_array, degree: FloatArray, full: float
) -> tuple[IntArray, float]:
    """Return the rows whose length shrank most, as many as :data:`SHRUNK_WORK` affords, and the largest ratio left.

    A row's exact similarities to every row cost the sum of its columns' degrees.
    """
    shrinking = np.flatnonzero(~is_new & (ratio > 1.0))
    if len(shrinking) == 0:
        return shrinking, 1.0
    order = shrinking[np.argsort(-ratio[shrinking], kind="stable")]
    work = rows[order] @ degree  # each row's cost: its entries times their columns' degrees
    affordable = int(np.searchsorted(np.cumsum(work), SHRUNK_WORK * full, side="right"))
    chosen = np.sort(order[:affordable])
    left = float(ratio[order[affordable]]) if affordable < len(order) else 1.0
    return chosen, max(left, 1.0)


def _transposed(x: sp.csr_array, given: sp.csr_array | None) -> sp.csr_array:
    """Return the transpose of `x`: `given` (the transpose of `x` without the gone columns) extended by them."""
    if given is None or given.shape[1] != x.shape[0] or given.shape[0] > x.shape[1]:
        return sp.csr_array(x.T)
    extra = x.shape[1] - given.shape[0]  # gone columns: no entries left
    indptr = np.r_[given.indptr, np.full(extra, given.indptr[-1], dtype=given.indptr.dtype)]
    return sp.csr_array((given.data, given.indices, indptr), shape=(x.shape[1], x.shape[0]))


def _lengths(x: sp.csr_array, measure: DeltaMeasure) -> FloatArray:
    """Return each row's L2 length for cosine, and 1 for dot (whose similarity is the dot product)."""
    if measure == "dot" or x.nnz == 0:
        return np.ones(x.shape[0]) if measure == "dot" else np.zeros(x.shape[0])
    filled = np.diff(x.indptr) > 0
    squares = np.zeros(x.shape[0])
    squares[filled] = np.add.reduceat(x.data**2, x.indptr[:-1][filled])
    return np.sqrt(squares)


def _common_columns(
    old: sp.csr_array, new: sp.csr_array, row_map: IntArray, column_map: IntArray
) -> tuple[sp.csr_array, sp.csr_array]:
    """Return the old and new rows in the new row positions, over the new columns and then the gone ones.

    A gone column's old entries stay (after the new columns), so that their loss shows in the
    change of the rows; a gone row has no place (its pairs simply vanish).
    """
    n_new, m_new = new.shape
    gone = np.flatnonzero(column_map < 0)
    m = m_new + len(gone)
    index_type = np.int32 if max(m, n_new, old.nnz, new.nnz) < np.iinfo(np.int32).max else np.int64
    columns = column_map.astype(index_type)
    columns[gone] = m_new + np.arange(len(gone))
    same_columns = len(gone) == 0 and m_new == len(column_map)  # then the map is the identity
    indices = old.indices.astype(index_type, copy=False) if same_columns else columns[old.indices]
    # both maps keep the order of what remains: the rows stay sorted, and so do the columns of a
    # row unless it has an entry in a gone column (moved to the end)
    if n_new == len(row_map) and bool((row_map >= 0).all()):  # the same rows: the identity
        data = old.data.copy() if len(gone) else old.data  # sorted below: never the fitted state's own
        old_x = sp.csr_array((data, indices, old.indptr), shape=(n_new, m))
    else:
        rows = np.repeat(np.arange(old.shape[0]), np.diff(old.indptr))
        keep = row_map[rows] >= 0
        indptr = np.zeros(n_new + 1, dtype=np.int64)
        np.cumsum(np.bincount(row_map[rows[keep]], minlength=n_new), out=indptr[1:])
        old_x = sp.csr_array((old.data[keep], indices[keep], indptr), shape=(n_new, m))
    if len(gone):
        old_x.sort_indices()
    new_x = sp.csr_array((new.data, new.indices, new.indptr), shape=(n_new, m))
    return old_x, new_x
