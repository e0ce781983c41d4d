"""Exact top-k neighbours by any measure of :mod:`recframe.engine.measures`, on the numba or the scipy engine.

Both engines compute the co-rated statistics of each (query row, target row) pair that shares a
column, turn them into similarities with the same formula and modifiers, and keep each query
row's ``k`` largest non-zero similarities, ties by lower target row. The numba kernel works row
by row with dense accumulators of one row's size; the scipy engine multiplies blocks of rows,
as large as ``max_memory_mb`` allows. Nothing of size rows x targets is ever allocated.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.dispatch import Engine, compiled_by_default, numba_threads, resolve_engine
from recframe.engine.kernel_inputs import (
    check_canonical,
    check_count,
    check_csr,
    check_memory,
    check_rows,
    check_threads,
    csr_parts,
    keep_on,
    kept_on,
)
from recframe.engine.measures import NEEDS_SQUARES, NEEDS_SUMS, MeasureSpec, modify, similarity
from recframe.engine.slices import run_in_slices
from recframe.engine.topn import top_n_entries
from recframe.progress import progress

_STATISTICS = 6
"""Dense blocks the scipy engine holds at once: one per statistic."""


_TOTALS_BATCH = 1 << 20
"""Stored entries :func:`row_totals` squares at a time."""

COMPILED_TOTALS = 1 << 20
"""Stored entries from which :func:`row_totals` runs compiled, in parallel (numba installed)."""


_TOTALS = "_recframe_row_totals"
"""Key of the norms and counts :func:`row_totals` found, kept on a read-only matrix (``keep_on``)."""


def row_totals(x: sp.csr_array) -> tuple[FloatArray, FloatArray]:
    """Return each row's L2 norm and number of stored entries (the totals the measures need).

    The totals of a matrix whose arrays are read-only (a fitted model's rows, an update's merged
    ones) are kept on it, and later calls return copies of them: a backend's fit and an update
    of its neighbours both need the norms of the same rows, and an update needs the old rows'
    norms that the fit or the previous update found.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        The rows.

    Returns
    -------
    norms, counts : ndarray of shape (n_rows,), float64
        ``sqrt(sum of squares)`` and the number of stored entries of each row.
    """
    kept = kept_on(x, _TOTALS)
    if kept is not None:
        return kept[0].copy(), kept[1].copy()
    norms, counts = _row_totals(x)
    keep_on(x, _TOTALS, (norms.copy(), counts.copy()))
    return norms, counts


def keep_row_norms(x: sp.csr_array, norms: FloatArray) -> None:
    """Keep each row's L2 length, found with `x` (a merge writing it), on read-only `x` for :func:`row_totals`.

    Only where they are what :func:`row_totals` would compute: the compiled pass (each row's
    squares summed in order in float64), which it runs on as many entries as `x` has.
    """
    if _compiled_totals(x):
        keep_on(x, _TOTALS, (norms.copy(), np.diff(x.indptr).astype(np.float64)))


def _compiled_totals(x: sp.csr_array) -> bool:
    """Return whether :func:`row_totals` finds `x`'s totals with the compiled pass (numba, enough entries)."""
    return x.nnz >= COMPILED_TOTALS and compiled_by_default()


def _row_totals(x: sp.csr_array) -> tuple[FloatArray, FloatArray]:
    """Return each row's L2 norm and number of stored entries, computed (see :func:`row_totals`)."""
    lengths = np.diff(x.indptr)
    if _compiled_totals(x):  # in parallel; to the last bits of numpy's sums below
        x = check_csr(x, "x", columns=False)  # the kernel reads the offsets and the values, never a column
        from recframe.engine._compiled.entries import row_lengths

        norms = np.empty(x.shape[0])
        with numba_threads(None):
            indptr, _, data = csr_parts(x, x.indices.dtype, keep_float32=True)  # int64 offsets, read-only
            row_lengths(indptr, data, norms)
        return norms, lengths.astype(np.float64)
    squares = np.zeros(x.shape[0])
    filled = np.flatnonzero(lengths > 0)  # reduceat would give an empty row the next row's first entry
    starts = x.indptr[:-1][filled]
    # whole rows, about _TOTALS_BATCH entries at a time: the squares' temporary stays small, and
    # each row's sum is the same as in one call (reduceat sums each row's own segment)
    edges = np.unique(np.searchsorted(starts, np.arange(0, x.nnz, _TOTALS_BATCH), side="right") - 1)
    bounds = np.r_[np.maximum(edges, 0), len(filled)]
    for lo, hi in itertools.pairwise(bounds):
        if lo < hi:
            begin, end = int(starts[lo]), int(x.indptr[filled[hi - 1] + 1])
            chunk = np.square(x.data[begin:end], dtype=np.float64)
            squares[filled[lo:hi]] = np.add.reduceat(chunk, starts[lo:hi] - begin)
    return np.sqrt(squares), lengths.astype(np.float64)


def l1_normalise(scores: FloatArray) -> FloatArray:
    """Return each row of neighbour scores divided by the sum of its absolute values (rows of 0s stay 0).

    The literature's final normalisation of graph similarities (Dacrema et al. 2019 normalise
    the kept top-k of P3alpha and RP3beta this way): each row's neighbours then share a
    weight of 1, so that every row contributes equally to the items it scores. Padding
    (score 0) stays 0.

    Parameters
    ----------
    scores : ndarray of shape (n_rows, k)
        Each row's kept similarities (``0.0`` pads).

    Returns
    -------
    ndarray of shape (n_rows, k), float64
        A new array.
    """
    totals = np.abs(scores).sum(axis=1, keepdims=True)
    normalised: FloatArray = np.divide(scores, totals, out=np.zeros(scores.shape), where=totals > 0)
    return normalised


def top_k_by_measure(
    queries: sp.csr_array,
    rows: IntArray,
    targets_t: sp.csr_array,
    target_totals: tuple[FloatArray, FloatArray],
    spec: MeasureSpec,
    k: int,
    *,
    exclude_self: bool = False,
    engine: Engine = "auto",
    threads: int | None = None,
    max_memory_mb: int = 1024,
    desc: str = "neighbours",
) -> tuple[IntArray, FloatArray]:
    """Return the `k` most similar targets of each query row in `rows`.

    Parameters
    ----------
    queries : csr_array of shape (n_queries, n_columns)
        Query rows (canonical: sorted indices, no duplicates).
    rows : ndarray of int64
        Rows of `queries` to answer; ``-1`` gives an empty result row.
    targets_t : csr_array of shape (n_columns, n_targets)
        The target rows, transposed (canonical).
    target_totals : (norms, counts)
        :func:`row_totals` of the target rows.
    spec : MeasureSpec
        The measure and its modifiers.
    k : int
        Neighbours per row.
    exclude_self : bool
        Leave out target ``r`` of query row ``r`` (queries and targets are the same rows).
    engine : {"auto", "numba", "scipy"}
        Implementation (see :func:`resolve_engine`).
    threads : int, optional
        Threads of the numba engine; all cores by default.
    max_memory_mb : int
        Memory for the scipy engine's dense blocks (six per block of query rows).
    desc : str
        Label of the progress bar.

    Returns
    -------
    columns : ndarray of shape (len(rows), k), int64
        Targets, most similar first (ties by lower row); ``-1`` pads.
    scores : ndarray of shape (len(rows), k), float64
        Similarities; ``0.0`` where ``columns`` is ``-1``.

    Raises
    ------
    TypeError, ValueError, IndexError
        If an input is malformed (a CSR matrix whose arrays disagree, an index out of range,
        a matrix not canonical, a value not finite, factors or totals of mismatched sizes,
        rows outside ``[-1, n_queries)``): checked before either engine runs, so that no
        kernel reads outside an array and no pair is counted twice.
    """
    threads, max_memory_mb = check_threads(threads), check_memory(max_memory_mb)
    k = check_count(k, "k")
    queries = check_canonical(check_csr(queries, "queries"), "queries")
    targets_t = check_canonical(check_csr(targets_t, "targets_t", (queries.shape[1], None)), "targets_t")
    rows = check_rows(rows, queries.shape[0])
    n_targets = targets_t.shape[1]
    if len(target_totals) != 2 or any(np.shape(t) != (n_targets,) for t in target_totals):
        msg = f"target_totals must be (norms, counts) of {n_targets} targets each; got shapes " + str(
            [np.shape(t) for t in target_totals]
        )
        raise ValueError(msg)
    target_totals = (
        np.asarray(target_totals[0], dtype=np.float64),
        np.asarray(target_totals[1], dtype=np.float64),
    )
    columns = np.full((len(rows), k), -1, dtype=np.int64)
    scores = np.zeros((len(rows), k))
    if len(rows) == 0 or k == 0:
        return columns, scores
    norms, counts = row_totals(queries)
    known = rows >= 0
    norm_a = np.where(known, norms[np.maximum(rows, 0)], 0.0)
    count_a = np.where(known, counts[np.maximum(rows, 0)], 0.0)
    if resolve_engine(engine) == "numba":
        _numba_search(
            queries,
            rows,
            targets_t,
            target_totals,
            norm_a,
            count_a,
            spec,
            k,
            exclude_self,
            threads,
            desc,
            columns,
            scores,
        )
    else:
        _scipy_search(
            queries,
            rows,
            targets_t,
            target_totals,
            norm_a,
            count_a,
            spec,
            k,
            exclude_self,
            max_memory_mb,
            desc,
            columns,
            scores,
        )
    return columns, scores


def _numba_search(
    queries: sp.csr_array,
    rows: IntArray,
    targets_t: sp.csr_array,
    target_totals: tuple[FloatArray, FloatArray],
    norm_a: FloatArray,
    count_a: FloatArray,
    spec: MeasureSpec,
    k: int,
    exclude_self: bool,
    threads: int | None,
    desc: str,
    columns: IntArray,
    scores: FloatArray,
) -> None:
    from recframe.engine._compiled.search import rows_by_measure

    index = np.int32 if max(queries.shape[1], targets_t.shape[1]) < np.iinfo(np.int32).max else np.int64
    # converted once for read-only (fitted or memory-mapped) matrices, not on every call
    a, t = csr_parts(queries, index), csr_parts(targets_t, index)
    params = np.array([spec.alpha, spec.beta, spec.shrinkage, spec.min_similarity])
    arguments = (
        rows,
        *a,
        *t,
        norm_a,
        count_a,
        *target_totals,
        float(queries.shape[1]),
        spec.code,
        spec.needs,
        params,
        spec.min_support,
        spec.keep_negative,
        exclude_self,
        k,
        columns,
        scores,
    )
    run_in_slices(rows_by_measure, arguments, len(rows), threads, desc)


def _scipy_search(
    queries: sp.csr_array,
    rows: IntArray,
    targets_t: sp.csr_array,
    target_totals: tuple[FloatArray, FloatArray],
    norm_a: FloatArray,
    count_a: FloatArray,
    spec: MeasureSpec,
    k: int,
    exclude_self: bool,
    max_memory_mb: int,
    desc: str,
    columns: IntArray,
    scores: FloatArray,
) -> None:
    n_targets = targets_t.shape[1]
    t = sp.csr_matrix(targets_t)
    t_pattern = _pattern(t)
    t_squares = _squares(t)
    norm_b, count_b = target_totals
    block = max(1, (max_memory_mb << 20) // (_STATISTICS * 8 * max(n_targets, 1)))
    starts = range(0, len(rows), block)
    for start in progress(
        starts, total=len(rows), desc=desc, unit="rows", sizes=(min(block, len(rows) - s) for s in starts)
    ):
        part = rows[start : start + block]
        a = _take_rows(queries, part)
        a_pattern = _pattern(a)

        def dense(left: sp.csr_matrix, right: sp.csr_matrix) -> np.ndarray:
            return np.asarray((left @ right).toarray())

        zero = np.zeros((len(part), n_targets))
        n = dense(a_pattern, t_pattern)
        dot = dense(a, t)
        sum_a, sum_b = (dense(a, t_pattern), dense(a_pattern, t)) if spec.needs & NEEDS_SUMS else (zero, zero)
        if spec.needs & NEEDS_SQUARES:
            sq_a, sq_b = dense(_squares(a), t_pattern), dense(a_pattern, t_squares)
        else:
            sq_a, sq_b = zero, zero
        sims = similarity(
            spec.code,
            spec.alpha,
            spec.beta,
            n,
            dot,
            sum_a,
            sum_b,
            sq_a,
            sq_b,
            norm_a[start : start + block, None],
            norm_b[None, :],
            count_a[start : start + block, None],
            count_b[None, :],
            float(queries.shape[1]),
        )
        sims = modify(sims, n, spec.shrinkage, spec.min_support, spec.min_similarity, spec.keep_negative)
        sims[n == 0] = 0.0
        if exclude_self:
            inside = np.flatnonzero((part >= 0) & (part < n_targets))
            sims[inside, part[inside]] = 0.0
        _select(sims, k, columns[start : start + block], scores[start : start + block])


def _take_rows(x: sp.csr_array, rows: IntArray) -> sp.csr_matrix:
    """Return the given rows of `x` (``-1``: an empty row), keeping stored zeros: they are co-ratings."""
    lengths = np.where(rows >= 0, np.diff(x.indptr)[np.maximum(rows, 0)], 0)
    indptr = np.r_[0, np.cumsum(lengths)]
    picked = np.repeat(x.indptr[np.maximum(rows, 0)] - indptr[:-1], lengths) + np.arange(indptr[-1])
    return sp.csr_matrix((x.data[picked], x.indices[picked], indptr), shape=(len(rows), x.shape[1]))


def _pattern(x: sp.csr_matrix) -> sp.csr_matrix:
    """Return the pattern of `x`: 1 at every stored entry, stored zeros included."""
    return sp.csr_matrix((np.ones(x.nnz), x.indices, x.indptr), shape=x.shape)


def _squares(x: sp.csr_matrix) -> sp.csr_matrix:
    """Return `x` with its values squared, on the same pattern."""
    return sp.csr_matrix((x.data**2, x.indices, x.indptr), shape=x.shape)


def _select(sims: np.ndarray, k: int, columns: IntArray, scores: FloatArray) -> None:
    """Write each row's `k` largest non-zero entries (ties by lower column) into the outputs."""
    r, c = np.nonzero(sims)
    top, values = top_n_entries(r, c, sims[r, c], sims.shape[0], k, keep_negative=True)
    columns[:] = top
    scores[:] = np.where(top >= 0, values, 0.0)
