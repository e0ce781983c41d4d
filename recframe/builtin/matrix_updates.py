"""Bringing a cell-wise matrix up to date with an :class:`EventChange`, bit for bit as a full build.

A builder whose entry for a (user, item) cell depends only on that cell's events (``ratings``,
``binary``) can update its previous matrix instead of building it from every event:

* **added events**: the new events are built alone (:meth:`InteractionMatrix.from_interactions`,
  the very code of a full build), which gives every cell they touch that had no events before
  exactly; a cell that had events combines its stored value with theirs where the duplicate
  policy allows it exactly (``last`` and ``first`` when the new events are not older than the
  old ones, ``max`` always); ``sum``, ``mean`` and ``error`` on such a cell need the old events
  in their order, so the builder is built again;
* **removed users and items**: their rows and columns are dropped, then the rows and columns
  left without an entry (a user whose every event was on a forgotten item).

Both read "a cell has events" as "the cell is stored", which holds only when no cell can
combine to 0 (a 0 is not stored): the builders call these functions only when every value is
positive (:func:`positive_values`), and answer ``None`` (build again) otherwise. The work is a
few passes over the stored entries, without touching the old events, and the previous matrix
is left unchanged. Both also say which cells they changed (:class:`~recframe.CellChanges`), so
the update of the neighbours need not compare the two matrices.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe import (
    CellChanges,
    DataError,
    DuplicatePolicy,
    EventChange,
    IdIndex,
    IntArray,
    InteractionMatrix,
    Interactions,
    MatrixUpdate,
)

SMALLEST_POSITIVE = 1e-290
"""Values at least this large combine to a positive number under every policy: a sum of
positive numbers is at least each of them, and a mean divides it by fewer than 2**63 events."""

Cells = Callable[[Interactions], InteractionMatrix | None]
"""A builder's matrix of some events built alone (``None`` if it keeps none of them)."""


def positive_values(*columns: npt.NDArray[np.float64] | None) -> bool:
    """Return whether every value of `columns` (``None``: no column) is at least :data:`SMALLEST_POSITIVE`."""
    return all(column is None or not len(column) or column.min() >= SMALLEST_POSITIVE for column in columns)


def update_cells(
    previous: InteractionMatrix, change: EventChange, cells: Cells, duplicates: DuplicatePolicy
) -> MatrixUpdate | None:
    """Return the matrix a full build gives on ``change.after`` and its changed cells, or ``None`` where it can't.

    Parameters
    ----------
    previous : InteractionMatrix
        The builder's matrix of ``change.before``; every stored value positive, and every
        cell with events stored (see the module docstring).
    change : EventChange
        Events added after the old ones, or users and items removed.
    cells : callable
        The builder's matrix of the added events alone, with `duplicates`.
    duplicates : {"last", "first", "mean", "sum", "max", "error"}
        How the builder combines repeated pairs.
    """
    if change.added is None:
        return _remove(previous, change.removed_users, change.removed_items)
    if duplicates == "error":
        try:
            fresh = cells(change.added)
        except DataError:  # a repeated pair among the new events: a full build names it, in its order
            return None
    else:
        fresh = cells(change.added)
    if fresh is None:
        none = np.zeros(0, dtype=np.int64)
        unchanged = CellChanges(none, none, none, none, np.zeros(0), np.zeros(0))
        return MatrixUpdate(previous.matrix.copy(), previous.users, previous.items, unchanged)
    return _add(previous, fresh, _combiner(change, duplicates))


def _combiner(
    change: EventChange, duplicates: DuplicatePolicy
) -> Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float64]] | None:
    """Return how an old cell's stored value and its new events' value combine, or ``None`` if not exactly.

    ``last`` and ``first`` follow time, then file order: the new events follow every old one
    when they have no timestamps or none older than the newest old event.
    """
    if duplicates == "max":
        return np.maximum
    if duplicates not in ("last", "first"):
        return None
    before, added = change.before.timestamps, change.added.timestamps if change.added is not None else None
    if before is not None and added is not None and len(before) and added.min() < before.max():
        return None
    if duplicates == "last":
        return lambda old, new: new
    return lambda old, new: old


def _add(
    previous: InteractionMatrix,
    fresh: InteractionMatrix,
    combine: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float64]] | None,
) -> MatrixUpdate | None:
    """Return `previous` with the cells of `fresh` (new events built alone) merged in; ``None`` if it can't."""
    old, new = previous.matrix, fresh.matrix
    users = IdIndex(np.union1d(previous.users.ids, fresh.users.ids))
    items = IdIndex(np.union1d(previous.items.ids, fresh.items.ids))
    row_map, column_map = _positions(previous.users, users), _positions(previous.items, items)
    # each fresh cell: its row and column in the result, and in the previous matrix (-1: not there)
    fresh_rows = np.repeat(np.arange(new.shape[0]), np.diff(new.indptr))
    old_row = previous.users.rows(fresh.users.ids, missing="mark")[fresh_rows]
    rows = _positions(fresh.users, users)[fresh_rows]
    columns = _positions(fresh.items, items)[new.indices]
    known = old_row >= 0
    where = np.full(len(rows), -1, dtype=np.int64)
    slot = np.empty(len(rows), dtype=np.int64)  # where each fresh cell goes among the old entries
    where[known], slot[known] = _find_in_rows(old, column_map, old_row[known], columns[known])
    slot[~known] = old.indptr[np.searchsorted(row_map, rows[~known])]
    stored = where >= 0
    if combine is None and stored.any():
        return None
    # the old columns keep their numbers unless an item was inserted before one of them
    indices = old.indices if _identity(column_map) else column_map[old.indices]
    if len(items) >= np.iinfo(indices.dtype).max:
        indices = indices.astype(np.int64)
    inserted = ~stored
    data, indices, moved = _insert(old.data, indices, slot[inserted], new.data[inserted], columns[inserted])
    before, after = np.zeros(len(rows)), new.data.astype(np.float64)  # every fresh cell, as it was and is
    if combine is not None and stored.any():
        before[stored] = old.data[where[stored]]
        after[stored] = data[moved(where[stored])] = combine(before[stored], new.data[stored])
    lengths = np.zeros(len(users), dtype=np.int64)
    lengths[row_map] = np.diff(old.indptr)
    lengths += np.bincount(rows[inserted], minlength=len(users))
    old_column = previous.items.rows(fresh.items.ids, missing="mark")[new.indices].astype(np.int64)
    cells = CellChanges(old_row.astype(np.int64), old_column, rows, columns.astype(np.int64), before, after)
    return _assemble(data, indices, lengths, users, items, cells)


def _insert(
    data: npt.NDArray[np.float64],
    indices: npt.NDArray[np.integer],
    slots: IntArray,
    new_data: npt.NDArray[np.float64],
    new_indices: IntArray,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.integer], Callable[[IntArray], IntArray]]:
    """Return new entry arrays with the new entries inserted before the old positions `slots` (ascending).

    Also returns where each old position went. One mask places both arrays; the old arrays
    are left unchanged.
    """
    total = len(data) + len(slots)
    placed = slots + np.arange(len(slots), dtype=np.int64)  # each insertion shifts the later ones by one
    old_place = np.ones(total, dtype=bool)
    old_place[placed] = False
    out_data = np.empty(total, dtype=data.dtype)
    out_data[old_place] = data
    out_data[placed] = new_data
    out_indices = np.empty(total, dtype=indices.dtype)
    out_indices[old_place] = indices
    out_indices[placed] = new_indices

    def moved(positions: IntArray) -> IntArray:
        return positions + np.searchsorted(slots, positions, side="right")

    return out_data, out_indices, moved


def _remove(
    previous: InteractionMatrix,
    removed_users: npt.NDArray[np.generic] | None,
    removed_items: npt.NDArray[np.generic] | None,
) -> MatrixUpdate | None:
    """Return `previous` without the rows and columns of the removed ids, nor those left empty.

    Every remaining row and column had an entry, so only those that lost entries can be left
    empty: the work is a pass to find the removed entries (none for users alone: their rows)
    and one to copy the others.
    """
    old = previous.matrix
    lengths = np.diff(old.indptr).astype(np.int64)
    gone_rows = np.flatnonzero(~_without(previous.users, removed_users))
    runs = lengths[gone_rows]  # the entries of the removed rows, in order: a run of positions per row
    offsets = old.indptr[gone_rows].astype(np.int64) - (np.cumsum(runs) - runs)
    gone = np.arange(int(runs.sum()), dtype=np.int64) + np.repeat(offsets, runs)
    keep_columns = _without(previous.items, removed_items)
    if not keep_columns.all():
        gone = np.union1d(gone, np.flatnonzero(~keep_columns[old.indices]))
    owner = np.searchsorted(old.indptr, gone, side="right") - 1
    row_lengths = lengths - np.bincount(owner, minlength=old.shape[0])
    column_lengths = np.bincount(old.indices, minlength=old.shape[1])
    column_lengths -= np.bincount(old.indices[gone], minlength=old.shape[1])
    rows_left, columns_left = row_lengths > 0, column_lengths > 0
    if not rows_left.any():
        return None  # nothing left: a full build says why, in the builder's words
    kept = np.ones(old.nnz, dtype=bool)
    kept[gone] = False
    indices = old.indices[kept]
    column_place = np.where(columns_left, np.cumsum(columns_left, dtype=np.int64) - 1, -1)
    if not columns_left.all():
        indices = column_place[indices]
    row_place = np.where(rows_left, np.cumsum(rows_left, dtype=np.int64) - 1, -1)
    gone_columns = old.indices[gone].astype(np.int64)
    cells = CellChanges(
        owner, gone_columns, row_place[owner], column_place[gone_columns], old.data[gone], np.zeros(len(gone))
    )
    users, items = IdIndex(previous.users.ids[rows_left]), IdIndex(previous.items.ids[columns_left])
    return _assemble(old.data[kept], indices, row_lengths[rows_left], users, items, cells)


def _assemble(
    data: npt.NDArray[np.float64],
    indices: npt.NDArray[np.integer],
    lengths: IntArray,
    users: IdIndex,
    items: IdIndex,
    cells: CellChanges,
) -> MatrixUpdate:
    """Return the canonical CSR matrix of these rows (the index dtype a full build picks), with its changed `cells`."""
    indptr = np.zeros(len(users) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    index_type = np.int32 if max(len(data), len(items)) < np.iinfo(np.int32).max else np.int64
    matrix = sp.csr_array(
        (data, indices.astype(index_type, copy=False), indptr.astype(index_type)), shape=(len(users), len(items))
    )
    return MatrixUpdate(matrix, users, items, cells)


def _positions(old: IdIndex, new: IdIndex) -> IntArray:
    """Return the position in `new` of each id of `old` (all there)."""
    return np.searchsorted(new.ids, old.ids).astype(np.int64)


def _identity(positions: IntArray) -> bool:
    """Return whether `positions` maps each position to itself (no id was inserted before the last)."""
    return not len(positions) or int(positions[-1]) == len(positions) - 1


def _without(index: IdIndex, removed: npt.NDArray[np.generic] | None) -> npt.NDArray[np.bool_]:
    """Return which ids of `index` are not among `removed`."""
    keep = np.ones(len(index), dtype=bool)
    if removed is not None and len(removed):
        rows = index.rows(removed, missing="mark")
        keep[rows[rows >= 0]] = False
    return keep


def _find_in_rows(
    matrix: sp.csr_array, column_map: IntArray, rows: IntArray, columns: IntArray
) -> tuple[IntArray, IntArray]:
    """Find each (row, column) among a canonical CSR matrix's entries, by binary search within its row.

    `columns` are numbered as `column_map` numbers the matrix's columns (increasingly).

    Returns
    -------
    found : ndarray of int64
        The entry's position, ``-1`` where the row doesn't store the column.
    slot : ndarray of int64
        The position of the row's first entry with a column at least the given one: where
        the column would be inserted.
    """
    indptr, indices = matrix.indptr, matrix.indices
    low = indptr[rows].astype(np.int64)
    high = indptr[rows + 1].astype(np.int64)
    end = high.copy()
    while True:  # about log2(longest row) vectorised steps
        open_ = low < high
        if not open_.any():
            break
        middle = (low + high) // 2
        below = open_ & (column_map[indices[np.minimum(middle, len(indices) - 1)]] < columns)
        low = np.where(below, middle + 1, low)
        high = np.where(open_ & ~below, middle, high)
    hit = low < end
    hit[hit] = column_map[indices[low[hit]]] == columns[hit]
    return np.where(hit, low, -1), low
