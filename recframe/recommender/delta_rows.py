"""The per-row work of the dot-product update: every row's new list, floor and certain count.

:func:`~recframe.recommender.graph_delta.update_lists` prepares the changed and unchanged rows
and hands them to a :class:`RowWork`, which rates every row's candidates (see the description
in :mod:`recframe.recommender.graph_delta`): with the compiled kernel
(:mod:`recframe.engine._compiled.delta`), which also resolves the highest bounds exactly, or in
blocks of scipy products bounded by :data:`BLOCK_ENTRIES` entries.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine import numba_threads, top_n_entries, transpose
from recframe.engine.kernel_inputs import read_only_view
from recframe.engine.measures import DOT_GRID
from recframe.engine.slices import run_in_slices
from recframe.recommender.entry_passes import compiled_pass

if TYPE_CHECKING:
    from recframe.recommender.neighbour_lists import NeighbourLists

CANCELLED = 1e-6
"""A new dot product within this fraction of the terms it sums (old dot product and change) is
computed again from the two new rows. The sum's rounding is about 1.1e-16 of its terms, so a dot
product above this fraction of them is within 1.1e-10 of itself, and its similarity within
1e-9 of a refit's, as promised; an exact cancellation leaves ~1e-16 where a refit finds 0. At
1e-12 (before) a replaced rating that had dominated a pair's dot product (10^10 among ratings
near 1) left a similarity 5.3e-8 off."""

BLOCK_ENTRIES = 1 << 22
"""About this many pair entries are processed at once (bounds the update's working memory)."""


def block_products(
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


def concatenated(blocks: Iterator[RowBlock]) -> RowBlock:
    """Return consecutive blocks of rows as one."""
    parts = list(blocks)
    names = ("indices", "scores", "floors", "counts", "suspects", "suspect_bounds")
    return RowBlock(*(np.concatenate([getattr(b, name) for b in parts]) for name in names))


@dataclass(frozen=True)
class RowBlock:
    """A block of rows' new lists (best first), their floors, the lists' lengths (``counts``), and their suspects.

    Every entry is above its row's floor, and the first ``k`` are certain (every suspect lies
    below them); ``suspects`` and ``suspect_bounds`` may have no columns (the scipy blocks keep none).
    """

    indices: IntArray
    scores: FloatArray
    floors: FloatArray
    counts: IntArray
    suspects: IntArray
    suspect_bounds: FloatArray


@dataclass(frozen=True)
class RowWork:
    """What every row needs: the old lists, lengths and floors (by new row), the new lengths, the bounds.

    ``listed`` holds each new row's old neighbours as new positions (``-1`` where none, or gone)
    and ``listed_scores`` their old similarities (see :func:`lists_in_new_rows`); ``suspects``
    and ``suspect_bounds`` the old suspects the same way, and ``suspect_width`` how many the
    new lists keep. The scipy blocks take none: their caller folds them into the floors.
    """

    listed: IntArray
    listed_scores: FloatArray
    old_floors: FloatArray
    is_new: np.ndarray
    old_lengths: FloatArray
    new_lengths: FloatArray
    ratio: FloatArray
    growth_bound: float
    shrunk: IntArray
    new_x: sp.csr_array
    suspects: IntArray
    suspect_bounds: FloatArray
    suspect_width: int
    threads: int | None = None
    """Threads of the compiled passes and kernel (the similarity's ``threads``; ``None``: all cores)."""

    @cached_property
    def _sorted_pairs(self) -> tuple[IntArray, FloatArray]:
        """Return every listed pair as sorted keys ``row * n + neighbour`` and its old similarity (for lookups)."""
        n = len(self.listed)
        present = self.listed >= 0
        keys = np.broadcast_to(np.arange(n)[:, None], self.listed.shape)[present] * n + self.listed[present]
        order = np.argsort(keys, kind="stable")
        return keys[order], self.listed_scores[present][order]

    def block(
        self, start: int, stop: int, delta: sp.csr_array, exact_shrunk: sp.csr_array | None, width: int
    ) -> RowBlock:
        """Return the new lists of rows ``start:stop`` (see the module's description)."""
        n = len(self.listed)
        rows = np.arange(start, stop)
        floor_old = self.old_floors[rows]
        # listed neighbours: d_ij known from the old similarity
        listed = self.listed[start:stop]
        li, lj = np.nonzero(listed >= 0)
        lj_rows = listed[li, lj]
        old_lengths = self.old_lengths
        l_dot = recovered_dots(self.listed_scores[start:stop][li, lj], old_lengths[rows[li]], old_lengths[lj_rows])
        list_keys = rows[li] * n + lj_rows
        d_rows = np.repeat(rows, np.diff(delta.indptr))
        d_cols, d_vals = delta.indices.astype(np.int64), delta.data
        off_diagonal = d_cols != d_rows
        d_rows, d_cols, d_vals = d_rows[off_diagonal], d_cols[off_diagonal], d_vals[off_diagonal]
        d_keys = d_rows * n + d_cols  # sorted: CSR rows in order, canonical columns
        at = np.minimum(np.searchsorted(d_keys, list_keys), max(len(d_keys) - 1, 0))
        hit = (d_keys[at] == list_keys) if len(d_keys) else np.zeros(len(list_keys), dtype=bool)
        l_change = np.where(hit, d_vals[at] if len(d_vals) else 0.0, 0.0)
        l_dot = self._exact_where_rounded(l_dot, l_change, rows[li], lj_rows)
        listed_pair = np.zeros(len(d_keys), dtype=bool)
        listed_pair[at[hit]] = True
        # unlisted pairs whose dot product changed: exact with a new row, bounded otherwise
        in_shrunk = np.isin(d_cols, self.shrunk) if len(self.shrunk) else np.zeros(len(d_cols), dtype=bool)
        exact = (self.is_new[d_rows] | self.is_new[d_cols]) & ~listed_pair & ~in_shrunk  # shrunk: all exact below
        unlisted = ~listed_pair & ~exact & ~in_shrunk
        # the measure is symmetric: a pair row i does not list may be in row j's list, and is
        # otherwise below both rows' floors
        listed_keys, listed_scores = self._sorted_pairs
        mirrored = d_cols[unlisted] * n + d_rows[unlisted]
        where = np.minimum(np.searchsorted(listed_keys, mirrored), max(len(listed_keys) - 1, 0))
        found = (listed_keys[where] == mirrored) if len(listed_keys) else np.zeros(len(mirrored), bool)
        known = np.flatnonzero(unlisted)[found]
        known_old = recovered_dots(listed_scores[where[found]], old_lengths[d_rows[known]], old_lengths[d_cols[known]])
        known_dot = self._exact_where_rounded(known_old, d_vals[known], d_rows[known], d_cols[known])
        bounded = np.flatnonzero(unlisted)[~found]
        local = d_rows - start
        below = np.minimum(floor_old[local[bounded]], self.old_floors[d_cols[bounded]])
        bound_dot = below * self.old_lengths[d_rows[bounded]] * self.old_lengths[d_cols[bounded]]
        bound = self._similarity(bound_dot + d_vals[bounded], d_rows[bounded], d_cols[bounded])
        floors = np.maximum(floor_old, 0.0) * self.ratio[rows] * self.growth_bound
        floors[self.is_new[rows]] = 0.0  # a new row's old dot products are all 0: nothing unknown
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
        none = np.empty((len(rows), 0), dtype=np.int64)
        return RowBlock(top, top_scores, floors, np.minimum(counts, width), none, none.astype(np.float64))

    def compiled(
        self,
        change: sp.csr_array,
        change_t: sp.csr_array,
        new_x: sp.csr_array,
        new_x_t: sp.csr_array,
        old_x: sp.csr_array,
        shrunk_t: sp.csr_array | None,
        shrunk_reach: sp.csr_array,
        k: int,
        width: int,
    ) -> RowBlock:
        """Return every row's new list with the compiled kernel (the same as :meth:`block` on all rows).

        `old_x` may hold only the old entries in columns the change touches, and `shrunk_reach`
        only the new entries in columns of the shrunk rows: the others add nothing to the products.
        """
        from recframe.engine._compiled.delta import delta_lists
        from recframe.engine._compiled.delta_steps import KIND, NEW, NEW_LENGTH, OLD_FLOOR, OLD_LENGTH, SHRUNK

        n = len(self.listed)
        mapped, scores = self.listed, self.listed_scores
        row_info = np.zeros((n, 4))  # what the kernel reads of a row, side by side
        row_info[:, OLD_LENGTH], row_info[:, NEW_LENGTH] = self.old_lengths, self.new_lengths
        row_info[:, OLD_FLOOR] = self.old_floors
        row_info[self.is_new, KIND] = NEW
        row_info[self.shrunk, KIND] = SHRUNK
        if shrunk_t is None:
            shrunk_rows = sp.csr_array((0, n))
        else:  # the kernel takes the shrunk rows by their own positions
            shrunk_rows = sp.csr_array(
                (shrunk_t.data, self.shrunk[shrunk_t.indices], shrunk_t.indptr), shape=(shrunk_t.shape[0], n)
            )
        matrices = [change, change_t, new_x, new_x_t, old_x, shrunk_rows, shrunk_reach]
        # int32 where it fits, as the matrices' own: the transpose then runs the kernel they compiled
        narrow = np.int32 if max(n, mapped.size, self.suspects.size) < np.iinfo(np.int32).max else np.int64
        lists = _packed(mapped, scores, narrow, self.threads)  # row i: its list
        matrices.append(transpose(lists, threads=self.threads))  # row i: the rows that list it, with their scores
        suspecting = _packed(self.suspects, self.suspect_bounds, narrow, self.threads)
        matrices.append(transpose(suspecting, threads=self.threads))  # row i: the rows suspecting it
        index_type = np.int32 if max(max(m.shape) for m in matrices) < np.iinfo(np.int32).max else np.int64
        arrays: list[Any] = [array for m in matrices for array in _kernel_csr(m, index_type)]
        # every entry written by the kernel (padding too, on its threads): no fill here first
        out_j, out_v = np.empty((n, width), dtype=np.int64), np.empty((n, width))
        out_floor, out_count = np.empty(n), np.empty(n, dtype=np.int64)
        out_suspects = np.empty((n, self.suspect_width), dtype=np.int64)
        out_bounds = np.empty((n, self.suspect_width))
        positive = self.new_lengths[self.new_lengths > 0]  # what every slice needs of all rows
        low_length, high_length = (positive.min(), positive.max()) if positive.size else (np.inf, 0.0)
        longest = int(np.diff(old_x.indptr).max(initial=0))  # room for the rows of D^T a row of X reaches
        arguments = (
            *arrays,
            mapped,
            scores,
            self.suspects,
            self.suspect_bounds,
            row_info,
            self.ratio,
            self.growth_bound,
            CANCELLED,
            float(low_length),
            float(high_length),
            longest,
            k,
            width,
            out_j,
            out_v,
            out_floor,
            out_count,
            out_suspects,
            out_bounds,
        )
        run_in_slices(delta_lists, arguments, n, self.threads, "updating neighbour lists", largest=None)
        return RowBlock(out_j, out_v, out_floor, out_count, out_suspects, out_bounds)

    @cached_property
    def _is_shrunk(self) -> np.ndarray:
        """Return whether each row is one of the shrunk ones whose similarities are computed exactly."""
        marks = np.zeros(len(self.listed), dtype=bool)
        marks[self.shrunk] = True
        return marks

    def _exact_where_rounded(self, old: FloatArray, change: FloatArray, rows: IntArray, cols: IntArray) -> FloatArray:
        """Return ``old + change``, computed again from the new rows where it may be rounding.

        That is where it is the rounding of a cancellation, or a pair with one of the most shrunk
        rows (the change's terms are as large as its old length).
        """
        dots = old + change
        shrunk = self._is_shrunk[rows] | self._is_shrunk[cols]
        again = np.flatnonzero(shrunk | (np.abs(dots) <= CANCELLED * (np.abs(old) + np.abs(change))))
        if len(again):
            pairs = self.new_x[rows[again]].multiply(self.new_x[cols[again]])
            dots[again] = np.asarray(pairs.sum(axis=1)).ravel()
        return dots

    def _similarity(self, dots: FloatArray, rows: IntArray, cols: IntArray) -> FloatArray:
        """Return the new similarities of pairs from their new dot products."""
        inverse = np.divide(1.0, self.new_lengths, out=np.zeros(len(self.new_lengths)), where=self.new_lengths > 0)
        similarities: FloatArray = dots * (inverse[rows] * inverse[cols])  # as a fit: the sum times both inverses
        return similarities


def recovered_dots(scores: FloatArray, lengths_i: FloatArray, lengths_j: FloatArray) -> FloatArray:
    """Return the dot products pairs' similarities `scores` were computed from, given the rows' lengths then.

    The vectorised :func:`~recframe.engine._compiled.delta_steps._recovered_dot`: the nearest
    multiple of ``1 / DOT_GRID`` where the fit's formula gives the very similarity back from it
    (the exact dot product on data of whole numbers, halves, ... sixteenths), else the product.
    """
    dots = scores * lengths_i * lengths_j
    with np.errstate(divide="ignore", invalid="ignore"):
        grid = np.rint(dots * DOT_GRID) / DOT_GRID
        same = (lengths_i > 0) & (lengths_j > 0) & (grid * ((1.0 / lengths_i) * (1.0 / lengths_j)) == scores)
    return np.where(same, grid, dots)


def lists_in_new_rows(
    lists: NeighbourLists, old_rows: IntArray, row_map: IntArray, threads: int | None = None
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return the old lists by new row: neighbours as new positions, their old similarities, and the floors.

    `old_rows` is the old position of each new row (``-1`` for a new row, which lists nothing and
    has floor 0); a neighbour that is gone becomes ``-1`` (score 0). Where every row keeps its
    place (no row added or removed: the items' rows of a forget of users, say), they are the
    lists' own arrays (not to be changed). `threads`: of the compiled pass (``None``: all cores).
    """
    return rows_in_new_rows(lists.graph.indices, lists.graph.scores, lists.floors, old_rows, row_map, threads)


def rows_in_new_rows(
    indices: IntArray,
    values: FloatArray,
    floors: FloatArray,
    old_rows: IntArray,
    row_map: IntArray,
    threads: int | None = None,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """Return ``rows x width`` rows and values (``-1``: none) by new row, as :func:`lists_in_new_rows` does."""
    if _same_rows(indices, values, old_rows, row_map):
        return indices, values, floors
    if compiled_pass(indices.size):  # one pass over the lists, not six
        from recframe.engine._compiled.old_lists import lists_by_new_row

        shape = (len(old_rows), indices.shape[1])
        listed, scores, new_floors = np.empty(shape, dtype=np.int64), np.empty(shape), np.empty(len(old_rows))
        n_old = indices.shape[0]
        # the kernel reads without bounds checks: the rows and neighbours it follows must exist
        beyond = (old_rows.size and old_rows.max() >= n_old) or (indices.size and indices.max() >= n_old)
        if len(row_map) != n_old or beyond:
            msg = f"old rows or neighbours outside the {n_old} rows of the old lists"
            raise IndexError(msg)
        arrays = (indices, values, floors, old_rows, row_map)
        kernel: Any = lists_by_new_row
        with numba_threads(threads):
            kernel(*(read_only_view(np.ascontiguousarray(a)) for a in arrays), listed, scores, new_floors)
        return listed, scores, new_floors
    has_old = old_rows >= 0
    source = np.maximum(old_rows, 0)
    neighbours = indices[source]
    present = has_old[:, None] & (neighbours >= 0)
    listed = np.where(present, row_map[np.maximum(neighbours, 0)], -1).astype(np.int64)
    scores = np.where(listed >= 0, np.asarray(values[source], dtype=np.float64), 0.0)
    return listed, scores, np.where(has_old, floors[source], 0.0)


def _same_rows(indices: IntArray, scores: FloatArray, old_rows: IntArray, row_map: IntArray) -> bool:
    """Return whether every row and neighbour keeps its place, the lists' arrays being what the kernel takes.

    What the kernel takes: C-ordered, writable (as the renumbered lists are; a read-only array
    would compile another version), int64 neighbours and float64 scores, every neighbour a row.
    The floors go into the kernel's table of rows, copied, whatever their type.
    """
    n = len(row_map)
    arrays_fit = (
        indices.dtype == np.int64
        and scores.dtype == np.float64
        and all(a.flags.c_contiguous and a.flags.writeable for a in (indices, scores))
    )
    return bool(
        arrays_fit
        and indices.shape[0] == n == len(old_rows)
        and np.array_equal(row_map, np.arange(n))
        and np.array_equal(old_rows, row_map)
        and (indices.size == 0 or int(indices.max()) < n)
    )


def _packed(rows: IntArray, scores: FloatArray, index_type: type[np.integer], threads: int | None) -> sp.csr_array:
    """Return ``rows x width`` lists (``-1``: none) as a square CSR matrix: row ``i`` holds its list and scores."""
    from recframe.engine._compiled.old_lists import packed_lists

    n = len(rows)
    offsets = np.zeros(n + 1, dtype=index_type)
    np.cumsum(np.count_nonzero(rows >= 0, axis=1), out=offsets[1:])
    packed_j, packed_v = np.empty(int(offsets[-1]), dtype=index_type), np.empty(int(offsets[-1]))
    with numba_threads(threads):
        packed_lists(read_only_view(rows), read_only_view(scores), read_only_view(offsets), packed_j, packed_v)
    return sp.csr_array((packed_v, packed_j, offsets), shape=(n, n))


def _kernel_csr(matrix: sp.csr_array, index_type: type[np.integer]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return a CSR matrix's arrays as the kernel takes them: int64 offsets, `index_type` indices, float64 values.

    One index type for every matrix of a call, every array read-only (numba compiles a version
    per mix of writable and read-only arrays), keep the kernel to one compiled version per type.
    """
    return (
        read_only_view(np.asarray(matrix.indptr, dtype=np.int64)),
        read_only_view(np.asarray(matrix.indices, dtype=index_type)),
        read_only_view(np.asarray(matrix.data, dtype=np.float64)),
    )


def row_blocks(list_width: int, new_x: sp.csr_array, change: sp.csr_array, n_rows: int) -> list[tuple[int, int]]:
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
