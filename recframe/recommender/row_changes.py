"""Which rows of a matrix an update changed: old positions mapped to new ones, and rows compared.

An update rebuilds the interaction matrix from the new training data. Ids are sorted
(:class:`~recframe.data.IdIndex`), so the old rows and columns keep their order among the
new ones: :func:`position_map` says where each old id went (``-1`` if it is gone), and
:func:`changed_rows` compares every row that survives with its old self, entry by entry and bit
for bit, in linear time. A row is changed if it is new, or if any of its columns or values
differ (including an entry in a column that is gone).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import IdIndex, IntArray


def position_map(old: IdIndex, new: IdIndex) -> IntArray:
    """Return the new position of each old id, ``-1`` for an id the new index lacks.

    Both indexes are sorted, so the positions of the ids that remain increase with the old
    position: the map preserves order.
    """
    if len(old) == 0:
        return np.zeros(0, dtype=np.int64)
    if len(new) == 0:
        return np.full(len(old), -1, dtype=np.int64)
    found = np.searchsorted(new.ids, old.ids)
    clipped = np.minimum(found, len(new) - 1)
    present = (found < len(new)) & (new.ids[clipped] == old.ids)
    return np.where(present, clipped, -1).astype(np.int64)


def changed_rows(
    old: sp.csr_array, new: sp.csr_array, row_map: IntArray, column_map: IntArray
) -> npt.NDArray[np.bool_]:
    """Return, for each row of `new`, whether it differs from the old row mapped onto it.

    Parameters
    ----------
    old, new : csr_array
        The rows before and after the update (canonical: sorted indices, no duplicates).
    row_map, column_map : ndarray of int64
        :func:`position_map` of the old rows and of the old columns.

    Returns
    -------
    ndarray of bool, shape (new.shape[0],)
        ``True`` for a new row and for a row whose entries (columns or values) changed.
    """
    n_new = new.shape[0]
    changed = np.ones(n_new, dtype=bool)
    kept_old = np.flatnonzero(row_map >= 0)
    if len(kept_old) == 0:
        return changed
    old_lengths = np.diff(old.indptr)
    new_lengths = np.diff(new.indptr)
    target = row_map[kept_old]
    same_length = old_lengths[kept_old] == new_lengths[target]
    candidates_old, candidates_new = kept_old[same_length], target[same_length]
    changed[candidates_new] = False
    if len(candidates_old) == 0:
        return changed
    old_entries = _entries_of(old.indptr, candidates_old)
    new_entries = _entries_of(new.indptr, candidates_new)
    # rows of equal length line up entry by entry, in the same order on both sides
    differs = (column_map[old.indices[old_entries]] != new.indices[new_entries]) | (
        old.data[old_entries] != new.data[new_entries]
    )
    owner = np.repeat(candidates_new, new_lengths[candidates_new])
    changed[owner[differs]] = True
    return changed


def _entries_of(indptr: IntArray, rows: IntArray) -> IntArray:
    """Return the positions of the stored entries of `rows`, row after row."""
    starts, stops = indptr[rows].astype(np.int64), indptr[rows + 1].astype(np.int64)
    lengths = stops - starts
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets: IntArray = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) + offsets
