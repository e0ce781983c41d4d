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
>>> from recframe.engine import merge_offers, pair_bounds, pair_offers
>>> x = sp.csr_array(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
>>> t = sp.csr_array(x.T)
>>> columns, scores = np.full((4, 2), -1), np.zeros((4, 2))
>>> for start, stop in pair_bounds(x, t, 2):
...     offered = pair_offers(x, t, start, stop, 2)
...     merge_offers(columns, scores, *offered, start)
>>> columns.tolist()
[[3, 1], [3, 0], [3, 0], [0, 1]]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.dispatch import Engine, numba_threads, resolve_engine, used_threads
from recframe.engine.kernel_inputs import (
    _same_stamp,
    _stamp,
    check_count,
    check_csr,
    check_memory,
    check_threads,
    csr_parts,
    frozen,
    read_only_view,
)
from recframe.engine.tasks import TaskThreads

_Parts = tuple[np.ndarray, np.ndarray, np.ndarray]

HEAP_BYTES = 13
"""Bytes of the symmetric kernel's heaps per row, per kept neighbour and per thread (a float64
score and an int32 row, plus a heap's size and floor shared by its entries)."""

_NO_NORMS = read_only_view(np.zeros(0))
"""What the kernels take for no scaling: an empty array."""


def symmetric_parts(x: sp.csr_array, transposed: sp.csr_array) -> tuple[_Parts, _Parts]:
    """Return the CSR arrays of `x` and its transpose as the symmetric kernel takes them.

    32-bit indices where the sizes allow, float32 values as they are (the kernel sums in
    float64), and the transpose's column indices as unsigned
    (they are checked ``>= 0``: the scatter loop then skips numba's negative-index wraparound,
    -12% for a scatter-only loop on the realistic ML-20M shape).
    """
    small = max(x.shape) < np.iinfo(np.int32).max
    index_dtype, unsigned = (np.int32, np.uint32) if small else (np.int64, np.uint64)
    x_parts = csr_parts(x, index_dtype, keep_float32=True)
    t_parts = csr_parts(transposed, index_dtype, keep_float32=True)
    return x_parts, (t_parts[0], t_parts[1].view(unsigned), t_parts[2])


_TRANSPOSE_OF = "_recframe_transpose_of"
"""Attribute of a read-only transpose checked against a read-only ``x``: ``x``'s arrays then, and
whether the values were compared too."""


def _entry_ranges(indptr: np.ndarray, count: int) -> np.ndarray:
    """Return `count` + 1 row bounds splitting a CSR matrix (by its `indptr`) into ranges of about equal entries."""
    bounds = np.searchsorted(indptr, np.linspace(0, indptr[-1], count + 1)).astype(np.int64)
    bounds[0], bounds[-1] = 0, len(indptr) - 1
    return bounds


def _check_pair(x_parts: _Parts, t_parts: _Parts, *, check_values: bool, work: np.ndarray | None = None) -> None:
    """Run :func:`~recframe.engine._compiled.symmetric.check_transpose` on the kernel's arrays.

    Raises
    ------
    ValueError
        If the transpose does not hold exactly the entries (and, with `check_values`, the values)
        of ``x``, or a row of either is unsorted or repeats a column.
    """
    from recframe.engine._compiled.symmetric import check_transpose_part

    t_indptr = t_parts[0]
    tasks = 1 if work is not None and len(work) > 1 << 20 else used_threads(None)  # `work`: a row per task
    parts = _entry_ranges(t_indptr, tasks)
    filled = np.zeros((0, 0) if work is None else (len(parts) - 1, len(work)), dtype=np.int64)
    with TaskThreads(tasks) as threads:
        good = threads.run(check_transpose_part, len(parts) - 1, parts, *x_parts, *t_parts, check_values, filled)
    if not all(good):
        msg = (
            "transposed is not the transpose of x (entries or values differ), or a row of x has unsorted or repeated "
            "columns; call x.sum_duplicates() and pass sp.csr_array(x.T) after sort_indices(), or leave transposed out"
        )
        raise ValueError(msg)
    if work is not None:
        work[:] = filled.sum(axis=0)


def check_transpose(x: sp.csr_array, transposed: sp.csr_array, *, check_values: bool = True) -> None:
    """Check that `transposed` is ``x.T`` entry by entry, as the pair search needs it; once for read-only matrices.

    One pass over the stored entries, shared out between the threads by ranges of the rows of
    `transposed` (nothing allocated but a cursor per row of `transposed`). When both matrices'
    arrays are read-only (a fitted model's), the result is kept on `transposed` and later calls
    cost O(1), as for :func:`~recframe.engine.check_csr`.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows, with sorted, distinct column indices in every row (canonical format).
    transposed : csr_array of shape (n_columns, n_rows)
        ``X.T`` as CSR with sorted indices; its values may be another float dtype if equal
        (e.g. float32 copies of ratings).
    check_values : bool
        Compare the values too, not only the entries (skip it for a transpose you made from `x`).

    Raises
    ------
    ImportError
        If numba is not installed (the pair search is compiled only).
    TypeError, ValueError, IndexError
        If a matrix is malformed, or `transposed` is not the transpose of `x`.
    """
    x, transposed = _checked(x, transposed)
    kept = _mark_of(transposed)
    arrays = (x.indptr, x.indices, x.data)
    if (
        kept is not None
        and all(a is b for a, b in zip(kept[0], arrays, strict=True))
        and (kept[1] or not check_values)
        and frozen(x)
    ):
        return
    _check_pair(*symmetric_parts(x, transposed), check_values=check_values)
    if frozen(x) and frozen(transposed):
        _mark(transposed, arrays, check_values)


def mark_transpose(x: sp.csr_array, transposed: sp.csr_array) -> None:
    """Record that read-only `transposed` is ``x.T`` for read-only, canonical `x` (values included).

    For a caller that knows it by construction (:func:`~recframe.engine.transpose`, which made
    it, or an update that merged the same cells into both orientations): :func:`check_transpose`
    then costs O(1) on the pair either way round, as after a check, for as long as both keep
    these arrays, read-only. Each matrix's mark refers to the other's arrays, which therefore
    live as long as either matrix does.
    """
    _mark(transposed, (x.indptr, x.indices, x.data), True)
    _mark(x, (transposed.indptr, transposed.indices, transposed.data), True)


def transpose_parts(x: sp.csr_array) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Return ``(indptr, indices, data)`` of `x`'s transpose where :func:`mark_transpose` recorded it, else ``None``.

    Only while `x` keeps the arrays and the shape it had then, read-only (:func:`_mark_of`), and
    where the recorded arrays fit the transpose's shape.
    """
    kept = _mark_of(x)
    if kept is None or not kept[1]:
        return None
    indptr, indices, data = kept[0]
    if len(indptr) != x.shape[1] + 1 or len(indices) != x.nnz or len(data) != x.nnz:
        return None
    return indptr, indices, data


def _mark(matrix: sp.csr_array, other: tuple[np.ndarray, ...], with_values: bool) -> None:
    """Record on `matrix` that its transpose has the arrays `other` (`with_values`: its values checked too)."""
    setattr(matrix, _TRANSPOSE_OF, (other, with_values, _stamp(matrix)))


def _mark_of(matrix: sp.csr_array) -> tuple[tuple[np.ndarray, ...], bool] | None:
    """Return what :func:`_mark` recorded on `matrix`, or ``None`` if it may be stale.

    It holds while `matrix` keeps the very arrays and the shape it had then, all read-only, and
    the transpose's recorded arrays are read-only too: a mark on arrays or a shape changed
    since is not used, nor one that came through pickle (its arrays are writable copies then).
    """
    kept = getattr(matrix, _TRANSPOSE_OF, None)
    if kept is None or len(kept) != 3 or not _same_stamp(kept[2], matrix) or not frozen(matrix):
        return None
    if any(array.flags.writeable for array in kept[0]):
        return None
    return kept[0], kept[1]


def _checked(x: sp.csr_array, transposed: sp.csr_array) -> tuple[sp.csr_array, sp.csr_array]:
    """Return `x` and `transposed` checked as CSR matrices of transposed shapes; numba must be installed."""
    resolve_engine("numba")
    x = check_csr(x, "x")
    return x, check_csr(transposed, "transposed", (x.shape[1], x.shape[0]))


def _scales(norms: FloatArray | None, n: int) -> np.ndarray:
    """Return what the kernels multiply each sum by, per row: ``1 / norms`` (0 for a zero norm), or empty for none.

    Every path scores a pair ``sum * (scale_i * scale_j)``, with the scales computed here the
    same way from the same norms: the same bits whichever side computes it, and a product,
    not a division, in the kernels' loops (cosine of raw rows to a few units in the last
    place of the float64 quotient).
    """
    if norms is None:
        return _NO_NORMS
    array = np.asarray(norms, dtype=np.float64)
    if array.shape != (n,):
        msg = f"norms must hold one value per row ({n}); got shape {array.shape}"
        raise ValueError(msg)
    return read_only_view(np.divide(1.0, array, out=np.zeros(n), where=array > 0))


def pair_bounds(
    x: sp.csr_array,
    transposed: sp.csr_array,
    n_blocks: int,
    *,
    k: int | None = None,
    max_memory_mb: int | None = None,
) -> list[tuple[int, int]]:
    """Split the rows into at most `n_blocks` consecutive ranges ``[start, stop)`` of about equal pair work.

    Row ``i`` costs the multiply-adds of its pairs ``(i, j > i)`` (each stored entry ``(i, u)``
    meets the entries of column ``u`` below row ``i``) plus the ``n - 1 - i`` accumulator
    entries the kernel reads back: the first rows cost the most, so the first ranges are short.
    The same pass checks the entries of `transposed` against `x` (see :func:`check_transpose`).

    A block keeps a list for every row from its start on, so the first block's memory grows
    with all the rows: with `k` and `max_memory_mb`, no ranges come back when one thread's
    heaps of the first block (``HEAP_BYTES n_rows k`` bytes) exceed `max_memory_mb` (search
    blocks of query rows instead; :func:`~recframe.engine.top_k_neighbours` computes each pair
    twice then, too).

    Parameters
    ----------
    x, transposed
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
        If `n_blocks` is below 1 or `transposed` is not the transpose of `x`.
    """
    max_memory_mb = None if max_memory_mb is None else check_memory(max_memory_mb)
    x, transposed = _checked(x, transposed)
    if check_count(n_blocks, "n_blocks") < 1:
        msg = "n_blocks must be 1 or more; got 0"
        raise ValueError(msg)
    n = x.shape[0]
    too_big = k is not None and max_memory_mb is not None and n * k * HEAP_BYTES > max_memory_mb << 20
    if n == 0 or too_big:
        return []
    work = np.empty(n, dtype=np.int64)
    _check_pair(*symmetric_parts(x, transposed), check_values=False, work=work)
    work += np.arange(n - 1, -1, -1)
    cumulative = np.cumsum(work)
    targets = np.linspace(0, cumulative[-1], n_blocks + 1)[1:-1]
    edges = np.unique(np.searchsorted(cumulative, targets) + 1)
    edges = edges[(edges > 0) & (edges < n)]
    starts, stops = np.r_[0, edges], np.r_[edges, n]
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def pair_heaps(
    sets: int, rows: int, k: int, n: int, n_columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the symmetric kernel's working arrays for `sets` threads and heaps of the last `rows` of `n` rows.

    Heap scores (float64), heap rows (int32 while `n` fits), sizes and floors per heap, and one
    cursor per row of the transpose (`n_columns` of them), all ``-1`` (see
    :func:`accumulate_pairs`).
    """
    index_dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
    return (
        np.empty((sets, rows, k), dtype=np.float64),
        np.empty((sets, rows, k), dtype=index_dtype),
        np.zeros((sets, rows), dtype=np.int64),
        np.full((sets, rows), -np.inf),
        np.full(n_columns, -1, dtype=np.int64),
    )


PLACES_BATCH = 1 << 20
"""Stored entries whose places in the transpose :func:`accumulate_pairs` finds at a time (4 MB)."""


def accumulate_pairs(
    start: int,
    stop: int,
    x_parts: _Parts,
    t_parts: _Parts,
    scales: np.ndarray,
    heaps: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    threads: TaskThreads | None = None,
) -> None:
    """Offer the pairs ``(i, j > i)``, ``start <= i < stop``, to the heaps, in batches of rows from the last down.

    Each batch of about :data:`PLACES_BATCH` stored entries first gets its entries' places in
    the transpose (:func:`~recframe.engine._compiled.symmetric.transpose_places`, walking the
    cursor of `heaps` on), then runs
    :func:`~recframe.engine._compiled.symmetric.symmetric_accumulate`: memory for the places of
    one batch, not of the whole matrix. Call it for decreasing ranges with the same `heaps`
    (from :func:`pair_heaps`). The batches do not change the result: the heaps keep every
    row's top-k by the kernels' total order, whichever thread computes a pair.

    The heaps' sets (one per thread) run side by side on `threads` (a pool of as many, kept
    open by a caller that calls this many times; one is opened for this call without).
    """
    if threads is None:
        with TaskThreads(heaps[0].shape[0]) as opened:
            accumulate_pairs(start, stop, x_parts, t_parts, scales, heaps, opened)
        return
    from recframe.engine._compiled.symmetric import symmetric_accumulate, transpose_places

    hv, cursor = heaps[0], heaps[4]
    indptr, indices = x_parts[0], x_parts[1]
    t_indptr, t_indices = t_parts[0], t_parts[1]
    # the rows of X.T in one range of about equal entries per thread, for the places
    parts = _entry_ranges(t_indptr, hv.shape[0])
    n_parts = len(parts) - 1
    nnz = int(indptr[stop] - indptr[start])
    places = np.empty(min(nnz, PLACES_BATCH), dtype=np.int32 if len(t_indices) < np.iinfo(np.int32).max else np.int64)
    while stop > start:
        # the batch's first row: as many entries as fit, one row at least
        low = max(start, min(stop - 1, int(np.searchsorted(indptr, indptr[stop] - len(places), side="left"))))
        if indptr[stop] - indptr[low] > len(places):  # one row longer than a batch
            places = np.empty(int(indptr[stop] - indptr[low]), dtype=places.dtype)
        threads.run(transpose_places, n_parts, low, stop, indptr, indices, t_indptr, t_indices, parts, cursor, places)
        threads.run(symmetric_accumulate, len(hv), low, stop, *x_parts, places, *t_parts, scales, *heaps[:4])
        stop = low


def merge_heaps(
    heaps: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    columns: np.ndarray,
    scores: np.ndarray,
    threads: TaskThreads,
) -> None:
    """Merge each row's heaps (from :func:`accumulate_pairs`) into its best-first top-k in `columns` and `scores`.

    The rows are shared out in ranges of equal counts, four a thread, run side by side on `threads`.
    """
    from recframe.engine._compiled.symmetric import merge_heaps as kernel

    n = heaps[0].shape[1]
    bounds = np.linspace(0, n, min(n, 4 * threads.threads) + 1).astype(np.int64)
    threads.run(kernel, len(bounds) - 1, bounds, *heaps[:3], columns, scores)


def pair_offers(
    x: sp.csr_array,
    transposed: sp.csr_array,
    start: int,
    stop: int,
    k: int,
    *,
    norms: FloatArray | None = None,
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
    x : csr_array of shape (n_rows, n_columns)
        The rows, with sorted, distinct column indices in every row (canonical format).
    transposed : csr_array of shape (n_columns, n_rows)
        ``X.T`` as CSR with sorted indices, values equal to `x`'s (checked, see
        :func:`check_transpose`: once for read-only matrices).
    start, stop : int
        The block's rows, ``0 <= start <= stop <= n_rows``.
    k : int
        Partners kept per row.
    norms : ndarray of shape (n_rows,), optional
        Divide the product of rows ``i`` and ``j`` by their norms (the cosine of raw rows, with
        their L2 norms from :func:`~recframe.engine.row_totals`; see :func:`_scales`); a row of
        norm 0 has no partners. The plain product without.
    threads : int, optional
        Threads of the kernel; all cores by default.
    max_memory_mb : int
        Memory for the kernel's per-thread heaps (``HEAP_BYTES (n_rows - start) k`` bytes a
        thread): fewer threads are used when they would not fit, one at least.

    Returns
    -------
    columns : ndarray of shape (n_rows - start, k), int64
        Row ``r`` is row ``start + r``'s partners, best first, ties by lower row; ``-1`` pads.
    scores : ndarray of shape (n_rows - start, k), float64
        The scores; ``0.0`` where ``columns`` is ``-1``.

    Raises
    ------
    ValueError
        If the range is outside the rows, `norms` does not fit, or `transposed` is not the
        transpose of `x`.
    """
    threads, max_memory_mb = check_threads(threads), check_memory(max_memory_mb)
    x, transposed = _checked(x, transposed)
    n = x.shape[0]
    start, stop, k = check_count(start, "start"), check_count(stop, "stop"), check_count(k, "k")
    if not start <= stop <= n:
        msg = f"the block [{start}, {stop}) is not a range of the {n} rows; give 0 <= start <= stop <= {n}"
        raise ValueError(msg)
    scales = _scales(norms, n)
    check_transpose(x, transposed)
    m = n - start
    columns = np.full((m, k), -1, dtype=np.int64)
    scores = np.zeros((m, k), dtype=np.float64)
    if k == 0 or start == stop:
        return columns, scores
    x_parts, t_parts = symmetric_parts(x, transposed)
    with numba_threads(threads) as used:
        sets = max(1, min(used, (max_memory_mb << 20) // max(m * k * HEAP_BYTES, 1)))
        heaps = pair_heaps(sets, m, k, n, x.shape[1])
        with TaskThreads(sets) as pool:
            accumulate_pairs(start, stop, x_parts, t_parts, scales, heaps, pool)
            merge_heaps(heaps, columns, scores, pool)
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

        offered = (read_only_view(offered_columns.astype(np.int64, copy=False)), read_only_view(offered_scores))
        kernel(columns, scores, *offered, first_row)  # read-only: one compiled version (see read_only_view)
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
