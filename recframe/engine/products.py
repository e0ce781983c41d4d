"""Sparse top-n products: the hot path shared by neighbour search and ranking.

``top_n_product(A, rows, B, n)`` returns, for each row ``r`` of `rows`, the ``n`` largest
positive entries of ``A[r] @ B`` — the columns and their sums — excluding columns the caller
names (seen items, explicit exclusions, the row itself), ties broken by lower column. Item
neighbours are ``top_n_product(X, all, X.T, k, exclude_self=True)`` on unit rows; item-CF
scores are ``top_n_product(R, users, W, n, seen=R)``; user-CF is ``(W, users, R)``.

Two engines compute the same result:

- ``numba`` (optional dependency, ``pip install recframe[fast]``): a compiled, multi-threaded
  kernel with a dense accumulator per thread (or per slice of query rows) and a bounded heap per
  row, never allocating anything of size rows x columns.
- ``scipy``: blocks of rows multiplied by scipy and densified one block at a time (the block
  size follows ``max_memory_mb``), then a tie-aware top-n selection.

``engine="auto"`` uses numba when it is installed. With numba, up to
:data:`~recframe.engine.few_rows.FEW_ROWS` query rows (a served single-user query) take a serial
path with no thread pool and no lock (:mod:`recframe.engine.few_rows`).
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.dispatch import Engine, default_threads, numba_threads, resolve_engine, used_threads
from recframe.engine.few_rows import FEW_ROWS, few_rows_product
from recframe.engine.kernel_inputs import (
    check_count,
    check_csr,
    check_memory,
    check_product_inputs,
    check_threads,
    csr_parts,
    product_arguments,
)
from recframe.engine.pairs import (
    HEAP_BYTES,
    _scales,
    accumulate_pairs,
    check_transpose,
    merge_heaps,
    pair_heaps,
    symmetric_parts,
)
from recframe.engine.slices import run_in_slices
from recframe.engine.tasks import TaskThreads
from recframe.engine.topn import blockwise_top_n
from recframe.interfaces import ResourceEstimate
from recframe.progress import progress

logger = logging.getLogger(__name__)


SYMMETRIC_MIN_ROWS = 8192
"""Below this many rows the accumulator stays in cache and computing each pair twice is
faster than maintaining two heaps per pair (measured: 3,706 rows 0.18 s plain vs 0.22 s
symmetric; 26,744 rows 14.5 s plain vs 10.9 s symmetric)."""

SYMMETRIC_MIN_PAIR_WORK = 3.0
"""The symmetric kernel also needs the rows to meet each pair they meet at least this many times
on average (multiply-adds per distinct pair of rows with a common column): it halves the
multiply-adds but offers every pair it meets to two heaps, so it pays only where pairs are met
several times over. Short rows over few columns meet most pairs once or twice, and then
computing each pair twice wins. Measured (best of two, 2 threads, k = 51; the figure, then the
plain kernel's time over the symmetric one's): below 3, plain was quicker on all seven shapes,
1.3-2.1x (1.8: 0.53, 2.1: 0.78 and 0.71, 2.2: 0.48, 2.4: 0.49 and 0.64, 2.7: 0.77); from 3.5 to
8 the two came out either way by shape (3.6: 0.66, 3.8: 1.03, 4.2: 1.27, 4.4: 0.99, 4.8: 0.83,
4.9: 0.70, 5.6: 1.04, 6.7: 1.32, 7.7: 0.92, 7.8: 1.27), so the symmetric kernel keeps them, as
before; above, it won or tied (9.0 and 11.0 in communities: 1.09, 1.08; 10.3: 1.00; the ML-20M
shapes' items 9.6: 1.17, users 11.3: 1.58, ``ml-20m-real`` items 18.0: 2.04).
``python -m benchmarks.pair_choice`` measures its shapes side by side. The multiply-adds per
pair of rows (met or not, ``sum(counts**2) / n**2``), tried first, put rows in communities, which
meet their pairs ten times over, at 2.2-2.8: the count of pairs met is what the heaps pay for."""

PAIR_SAMPLE_ROWS = 64
"""Rows (evenly spaced) whose distinct partners :func:`pairs_met_often` counts: one bit each in
a 64-bit mask per column, so one pass over the entries finds every row's sampled partners."""

_MASK_ENTRIES = 1 << 22
"""Entries whose masks :func:`_sampled_partners` gathers at a time (32 MB)."""


def pairs_met_often(
    x: sp.csr_array, transposed: sp.csr_array | None = None, *, engine: Engine = "auto", threads: int | None = None
) -> bool:
    """Return whether the rows `x` meet each pair of rows they meet often enough to compute it once.

    The search by pairs (:func:`top_k_neighbours`' symmetric kernel, and the blocks of pairs an
    executor spreads, :func:`pair_bounds`) pays at ``SYMMETRIC_MIN_PAIR_WORK`` multiply-adds per
    distinct pair met or more. Every pair of rows is met that often on average when the sum of
    the squared column counts (less the entries' meetings with themselves) reaches it times
    ``n_rows**2``: no sample then. Otherwise the distinct partners of ``PAIR_SAMPLE_ROWS`` evenly
    spaced rows are counted (one pass over the entries) and set against their multiply-adds. The
    sample's figure moved by 15-20% either way over random orders of the same long-tailed rows (an
    outside review, 9,000 rows), so within about that of the threshold the choice depends on the
    rows' order.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows, canonical (sorted, distinct columns in each row).
    transposed : csr_array of shape (n_columns, n_rows), optional
        ``X.T`` as CSR, if you have it: its row lengths are the column counts.
    engine : {"auto", "numba", "scipy"}
        How the sample's partners are counted: a compiled pass, or numpy.
    threads : int, optional
        Threads of the compiled pass; all cores by default.

    Returns
    -------
    bool
        Whether the pairs' search pays (the rows' number and the heaps' memory aside).
    """
    counts = np.diff(transposed.indptr) if transposed is not None else np.bincount(x.indices, minlength=x.shape[1])
    return _met_often(x, counts, engine, threads)


def _met_often(x: sp.csr_array, column_counts: npt.NDArray[np.integer], engine: Engine, threads: int | None) -> bool:
    """Return :func:`pairs_met_often` of the rows `x`, whose columns hold `column_counts` entries."""
    n = x.shape[0]
    if n < 2:
        return False  # no pair to meet
    counts = column_counts.astype(np.float64)
    work = float(counts @ counts) - float(counts.sum())  # each entry's meeting with itself left out
    if work >= SYMMETRIC_MIN_PAIR_WORK * float(n) * float(n):
        return True  # even if every pair of rows were met
    if work <= 0.0:
        return False
    return sampled_work_per_pair(x, counts, engine, threads) >= SYMMETRIC_MIN_PAIR_WORK


def sampled_work_per_pair(
    x: sp.csr_array, counts: FloatArray, engine: Engine = "auto", threads: int | None = None
) -> float:
    """Return the multiply-adds per distinct pair met of ``PAIR_SAMPLE_ROWS`` evenly spaced rows of `x`.

    `counts` are the entries of each column. Each row's meeting with itself is left out of both.
    """
    n = x.shape[0]
    rows = np.unique(np.linspace(0, n - 1, min(n, PAIR_SAMPLE_ROWS)).astype(np.int64))
    lengths = x.indptr[rows + 1] - x.indptr[rows]
    work = sum(float(counts[x.indices[x.indptr[r] : x.indptr[r + 1]]].sum()) for r in rows) - float(lengths.sum())
    met_pairs = _sampled_partners(x, rows, engine, threads) - int(np.count_nonzero(lengths))
    return work / max(met_pairs, 1)


def _sampled_partners(x: sp.csr_array, rows: IntArray, engine: Engine = "auto", threads: int | None = None) -> int:
    """Return how many (row, sampled row) pairs share a column, each row with itself included (up to 64 sampled).

    Compiled, one pass on every thread (ML-20M's 18.4 million entries: a few hundredths of a
    second); else numpy, blocks of entries' masks OR-ed by row (0.19 s there).
    """
    masks = np.zeros(x.shape[1], dtype=np.uint64)
    for bit, row in enumerate(rows):
        masks[x.indices[x.indptr[row] : x.indptr[row + 1]]] |= np.uint64(1) << np.uint64(bit)
    if resolve_engine(engine) == "numba":
        from recframe.engine._compiled.pair_sample import sampled_partners

        with numba_threads(threads):
            return int(sampled_partners(x.indptr, x.indices, masks))
    starts = x.indptr[:-1][np.diff(x.indptr) > 0]  # the filled rows' first entries: reduceat's segments
    step = max(1, len(starts) * _MASK_ENTRIES // max(x.nnz, 1))  # rows of about _MASK_ENTRIES entries
    met = 0
    for begin in range(0, len(starts), step):
        block = starts[begin : begin + step]
        stop = starts[begin + len(block)] if begin + len(block) < len(starts) else x.indptr[-1]
        entry_masks = masks[x.indices[block[0] : stop]]
        seen = np.bitwise_or.reduceat(entry_masks, block - block[0])
        met += int(_BITS_IN_BYTE[seen.view(np.uint8)].sum())  # numpy 1.x has no bitwise_count
    return met


_BITS_IN_BYTE = np.array([bin(byte).count("1") for byte in range(256)], dtype=np.int64)
"""The bits set in each byte value."""


def _by_pairs(x: sp.csr_array, column_counts: npt.NDArray[np.integer], threads: int | None) -> bool:
    """Return whether the symmetric kernel should search the rows `x` (canonical; its heaps aside)."""
    return x.shape[0] >= SYMMETRIC_MIN_ROWS and _met_often(x, column_counts, "numba", threads)


def _canonical(x: sp.csr_array) -> sp.csr_array:
    """Return `x` with sorted, distinct columns in each row (a copy only where it has not): as the search reads it."""
    if x.has_canonical_format:
        return x
    x = sp.csr_array(x, copy=True)
    x.sum_duplicates()
    return x


def estimate_neighbours(
    x: sp.csr_array, k: int, *, engine: Engine = "auto", threads: int | None = None, max_memory_mb: int = 1024
) -> ResourceEstimate:
    """Estimate the work and memory of :func:`top_k_neighbours` on `x` without running it.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows whose neighbours would be searched.
    k : int
        Neighbours per row.
    engine, threads, max_memory_mb
        As for :func:`top_k_neighbours`; they decide which kernel would run.

    Returns
    -------
    ResourceEstimate
        Multiply-adds, bytes of output and bytes of working memory.
    """
    threads, max_memory_mb = check_threads(threads), check_memory(max_memory_mb)
    n, nnz = x.shape[0], int(x.nnz)
    column_counts = np.bincount(x.indices, minlength=x.shape[1]).astype(np.int64)
    work = int((column_counts**2).sum())  # all pairs through each shared column
    output = n * k * 16
    copies = nnz * 16  # a transpose, when the caller has none to give
    if resolve_engine(engine) == "numba":
        used = threads or default_threads()
        heaps = used * n * k * HEAP_BYTES
        searched = _canonical(x)  # the rows the search reads: duplicates summed
        searched_counts = column_counts if searched is x else np.bincount(searched.indices, minlength=x.shape[1])
        if heaps <= max_memory_mb << 20 and _by_pairs(searched, searched_counts, threads):
            cursors = used * x.shape[1] * 8  # each thread's place in every row of X.T
            return ResourceEstimate(work // 2, output, copies + heaps + cursors + used * n * 8)
        return ResourceEstimate(work, output, copies + used * n * 18)
    return ResourceEstimate(work, output, copies + (max_memory_mb << 20))


def top_n_product(
    a: sp.csr_array,
    rows: IntArray,
    b: sp.csr_array,
    n: int,
    *,
    seen: sp.csr_array | None = None,
    exclude: sp.csr_array | None = None,
    exclude_self: bool = False,
    query_norms: FloatArray | None = None,
    target_norms: FloatArray | None = None,
    engine: Engine = "auto",
    threads: int | None = None,
    max_memory_mb: int = 256,
    desc: str = "top-n",
) -> tuple[IntArray, FloatArray]:
    """Return the best `n` positive entries of ``A[r] @ B`` for each ``r`` in `rows`.

    Parameters
    ----------
    a : csr_array of shape (n_a, n_inner)
        Left factor; only the rows in `rows` are used.
    rows : ndarray of int64
        Rows of `a` to compute; ``-1`` gives an empty result row.
    b : csr_array of shape (n_inner, n_cols)
        Right factor.
    n : int
        Entries kept per row.
    seen : csr_array of shape (n_a, n_cols), optional
        Columns to leave out, by row of `a` (e.g. the training matrix, to drop seen items).
    exclude : csr_array of shape (len(rows), n_cols), optional
        Columns to leave out, by position in `rows`.
    exclude_self : bool
        Leave out column ``r`` of row ``r`` (neighbour search on a square product).
    query_norms : ndarray of shape (n_a,), optional
        With `target_norms`: each positive sum of row ``r`` and column ``j`` is divided by
        ``query_norms[r]`` and ``target_norms[j]`` (computed as a product with their inverses,
        the same bits as :func:`top_k_neighbours` with ``norms``): with L2 norms
        (:func:`~recframe.engine.row_totals`) the cosine of raw rows; a zero norm keeps
        nothing. Give both or neither (the plain sums).
    target_norms : ndarray of shape (n_cols,), optional
        The columns' norms, with `query_norms`.
    engine : {"auto", "numba", "scipy"}
        Implementation; both give the same result (up to float rounding of the sums).
    threads : int, optional
        Threads of the numba engine; all cores by default.
    max_memory_mb : int
        Memory for one dense block of the scipy engine.
    desc : str
        Label of the progress bar.

    Returns
    -------
    columns : ndarray of shape (len(rows), n), int64
        Best first, ties by lower column; ``-1`` pads rows with fewer positive entries.
    scores : ndarray of shape (len(rows), n), float64
        The sums; ``0.0`` where ``columns`` is ``-1``.

    Raises
    ------
    TypeError, ValueError, IndexError
        If an input is malformed (see :func:`~recframe.engine.kernel_inputs.check_product_inputs`):
        checked before either engine runs, so that no kernel reads outside an array.
    """
    threads, max_memory_mb = check_threads(threads), check_memory(max_memory_mb)
    numba = resolve_engine(engine) == "numba"
    few = numba and np.ndim(rows) == 1 and np.size(rows) <= FEW_ROWS
    a, rows, b, n = check_product_inputs(a, rows, b, n, seen, exclude, exclude_self, lazy=few)
    if (query_norms is None) != (target_norms is None):
        msg = "query_norms and target_norms go together (the score divides by both); give both or neither"
        raise ValueError(msg)
    scales = (_scales(query_norms, a.shape[0]), _scales(target_norms, b.shape[1]))
    m = len(rows)
    columns = np.full((m, n), -1, dtype=np.int64)
    scores = np.zeros((m, n), dtype=np.float64)
    if m == 0 or n == 0:
        return columns, scores
    if few:
        few_rows_product(a, rows, b, n, seen, exclude, exclude_self, columns, scores, scales=scales)
    elif numba:
        _numba_product(a, rows, b, n, seen, exclude, exclude_self, threads, desc, columns, scores, scales)
    else:
        _scipy_product(a, rows, b, n, seen, exclude, exclude_self, max_memory_mb, desc, columns, scores, scales)
    return columns, scores


def top_k_neighbours(
    x: sp.csr_array,
    k: int,
    *,
    engine: Engine = "auto",
    threads: int | None = None,
    max_memory_mb: int = 1024,
    transposed: sp.csr_array | None = None,
    norms: FloatArray | None = None,
) -> tuple[IntArray, FloatArray]:
    """Return the `k` largest positive entries of every row of ``X @ X.T``, the diagonal left out.

    With numba, for at least ``SYMMETRIC_MIN_ROWS`` rows that meet each pair of rows often enough
    (``SYMMETRIC_MIN_PAIR_WORK``) and when the per-thread heaps fit in `max_memory_mb`, each pair
    of rows is computed once (the product is symmetric), halving the work; otherwise this is
    :func:`top_n_product` with ``exclude_self``.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows (e.g. unit-length item vectors, for cosine neighbours of items).
    k : int
        Neighbours kept per row.
    engine : {"auto", "numba", "scipy"}
        Implementation (see :func:`resolve_engine`).
    threads : int, optional
        Threads of the numba engine; all cores by default.
    max_memory_mb : int
        Memory for the symmetric kernel's heaps or the scipy engine's dense blocks.
    transposed : csr_array of shape (n_columns, n_rows), optional
        ``X.T`` as CSR with sorted indices, if you have it: saves a copy. `x` must then
        have sorted, distinct column indices in every row (canonical format). Its values may
        be float32 copies of `x`'s if equal (checked, once for read-only matrices).
    norms : ndarray of shape (n_rows,), optional
        Divide the product of rows ``i`` and ``j`` by ``norms[i]`` and ``norms[j]`` (as a product
        with their inverses, see :func:`~recframe.engine.pair_offers`): with the rows' L2 norms
        (:func:`~recframe.engine.row_totals`) the cosine of raw rows, with no normalised copy;
        a row of norm 0 has no neighbours.

    Returns
    -------
    columns : ndarray of shape (n_rows, k), int64
        Neighbours, best first, ties by lower row; ``-1`` pads.
    scores : ndarray of shape (n_rows, k), float64
        The products; ``0.0`` where ``columns`` is ``-1``.

    Raises
    ------
    TypeError, ValueError, IndexError
        If `x` or `transposed` is malformed, `transposed` is not the transpose of `x` (for
        the symmetric kernel), or `k` is not a count (checked before any kernel).
    """
    threads, max_memory_mb = check_threads(threads), check_memory(max_memory_mb)
    x = check_csr(x, "x")
    k = check_count(k, "k")
    n = x.shape[0]
    scales = _scales(norms, n)
    given = transposed is not None
    if transposed is None:
        x = _canonical(x)  # the symmetric kernel needs sorted, distinct columns
        transposed = sp.csr_array(x.T)
        transposed.sort_indices()
    else:
        transposed = check_csr(transposed, "transposed", (x.shape[1], n))
    if resolve_engine(engine) == "numba" and k > 0 and _by_pairs(x, np.diff(transposed.indptr), threads):
        used = used_threads(threads)
        heap_bytes = used * n * k * HEAP_BYTES
        if heap_bytes <= max_memory_mb << 20:
            return _symmetric_neighbours(x, transposed, k, threads, scales, check_values=given)
        logger.info(
            "symmetric kernel needs %.0f MB of heaps, over max_memory_mb=%d; computing every pair twice",
            heap_bytes / 2**20,
            max_memory_mb,
        )
    return top_n_product(
        x,
        np.arange(n),
        transposed,
        k,
        exclude_self=True,
        query_norms=norms,
        target_norms=norms,
        engine=engine,
        threads=threads,
        max_memory_mb=max_memory_mb,
        desc="neighbours",
    )


def _symmetric_neighbours(
    x: sp.csr_array, transposed: sp.csr_array, k: int, threads: int | None, scales: np.ndarray, *, check_values: bool
) -> tuple[IntArray, FloatArray]:
    """Run the symmetric numba kernel in row batches (for progress), then merge the heaps.

    `check_values`: whether ``transposed`` came from the caller, whose values must then be
    checked against ``x`` too (a transpose made here from ``x`` holds them by construction).
    `scales`: the rows' inverse norms, empty for the plain product.

    The batches run from the last rows down (see
    :func:`~recframe.engine.pairs.accumulate_pairs`), whose cursors into the rows of ``X.T``
    carry over from one batch to the next.
    """
    n = x.shape[0]
    check_transpose(x, transposed, check_values=check_values)
    x_parts, t_parts = symmetric_parts(x, transposed)
    columns = np.full((n, k), -1, dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float64)
    # row i costs about its length times the share of columns j > i: size the batches by that,
    # for a steady progress bar (a rough measure, so no temporary the size of the matrix)
    row_work = np.diff(x.indptr) * (n - np.arange(n)) / max(n, 1) + 1
    cumulative = np.cumsum(row_work)
    edges = np.unique(np.searchsorted(cumulative, np.linspace(0, cumulative[-1], 65)[1:-1]))
    bounds = list(zip(np.r_[0, edges], np.r_[edges, n], strict=True))[::-1]
    with numba_threads(threads) as used, TaskThreads(used) as pool:
        heaps = pair_heaps(used, n, k, n, x.shape[1])
        sizes = [int(cumulative[stop - 1] - (cumulative[start - 1] if start else 0)) for start, stop in bounds]
        for start, stop in progress(bounds, total=int(cumulative[-1]), desc="neighbours", unit="work", sizes=sizes):
            accumulate_pairs(int(start), int(stop), x_parts, t_parts, scales, heaps, pool)
        merge_heaps(heaps, columns, scores, pool)
    return columns, scores


def _numba_product(
    a: sp.csr_array,
    rows: IntArray,
    b: sp.csr_array,
    n: int,
    seen: sp.csr_array | None,
    exclude: sp.csr_array | None,
    exclude_self: bool,
    threads: int | None,
    desc: str,
    columns: IntArray,
    scores: FloatArray,
    scales: tuple[np.ndarray, np.ndarray],
) -> None:
    from recframe.engine._compiled.products import rows_top_n

    # 32-bit column indices halve the memory traffic of the inner loop where they suffice
    small = max(a.shape[1], b.shape[1]) < np.iinfo(np.int32).max
    index_dtype = np.int32 if small else np.int64
    inputs = product_arguments(
        rows,
        csr_parts(a, index_dtype),
        csr_parts(b, index_dtype),
        b.shape[1],
        scales,
        csr_parts(seen, index_dtype),
        csr_parts(exclude, index_dtype),  # by position in `rows`, as the slices are
        exclude_self,
        n,
        columns,
        scores,
    )
    run_in_slices(rows_top_n, inputs, len(rows), threads, desc)


def _scipy_product(
    a: sp.csr_array,
    rows: IntArray,
    b: sp.csr_array,
    n: int,
    seen: sp.csr_array | None,
    exclude: sp.csr_array | None,
    exclude_self: bool,
    max_memory_mb: int,
    desc: str,
    columns: IntArray,
    scores: FloatArray,
    scales: tuple[np.ndarray, np.ndarray],
) -> None:
    query_scales, target_scales = scales
    # spmatrix: scipy densifies its products about 10x faster than sparray's
    a_matrix, b_matrix = sp.csr_matrix(a), sp.csr_matrix(b)

    def score(part: IntArray) -> FloatArray:
        known = part >= 0
        dense = np.asarray((a_matrix[np.where(known, part, 0)] @ b_matrix).toarray())
        dense[~known] = 0.0
        if len(query_scales):  # as the compiled kernels: the sum times the product of the two scales
            dense *= query_scales[np.where(known, part, 0)][:, None] * target_scales[None, :]
        return dense

    top = blockwise_top_n(
        score,
        rows,
        b.shape[1],
        n,
        seen=seen,
        exclude=exclude,
        exclude_self=exclude_self,
        max_memory_mb=max_memory_mb,
        desc=desc,
    )
    real = top.items >= 0
    columns[:] = top.items
    scores[:] = np.where(real, top.scores, 0.0)
