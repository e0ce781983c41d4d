"""Checks of what the engine's primitives are given, run before any kernel reads it.

A compiled (numba) kernel does not check bounds: an out-of-range row or column index, CSR arrays
that disagree with each other, or factors of mismatched shapes would make it read or write
memory outside the arrays. Every primitive that dispatches to a kernel (:func:`top_n_product`,
:func:`top_k_neighbours`, :func:`top_k_by_measure`) therefore checks its inputs here first,
the same for both engines, so that a bad input raises a clear :class:`ValueError`,
:class:`IndexError` or :class:`TypeError` on numba and scipy alike. The checks are vectorised
(``min``, ``max`` and ``diff`` over the index arrays), never Python loops.

Reading every index is O(stored entries), too much per query of a served model, so a matrix
whose arrays are read-only (a memory-mapped saved model, or one :func:`freeze_checked` froze
when it was fitted) is checked whole once and marked; later calls check it in O(1). A caller
whose kernel checks every row it reads (the few-rows path of
:func:`~recframe.engine.top_n_product`) passes ``lazy=True`` and never scans such a matrix
whole: a served model's first query then reads only the pages it needs.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import IntArray


def check_at_least(value: object, name: str, lowest: int, kind: str = "", after: str = "") -> int:
    """Return `value` as an int if it is an integer (not a bool) of at least `lowest`; `kind`, `after` word errors."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be a whole number{kind}; got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    if int(value) < lowest:
        msg = f"{name} must be {lowest} or more{after}; got {int(value)}"
        raise ValueError(msg)
    return int(value)


def check_count(value: object, name: str) -> int:
    """Return `value` as an int if it is a whole number ``>= 0`` (a list length such as ``n`` or ``k``).

    Raises
    ------
    TypeError
        If `value` is not an integer (a bool or a float included).
    ValueError
        If `value` is negative.
    """
    return check_at_least(value, name, 0)


def check_threads(threads: object) -> int | None:
    """Return `threads` if it is ``None`` (all cores) or a whole number ``>= 1``.

    Checked whichever engine runs, so that a setting the scipy engine ignores is still refused
    where it is wrong, rather than on the day the compiled engine is installed.

    Raises
    ------
    TypeError
        If `threads` is neither ``None`` nor an integer (a bool, a float or a string).
    ValueError
        If `threads` is 0 or negative.
    """
    if threads is None:
        return None
    return check_at_least(threads, "threads", 1, " of threads or None (all cores)", ", or None for all cores")


def check_memory(max_memory_mb: object, name: str = "max_memory_mb") -> int:
    """Return `max_memory_mb` if it is a whole number of megabytes ``>= 0``.

    0 is the smallest budget there is: blocks of one row each (a test's way to run every block
    boundary on a tiny matrix).

    Raises
    ------
    TypeError
        If it is not an integer (a bool, a float or ``None`` included).
    ValueError
        If it is negative.
    """
    return check_at_least(max_memory_mb, name, 0, " of megabytes", " (megabytes)")


def check_finite_values(matrix: sp.csr_array | sp.csr_matrix, name: str) -> None:
    """Raise ``ValueError`` naming the first stored entry of `matrix` that is ``nan`` or infinite.

    A kernel would otherwise drop a ``nan`` product silently (it is never above a threshold)
    and rank an infinite one first, so a malformed input would give plausible lists.
    """
    data = matrix.data
    if data.dtype.kind != "f":
        return
    finite = np.isfinite(data)
    if finite.all():
        return
    place = int(np.flatnonzero(~finite)[0])
    row = int(np.searchsorted(matrix.indptr, place, side="right")) - 1
    msg = (
        f"{name} holds {float(data[place])!r} at row {row}, column {int(matrix.indices[place])}; "
        "stored values must be finite numbers"
    )
    raise ValueError(msg)


_CHECKED = "_recframe_checked"
"""Attribute of a matrix checked whole: the arrays it had then (all read-only)."""


def _read_only(array: np.ndarray) -> bool:
    """Return whether nobody can write to `array`: neither it nor any array it views is writeable."""
    base: object = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return True


def read_only_view(array: np.ndarray) -> np.ndarray:
    """Return `array` itself if it is read-only, else a read-only view of it (no copy).

    numba compiles a kernel once per argument type, and a read-only array is a type of its
    own: passing every matrix array read-only (as fitted and loaded matrices are) keeps one
    compiled version per index dtype instead of one per mix of writable and read-only inputs,
    which is compile time on the first call of every process.
    """
    if not array.flags.writeable:
        return array
    view = array.view()
    view.flags.writeable = False
    return view


_PARTS = "_recframe_kernel_parts"
"""Attribute of a read-only matrix: its arrays in the kernels' dtypes, converted once."""


def csr_parts(
    matrix: sp.csr_array | None, index_dtype: npt.DTypeLike, *, keep_float32: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the CSR arrays in the dtypes the kernel is compiled for (int64 offsets, float64 values).

    With `keep_float32`, float32 values stay float32 (for a kernel that sums them in float64:
    the products are the same, and a float32 matrix is not copied). The conversion of a matrix
    whose arrays are read-only (a served model) is kept on it, so that it is paid once, not on
    every call.
    """
    if matrix is None:
        empty = (np.zeros(1, dtype=np.int64), np.zeros(0, dtype=index_dtype), np.zeros(0))
        return tuple(read_only_view(a) for a in empty)  # type: ignore[return-value]
    value_dtype = np.float32 if keep_float32 and matrix.data.dtype == np.float32 else np.float64
    kept = kept_on(matrix, _PARTS)
    if kept is not None and kept[1].dtype == index_dtype and kept[2].dtype == value_dtype:
        return kept  # type: ignore[return-value]
    parts = (  # read-only, one compiled version per index dtype (see read_only_view)
        matrix.indptr.astype(np.int64, copy=False),
        matrix.indices.astype(index_dtype, copy=False),
        matrix.data.astype(value_dtype, copy=False),
    )
    keep_on(matrix, _PARTS, parts)
    return tuple(read_only_view(a) for a in parts)  # type: ignore[return-value]


def keep_on(matrix: sp.csr_array | sp.csr_matrix, key: str, value: tuple[np.ndarray, ...]) -> None:
    """Keep `value` (arrays derived from `matrix`) on `matrix` under `key`, read-only, if its arrays are read-only.

    For what costs a pass over the entries and never changes while the matrix doesn't: the
    kernels' copies of its arrays (:func:`csr_parts`), its row totals. :func:`kept_on` gives it back.
    """
    if frozen(matrix):
        setattr(matrix, key, (_stamp(matrix), tuple(read_only_view(a) for a in value)))


def kept_on(matrix: sp.csr_array | sp.csr_matrix, key: str) -> tuple[np.ndarray, ...] | None:
    """Return what :func:`keep_on` kept on `matrix` under `key`, or ``None`` if it may be stale.

    Kept values are given back while the matrix has the very arrays (and the shape) it had then,
    all read-only, and the kept arrays are read-only too: a copy that came through pickle brings the attribute
    along, its arrays writable again, and is computed afresh.
    """
    entry = getattr(matrix, key, None)
    if entry is None:
        return None
    stamp, value = entry
    fresh = _same_stamp(stamp, matrix) and frozen(matrix)
    return value if fresh and not any(a.flags.writeable for a in value) else None


Parts = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A CSR matrix as the kernels take it: ``(indptr, indices, data)`` (:func:`csr_parts`)."""


def product_arguments(
    rows: np.ndarray,
    a: Parts,
    b: Parts,
    n_cols: int,
    scales: tuple[np.ndarray, np.ndarray],
    seen: Parts,
    exclude: Parts,
    exclude_self: bool,
    n: int,
    columns: np.ndarray,
    scores: np.ndarray,
) -> tuple[Any, ...]:
    """Return the arguments of the compiled top-n product kernels after their slice, in their order.

    Both the batch kernel (``rows_top_n(start, stop, *arguments)``) and the few-rows one
    (``checked_top_n(*arguments)``) take them so; `seen` and `exclude` give their structure only.

    Returns
    -------
    tuple
        ``rows``, the arrays of `a` and `b`, `n_cols`, the two scales, the offsets and indices
        of `seen` and `exclude`, `exclude_self`, `n`, and the outputs `columns` and `scores`.
    """
    return (rows, *a, *b, n_cols, *scales, *seen[:2], *exclude[:2], exclude_self, n, columns, scores)


def _arrays(matrix: sp.csr_array | sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return matrix.indptr, matrix.indices, matrix.data


def _stamp(matrix: sp.csr_array | sp.csr_matrix) -> tuple[Any, ...]:
    """Return what a mark or a kept value on `matrix` holds for: its very arrays and its shape.

    The shape too: scipy's ``resize`` can change it alone, keeping the arrays.
    """
    return (*_arrays(matrix), tuple(matrix.shape))


def _same_stamp(marked: tuple[Any, ...], matrix: sp.csr_array | sp.csr_matrix) -> bool:
    """Return whether `matrix` still has the arrays (the very objects) and the shape of `marked`."""
    now = _stamp(matrix)
    return (
        len(marked) == len(now)
        and all(a is b for a, b in zip(marked[:3], now[:3], strict=True))
        and marked[3] == now[3]
    )


def is_checked(matrix: sp.csr_array | sp.csr_matrix) -> bool:
    """Return whether `matrix` was checked whole and its arrays (and shape) are still those, all read-only."""
    marked = getattr(matrix, _CHECKED, None)
    return marked is not None and _same_stamp(marked, matrix) and frozen(matrix)


def frozen(matrix: sp.csr_array | sp.csr_matrix) -> bool:
    """Return whether every array of `matrix` is read-only (e.g. memory-mapped read-only)."""
    return all(_read_only(a) for a in _arrays(matrix))


def freeze(matrix: sp.csr_array) -> sp.csr_array:
    """Make `matrix`'s arrays read-only (a component's fitted state, never changed); return it.

    A read-only matrix is checked whole at most once (see :func:`check_csr`). An array that
    views a writeable one (which could still change it) is replaced by a read-only copy; others
    are only flagged, so this reads nothing of memory-mapped or loaded state.

    Parameters
    ----------
    matrix : csr_array
        A matrix nobody changes any more.

    Returns
    -------
    csr_array
        `matrix` itself, its arrays read-only.
    """
    for name in ("indptr", "indices", "data"):
        array = getattr(matrix, name)
        if isinstance(array.base, np.ndarray) and not _read_only(array.base):
            array = array.copy()
            setattr(matrix, name, array)
        array.flags.writeable = False
    return matrix


def mark_checked(matrix: sp.csr_array) -> sp.csr_array:
    """Make `matrix`'s arrays read-only and mark it checked without reading it; return it.

    Internal to the engine, never for a matrix from elsewhere: a malformed matrix marked so
    would let the kernels read outside its arrays. Only for a matrix the engine made
    well-formed by construction from checked inputs (a
    transpose, a merge whose kernel verified every row it wrote): the checks of every offset
    and index that :func:`check_csr` would run on its first use (two passes over the indices,
    0.01-0.02 s for ML-20M's 18 million entries) would find nothing. Its arrays are the
    engine's own, so the arrays they view (scipy wraps the ones it is given) are flagged
    read-only too, rather than copied.
    """
    flag_read_only(matrix)
    setattr(matrix, _CHECKED, _stamp(matrix))
    return matrix


def flag_read_only(matrix: sp.csr_array | sp.csr_matrix) -> None:
    """Flag `matrix`'s arrays and every array they view read-only (no copy): for a matrix nobody changes again."""
    for array in _arrays(matrix):
        base: object = array
        while isinstance(base, np.ndarray):
            base.flags.writeable = False
            base = base.base


def freeze_shared(matrix: sp.csr_array, name: str = "matrix") -> sp.csr_array:
    """Make `matrix`'s arrays and every array they view read-only, with no copy; check it whole and mark it.

    For a matrix the caller hands over (a backend keeping the caller's rows rather than a
    copy): unlike :func:`freeze`, an array that views a writeable one is not copied but its
    base is flagged read-only too, so that the caller can no longer change the values through
    it (nor through views it takes later).

    Parameters
    ----------
    matrix : csr_array
        A matrix nobody changes any more.
    name : str
        Its name in error messages.

    Returns
    -------
    csr_array
        `matrix` itself, read-only and marked checked.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`check_csr`.
    """
    flag_read_only(matrix)
    return check_csr(matrix, name)


def freeze_checked(matrix: sp.csr_array, name: str = "matrix") -> sp.csr_array:
    """Make `matrix`'s arrays read-only, check it whole and mark it checked; return it.

    For matrices a component owns and never changes (its fitted state): later
    :func:`check_csr` calls on it cost O(1).

    Parameters
    ----------
    matrix : csr_array
        A matrix nobody changes any more.
    name : str
        Its name in error messages.

    Returns
    -------
    csr_array
        `matrix` itself, read-only and marked checked.

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`check_csr`.
    """
    return check_csr(freeze(matrix), name)


def check_csr(
    matrix: object,
    name: str,
    shape: tuple[int | None, int | None] = (None, None),
    *,
    lazy: bool = False,
    columns: bool = True,
) -> sp.csr_array:
    """Return `matrix` if it is a well-formed CSR matrix of `shape` (``None``: any size).

    Well-formed: ``indptr`` has one entry per row plus one, starts at 0, never decreases and
    ends at ``len(indices) == len(data)``; every column index is in ``[0, n_columns)``; the
    index arrays are integers and the data finite numbers (no ``nan``, no infinity).

    The checks of every offset and index (O(stored entries)) are run once for a matrix whose
    arrays are read-only, which is then marked (see :func:`is_checked`); with `lazy` they are
    skipped for such a matrix, for a caller whose kernel checks each row it reads. Without
    `columns`, the column indices are not read (O(rows), not O(stored entries)): for a caller
    whose kernel reads only the offsets and the values (row totals, say).

    Raises
    ------
    TypeError
        If `matrix` is not a scipy CSR matrix, or its arrays have the wrong dtypes.
    ValueError
        If its shape is not `shape`, its ``indptr`` is inconsistent or a value is not finite.
    IndexError
        If a column index is outside the matrix (with `columns`).
    """
    if not (sp.issparse(matrix) and matrix.format == "csr"):  # type: ignore[attr-defined]
        msg = f"{name} must be a scipy CSR matrix (csr_array); got {type(matrix).__name__}"
        raise TypeError(msg)
    assert isinstance(matrix, sp.csr_array | sp.csr_matrix)
    n_rows, n_cols = matrix.shape
    for axis, (want, got) in enumerate(zip(shape, (n_rows, n_cols), strict=True)):
        if want is not None and want != got:
            msg = f"{name} has shape {matrix.shape}; expected {want} {'rows' if axis == 0 else 'columns'}"
            raise ValueError(msg)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    if indptr.dtype.kind not in "iu" or indices.dtype.kind not in "iu":
        msg = f"{name} has index arrays of dtype {indptr.dtype}/{indices.dtype}; expected integers"
        raise TypeError(msg)
    if data.dtype.kind not in "biuf":
        msg = f"{name} has data of dtype {data.dtype}; expected numbers"
        raise TypeError(msg)
    if indptr.ndim != 1 or len(indptr) != n_rows + 1:
        msg = f"{name} has {len(indptr)} row offsets (indptr) for {n_rows} rows; expected {n_rows + 1}"
        raise ValueError(msg)
    nnz = int(indptr[-1])
    if int(indptr[0]) != 0 or nnz != len(indices) or len(indices) != len(data):
        msg = (
            f"{name} is inconsistent: indptr runs from {int(indptr[0])} to {nnz}, with {len(indices)} "
            f"column indices and {len(data)} values"
        )
        raise ValueError(msg)
    if is_checked(matrix) or (lazy and frozen(matrix)):
        return matrix
    if n_rows and (indptr[1:] < indptr[:-1]).any():  # not np.diff: it wraps around for unsigned offsets
        msg = f"{name} has decreasing row offsets (indptr)"
        raise ValueError(msg)
    check_finite_values(matrix, name)
    if not columns:
        return matrix  # not marked: its column indices were not read
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
        bad = int(indices.min()) if int(indices.min()) < 0 else int(indices.max())
        msg = f"{name} has column index {bad} outside [0, {n_cols})"
        raise IndexError(msg)
    if frozen(matrix):
        setattr(matrix, _CHECKED, _stamp(matrix))
    return matrix


def check_canonical(matrix: sp.csr_array, name: str) -> sp.csr_array:
    """Return `matrix` if its rows are canonical: column indices sorted, none twice.

    For kernels that count a row's entries or merge two rows by column (the measures' co-counts
    and intersections), where a duplicate entry would be counted twice. The check reads the
    indices once (scipy caches the answer on the matrix).

    Raises
    ------
    ValueError
        If a row has unsorted or repeated column indices; the message says how to fix it.
    """
    if not matrix.has_canonical_format:
        msg = (
            f"{name} is not canonical (a row has unsorted or repeated column indices); "
            f"call .sum_duplicates() on it first"
        )
        raise ValueError(msg)
    return matrix


def check_rows(rows: object, n_rows: int, name: str = "rows") -> IntArray:
    """Return `rows` as int64 if it is a 1-d integer array of rows in ``[-1, n_rows)`` (``-1``: none).

    Raises
    ------
    TypeError
        If `rows` is not of an integer dtype (floats are refused, not truncated).
    ValueError
        If `rows` is not 1-d.
    IndexError
        If a row is below ``-1`` or at least `n_rows`.
    """
    array = np.asarray(rows)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.dtype.kind not in "iu":
        msg = f"{name} must be integer row numbers; got dtype {array.dtype}"
        raise TypeError(msg)
    if array.ndim != 1:
        msg = f"{name} must be 1-d; got shape {array.shape}"
        raise ValueError(msg)
    low, high = int(array.min()), int(array.max())
    if low < -1 or high >= n_rows:
        bad = low if low < -1 else high
        msg = f"{name} holds row {bad}, outside [-1, {n_rows}) (-1 marks a missing row)"
        raise IndexError(msg)
    return array.astype(np.int64, copy=False)


def check_product_inputs(
    a: object,
    rows: object,
    b: object,
    n: object,
    seen: object | None,
    exclude: object | None,
    exclude_self: bool,
    *,
    lazy: bool = False,
) -> tuple[sp.csr_array, IntArray, sp.csr_array, int]:
    """Check the inputs of :func:`~recframe.engine.top_n_product`; return `a`, `rows`, `b` and `n`.

    With `lazy`, read-only `a`, `b` and `seen` are not scanned whole (see :func:`check_csr`).

    Raises
    ------
    TypeError, ValueError, IndexError
        As :func:`check_csr` and :func:`check_rows`, and for factors whose inner sizes differ,
        `seen` or `exclude` of the wrong shape, or ``exclude_self`` with fewer columns than
        rows of `a`.
    """
    count = check_count(n, "n")
    left = check_csr(a, "a", lazy=lazy)
    right = check_csr(b, "b", (left.shape[1], None), lazy=lazy)
    n_cols = right.shape[1]
    checked = check_rows(rows, left.shape[0])
    if seen is not None:
        check_csr(seen, "seen", (left.shape[0], n_cols), lazy=lazy)
    if exclude is not None:
        check_csr(exclude, "exclude", (len(checked), n_cols))
    if exclude_self and left.shape[0] > n_cols:
        msg = f"exclude_self needs as many columns as rows; a has {left.shape[0]} rows and b {n_cols} columns"
        raise ValueError(msg)
    return left, checked, right, count
