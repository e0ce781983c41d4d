"""Built-in similarity backends: ``sklearn_nn`` (the default) and ``sparse``.

``sklearn_nn`` is scikit-learn's exact nearest-neighbour search, the reference; ``sparse`` is a
sparse top-k product that gives the same neighbours much faster and in less memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, PositiveInt, field_validator

from recframe import (
    Component,
    NeighbourGraph,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    check_fitted,
    hookimpl,
    progress_bar,
)
from recframe.engine import (
    Engine,
    Measure,
    MeasureSpec,
    default_threads,
    estimate_neighbours,
    resolve_engine,
    row_totals,
    top_k_by_measure,
    top_k_neighbours,
    top_n_product,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe import FloatArray, IntArray


class SklearnNNConfig(SimilarityConfig):
    """Parameters of :class:`SklearnNNSimilarity`."""

    metric: Literal["cosine", "euclidean", "manhattan"] = "cosine"
    """Distance scikit-learn ranks by. Similarity is ``1 - d`` for cosine and ``1 / (1 + d)``
    for the others."""
    algorithm: Literal["brute", "auto"] = "brute"
    """scikit-learn's search algorithm; on sparse rows both mean exact brute force."""
    n_jobs: int | None = Field(None, ge=-1, le=1024, json_schema_extra={"not": {"const": 0}})
    """Worker processes of scikit-learn (``-1`` for all cores, else 1 to 1024); one by default."""
    max_memory_mb: PositiveInt = 1024
    """scikit-learn's ``working_memory`` for one block of dense distances (its default). The
    sparse product behind a block takes up to about as much again; lower it to bound memory,
    at the cost of more blocks, each of which re-normalises all fitted rows."""

    @field_validator("n_jobs", mode="after")
    @classmethod
    def _some_workers(cls, n_jobs: int | None) -> int | None:
        if n_jobs == 0:
            msg = "0 workers can't search; use a positive number, -1 for all cores, or null for one"
            raise ValueError(msg)
        return n_jobs


class SklearnNNSimilarity(SimilarityBackend):
    """Exact k nearest neighbours by scikit-learn's ``NearestNeighbors``, the reference backend.

    Distances are computed in blocks of ``max_memory_mb`` (scikit-learn's own chunking). A
    row is never its own neighbour (also when another row is identical to it), and a
    neighbour with similarity 0 is no neighbour: it is left out of the graph, as it could not
    contribute to any score. Neighbours are ordered by similarity, ties by lower row.

    Attributes
    ----------
    rows_ : csr_array of shape (n_rows, n_features)
        The fitted rows.
    """

    name = "sklearn_nn"
    Config = SklearnNNConfig
    config: SklearnNNConfig
    rows_: sp.csr_array | None = None

    def fit(self, rows: sp.csr_array) -> Self:
        """Index `rows` for neighbour queries."""
        from sklearn.neighbors import NearestNeighbors

        self.rows_ = sp.csr_array(rows, dtype=np.float64)
        # scikit-learn's sparse distance path runs about 1.7x faster on spmatrix than on sparray
        self._nn: Any = NearestNeighbors(
            metric=self.config.metric, algorithm=self.config.algorithm, n_jobs=self.config.n_jobs
        ).fit(sp.csr_matrix(self.rows_))
        return self

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the cost of all rows' neighbours: the sparse product plus dense distance blocks."""
        n, nnz = rows.shape[0], int(rows.nnz)
        k = self.config.k if k is None else k
        shared = np.bincount(rows.indices, minlength=rows.shape[1]).astype(np.int64)
        work = int((shared**2).sum()) + n * n  # sparse products, then a dense pass over each block
        block = min(n * n * 8, self.config.max_memory_mb << 20) * 2  # dense block + sparse product
        return ResourceEstimate(work, n * (k + 1) * 16, 2 * nnz * 16 + block)

    def neighbours(self, rows: IntArray | None = None, k: int | None = None) -> NeighbourGraph:
        """Return the nearest other fitted rows of `rows` (all rows by default)."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        query = np.arange(self.rows_.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
        return self._search(self.rows_[query], query, k)

    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        """Return the nearest fitted rows of new vectors."""
        check_fitted(self, "rows_")
        return self._search(sp.csr_array(vectors, dtype=np.float64), None, k)

    def _search(self, vectors: sp.csr_array, self_rows: IntArray | None, k: int | None) -> NeighbourGraph:
        """Query in memory-bounded chunks; drop each row itself when `self_rows` is given."""
        assert self.rows_ is not None
        n_targets = self.rows_.shape[0]
        k = self.config.k if k is None else k
        extra = 0 if self_rows is None else 1
        width = min(k, n_targets - extra)
        n_query = vectors.shape[0]
        if width <= 0 or n_query == 0:
            shape = (n_query, max(0, width))
            return NeighbourGraph(np.full(shape, -1, dtype=np.int64), np.zeros(shape), n_targets)
        from sklearn import config_context

        # scikit-learn chunks each call by `working_memory`, and every chunk re-normalises all
        # fitted rows: calls of whole working-memory chunks (at least an eighth of the rows, for
        # the progress bar) keep its overhead to that of one plain call
        chunk_rows = max(1, (self.config.max_memory_mb << 20) // (n_targets * 8))
        step = max(chunk_rows, -(-n_query // 8))
        starts = range(0, n_query, step)
        indices = np.empty((n_query, width), dtype=np.int64)
        scores = np.empty((n_query, width))
        for start in progress_bar(starts, total=n_query, desc=f"{self.name}: neighbours", unit="rows",
                              sizes=(min(step, n_query - s) for s in starts)):
            stop = min(n_query, start + step)
            with config_context(working_memory=self.config.max_memory_mb):
                dist, ind = self._nn.kneighbors(sp.csr_matrix(vectors[start:stop]), n_neighbors=width + extra)
            if self_rows is not None:
                dist, ind = _drop_self(dist, ind, self_rows[start:stop])
            indices[start:stop] = ind
            scores[start:stop] = self._similarity(dist)
        return _canonical_graph(indices, scores, n_targets)

    def _similarity(self, distances: FloatArray) -> FloatArray:
        if self.config.metric == "cosine":
            return 1.0 - distances
        return 1.0 / (1.0 + distances)


def _canonical(rows: sp.csr_array) -> sp.csr_array:
    """Return `rows` as float64 CSR with sorted indices and no duplicates; the values are a copy."""
    rows = sp.csr_array(rows)
    if rows.has_canonical_format:
        data = rows.data.astype(np.float64, copy=True)
        return sp.csr_array((data, rows.indices, rows.indptr), shape=rows.shape, copy=False)
    prepared = sp.csr_array(rows, dtype=np.float64, copy=True)
    prepared.sum_duplicates()
    prepared.sort_indices()
    return prepared


def _drop_self(dist: FloatArray, ind: IntArray, self_rows: IntArray) -> tuple[FloatArray, IntArray]:
    """Remove each row's own index from its ``k + 1`` results, or the last result if absent."""
    is_self = ind == self_rows[:, None]
    no_self = ~is_self.any(axis=1)
    is_self[no_self, -1] = True
    # a row may be returned once only, so exactly one entry per row is dropped
    keep = ~is_self
    width = ind.shape[1] - 1
    return dist[keep].reshape(-1, width), ind[keep].reshape(-1, width)


def _canonical_graph(indices: IntArray, scores: FloatArray, n_targets: int) -> NeighbourGraph:
    """Order each row by similarity then row, and pad out neighbours of similarity <= 0."""
    order = np.lexsort((indices, -scores), axis=1)
    indices = np.take_along_axis(indices, order, axis=1)
    scores = np.take_along_axis(scores, order, axis=1)
    empty = ~(scores > 0)
    indices[empty] = -1
    scores[empty] = 0.0
    return NeighbourGraph(indices, scores, n_targets)


class SparseConfig(SimilarityConfig):
    """Parameters of :class:`SparseSimilarity`."""

    measure: Measure = "cosine"
    """Similarity of two rows ``a`` and ``b``; sums run over their co-rated columns ``C`` (see
    docs/similarity.md for every formula): ``cosine`` ``a.b / (|a| |b|)``; ``dot`` ``a.b``;
    ``corated_cosine`` ``a.b / sqrt(sum_C a^2 sum_C b^2)`` (Surprise's cosine);
    ``adjusted_cosine`` co-rated cosine of values centred by their column's mean (for item
    rows: the user's mean); ``pearson`` correlation over ``C``; ``msd`` ``1 / (1 + mean_C
    (a - b)^2)``; ``jaccard`` ``n / (|a| + |b| - n)``; ``dice`` ``2n / (|a| + |b|)``;
    ``tversky`` ``n / (n + alpha (|a| - n) + beta (|b| - n))``; ``asymmetric_cosine`` ``a.b /
    (|a|^(2 alpha) |b|^(2 (1 - alpha)))``; ``conditional_probability`` ``n / (|a| |b|^alpha)``;
    ``lift`` ``n N / (|a| |b|)``. ``n = |C|``; in the set measures ``|a|`` counts a's entries."""
    alpha: float = Field(0.5, ge=0.0)
    """``alpha`` of tversky, asymmetric cosine (in [0, 1]) and conditional probability (the
    popularity discount)."""
    beta: float = Field(0.5, ge=0.0)
    """``beta`` of tversky."""
    shrinkage: float = Field(0.0, ge=0.0)
    """Shrink each similarity towards 0 by its co-support: ``sim * n / (n + shrinkage)``."""
    min_support: PositiveInt = 1
    """Pairs with fewer co-rated columns than this get no similarity."""
    min_similarity: float | None = None
    """Similarities below this (after shrinkage) are dropped."""
    negative: Literal["drop", "keep"] = "drop"
    """Negative similarities (pearson, adjusted cosine): drop them, or keep them as neighbours
    ranked below every positive one."""
    engine: Engine = "auto"
    """Implementation: the compiled kernel (``numba``, needs ``pip install 'recframe[fast]'``),
    blocked scipy products (``scipy``), or numba when it is installed (``auto``)."""
    threads: PositiveInt | None = None
    """Threads of the compiled kernel; all cores by default."""
    max_memory_mb: PositiveInt = 1024
    """Working memory besides the result: the compiled kernel's per-thread heaps (it falls back
    to computing each pair twice when they don't fit) or the scipy engine's dense blocks."""


class SparseSimilarity(SimilarityBackend):
    """Exact k nearest neighbours by a sparse product that keeps only the top k of each row.

    The similarity matrix is never materialised: each row's products are accumulated and
    reduced to its best ``k`` at once. With the compiled engine every pair of rows is computed
    once, as the product is symmetric. Results equal :class:`SklearnNNSimilarity` with the
    cosine metric (scores to rounding, sets except at exact ties): a row is never its own
    neighbour, similarity-0 rows are no neighbours, and ties go to the lower row.

    Attributes
    ----------
    rows_ : csr_array of shape (n_rows, n_features)
        The fitted rows, normalised for cosine.
    """

    name = "sparse"
    Config = SparseConfig
    config: SparseConfig
    rows_: sp.csr_array | None = None
    column_means_: FloatArray | None = None

    @property
    def _spec(self) -> MeasureSpec | None:
        """The measure's kernel spec, or ``None`` for plain cosine and dot (the symmetric fast path)."""
        c = self.config
        plain = c.shrinkage == 0 and c.min_support == 1 and c.min_similarity is None and c.negative == "drop"
        if c.measure in ("cosine", "dot") and plain:
            return None
        return MeasureSpec.of(
            c.measure, alpha=c.alpha, beta=c.beta, shrinkage=c.shrinkage, min_support=c.min_support,
            min_similarity=c.min_similarity, keep_negative=c.negative == "keep",
        )

    def fit(self, rows: sp.csr_array) -> Self:
        """Keep (normalised or centred) copies of `rows` for neighbour queries."""
        if self.config.measure == "adjusted_cosine":
            rows = _canonical(rows)
            sums = np.bincount(rows.indices, weights=rows.data, minlength=rows.shape[1])
            counts = np.bincount(rows.indices, minlength=rows.shape[1])
            self.column_means_ = np.divide(sums, counts, out=np.zeros(len(sums)), where=counts > 0)
        self.rows_ = self._prepare(rows)
        self._transposed = sp.csr_array(self.rows_.T)
        self._transposed.sort_indices()
        self._totals = row_totals(self.rows_)
        return self

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the cost of all rows' neighbours (see :func:`recframe.engine.estimate_neighbours`)."""
        c = self.config
        if self._spec is not None:  # every pair twice, six accumulators per thread or six dense blocks
            k = c.k if k is None else k
            n, nnz = rows.shape[0], int(rows.nnz)
            shared = np.bincount(rows.indices, minlength=rows.shape[1]).astype(np.int64)
            threads = c.threads or default_threads()
            working = threads * n * 65 if resolve_engine(c.engine) == "numba" else c.max_memory_mb << 20
            return ResourceEstimate(int((shared**2).sum()), n * k * 16, 2 * nnz * 16 + working)
        return estimate_neighbours(
            rows, c.k if k is None else k, engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb
        )

    def _prepare(self, rows: sp.csr_array) -> sp.csr_array:
        """Return `rows` as canonical float64 CSR, prepared for the measure.

        Plain cosine gets L2-normalised rows; adjusted cosine values centred by the training
        columns' means (stored zeros are kept: they are co-ratings). Canonical input shares its
        index arrays with the result (only the values are copied), which saves a third of the
        matrix's memory on large data.
        """
        prepared = _canonical(rows)
        if self.column_means_ is not None:
            prepared.data -= self.column_means_[prepared.indices]
        if self.config.measure == "cosine" and self._spec is None and prepared.nnz:
            lengths = np.diff(prepared.indptr)
            filled = lengths > 0
            norms = np.ones(len(lengths))
            norms[filled] = np.sqrt(np.add.reduceat(prepared.data**2, prepared.indptr[:-1][filled]))
            prepared.data /= np.repeat(norms, lengths)
        return prepared

    def neighbours(self, rows: IntArray | None = None, k: int | None = None) -> NeighbourGraph:
        """Return the nearest other fitted rows of `rows` (all rows by default)."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        k = self.config.k if k is None else k
        n = self.rows_.shape[0]
        c = self.config
        spec = self._spec
        if spec is not None:
            query = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
            columns, scores = top_k_by_measure(
                self.rows_, query, self._transposed, self._totals, spec, min(k, max(n - 1, 0)), exclude_self=True,
                engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb, desc=f"{self.name}: neighbours",
            )
        elif rows is None:
            columns, scores = top_k_neighbours(
                self.rows_, min(k, max(n - 1, 0)), engine=c.engine, threads=c.threads,
                max_memory_mb=c.max_memory_mb, transposed=self._transposed,
            )
        else:
            columns, scores = top_n_product(
                self.rows_, np.asarray(rows, dtype=np.int64), self._transposed, min(k, max(n - 1, 0)),
                exclude_self=True, engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb,
                desc=f"{self.name}: neighbours",
            )
        return NeighbourGraph(columns, scores, n)

    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        """Return the nearest fitted rows of new vectors."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        c = self.config
        k = c.k if k is None else k
        prepared = self._prepare(vectors)
        n = self.rows_.shape[0]
        spec = self._spec
        if spec is not None:
            columns, scores = top_k_by_measure(
                prepared, np.arange(prepared.shape[0]), self._transposed, self._totals, spec, min(k, n),
                engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb, desc=f"{self.name}: query",
            )
            return NeighbourGraph(columns, scores, n)
        columns, scores = top_n_product(
            prepared, np.arange(prepared.shape[0]), self._transposed, min(k, n), engine=c.engine,
            threads=c.threads, max_memory_mb=c.max_memory_mb, desc=f"{self.name}: query",
        )
        return NeighbourGraph(columns, scores, n)


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in similarity backends."""
    return [SklearnNNSimilarity, SparseSimilarity]
