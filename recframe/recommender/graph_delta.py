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
  ``G`` the largest length ratio of the other rows;
* a *suspect* ``j`` of row ``i`` (or ``i`` of row ``j``), kept by an earlier update with a bound
  ``b_ij`` on its similarity: ``b_ij`` replaces the floor in those bounds, for this pair alone.

The bounds at or above the row's ``k``-th exact similarity are replaced by exact dot products,
where that costs at most half a new search of the row. Of the bounds left, the highest ``C`` (as
many as the neighbours a row keeps) stay the row's suspects, and the next one becomes its new
floor: keeping them, rather than raising the floor to the highest, keeps the floor low for every
other pair, so that the next update finds the row settled again. The exact values above the
floor are the row's new list; those above every suspect's bound are certainly the best. A row
with fewer than ``k`` certain values (and a positive floor or a suspect) is searched again in
full. The result is what a full search gives, up to exact ties at the ``k``-th place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray, index_dtype, pair_order
from recframe.engine import Engine, resolve_engine, transpose
from recframe.interfaces import CellChanges, NeighbourGraph
from recframe.recommender.delta_rows import (
    RowWork,
    block_products,
    concatenated,
    lists_in_new_rows,
    row_blocks,
    rows_in_new_rows,
)
from recframe.recommender.dot_rounding import dot_rounding
from recframe.recommender.entry_passes import in_columns, renumbered, row_lengths
from recframe.recommender.neighbour_lists import NeighbourLists, Suspects

DeltaMeasure = Literal["cosine", "dot"]
"""The measures whose similarities follow from each pair's dot product and the rows' lengths."""

SHRUNK_WORK = 0.005
"""The rows whose length shrank most get exact similarities to every row (the largest shrinking
left bounds every floor), as many as cost at most this fraction of a full search's work (a
forget's cost target is 5% of a fit: on ML-20M, 0.5% already leaves no row to search again)."""

SHRUNK_RATIO = 1.02
"""Only rows whose length shrank by more than this factor get exact similarities: a smaller
shrinking raises every floor by at most as much, which costs a row a few listed neighbours,
where the exact similarities cost their full budget. Forgetting 100 users of ML-20M shrinks
no row by more than 1.5%: its 0.5% of a search's work bought a median of 97 listed neighbours
instead of 94 (of 100, for k = 50) and took 0.12-0.24 s of a forget of about 1 s."""

SHRUNK_EXACT = 100.0
"""Rows whose length shrank by more than this factor get exact similarities to every row whatever
they cost. An updated dot product sums the change's terms, each at most a change's length times
a row's length (Cauchy-Schwarz): for rows shrunk by factors a and b their rounding leaves a
similarity off by about 2 (a + 1)(b + 1) of the sum's rounding (1e-16 a term), far inside the
promised 1e-9 up to this factor. A rating 10^15 times its item's others, replaced, left one 27%
off. No real forget comes near it (100 users of ML-20M shrink no row by 1.5%)."""

SHRUNK_BATCH = 256
"""The first batch of shrunk rows whose costs :func:`_most_shrunk` sums (the next ones grow fourfold)."""

FULL_SEARCH_WORK = 0.5
"""Above this fraction of a full search's multiply-adds, a full search replaces the update."""

COSINE_ROUNDING = 8 * float(np.finfo(np.float64).eps)
"""The least floor of a cosine row (1.8e-15): a backend that computes cosine as one minus a
distance (scikit-learn's) rounds it to about 1e-16 of 1, so a pair it reports as 0, the next
after a row's list, may be 1e-41, and an update that shrinks both rows' lengths 10^40-fold makes
it 1: a floor of 0 stays 0 however the lengths shrink, where this one grows with them, so such
rows are searched again. Far below any real floor (ML-20M's are 0.1-0.3 at k = 50)."""

NORMAL_LENGTHS = (1e-145, 1e145)
"""The row lengths between which an update's products of a similarity and two lengths (the old
dot products it adds the change to, its bounds) are normal numbers, rounded relatively as a
refit's similarities are. Beyond them (values near 1e-150, or 1e150, which a fit still measures)
such a product may leave that range: two lengths near 1e154 multiply to infinity, two near
1e-154 keep few bits. The rows are then searched again in full, as exact as a fit. A precaution:
the random cases that showed errors on such data were all rows shrunk far (:data:`SHRUNK_EXACT`)."""


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
    cells: CellChanges | None = None,
    old_t: sp.csr_array | None = None,
    suspects_kept: int | None = None,
    threads: int | None = None,
) -> DeltaUpdate | str:
    """Return the neighbour lists of the `new` rows, from the old lists and the change of the rows.

    Returns the reason instead when the change is so large that a full search costs less
    (more than :data:`FULL_SEARCH_WORK` of its multiply-adds), or when the change of `dot`
    similarities would carry rounding that could show (:mod:`~recframe.recommender.dot_rounding`).

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
    new_t, old_t : csr_array, optional
        The transposes of `new` and `old`, where the caller has them (the matrix's other
        orientation): the old entries in the few columns a forget changes are then read from
        `old_t`'s rows instead of a pass over every entry.
    cells : CellChanges, optional
        The entries that changed, in the rows' orientation, where the matrix builder reported
        them: the change and the columns' entry counts are then taken from them rather than
        from a comparison of every entry.
    suspects_kept : int, optional
        How many suspects a row keeps (see :class:`NeighbourLists`), with the compiled kernel:
        as many as the neighbours it keeps (`width`) by default, 0 to fold every unresolved bound
        into the floor. On the ML-20M shape (``k = 50``, slack 50), five 1% adds in a row took a
        median of 2.11 s after the first with 50, 1.87 s with 100 and 1.76 s with 150; the
        first add's kernel took 0.57 s with none, 0.68 s with 50 and 0.72 s with 100.
    threads : int, optional
        Threads of the compiled passes and kernel (the similarity's ``threads``); all cores by default.
    """
    n_new = new.shape[0]
    width = min(width, max(n_new - 1, 0))
    k = min(k, width)
    # without cells the old rows are compared with the new ones, over the union of their columns;
    # with them, the old rows keep their own columns (no pass renumbering every entry)
    old_x, new_x, positions, old_positions = _common_columns(old, new, row_map, column_map, union_old=cells is None)
    if cells is None:
        change = sp.csr_array(new_x - old_x)
        change.eliminate_zeros()
        new_degree = np.bincount(new_x.indices, minlength=new_x.shape[1]).astype(np.float64)
        old_degree = np.bincount(old_x.indices, minlength=new_x.shape[1]).astype(np.float64)
    if cells is not None:
        change, old_degree, new_degree = _cell_change(cells, new_x, new_t, positions, old_positions)
    if measure == "dot":
        rounding = dot_rounding(old, new, change)
        if rounding is not None:
            return rounding
    work = float((new_degree + old_degree)[change.indices].sum())
    full = float((new_degree**2).sum())
    if work > FULL_SEARCH_WORK * full:
        share = work / max(full, 1.0)
        return f"the changed entries cost {share:.0%} of a full search's work, so one full search costs less"
    old_rows = np.full(n_new, -1, dtype=np.int64)
    kept = np.flatnonzero(row_map >= 0)
    old_rows[row_map[kept]] = kept
    old_lengths, new_lengths = _old_lengths(old, old_rows, measure), _lengths(new, measure)
    beyond = _beyond_normal_lengths(old_lengths, new_lengths)
    if beyond is not None:
        return beyond
    is_new = old_rows < 0
    ratio = np.divide(old_lengths, new_lengths, out=np.ones(n_new), where=new_lengths > 0)
    shrunk, growth_bound = _most_shrunk(ratio, is_new, new_x, new_degree, full)
    new_x_t = _transposed(new_x, new_t, positions)
    change_t = sp.csr_array(change.T)
    shrunk_t = sp.csr_array(new_x[shrunk].T) if len(shrunk) else None
    m = new_x.shape[1]
    # X D^T: the old entries in the changed columns, and D^T's rows by the old rows' columns
    old_columns = np.arange(m) if cells is None else old_positions  # the union column of each of old_x's
    old_rows_t = None
    if old_t is not None and old_t.shape == (len(column_map), len(row_map)):
        old_rows_t = _Transposed(old_t, old_positions if cells is None else np.arange(len(column_map)), row_map)
    reaching = _in_columns(
        old_x, _filled_rows(change_t, m)[old_columns], old_degree[old_columns], old_rows_t, threads
    )
    change_t = change_t if cells is None else sp.csr_array(change_t[old_columns])
    # X' X'_S^T: the new entries in the shrunk rows' columns
    new_rows_t = _Transposed(new_x_t, np.arange(m), None)
    shrunk_reach = _in_columns(new_x, _filled_rows(shrunk_t, m), new_degree, new_rows_t, threads)
    compiled = resolve_engine(engine) == "numba"
    # the scipy blocks keep no suspects: their highest bounds raise the floors instead
    source = lists if compiled else NeighbourLists(lists.graph, lists.folded_floors())
    listed, listed_scores, old_floors = lists_in_new_rows(source, old_rows, row_map, threads)
    if measure == "cosine":  # a copy: the floors may be the lists' own array
        old_floors = np.maximum(old_floors, COSINE_ROUNDING)
    suspects, bounds = _old_suspects(source, old_rows, row_map, threads)
    context = RowWork(
        listed,
        listed_scores,
        old_floors,
        is_new,
        old_lengths,
        new_lengths,
        ratio,
        growth_bound,
        shrunk,
        new_x,
        suspects,
        bounds,
        width if suspects_kept is None else suspects_kept,
        threads,
    )
    if compiled:
        block = context.compiled(change, change_t, new_x, new_x_t, reaching, shrunk_t, shrunk_reach, k, width)
    else:
        block = concatenated(
            context.block(
                start, stop, *block_products(change, new_x, new_x_t, reaching, change_t, shrunk_t, start, stop), width
            )
            for start, stop in row_blocks(lists.graph.indices.shape[1], new_x, change, n_new)
        )
    indices, scores, floors = block.indices, block.scores, block.floors
    suspects, bounds = block.suspects, block.suspect_bounds
    unsuspected = (suspects < 0).all(axis=1)
    again = np.flatnonzero(~((block.counts >= k) | ((floors <= 0) & unsuspected)))
    if len(again) and width:
        redone = NeighbourLists.of(search(again, width + 1), width)  # the next one: the floor
        indices[again] = redone.graph.indices
        scores[again] = redone.graph.scores
        floors[again] = redone.floors
        suspects[again], bounds[again] = -1, 0.0
    graph = NeighbourGraph(indices, scores, n_new)
    suspected = Suspects(suspects, bounds) if suspects.shape[1] else None
    return DeltaUpdate(NeighbourLists(graph, floors, suspected), len(again), n_new - len(again), len(shrunk))


def _old_suspects(
    lists: NeighbourLists, old_rows: IntArray, row_map: IntArray, threads: int | None
) -> tuple[IntArray, FloatArray]:
    """Return the old suspects by new row, as new positions (``-1``: none, or gone), and their bounds."""
    if lists.suspects is None:
        return np.full((len(old_rows), 0), -1, dtype=np.int64), np.zeros((len(old_rows), 0))
    suspected = lists.suspects
    suspects, bounds, _ = rows_in_new_rows(suspected.rows, suspected.bounds, lists.floors, old_rows, row_map, threads)
    return suspects, bounds


def _most_shrunk(
    ratio: FloatArray, is_new: np.ndarray, rows: sp.csr_array, degree: FloatArray, full: float
) -> tuple[IntArray, float]:
    """Return the rows whose length shrank most, as many as :data:`SHRUNK_WORK` affords, and the largest ratio left.

    Only rows shrunk by more than :data:`SHRUNK_RATIO` are worth it. A row's exact similarities
    to every row cost the sum of its columns' degrees. The costs are summed in that order for
    batches of rows growing fourfold, only until the budget is spent: a forget shrinks
    thousands of rows, of which the budget affords a few hundred. Rows shrunk by more than
    :data:`SHRUNK_EXACT` are chosen whatever the budget: their updated dot products would not be exact.
    """
    shrinking = np.flatnonzero(~is_new & (ratio > 1.0))
    if len(shrinking) == 0:
        return shrinking, 1.0
    order = shrinking[np.argsort(-ratio[shrinking], kind="stable")]
    worth = int(np.count_nonzero(ratio[order] > SHRUNK_RATIO))  # a prefix: the order is by ratio
    budget, spent, affordable, size = SHRUNK_WORK * full, 0.0, 0, SHRUNK_BATCH
    while affordable < worth:
        batch = order[affordable : min(affordable + size, worth)]
        # each row's cost (its entries times their columns' degrees), added on to what is spent
        costs = np.cumsum(np.r_[spent, sp.csr_array(rows[batch]) @ degree])[1:]
        within = int(np.searchsorted(costs, budget, side="right"))
        affordable += within
        if within < len(batch):
            break
        spent, size = float(costs[-1]), 4 * size
    affordable = max(affordable, int(np.count_nonzero(ratio[order] > SHRUNK_EXACT)))
    chosen = np.sort(order[:affordable])
    left = float(ratio[order[affordable]]) if affordable < len(order) else 1.0
    return chosen, max(left, 1.0)


def _transposed(x: sp.csr_array, given: sp.csr_array | None, positions: IntArray) -> sp.csr_array:
    """Return the transpose of `x`: `given` (the transpose of the new rows) with empty rows for the gone columns.

    `positions` is the union position of each row of `given` (see :func:`_common_columns`).
    """
    if given is None or given.shape[1] != x.shape[0] or given.shape[0] != len(positions):
        return sp.csr_array(x.T)
    before = np.searchsorted(positions, np.arange(x.shape[1] + 1))  # rows of `given` before each position
    return sp.csr_array((given.data, given.indices, given.indptr[before]), shape=(x.shape[1], x.shape[0]))


def _lengths(x: sp.csr_array, measure: DeltaMeasure) -> FloatArray:
    """Return each row's L2 length for cosine, and 1 for dot (whose similarity is the dot product).

    Of the rows as the fit or the update made them (``old`` and ``new``), not of their copies
    over the union of the columns: those of a read-only matrix are kept on it
    (:func:`~recframe.engine.row_totals`), so the old rows' lengths are the very ones the fit or
    the previous update used for their similarities, and the backend's fit for the rows searched
    again reads the new ones'.
    """
    return np.ones(x.shape[0]) if measure == "dot" else row_lengths(x)


def _beyond_normal_lengths(*lengths: FloatArray) -> str | None:
    """Return why the update can't run on rows of these `lengths` (0: no row), or ``None`` when it can.

    See :data:`NORMAL_LENGTHS`; NaN and infinite lengths never reach here (the matrix is checked).
    """
    low, high = NORMAL_LENGTHS
    positive = [part[part > 0] for part in lengths]
    smallest = min((float(part.min()) for part in positive if part.size), default=1.0)
    largest = max((float(part.max()) for part in positive if part.size), default=1.0)
    if low <= smallest and largest <= high:
        return None
    far = smallest if smallest < low else largest
    return (
        f"a row's length is {far:.3g}, beyond {low:g}..{high:g}, where a similarity times two lengths "
        "leaves the range of normal numbers, so one full search gives the exact similarities"
    )


def _old_lengths(old: sp.csr_array, old_rows: IntArray, measure: DeltaMeasure) -> FloatArray:
    """Return the old length of each new row (`old_rows`: its old row, ``-1`` for a new one: 0, or 1 for dot)."""
    lengths = _lengths(old, measure)[np.maximum(old_rows, 0)] if len(old_rows) and old.shape[0] else 0.0
    return np.where(old_rows >= 0, lengths, 1.0 if measure == "dot" else 0.0)


def _common_columns(
    old: sp.csr_array, new: sp.csr_array, row_map: IntArray, column_map: IntArray, *, union_old: bool = True
) -> tuple[sp.csr_array, sp.csr_array, IntArray, IntArray]:
    """Return the old and new rows in the new row positions, over the union of the old and new columns.

    Also returns the union position of each new and each old column (see :func:`_union_positions`;
    without `union_old`, the old positions are not increasing). Both maps keep the order of what
    remains, so the union keeps each side's columns in order: a gone column sits after the
    last column kept before it, its old entries stay (so their loss shows in the change of the
    rows), and no row's entries need sorting again. A gone row has no place (its pairs simply
    vanish). Without gone columns the union is the new columns; with nothing added, the old.
    Without `union_old`, the old rows keep their own columns (the union position of each is
    :func:`_union_positions`'s second array), which costs no pass over their entries; the gone
    columns then come after every new one, so the new rows keep theirs too (a forget renumbers
    no entry).
    """
    n_new, m_new = new.shape
    gone = np.flatnonzero(column_map < 0)
    m = m_new + len(gone)
    index_type = index_dtype(max(old.nnz, new.nnz), m, n_new)
    new_position, old_position = _union_positions(column_map, m_new, gone_last=not union_old)
    same_old = m == len(column_map)  # nothing added: the union numbers the old columns as they were
    old_width = m if union_old else len(column_map)
    if same_old or not union_old:
        indices = old.indices.astype(index_type, copy=False)
    else:
        indices = renumbered(old.indices, old_position, index_type)
    if n_new == len(row_map) and bool((row_map >= 0).all()):  # the same rows: the identity
        old_x = sp.csr_array((old.data, indices, old.indptr), shape=(n_new, old_width))
    else:  # the kept rows, in order (the map keeps it), in their new places among the new rows
        kept = np.flatnonzero(row_map >= 0)
        data = old.data
        if len(kept) < old.shape[0]:
            taken = sp.csr_array((old.data, indices, old.indptr), shape=(old.shape[0], old_width))[kept]
            data, indices = taken.data, taken.indices
        lengths = np.zeros(n_new, dtype=np.int64)
        lengths[row_map[kept]] = np.diff(old.indptr)[kept]
        indptr = np.zeros(n_new + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        old_x = sp.csr_array((data, indices, indptr), shape=(n_new, old_width))
    new_indices = new.indices if len(gone) == 0 or not union_old else renumbered(new.indices, new_position, index_type)
    new_x = sp.csr_array((new.data, new_indices, new.indptr), shape=(n_new, m))
    return old_x, new_x, new_position, old_position


def _union_positions(column_map: IntArray, m_new: int, *, gone_last: bool = False) -> tuple[IntArray, IntArray]:
    """Return the union position of each new column and of each old column (see :func:`_common_columns`).

    A gone column comes right after the last column kept before it, or, with `gone_last`,
    after every new column (in their old order): the new columns then keep their numbers.
    """
    gone = np.flatnonzero(column_map < 0)
    if gone_last:
        old_position = column_map.astype(np.int64, copy=True)
        old_position[gone] = m_new + np.arange(len(gone))
        return np.arange(m_new, dtype=np.int64), old_position
    # the gone columns after new column `after` (-1: before every one) come right after it
    after = np.maximum.accumulate(np.where(column_map >= 0, column_map, -1))[gone] if len(gone) else gone
    new_position = np.arange(m_new, dtype=np.int64) + np.searchsorted(after, np.arange(-1, m_new - 1), side="right")
    old_position = np.empty(len(column_map), dtype=np.int64)
    kept_columns = column_map >= 0
    old_position[kept_columns] = new_position[column_map[kept_columns]]
    old_position[gone] = after + 1 + np.arange(len(gone))
    return new_position, old_position


def _cell_change(
    cells: CellChanges,
    new_x: sp.csr_array,
    new_t: sp.csr_array | None,
    new_positions: IntArray,
    old_positions: IntArray,
) -> tuple[sp.csr_array, FloatArray, FloatArray]:
    """Return ``new_x - old_x`` (canonical, without zeros) and the old and new column degrees, from the changed cells.

    The same numbers as the comparison of every entry: a cell's change is ``after - before``
    (with 0 for a side where it is not stored, as scipy's subtraction), a gone row's cells are
    no part of the rows compared, and each column's old count of entries is its new count with
    the cells added taken away and those removed put back. The new counts are the row lengths
    of `new_t` where the caller has it (no pass over the entries).
    """
    n, m = new_x.shape
    keep = (cells.rows >= 0) & (cells.after != cells.before)
    rows = cells.rows[keep]
    known = cells.columns[keep]
    columns = np.where(known >= 0, new_positions[np.maximum(known, 0)], old_positions[cells.previous_columns[keep]])
    before, after = cells.before[keep], cells.after[keep]
    order = pair_order(rows, columns, n, m)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    change = sp.csr_array(((after - before)[order], columns[order], indptr), shape=(n, m))
    if new_t is not None and new_t.shape == (len(new_positions), n):
        new_degree = np.zeros(m)
        new_degree[new_positions] = np.diff(new_t.indptr)
    else:
        new_degree = np.bincount(new_x.indices, minlength=m).astype(np.float64)
    added = np.bincount(columns[(before == 0) & (after != 0)], minlength=m)
    removed = np.bincount(columns[(after == 0) & (before != 0)], minlength=m)
    return change, (new_degree - added + removed).astype(np.float64, copy=False), new_degree


@dataclass(frozen=True)
class _Transposed:
    """The transpose of some rows ``x``: row ``r`` is ``x``'s union column ``positions[r]``.

    Column ``c`` is ``x``'s row ``rows[c]`` (``-1``: a row ``x`` no longer has), or row ``c``
    itself where ``rows`` is ``None``.
    """

    matrix: sp.csr_array
    positions: IntArray
    rows: IntArray | None


TRANSPOSED_SHARE = 0.1
"""Below this share of the entries, the entries of some columns are read from the transpose's rows."""


def _in_columns(
    x: sp.csr_array,
    columns: npt.NDArray[np.bool_],
    degree: FloatArray,
    transposed: _Transposed | None = None,
    threads: int | None = None,
) -> sp.csr_array:
    """Return the entries of `x` in the marked `columns` (`degree`: each column's entries), or `x` if they are most.

    A product ``X Y`` multiplies each entry of `x` with its column's row of ``Y``: an entry in a
    column whose row is empty adds nothing, so leaving it out gives the very same sums, in the
    same order. A forget changes a few columns (users), and this keeps the products' cost that
    of the change rather than one pass over every entry: with `x`'s `transposed`, the rows of
    the marked columns are taken from it (no pass over the entries at all).
    """
    picked = float(degree[columns].sum())
    if picked > 0.5 * x.nnz:  # most entries: a copy would cost more (fresh memory) than the kernel saves
        return x
    if not columns.any():  # no shrunk rows, say: nothing to pick
        return sp.csr_array(x.shape, dtype=x.dtype)
    if transposed is not None and picked < TRANSPOSED_SHARE * x.nnz:
        return _from_transposed(transposed, columns, x.shape, threads)
    return in_columns(x, columns)


def _from_transposed(
    transposed: _Transposed, columns: npt.NDArray[np.bool_], shape: tuple[int, int], threads: int | None = None
) -> sp.csr_array:
    """Return the entries of the marked union `columns`, as rows of `shape`, from the transpose's rows.

    The rows of the marked columns are taken and transposed back by the engine's counting sort
    (:func:`~recframe.engine.transpose`, linear in the entries: a stable sort of their rows took
    0.09 s of the 0.18 s this took for a 0.1% add to the ML-20M shape). Its rows come out with
    their columns in increasing order, as the union positions keep it: the same entries, in the
    same order, as a pass over the rows would pick.
    """
    wanted = np.flatnonzero(columns[transposed.positions])
    taken = sp.csr_array(transposed.matrix[wanted]) if len(wanted) else sp.csr_array((0, transposed.matrix.shape[1]))
    flipped = transpose(taken, threads=threads)  # a row of x (its old row where `rows` is given) by place in `wanted`
    lengths = np.diff(flipped.indptr)
    union_columns, data = transposed.positions[wanted][flipped.indices], flipped.data
    rows = np.arange(len(lengths)) if transposed.rows is None else transposed.rows
    kept = rows >= 0
    if not kept.all():  # the old rows are in order, and the kept ones keep it in their new places
        entries = np.repeat(kept, lengths)
        union_columns, data = union_columns[entries], data[entries]
    row_lengths = np.zeros(shape[0], dtype=np.int64)
    row_lengths[rows[kept]] = lengths[kept]
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(row_lengths, out=indptr[1:])
    index_type = np.int32 if shape[1] < np.iinfo(np.int32).max else np.int64
    return sp.csr_array((data.astype(np.float64, copy=False), union_columns.astype(index_type), indptr), shape=shape)


def _filled_rows(x: sp.csr_array | None, n_rows: int) -> npt.NDArray[np.bool_]:
    """Return which of `n_rows` rows of `x` (``None``: none) have an entry."""
    return np.zeros(n_rows, dtype=bool) if x is None else np.diff(x.indptr) > 0
