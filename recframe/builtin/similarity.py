"""Built-in similarity backends: ``sklearn_nn`` (the default) and ``sparse``.

``sklearn_nn`` is scikit-learn's exact nearest-neighbour search, the reference; ``sparse`` is a
sparse top-k product that gives the same neighbours much faster and in less memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt

from recframe import (
    Component,
    NeighbourGraph,
    SimilarityBackend,
    SimilarityConfig,
    check_fitted,
    hookimpl,
)
from recframe.interfaces import ResourceEstimate
from recframe.kernels import Engine, estimate_neighbours, top_k_neighbours, top_n_product
from recframe.progress import progress

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray


class SklearnNNConfig(SimilarityConfig):
    """Parameters of :class:`SklearnNNSimilarity`."""

    metric: Literal["cosine", "euclidean", "manhattan"] = "cosine"
    """Distance scikit-learn ranks by. Similarity is ``1 - d`` for cosine and ``1 / (1 + d)``
    for the others."""
    algorithm: Literal["brute", "auto"] = "brute"
    """scikit-learn's search algorithm; on sparse rows both mean exact brute force."""
    n_jobs: int | None = None
    """Worker processes of scikit-learn (``-1`` for all cores); one by default."""
    max_memory_mb: PositiveInt = 1024
    """scikit-learn's ``working_memory`` for one block of dense distances (its default). The
    sparse product behind a block takes up to about as much again; lower it to bound memory,
    at the cost of more blocks, each of which re-normalises all fitted rows."""


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
        for start in progress(starts, total=n_query, desc=f"{self.name}: neighbours", unit="rows",
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

    measure: Literal["cosine", "dot"] = "cosine"
    """Similarity of two rows: cosine (dot product of the L2-normalised rows) or the raw dot
    product."""
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

    def fit(self, rows: sp.csr_array) -> Self:
        """Keep (normalised) copies of `rows` for neighbour queries."""
        self.rows_ = self._prepare(rows)
        self._transposed = sp.csr_array(self.rows_.T)
        self._transposed.sort_indices()
        return self

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the cost of all rows' neighbours (see :func:`recframe.kernels.estimate_neighbours`)."""
        c = self.config
        return estimate_neighbours(
            rows, c.k if k is None else k, engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb
        )

    def _prepare(self, rows: sp.csr_array) -> sp.csr_array:
        """Return `rows` as canonical float64 CSR, L2-normalised for cosine.

        Canonical input shares its index arrays with the result (only the values are copied),
        which saves a third of the matrix's memory on large data.
        """
        rows = sp.csr_array(rows)
        if rows.has_canonical_format:
            data = rows.data.astype(np.float64, copy=True)
            prepared = sp.csr_array((data, rows.indices, rows.indptr), shape=rows.shape, copy=False)
        else:
            prepared = sp.csr_array(rows, dtype=np.float64, copy=True)
            prepared.sum_duplicates()
            prepared.sort_indices()
        if self.config.measure == "cosine" and prepared.nnz:
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
        if rows is None:
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
        columns, scores = top_n_product(
            prepared, np.arange(prepared.shape[0]), self._transposed, min(k, n), engine=c.engine,
            threads=c.threads, max_memory_mb=c.max_memory_mb, desc=f"{self.name}: query",
        )
        return NeighbourGraph(columns, scores, n)


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in similarity backends."""
    return [SklearnNNSimilarity, SparseSimilarity]
