"""Compiled serial top-n product for a few query rows, checking only the rows it reads.

The kernel behind the few-rows path of :func:`recframe.engine.top_n_product`
(:mod:`recframe.engine.few_rows`): one thread, no thread pool, no lock, so concurrent callers
(a server answering one user per request) run side by side. Before computing anything it checks
the CSR structure of every row it will read (the query rows of ``A`` and of ``seen``, and each
row of ``B`` they reach): offsets inside the index array and column indices inside the matrix.
That costs O(query rows + touched rows), not O(stored entries), and keeps the guarantee that a
malformed matrix raises instead of reading outside an array.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.products import rows_top_n

BAD_A = 1
"""Status of :func:`checked_top_n`: a query row of ``A`` is malformed."""
BAD_B = 2
"""Status: a row of ``B`` reached by a query row is malformed."""
BAD_SEEN = 3
"""Status: a query row of ``seen`` is malformed."""


@numba.njit(inline="always", cache=True)
def _row_ok(indptr: np.ndarray, indices: np.ndarray, r: int, n_cols: int) -> bool:
    """Return whether row `r` has offsets inside `indices` and column indices in ``[0, n_cols)``."""
    start, stop = indptr[r], indptr[r + 1]
    if start < 0 or stop < start or stop > indices.shape[0]:
        return False
    for p in range(start, stop):
        j = indices[p]
        if j < 0 or j >= n_cols:
            return False
    return True


@numba.njit(nogil=True, cache=True)
def checked_top_n(
    rows: np.ndarray,
    a_indptr: np.ndarray,
    a_indices: np.ndarray,
    a_data: np.ndarray,
    b_indptr: np.ndarray,
    b_indices: np.ndarray,
    b_data: np.ndarray,
    n_cols: int,
    q_scales: np.ndarray,
    t_scales: np.ndarray,
    seen_indptr: np.ndarray,
    seen_indices: np.ndarray,
    extra_indptr: np.ndarray,
    extra_indices: np.ndarray,
    exclude_self: bool,
    n: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
) -> int:
    """Check the rows the product reads, then fill `out_j`, `out_v` as :func:`rows_top_n` does.

    `rows` are in ``[-1, n_rows of A)`` and ``len(indptr) == n_rows + 1`` for ``A``, ``B`` and
    ``seen`` (checked by the caller, O(1)); `extra` was checked whole (it has one row per query).

    Returns
    -------
    int
        0 when the outputs were filled; :data:`BAD_A`, :data:`BAD_B` or :data:`BAD_SEEN` when a
        row read is malformed (the outputs are then untouched).
    """
    n_inner = b_indptr.shape[0] - 1
    has_seen = seen_indptr.shape[0] > 1
    for pos in range(rows.shape[0]):
        r = rows[pos]
        if r < 0:
            continue
        if not _row_ok(a_indptr, a_indices, r, n_inner):
            return BAD_A
        for p in range(a_indptr[r], a_indptr[r + 1]):
            if not _row_ok(b_indptr, b_indices, a_indices[p], n_cols):
                return BAD_B
        if has_seen and not _row_ok(seen_indptr, seen_indices, r, n_cols):
            return BAD_SEEN
    rows_top_n(
        np.int64(0),  # type: ignore[arg-type]  # not the literal 0: the int64 version the batch path calls
        rows.shape[0],
        rows,
        a_indptr,
        a_indices,
        a_data,
        b_indptr,
        b_indices,
        b_data,
        n_cols,
        q_scales,
        t_scales,
        seen_indptr,
        seen_indices,
        extra_indptr,
        extra_indices,
        exclude_self,
        n,
        out_j,
        out_v,
    )
    return 0
