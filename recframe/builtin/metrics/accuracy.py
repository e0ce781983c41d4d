"""Built-in accuracy metrics at a cut-off ``k``: precision, recall, F1, nDCG, MAP, MRR, hit rate.

They read ``hits[u, r]`` (is the item at rank ``r`` of user ``u``'s list relevant, ranks
counted from 1) and ``n_rel[u]`` (the user's number of relevant held-out items). Every formula
is written in the class docstring, which is also the reference documentation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recframe import FloatArray, Metric, MetricConfig, MetricInput
from recframe.builtin.metrics.lists import _floats, _top

Denominator = Literal["relevant", "min_k_relevant"]


class PrecisionConfig(MetricConfig):
    """Parameters of :class:`Precision`."""


class Precision(Metric):
    """Precision@k: the share of the top ``k`` that is relevant, ``sum_{r<=k} hits[r] / k``."""

    name = "precision"
    Config = PrecisionConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's precision@k."""
        k = self.config.k
        return _floats(_top(data.hits, k).sum(axis=1) / k)


class RecallConfig(MetricConfig):
    """Parameters of :class:`Recall`."""

    denominator: Denominator = "relevant"
    """``relevant``: divide by the user's number of relevant items, ``n_rel`` (scikit-learn,
    LensKit, Elliot); ``min_k_relevant``: by ``min(k, n_rel)``, so that a perfect list scores 1
    also when ``n_rel > k`` (RecBole's and Microsoft Recommenders' "recall" differ here too)."""


class Recall(Metric):
    """Recall@k: the share of relevant items found in the top ``k``, ``sum_{r<=k} hits[r] / n_rel``.

    With ``denominator: min_k_relevant`` the divisor is ``min(k, n_rel)``.
    """

    name = "recall"
    Config = RecallConfig
    config: RecallConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's recall@k."""
        k = self.config.k
        found = _top(data.hits, k).sum(axis=1)
        if self.config.denominator == "min_k_relevant":
            return _floats(found / np.minimum(data.n_relevant, k))
        return _floats(found / data.n_relevant)

    @property
    def label(self) -> str:
        """``recall@k``, or ``recall_capped@k`` with the ``min(k, n_rel)`` divisor."""
        suffix = "_capped" if self.config.denominator == "min_k_relevant" else ""
        return f"{self.name}{suffix}@{self.config.k}"


class F1Config(MetricConfig):
    """Parameters of :class:`F1`."""


class F1(Metric):
    """F1@k: the harmonic mean of precision@k and recall@k, ``2 P R / (P + R)`` (0 when both are 0)."""

    name = "f1"
    Config = F1Config

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's F1@k."""
        k = self.config.k
        found = _top(data.hits, k).sum(axis=1)
        precision, recall = found / k, found / data.n_relevant
        total = precision + recall
        return _floats(np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0))


class NDCGConfig(MetricConfig):
    """Parameters of :class:`NDCG`."""

    gain: Literal["binary", "rating", "exponential"] = "binary"
    """Gain of a relevant item: ``binary`` 1; ``rating`` its held-out rating ``g``;
    ``exponential`` ``2^g - 1`` (the Burges et al. form). Graded gains need ratings."""


class NDCG(Metric):
    """nDCG@k: ``DCG / IDCG`` with the discount ``1 / log2(r + 1)`` at rank ``r`` (from 1).

    ``DCG = sum_{r<=k} gain[r] / log2(r + 1)``; IDCG is the DCG of the user's relevant items
    sorted by gain, best first, cut at ``k`` (for binary gains: ``min(k, n_rel)`` ones).
    """

    name = "ndcg"
    Config = NDCGConfig
    config: NDCGConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's nDCG@k."""
        k = self.config.k
        discounts = 1.0 / np.log2(np.arange(2, k + 2))
        if self.config.gain == "binary":
            ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(data.n_relevant, k)]
            return _floats((_top(data.hits, k) @ discounts) / ideal)
        gains, ideal_gains = _top(data.gains, k), _top(data.ideal_gains, k)
        if self.config.gain == "exponential":
            gains, ideal_gains = np.exp2(gains) - 1.0, np.exp2(ideal_gains) - 1.0
        ideal = ideal_gains @ discounts
        return np.divide(gains @ discounts, ideal, out=np.zeros(len(ideal)), where=ideal > 0)

    @property
    def label(self) -> str:
        """``ndcg@k``, or ``ndcg_rating@k`` / ``ndcg_exponential@k`` for graded gains."""
        suffix = "" if self.config.gain == "binary" else f"_{self.config.gain}"
        return f"{self.name}{suffix}@{self.config.k}"


class MAPConfig(MetricConfig):
    """Parameters of :class:`MAP`."""

    denominator: Denominator = "min_k_relevant"
    """``min_k_relevant``: divide by ``min(k, n_rel)`` (implicit, RecBole, Elliot);
    ``relevant``: by ``n_rel`` (the TREC form of AP, cut at ``k``)."""


class MAP(Metric):
    """MAP@k: per user, the average precision at k; the mean over users is MAP.

    ``AP@k = sum_{r<=k} precision@r * hits[r] / min(k, n_rel)`` (or ``/ n_rel``, see
    ``denominator``).
    """

    name = "map"
    Config = MAPConfig
    config: MAPConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's average precision at k."""
        k = self.config.k
        top = _top(data.hits, k)
        precision_at = np.cumsum(top, axis=1) / np.arange(1, k + 1)
        divisor = data.n_relevant if self.config.denominator == "relevant" else np.minimum(data.n_relevant, k)
        return _floats((precision_at * top).sum(axis=1) / divisor)


class MRRConfig(MetricConfig):
    """Parameters of :class:`MRR`."""


class MRR(Metric):
    """MRR@k: the reciprocal rank ``1 / r`` of the first relevant item within the top ``k``, else 0."""

    name = "mrr"
    Config = MRRConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's reciprocal rank."""
        top = _top(data.hits, self.config.k) > 0
        first = top.argmax(axis=1)
        return np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)


class HitRateConfig(MetricConfig):
    """Parameters of :class:`HitRate`."""


class HitRate(Metric):
    """Hit rate@k: 1 if any of the top ``k`` is relevant, else 0."""

    name = "hit_rate"
    Config = HitRateConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return 1.0 or 0.0 for each user."""
        return _floats(_top(data.hits, self.config.k).max(axis=1, initial=0.0))
