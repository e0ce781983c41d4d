"""The few-rows path of :func:`~recframe.engine.top_n_product`: one query (or a few) at low latency.

A single-user query of a served model must not pay for what only batches need: the batch path's
pool of threads (entered under the process-wide compiled-kernel lock, with numba's thread count
set and reset around it), converting whole matrices to the kernel's dtypes, or checking every
stored index. For up to :data:`FEW_ROWS` query rows :func:`few_rows_product` runs a serial
compiled kernel instead, without the lock (concurrent callers run side by side), on the
matrices' own arrays (numba compiles a version per index dtype), and the kernel itself checks
each row it reads, so the whole-matrix checks of read-only (served) matrices are skipped. The
lists are the same as the batch path's, ties included: both run the same per-row code.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.dispatch import compiled_by_default
from recframe.engine.kernel_inputs import check_product_inputs, csr_parts, product_arguments

FEW_ROWS = 256
"""Up to this many query rows run serially, without the lock. Measured on the ML-1M shape
(item_cf, top-10, 2 cores) when the batch path launched numba's parallel kernel: serial 0.04-0.05
ms a row at any count, parallel 1.4 ms a row for 4 rows, 0.25 ms for 32, 0.06 ms for 256 (its
launch cost about 5 ms). The batch path's pool of threads starts in well under a millisecond
(0.30 ms a row for 4 rows, 0.055 for 32, 0.021 for 256, against serial 0.34, 0.058 and 0.031
in the same run), so what the serial path still saves a served query is the lock: concurrent
callers run side by side."""

_EMPTY_INDPTR = np.zeros(1, dtype=np.int64)
_EMPTY_INDPTR.flags.writeable = False
_NO_NORMS = np.zeros(0)
_NO_NORMS.flags.writeable = False


def _parts(
    matrix: sp.csr_array | None, like: np.ndarray, *, small: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the arrays of `matrix` as the kernel takes them (:func:`csr_parts`): int64 offsets.

    Indices of int32 or int64 keep their dtype, so nothing is converted (the offsets, one per
    row, are, once for a read-only matrix). A `small` matrix (the exclusions of a query) and an
    absent one get indices of the dtype of `like`.
    """
    if matrix is None or small:
        dtype = like.dtype
    elif matrix.indices.dtype in (np.int32, np.int64):
        dtype = matrix.indices.dtype
    else:
        dtype = np.dtype(np.int64)
    return csr_parts(matrix, dtype)


def warm_up() -> None:
    """Start numba and load the few-rows kernel for int32 and int64 indices, once per process.

    The first compiled call of a process costs about 0.3 s and 75 MB (numba's runtime starting,
    beyond importing it); a server calls this before it answers, so its first query does not.
    Without numba, or with ``RECFRAME_ENGINE=scipy``, this does nothing.
    """
    if not compiled_by_default():
        return
    from recframe.engine._compiled.few_rows import checked_top_n

    for dtype in (np.int32, np.int64):  # read-only, as fitted and loaded matrices are (a type of their own)
        indptr, indices, data = np.zeros(2, dtype=np.int64), np.zeros(1, dtype=dtype), np.ones(1)
        for array in (indptr, indices, data):
            array.flags.writeable = False
        checked_top_n(
            np.zeros(1, dtype=np.int64), indptr, indices, data, indptr, indices, data, 1, _NO_NORMS, _NO_NORMS,
            indptr, indices, _EMPTY_INDPTR, indices[:0], False, 1, np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1)),
        )  # fmt: skip


def few_rows_product(
    a: sp.csr_array,
    rows: IntArray,
    b: sp.csr_array,
    n: int,
    seen: sp.csr_array | None,
    exclude: sp.csr_array | None,
    exclude_self: bool,
    columns: IntArray,
    scores: FloatArray,
    *,
    scales: tuple[np.ndarray, np.ndarray] = (_NO_NORMS, _NO_NORMS),
) -> None:
    """Fill `columns` and `scores` with the top-`n` of ``A[r] @ B`` for each of a few `rows`.

    The inputs passed :func:`~recframe.engine.kernel_inputs.check_product_inputs` with
    ``lazy=True``; the kernel checks the rows it reads. `scales`: the query rows' and the
    columns' inverse norms, checked and read-only, to multiply each sum by (both empty: the sums).

    Raises
    ------
    TypeError, ValueError, IndexError
        If a row the kernel would read is malformed: the whole-matrix checks then run and name it.
    """
    from recframe.engine._compiled.few_rows import checked_top_n

    extra = None if exclude is None else sp.csr_array(exclude)
    status = checked_top_n(
        *product_arguments(
            rows,
            _parts(a, b.indices),
            _parts(b, b.indices),
            b.shape[1],
            scales,
            _parts(seen, b.indices),
            _parts(extra, b.indices, small=True),
            exclude_self,
            n,
            columns,
            scores,
        )
    )
    if status:
        check_product_inputs(a, rows, b, n, seen, exclude, exclude_self)  # names what is malformed
        msg = "a matrix changed while it was read: a row the kernel reads is malformed"
        raise ValueError(msg)
