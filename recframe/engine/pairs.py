"""The symmetric neighbour search split into blocks of pairs: each pair of rows computed once, anywhere.

:func:`~recframe.engine.top_k_neighbours` computes each pair ``(i, j > i)`` of ``X @ X.T`` once
and offers it to both rows' lists. A search split into blocks of query rows (to run them on an
executor) computes every pair twice, once from each side. This module splits the pairs
instead: the block ``[start, stop)`` computes the pairs ``(i, j > i)`` with ``start <= i <
stop`` and returns what they offer to every row from ``start`` on (:func:`pair_offers`);
:func:`merge_offers` folds each block's lists into the running top-k lists, in any order. The
result is :func:`~recframe.engine.top_k_neighbours`'s, bit for bit: a pair's sum is accumulated
in the same order whichever block computes it, and lists are merged by the kernels' total
order (score, then lower row), under which the top-k of a union does not depend on the order
its parts arrive in.

Examples
--------
>>> import numpy as np
>>> import scipy.sparse as sp
>>> from recframe.engine import merge_offers, pair_bounds, pair_offers, pair_positions
>>> x = sp.csr_array(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
>>> t = sp.csr_array(x.T)
>>> positions = pair_positions(x, t)  # once, for every block
>>> columns, scores = np.full((4, 2), -1), np.zeros((4, 2))
>>> for start, stop in pair_bounds(x, t, positions, 2):
...     offered = pair_offers(x, t, positions, start, stop, 2)
...     merge_offers(columns, scores, *offered, start)
>>> columns.tolist()
[[3, 1], [3, 0], [3, 0], [0, 1]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.dispatch import Engine, numba_threads, resolve_engine
from recframe.engine.kernel_inputs import check_count, check_csr, csr_parts, read_only_view

_Parts = tuple[np.ndarray, np.ndarray, np.ndarray]

HEAP_BYTES = 17
"""Bytes of the symmetric kernel's heaps per row, per kept neighbour and per thread."""


def symmetric_parts(x: sp.csr_array, transposed: sp.csr_array) -> tuple[_Parts, _Parts]:
    """Return the CSR arrays of `x` and its transpose as the symmetric kernel takes them.

    32-bit indices where the sizes allow, and the transpose's column indices as unsigned
    (they are checked ``>= 0``: the scatter loop then skips numba's negative-index wraparound,
    -12% for a scatter-only loop on the realistic ML-20M shape).
    """
    small = max(x.shape) < np.iinfo(np.int32).max
    index_dtype, unsigned = (np.int32, np.uint32) if small else (np.int64, np.uint64)
    x_parts, t_parts = csr_parts(x, index_dtype), csr_parts(transposed, index_dtype)
    return x_parts, (t_parts[0], t_parts[1].view(unsigned), t_parts[2])


def transpose_positions(x_parts: _Parts, t_parts: _Parts, *, check_values: bool) -> IntArray:
    """Return where each stored entry of ``X`` sits in ``X.T`` (32-bit where the sizes allow), read-only.

    The entries are always checked; their values only with `check_values`.

    Raises
    ------
    ValueError
        If ``transposed`` does not hold exactly the entries and values of ``x``, or a row of either is
        unsorted or repeats a column (checked here, before the kernel relies on it).
    """
    from recframe.engine._compiled.symmetric import transpose_positions as kernel

    nnz = len(x_parts[1])
    positions = np.empty(nnz, dtype=np.int32 if nnz < np.iinfo(np.int32).max else np.int64)
    same_entries = kernel(x_parts[0], x_parts[1], t_parts[0], t_parts[1], positions)
    step = 1 << 20  # the values too, a bounded slice at a time
    if not same_entries or (
        check_values
        and any(
            not np.array_equal(t_parts[2][positions[s : s + step]], x_parts[2][s : s + step])
            for s in range(0, nnz, step)
        )
    ):
        msg = (
            "transposed is not the transpose of x (entries or values differ), or a row of x has unsorted or repeated "
            "columns; call x.sum_duplicates() and pass sp.csr_array(x.T) after sort_indices(), or leave transposed out"
        )
        raise ValueError(msg)
    return read_only_view(positions)


def _checked(x: sp.csr_array, transposed: sp.csr_array) -> tuple[sp.csr_array, sp.csr_array]:
    """Return `x` and `transposed` checked as CSR matrices of transposed shapes; numba must be installed."""
    resolve_engine("numba")
    x = check_csr(x, "x")
    return x, check_csr(transposed, "transposed", (x.shape[1], x.shape[0]))


def pair_positions(x: sp.csr_array, transposed: sp.csr_array, *, check_values: bool = True) -> IntArray:
    """Return the place of each stored entry of `x` in `transposed`: what every block of pairs reads.

    Computed once per pair of matrices (O(stored entries)) and passed to :func:`pair_bounds`
    and to every :func:`pair_offers`.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows, with sorted, distinct column indices in every row (canonical format).
    transposed : csr_array of shape (n_columns, n_rows)
        ``X.T`` as CSR with sorted indices.
    check_values : bool
        Check the values of `transposed` against `x`, not only its entries (skip it for a
        transpose you made from `x` yourself).

    Returns
    -------
    ndarray of int32 or int64, read-only
        One position per stored entry of `x`.

    Raises
    ------
    ImportError
        If numba is not installed (the pair search is compiled only).
    TypeError, ValueError, IndexError
        If a matrix is malformed, or `transposed` is not the transpose of `x`.
    """
    x, transposed = _checked(x, transposed)
    return transpose_positions(*symmetric_parts(x, transposed), check_values=check_values)


def _check_positions(x: sp.csr_array, positions: IntArray) -> IntArray:
    if not isinstance(positions, np.ndarray) or positions.shape != (x.nnz,) or positions.dtype.kind not in "iu":
        msg = f"positions must be the integer array pair_positions returned, one per stored entry ({x.nnz}) of x"
        raise ValueError(msg)
    return positions


def pair_bounds(
    x: sp.csr_array,
    transposed: sp.csr_array,
    positions: IntArray,
    n_blocks: int,
    *,
    k: int | None = None,
    max_memory_mb: int | None = None,
) -> list[tuple[int, int]]:
    """Split the rows into at most `n_blocks` consecutive ranges ``[start, stop)`` of about equal pair work.

    Row ``i`` costs the multiply-adds of its pairs ``(i, j > i)`` (each stored entry ``(i, u)``
    meets the entries of column ``u`` below row ``i``) plus the ``n - 1 - i`` accumulator
    entries the kernel reads back: the first rows cost the most, so the first ranges are short.

    A block keeps a list for every row from its start on, so the first block's memory grows
    with all the rows: with `k` and `max_memory_mb`, no ranges come back when one thread's
    heaps of the first block (``17 n_rows k`` bytes) exceed `max_memory_mb` (search blocks of
    query rows instead; :func:`~recframe.engine.top_k_neighbours` computes each pair twice
    then, too).

    Parameters
    ----------
    x, transposed, positions
        As for :func:`pair_offers`.
    n_blocks : int
        Ranges wanted, at least 1; fewer come back when there are fewer rows (no range is empty).
    k : int, optional
        Partners each block will keep per row (for the memory check).
    max_memory_mb : int, optional
        The blocks' working memory (for the memory check).

    Returns
    -------
    list of (int, int)
        The ranges, in order, covering ``[0, n_rows)``; none for no rows, or when a block's
        heaps would not fit.

    Raises
    ------
    ValueError
        If `n_blocks` is below 1 or `positions` does not fit `x`.
    """
    from recframe.engine._compiled.symmetric import pair_work

    x, transposed = _checked(x, transposed)
    if check_count(n_blocks, "n_blocks") < 1:
        msg = "n_blocks must be 1 or more; got 0"
        raise ValueError(msg)
    positions = _check_positions(x, positions)
    n = x.shape[0]
    too_big = k is not None and max_memory_mb is not None and n * k * HEAP_BYTES > max_memory_mb << 20
    if n == 0 or too_big:
        return []
    x_parts, t_parts = symmetric_parts(x, transposed)
    work = np.empty(n, dtype=np.int64)
    pair_work(x_parts[0], x_parts[1], positions, t_parts[0], work)
    work += np.arange(n - 1, -1, -1)
    cumulative = np.cumsum(work)
    targets = np.linspace(0, cumulative[-1], n_blocks + 1)[1:-1]
    edges = np.unique(np.searchsorted(cumulative, targets) + 1)
    edges = edges[(edges > 0) & (edges < n)]
    starts, stops = np.r_[0, edges], np.r_[edges, n]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def pair_offers(
    x: sp.csr_array,
    transposed: sp.csr_array,
    positions: IntArray,
    start: int,
    stop: int,
    k: int,
    *,
    threads: int | None = None,
    max_memory_mb: int = 1024,
) -> tuple[IntArray, FloatArray]:
    """Return, for every row from `start` on, its best `k` partners among the pairs of rows ``[start, stop)``.

    The pairs of the block are ``(i, j > i)`` with ``start <= i < stop``.

    One block of :func:`~recframe.engine.top_k_neighbours`' work: the pairs whose first row is
    in the block, each computed once (in the order the whole search computes it) and offered
    to both rows; only positive products are offered, the diagonal never. Rows before `start`
    are offered nothing and are left out. Runs the compiled kernel on `threads` threads,
    inside :func:`~recframe.engine.numba_threads` (one compiled search at a time per process).

    Parameters
    ----------
    x, transposed : csr_array
        As for :func:`pair_positions`.
    positions : ndarray of int
        What :func:`pair_positions` returned for them.
    start, stop : int
        The block's rows, ``0 <= start <= stop <= n_rows``.
    k : int
        Partners kept per row.
    threads : int, optional
        Threads of the kernel; all cores by default.
    max_memory_mb : int
        Memory for the kernel's per-thread heaps (``17 (n_rows - start) k`` bytes a thread):
        fewer threads are used when they would not fit, one at least.

    Returns
    -------
    columns : ndarray of shape (n_rows - start, k), int64
        Row ``r`` is row ``start + r``'s partners, best first, ties by lower row; ``-1`` pads.
    scores : ndarray of shape (n_rows - start, k), float64
        The products; ``0.0`` where ``columns`` is ``-1``.

    Raises
    ------
    ValueError
        If the range is outside the rows or `positions` does not fit `x`.
    """
    from recframe.engine._compiled.symmetric import merge_heaps, symmetric_accumulate

    x, transposed = _checked(x, transposed)
    positions = _check_positions(x, positions)
    n = x.shape[0]
    start, stop, k = check_count(start, "start"), check_count(stop, "stop"), check_count(k, "k")
    if not start <= stop <= n:
        msg = f"the block [{start}, {stop}) is not a range of the {n} rows; give 0 <= start <= stop <= {n}"
        raise ValueError(msg)
    m = n - start
    columns = np.full((m, k), -1, dtype=np.int64)
    scores = np.zeros((m, k), dtype=np.float64)
    if k == 0 or start == stop:
        return columns, scores
    x_parts, t_parts = symmetric_parts(x, transposed)
    with numba_threads(threads) as used:
        sets = max(1, min(used, (max_memory_mb << 20) // max(m * k * HEAP_BYTES, 1)))
        hv = np.empty((sets, m, k), dtype=np.float64)
        hj = np.empty((sets, m, k), dtype=np.int64)
        hsize = np.zeros((sets, m), dtype=np.int64)
        floor = np.full((sets, m), -np.inf)
        symmetric_accumulate(start, stop, *x_parts, positions, *t_parts, hv, hj, hsize, floor)
        merge_heaps(hv, hj, hsize, columns, scores)
    return columns, scores


def merge_offers(
    columns: IntArray,
    scores: FloatArray,
    offered_columns: IntArray,
    offered_scores: FloatArray,
    first_row: int = 0,
    *,
    engine: Engine = "auto",
) -> None:
    """Merge lists of offered partners into running top-k lists, in place.

    Row ``r`` of the offers goes into row ``first_row + r`` of `columns` and `scores`, which
    keep the best of both by the kernels' order: higher score first, then lower column. Lists
    are best first and padded by ``-1`` (score ``0.0``) at the end. Merging the offers of
    disjoint sets of partners (the blocks of :func:`pair_bounds`), in any order, gives the
    top-k of their union.

    Parameters
    ----------
    columns : ndarray of shape (n_rows, k), int64
        The running lists, updated in place (start from all ``-1`` and ``0.0``).
    scores : ndarray of shape (n_rows, k), float64
        Their scores, updated in place.
    offered_columns : ndarray of shape (m, width), integer
        The offers, ``first_row + m <= n_rows``; any width.
    offered_scores : ndarray of shape (m, width), float
        Their scores.
    first_row : int
        The row of `columns` the first offered row goes into.
    engine : {"auto", "numba", "scipy"}
        The compiled merge, or a numpy sort of both lists (same result).

    Raises
    ------
    ValueError
        If the arrays' shapes or dtypes do not fit.
    """
    first_row = check_count(first_row, "first_row")
    offered_columns = np.asarray(offered_columns)
    offered_scores = np.asarray(offered_scores, dtype=np.float64)
    m = offered_columns.shape[0] if offered_columns.ndim == 2 else -1
    fits = (
        isinstance(columns, np.ndarray)
        and isinstance(scores, np.ndarray)
        and columns.dtype == np.int64
        and scores.dtype == np.float64
        and columns.ndim == 2
        and scores.shape == columns.shape
        and offered_columns.dtype.kind in "iu"
        and offered_scores.shape == offered_columns.shape
        and m >= 0
        and first_row + m <= columns.shape[0]
        and columns.flags.writeable
        and scores.flags.writeable
    )
    if not fits:
        msg = (
            "merge_offers needs writable int64 columns and float64 scores of one shape (n_rows, k), and integer "
            "offered columns with float scores of one shape (m, width), first_row + m <= n_rows; "
            f"got {np.shape(columns)}, {np.shape(scores)}, {offered_columns.shape}, {offered_scores.shape}, first_row "
            f"{first_row}"
        )
        raise ValueError(msg)
    if m == 0 or columns.shape[1] == 0:
        return
    if resolve_engine(engine) == "numba":
        from recframe.engine._compiled.symmetric import merge_offers as kernel

        kernel(columns, scores, offered_columns.astype(np.int64, copy=False), offered_scores, first_row)
        return
    rows = slice(first_row, first_row + m)
    both_columns = np.concatenate([columns[rows], offered_columns.astype(np.int64, copy=False)], axis=1)
    both_scores = np.concatenate([scores[rows], offered_scores], axis=1)
    missing = both_columns < 0
    order = np.lexsort(
        (np.where(missing, np.iinfo(np.int64).max, both_columns), np.where(missing, np.inf, -both_scores)), axis=1
    )[:, : columns.shape[1]]
    columns[rows] = np.take_along_axis(both_columns, order, axis=1)
    scores[rows] = np.where(columns[rows] >= 0, np.take_along_axis(both_scores, order, axis=1), 0.0)
