"""The ``sparse`` similarity backend: exact top-k neighbours by a sparse top-k product.

The same neighbours as ``sklearn_nn`` (cosine), or those of any measure of
:mod:`recframe.engine.measures`, much faster and in less memory, on the numba or the scipy engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, PositiveInt

from recframe import (
    NeighbourGraph,
    PluginError,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    State,
    check_fitted,
    csr_from_state,
    csr_state,
)
from recframe.engine import (
    Engine,
    Measure,
    MeasureSpec,
    default_threads,
    estimate_neighbours,
    freeze,
    freeze_checked,
    resolve_engine,
    row_totals,
    top_k_by_measure,
    top_k_neighbours,
    top_n_product,
)

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe import FloatArray, IntArray


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
            c.measure,
            alpha=c.alpha,
            beta=c.beta,
            shrinkage=c.shrinkage,
            min_support=c.min_support,
            min_similarity=c.min_similarity,
            keep_negative=c.negative == "keep",
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
        # read-only and checked once: queries then check them in O(1), not O(stored entries)
        freeze_checked(self.rows_)
        freeze_checked(self._transposed)
        return self

    def get_state(self) -> State:
        """Return the prepared rows (``rows.*``), their transpose (``transposed.*``), totals and column means."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        state: State = {
            **csr_state("rows", self.rows_),
            **csr_state("transposed", self._transposed),
            "norms": self._totals[0],
            "counts": self._totals[1],
        }
        if self.column_means_ is not None:
            state["column_means"] = self.column_means_
        return state

    def set_state(self, state: State) -> None:
        """Restore what :meth:`get_state` returned, reading none of the rows' entries."""
        self.rows_ = csr_from_state(state, "rows")
        self._transposed = csr_from_state(state, "transposed")
        freeze(self.rows_)
        freeze(self._transposed)
        norms, counts, means = state.get("norms"), state.get("counts"), state.get("column_means")
        if not isinstance(norms, np.ndarray) or not isinstance(counts, np.ndarray):
            msg = f"{type(self).__name__}: the state has no 'norms' and 'counts' arrays"
            raise PluginError(msg)
        self._totals = (norms, counts)
        self.column_means_ = means if isinstance(means, np.ndarray) else None

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Allow row-by-row updates except where a similarity depends on other rows than the two compared.

        ``adjusted_cosine`` centres every value by its column's mean over all rows, and
        ``lift`` scales by the number of columns (only a change of it is an obstacle).
        """
        if self.config.measure == "adjusted_cosine":
            return "measure 'adjusted_cosine' centres every row by column means taken over all rows"
        if self.config.measure == "lift" and columns_changed:
            return "measure 'lift' scales every similarity by the number of columns, which changed"
        return None

    def update_measure(self) -> Literal["cosine", "dot"] | None:
        """Plain ``cosine`` and ``dot`` (no modifiers) are updated from dot products."""
        if self._spec is None and self.config.measure in ("cosine", "dot"):
            return "cosine" if self.config.measure == "cosine" else "dot"
        return None

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
                self.rows_,
                query,
                self._transposed,
                self._totals,
                spec,
                min(k, max(n - 1, 0)),
                exclude_self=True,
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                desc=f"{self.name}: neighbours",
            )
        elif rows is None:
            columns, scores = top_k_neighbours(
                self.rows_,
                min(k, max(n - 1, 0)),
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                transposed=self._transposed,
            )
        else:
            columns, scores = top_n_product(
                self.rows_,
                np.asarray(rows, dtype=np.int64),
                self._transposed,
                min(k, max(n - 1, 0)),
                exclude_self=True,
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
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
                prepared,
                np.arange(prepared.shape[0]),
                self._transposed,
                self._totals,
                spec,
                min(k, n),
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                desc=f"{self.name}: query",
            )
            return NeighbourGraph(columns, scores, n)
        columns, scores = top_n_product(
            prepared,
            np.arange(prepared.shape[0]),
            self._transposed,
            min(k, n),
            engine=c.engine,
            threads=c.threads,
            max_memory_mb=c.max_memory_mb,
            desc=f"{self.name}: query",
        )
        return NeighbourGraph(columns, scores, n)
