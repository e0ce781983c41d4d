"""Built-in metrics, each at a cut-off ``k``: accuracy of the ranked lists and beyond accuracy.

Accuracy metrics read ``hits[u, r]`` (is the item at rank ``r`` of user ``u``'s list relevant,
ranks counted from 1) and ``n_rel[u]`` (the user's number of relevant held-out items). A list
shorter than ``k`` counts its missing places as misses. Beyond-accuracy metrics read the
recommended items and the training matrix. Every formula is written in the class docstring,
which is also the reference documentation.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from recframe import Component, FloatArray, IntArray, Metric, MetricConfig, MetricInput, hookimpl


def _floats(values: object) -> FloatArray:
    """Return `values` as a float64 array."""
    return np.asarray(values, dtype=np.float64)


def _top(hits: np.ndarray, k: int) -> FloatArray:
    """Return the first `k` columns of `hits` as floats, padded with misses to width `k`."""
    top = np.asarray(hits[:, :k], dtype=np.float64)
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    return top


def _top_items(data: MetricInput, k: int) -> IntArray:
    """Return the first `k` recommended item rows of each user (``-1`` padded)."""
    items = data.items[:, :k]
    if items.shape[1] < k:
        items = np.pad(items, ((0, 0), (0, k - items.shape[1])), constant_values=-1)
    return items


def _mean_over_list(values: FloatArray, real: np.ndarray) -> FloatArray:
    """Average `values` over each row's real entries; ``0.0`` for an empty row."""
    counts = real.sum(axis=1)
    sums = np.where(real, values, 0.0).sum(axis=1)
    return _floats(np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0))


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


class CoverageConfig(MetricConfig):
    """Parameters of :class:`Coverage`."""


class Coverage(Metric):
    """Catalogue coverage@k (of the run): the share of training items in at least one user's top ``k``."""

    name = "coverage"
    Config = CoverageConfig
    per_user = False

    def compute(self, data: MetricInput) -> float:
        """Return the share of the catalogue recommended to anyone."""
        items = _top_items(data, self.config.k)
        return float(np.unique(items[items >= 0]).size / max(data.train.n_items, 1))


class GiniConfig(MetricConfig):
    """Parameters of :class:`Gini`."""


class Gini(Metric):
    """Gini index of exposure@k (of the run): how unevenly the top-``k`` lists spread over the catalogue.

    With ``x_1 <= ... <= x_n`` the number of lists each of the ``n`` training items appears in,
    ``G = sum_i (2i - n - 1) x_i / (n sum_i x_i)``: 0 when every item is shown equally often,
    close to 1 when a few items take every slot; 0 when nothing is recommended.
    """

    name = "gini"
    Config = GiniConfig
    per_user = False
    higher_is_better = False

    def compute(self, data: MetricInput) -> float:
        """Return the Gini index of the items' exposure."""
        items = _top_items(data, self.config.k)
        n = data.train.n_items
        exposure = np.sort(np.bincount(items[items >= 0], minlength=n)).astype(np.float64)
        total = exposure.sum()
        if total == 0 or n == 0:
            return 0.0
        ranks = np.arange(1, n + 1)
        return float(((2 * ranks - n - 1) * exposure).sum() / (n * total))


class NoveltyConfig(MetricConfig):
    """Parameters of :class:`Novelty`."""


class Novelty(Metric):
    """Novelty@k: the mean self-information of the recommended items, ``-log2(users_i / n_users)``.

    ``users_i`` is the number of training users of item ``i`` and ``n_users`` the number of
    training users: an item everyone has seen scores 0, rarer items more. The mean is over the
    user's real top-``k`` items (0 for an empty list).
    """

    name = "novelty"
    Config = NoveltyConfig
    bounds = (0.0, np.inf)

    def compute(self, data: MetricInput) -> FloatArray:
        """Return the mean self-information of each user's list."""
        items = _top_items(data, self.config.k)
        real = items >= 0
        users = data.item_users[np.where(real, items, 0)]
        information = -np.log2(np.maximum(users, 1) / max(data.train.n_users, 1))
        return _mean_over_list(information, real)


class AveragePopularityConfig(MetricConfig):
    """Parameters of :class:`AveragePopularity`."""


class AveragePopularity(Metric):
    """Average popularity@k: the mean number of training users of the recommended items (0 for an empty list)."""

    name = "avg_popularity"
    Config = AveragePopularityConfig
    bounds = (0.0, np.inf)
    higher_is_better = False

    def compute(self, data: MetricInput) -> FloatArray:
        """Return the mean popularity of each user's list."""
        items = _top_items(data, self.config.k)
        real = items >= 0
        return _mean_over_list(data.item_users[np.where(real, items, 0)].astype(np.float64), real)


ILD_BLOCK_MB = 128
"""Memory of one block of item-item cosines in :class:`IntraListDiversity`."""


class IntraListDiversityConfig(MetricConfig):
    """Parameters of :class:`IntraListDiversity`."""


class IntraListDiversity(Metric):
    """Intra-list diversity@k: the mean dissimilarity ``1 - cos(i, j)`` over pairs of recommended items.

    ``cos`` is the cosine of the two items' columns in the training matrix (users as
    dimensions), whichever similarity backend the run used. The mean is over the pairs of the
    user's real top-``k`` items; lists with fewer than two items score 0.
    """

    name = "ild"
    Config = IntraListDiversityConfig
    bounds = (0.0, 2.0)  # cosines of centred ratings can be negative

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's mean pairwise dissimilarity.

        The cosines are computed only among the items that were recommended, a block of rows
        at a time (at most :data:`ILD_BLOCK_MB` of dense similarities), and read for every
        pair of list positions at once.
        """
        items = _top_items(data, self.config.k)
        shown, codes = np.unique(items, return_inverse=True)
        codes = codes.reshape(items.shape) - int(shown[0] < 0)  # padding (-1) stays -1
        shown = shown[shown >= 0]
        vectors = sp.csr_array(data.train.item_major()[shown], dtype=np.float64)
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(axis=1))).reshape(-1)
        vectors = sp.csr_array(sp.diags_array(1.0 / np.where(norms > 0, norms, 1.0)) @ vectors)
        first, second = np.triu_indices(items.shape[1], 1)
        code_a, code_b = codes[:, first], codes[:, second]
        both = (code_a >= 0) & (code_b >= 0)
        cosine = np.zeros(code_a.shape)
        block = max(1, (ILD_BLOCK_MB << 20) // max(8 * len(shown), 1))
        transposed = sp.csr_array(vectors.T)
        for start in range(0, len(shown), block):
            dense = (vectors[start : start + block] @ transposed).toarray()
            here = both & (code_a >= start) & (code_a < start + block)
            cosine[here] = dense[code_a[here] - start, code_b[here]]
        total = np.where(both, 1.0 - cosine, 0.0).sum(axis=1)
        pairs = both.sum(axis=1)
        return _floats(np.clip(np.divide(total, pairs, out=np.zeros_like(total), where=pairs > 0), 0.0, 2.0))


class _PredictionError(Metric):
    """A metric of predicted ratings against held-out ones: of the run, no cut-off, lower is better."""

    per_user = False
    bounds = (0.0, np.inf)
    higher_is_better = False
    needs_predictions = True

    @property
    def label(self) -> str:
        """The bare name: no cut-off applies."""
        return self.name

    def errors(self, data: MetricInput) -> FloatArray:
        """Return ``r̂ - r`` of every held-out rating."""
        assert data.ratings is not None
        return data.ratings.predicted - data.ratings.actual


class RMSEConfig(MetricConfig):
    """Parameters of :class:`RMSE` (``k`` is not used)."""


class RMSE(_PredictionError):
    """RMSE of the predicted ratings over every held-out rating: ``sqrt(mean((r̂ - r)^2))``.

    Predictions come from the ranker's ``predict`` (``item_cf``, ``user_cf``); pairs no
    neighbour can predict get the ranker's fallback (their number is reported as
    ``n_prediction_fallback``).
    """

    name = "rmse"
    Config = RMSEConfig

    def compute(self, data: MetricInput) -> float:
        """Return the root mean squared error."""
        return float(np.sqrt(np.mean(self.errors(data) ** 2)))


class MAEConfig(MetricConfig):
    """Parameters of :class:`MAE` (``k`` is not used)."""


class MAE(_PredictionError):
    """MAE of the predicted ratings over every held-out rating: ``mean(|r̂ - r|)`` (see :class:`RMSE`)."""

    name = "mae"
    Config = MAEConfig

    def compute(self, data: MetricInput) -> float:
        """Return the mean absolute error."""
        return float(np.mean(np.abs(self.errors(data))))


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in metrics."""
    return [
        Precision, Recall, F1, NDCG, MAP, MRR, HitRate,
        Coverage, Gini, Novelty, AveragePopularity, IntraListDiversity, RMSE, MAE,
    ]
