"""The items x users rows of an updated model, from the previous ones and the changed cells.

Item-based search reads the transpose of the interaction matrix. After an update that reports
its changed cells (a :class:`~recframe.interfaces.MatrixUpdate`), the new transpose is the old
one with its rows and columns renumbered (new, forgotten, emptied users and items) and those
cells set: :func:`~recframe.engine.merge_cells` does that in one sequential pass, where a new
transpose scatters every entry. The result is marked as the new matrix's transpose (the pair
needs no check when a backend is fitted on it), after one count per column confirms that the
cells account for every change (a builder whose cells miss some gets the transpose made anew).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import IntArray
from recframe.engine import column_counts, freeze_shared, merge_cells
from recframe.engine.pairs import mark_transpose
from recframe.interfaces import CellChanges


def updated_item_rows(
    previous: sp.csr_array, cells: CellChanges, item_map: IntArray, user_map: IntArray, matrix: sp.csr_array
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
    """
    n_users, n_items = matrix.shape
    if previous.shape != (len(item_map), len(user_map)):
        return None
    placed = (cells.rows >= 0) & (cells.columns >= 0)
    if (cells.after[placed] == 0).any():  # a kept cell removed: not a merge
        return None
    set_ = placed & (cells.after != cells.before)
    items, users, values = cells.columns[set_], cells.rows[set_], cells.after[set_]
    order = np.lexsort((users, items))
    try:
        merged = merge_cells(
            previous, item_map, user_map, (n_items, n_users), (items[order], users[order], values[order])
        ).matrix
    except ValueError:  # cells listed twice, say (against the contract): made anew instead
        return None
    matrix = freeze_shared(matrix, "the interaction matrix")
    if not np.array_equal(np.diff(merged.indptr), column_counts(matrix)):
        return None
    merged = freeze_shared(merged, "the updated items' rows")  # ours alone: flagged read-only, not copied
    merged.has_canonical_format = True  # merge_cells' result is canonical
    mark_transpose(matrix, merged)
    return merged
