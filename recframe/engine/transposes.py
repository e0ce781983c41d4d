"""The transpose of a CSR matrix, made once and known to be one (:func:`transpose`), and its row lengths.

Item-based search reads the items x users matrix, the transpose of the users x items matrix a
matrix builder makes, and the symmetric kernels read both orientations. scipy's conversion runs
on one thread; the compiled one here runs on all of them (a counting sort by column, see
:mod:`recframe.engine._compiled.transpose`), and the result is marked as the checked transpose
of its input, so that :func:`~recframe.engine.check_transpose` on the pair (and on a model
fitted from it) costs O(1) instead of one more pass over every entry. :func:`column_counts` gives
the transpose's row lengths (each item's number of users, say) without making it.

Examples
--------
>>> import numpy as np
>>> import scipy.sparse as sp
>>> from recframe.engine import transpose
>>> x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
>>> transpose(x).toarray().tolist()
[[1.0, 0.0], [0.0, 3.0], [2.0, 4.0]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import IntArray, index_dtype
from recframe.engine.dispatch import Engine, numba_threads, resolve_engine
from recframe.engine.kernel_inputs import (
    check_csr,
    check_threads,
    frozen,
    keep_on,
    kept_on,
    mark_checked,
    read_only_view,
)
from recframe.engine.pairs import _entry_ranges, mark_transpose

COMPILED_TRANSPOSE = 1 << 20
"""Stored entries from which the compiled kernel transposes: scipy's single-threaded conversion
takes milliseconds below, and a small model (the quickstart) then compiles no kernel for it."""

_COUNTS = "_recframe_column_counts"
"""Attribute of a read-only matrix: each column's count of entries (see :func:`keep_column_counts`)."""


def transpose(x: sp.csr_array, *, engine: Engine = "auto", threads: int | None = None) -> sp.csr_array:
    """Return ``x.T`` as a CSR matrix with sorted rows, its arrays read-only.

    The values keep their dtype; the index arrays are int32 where the sizes allow (as scipy
    picks them). A read-only `x` with sorted, distinct columns in every row (canonical, as a
    fitted model's matrix) is recorded as the result's source, so checking the pair with
    :func:`~recframe.engine.check_transpose` later costs nothing: the result is its transpose
    by construction.

    Parameters
    ----------
    x : csr_array
        The matrix; checked (:func:`~recframe.engine.check_csr`) before any kernel reads it.
    engine : {"auto", "numba", "scipy"}
        The compiled counting sort (from 2^20 stored entries; below, and for ``scipy``,
        scipy's conversion) or scipy's.
    threads : int, optional
        Threads of the compiled kernel; all cores by default.

    Returns
    -------
    csr_array of shape (n_columns, n_rows)
        The transpose, canonical when `x` is.

    Raises
    ------
    TypeError, ValueError, IndexError
        If `x` is not a well-formed CSR matrix.
    """
    threads = check_threads(threads)
    x = check_csr(x, "x")
    if resolve_engine(engine) == "numba" and x.nnz >= COMPILED_TRANSPOSE:
        made = _compiled(x, threads)
    else:
        made = sp.csr_array(x.T)
        made.sort_indices()
    made = mark_checked(made)  # the transpose of a checked matrix: its indices are x's rows
    keep_column_counts(x, np.diff(made.indptr))
    if x.has_canonical_format:  # distinct columns in every row: so are the transpose's
        made.has_canonical_format = True
        if frozen(x):
            mark_transpose(x, made)
    return made


def keep_column_counts(x: sp.csr_array | sp.csr_matrix, counts: np.ndarray) -> None:
    """Keep `counts`, each column's count of entries in `x`, on `x` where its arrays are read-only.

    :func:`column_counts` then gives them back without a pass: a popularity ranker's fit, an
    update's drop of emptied columns. Kept by what counts them anyway: :func:`transpose`, the
    checks' pass with column totals (:func:`~recframe.engine.entry_facts.entry_facts`).
    """
    keep_on(x, _COUNTS, (np.asarray(counts, dtype=np.int64).copy(),))


def kept_column_counts(x: sp.csr_array | sp.csr_matrix) -> IntArray | None:
    """Return a copy of the column counts kept on `x` (:func:`keep_column_counts`), ``None`` where none are."""
    kept = kept_on(x, _COUNTS)
    return None if kept is None else kept[0].copy()


def _compiled(x: sp.csr_array, threads: int | None) -> sp.csr_array:
    """Return ``x.T`` made by the compiled counting sort, in ranges of rows of about equal entries."""
    from recframe.engine._compiled.transpose import transpose_into

    n_rows, n_columns = x.shape
    index_type = index_dtype(x.nnz, n_rows)
    indptr = np.empty(n_columns + 1, dtype=index_type)
    indices = np.empty(x.nnz, dtype=index_type)
    data = np.empty(x.nnz, dtype=x.data.dtype)
    with numba_threads(threads) as used:
        parts = _entry_ranges(x.indptr, used)
        transpose_into(
            _offsets(x.indptr),
            _unsigned(x.indices),
            read_only_view(x.data),
            n_columns,
            parts,
            indptr,
            indices,
            data,
        )
    made = sp.csr_array((data, indices, indptr), shape=(n_columns, n_rows))
    made.has_sorted_indices = True  # rows in order within each range, ranges in order
    return made


def column_counts(x: sp.csr_array, *, engine: Engine = "auto", threads: int | None = None) -> IntArray:
    """Return the number of stored entries in each column of `x` (the row lengths of its transpose).

    The same as ``np.bincount(x.indices, minlength=x.shape[1])``, counted in parallel by ranges of
    rows on the compiled engine (from 2^20 stored entries). The counts of a matrix whose arrays
    are read-only (a fitted model's) are kept on it: later calls, and those after a
    :func:`transpose` of it, cost a copy of the counts.

    Parameters
    ----------
    x : csr_array
        The matrix; checked (:func:`~recframe.engine.check_csr`) before any kernel reads it.
    engine : {"auto", "numba", "scipy"}
        The compiled count, or numpy's.
    threads : int, optional
        Threads of the compiled kernel; all cores by default.

    Returns
    -------
    ndarray of int64, shape (n_columns,)
        Each column's count.

    Raises
    ------
    TypeError, ValueError, IndexError
        If `x` is not a well-formed CSR matrix.
    """
    threads = check_threads(threads)
    x = check_csr(x, "x")
    kept = kept_column_counts(x)
    if kept is not None:
        return kept
    if resolve_engine(engine) != "numba" or x.nnz < COMPILED_TRANSPOSE:
        total: IntArray = np.bincount(x.indices, minlength=x.shape[1]).astype(np.int64, copy=False)
    else:
        from recframe.engine._compiled.transpose import count_columns

        with numba_threads(threads) as used:
            parts = _entry_ranges(x.indptr, used)
            counts = np.zeros((len(parts) - 1, x.shape[1]), dtype=np.int64)
            count_columns(_offsets(x.indptr), _unsigned(x.indices), parts, counts)
        total = counts.sum(axis=0)
    keep_column_counts(x, total)
    return total


def _unsigned(indices: np.ndarray) -> np.ndarray:
    """Return the (checked, so non-negative) column indices as unsigned: the kernels skip numba's wraparound test."""
    if indices.dtype.itemsize not in (4, 8):  # int16, say: one compiled version per 32/64-bit type
        indices = indices.astype(np.int64)
    return read_only_view(indices.view(np.uint32 if indices.dtype.itemsize == 4 else np.uint64))


def _offsets(indptr: np.ndarray) -> np.ndarray:
    """Return the row offsets as read-only int64 (one compiled version of a kernel; a copy of n + 1 values)."""
    return read_only_view(indptr.astype(np.int64, copy=False))
