"""The ``sklearn_nn`` similarity backend (the default): scikit-learn's exact nearest-neighbour search.

The reference every other backend is checked against: ``NearestNeighbors(metric="cosine",
algorithm="brute")`` over the rows, with each row's own entry dropped from its neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, PositiveInt, field_validator

from recframe import (
    NeighbourGraph,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    State,
    check_fitted,
    csr_from_state,
    csr_state,
    progress_bar,
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
    max_memory_mb: PositiveInt = 256
    """scikit-learn's ``working_memory`` for one block of dense distances (its own default is
    1024). The sparse product behind a block takes up to about 1.5 times as much again, so a
    block costs about 2.5 times this; lower it to bound memory, at the cost of more blocks, each
    of which re-normalises all fitted rows. 256 halves the peak of 1024 on an ML-20M-shaped
    item-item search (4.0 -> about 1.8 GB) in the same time."""

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

        # scikit-learn's sparse distance path runs about 1.7x faster on spmatrix than on sparray
        self._nn: Any = NearestNeighbors(
            metric=self.config.metric, algorithm=self.config.algorithm, n_jobs=self.config.n_jobs
        ).fit(_sklearn_input(sp.csr_array(rows, dtype=np.float64)))
        # scikit-learn keeps a copy of sparse rows: the fitted rows are that copy, not a second one
        # (the caller's rows can then be freed: 224 MB on an ML-20M-shaped item-item search)
        self.rows_ = sp.csr_array(self._nn._fit_X)
        return self

    def get_state(self) -> State:
        """Return the fitted rows (``rows.*``); scikit-learn's index is rebuilt from them."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        return csr_state("rows", self.rows_)

    def set_state(self, state: State) -> None:
        """Restore the fitted rows; scikit-learn's index is built on the first query, not now."""
        self.rows_ = csr_from_state(state, "rows")
        self._nn = None

    def _index(self) -> Any:
        """Return scikit-learn's index of the fitted rows, building it on first use after ``set_state``."""
        if getattr(self, "_nn", None) is None:
            from sklearn.neighbors import NearestNeighbors

            assert self.rows_ is not None
            self._nn = NearestNeighbors(
                metric=self.config.metric, algorithm=self.config.algorithm, n_jobs=self.config.n_jobs
            ).fit(_sklearn_input(self.rows_))
        return self._nn

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Allow row-by-row updates: every metric compares two rows by their own entries only."""
        return None

    def update_measure(self) -> Literal["cosine"] | None:
        """Update the cosine metric from dot products; the others row by row."""
        return "cosine" if self.config.metric == "cosine" else None

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
        if rows is None:  # every row: the fitted rows themselves, not a copy picked out of them
            return self._search(self.rows_, np.arange(self.rows_.shape[0]), k)
        query = np.asarray(rows, dtype=np.int64)
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
        for start in progress_bar(
            starts,
            total=n_query,
            desc=f"{self.name}: neighbours",
            unit="rows",
            sizes=(min(step, n_query - s) for s in starts),
        ):
            stop = min(n_query, start + step)
            with config_context(working_memory=self.config.max_memory_mb):
                dist, ind = self._index().kneighbors(_sklearn_input(vectors[start:stop]), n_neighbors=width + extra)
            if self_rows is not None:
                dist, ind = _drop_self(dist, ind, self_rows[start:stop])
            indices[start:stop] = ind
            scores[start:stop] = self._similarity(dist)
        return _canonical_graph(indices, scores, n_targets)

    def _similarity(self, distances: FloatArray) -> FloatArray:
        if self.config.metric == "cosine":
            return 1.0 - distances
        return 1.0 / (1.0 + distances)


def _sklearn_input(rows: sp.csr_array) -> sp.csr_matrix:
    """Return `rows` as the CSR matrix scikit-learn takes, with 32-bit indices where they fit.

    scikit-learn's sparse Manhattan kernel accepts only 32-bit indices, and rows picked by
    fancy indexing come with 64-bit ones; the other metrics take either.
    """
    matrix = sp.csr_matrix(rows)
    limit = np.iinfo(np.int32).max
    if matrix.indices.dtype != np.int32 and max(matrix.nnz, *matrix.shape) < limit:
        matrix = sp.csr_matrix(
            (matrix.data, matrix.indices.astype(np.int32), matrix.indptr.astype(np.int32)), shape=matrix.shape
        )
    return matrix


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
