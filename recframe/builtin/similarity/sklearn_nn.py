"""The ``sklearn_nn`` similarity backend (the default): scikit-learn's exact nearest-neighbour search.

The reference every other backend is checked against: ``NearestNeighbors(metric="cosine",
algorithm="brute")`` over the rows, with each row's own entry dropped from its neighbours.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
)
from recframe import progress_bar as progress

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
    """Working memory of a search besides the fitted rows and the result, in MB. The fitted
    rows are searched in blocks of at most a quarter of this of stored entries (scikit-learn
    copies a block on ``fit`` and normalises and transposes it on every call), with dense
    distance blocks of a quarter of this (scikit-learn's ``working_memory``; its sparse product
    takes up to 1.5 times as much again): about 1.4 times this at the peak. The blocks' best
    neighbours are merged: the scores are the same for any value (which of the rows tied at
    the ``k``-th place is kept may differ, as scikit-learn picks among ties). An ML-20M-shaped item-item
    search peaks at about 1.2 GB in all (2.2 GB with one block of all rows) in the same time."""

    run_settings: ClassVar[frozenset[str]] = SimilarityConfig.run_settings | {"algorithm", "n_jobs", "max_memory_mb"}

    @field_validator("n_jobs", mode="after")
    @classmethod
    def _some_workers(cls, n_jobs: int | None) -> int | None:
        if n_jobs == 0:
            msg = "0 workers can't search; use a positive number, -1 for all cores, or null for one"
            raise ValueError(msg)
        return n_jobs


class SklearnNNSimilarity(SimilarityBackend):
    """Exact k nearest neighbours by scikit-learn's ``NearestNeighbors``, the reference backend.

    The fitted rows are searched in blocks that fit ``max_memory_mb``, each by its own
    ``NearestNeighbors``, and every query row keeps its best neighbours over the blocks: a
    distance depends only on the two rows it compares, so the blocks change no score (only,
    at an exact tie at the ``k``-th place, which of the tied rows is kept). A row is never its
    own neighbour (also when another row is identical to it), and a neighbour with similarity 0
    is no neighbour: it is left out of the graph, as it could not contribute to any score.
    Neighbours are ordered by similarity, ties by lower row.

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
        """Index `rows` for neighbour queries (checked as scikit-learn's ``fit`` checks them)."""
        from sklearn.utils import check_array

        matrix = _sklearn_input(sp.csr_array(rows, dtype=np.float64))
        self._nn: Any = None
        if len(_blocks(matrix, self.config.max_memory_mb)) == 1:
            # scikit-learn keeps a copy of sparse rows: the fitted rows are that copy, not a second one
            self.rows_ = sp.csr_array(self._index(matrix)._fit_X)
        else:  # searched block by block, each block's index made when it is searched
            check_array(matrix, accept_sparse="csr")  # NaN, infinity: scikit-learn's own errors
            self.rows_ = sp.csr_array(matrix, copy=True)
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

    def _index(self, rows: sp.csr_matrix | None = None) -> Any:
        """Return scikit-learn's index of all fitted rows (one block), made on first use (after ``set_state``)."""
        if getattr(self, "_nn", None) is None:
            assert self.rows_ is not None or rows is not None
            self._nn = self._fitted(_sklearn_input(self.rows_) if rows is None else rows)
        return self._nn

    def _fitted(self, rows: sp.csr_matrix) -> Any:
        """Return a scikit-learn index of `rows` with this backend's settings."""
        from sklearn.neighbors import NearestNeighbors

        c = self.config
        return NearestNeighbors(metric=c.metric, algorithm=c.algorithm, n_jobs=c.n_jobs).fit(rows)

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Allow row-by-row updates: every metric compares two rows by their own entries only."""
        return None

    def update_measure(self) -> Literal["cosine"] | None:
        """Update the cosine metric from dot products; the others row by row."""
        return "cosine" if self.config.metric == "cosine" else None

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the cost of all rows' neighbours: the sparse products plus dense distance blocks."""
        n, nnz = rows.shape[0], int(rows.nnz)
        k = self.config.k if k is None else k
        shared = np.bincount(rows.indices, minlength=rows.shape[1]).astype(np.int64)
        work = int((shared**2).sum()) + n * n  # sparse products, then a dense pass over each block
        working = min(2 * nnz * 16 + n * n * 20, (self.config.max_memory_mb << 20) * 7 // 5)
        return ResourceEstimate(work, n * (k + 1) * 16, nnz * 16 + working)

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
        """Query block by block of fitted rows; drop each row itself when `self_rows` is given."""
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

        wanted = width + extra
        blocks = _blocks(self.rows_, self.config.max_memory_mb)
        working = max(1, self.config.max_memory_mb // 4)
        calls = [  # one call per working-memory chunk of query rows: every call re-normalises its block
            (start, stop, begin, min(n_query, begin + step))
            for start, stop in blocks
            for step in [max(1, (working << 20) // ((stop - start) * 8))]
            for begin in range(0, n_query, step)
        ]
        dist, ind = np.full((n_query, 0), np.inf), np.zeros((n_query, 0), dtype=np.int64)
        sizes = (end - begin for _, _, begin, end in calls)
        chunks = progress(calls, total=len(blocks) * n_query, desc=f"{self.name}: neighbours", unit="rows", sizes=sizes)
        for (start, stop), block in itertools.groupby(chunks, key=lambda call: call[:2]):
            index = self._index() if len(blocks) == 1 else self._fitted(_sklearn_input(self.rows_[start:stop]))
            with config_context(working_memory=working):
                found = [
                    index.kneighbors(_sklearn_input(vectors[begin:end]), n_neighbors=min(wanted, stop - start))
                    for _, _, begin, end in block
                ]
            more_dist, more_ind = np.vstack([d for d, _ in found]), np.vstack([i for _, i in found]) + start
            dist, ind = _best(dist, ind, more_dist, more_ind, wanted)
        if self_rows is not None:
            dist, ind = _drop_self(dist, ind, self_rows)
        return _canonical_graph(ind, self._similarity(dist), n_targets)

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


def _blocks(rows: sp.csr_array | sp.csr_matrix, max_memory_mb: int) -> list[tuple[int, int]]:
    """Return ranges of rows of about equal stored entries, each at most a quarter of `max_memory_mb`."""
    n = rows.shape[0]
    # 12 bytes an entry (float64 value, int32 index: what scikit-learn gets), whatever `rows` hold,
    # so that a loaded model splits its rows as the fitted one did
    count = int(min(max(1, -(-rows.nnz * 12 // max(1, (max_memory_mb << 20) // 4))), max(n, 1)))
    cuts = np.searchsorted(rows.indptr, np.linspace(0, rows.nnz, count + 1)[1:-1], side="right") - 1
    edges = np.unique(np.r_[0, np.clip(cuts, 0, n), n])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a] or [(0, n)]


def _best(
    dist: FloatArray, ind: IntArray, more_dist: FloatArray, more_ind: IntArray, width: int
) -> tuple[FloatArray, IntArray]:
    """Return each row's `width` nearest of both candidate sets, ties by lower row."""
    dist, ind = np.hstack([dist, more_dist]), np.hstack([ind, more_ind])
    order = np.lexsort((ind, dist), axis=1)[:, :width]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(ind, order, axis=1)


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
