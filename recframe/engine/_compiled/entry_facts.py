"""Compiled kernel of :func:`~recframe.engine.entry_facts.entry_facts`: every check of a matrix's entries in one pass.

Each task reads a range of rows (of about equal entries) once, and counts what the checks of a
matrix builder's result look for: columns out of order in a row, the smallest and largest
column, values that are not finite or 0, the smallest and largest finite value; with
``columns``, also each column's count of entries and sum of values, into the task's own row.
"""

from __future__ import annotations

import numba
import numpy as np

UNORDERED, LOW_INDEX, HIGH_INDEX, NON_FINITE, ZEROS = 0, 1, 2, 3, 4
"""The columns of the kernel's integer counts, one row per task."""

LOW_VALUE, HIGH_VALUE = 0, 1
"""The columns of its float results: the smallest and largest finite value."""

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@numba.njit(parallel=True, nogil=True, cache=True)
def scan_entries(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    bounds: np.ndarray,
    columns: bool,
    counts: np.ndarray,
    values: np.ndarray,
    column_counts: np.ndarray,
    column_sums: np.ndarray,
) -> None:
    """Write each task's counts and value range (rows ``bounds[t]:bounds[t + 1]``), and its columns' totals.

    `indptr` must be sound (starting at 0, never decreasing, ending at the entries' count);
    every column index is read, and used as a position only with `columns` once it is known to
    be in ``[0, column_counts.shape[1])`` (others are counted, not stored).
    """
    n_columns = column_counts.shape[1]
    for task in numba.prange(bounds.shape[0] - 1):
        unordered, non_finite, zeros = 0, 0, 0
        low, high = _INT64_MAX, _INT64_MIN
        low_value, high_value = np.inf, -np.inf
        for r in range(bounds[task], bounds[task + 1]):
            previous = _INT64_MIN
            for p in range(indptr[r], indptr[r + 1]):
                column = int(indices[p])
                unordered += column <= previous
                previous = column
                low = min(low, column)
                high = max(high, column)
                value = np.float64(data[p])
                if np.isfinite(value):
                    low_value = min(low_value, value)
                    high_value = max(high_value, value)
                else:
                    non_finite += 1
                zeros += value == 0.0
                if columns and 0 <= column < n_columns:
                    column_counts[task, column] += 1
                    column_sums[task, column] += value
        counts[task, UNORDERED] = unordered
        counts[task, LOW_INDEX] = low
        counts[task, HIGH_INDEX] = high
        counts[task, NON_FINITE] = non_finite
        counts[task, ZEROS] = zeros
        values[task, LOW_VALUE] = low_value
        values[task, HIGH_VALUE] = high_value
