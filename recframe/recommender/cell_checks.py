"""Checks of the changed cells a matrix builder reports with its update (:class:`~recframe.interfaces.MatrixUpdate`).

The neighbour update takes the change of the matrix from the cells alone, where a builder
reports them, instead of comparing every entry. Cells a builder left out, or got wrong, would
then leave neighbours that a refit does not give, with nothing said (found by an outside
review of a plugin's builder). So:

- :func:`check_cells` refuses cells that can't be read as cells (arrays of other lengths,
  positions outside the matrices, values that are not finite): a :class:`PluginError` naming
  the builder, as for any malformed result;
- :func:`cells_agree` compares each item's count of entries and sum of values in the new
  matrix with those of the previous matrix plus the cells' changes (both counted in the pass
  that checks the matrices). A cell left out changes one or the other; the caller then warns
  and compares the matrices instead. A wrong value that keeps every item's count and sum is
  not caught: the cells stay the builder's promise, which
  :class:`~recframe.testing.MatrixBuilderContract` tests.
"""

from __future__ import annotations

import numpy as np

from recframe.data import FloatArray, IntArray
from recframe.engine.entry_facts import ColumnTotals
from recframe.errors import PluginError
from recframe.interfaces import CellChanges

SUMS_TOLERANCE = 1e-9
"""Relative difference allowed between an item's sum of values counted two ways (their orders differ)."""

_POSITIONS = (("previous_rows", 0, 0), ("previous_columns", 0, 1), ("rows", 1, 0), ("columns", 1, 1))
"""Each position array of the cells: which matrix (previous, updated) and which axis it indexes."""


def check_cells(cells: object, shapes: tuple[tuple[int, int], tuple[int, int]], who: str) -> CellChanges:
    """Return `cells` if they can be read as the changed cells of matrices of `shapes` (previous, updated).

    Raises
    ------
    PluginError
        If `cells` is not a :class:`CellChanges` of one-dimensional arrays of one length, with
        integer positions from -1 up to the matrices' sizes and finite values, naming `who`.
    """
    problem = _problem(cells, shapes)
    if problem is not None:
        msg = f"{who} returned a MatrixUpdate whose cells {problem}; see CellChanges"
        raise PluginError(msg)
    assert isinstance(cells, CellChanges)
    return cells


def _problem(cells: object, shapes: tuple[tuple[int, int], tuple[int, int]]) -> str | None:
    """Return what keeps `cells` from being read as cells of matrices of `shapes`, or ``None``."""
    if not isinstance(cells, CellChanges):
        return f"are a {type(cells).__name__}, not a CellChanges"
    arrays = {name: getattr(cells, name) for name in (*(p[0] for p in _POSITIONS), "before", "after")}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray) or array.ndim != 1:
            return f"have a {name} that is not a one-dimensional numpy array"
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        return f"have arrays of different lengths ({', '.join(f'{k} {v}' for k, v in lengths.items())})"
    for name, matrix, axis in _POSITIONS:
        array, size = arrays[name], shapes[matrix][axis]
        if array.dtype.kind not in "iu":
            return f"have {name} of {array.dtype}, not integers"
        outside = (array < -1) | (array >= size)
        if outside.any():
            return f"place a cell at {name} {array[outside][0]}, outside -1..{size - 1}"
    for name in ("before", "after"):
        array = arrays[name]
        if array.dtype.kind != "f":
            return f"have {name} of {array.dtype}, not floats"
        if not np.isfinite(array).all():
            return f"have a value in {name} that is not finite ({array[~np.isfinite(array)][0]})"
    return None


def cells_agree(cells: CellChanges, item_map: IntArray, totals: ColumnTotals, previous: ColumnTotals) -> bool:
    """Return whether the new matrix's item `totals` are the `previous` ones plus the cells' changes.

    `item_map` gives the new position of each previous item (``-1``: gone).
    """
    counts = np.zeros(len(totals.counts), dtype=np.int64)
    kept = item_map >= 0
    counts[item_map[kept]] = previous.counts[kept]
    placed = cells.columns >= 0
    stored = (cells.after != 0).astype(np.int64) - (cells.before != 0).astype(np.int64)
    counts += np.bincount(cells.columns[placed], weights=stored[placed], minlength=len(counts)).astype(np.int64)
    if not np.array_equal(counts, totals.counts):
        return False
    sums, scale = expected_sums(previous, cells, item_map, len(totals.counts))
    return sums_agree(sums, scale, totals.sums)


def expected_sums(
    previous: ColumnTotals, cells: CellChanges, item_map: IntArray, n_items: int
) -> tuple[FloatArray, FloatArray]:
    """Return each new item's previous sum of values plus its cells' changes, and the scale of the terms.

    The previous values are kept but those of gone users and the cells changed (a gone user's
    cells change to 0).
    """
    sums, scale = np.zeros(n_items), np.zeros(n_items)
    kept = item_map >= 0
    sums[item_map[kept]] = previous.sums[kept]
    scale[item_map[kept]] = np.abs(previous.sums[kept])
    placed = cells.columns >= 0
    change = (cells.after - cells.before)[placed]
    sums += np.bincount(cells.columns[placed], weights=change, minlength=n_items)
    scale += np.bincount(cells.columns[placed], weights=np.abs(change), minlength=n_items)
    return sums, scale


def sums_agree(expected: FloatArray, scale: FloatArray, actual: FloatArray) -> bool:
    """Return whether sums counted two ways agree to :data:`SUMS_TOLERANCE` of the terms' scale.

    Sums that cancel to near 0 may differ by more: that costs the caller only the slower way.
    """
    return bool((np.abs(expected - actual) <= SUMS_TOLERANCE * (scale + np.abs(actual))).all())
