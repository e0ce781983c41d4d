"""The ``sparse`` similarity backend: exact top-k neighbours by a sparse top-k product.

The same neighbours as ``sklearn_nn`` (cosine), or those of any measure of
:mod:`recframe.engine.measures`, much faster and in less memory, on the numba or the scipy engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import numpy as np
import scipy.sparse as sp

from recframe import (
    DataError,
    NeighbourGraph,
    PluginError,
    ResourceEstimate,
    SimilarityBackend,
    State,
    check_fitted,
    csr_from_state,
    csr_state,
)
from recframe.builtin.similarity.sparse_config import USES_ALPHA, USES_BETA, SparseConfig
from recframe.builtin.similarity.sparse_rows import canonical, transpose_of
from recframe.engine import (
    GRAPH,
    Degree,
    MeasureSpec,
    default_threads,
    estimate_neighbours,
    freeze,
    freeze_checked,
    freeze_shared,
    l1_normalise,
    pair_bounds,
    pair_offers,
    pairs_met_often,
    resolve_engine,
    row_totals,
    top_k_by_measure,
    top_k_neighbours,
    top_n_product,
    walk_queries,
    walk_targets,
)

__all__ = ["USES_ALPHA", "USES_BETA", "SparseConfig", "SparseSimilarity"]

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe import FloatArray, IntArray


class SparseSimilarity(SimilarityBackend):
    """Exact k nearest neighbours by a sparse product that keeps only the top k of each row.

    The similarity matrix is never materialised: each row's products are accumulated and
    reduced to its best ``k`` at once. With the compiled engine every pair of rows is computed
    once, as the product is symmetric. Results equal :class:`SklearnNNSimilarity` with the
    cosine metric (scores to rounding, sets except at exact ties): a row is never its own
    neighbour, similarity-0 rows are no neighbours, and ties go to the lower row. The
    random-walk measures (p3alpha, rp3beta) are the product of two prepared copies of the rows
    (see :mod:`recframe.engine.graph`), each pair computed from both sides.

    Attributes
    ----------
    rows_ : csr_array of shape (n_rows, n_features)
        The fitted rows as a query sees them: as given for plain cosine and dot (read-only,
        not copied when canonical float64; cosine divides each product by the two rows' L2
        norms), centred for adjusted cosine, the walk's first step for p3alpha and rp3beta.
    column_means_ : ndarray of shape (n_features,) or None
        The training columns' means (adjusted cosine only).
    """

    name = "sparse"
    Config = SparseConfig
    config: SparseConfig
    rows_: sp.csr_array | None = None
    column_means_: FloatArray | None = None
    _normalised = False  # a plain cosine model saved with L2-normalised rows (see set_state)

    @property
    def _alpha(self) -> float:
        """``alpha`` as the config's validation resolved it (the measure's default when not given)."""
        assert self.config.alpha is not None  # validation never leaves it unset
        return self.config.alpha

    @property
    def _spec(self) -> MeasureSpec | None:
        """The measure's kernel spec, or ``None`` for plain cosine, dot and walks (a plain product)."""
        c = self.config
        plain = c.shrinkage == 0 and c.min_support == 1 and c.min_similarity is None and c.negative == "drop"
        if (c.measure in ("cosine", "dot") or c.measure in GRAPH) and plain:
            return None
        return MeasureSpec.of(
            c.measure,
            alpha=self._alpha,
            beta=c.beta,
            shrinkage=c.shrinkage,
            min_support=c.min_support,
            min_similarity=c.min_similarity,
            keep_negative=c.negative == "keep",
        )

    @property
    def _symmetric_product(self) -> bool:
        """Whether the search of all rows is the plain product ``X @ X.T`` (cosine or dot): each pair computed once."""
        return self._spec is None and self.config.measure not in GRAPH

    def fit(self, rows: sp.csr_array) -> Self:
        """Keep `rows` (plain cosine and dot: as given, with their norms) and their transpose for neighbour queries.

        Plain cosine and dot keep canonical float64 `rows` themselves, read-only (their arrays,
        and those they view, are flagged so; other input gets one canonical copy), and a transpose made here, its
        values float32 when that loses nothing (ratings and binary data); cosine divides each
        product by the two rows' norms. The other measures keep prepared copies (centred,
        walk-prepared).

        Raises
        ------
        DataError
            For p3alpha and rp3beta, if a value is negative or not finite (it must weigh an edge).
        """
        return self._fit(rows, None)

    def fit_transposed(self, rows: sp.csr_array, transposed: sp.csr_array) -> Self:
        """Fit on `rows` with their transpose given (see :class:`~recframe.SupportsTransposedFit`): kept, not copied.

        Plain cosine and dot keep `transposed` (read-only) after checking it entry by entry
        against `rows` (one pass, no copy); the other measures search prepared copies and
        ignore it.

        Raises
        ------
        ValueError
            If `transposed` is not the transpose of `rows` (shape, entries or values), naming it.
        DataError
            As :meth:`fit`.
        """
        return self._fit(rows, transposed)

    def _fit(self, rows: sp.csr_array, transposed: sp.csr_array | None) -> Self:
        """Fit as :meth:`fit`, with the caller's transpose of `rows` when given (plain products only)."""
        c = self.config
        self._normalised = False
        if self._symmetric_product:
            self.rows_ = freeze_shared(canonical(rows, share=True), "rows")
            self.column_means_ = None
            self._transposed = transpose_of(self.rows_, transposed)
            self._totals = row_totals(self.rows_)
            return self
        if c.measure == "adjusted_cosine":
            rows = canonical(rows)
            sums = np.bincount(rows.indices, weights=rows.data, minlength=rows.shape[1])
            counts = np.bincount(rows.indices, minlength=rows.shape[1])
            self.column_means_ = np.divide(sums, counts, out=np.zeros(len(sums)), where=counts > 0)
        self.rows_ = self._prepare(rows)
        targets = self.rows_
        if c.measure in GRAPH:  # the walk's last step into each row: column totals of all rows
            beta = c.beta if c.measure == "rp3beta" else 0.0
            targets = self._walk(walk_targets, rows, self._alpha, beta, degree=c.degree)
        self._transposed = sp.csr_array(targets.T)
        self._transposed.sort_indices()
        self._totals = row_totals(targets)
        # read-only and checked once: queries then check them in O(1), not O(stored entries)
        freeze_checked(self.rows_)
        freeze_checked(self._transposed)
        return self

    @property
    def _norms(self) -> FloatArray | None:
        """The rows' L2 norms that a plain cosine divides each product by (``None``: dot, or a normalised old model)."""
        if self.config.measure == "cosine" and self._symmetric_product and not self._normalised:
            return self._totals[0]
        return None

    def get_state(self) -> State:
        """Return the rows (``rows.*``), the targets' transpose (``transposed.*``), totals and column means.

        For plain cosine and dot the rows are raw (``raw_rows`` marks it; the norms divide each
        product); a model saved before that kept L2-normalised rows and loads as such.
        """
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        state: State = {
            **csr_state("rows", self.rows_),
            **csr_state("transposed", self._transposed),
            "norms": self._totals[0],
            "counts": self._totals[1],
        }
        if self._symmetric_product and not self._normalised:
            state["raw_rows"] = np.ones(1, dtype=np.bool_)
        if self.column_means_ is not None:
            state["column_means"] = self.column_means_
        return state

    def set_state(self, state: State) -> None:
        """Restore what :meth:`get_state` returned, reading none of the rows' entries.

        A plain cosine model saved without ``raw_rows`` (before raw rows were kept) holds
        L2-normalised rows: it answers as then, its products being the cosines.
        """
        self.rows_ = csr_from_state(state, "rows")
        self._transposed = csr_from_state(state, "transposed")
        freeze(self.rows_)
        freeze(self._transposed)
        norms, counts, means = state.get("norms"), state.get("counts"), state.get("column_means")
        if not isinstance(norms, np.ndarray) or not isinstance(counts, np.ndarray):
            msg = f"{type(self).__name__}: the state has no 'norms' and 'counts' arrays"
            raise PluginError(msg)
        self._totals = (norms, counts)
        self._normalised = self._symmetric_product and "raw_rows" not in state
        self.column_means_ = means if isinstance(means, np.ndarray) else None

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Allow row-by-row updates except where a similarity depends on other rows than the two compared.

        ``adjusted_cosine`` centres every value by its column's mean over all rows, the walks
        divide by column totals over all rows, ``normalise: l1`` divides by the sum over each
        row's neighbours, and ``lift`` scales by the number of columns (only a change of it
        is an obstacle).
        """
        c = self.config
        if c.measure == "adjusted_cosine":
            return "measure 'adjusted_cosine' centres every row by column means taken over all rows"
        if c.measure in GRAPH:
            return f"measure {c.measure!r} walks through columns whose totals are taken over all rows"
        if c.normalise == "l1":
            return "normalise 'l1' divides every row's scores by their sum over its neighbours, which any row changes"
        if c.measure == "lift" and columns_changed:
            return "measure 'lift' scales every similarity by the number of columns, which changed"
        return None

    def update_measure(self) -> Literal["cosine", "dot"] | None:
        """Plain ``cosine`` and ``dot`` (no modifiers, no normalisation) are updated from dot products."""
        c = self.config
        if self._spec is None and c.measure in ("cosine", "dot") and c.normalise == "none":
            return "cosine" if c.measure == "cosine" else "dot"
        return None

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate:
        """Estimate the cost of all rows' neighbours (see :func:`recframe.engine.estimate_neighbours`)."""
        c = self.config
        k = c.k if k is None else k
        if self._spec is None and c.measure not in GRAPH:
            return estimate_neighbours(rows, k, engine=c.engine, threads=c.threads, max_memory_mb=c.max_memory_mb)
        # every pair twice: six accumulators per thread (a measure) or one (a walk), or dense blocks
        n, nnz = rows.shape[0], int(rows.nnz)
        shared = np.bincount(rows.indices, minlength=rows.shape[1]).astype(np.int64)
        threads = c.threads or default_threads()
        per_row = 65 if self._spec is not None else 18
        working = threads * n * per_row if resolve_engine(c.engine) == "numba" else c.max_memory_mb << 20
        return ResourceEstimate(int((shared**2).sum()), n * k * 16, 2 * nnz * 16 + working)

    def _walk(
        self, prepare: Callable[..., sp.csr_array], rows: sp.csr_array, *args: float, degree: Degree
    ) -> sp.csr_array:
        """Run a walk's preparation, naming this backend and its measure in a data error."""
        try:
            return prepare(rows, *args, degree=degree)
        except DataError as exc:
            msg = f"similarity {self.name!r} (measure {self.config.measure!r}): {exc}"
            raise DataError(msg) from exc

    def _prepare(self, rows: sp.csr_array) -> sp.csr_array:
        """Return `rows` as canonical float64 CSR, prepared for the measure as a query.

        Plain cosine and dot get the raw values (cosine divides by the norms in the kernel),
        except for a model saved with L2-normalised rows (then normalised as they are);
        adjusted cosine values centred by the training columns' means (stored zeros are kept:
        they are co-ratings); the walks the first step from each row (stored zeros dropped:
        they are no edges). Canonical input shares its index arrays with the result (only the
        values are copied), which saves a third of the matrix's memory on large data.
        """
        c = self.config
        if c.measure in GRAPH:
            return self._walk(walk_queries, rows, self._alpha, degree=c.degree)
        prepared = canonical(rows)
        if self.column_means_ is not None:
            prepared.data -= self.column_means_[prepared.indices]
        if self._normalised and c.measure == "cosine" and prepared.nnz:
            norms, _ = row_totals(prepared)
            prepared.data /= np.repeat(norms, np.diff(prepared.indptr))
        return prepared

    def _graph(self, columns: IntArray, scores: FloatArray, n: int) -> NeighbourGraph:
        """Return the neighbour graph of the kept lists, normalised as configured."""
        return NeighbourGraph(columns, l1_normalise(scores) if self.config.normalise == "l1" else scores, n)

    def neighbours(self, rows: IntArray | None = None, k: int | None = None) -> NeighbourGraph:
        """Return the nearest other fitted rows of `rows` (all rows by default)."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        k = self.config.k if k is None else k
        n = self.rows_.shape[0]
        c = self.config
        spec = self._spec
        query = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        if spec is not None:
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
        elif rows is None and self._symmetric_product:
            columns, scores = top_k_neighbours(
                self.rows_,
                min(k, max(n - 1, 0)),
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                transposed=self._transposed,
                norms=self._norms,
            )
        else:
            columns, scores = top_n_product(
                self.rows_,
                query,
                self._transposed,
                min(k, max(n - 1, 0)),
                exclude_self=True,
                query_norms=self._norms,
                target_norms=self._norms,
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                desc=f"{self.name}: neighbours",
            )
        return self._graph(columns, scores, n)

    def pair_blocks(self, n_blocks: int, k: int | None = None) -> list[tuple[int, int]]:
        """Split the search of all rows into ranges of equal pair work (see :class:`~recframe.SupportsPairBlocks`).

        Plain cosine and dot on the compiled engine only, the measures ``neighbours()`` can search
        pair by pair: none for the others, the scipy engine, a subclass whose own
        ``neighbours`` is not the search the pairs reproduce, rows that meet too few pairs often
        enough for the pairs to pay (see :func:`recframe.engine.pairs_met_often`: blocks of
        query rows are quicker there), or when a block's heaps would not fit in
        ``max_memory_mb`` (see :func:`recframe.engine.pair_bounds`).
        """
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        c = self.config
        n = self.rows_.shape[0]
        by_pairs = self._symmetric_product and resolve_engine(c.engine) == "numba" and n >= 2
        if not by_pairs or type(self).neighbours is not SparseSimilarity.neighbours:
            return []
        if not pairs_met_often(self.rows_, self._transposed, engine=c.engine, threads=c.threads):
            return []
        k = min(c.k if k is None else k, n - 1)
        return pair_bounds(self.rows_, self._transposed, n_blocks, k=k, max_memory_mb=c.max_memory_mb)

    def pair_offers(self, start: int, stop: int, k: int | None = None) -> NeighbourGraph:
        """Return the best raw partners of every row from `start` on among the pairs of rows ``[start, stop)``."""
        check_fitted(self, "rows_")
        assert self.rows_ is not None
        c = self.config
        n = self.rows_.shape[0]
        k = min(c.k if k is None else k, max(n - 1, 0))
        columns, scores = pair_offers(
            self.rows_,
            self._transposed,
            start,
            stop,
            k,
            norms=self._norms,
            threads=c.threads,
            max_memory_mb=c.max_memory_mb,
        )
        return NeighbourGraph(columns, scores, n)

    def finish_pairs(self, merged: NeighbourGraph) -> NeighbourGraph:
        """Return the merged lists normalised as configured (``normalise: l1`` applies to whole lists)."""
        return self._graph(merged.indices, merged.scores, merged.n_targets)

    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        """Return the nearest fitted rows of new vectors (for the walks: from each vector's own first step)."""
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
        else:
            norms = self._norms
            columns, scores = top_n_product(
                prepared,
                np.arange(prepared.shape[0]),
                self._transposed,
                min(k, n),
                query_norms=None if norms is None else row_totals(prepared)[0],
                target_norms=norms,
                engine=c.engine,
                threads=c.threads,
                max_memory_mb=c.max_memory_mb,
                desc=f"{self.name}: query",
            )
        return self._graph(columns, scores, n)
