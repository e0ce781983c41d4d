"""Changed cells merged into a CSR matrix in one pass: :func:`merge_cells`.

An incremental update of a matrix (new users and items, new or changed cells, dropped rows and
columns) is a merge: the old rows, renumbered, with the changed cells inserted or combined with
a stored value. The compiled kernel counts each result row, takes a prefix sum and fills the
rows in place, on every thread, without the per-entry temporaries (row numbers, masks) of a
numpy version; beyond copying the kept entries its work is in proportion to the change. Below
:data:`COMPILED_MIN_ENTRIES` stored entries, and on the scipy engine, an exact numpy version
runs (the same result, bit for bit), so that a small model compiles no kernel. Each cell's
value before comes with the result; :func:`entries_of_rows` finds the entries of given rows.

Examples
--------
Drop the middle row, insert a column before the last, and set two cells:

>>> import numpy as np
>>> import scipy.sparse as sp
>>> from recframe.engine import merge_cells
>>> x = sp.csr_array(np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 4.0]]))
>>> merged = merge_cells(
...     x, np.array([0, -1, 1]), np.array([0, 2]), (2, 3),
...     (np.array([0, 1]), np.array([1, 2]), np.array([5.0, 6.0])),
... )
>>> merged.matrix.toarray().tolist()
[[1.0, 5.0, 0.0], [0.0, 0.0, 6.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray, index_dtype
from recframe.engine.dispatch import Engine, numba_threads, resolve_engine
from recframe.engine.entry_facts import ColumnTotals, keep_entry_facts, kept_entry_facts
from recframe.engine.kernel_inputs import check_csr, check_threads, csr_parts, mark_checked, read_only_view
from recframe.engine.pairs import _entry_ranges, transpose_parts
from recframe.engine.search import keep_row_norms
from recframe.engine.transposes import column_counts
from recframe.interfaces.checks import EntryFacts, out_of_order

COMPILED_MIN_ENTRIES = 1 << 20
"""Stored entries (of the matrix and the cells together) from which the compiled kernel merges;
below, numpy takes milliseconds and a small model (the quickstart) compiles no kernel for it."""

Cells = tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike]
"""Cells as ``(rows, columns, values)`` in the result's numbering, sorted by row, then column."""

Combine = Callable[[FloatArray, FloatArray], FloatArray]
"""How a cell's value combines with the value stored at its place: ``(stored, cell) -> new value``."""


@dataclass(frozen=True, eq=False)
class MergedCells:
    """What :func:`merge_cells` returns: the merged matrix, which rows and columns it kept, and the cells' values.

    Attributes
    ----------
    matrix : csr_array
        The canonical result (sorted, distinct columns in every row), ``float64`` values;
        read-only and marked checked (:func:`~recframe.engine.check_csr` costs O(1) on it).
    kept_rows, kept_columns : ndarray of bool
        For each row and column of the requested shape, whether the result has it; all
        ``True`` unless emptied ones were dropped (``drop_emptied``). The result's rows are
        the kept ones, in order.
    previous : ndarray of float64
        Each cell's value before: the entry of `matrix` that maps to its place, 0 where none does.
    values : ndarray of float64
        Each cell's value in the result (the given one, or what ``combine`` made of it).
    """

    matrix: sp.csr_array
    kept_rows: npt.NDArray[np.bool_]
    kept_columns: npt.NDArray[np.bool_]
    previous: FloatArray
    values: FloatArray


@dataclass(frozen=True, eq=False)
class _Merge:
    """The checked inputs of :func:`merge_cells` (maps as int64, cells as int64 and float64)."""

    matrix: sp.csr_array
    row_map: IntArray
    column_map: IntArray
    shape: tuple[int, int]
    rows: IntArray
    columns: IntArray
    values: FloatArray
    combine: Combine | None
    drop_emptied: bool

    @cached_property
    def gone(self) -> IntArray:
        """The positions of the dropped rows' entries in `matrix` (what the drop and the derived facts read)."""
        return entries_of_rows(self.matrix, np.flatnonzero(self.row_map < 0))

    def kept_columns(self, engine: Engine, threads: int | None) -> npt.NDArray[np.bool_]:
        """Return which result columns to keep: with ``drop_emptied``, all but those left empty.

        Only a column that an entry of a dropped row held can empty: it does where the dropped
        rows held all of its entries (its count, :func:`~recframe.engine.column_counts`, kept
        on a fitted model's matrix) and no cell is set in it. The cost is in proportion to the
        dropped rows' entries.
        """
        kept = np.ones(self.shape[1], dtype=bool)
        if not self.drop_emptied:
            return kept
        matrix, column_map = self.matrix, self.column_map
        held = matrix.indices[self.gone].astype(np.int64)
        if not len(held):
            return kept
        left = column_counts(matrix, engine=engine, threads=threads) - np.bincount(held, minlength=matrix.shape[1])
        at_risk = np.unique(held)
        emptied = column_map[at_risk[(left[at_risk] == 0) & (column_map[at_risk] >= 0)]]
        kept[emptied] = False
        kept[self.columns] = True  # a cell is set there
        return kept

    def combined(self, previous: FloatArray) -> FloatArray:
        """Return the cells' values in the result, given the values stored at their places before (0: none)."""
        stored = previous != 0
        if self.combine is None or not stored.any():
            return self.values
        values = self.values.copy()
        values[stored] = self.combine(previous[stored], self.values[stored])
        if not values.all():
            msg = "combine gave 0 for a cell, which a sparse matrix does not store; return a non-zero value"
            raise ValueError(msg)
        return values


def merge_cells(
    matrix: sp.csr_array,
    row_map: npt.ArrayLike,
    column_map: npt.ArrayLike,
    shape: tuple[int, int],
    cells: Cells | None = None,
    *,
    combine: Combine | None = None,
    drop_emptied: bool = False,
    engine: Engine = "auto",
    threads: int | None = None,
    with_norms: bool = False,
) -> MergedCells:
    """Return `matrix` with its rows and columns renumbered and `cells` set, as a new canonical CSR matrix.

    Entry ``(r, c)`` of `matrix` becomes entry ``(row_map[r], column_map[c])`` of the result,
    unless either is ``-1`` (dropped); then each cell ``(row, column, value)`` is stored there,
    replacing the entry of that place, or combining with it (`combine`). The maps are monotone
    (kept rows and columns keep their order), so the result is the old rows' entries in order,
    merged with the cells: one pass. The index arrays are int32 when the result's sizes allow
    (as a full build picks them), else int64. `matrix` is left unchanged.

    Parameters
    ----------
    matrix : csr_array of shape (n_rows, n_columns)
        Canonical: sorted, distinct columns in every row, no stored 0, as a matrix builder's.
    row_map : array of int of shape (n_rows,)
        Each old row's row in the result, ``-1`` to drop it; the kept ones strictly increasing.
    column_map : array of int of shape (n_columns,)
        Each old column's column in the result, likewise.
    shape : (int, int)
        The result's shape (before emptied rows and columns are dropped): rows and columns
        that no old one maps to are new.
    cells : (rows, columns, values), optional
        The cells to set, in the result's numbering, sorted by row, then column, distinct;
        values are non-zero (a 0 would not be stored).
    combine : callable, optional
        ``combine(stored, given)`` returns the values of the cells whose place holds an entry
        (arrays of those cells, in order), e.g. ``np.maximum``; by default the given value
        replaces the stored one.
    drop_emptied : bool
        Also drop the rows and columns that held an entry in `matrix` and hold none in the
        result (e.g. an item whose every user was dropped); see :attr:`MergedCells.kept_rows`.
        When rows are dropped, it costs the count of each column's entries
        (:func:`~recframe.engine.column_counts`: free where it was kept on `matrix`, as on a
        fitted model's) and a pass over the dropped rows' entries.
    engine : {"auto", "numba", "scipy"}
        The compiled kernel (from :data:`COMPILED_MIN_ENTRIES` stored entries) or numpy; both
        give the same result.
    threads : int, optional
        Threads for the compiled kernel; all cores by default.
    with_norms : bool
        Also find each result row's L2 length as the compiled kernel writes the row, and keep
        them on the result (:func:`~recframe.engine.search.keep_row_norms`: what
        :func:`~recframe.engine.row_totals` then gives without a pass over the entries); only
        where the compiled kernel merges and its lengths are the very ones ``row_totals`` would find.

    Returns
    -------
    MergedCells
        The matrix, which rows and columns of `shape` it kept, and each cell's values before and after.

    Raises
    ------
    TypeError, ValueError, IndexError
        If `matrix` is not a well-formed CSR matrix, a map is not monotone or points outside
        `shape`, the cells are unsorted, repeated, outside `shape` or 0, or `combine` gives 0.
    """
    threads = check_threads(threads)
    matrix = check_csr(matrix, "matrix")
    rows, columns, values = _checked_cells(cells, shape)
    merge = _Merge(
        matrix,
        _checked_map(row_map, matrix.shape[0], shape[0], "row_map"),
        _checked_map(column_map, matrix.shape[1], shape[1], "column_map"),
        shape, rows, columns, values, combine, drop_emptied,
    )  # fmt: skip
    kept_columns = merge.kept_columns(engine, threads)
    if resolve_engine(engine) == "numba" and matrix.nnz + len(values) >= COMPILED_MIN_ENTRIES:
        merged = _merge_compiled(merge, kept_columns, threads, with_norms)
    else:
        merged = _merge_numpy(merge, kept_columns)
    _keep_derived_facts(merge, merged)
    return merged


def _keep_derived_facts(merge: _Merge, merged: MergedCells) -> None:
    """Keep the entry facts and column totals of the merged matrix on it, derived from the input's kept ones.

    An update's merged matrix is checked as a matrix builder's result (its facts: one pass over
    every entry, 0.03-0.06 s on ML-20M) and its column totals are compared with the items' rows;
    they follow from the input's facts (kept on a fitted model's matrix) and the change, at the
    cost of the change (:func:`_derived_totals`, :func:`_derived_range`). Nothing is kept where
    the input's facts are not, where it stores a 0 or a non-finite value, or where a dropped
    column held entries (they would need a pass to find).
    """
    kept = kept_entry_facts(merge.matrix)
    if kept is None:
        return
    facts, totals, exact = kept
    if facts.zeros or facts.non_finite or facts.unordered or totals.counts[merge.column_map < 0].any():
        return
    derived_totals = _derived_totals(merge, merged, totals)
    if derived_totals is None:
        return
    removed = np.r_[merge.matrix.data[merge.gone], merged.previous[merged.previous != 0]]  # values gone or replaced
    low, high, exact = _derived_range(facts, exact, removed, merged.values, merged.matrix.nnz)
    held = np.flatnonzero(derived_totals.counts)
    derived = EntryFacts(
        nnz=merged.matrix.nnz,
        unordered=0,  # the merge wrote each row in order (or raised)
        low_index=int(held[0]) if len(held) else 0,
        high_index=int(held[-1]) if len(held) else -1,
        non_finite=int(np.count_nonzero(~np.isfinite(merged.values))),
        zeros=0,  # none stored before, and a cell is never 0
        low_value=low,
        high_value=high,
    )
    keep_entry_facts(merged.matrix, derived, derived_totals, exact_range=exact)


def _derived_totals(merge: _Merge, merged: MergedCells, totals: ColumnTotals) -> ColumnTotals | None:
    """Return each result column's count and sum of values from the input's and the change.

    A column's count is its old one less the entries of the dropped rows (``merge.gone``), plus the
    cells where nothing was stored (exact); its sum likewise with their values and the cells'
    changes: equal to a fresh sum up to the rounding of the values added and taken away, which
    an update carries on to the next (a cancellation can leave an error of the order of a
    removed value's last bits), so only compare sums with a tolerance of the values' magnitudes,
    as the check of the items' rows does. ``None`` if the counts don't add up to the result's
    entries (which would be a bug: nothing wrong is kept).
    """
    matrix, column_map, n_columns = merge.matrix, merge.column_map, merge.shape[1]
    kept_old = column_map >= 0
    counts, sums = np.zeros(n_columns, dtype=np.int64), np.zeros(n_columns)
    counts[column_map[kept_old]] = totals.counts[kept_old]
    sums[column_map[kept_old]] = totals.sums[kept_old]
    gone_columns = column_map[matrix.indices[merge.gone]]  # no dropped column held an entry
    counts -= np.bincount(gone_columns, minlength=n_columns)
    sums -= np.bincount(gone_columns, weights=matrix.data[merge.gone], minlength=n_columns)
    counts += np.bincount(merge.columns[merged.previous == 0], minlength=n_columns)  # no stored 0: a new entry
    sums += np.bincount(merge.columns, weights=merged.values - merged.previous, minlength=n_columns)
    counts, sums = counts[merged.kept_columns], sums[merged.kept_columns]
    if int(counts.sum()) != merged.matrix.nnz or (counts < 0).any():
        return None
    return ColumnTotals(counts, sums)


def _derived_range(
    facts: EntryFacts, exact: bool, removed: FloatArray, values: FloatArray, nnz: int
) -> tuple[float, float, bool]:
    """Return the result's smallest and largest finite value, or bounds of them, and whether they are exact.

    The input's range (`facts`, `exact` if it is the range itself) widened by the cells' finite
    `values`: the range itself where no `removed` value (dropped or replaced) was an extreme (all
    its copies then stay), else bounds of it. A result without entries has none (``inf, -inf``).
    """
    if nnz == 0:
        return np.inf, -np.inf, True
    low, high = facts.low_value, facts.high_value
    exact = exact and not bool(((removed == low) | (removed == high)).any())
    finite = values[np.isfinite(values)]
    if len(finite):
        low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    return low, high, exact


def entries_of_rows(matrix: sp.csr_array, rows: npt.ArrayLike) -> IntArray:
    """Return the positions among `matrix`'s stored entries of every entry of `rows`, row after row.

    The cost is in proportion to those entries (no pass over the others).

    Parameters
    ----------
    matrix : csr_array
        Any CSR matrix.
    rows : array of int
        Distinct rows, in the order their entries are wanted (ascending: the positions ascend).

    Returns
    -------
    ndarray of int64
        Indices into ``matrix.data`` and ``matrix.indices``.
    """
    return _entries_of(matrix.indptr, np.asarray(rows, dtype=np.int64))


def _entries_of(indptr: np.ndarray, rows: IntArray) -> IntArray:
    """:func:`entries_of_rows` of a CSR matrix's `indptr` alone."""
    runs = (indptr[rows + 1] - indptr[rows]).astype(np.int64)
    offsets = indptr[rows].astype(np.int64) - (np.cumsum(runs) - runs)
    positions: IntArray = np.arange(int(runs.sum()), dtype=np.int64) + np.repeat(offsets, runs)
    return positions


def _search_rows(
    indptr: np.ndarray, indices: np.ndarray, rows: IntArray, columns: IntArray
) -> tuple[IntArray, IntArray]:
    """Find each (row, column) by binary search within its row: its position (``-1``: none) and insertion slot.

    About log2(longest row) vectorised steps: the cost is in proportion to the cells.
    """
    low = indptr[rows].astype(np.int64)
    high = indptr[rows + 1].astype(np.int64)
    end = high.copy()
    while True:
        open_ = low < high
        if not open_.any():
            break
        middle = (low + high) // 2
        below = open_ & (indices[np.minimum(middle, len(indices) - 1)] < columns)
        low = np.where(below, middle + 1, low)
        high = np.where(open_ & ~below, middle, high)
    hit = low < end
    hit[hit] = indices[low[hit]] == columns[hit]
    return np.where(hit, low, -1), low


def _checked_map(mapping: npt.ArrayLike, n_old: int, n_new: int, name: str) -> IntArray:
    """Return `mapping` as int64 if it maps `n_old` positions into ``[-1, n_new)``, the kept ones increasing."""
    array = np.asarray(mapping)
    if array.shape != (n_old,) or (array.size and array.dtype.kind not in "iu"):
        msg = f"{name} must be {n_old} integers, one per old position; got dtype {array.dtype}, shape {array.shape}"
        raise ValueError(msg)
    array = array.astype(np.int64, copy=False)
    if array.size and (int(array.min()) < -1 or int(array.max()) >= n_new):
        bad = int(array.min()) if int(array.min()) < -1 else int(array.max())
        msg = f"{name} maps a position to {bad}, outside [0, {n_new}) (or -1, to drop it)"
        raise IndexError(msg)
    if (np.diff(array[array >= 0]) <= 0).any():
        msg = f"{name} must keep the order: the kept positions need increasing, distinct new ones; sort them"
        raise ValueError(msg)
    return array


def _checked_cells(cells: Cells | None, shape: tuple[int, int]) -> tuple[IntArray, IntArray, FloatArray]:
    """Return the cells as int64 rows and columns and float64 values, refusing unsorted, repeated or 0 ones."""
    if cells is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    rows, columns, values = (np.asarray(part) for part in cells)
    if not rows.shape == columns.shape == values.shape or rows.ndim != 1:
        msg = f"cells need 1-d rows, columns and values of one length; got shapes {rows.shape}, {columns.shape}, "
        msg += f"{values.shape}"
        raise ValueError(msg)
    if len(rows) == 0:
        return _checked_cells(None, shape)
    if rows.dtype.kind not in "iu" or columns.dtype.kind not in "iu":
        msg = f"cells need integer rows and columns; got dtypes {rows.dtype}, {columns.dtype}"
        raise TypeError(msg)
    rows, columns = rows.astype(np.int64, copy=False), columns.astype(np.int64, copy=False)
    for part, size, axis in ((rows, shape[0], "row"), (columns, shape[1], "column")):
        if int(part.min()) < 0 or int(part.max()) >= size:
            msg = f"a cell's {axis} is outside [0, {size})"
            raise IndexError(msg)
    step_rows, step_columns = np.diff(rows), np.diff(columns)
    if ((step_rows < 0) | ((step_rows == 0) & (step_columns <= 0))).any():
        msg = "cells must be sorted by row, then column, each cell once; sort them (np.lexsort((columns, rows)))"
        raise ValueError(msg)
    values = values.astype(np.float64, copy=False)
    if not values.all():
        msg = "a cell's value is 0, which a sparse matrix does not store; leave the cell out"
        raise ValueError(msg)
    return rows, columns, values


def _identity(column_map: IntArray) -> bool:
    """Return whether `column_map` keeps every column's number (none dropped, none inserted before another)."""
    return bool(np.array_equal(column_map, np.arange(len(column_map))))


def _sources(row_map: IntArray, n_rows: int) -> IntArray:
    """Return each result row's old row (``-1``: a new row)."""
    source = np.full(n_rows, -1, dtype=np.int64)
    kept = np.flatnonzero(row_map >= 0)
    source[row_map[kept]] = kept
    return source


def _source_lengths(indptr: np.ndarray, source: IntArray) -> IntArray:
    """Return the length of each result row's old row (0 for a new row)."""
    lengths = np.zeros(len(source), dtype=np.int64)
    old = source >= 0
    lengths[old] = np.diff(indptr)[source[old]]
    return lengths


def _emptied_rows(matrix: sp.csr_array, source: IntArray, counts: IntArray) -> npt.NDArray[np.bool_]:
    """Return which result rows had entries (in their old row) and have none."""
    emptied: npt.NDArray[np.bool_] = (_source_lengths(matrix.indptr, source) > 0) & (counts == 0)
    return emptied


def _result(
    indptr: IntArray,
    indices: np.ndarray,
    data: FloatArray,
    kept_rows: npt.NDArray[np.bool_],
    kept_columns: npt.NDArray[np.bool_],
    previous: FloatArray,
    values: FloatArray,
) -> MergedCells:
    """Return the canonical result of these arrays (rows over `kept_rows`), with the index dtype of a full build."""
    if not kept_rows.all():
        indptr = np.r_[indptr[:1], indptr[1:][kept_rows]]
    shape = (int(kept_rows.sum()), int(kept_columns.sum()))
    index_type = index_dtype(len(data), shape[1])
    matrix = sp.csr_array(
        (data, indices.astype(index_type, copy=False), indptr.astype(index_type, copy=False)), shape=shape
    )
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    # every row written where its count said, columns from checked maps: well-formed, no need to read it again
    return MergedCells(mark_checked(matrix), kept_rows, kept_columns, previous, values)


_NOT_CANONICAL = (
    "matrix must have sorted, distinct columns in every row (canonical CSR); call sum_duplicates() and sort_indices()"
)


def _merge_numpy(merge: _Merge, kept_columns: npt.NDArray[np.bool_]) -> MergedCells:
    """:func:`merge_cells` vectorised: keep and renumber the old entries, then place the cells among them."""
    matrix, row_map, column_map, shape = merge.matrix, merge.row_map, merge.column_map, merge.shape
    indptr, indices, data = matrix.indptr.astype(np.int64), matrix.indices, matrix.data
    if out_of_order(indptr, indices).any():
        raise ValueError(_NOT_CANONICAL)
    if (column_map < 0).any():  # the kept entries, counted per old row
        keep = np.repeat(row_map >= 0, np.diff(indptr)) & (column_map[indices] >= 0)
        indptr, indices, data = np.r_[0, np.cumsum(keep)][indptr], indices[keep], data[keep]
    elif (row_map < 0).any():
        keep = np.repeat(row_map >= 0, np.diff(indptr))
        indptr, indices, data = np.r_[0, np.cumsum(np.diff(indptr) * (row_map >= 0))], indices[keep], data[keep]
    if not _identity(column_map):
        indices = column_map[indices]
    elif shape[1] >= np.iinfo(np.int32).max:
        indices = indices.astype(np.int64)
    # the result's own arrays (never the matrix's), with the cells placed among the old entries
    data = data.astype(np.float64, copy=data is matrix.data)
    indices = indices.copy() if indices is matrix.indices else indices
    source = _sources(row_map, shape[0])
    lengths = _source_lengths(indptr, source)
    found, slot = _search_rows(np.r_[0, np.cumsum(lengths)], indices, merge.rows, merge.columns)
    stored, new = found >= 0, found < 0
    previous = np.zeros(len(found))
    previous[stored] = data[found[stored]]
    values = merge.combined(previous)
    if len(values):
        data[found[stored]] = values[stored]
        data = np.insert(data, slot[new], values[new])
        indices = np.insert(indices, slot[new], merge.columns[new].astype(indices.dtype))
    counts = lengths + np.bincount(merge.rows[new], minlength=shape[0])
    kept_rows = ~_emptied_rows(matrix, source, counts) if merge.drop_emptied else np.ones(shape[0], dtype=bool)
    if not kept_columns.all():
        indices = (np.cumsum(kept_columns) - 1)[indices]
    return _result(np.r_[0, np.cumsum(counts)], indices, data, kept_rows, kept_columns, previous, values)


def _merge_compiled(
    merge: _Merge, kept_columns: npt.NDArray[np.bool_], threads: int | None, with_norms: bool = False
) -> MergedCells:
    """:func:`merge_cells` by the compiled kernels: count each row (finding the cells' places), then fill it.

    Where columns are dropped and the matrix's transpose is known (:func:`_dropped_counts`),
    a row without cells is counted without reading it; the fill checks the count either way.
    """
    from recframe.engine._compiled.cells import count_rows, fill_rows

    matrix, row_map, column_map, shape = merge.matrix, merge.row_map, merge.column_map, merge.shape
    given_type = matrix.indices.dtype if matrix.indices.dtype in (np.int32, np.int64) else np.dtype(np.int64)
    indptr, indices, data = csr_parts(matrix, given_type)
    source = read_only_view(_sources(row_map, shape[0]))
    cell_ptr = read_only_view(np.r_[0, np.cumsum(np.bincount(merge.rows, minlength=shape[0]))])
    cell_columns = merge.columns
    counts, found = np.empty(shape[0], dtype=np.int64), np.empty(len(cell_columns), dtype=np.int64)
    with numba_threads(threads) as used:
        tasks = used * 4
        work = np.r_[0, np.cumsum(_source_lengths(indptr, source) + np.diff(cell_ptr))]  # rows by equal entries
        dropping = bool((column_map < 0).any())
        dropped = _dropped_counts(matrix, column_map) if dropping else None
        count_rows(
            indptr, indices, source, read_only_view(column_map), dropping, cell_ptr, read_only_view(cell_columns),
            read_only_view(np.empty(0, dtype=np.int64) if dropped is None else dropped), _entry_ranges(work, tasks),
            counts, found,
        )  # fmt: skip
        kept_rows = ~_emptied_rows(matrix, source, counts) if merge.drop_emptied else np.ones(shape[0], dtype=bool)
        if not kept_columns.all():  # renumber past the emptied columns (no old entry maps to one any more)
            place = np.where(kept_columns, np.cumsum(kept_columns) - 1, -1)
            column_map = np.where(column_map >= 0, place[np.maximum(column_map, 0)], -1)
            cell_columns = place[cell_columns]
        stored = found >= 0
        previous = np.zeros(len(found))
        previous[stored] = data[found[stored]]
        values = merge.combined(previous)
        out_indptr = np.r_[0, np.cumsum(counts)]
        nnz = int(out_indptr[-1])
        index_type = index_dtype(nnz, int(kept_columns.sum()))
        out_indices, out_data = np.empty(nnz, dtype=index_type), np.empty(nnz)
        fill_bounds = _entry_ranges(out_indptr, tasks)
        bad = np.zeros(len(fill_bounds) - 1, dtype=np.bool_)
        norms = np.empty(shape[0] if with_norms else 0)
        fill_rows(
            indptr, indices, data, source, read_only_view(column_map), bool((column_map < 0).any()),
            _identity(column_map), cell_ptr, read_only_view(cell_columns), read_only_view(values),
            read_only_view(out_indptr), fill_bounds, out_indices, out_data, norms, bad,
        )  # fmt: skip
    if bad.any():
        raise ValueError(_NOT_CANONICAL)
    merged = _result(out_indptr, out_indices, out_data, kept_rows, kept_columns, previous, values)
    if with_norms:
        keep_row_norms(merged.matrix, norms[kept_rows])
    return merged


def _dropped_counts(matrix: sp.csr_array, column_map: IntArray) -> IntArray | None:
    """Return how many entries each row of `matrix` holds in the dropped columns, or ``None`` unknown.

    Known where `matrix`'s transpose is (:func:`~recframe.engine.pairs.transpose_parts`: an
    update's items' rows know the users' rows): the dropped columns' rows of it, in proportion
    to their entries (a forget's few users), not a pass over every entry of `matrix`.
    """
    parts = transpose_parts(matrix)
    if parts is None:
        return None
    indptr, indices, _ = parts
    held = indices[_entries_of(indptr, np.flatnonzero(column_map < 0))]
    return np.bincount(held, minlength=matrix.shape[0]).astype(np.int64, copy=False)
