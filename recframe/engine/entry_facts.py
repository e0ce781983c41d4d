"""The facts the checks of a matrix builder's result need, from one pass over its entries.

:func:`~recframe.interfaces.checks.check_matrix` makes sure a builder returned a finite,
canonical matrix whose values can be measured: on its own that is seven passes of numpy over
the stored entries, each on one thread, most with a temporary their size (0.1 s on ML-20M, a
third of an update's matrix step). :func:`entry_facts` reads every entry once, on every thread
(the compiled kernel of :mod:`recframe.engine._compiled.entry_facts`, from
:data:`COMPILED_FACTS` entries; numpy below, or without numba), and :func:`check_matrix` reads
the facts instead. With ``columns=True`` it also counts and sums each column, as the check of
an update's merged items' rows compares them: each task into a row of its own where the tasks'
rows take no more memory than the entries, else by numpy after the pass.

The facts of a matrix whose arrays are read-only (a model's own: ``own=True`` flags them so, an
update's merged matrix is so) are kept on it (:func:`~recframe.engine.kernel_inputs.keep_on`),
and later calls give them back without a pass: the next update reads bounds of its previous
matrix's values (:func:`value_range`) and its column counts (:func:`~recframe.engine.column_counts`)
there. :func:`~recframe.engine.merge_cells` keeps its result's, derived from its input's and the
change (:func:`keep_entry_facts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray, InteractionMatrix
from recframe.engine.dispatch import compiled_by_default, numba_threads
from recframe.engine.kernel_inputs import flag_read_only, keep_on, kept_on, read_only_view
from recframe.engine.pairs import _entry_ranges
from recframe.engine.transposes import keep_column_counts, kept_column_counts
from recframe.interfaces.checks import EntryFacts, out_of_order

COMPILED_FACTS = 1 << 20
"""Stored entries from which the compiled pass runs (below, numpy takes milliseconds)."""

_FACTS = "_recframe_entry_facts"
"""Attribute of a read-only matrix: its facts, as ``(counts, values, exact)`` arrays (see :func:`_keep`)."""

_SUMS = "_recframe_column_sums"
"""Attribute of a read-only matrix: its columns' sums of values (their counts: :func:`keep_column_counts`)."""


@dataclass(frozen=True)
class ColumnTotals:
    """Each column's count of stored entries and sum of values."""

    counts: IntArray
    sums: FloatArray


def entry_facts(
    result: object, *, columns: bool = False, own: bool = False
) -> tuple[EntryFacts | None, ColumnTotals | None]:
    """Return the facts of the entries of a builder's `result` and, with `columns`, its column totals.

    ``(None, None)`` where `result` is not an :class:`~recframe.InteractionMatrix` whose matrix
    the pass can read safely (CSR of float64 values with 32- or 64-bit indices and sound row
    offsets): the checks then run their own passes and say what is wrong. The facts of a
    read-only matrix are kept on it, and given back by later calls without a pass.

    Parameters
    ----------
    result : object
        What a matrix builder returned.
    columns : bool
        Also count and sum each column.
    own : bool
        The caller keeps the matrix and nothing changes it any more (a fitted model's): its
        arrays, and those they view, are flagged read-only first (no copy), so the facts are kept.
        They stay so if the checks then refuse the matrix (which is then not used).

    Returns
    -------
    (EntryFacts or None, ColumnTotals or None)
        The facts, and the column totals with `columns`.
    """
    matrix = getattr(result, "matrix", None) if isinstance(result, InteractionMatrix) else None
    if not _readable(matrix):
        return None, None
    assert isinstance(matrix, sp.csr_array | sp.csr_matrix)
    if own:
        flag_read_only(matrix)
    kept = _kept(matrix, columns)
    if kept is not None:
        return kept[0], kept[1]
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    if len(data) >= COMPILED_FACTS and compiled_by_default():
        facts, totals = _compiled(indptr, indices, data, matrix.shape[1], columns)
    else:
        facts, totals = _numpy(indptr, indices, data, matrix.shape[1], columns)
    _keep(matrix, facts, totals)
    return facts, totals


def value_range(matrix: sp.csr_array, *, bounds: bool = False) -> tuple[float, float] | None:
    """Return the smallest and the largest finite stored value of `matrix`, ``None`` if it stores none.

    Free where :func:`entry_facts` kept the facts of the matrix (a fitted model's): a matrix
    builder's ``update`` bounds its result's values with its previous matrix's range and the
    changed cells' values, without reading every value again (:func:`~recframe.check_measurable`
    takes such bounds). Otherwise one pass over the values. An update's merged matrix keeps its
    range where the change removed neither extreme, and else bounds of its values (its previous
    matrix's, widened by the cells set, :func:`~recframe.engine.merge_cells`): free with
    `bounds`, a pass without.

    Parameters
    ----------
    matrix : csr_array
        Any CSR matrix of float64 values.
    bounds : bool
        Bounds of the values suffice (at most the smallest, at least the largest): kept ones
        are given back without a pass even where they are not the range itself.

    Returns
    -------
    (float, float) or None
        The smallest and the largest finite value (or bounds of them, with `bounds`); ``None``
        without any.
    """
    kept = kept_on(matrix, _FACTS)
    if kept is not None and (bounds or bool(kept[2][0])):
        low, high = (float(value) for value in kept[1])
        return None if low > high else (low, high)
    data = np.asarray(matrix.data)
    if len(data) and not (np.isfinite(data.min()) and np.isfinite(data.max())):  # NaN or inf among them
        data = data[np.isfinite(data)]
    return (float(data.min()), float(data.max())) if len(data) else None


def kept_entry_facts(matrix: sp.csr_array | sp.csr_matrix) -> tuple[EntryFacts, ColumnTotals, bool] | None:
    """Return the facts and column totals kept on `matrix` (no pass), and whether their value range is exact.

    ``None`` where some are not kept. What :func:`~recframe.engine.merge_cells` derives its
    result's facts from.
    """
    kept = _kept(matrix, columns=True)
    if kept is None or kept[1] is None:
        return None
    return kept[0], kept[1], kept[2]


def keep_entry_facts(
    matrix: sp.csr_array | sp.csr_matrix, facts: EntryFacts, totals: ColumnTotals, *, exact_range: bool
) -> None:
    """Keep `facts` and `totals` on `matrix` where its arrays are read-only (copies), as a pass would.

    For a matrix whose facts follow from another's without a pass: :func:`~recframe.engine.merge_cells`
    keeps its result's, derived from its input's and the change. Without `exact_range` their
    value range is bounds of the values (at most the smallest, at least the largest): what the
    checks read (:func:`~recframe.check_measurable`) and ``value_range(..., bounds=True)``
    gives, while :func:`value_range` finds the range itself by a pass.
    """
    _keep(matrix, facts, totals, exact_range=exact_range)


def _kept(matrix: sp.csr_array | sp.csr_matrix, columns: bool) -> tuple[EntryFacts, ColumnTotals | None, bool] | None:
    """Return the facts (with `columns` the totals) kept on `matrix`, and whether their range is exact.

    ``None`` where some are not kept.
    """
    kept = kept_on(matrix, _FACTS)
    if kept is None:
        return None
    totals = None
    if columns:
        sums, counts = kept_on(matrix, _SUMS), kept_column_counts(matrix)
        if sums is None or counts is None:
            return None
        totals = ColumnTotals(counts, sums[0].copy())
    facts = EntryFacts(*(int(count) for count in kept[0]), *(float(value) for value in kept[1]))
    return facts, totals, bool(kept[2][0])


def _keep(
    matrix: sp.csr_array | sp.csr_matrix,
    facts: EntryFacts | None,
    totals: ColumnTotals | None,
    *,
    exact_range: bool = True,
) -> None:
    """Keep `facts` and `totals` on `matrix` where its arrays are read-only (copies: the caller's may change).

    `exact_range`: the facts' value range is the values' own, not bounds of them.
    """
    if facts is None:
        return
    counts = np.array([facts.nnz, facts.unordered, facts.low_index, facts.high_index, facts.non_finite, facts.zeros])
    values = np.array([facts.low_value, facts.high_value])
    keep_on(matrix, _FACTS, (counts, values, np.array([exact_range])))
    if totals is not None:
        keep_on(matrix, _SUMS, (totals.sums.copy(),))
        keep_column_counts(matrix, totals.counts)


def _readable(matrix: object) -> bool:
    """Whether `matrix` is CSR of float64 values, 32- or 64-bit indices and sound row offsets.

    Only the types a check accepts: any other is refused by the check itself, without the
    kernel compiling a version for it first.
    """
    if not (sp.issparse(matrix) and getattr(matrix, "format", None) == "csr"):
        return False
    assert isinstance(matrix, sp.csr_array | sp.csr_matrix)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    index_types = (np.dtype(np.int32), np.dtype(np.int64))
    if indptr.dtype not in index_types or indices.dtype not in index_types or data.dtype != np.float64:
        return False
    if indptr.ndim != 1 or indices.ndim != 1 or data.ndim != 1 or len(indptr) != matrix.shape[0] + 1:
        return False
    return bool(
        len(indices) == len(data) and indptr[0] == 0 and indptr[-1] == len(indices) and (np.diff(indptr) >= 0).all()
    )


def _compiled(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_columns: int, columns: bool
) -> tuple[EntryFacts | None, ColumnTotals | None]:
    """Return the facts by the compiled kernel, a range of rows of about equal entries per task."""
    from recframe.engine._compiled.entry_facts import (
        HIGH_INDEX,
        HIGH_VALUE,
        LOW_INDEX,
        LOW_VALUE,
        NON_FINITE,
        UNORDERED,
        ZEROS,
        scan_entries,
    )

    with numba_threads(None) as threads:
        offsets = np.asarray(indptr, dtype=np.int64)
        bounds = _entry_ranges(offsets, threads)
        tasks = len(bounds) - 1
        counts, values = np.zeros((tasks, 5), dtype=np.int64), np.zeros((tasks, 2))
        # each task's own totals, where they cost no more memory than the entries; else counted after
        per_task = columns and tasks * n_columns <= len(data)
        shape = (tasks, n_columns) if per_task else (tasks, 0)
        column_counts, column_sums = np.zeros(shape, dtype=np.int64), np.zeros(shape)
        arrays = (offsets, indices, data, bounds)
        kernel: Any = scan_entries
        kernel(*(read_only_view(a) for a in arrays), per_task, counts, values, column_counts, column_sums)
    facts = EntryFacts(
        nnz=len(data),
        unordered=int(counts[:, UNORDERED].sum()),
        low_index=int(counts[:, LOW_INDEX].min()) if len(data) else 0,
        high_index=int(counts[:, HIGH_INDEX].max()) if len(data) else -1,
        non_finite=int(counts[:, NON_FINITE].sum()),
        zeros=int(counts[:, ZEROS].sum()),
        low_value=float(values[:, LOW_VALUE].min()),
        high_value=float(values[:, HIGH_VALUE].max()),
    )
    if not columns:
        return facts, None
    if not per_task:
        return facts, _column_totals(indices, data, n_columns)
    return facts, ColumnTotals(column_counts.sum(axis=0), column_sums.sum(axis=0))


def _numpy(
    indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_columns: int, columns: bool
) -> tuple[EntryFacts | None, ColumnTotals | None]:
    """Return the facts by numpy's passes (the same numbers as the kernel)."""
    finite = np.isfinite(data)
    kept = data[finite]
    facts = EntryFacts(
        nnz=len(data),
        unordered=int(np.count_nonzero(out_of_order(indptr, indices))),
        low_index=int(indices.min()) if len(indices) else 0,
        high_index=int(indices.max()) if len(indices) else -1,
        non_finite=int(len(data) - np.count_nonzero(finite)),
        zeros=int(np.count_nonzero(data == 0)),
        low_value=float(kept.min()) if len(kept) else np.inf,
        high_value=float(kept.max()) if len(kept) else -np.inf,
    )
    return facts, _column_totals(indices, data, n_columns) if columns else None


def _column_totals(indices: np.ndarray, data: np.ndarray, n_columns: int) -> ColumnTotals:
    """Return each column's count and sum of values by numpy (entries outside the columns left out)."""
    inside = (indices >= 0) & (indices < n_columns)
    counts = np.bincount(indices[inside], minlength=n_columns).astype(np.int64)
    sums = np.asarray(np.bincount(indices[inside], weights=data[inside], minlength=n_columns), dtype=np.float64)
    return ColumnTotals(counts, sums)
