"""Rating prediction from a neighbour graph: weighted averages of the neighbours' ratings.

For a pair ``(u, i)``, item-CF averages over neighbour items ``j`` of ``i`` that ``u`` rated
(``x = i``, ``y = u``), user-CF over neighbour users ``v`` of ``u`` who rated ``i`` (``x = u``,
``y = i``). Only neighbours with a positive similarity contribute. The variants:

============  ===============================================================================
basic         ``r̂ = sum sim * r(nb, y) / sum sim``
mean_centred  ``r̂ = mu_x + sum sim * (r(nb, y) - mu_nb) / sum sim``
zscore        ``r̂ = mu_x + sigma_x * sum sim * (r(nb, y) - mu_nb) / sigma_nb / sum sim``
baseline      ``r̂ = b_xy + sum sim * (r(nb, y) - b_nb,y) / sum sim``, ``b_ui = mu + b_u + b_i``
============  ===============================================================================

``mu`` and ``sigma`` are a row's mean and (population) standard deviation of ratings (the
overall one where a row's is 0); the biases ``b_u``, ``b_i`` are regularised and fitted by
alternating least squares. Which neighbours count is the *policy*: ``overall`` takes the
graph's ``k`` most similar neighbours of ``x`` and uses those with a rating; ``per_target``
takes, among the graph's neighbours with a rating, the ``prediction_k`` most similar (the rule
of scikit-surprise's KNN algorithms). With fewer than ``min_k`` contributing neighbours the
centred variants answer their first term (``mu_x`` or ``b_xy``) and ``basic`` the fallback: the
user's mean, the item's mean or the global mean (the global mean where the user's or item's
mean is asked for and that user or item is not in training). Every pair is computed with
vectorised lookups, in chunks of bounded memory.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.kernel_inputs import check_at_least
from recframe.interfaces import SOURCES, NeighbourGraph, Predictions

Fallback = Literal["user_mean", "item_mean", "global_mean"]
Variant = Literal["basic", "mean_centred", "zscore", "baseline"]
Policy = Literal["overall", "per_target"]


@dataclass(frozen=True)
class PredictionSettings:
    """How ratings are predicted (see the module docstring).

    Attributes
    ----------
    variant : {"basic", "mean_centred", "zscore", "baseline"}
        The weighted average.
    policy : {"overall", "per_target"}
        Which neighbours count.
    prediction_k : int or None
        Under ``per_target``: neighbours kept per pair (all for ``None``).
    min_k : int
        Fewer contributing neighbours than this give the fallback.
    fallback : {"user_mean", "item_mean", "global_mean"}
        What ``basic`` answers without enough neighbours.
    reg_users, reg_items : float
        Regularisation of the ``baseline`` biases.
    epochs : int
        Alternating least-squares rounds of the ``baseline`` biases.

    Raises
    ------
    ValueError, TypeError
        If a setting is outside its choices or range (a variant no prediction has, ``min_k``
        below 1, a negative or ``nan`` regularisation), when the settings are made.
    """

    variant: Variant = "basic"
    policy: Policy = "overall"
    prediction_k: int | None = None
    min_k: int = 1
    fallback: Fallback = "user_mean"
    reg_users: float = 15.0
    reg_items: float = 10.0
    epochs: int = 10

    def __post_init__(self) -> None:
        """Refuse a setting no prediction has (a misspelt variant would otherwise predict as another)."""
        for name, allowed in (("variant", Variant), ("policy", Policy), ("fallback", Fallback)):
            value, choices = getattr(self, name), get_args(allowed)
            if not isinstance(value, str) or value not in choices:
                msg = f"PredictionSettings {name} must be one of {', '.join(choices)}; got {value!r}"
                raise ValueError(msg)
        for name in ("prediction_k", "min_k", "epochs"):
            if getattr(self, name) is not None:
                check_at_least(getattr(self, name), f"PredictionSettings {name}", 1)
        for name in ("reg_users", "reg_items"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) < np.inf:
                msg = f"PredictionSettings {name} must be a finite number >= 0; got {value!r}"
                raise ValueError(msg)


@dataclass(frozen=True, eq=False)
class RatingStatistics:
    """Per-row and per-column rating statistics of a training matrix (what the variants need).

    Build it with :meth:`fit`.

    Attributes
    ----------
    global_mean : float
        Mean of every rating.
    user_means, item_means : ndarray of shape (n_users,) and (n_items,)
        Each row's and column's mean (the global mean where empty).
    user_sigmas, item_sigmas : ndarray of shape (n_users,) and (n_items,)
        Population standard deviations (the overall one where 0).
    user_bias, item_bias : ndarray of shape (n_users,) and (n_items,)
        Regularised ALS biases (zeros unless the variant is ``baseline``).
    """

    global_mean: float
    user_means: FloatArray
    item_means: FloatArray
    user_sigmas: FloatArray
    item_sigmas: FloatArray
    user_bias: FloatArray
    item_bias: FloatArray

    @classmethod
    def fit(cls, ratings: sp.csr_array, settings: PredictionSettings) -> RatingStatistics:
        """Compute means, deviations and (when the variant needs them) ALS biases of `ratings`.

        Parameters
        ----------
        ratings : csr_array of shape (n_users, n_items)
            The training ratings.
        settings : PredictionSettings
            The variant (biases are fitted for ``baseline`` only) and its regularisation.

        Returns
        -------
        RatingStatistics
        """
        n_users, n_items = ratings.shape
        users = np.repeat(np.arange(n_users), np.diff(ratings.indptr))
        items = ratings.indices
        values = ratings.data.astype(np.float64)
        global_mean = float(values.mean()) if len(values) else 0.0
        overall_sigma = float(values.std()) if len(values) else 1.0
        user_means, user_sigmas = _row_moments(users, values, n_users, global_mean, overall_sigma)
        item_means, item_sigmas = _row_moments(items, values, n_items, global_mean, overall_sigma)
        user_bias, item_bias = np.zeros(n_users), np.zeros(n_items)
        if settings.variant == "baseline":
            user_counts = np.bincount(users, minlength=n_users)
            item_counts = np.bincount(items, minlength=n_items)
            for _ in range(settings.epochs):  # alternating least squares, items first
                residual = values - global_mean - user_bias[users]
                item_bias = np.bincount(items, weights=residual, minlength=n_items) / (settings.reg_items + item_counts)
                residual = values - global_mean - item_bias[items]
                user_bias = np.bincount(users, weights=residual, minlength=n_users) / (settings.reg_users + user_counts)
        return cls(global_mean, user_means, item_means, user_sigmas, item_sigmas, user_bias, item_bias)


def _row_moments(
    rows: IntArray, values: FloatArray, n_rows: int, global_mean: float, overall_sigma: float
) -> tuple[FloatArray, FloatArray]:
    """Return each row's mean (the global mean for an empty row) and standard deviation (the overall one where 0)."""
    counts = np.bincount(rows, minlength=n_rows)
    sums = np.bincount(rows, weights=values, minlength=n_rows)
    means = np.divide(sums, counts, out=np.full(n_rows, global_mean), where=counts > 0)
    squares = np.bincount(rows, weights=(values - means[rows]) ** 2, minlength=n_rows)
    sigmas = np.sqrt(np.divide(squares, counts, out=np.zeros(n_rows), where=counts > 0))
    return means, np.where(sigmas > 0, sigmas, overall_sigma if overall_sigma > 0 else 1.0)


def predict_ratings(
    ratings: sp.csr_array,
    graph: NeighbourGraph,
    users: IntArray,
    items: IntArray,
    *,
    axis: Literal["items", "users"],
    settings: PredictionSettings,
    statistics: RatingStatistics,
    chunk_pairs: int = 65_536,
) -> Predictions:
    """Predict ``r(u, i)`` for each pair from the neighbours of ``i`` (`axis` items) or of ``u``.

    Parameters
    ----------
    ratings : csr_array of shape (n_users, n_items)
        The training ratings, canonical (sorted, no duplicates).
    graph : NeighbourGraph
        Item neighbours of items (``axis="items"``) or user neighbours of users, best first.
    users, items : ndarray of shape (n_pairs,), int64
        Rows and columns of the pairs; ``-1`` for a user or item not in training.
    axis : {"items", "users"}
        Whose neighbours average.
    settings : PredictionSettings
        Variant, policy, ``min_k`` and fallback.
    statistics : RatingStatistics
        Of `ratings`, from :meth:`RatingStatistics.fit`.
    chunk_pairs : int
        Pairs per chunk (memory grows with ``chunk_pairs * k``).

    Returns
    -------
    Predictions
        One value per pair, what answered it and how many neighbours contributed.
    """
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    s, st = settings, statistics
    by_items = axis == "items"
    means_x, sigmas_x = (st.item_means, st.item_sigmas) if by_items else (st.user_means, st.user_sigmas)
    bias_x, bias_y = (st.item_bias, st.user_bias) if by_items else (st.user_bias, st.item_bias)
    values = np.zeros(len(users))
    used = np.zeros(len(users), dtype=np.int64)
    lookup = NeighbourLookup(ratings, graph, axis, s.prediction_k if s.policy == "per_target" else None)
    known = (users >= 0) & (items >= 0)
    for start in range(0, len(users), chunk_pairs):
        part = slice(start, start + chunk_pairs)
        u, i, ok = users[part], items[part], known[part]
        x, y = (i, u) if by_items else (u, i)
        x, y = np.where(ok, x, 0), np.where(ok, y, 0)
        neighbours, sims, found, rated = lookup.terms(u, i)
        nb = np.maximum(neighbours, 0)
        if s.variant == "basic":
            term = found
        elif s.variant == "mean_centred":
            term = found - means_x[nb]
        elif s.variant == "zscore":
            term = (found - means_x[nb]) / sigmas_x[nb]
        else:
            term = found - (st.global_mean + bias_x[nb] + bias_y[y][:, None])
        weights = np.where(rated, sims, 0.0)
        total = weights.sum(axis=1)
        count = rated.sum(axis=1)
        enough = (count >= s.min_k) & (total > 0)
        average = np.divide((weights * term).sum(axis=1), total, out=np.zeros(len(u)), where=enough)
        if s.variant == "mean_centred":
            average = means_x[x] + average
        elif s.variant == "zscore":
            average = means_x[x] + sigmas_x[x] * average
        elif s.variant == "baseline":
            average = st.global_mean + bias_x[x] + bias_y[y] + average
        values[part] = average
        used[part] = np.where(enough, count, 0)
        # the centred variants' first term answers pairs without enough neighbours (known x and y)
        if s.variant != "basic":
            used[part] = np.where(ok & ~enough, -1, used[part])
    source = np.zeros(len(users), dtype=np.int8)
    own = used == -1
    if own.any():
        source[own] = (
            SOURCES.index("baseline")
            if s.variant == "baseline"
            else SOURCES.index("item_mean" if by_items else "user_mean")
        )
    missing = (used == 0) | ~known
    if s.variant == "baseline":
        base = st.global_mean + np.where(users >= 0, st.user_bias[np.maximum(users, 0)], 0.0)
        base += np.where(items >= 0, st.item_bias[np.maximum(items, 0)], 0.0)
        values[missing] = base[missing]
        source[missing] = SOURCES.index("baseline")
    elif missing.any():
        fill, code = _fallback_values(st, users[missing], items[missing], s.fallback)
        values[missing] = fill
        source[missing] = code
    return Predictions(values, source, np.maximum(used, 0))


class NeighbourLookup:
    """Find, for (user, item) pairs, the graph neighbours that have a value on the other side.

    For item-CF (`axis` items) the neighbours are the item's, with the user's values of them;
    for user-CF the user's, with their values of the item. Under the per-target rule
    (`per_target_k` set) only the first `per_target_k` such neighbours in the graph's order
    (most similar first) are kept. Only positively similar neighbours count.

    Parameters
    ----------
    values : csr_array of shape (n_users, n_items)
        The training values, canonical (sorted indices, no duplicates).
    graph : NeighbourGraph
        Neighbours of items (`axis` items) or of users, best first.
    axis : {"items", "users"}
        Whose neighbours are looked up.
    per_target_k : int or None
        Keep only the first this many qualifying neighbours of each pair (the per-target rule).
    """

    def __init__(
        self, values: sp.csr_array, graph: NeighbourGraph, axis: Literal["items", "users"], per_target_k: int | None
    ) -> None:
        self.values, self.graph, self.by_items, self.per_target_k = values, graph, axis == "items", per_target_k
        n_users, self.n_items = values.shape
        rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(values.indptr))
        self.keys = rows * self.n_items + values.indices  # sorted: canonical CSR

    def terms(self, users: IntArray, items: IntArray) -> tuple[IntArray, FloatArray, FloatArray, np.ndarray]:
        """Return ``(neighbours, similarities, values, used)``, each of shape (n_pairs, k).

        ``-1`` in `users` or `items` gives a row with nothing used.
        """
        ok = (users >= 0) & (items >= 0)
        x = np.where(ok, items if self.by_items else users, 0)
        neighbours = self.graph.indices[x]
        sims = np.where(ok[:, None] & (neighbours >= 0), self.graph.scores[x], 0.0)
        if self.by_items:  # r(u, j) for each neighbour item j of i
            wanted = users[:, None] * self.n_items + neighbours
        else:  # r(v, i) for each neighbour user v of u
            wanted = neighbours * self.n_items + items[:, None]
        if not len(self.keys):
            return neighbours, sims, np.zeros(sims.shape), np.zeros(sims.shape, dtype=bool)
        at = np.clip(np.searchsorted(self.keys, wanted), 0, len(self.keys) - 1)
        used = (sims > 0) & (self.keys[at] == wanted)
        if self.per_target_k is not None:
            used &= np.cumsum(used, axis=1) <= self.per_target_k  # rows are best first
        return neighbours, sims, self.values.data[at], used


def _fallback_values(
    st: RatingStatistics, users: IntArray, items: IntArray, fallback: Fallback
) -> tuple[FloatArray, np.ndarray]:
    """Return the fallback prediction of each pair and the code of what gave it."""
    values = np.full(len(users), st.global_mean)
    used = np.full(len(users), SOURCES.index("global_mean"), dtype=np.int8)
    if fallback == "global_mean":
        return values, used
    means, rows = (st.user_means, users) if fallback == "user_mean" else (st.item_means, items)
    has = rows >= 0
    values[has] = means[rows[has]]
    used[has] = SOURCES.index(fallback)
    return values, used
