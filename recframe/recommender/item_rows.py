"""The items x users rows of an updated model, from the previous ones and the changed cells.

Item-based search reads the transpose of the interaction matrix. After an update that reports
its changed cells (a :class:`~recframe.interfaces.MatrixUpdate`), the new transpose is the old
one with its rows and columns renumbered (new, forgotten, emptied users and items) and those
cells set: :func:`~recframe.engine.merge_cells` does that in one sequential pass, where a new
transpose scatters every entry. The result is marked as the new matrix's transpose (the pair
needs no check when a backend is fitted on it), after a count and a sum of values per item agree
with the new matrix's: cells a builder left out change one or the other, and the transpose is
then made anew (a builder's cells are its promise, as for the neighbour update: a wrong value
that keeps every item's count and sum is not caught).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray, pair_order
from recframe.engine import column_counts, freeze_shared, merge_cells
from recframe.engine.entry_facts import ColumnTotals
from recframe.engine.pairs import mark_transpose
from recframe.interfaces import CellChanges
from recframe.recommender.cell_checks import expected_sums, sums_agree


def updated_item_rows(
    previous: sp.csr_array,
    cells: CellChanges,
    item_map: IntArray,
    user_map: IntArray,
    matrix: sp.csr_array,
    totals: ColumnTotals | None = None,
    previous_totals: ColumnTotals | None = None,
) -> sp.csr_array | None:
    """Return the transpose of the updated `matrix` from the `previous` transpose and the cells, or ``None``.

    ``None`` where the cells can't say it (a cell of a kept user and item removed, which a
    merge doesn't do; counts that disagree with `matrix`): the caller then transposes `matrix`.

    Parameters
    ----------
    previous : csr_array of shape (old items, old users)
        The transpose of the previous matrix.
    cells : CellChanges
        The changed cells, users x items, as the matrix builder reported them.
    item_map, user_map : ndarray of int64
        The new position of each old item and user, ``-1`` where it is gone.
    matrix : csr_array of shape (users, items)
        The updated matrix (made read-only here: the model keeps it).
    totals : ColumnTotals, optional
        Each item's count of entries and sum of values in `matrix`, where the caller counted
        them (:func:`~recframe.engine.entry_facts.entry_facts`); counted here otherwise.
    previous_totals : ColumnTotals, optional
        The same of the previous matrix (the row totals of `previous`), where they were kept:
        the new sums are then checked against them and the cells' changes, without a pass over
        the merged rows' values.
    """
    n_users, n_items = matrix.shape
    if previous.shape != (len(item_map), len(user_map)):
        return None
    placed = (cells.rows >= 0) & (cells.columns >= 0)
    if (cells.after[placed] == 0).any():  # a kept cell removed: not a merge
        return None
    set_ = placed & (cells.after != cells.before)
    items, users, values = cells.columns[set_], cells.rows[set_], cells.after[set_]
    order = pair_order(items, users, n_items, n_users)
    try:
        merged = merge_cells(
            previous,
            item_map,
            user_map,
            (n_items, n_users),
            (items[order], users[order], values[order]),
            with_norms=True,  # the items' lengths, which the neighbour update reads next
        ).matrix
    except ValueError:  # cells listed twice, say (against the contract): made anew instead
        return None
    matrix = freeze_shared(matrix, "the interaction matrix")
    if not _same_items(merged, matrix, totals, _expected_sums(previous_totals, cells, item_map, n_items)):
        return None
    merged = freeze_shared(merged, "the updated items' rows")  # ours alone: flagged read-only, not copied
    merged.has_canonical_format = True  # merge_cells' result is canonical
    mark_transpose(matrix, merged)
    return merged


def _expected_sums(
    previous: ColumnTotals | None, cells: CellChanges, item_map: IntArray, n_items: int
) -> tuple[FloatArray, FloatArray] | None:
    """Return the sums of the merged rows (:func:`~.cell_checks.expected_sums`), ``None`` without `previous`."""
    return None if previous is None else expected_sums(previous, cells, item_map, n_items)


def _same_items(
    rows: sp.csr_array,
    matrix: sp.csr_array,
    totals: ColumnTotals | None,
    expected: tuple[FloatArray, FloatArray] | None = None,
) -> bool:
    """Return whether every item has as many entries in `rows` as in `matrix`, and the same sum of values.

    The counts are the rows' lengths. The sums of `rows` are summed (a pass over their values)
    unless their `expected` sums are given: the previous items' sums plus the cells' changes,
    with the scale of those terms, which is what the merge (the engine's own code) made of the
    previous rows and the cells, so the rows' values are not read. The sums of `matrix` are its
    `totals`' where given, else summed. The comparison catches cells a builder left out (a
    missing cell changes an item's count, a missing change of value its sum), though not a
    change that keeps both.
    """
    counts = column_counts(matrix) if totals is None else totals.counts
    if not np.array_equal(np.diff(rows.indptr), counts):
        return False
    by_columns = np.asarray(matrix.sum(axis=0)).ravel() if totals is None else totals.sums
    if expected is None:
        by_rows = np.asarray(rows.sum(axis=1)).ravel()
        scale = np.abs(by_rows)
    else:
        by_rows, scale = expected
    return sums_agree(by_rows, scale, by_columns)  # near 0 maybe not: that costs only a transpose made anew
