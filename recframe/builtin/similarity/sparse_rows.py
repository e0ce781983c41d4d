"""The rows the ``sparse`` backend keeps: canonical float64 CSR, and their transpose (the caller's or its own).

Plain cosine and dot search the rows as given (no normalised copy), so the helpers here keep
the caller's arrays where they can, read-only, and check a transpose the caller hands over
entry by entry before a kernel trusts it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.engine import check_transpose, compiled_by_default, freeze_checked, freeze_shared

COMPILED_CHECK = 1 << 20
"""Stored entries from which a given transpose is checked by the compiled kernel (in parallel, no
temporary); a smaller one is compared with a transpose made here, which costs milliseconds and
spares a small model (the quickstart) the kernel's compilation on a cold cache."""


def canonical(rows: sp.csr_array, *, share: bool = False) -> sp.csr_array:
    """Return `rows` as float64 CSR with sorted indices and no duplicates.

    The values are a copy (the index arrays are shared when canonical), unless `share` and
    they are float64 already: then nothing is copied, and the caller's arrays become read-only.
    """
    given = rows
    rows = rows if isinstance(rows, sp.csr_array) else sp.csr_array(rows)  # the same arrays: what's known of them holds
    if rows.has_canonical_format:
        if share and rows.data.dtype == np.float64:
            if sp.issparse(given) and given.format == "csr":  # the caller's arrays are ours now: read-only
                for array in (given.data, given.indices, given.indptr):
                    array.flags.writeable = False
            return rows
        data = rows.data.astype(np.float64, copy=True)
        return sp.csr_array((data, rows.indices, rows.indptr), shape=rows.shape, copy=False)
    prepared = sp.csr_array(rows, dtype=np.float64, copy=True)
    prepared.sum_duplicates()
    prepared.sort_indices()
    return prepared


def transpose_of(rows: sp.csr_array, transposed: sp.csr_array | None) -> sp.csr_array:
    """Return the caller's transpose of the (frozen, canonical) `rows`, checked and frozen, or one made here.

    One made here stores float32 values when they equal the float64 ones (the kernels sum
    in float64 either way): half the values' memory.
    """
    if transposed is None:
        made = _transpose(rows)
        narrow = made.data.astype(np.float32)
        if np.array_equal(narrow, made.data):
            made.data = narrow
        return freeze_checked(made, "transposed")
    # the caller's own object where it is one: a transpose made by recframe.engine.transpose is known as such
    given = transposed if isinstance(transposed, sp.csr_array) else sp.csr_array(transposed)
    given = freeze_shared(given, "transposed")
    if given.shape != rows.shape[::-1]:
        msg = f"transposed has shape {given.shape}; expected {rows.shape[::-1]}, the transpose of the rows"
        raise ValueError(msg)
    if given.data.dtype not in (np.float32, np.float64):
        given = freeze_checked(sp.csr_array(given, dtype=np.float64), "transposed")
    if compiled_by_default() and rows.nnz >= COMPILED_CHECK:
        check_transpose(rows, given)  # one pass, kept on the pair: the searches then check in O(1)
    else:  # compare with a transpose made here (a temporary; no kernel to compile for a small model)
        made = _transpose(rows)
        pairs = zip((made.indptr, made.indices, made.data), (given.indptr, given.indices, given.data), strict=True)
        if not all(np.array_equal(a, b) for a, b in pairs):
            msg = (
                "transposed is not the transpose of the rows (entries or values differ, or a row is unsorted); "
                "pass sp.csr_array(rows.T) after sort_indices(), or call fit(rows)"
            )
            raise ValueError(msg)
    return given


def _transpose(rows: sp.csr_array) -> sp.csr_array:
    """Return ``rows.T`` as CSR with sorted indices, the layout the kernels and the checks take."""
    made = sp.csr_array(rows.T)
    made.sort_indices()
    return made
