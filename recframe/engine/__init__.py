"""The compute engine: the primitives recframe's built-in plugins use, public for every plugin.

A similarity backend or a ranker written by a third party can be as fast, and as bounded in
memory, as ``sparse``, ``item_cf`` and ``user_cf``, because those built-ins use nothing but
what this package exports. Everything works on scipy CSR arrays and numpy arrays; rows and
columns are matrix positions (``-1`` marks a missing row or pads a short result).

Sparse top-n products with exclusions
    :func:`top_n_product` returns, for each requested row ``r``, the ``n`` largest positive
    entries of ``A[r] @ B``, leaving out columns the caller names (seen items, explicit
    exclusions, the row itself); :func:`top_k_neighbours` is the symmetric special case
    ``X @ X.T`` without the diagonal; :func:`estimate_neighbours` says what it will cost.
    Split into blocks of pairs (to run on an executor, each pair still computed once):
    :func:`check_transpose` (once per fitted pair), :func:`pair_bounds` for ranges of equal work,
    :func:`pair_offers` per range and :func:`merge_offers` to fold them into the lists.
    :func:`transpose` makes the other orientation (compiled, in parallel) and marks the pair as
    checked; :func:`column_counts` counts each column's entries without it.
Top-n selection
    :func:`select_top_n` (a dense block), :func:`top_n_entries` (a sparse set of entries) and
    :func:`blockwise_top_n` (dense score blocks produced one memory-bounded block of rows at a
    time, see :func:`chunks`). Ties are always broken by lower column, so results are
    deterministic.
Similarity measures and modifiers
    :class:`MeasureSpec` names a measure (:data:`MEASURES`) with its modifiers (shrinkage,
    minimum support, significance weighting ...); :func:`top_k_by_measure` finds each row's
    ``k`` most similar rows by it; :func:`similarity` and :func:`modify` are the formulas both
    engines share; :func:`check_measurable` refuses values whose squared lengths overflow.
    The random-walk measures (:data:`GRAPH`: P3alpha, RP3beta) are dot products of rows
    prepared by :func:`walk_queries` and :func:`walk_targets`; :func:`l1_normalise` is their
    optional final row normalisation.
Incremental updates of a matrix
    :func:`merge_cells` renumbers a CSR matrix's rows and columns (dropping some, inserting
    new ones) and sets changed cells, in one pass (:class:`MergedCells`: also each cell's value
    before); :func:`entries_of_rows` finds the entries of rows an update removes;
    :func:`value_range` gives a matrix's range of values (free on a fitted model's matrix), to
    bound an updated matrix's values by it and the changed cells'.
Neighbour policies and prediction
    :func:`graph_matrix` is a neighbour graph's matrix of similarities (``to_csr()``, its rows
    sorted on every thread), which a ranker multiplies by; :func:`per_target_top_n` ranks under
    the per-target rule (the ``p`` most similar neighbours that qualify), :func:`predict_ratings`
    predicts ratings by the weighted-average variants (``basic``, ``mean_centred``, ``zscore``,
    ``baseline``) with :class:`PredictionSettings`.
Scoring rankers
    :class:`ScoringRanker` (with :class:`ScoringConfig`) is the base class that turns "score a
    block of users against every item" into a complete, memory-bounded ``recommend``: chunks
    of users, seen and excluded items removed, each user's top ``n``. The built-in rankers use
    it, and so can any plugin.
The dispatcher
    Every primitive takes ``engine="auto" | "numba" | "scipy"`` and lets :func:`resolve_engine`
    decide: ``auto`` runs the compiled kernels when numba is installed
    (``pip install 'recframe[fast]'``), the scipy implementation otherwise; both give the same
    result up to float rounding. ``threads`` (all cores by default, :func:`default_threads`)
    sets the compiled kernels' threads, ``max_memory_mb`` the size of the scipy engine's dense
    blocks. Compiled kernels run inside :func:`numba_threads`, which holds one process-wide lock.

Examples
--------
The three most similar items of every item, by cosine, on a tiny matrix:

>>> import numpy as np
>>> import scipy.sparse as sp
>>> from recframe.engine import top_k_neighbours
>>> ratings = sp.csr_array(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 1.0], [0.0, 2.0, 4.0]]))
>>> items = sp.csr_array(ratings.T)
>>> norms = np.sqrt(items.multiply(items).sum(axis=1))
>>> unit = sp.csr_array(items.multiply(1.0 / norms[:, None]))
>>> columns, scores = top_k_neighbours(unit, 2, engine="scipy")
>>> columns.tolist()
[[1, 2], [0, 2], [1, 0]]

See ``docs/engine.md`` for more.
"""

from __future__ import annotations

from recframe.data.matrix import check_measurable
from recframe.engine.cell_updates import positive_values, update_cells, value_bounds
from recframe.engine.cells import MergedCells, entries_of_rows, merge_cells
from recframe.engine.dispatch import (
    ENGINE_ENV,
    Engine,
    compiled_by_default,
    default_threads,
    numba_available,
    numba_threads,
    resolve_engine,
)
from recframe.engine.entry_facts import value_range
from recframe.engine.few_rows import warm_up
from recframe.engine.graph import Degree, walk_queries, walk_targets
from recframe.engine.graph_matrices import graph_matrix
from recframe.engine.kernel_inputs import freeze, freeze_checked, freeze_shared
from recframe.engine.measures import (
    BINARY,
    GRAPH,
    MEASURES,
    SYMMETRIC,
    Measure,
    MeasureSpec,
    modify,
    similarity,
)
from recframe.engine.neighbours import per_target_top_n
from recframe.engine.pairs import check_transpose, merge_offers, pair_bounds, pair_offers
from recframe.engine.prediction import (
    Fallback,
    NeighbourLookup,
    Policy,
    PredictionSettings,
    RatingStatistics,
    Variant,
    predict_ratings,
)
from recframe.engine.products import estimate_neighbours, pairs_met_often, top_k_neighbours, top_n_product
from recframe.engine.scoring import ScoringConfig, ScoringRanker
from recframe.engine.search import l1_normalise, row_totals, top_k_by_measure
from recframe.engine.topn import blockwise_top_n, chunks, select_top_n, top_n_entries, zero_entries
from recframe.engine.transposes import column_counts, transpose

__all__ = [
    "BINARY",
    "ENGINE_ENV",
    "GRAPH",
    "MEASURES",
    "SYMMETRIC",
    "Degree",
    "Engine",
    "Fallback",
    "Measure",
    "MeasureSpec",
    "MergedCells",
    "NeighbourLookup",
    "Policy",
    "PredictionSettings",
    "RatingStatistics",
    "ScoringConfig",
    "ScoringRanker",
    "Variant",
    "blockwise_top_n",
    "check_measurable",
    "check_transpose",
    "chunks",
    "column_counts",
    "compiled_by_default",
    "default_threads",
    "entries_of_rows",
    "estimate_neighbours",
    "freeze",
    "freeze_checked",
    "freeze_shared",
    "graph_matrix",
    "l1_normalise",
    "merge_cells",
    "merge_offers",
    "modify",
    "numba_available",
    "numba_threads",
    "pair_bounds",
    "pair_offers",
    "pairs_met_often",
    "per_target_top_n",
    "predict_ratings",
    "resolve_engine",
    "row_totals",
    "select_top_n",
    "similarity",
    "top_k_by_measure",
    "top_k_neighbours",
    "top_n_entries",
    "top_n_product",
    "transpose",
    "value_range",
    "walk_queries",
    "walk_targets",
    "warm_up",
    "zero_entries",
    "positive_values",
    "update_cells",
    "value_bounds",
]
