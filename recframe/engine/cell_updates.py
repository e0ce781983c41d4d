"""Bringing a cell-wise matrix up to date with an :class:`EventChange`, bit for bit as a full build.

A builder whose entry for a (user, item) cell depends only on that cell's events (``ratings``,
``binary``, or a plugin's: clipped ratings, log counts) can update its previous matrix instead of
building it from every event, with :func:`update_cells` (its ``MatrixBuilder.update``, given how
the builder makes the matrix of some events alone):

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
positive (:func:`positive_values`), and answer ``None`` (build again) otherwise. The work is
one merge of the changed cells into the previous matrix (:func:`~recframe.engine.merge_cells`,
a compiled pass over the stored entries on large matrices) and vectorised steps in proportion
to the change, without touching the old events; the previous matrix is left unchanged. Both
also say which cells they changed (:class:`~recframe.CellChanges`), so the update of the
neighbours need not compare the two matrices.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from recframe.data import DuplicatePolicy, IdIndex, IntArray, InteractionMatrix, Interactions
from recframe.engine.cells import entries_of_rows, merge_cells
from recframe.engine.entry_facts import value_range
from recframe.errors import DataError
from recframe.interfaces import CellChanges, EventChange, MatrixUpdate

SMALLEST_POSITIVE = 1e-290
"""Values at least this large combine to a positive number under every policy: a sum of
positive numbers is at least each of them, and a mean divides it by fewer than 2**63 events."""

Cells = Callable[[Interactions], InteractionMatrix | None]
"""A builder's matrix of some events built alone (``None`` if it keeps none of them)."""


def positive_values(*events: Interactions | None) -> bool:
    """Return whether every value of `events` is at least :data:`SMALLEST_POSITIVE`, as :func:`update_cells` needs.

    Parameters
    ----------
    *events : Interactions or None
        Events to check (``None``, or events without values, hold none); the training events'
        range of values is kept on them, so checking ``change.before`` costs no pass.

    Returns
    -------
    bool
        ``True`` where no value is below :data:`SMALLEST_POSITIVE` (a cell is then stored
        exactly when it has events, under every duplicate policy).
    """
    ranges = [part.column_range("values") for part in events if part is not None]
    return all(bounds is None or bounds[0] >= SMALLEST_POSITIVE for bounds in ranges)


def value_bounds(previous: InteractionMatrix, update: MatrixUpdate) -> tuple[float, float] | None:
    """Return bounds of the values `update` (made from `previous`) stores: at most the smallest, at least the largest.

    Its values are some of `previous`'s and the changed cells' new ones, so the range of those
    bounds them (:func:`~recframe.check_measurable` takes bounds: where they pass, the values
    do), and bounds of the previous matrix's values are kept on a model's (no pass over them).

    Parameters
    ----------
    previous : InteractionMatrix
        The matrix the update was made from.
    update : MatrixUpdate
        What :func:`update_cells` made of it.

    Returns
    -------
    tuple of float, or None
        ``(low, high)``; ``None`` where neither the previous matrix nor the changed cells hold a value.
    """
    ranges = [value_range(previous.matrix, bounds=True)]
    stored = update.cells.after[update.cells.after != 0]
    if len(stored):
        ranges.append((float(stored.min()), float(stored.max())))
    known = [bounds for bounds in ranges if bounds is not None]
    if not known:
        return None
    return min(low for low, _ in known), max(high for _, high in known)


def update_cells(
    previous: InteractionMatrix, change: EventChange, cells: Cells, duplicates: DuplicatePolicy
) -> MatrixUpdate | None:
    """Return the matrix a full build gives on ``change.after`` and its changed cells, or ``None`` where it can't.

    What a cell-wise builder's :meth:`~recframe.MatrixBuilder.update` returns: a builder whose
    entry for a (user, item) cell depends only on that cell's events, and stores a cell exactly
    when it has events (every value positive: check the events with :func:`positive_values`
    first, and answer ``None`` where they are not).

    Parameters
    ----------
    previous : InteractionMatrix
        The builder's matrix of ``change.before``; every stored value positive, and every
        cell with events stored (see the module docstring).
    change : EventChange
        Events added after the old ones, or users and items removed.
    cells : callable
        ``cells(events)``: the builder's matrix of some events alone, with `duplicates`, or
        ``None`` if it keeps none of them (its ``build``, where that needs nothing of the
        other events).
    duplicates : {"last", "first", "mean", "sum", "max", "error"}
        How the builder combines repeated pairs.

    Returns
    -------
    MatrixUpdate or None
        The updated matrix with its :class:`~recframe.CellChanges`; ``None`` where a new event
        falls on a cell that had events and the policy can't combine them from the stored value
        alone (``sum``, ``mean``, ``error``; ``last`` and ``first`` when a new event is older
        than an old one): the recommender then builds the matrix again.
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
    before = change.before.column_range("timestamps")
    added = change.added.column_range("timestamps") if change.added is not None else None
    if before is not None and added is not None and added[0] < before[1]:
        return None
    if duplicates == "last":
        return lambda old, new: new
    return lambda old, new: old


def _add(
    previous: InteractionMatrix,
    fresh: InteractionMatrix,
    combine: Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], npt.NDArray[np.float64]] | None,
) -> MatrixUpdate | None:
    """Return `previous` with the cells of `fresh` (new events built alone) merged in; ``None`` if it can't.

    The fresh cells are merged into the renumbered old rows in one pass
    (:func:`~recframe.engine.merge_cells`), each combined with the value stored at its place.
    """
    old, new = previous.matrix, fresh.matrix
    users = _index(previous.users.ids, fresh.users.ids)
    items = _index(previous.items.ids, fresh.items.ids)
    # each fresh cell: its row and column in the previous matrix (-1: new) and in the result
    fresh_rows = np.repeat(np.arange(new.shape[0]), np.diff(new.indptr))
    old_row = previous.users.rows(fresh.users.ids, missing="mark")[fresh_rows].astype(np.int64)
    old_column = previous.items.rows(fresh.items.ids, missing="mark")[new.indices].astype(np.int64)
    rows = _positions(fresh.users, users)[fresh_rows]
    columns = _positions(fresh.items, items)[new.indices]
    merged = merge_cells(
        old, _positions(previous.users, users), _positions(previous.items, items), (len(users), len(items)),
        (rows, columns, new.data), combine=combine,
    )  # fmt: skip
    if combine is None and merged.previous.any():  # a cell that had events, under a policy that needs them
        return None
    cells = CellChanges(old_row, old_column, rows, columns, merged.previous, merged.values.astype(np.float64))
    return MatrixUpdate(merged.matrix, users, items, cells)


def _remove(
    previous: InteractionMatrix,
    removed_users: npt.NDArray[np.generic] | None,
    removed_items: npt.NDArray[np.generic] | None,
) -> MatrixUpdate | None:
    """Return `previous` without the rows and columns of the removed ids, nor those left empty.

    Every remaining row and column had an entry, so only those that lost entries can be left
    empty (:func:`~recframe.engine.merge_cells` drops them). The removed cells are the entries
    of the removed rows, found from the rows, and, when items are removed, those of their
    columns, found by a pass over the entries.
    """
    old = previous.matrix
    keep_rows, keep_columns = _without(previous.users, removed_users), _without(previous.items, removed_items)
    shape = (int(keep_rows.sum()), int(keep_columns.sum()))
    merged = merge_cells(old, _places(keep_rows), _places(keep_columns), shape, drop_emptied=True)
    if merged.matrix.shape[0] == 0:
        return None  # nothing left: a full build says why, in the builder's words
    row_place = _places(keep_rows, merged.kept_rows)
    column_place = _places(keep_columns, merged.kept_columns)
    gone = entries_of_rows(old, np.flatnonzero(~keep_rows))
    if not keep_columns.all():
        gone = np.union1d(gone, np.flatnonzero(~keep_columns[old.indices]))
    owner = np.searchsorted(old.indptr, gone, side="right") - 1
    gone_columns = old.indices[gone].astype(np.int64)
    cells = CellChanges(
        owner, gone_columns, row_place[owner], column_place[gone_columns], old.data[gone], np.zeros(len(gone))
    )
    users, items = previous.users.kept(row_place >= 0), previous.items.kept(column_place >= 0)
    return MatrixUpdate(merged.matrix, users, items, cells)


def _places(kept: npt.NDArray[np.bool_], then: npt.NDArray[np.bool_] | None = None) -> IntArray:
    """Return each position's place among the `kept` ones (``-1``: not kept), and among those `then` keeps."""
    place = np.where(kept, np.cumsum(kept, dtype=np.int64) - 1, -1)
    if then is not None and not then.all():
        place = np.where(place >= 0, _places(then)[np.maximum(place, 0)], -1)
    return place


def _index(*ids: npt.NDArray[np.generic]) -> IdIndex:
    """Return the index of the distinct ids of `ids` (by :meth:`IdIndex.encode`: linear for integer ids, not a sort)."""
    index, _ = IdIndex.encode(np.concatenate(ids) if len(ids) > 1 else ids[0])
    return index


def _positions(old: IdIndex, new: IdIndex) -> IntArray:
    """Return the position in `new` of each id of `old` (all there)."""
    return np.searchsorted(new.ids, old.ids).astype(np.int64)


def _without(index: IdIndex, removed: npt.NDArray[np.generic] | None) -> npt.NDArray[np.bool_]:
    """Return which ids of `index` are not among `removed`."""
    keep = np.ones(len(index), dtype=bool)
    if removed is not None and len(removed):
        rows = index.rows(removed, missing="mark")
        keep[rows[rows >= 0]] = False
    return keep
