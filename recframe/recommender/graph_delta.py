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

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine import Engine, numba_threads, resolve_engine, top_n_entries
from recframe.interfaces import NeighbourGraph

DeltaMeasure = Literal["cosine", "dot"]
"""The measures whose similarities follow from each pair's dot product and the rows' lengths."""

SHRUNK_WORK = 0.05
"""The rows whose length shrank most get exact similarities to every row (the largest shrinking
left bounds every floor), as many as cost at most this fraction of a full search's work."""

FULL_SEARCH_WORK = 0.5
"""Above this fraction of a full search's multiply-adds, a full search replaces the update."""

CANCELLED = 1e-12
"""A new dot product within this fraction of the terms it sums (old dot product and change) may be
all rounding (an exact cancellation leaves ~1e-16, where a refit finds 0): it is computed again
from the two new rows."""

BLOCK_ENTRIES = 1 << 22
"""About this many pair entries are processed at once (bounds the update's working memory)."""


@dataclass(frozen=True)
class NeighbourLists:
    """Each row's best neighbours, possibly more than ``k``, and the floor under every other row.

    Attributes
    ----------
    graph : NeighbourGraph
        Up to ``k + slack`` neighbours per row, best first (ties by lower row).
    floors : ndarray of shape (n_rows,), float64
        No row outside a row's list has a similarity above its floor; 0 when the list holds
        every row of positive similarity.
    """

    graph: NeighbourGraph
    floors: FloatArray

    @classmethod
    def of(cls, graph: NeighbourGraph, width: int) -> NeighbourLists:
        """Return the lists of a full search that asked for `width` neighbours per row."""
        count = (graph.indices >= 0).sum(axis=1)
        full = count >= width if width > 0 else np.zeros(len(count), dtype=bool)
        floors = np.zeros(len(count))
        if full.any():  # a row holds `width` neighbours: the graph is at least that wide
            floors[full] = graph.scores[full, width - 1]
        return cls(graph, floors)

    def served(self, k: int) -> NeighbourGraph:
        """Return the ``k`` best neighbours of each row (the graph rankers use)."""
        if self.graph.indices.shape[1] <= k:
            return self.graph
        indices = np.ascontiguousarray(self.graph.indices[:, :k])
        return NeighbourGraph(indices, np.ascontiguousarray(self.graph.scores[:, :k]), self.graph.n_targets)


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
    listed_keys, listed_scores, old_floors = _listed_pairs(lists, old_rows, row_map)
    context = _Context(
        lists,
        old_rows,
        row_map,
        is_new,
        old_lengths,
        new_lengths,
        ratio,
        growth_bound,
        shrunk,
        listed_keys,
        listed_scores,
        old_floors,
        new_x,
    )
    if resolve_engine(engine) == "numba":
        block = context.compiled(change, change_t, new_x, new_x_t, old_x, shrunk_t, k, width)
    else:
        block = _concatenated(
            context.block(
                start, stop, *_block_products(change, new_x, new_x_t, old_x, change_t, shrunk_t, start, stop), width
            )
            for start, stop in _blocks(lists.graph.indices.shape[1], new_x, change, n_new)
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


def _block_products(
    change: sp.csr_array,
    new_x: sp.csr_array,
    new_x_t: sp.csr_array,
    old_x: sp.csr_array,
    change_t: sp.csr_array,
    shrunk_t: sp.csr_array | None,
    start: int,
    stop: int,
) -> tuple[sp.csr_array, sp.csr_array | None]:
    """Return rows ``start:stop`` of the dot products' change and of the exact products with the shrunk rows."""
    delta = sp.csr_array(change[start:stop] @ new_x_t + old_x[start:stop] @ change_t)
    delta.sum_duplicates()  # canonical: the pair keys are searched in sorted order
    exact_shrunk = None if shrunk_t is None else sp.csr_array(new_x[start:stop] @ shrunk_t)
    return delta, exact_shrunk


def _concatenated(blocks: Iterator[_Block]) -> _Block:
    """Return consecutive blocks of rows as one."""
    parts = list(blocks)
    return _Block(
        *(np.concatenate([getattr(b, name) for b in parts]) for name in ("indices", "scores", "floors", "counts"))
    )


@dataclass(frozen=True)
class _Block:
    """A block of rows' new lists (best first), their floors and how many entries are certain."""

    indices: IntArray
    scores: FloatArray
    floors: FloatArray
    counts: IntArray


@dataclass(frozen=True)
class _Context:
    """What every block needs: the old lists and lengths, the new lengths and the bounds."""

    lists: NeighbourLists
    old_rows: IntArray
    row_map: IntArray
    is_new: np.ndarray
    old_lengths: FloatArray
    new_lengths: FloatArray
    ratio: FloatArray
    growth_bound: float
    shrunk: IntArray
    listed_keys: IntArray
    listed_scores: FloatArray
    old_floors: FloatArray
    new_x: sp.csr_array

    def block(
        self, start: int, stop: int, delta: sp.csr_array, exact_shrunk: sp.csr_array | None, width: int
    ) -> _Block:
        """Return the new lists of rows ``start:stop`` (see the module's description)."""
        n = len(self.old_rows)
        rows = np.arange(start, stop)
        old = self.old_rows[rows]
        has_old = old >= 0
        floor_old = np.zeros(len(rows))
        floor_old[has_old] = self.lists.floors[old[has_old]]
        # listed neighbours: d_ij known from the old similarity
        listed = np.where(has_old[:, None], self.lists.graph.indices[np.maximum(old, 0)], -1)
        listed_scores = np.asarray(self.lists.graph.scores[np.maximum(old, 0)], dtype=np.float64)
        present = listed >= 0
        target = np.where(present, self.row_map[np.maximum(listed, 0)], -1)
        present &= target >= 0
        li, lj = np.nonzero(present)
        lj_rows = target[li, lj]
        l_dot = listed_scores[li, lj] * self.old_lengths[rows[li]] * self.old_lengths[lj_rows]
        list_keys = rows[li] * n + lj_rows
        d_rows = np.repeat(rows, np.diff(delta.indptr))
        d_cols, d_vals = delta.indices.astype(np.int64), delta.data
        off_diagonal = d_cols != d_rows
        d_rows, d_cols, d_vals = d_rows[off_diagonal], d_cols[off_diagonal], d_vals[off_diagonal]
        d_keys = d_rows * n + d_cols  # sorted: CSR rows in order, canonical columns
        at = np.minimum(np.searchsorted(d_keys, list_keys), max(len(d_keys) - 1, 0))
        hit = (d_keys[at] == list_keys) if len(d_keys) else np.zeros(len(list_keys), dtype=bool)
        l_change = np.where(hit, d_vals[at] if len(d_vals) else 0.0, 0.0)
        l_dot = self._exact_if_cancelled(l_dot, l_change, rows[li], lj_rows)
        listed_pair = np.zeros(len(d_keys), dtype=bool)
        listed_pair[at[hit]] = True
        # unlisted pairs whose dot product changed: exact with a new row, bounded otherwise
        in_shrunk = np.isin(d_cols, self.shrunk) if len(self.shrunk) else np.zeros(len(d_cols), dtype=bool)
        exact = (self.is_new[d_rows] | self.is_new[d_cols]) & ~listed_pair & ~in_shrunk  # shrunk: all exact below
        unlisted = ~listed_pair & ~exact & ~in_shrunk
        # the measure is symmetric: a pair row i does not list may be in row j's list, and is
        # otherwise below both rows' floors
        mirrored = d_cols[unlisted] * n + d_rows[unlisted]
        where = np.minimum(np.searchsorted(self.listed_keys, mirrored), max(len(self.listed_keys) - 1, 0))
        found = (self.listed_keys[where] == mirrored) if len(self.listed_keys) else np.zeros(len(mirrored), bool)
        known = np.flatnonzero(unlisted)[found]
        known_old = self.listed_scores[where[found]] * self.old_lengths[d_rows[known]] * self.old_lengths[d_cols[known]]
        known_dot = self._exact_if_cancelled(known_old, d_vals[known], d_rows[known], d_cols[known])
        bounded = np.flatnonzero(unlisted)[~found]
        local = d_rows - start
        below = np.minimum(floor_old[local[bounded]], self.old_floors[d_cols[bounded]])
        bound_dot = below * self.old_lengths[d_rows[bounded]] * self.old_lengths[d_cols[bounded]]
        bound = self._similarity(bound_dot + d_vals[bounded], d_rows[bounded], d_cols[bounded])
        floors = np.maximum(floor_old, 0.0) * self.ratio[rows] * self.growth_bound
        floors[~has_old] = 0.0  # a new row's old dot products are all 0: nothing unknown
        np.maximum.at(floors, local[bounded], bound)
        parts_rows = [rows[li], d_rows[exact], d_rows[known]]
        parts_cols = [lj_rows, d_cols[exact], d_cols[known]]
        parts_dots = [l_dot, d_vals[exact], known_dot]
        if exact_shrunk is not None:
            s_rows = np.repeat(rows, np.diff(exact_shrunk.indptr))
            s_cols = self.shrunk[exact_shrunk.indices]
            keep = (s_cols != s_rows) & ~np.isin(s_rows * n + s_cols, list_keys)
            parts_rows.append(s_rows[keep])
            parts_cols.append(s_cols[keep])
            parts_dots.append(exact_shrunk.data[keep])
        c_rows, c_cols = np.concatenate(parts_rows), np.concatenate(parts_cols)
        c_sims = self._similarity(np.concatenate(parts_dots), c_rows, c_cols)
        certain = c_sims > floors[c_rows - start]
        top, top_scores = top_n_entries(c_rows[certain] - start, c_cols[certain], c_sims[certain], len(rows), width + 1)
        counts = (top >= 0).sum(axis=1)
        over = counts > width  # more certain neighbours than kept: the first one left out bounds the rest
        if width:
            floors[over] = np.maximum(floors[over], top_scores[over, width])
        top, top_scores = top[:, :width], np.nan_to_num(top_scores[:, :width], nan=0.0)
        return _Block(top, top_scores, floors, np.minimum(counts, width))

    def compiled(
        self,
        change: sp.csr_array,
        change_t: sp.csr_array,
        new_x: sp.csr_array,
        new_x_t: sp.csr_array,
        old_x: sp.csr_array,
        shrunk_t: sp.csr_array | None,
        k: int,
        width: int,
    ) -> _Block:
        """Return every row's new list with the compiled kernel (the same as :meth:`block` on all rows)."""
        from recframe.engine._compiled.delta import delta_lists

        n = len(self.old_rows)
        has_old = self.old_rows >= 0
        old_lists = self.lists.graph.indices[np.maximum(self.old_rows, 0)]
        mapped = np.where(has_old[:, None] & (old_lists >= 0), self.row_map[np.maximum(old_lists, 0)], -1)
        scores = np.where(mapped >= 0, self.lists.graph.scores[np.maximum(self.old_rows, 0)], 0.0)
        shrunk = np.zeros(n, dtype=bool)
        shrunk[self.shrunk] = True
        if shrunk_t is None:
            shrunk_rows = sp.csr_array((0, n))
        else:  # the kernel takes the shrunk rows by their own positions
            shrunk_rows = sp.csr_array(
                (shrunk_t.data, self.shrunk[shrunk_t.indices], shrunk_t.indptr), shape=(shrunk_t.shape[0], n)
            )
        matrices = [change, change_t, new_x, new_x_t, old_x, shrunk_rows]
        listed = np.flatnonzero(mapped.ravel() >= 0)
        listers = sp.csr_array(  # row i: the rows that list it, with their scores
            (scores.ravel()[listed], (mapped.ravel()[listed], listed // max(mapped.shape[1], 1))), shape=(n, n)
        )
        matrices.append(listers)
        index_type = np.int32 if max(max(m.shape) for m in matrices) < np.iinfo(np.int32).max else np.int64
        arrays: list[Any] = [array for m in matrices for array in _kernel_csr(m, index_type)]
        out_j = np.full((n, width), -1, dtype=np.int64)
        out_v = np.zeros((n, width))
        out_floor = np.zeros(n)
        out_count = np.zeros(n, dtype=np.int64)
        kernel: Any = delta_lists
        with numba_threads(None) as threads:
            kernel(
                *arrays,
                np.ascontiguousarray(mapped, dtype=np.int64),
                np.ascontiguousarray(scores, dtype=np.float64),
                self.old_floors,
                self.old_lengths,
                self.new_lengths,
                self.ratio,
                self.is_new,
                shrunk,
                self.growth_bound,
                CANCELLED,
                k,
                width,
                max(1, min(n, 8 * threads)),
                out_j,
                out_v,
                out_floor,
                out_count,
            )
        return _Block(out_j, out_v, out_floor, out_count)

    def _exact_if_cancelled(self, old: FloatArray, change: FloatArray, rows: IntArray, cols: IntArray) -> FloatArray:
        """Return ``old + change``, computed again from the new rows where it is the rounding of a cancellation."""
        dots = old + change
        cancelled = np.flatnonzero(np.abs(dots) <= CANCELLED * (np.abs(old) + np.abs(change)))
        if len(cancelled):
            pairs = self.new_x[rows[cancelled]].multiply(self.new_x[cols[cancelled]])
            dots[cancelled] = np.asarray(pairs.sum(axis=1)).ravel()
        return dots

    def _similarity(self, dots: FloatArray, rows: IntArray, cols: IntArray) -> FloatArray:
        """Return the new similarities of pairs from their new dot products."""
        lengths = self.new_lengths[rows] * self.new_lengths[cols]
        return np.divide(dots, lengths, out=np.zeros(len(dots)), where=lengths > 0)


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


def _listed_pairs(
    lists: NeighbourLists, old_rows: IntArray, row_map: IntArray
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return every old listed pair as sorted keys ``row * n + neighbour`` (new positions), its score, and the floors.

    The floors are those of the new row positions (0 for a new row, which lists nothing).
    """
    n = len(old_rows)
    rows = np.flatnonzero(old_rows >= 0)
    neighbours = lists.graph.indices[old_rows[rows]]
    present = neighbours >= 0
    mapped = np.where(present, row_map[np.maximum(neighbours, 0)], -1)
    present &= mapped >= 0
    owner = np.broadcast_to(rows[:, None], neighbours.shape)[present]
    keys = owner * n + mapped[present]
    order = np.argsort(keys, kind="stable")
    scores = np.asarray(lists.graph.scores[old_rows[rows]], dtype=np.float64)[present]
    floors = np.zeros(n)
    floors[rows] = lists.floors[old_rows[rows]]
    return keys[order], scores[order], floors


def _transposed(x: sp.csr_array, given: sp.csr_array | None) -> sp.csr_array:
    """Return the transpose of `x`: `given` (the transpose of `x` without the gone columns) extended by them."""
    if given is None or given.shape[1] != x.shape[0] or given.shape[0] > x.shape[1]:
        return sp.csr_array(x.T)
    extra = x.shape[1] - given.shape[0]  # gone columns: no entries left
    indptr = np.r_[given.indptr, np.full(extra, given.indptr[-1], dtype=given.indptr.dtype)]
    return sp.csr_array((given.data, given.indices, indptr), shape=(x.shape[1], x.shape[0]))


def _kernel_csr(matrix: sp.csr_array, index_type: type[np.integer]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a CSR matrix's arrays as the kernel takes them: int64 offsets, `index_type` indices, float64 values.

    One index type for every matrix of a call keeps the kernel to one compiled version per type.
    """
    return (
        np.asarray(matrix.indptr, dtype=np.int64),
        np.asarray(matrix.indices, dtype=index_type),
        np.asarray(matrix.data, dtype=np.float64),
    )


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


def _blocks(list_width: int, new_x: sp.csr_array, change: sp.csr_array, n_rows: int) -> list[tuple[int, int]]:
    """Return row ranges whose pairs (listed, and changed dot products) fit in about :data:`BLOCK_ENTRIES`."""
    change_t = np.bincount(change.indices, minlength=new_x.shape[1])
    # a row's changed dot products: its entries times the changes in their columns, plus its own changes
    work = np.zeros(n_rows)
    lengths = np.diff(new_x.indptr)
    owners = np.repeat(np.arange(n_rows), lengths)
    np.add.at(work, owners, change_t[new_x.indices])
    column_degree = np.bincount(new_x.indices, minlength=new_x.shape[1])
    change_rows = np.repeat(np.arange(n_rows), np.diff(change.indptr))
    np.add.at(work, change_rows, column_degree[change.indices])
    work += list_width + 1
    bounds = np.searchsorted(np.cumsum(work), np.arange(1, int(work.sum() // BLOCK_ENTRIES) + 2) * BLOCK_ENTRIES)
    edges = np.unique(np.r_[0, np.minimum(bounds + 1, n_rows), n_rows])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges.tolist()) if b > a]
