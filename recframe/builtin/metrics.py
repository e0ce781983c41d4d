"""Built-in ranking metrics: precision, recall, nDCG, MAP and hit rate, each at a cut-off ``k``.

Every metric takes ``hits[u, r]`` (is the item at rank ``r`` of user ``u``'s list relevant,
ranks counted from 1) and ``n_rel[u]`` (the number of held-out items of ``u``). A list shorter
than ``k`` counts its missing places as misses.
"""

from __future__ import annotations

import numpy as np

from recframe import Component, Metric, MetricConfig, hookimpl
from recframe.data import FloatArray, IntArray


def _top(hits: np.ndarray, k: int) -> np.ndarray:
    """Return the first `k` columns of `hits` as floats, padded with misses to width `k`."""
    top = hits[:, :k].astype(np.float64)
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    return top


class PrecisionConfig(MetricConfig):
    """Parameters of :class:`Precision`."""


class Precision(Metric):
    """Precision@k: the share of the top ``k`` that is relevant, ``sum_{r<=k} hits[r] / k``."""

    name = "precision"
    Config = PrecisionConfig

    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return each user's precision@k."""
        k = self.config.k
        return np.asarray(_top(hits, k).sum(axis=1) / k)


class RecallConfig(MetricConfig):
    """Parameters of :class:`Recall`."""


class Recall(Metric):
    """Recall@k: the share of relevant items found in the top ``k``, ``sum_{r<=k} hits[r] / n_rel``.

    The denominator is the full number of held-out items (not ``min(k, n_rel)``).
    """

    name = "recall"
    Config = RecallConfig

    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return each user's recall@k."""
        return np.asarray(_top(hits, self.config.k).sum(axis=1) / n_relevant)


class NDCGConfig(MetricConfig):
    """Parameters of :class:`NDCG`."""


class NDCG(Metric):
    """nDCG@k with binary relevance: ``DCG / IDCG``.

    ``DCG = sum_{r<=k} hits[r] / log2(r + 1)``, and IDCG is the DCG of an ideal list with
    ``min(k, n_rel)`` hits on top.
    """

    name = "ndcg"
    Config = NDCGConfig

    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return each user's nDCG@k."""
        k = self.config.k
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        dcg = _top(hits, k) @ discounts
        ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(n_relevant, k)]
        return np.asarray(dcg / ideal)


class MAPConfig(MetricConfig):
    """Parameters of :class:`MAP`."""


class MAP(Metric):
    """MAP@k (per user, average precision at k).

    ``AP@k = sum_{r<=k} precision@r * hits[r] / min(k, n_rel)``; the mean over users is MAP.
    """

    name = "map"
    Config = MAPConfig

    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return each user's average precision at k."""
        k = self.config.k
        top = _top(hits, k)
        precision_at = np.cumsum(top, axis=1) / np.arange(1, k + 1)
        return np.asarray((precision_at * top).sum(axis=1) / np.minimum(n_relevant, k))


class HitRateConfig(MetricConfig):
    """Parameters of :class:`HitRate`."""


class HitRate(Metric):
    """Hit rate@k: 1 if any of the top ``k`` is relevant, else 0."""

    name = "hit_rate"
    Config = HitRateConfig

    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return 1.0 or 0.0 for each user."""
        return np.asarray(_top(hits, self.config.k).max(axis=1, initial=0.0))


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in metrics."""
    return [Precision, Recall, NDCG, MAP, HitRate]
