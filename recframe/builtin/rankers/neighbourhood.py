"""The neighbourhood rankers ``item_cf`` and ``user_cf``: scores from a neighbour graph.

Both score a user's candidate items as sums of neighbour terms (similar items the user
interacted with, or similar users who interacted with the item), predict ratings from the same
neighbours, and explain every score by its terms; they share everything but the graph's axis.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, PositiveInt

from recframe import (
    FloatArray,
    IntArray,
    NeighbourGraph,
    PluginError,
    Predictions,
    ScoreParts,
    ScoringConfig,
    ScoringRanker,
    State,
    TopN,
    check_fitted,
    csr_from_state,
    csr_state,
    drop_pages,
)
from recframe.engine import (
    Engine,
    Fallback,
    NeighbourLookup,
    Policy,
    PredictionSettings,
    RatingStatistics,
    Variant,
    freeze,
    freeze_checked,
    graph_matrix,
    per_target_top_n,
    predict_ratings,
    top_n_product,
)


class GraphRankerConfig(ScoringConfig):
    """Parameters of the rankers that score through a neighbour graph."""

    engine: Engine = "auto"
    """Implementation of batch scoring: the compiled kernel (``numba``), blocked scipy
    products (``scipy``), or numba when it is installed (``auto``). Both give the same lists."""
    threads: PositiveInt | None = None
    """Threads of the compiled kernel; all cores by default."""
    history: Literal["values", "binary"] = "values"
    """What each interaction of the scored user's history (``item_cf``) or of a neighbour
    (``user_cf``) weighs in a score: its matrix value, or 1 (``binary``: implicit's item-item
    recommenders score a weighted similarity with the raw interactions this way)."""
    prediction: Variant = "basic"
    """How ``predict`` (and RMSE, MAE) averages the neighbours' ratings: ``basic`` (weighted
    average, KNNBasic), ``mean_centred`` (of deviations from each neighbour's mean, added to the
    target's mean; KNNWithMeans), ``zscore`` (of z-scores; KNNWithZScore) or ``baseline`` (of
    deviations from regularised baselines ``mu + b_u + b_i``; KNNBaseline). Formulas in
    docs/prediction.md."""
    neighbour_policy: Policy = "overall"
    """Which neighbours score and predict: ``overall``, the similarity's ``k`` most similar
    (ranking: ``R @ W``, the items that count an item among their ``k`` nearest; prediction: the
    target's ``k`` nearest with a rating); ``per_target``, for each (user, item) the
    ``prediction_k`` most similar neighbours of the target (the item for item-CF, the user for
    user-CF) that have an interaction (scikit-surprise's rule; give the similarity a large
    ``k`` to draw from every neighbour). Ranking then scores ``sum sim * h`` over them."""
    prediction_k: PositiveInt | None = None
    """Neighbours per (user, item) under ``per_target`` (all qualifying ones by default)."""
    min_k: PositiveInt = 1
    """With fewer contributing neighbours, the centred variants answer the target's mean (or
    baseline) and ``basic`` the ``prediction_fallback``."""
    prediction_fallback: Fallback = "user_mean"
    """What ``basic`` predicts without enough neighbours, and every variant for a user or item
    not in training: the user's mean rating (``user_mean``), the item's (``item_mean``) or the
    global mean (``global_mean``); the global mean also answers where the user's (item's) mean
    is asked for an unknown user (item). ``baseline`` answers ``mu + b_u + b_i`` instead."""
    baseline_reg_users: float = Field(15.0, ge=0.0)
    """Regularisation of the user biases of ``prediction: baseline``."""
    baseline_reg_items: float = Field(10.0, ge=0.0)
    """Regularisation of the item biases of ``prediction: baseline``."""
    baseline_epochs: PositiveInt = 10
    """Alternating least-squares passes fitting the biases of ``prediction: baseline``."""

    @property
    def prediction_settings(self) -> PredictionSettings:
        """These settings as the prediction functions take them."""
        return PredictionSettings(
            self.prediction,
            self.neighbour_policy,
            self.prediction_k,
            self.min_k,
            self.prediction_fallback,
            self.baseline_reg_users,
            self.baseline_reg_items,
            self.baseline_epochs,
        )


class _GraphRanker(ScoringRanker):
    """A ranker whose scores are a product ``A[u] @ B`` with its neighbour graph as ``W``.

    ``recommend`` runs the product with the sparse top-n kernel: users in chunks, seen and
    excluded items dropped without densifying, threads on the compiled engine. ``predict``
    averages the neighbours' ratings (see :mod:`recframe.engine.prediction`).
    """

    config: GraphRankerConfig
    _weights: sp.csr_array
    _history: sp.csr_array
    _ratings: sp.csr_array
    _statistics: RatingStatistics | None = None

    def prepare(self) -> None:
        assert self.neighbours_ is not None and self.matrix_ is not None
        self._weights = graph_matrix(self.neighbours_)
        history = self.matrix_.matrix
        if self.config.history == "binary":
            history = _ones(history)
        self._history = history
        ratings = self.matrix_.matrix
        if not ratings.has_canonical_format:
            ratings = sp.csr_array(ratings, copy=True)
            ratings.sum_duplicates()
        self._ratings = ratings
        self._statistics = None  # computed on the first prediction: recommending never needs it
        self._freeze(freeze_checked)

    def _rating_statistics(self) -> RatingStatistics:
        """Return the rating statistics of the training matrix, computing them on first use.

        Two threads predicting first at once may both compute them: the same values, and the
        assignment is atomic, so neither sees a half-built object.
        """
        statistics = self._statistics
        if statistics is None:
            statistics = RatingStatistics.fit(self._ratings, self.config.prediction_settings)
            self._statistics = statistics
        return statistics

    def _freeze(self, how: Callable[[sp.csr_array], sp.csr_array]) -> None:
        """Make the fitted matrices read-only with `how`, so queries never check them whole again."""
        assert self.matrix_ is not None
        for matrix in (self._weights, self._history, self._ratings, self.matrix_.matrix):
            how(matrix)

    _STATISTICS = ("user_means", "item_means", "user_sigmas", "item_sigmas", "user_bias", "item_bias")

    def prepared_state(self) -> State:
        """Return the similarity matrix, the history and ratings matrices and the rating statistics."""
        state: State = {
            **csr_state("weights", self._weights),
            **csr_state("history", self._history),
            **csr_state("ratings", self._ratings),
        }
        statistics = self._rating_statistics()
        state["statistics.global_mean"] = float(statistics.global_mean)
        for name in self._STATISTICS:
            state[f"statistics.{name}"] = getattr(statistics, name)
        return state

    def restore_prepared(self, state: State) -> None:
        """Restore what :meth:`prepared_state` saved, reading none of the matrices' entries."""
        self._weights = csr_from_state(state, "weights")
        self._history = csr_from_state(state, "history")
        self._ratings = csr_from_state(state, "ratings")
        arrays = [state.get(f"statistics.{name}") for name in self._STATISTICS]
        mean = state.get("statistics.global_mean")
        if not isinstance(mean, float | int) or not all(isinstance(a, np.ndarray) for a in arrays):
            msg = f"{type(self).__name__}: the state's rating statistics are missing or malformed"
            raise PluginError(msg)
        assert self.neighbours_ is not None
        n_rows = self.neighbours_.indices.shape[0]
        if self._weights.shape != (n_rows, self.neighbours_.n_targets) or not np.isfinite(self._weights.data).all():
            msg = f"{type(self).__name__}: the state's similarity matrix does not fit its neighbour graph"
            raise PluginError(msg)
        drop_pages(self._weights.data)
        self._statistics = RatingStatistics(float(mean), *arrays)  # type: ignore[arg-type]
        self._freeze(freeze)  # loaded arrays are not read here: each query checks the rows it reads

    def predict(self, users: IntArray, items: IntArray) -> Predictions:
        """Predict the rating of each (user row, item row) pair from the neighbours' ratings.

        The neighbours are the item's (``item_cf``: items ``j`` the user rated) or the user's
        (``user_cf``: users ``v`` who rated the item), chosen by ``neighbour_policy`` and
        averaged by the ``prediction`` variant (see :mod:`recframe.engine.prediction`). Rows of ``-1``
        mark users or items not in training.
        """
        check_fitted(self, "matrix_")
        assert self.neighbours_ is not None and self.neighbour_axis is not None
        return predict_ratings(
            self._ratings,
            self.neighbours_,
            users,
            items,
            axis=self.neighbour_axis,
            settings=self.config.prediction_settings,
            statistics=self._rating_statistics(),
        )

    @abstractmethod
    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        """Return ``(A, B)`` with ``scores[u] = A[u] @ B``."""

    def _explain_per_target(self, user: int, items: IntArray) -> list[ScoreParts]:
        """Return the terms of the per-target scores of `items` for `user`."""
        assert self.neighbours_ is not None and self.neighbour_axis is not None
        lookup = NeighbourLookup(self._history, self.neighbours_, self.neighbour_axis, self.config.prediction_k)
        neighbours, sims, values, used = lookup.terms(np.full(len(items), user, dtype=np.int64), items)
        parts = []
        for row in range(len(items)):
            keep = used[row]
            contributions = sims[row][keep] * values[row][keep]
            order = np.lexsort((neighbours[row][keep], -contributions))
            parts.append(
                ScoreParts(
                    neighbours[row][keep][order], sims[row][keep][order], values[row][keep][order], contributions[order]
                )
            )
        return parts

    def _recommend_per_target(self, users: IntArray, n: int, exclude: sp.csr_array | None) -> TopN:
        """Rank by the per-target rule (see :mod:`recframe.engine.neighbours`).

        For each (user, item) the score is ``sum sim * h`` over the ``prediction_k`` most similar
        neighbours of the target (``i`` for item-CF, ``u`` for user-CF) that qualify.
        """
        assert self.neighbours_ is not None
        known = users >= 0
        rows = sp.csr_array(sp.diags_array(known.astype(np.float64)) @ self._history[np.maximum(users, 0)])
        banned = [exclude] if exclude is not None else []
        if self.config.exclude_seen:
            banned.append(rows)
        graph = self.neighbours_
        if self.neighbour_axis == "users":  # the users' own rows of the user graph
            picked = np.maximum(users, 0)
            graph = NeighbourGraph(
                np.where(known[:, None], graph.indices[picked], -1),
                np.where(known[:, None], graph.scores[picked], 0.0),
                graph.n_targets,
            )
        return self._per_target(graph, rows, banned, n)

    def _new_per_target(self, histories: sp.csr_array, n: int, neighbours: NeighbourGraph | None) -> TopN:
        """Rank new users by the per-target rule: from their own items (item-CF) or queried neighbours (user-CF)."""
        assert self.neighbours_ is not None
        if self.neighbour_axis == "users" and neighbours is None:
            msg = f"{type(self).__name__} needs the new users' neighbours to recommend for them"
            raise TypeError(msg)
        graph = self.neighbours_ if self.neighbour_axis == "items" else neighbours
        assert graph is not None
        return self._per_target(graph, histories, [histories], n)

    def _per_target(self, graph: NeighbourGraph, queries: sp.csr_array, banned: list[sp.csr_array], n: int) -> TopN:
        """Run :func:`~recframe.engine.per_target_top_n` with this ranker's settings."""
        assert self.neighbour_axis is not None
        excluded = None
        for matrix in banned:
            pattern = _ones(sp.csr_array(matrix))
            excluded = pattern if excluded is None else sp.csr_array(excluded + pattern)
        return per_target_top_n(
            self.neighbour_axis,
            graph,
            self._history,
            sp.csr_array(queries),
            self.config.prediction_k,
            n,
            excluded,
            self.config.max_memory_mb,
        )

    def recommend_new(self, histories: sp.csr_array, n: int, neighbours: NeighbourGraph | None) -> TopN:
        """Return the top-`n` unseen items of each new history (see :class:`SupportsNewUsers`).

        ``item_cf`` scores ``history @ W`` with its item graph; ``user_cf`` scores the given
        neighbours' interactions (``neighbours @ R``).
        """
        check_fitted(self, "matrix_")
        histories = sp.csr_array(histories, dtype=np.float64)
        if self.config.history == "binary":
            histories = _ones(histories)
        if self.config.neighbour_policy == "per_target":
            return self._new_per_target(histories, n, neighbours)
        if self.neighbour_axis == "items":
            a, b = histories, self._weights
        else:
            if neighbours is None:
                msg = f"{type(self).__name__} needs the new users' neighbours to recommend for them"
                raise TypeError(msg)
            a, b = graph_matrix(neighbours), self._history
        c = self.config
        items, scores = top_n_product(
            a,
            np.arange(histories.shape[0]),
            b,
            n,
            exclude=histories,
            engine=c.engine,
            threads=c.threads,
            max_memory_mb=c.max_memory_mb,
            desc=f"{self.name}: new users",
        )
        return TopN(items, np.where(items >= 0, scores, np.nan))

    def explain(self, user: int, items: IntArray) -> list[ScoreParts]:
        """Return the terms ``A[u, j] * B[j, i]`` that add up to each item's score, largest first.

        For ``item_cf`` the neighbours ``j`` are the user's items (similarity ``sim(j, i)``,
        value the user's interaction with ``j``); for ``user_cf`` the user's neighbours
        (similarity ``sim(u, v)``, value ``v``'s interaction with ``i``).
        """
        check_fitted(self, "matrix_")
        if self.config.neighbour_policy == "per_target":
            return self._explain_per_target(user, np.asarray(items, dtype=np.int64))
        a, b = self._factors()
        start, stop = a.indptr[user], a.indptr[user + 1]
        terms, left = a.indices[start:stop].astype(np.int64), a.data[start:stop]
        columns = np.asarray(items, dtype=np.int64)
        picked = sp.csr_array(b[terms])[:, columns]
        right = np.asarray(picked.toarray()).reshape(len(terms), len(columns))  # no terms: one empty part per item
        parts = []
        for column in range(right.shape[1]):
            keep = right[:, column] != 0
            by_items = self.neighbour_axis == "items"
            pair = (right[keep, column], left[keep]) if by_items else (left[keep], right[keep, column])
            contributions = pair[0] * pair[1]
            order = np.lexsort((terms[keep], -contributions))
            parts.append(ScoreParts(terms[keep][order], pair[0][order], pair[1][order], contributions[order]))
        return parts

    def score_block(self, users: IntArray) -> FloatArray:
        """Return ``A[users] @ B`` as a dense block: the definition the kernel computes sparsely."""
        a, b = self._factors()
        return np.asarray((a[users] @ b).toarray())

    def recommend(self, users: IntArray, n: int | None = None, *, exclude: sp.csr_array | None = None) -> TopN:
        """Return the top-`n` items of each user (see :class:`CandidateRanker`)."""
        check_fitted(self, "matrix_")
        assert self.matrix_ is not None
        c = self.config
        if c.neighbour_policy == "per_target":
            return self._recommend_per_target(np.asarray(users, dtype=np.int64), c.n if n is None else n, exclude)
        a, b = self._factors()
        items, scores = top_n_product(
            a,
            np.asarray(users, dtype=np.int64),
            b,
            c.n if n is None else n,
            seen=self.matrix_.matrix if c.exclude_seen else None,
            exclude=exclude,
            engine=c.engine,
            threads=c.threads,
            max_memory_mb=c.max_memory_mb,
            desc=f"{self.name}: scoring",
        )
        return TopN(items, np.where(items >= 0, scores, np.nan))


def _ones(matrix: sp.csr_array) -> sp.csr_array:
    """Return the pattern of `matrix`: 1 at every stored entry."""
    return sp.csr_array((np.ones(matrix.nnz), matrix.indices, matrix.indptr), shape=matrix.shape)


class ItemCFConfig(GraphRankerConfig):
    """Parameters of :class:`ItemCFRanker`."""


class ItemCFRanker(_GraphRanker):
    """Item-based CF: score each item by its similarity to the items in the user's history.

    ``score(u, i) = sum over items j of u of r(u, j) * sim(j, i)``, counting only pairs where
    ``i`` is among the ``k`` nearest neighbours of ``j`` (the convention of implicit's
    ItemItemRecommender): in matrix form ``scores = R @ W`` with ``W[j, i] = sim(j, i)``.
    Items scoring 0 or less are not recommended; ties go to the lower item id.
    """

    name = "item_cf"
    Config = ItemCFConfig
    neighbour_axis: ClassVar[Literal["items"]] = "items"

    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        return self._history, self._weights


class UserCFConfig(GraphRankerConfig):
    """Parameters of :class:`UserCFRanker`."""


class UserCFRanker(_GraphRanker):
    """User-based CF: score items by what the user's nearest neighbours interacted with.

    ``score(u, i) = sum over the k nearest users v of u of sim(u, v) * r(v, i)``: in matrix
    form ``scores = W @ R`` with ``W[u, v] = sim(u, v)``. Items scoring 0 or less are not
    recommended; ties go to the lower item id.
    """

    name = "user_cf"
    Config = UserCFConfig
    neighbour_axis: ClassVar[Literal["users"]] = "users"

    def _factors(self) -> tuple[sp.csr_array, sp.csr_array]:
        return self._weights, self._history
