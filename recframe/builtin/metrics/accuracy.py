"""Built-in accuracy metrics at a cut-off ``k``: precision, recall, F1, nDCG, MAP, MRR, hit rate.

They read ``hits[u, r]`` (is the item at rank ``r`` of user ``u``'s list relevant, ranks
counted from 1) and ``n_rel[u]`` (the user's number of relevant held-out items, ``|R|``). Each
definitional axis (denominators, gain, discount, ideal DCG, averaging, users without relevant
items, ties) is an option, filled by the metric's ``profile`` (see :mod:`.profiles`); the
resolved formula is :attr:`~recframe.Metric.definition`. Every formula is written in the class
docstring, which is also the reference documentation.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import model_validator

from recframe import FloatArray, Metric, MetricInput
from recframe.builtin.metrics.lists import _floats, _list_length, _ordered, _ratio, _top
from recframe.builtin.metrics.profiles import AccuracyConfig, Averaging, definition, profiled_label

Denominator = Literal["relevant", "min_k_relevant"]
PrecisionDenominator = Literal["k", "list", "min_k_relevant"]
APDenominator = Literal["relevant", "min_k_relevant", "min_list_relevant", "k", "hits"]

_USERS = {"excluded": "users without relevant items excluded", "zero": "users without relevant items count as 0"}
_TIES = {"as_listed": "ties in listed order", "id_descending": "equal scores by item id, descending"}
_DIVISORS = {
    "k": "k",
    "list": "min(k, list length)",
    "relevant": "|R|",
    "min_k_relevant": "min(k, |R|)",
    "min_list_relevant": "min(list length, |R|)",
    "hits": "hits@k",
}


class _Averaged(AccuracyConfig):
    """An accuracy config with macro or micro averaging over users."""

    averaging: Averaging = "macro"
    """``macro``: the mean of the users' values (the default); ``micro``: the users' numerators
    summed over their denominators summed (implicit's precision), i.e. a mean weighted by each
    user's denominator. Per-user values are the users' own either way."""

    @model_validator(mode="after")
    def _micro_excludes(self) -> _Averaged:
        """Refuse micro averaging with users without relevant items counted as 0."""
        axes = self.resolved()
        if axes["averaging"] == "micro" and axes["without_relevant"] == "zero":
            msg = "averaging 'micro' and without_relevant 'zero' can't be combined; use averaging 'macro'"
            raise ValueError(msg)
        return self


class _Accuracy(Metric):
    """What the profiled accuracy metrics share: labels, definitions and the run's mean."""

    config: AccuracyConfig
    legacy: ClassVar[dict[str, str]] = {}
    """Axis -> label suffix under the ``recframe`` profile, kept from earlier versions."""

    @property
    def label(self) -> str:
        """``name@k``, with the profile and the overridden axes in brackets (see :mod:`.profiles`)."""
        return profiled_label(self.name, self.config, self.legacy)

    @property
    def definition(self) -> dict[str, Any]:
        """The resolved formula, profile, source version, ``k`` and axes."""
        axes = self.config.resolved()
        notes = f"{_USERS[axes['without_relevant']]}; {_TIES[axes['ties']]}"
        if axes["empty_lists"] == "excluded":
            notes += "; users with an empty list left out of the mean"
        return definition(f"{self._formula(axes, self.config.k)}; {notes}", self.config)

    def _formula(self, axes: dict[str, str], k: int) -> str:
        """Return the per-user formula and the averaging, in words and symbols."""
        return f"mean over users of {(type(self).__doc__ or '').splitlines()[0]}"

    def _weights(self, data: MetricInput, axes: dict[str, str]) -> FloatArray | None:
        """Return each user's weight in the run's mean (micro averaging), or ``None`` for the plain mean."""
        return None

    def summary_is_mean(self) -> bool:
        """Return whether the run's value is the plain mean: macro, users without relevant items or a list left out."""
        axes = self.config.resolved()
        macro = axes.get("averaging", "macro") == "macro"
        return macro and axes["without_relevant"] != "zero" and axes["empty_lists"] != "excluded"

    def summarise(self, values: FloatArray, data: MetricInput) -> float:
        """Return the run's value: the (weighted) mean, counting users without relevant items if asked."""
        axes = self.config.resolved()
        weights = self._weights(data, axes)
        if axes["empty_lists"] == "excluded":  # the users with a list only
            listed = data.items[:, 0] >= 0 if data.items.shape[1] else np.zeros(data.n_users, dtype=bool)
            values = values[listed]
            weights = None if weights is None else weights[listed]
            if not listed.any():
                return 0.0
        if weights is not None:
            total = float(weights.sum())
            return float((weights * values).sum() / total) if total > 0 else 0.0
        if axes["without_relevant"] == "zero" and data.n_without_relevant:
            return float(values.sum() / (len(values) + data.n_without_relevant))
        return float(np.mean(values))

    def _hits(self, data: MetricInput) -> tuple[MetricInput, FloatArray]:
        """Return `data` in the tie order of the config and its top-``k`` hits."""
        data = _ordered(data, self.config.resolved()["ties"])
        return data, _top(data.hits, self.config.k)


def _averaged(total: str, divisor: str, averaging: str) -> str:
    if averaging == "micro":
        return f"sum over users of {total} / sum over users of {divisor}"
    return f"mean over users of {total} / {divisor}"


class _HitsOverDivisor(_Accuracy):
    """Precision and recall: each user's hits in the top ``k`` over a per-user divisor, macro or micro averaged."""

    symbol: ClassVar[str]
    """The formula's name for the metric (``P``, ``R``)."""

    @abstractmethod
    def _divisor(self, data: MetricInput, axes: dict[str, str]) -> np.ndarray:
        """Return each user's divisor under the resolved `axes`."""

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's hits in the top ``k`` over the divisor."""
        data, top = self._hits(data)
        return _ratio(top.sum(axis=1), self._divisor(data, self.config.resolved()))

    def _weights(self, data: MetricInput, axes: dict[str, str]) -> FloatArray | None:
        return _floats(self._divisor(data, axes)) if axes["averaging"] == "micro" else None

    def _formula(self, axes: dict[str, str], k: int) -> str:
        divisor = _DIVISORS[axes["denominator"]].replace("k", str(k), 1)
        return f"{self.symbol}@{k} = " + _averaged(f"hits@{k}", divisor, axes["averaging"])


class PrecisionConfig(_Averaged):
    """Parameters of :class:`Precision`."""

    metric = "precision"

    denominator: PrecisionDenominator = "k"
    """``k`` (the default; trec_eval, RecBole, RecTools, Microsoft Recommenders); ``list``:
    ``min(k, list length)`` (LensKit, so a short list is not penalised; an empty list scores 0);
    ``min_k_relevant``: ``min(k, n_rel)`` (implicit, the "R-precision at k")."""


class Precision(_HitsOverDivisor):
    """Precision@k: the share of the top ``k`` that is relevant, ``sum_{r<=k} hits[r] / k``.

    ``denominator`` ``list`` divides by ``min(k, list length)``, ``min_k_relevant`` by
    ``min(k, n_rel)``; ``averaging: micro`` sums the hits and the denominators over users first.
    """

    name = "precision"
    Config = PrecisionConfig
    config: PrecisionConfig
    symbol = "P"

    def _divisor(self, data: MetricInput, axes: dict[str, str]) -> np.ndarray:
        k = self.config.k
        if axes["denominator"] == "list":
            return _list_length(data, k)
        if axes["denominator"] == "min_k_relevant":
            return np.minimum(data.n_relevant, k)
        return np.full(data.n_users, k)


class RecallConfig(_Averaged):
    """Parameters of :class:`Recall`."""

    metric = "recall"

    denominator: Denominator = "relevant"
    """``relevant``: divide by the user's number of relevant items, ``n_rel`` (the default;
    trec_eval, RecBole, RecTools, Microsoft Recommenders); ``min_k_relevant``: by
    ``min(k, n_rel)``, so that a perfect list scores 1 also when ``n_rel > k`` (LensKit)."""


class Recall(_HitsOverDivisor):
    """Recall@k: the share of relevant items found in the top ``k``, ``sum_{r<=k} hits[r] / n_rel``.

    With ``denominator: min_k_relevant`` the divisor is ``min(k, n_rel)``; ``averaging: micro``
    sums the hits and the divisors over users first.
    """

    name = "recall"
    Config = RecallConfig
    config: RecallConfig
    symbol = "R"
    legacy: ClassVar[dict[str, str]] = {"denominator": "_capped"}

    def _divisor(self, data: MetricInput, axes: dict[str, str]) -> np.ndarray:
        k = self.config.k
        return np.minimum(data.n_relevant, k) if axes["denominator"] == "min_k_relevant" else data.n_relevant


class F1Config(AccuracyConfig):
    """Parameters of :class:`F1`."""

    metric = "f1"


class F1(_Accuracy):
    """F1@k: the harmonic mean of precision@k and recall@k, ``2 P R / (P + R)`` (0 when both are 0)."""

    name = "f1"
    Config = F1Config

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's F1@k."""
        k = self.config.k
        data, top = self._hits(data)
        found = top.sum(axis=1)
        precision, recall = found / k, found / data.n_relevant
        return _ratio(2 * precision * recall, precision + recall)

    def _formula(self, axes: dict[str, str], k: int) -> str:
        return f"F1@{k} = mean over users of 2 P R / (P + R), P = hits@{k} / {k}, R = hits@{k} / |R| (0 if P + R = 0)"


class NDCGConfig(AccuracyConfig):
    """Parameters of :class:`NDCG`."""

    metric = "ndcg"

    gain: Literal["binary", "rating", "exponential"] = "binary"
    """Gain of a relevant item: ``binary`` 1 (the default; LensKit, RecBole, RecTools, implicit,
    Microsoft Recommenders); ``rating`` its held-out rating ``g`` (trec_eval's relevance level,
    1 without ratings); ``exponential`` ``2^g - 1`` (the Burges et al. form)."""

    discount: Literal["log2(r+1)", "log2(max(r,2))"] = "log2(r+1)"
    """Discount of rank ``r`` (from 1): ``log2(r+1)`` (the default; every profile but LensKit's;
    a log of another base gives the same nDCG), or ``log2(max(r,2))`` (LensKit: ranks 1 and 2
    are discounted alike, the original Järvelin-Kekäläinen form)."""

    ideal: Literal["min_k_relevant", "k", "list"] = "min_k_relevant"
    """The ideal DCG: ``min_k_relevant`` the DCG of the user's relevant gains, best first, cut at
    ``k`` (the default; every profile but RecTools'); ``k`` as if all ``k`` places were relevant
    (RecTools' default, binary gains only); ``list`` the DCG of the list's own hits sorted best
    first (a list without hits scores 0)."""

    @model_validator(mode="after")
    def _ideal_k_binary(self) -> NDCGConfig:
        """Refuse an ideal of ``k`` relevant places with graded gains."""
        axes = self.resolved()
        if axes["ideal"] == "k" and axes["gain"] != "binary":
            msg = f"ideal 'k' counts k relevant places of gain 1, so it needs gain 'binary', not {axes['gain']!r}"
            raise ValueError(msg)
        return self


class NDCG(_Accuracy):
    """nDCG@k: ``DCG / IDCG`` with the discount ``1 / log2(r + 1)`` at rank ``r`` (from 1).

    ``DCG = sum_{r<=k} gain[r] / log2(r + 1)``; IDCG is the DCG of the user's relevant items
    sorted by gain, best first, cut at ``k`` (for binary gains: ``min(k, n_rel)`` ones).
    ``gain``, ``discount`` and ``ideal`` change each part (see the options).
    """

    name = "ndcg"
    Config = NDCGConfig
    config: NDCGConfig
    legacy: ClassVar[dict[str, str]] = {"gain": "_{value}"}

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's nDCG@k."""
        k, axes = self.config.k, self.config.resolved()
        data, top = self._hits(data)
        ranks = np.arange(1, k + 1)
        discounts = 1.0 / np.log2(ranks + 1 if axes["discount"] == "log2(r+1)" else np.maximum(ranks, 2))
        if axes["gain"] == "binary":
            if axes["ideal"] == "min_k_relevant":  # the closed form: min(k, n_rel) ones
                ideal = np.r_[0.0, np.cumsum(discounts)][np.minimum(data.n_relevant, k)]
                return _floats((top @ discounts) / ideal)
            gains = top
        else:
            gains, ideal_gains = _top(data.gains, k), _top(data.ideal_gains, k)
            if axes["gain"] == "exponential":
                gains, ideal_gains = np.exp2(gains) - 1.0, np.exp2(ideal_gains) - 1.0
        if axes["ideal"] == "k":
            ideal_gains = np.ones_like(gains)
        elif axes["ideal"] == "list":
            ideal_gains = -np.sort(-gains, axis=1)
        return _ratio(gains @ discounts, ideal_gains @ discounts)

    def _formula(self, axes: dict[str, str], k: int) -> str:
        gain = {"binary": "1", "rating": "g", "exponential": "2^g - 1"}[axes["gain"]]
        ideal = {
            "min_k_relevant": f"the DCG@{k} of the user's relevant items, best gain first",
            "k": f"sum_{{r<={k}}} 1 / d(r) ({k} relevant places)",
            "list": "the DCG of the list's own hits, best gain first",
        }[axes["ideal"]]
        return (
            f"nDCG@{k} = mean over users of DCG@{k} / IDCG, DCG@{k} = sum_{{r<={k}}} gain(r) / d(r), "
            f"gain = {gain} for a relevant item (0 otherwise), d(r) = {axes['discount']}, IDCG = {ideal}"
        )


class MAPConfig(AccuracyConfig):
    """Parameters of :class:`MAP`."""

    metric = "map"

    denominator: APDenominator = "min_k_relevant"
    """Divisor of AP: ``min_k_relevant`` ``min(k, n_rel)`` (the default; implicit, RecBole,
    Microsoft Recommenders); ``relevant`` ``n_rel`` (trec_eval's map_cut, RecTools);
    ``min_list_relevant`` ``min(list length, n_rel)`` with the list cut at ``k`` (LensKit);
    ``k``; ``hits`` the number of hits in the top ``k`` (0 without hits)."""


class MAP(_Accuracy):
    """MAP@k: per user, the average precision at k; the mean over users is MAP.

    ``AP@k = sum_{r<=k} precision@r * hits[r] / min(k, n_rel)`` (or another divisor, see
    ``denominator``).
    """

    name = "map"
    Config = MAPConfig
    config: MAPConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's average precision at k."""
        k, denominator = self.config.k, self.config.resolved()["denominator"]
        data, top = self._hits(data)
        precision_at = np.cumsum(top, axis=1) / np.arange(1, k + 1)
        divisor = _ap_divisor(data, top, denominator, k)
        total = (precision_at * top).sum(axis=1)
        if denominator in ("relevant", "min_k_relevant"):  # never 0: the exact arithmetic of earlier versions
            return _floats(total / divisor)
        return _ratio(total, divisor)

    def _formula(self, axes: dict[str, str], k: int) -> str:
        divisor = _DIVISORS[axes["denominator"]].replace("k", str(k), 1)
        return f"MAP@{k} = mean over users of sum_{{r<={k}}} P@r * hit(r) / {divisor}"


def _ap_divisor(data: MetricInput, top: FloatArray, denominator: str, k: int) -> np.ndarray:
    """Return each user's divisor of AP@k under `denominator` (see :attr:`MAPConfig.denominator`)."""
    if denominator == "relevant":
        return data.n_relevant
    if denominator == "min_k_relevant":
        return np.minimum(data.n_relevant, k)
    if denominator == "min_list_relevant":
        return np.minimum(data.n_relevant, _list_length(data, k))
    if denominator == "k":
        return np.full(data.n_users, k)
    hits: np.ndarray = top.sum(axis=1)
    return hits


class MRRConfig(AccuracyConfig):
    """Parameters of :class:`MRR`."""

    metric = "mrr"


class MRR(_Accuracy):
    """MRR@k: the reciprocal rank ``1 / r`` of the first relevant item within the top ``k``, else 0."""

    name = "mrr"
    Config = MRRConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return each user's reciprocal rank."""
        top = self._hits(data)[1] > 0
        first = top.argmax(axis=1)
        return np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)

    def _formula(self, axes: dict[str, str], k: int) -> str:
        return f"MRR@{k} = mean over users of 1 / (rank of the first hit within {k}), 0 without one"


class HitRateConfig(AccuracyConfig):
    """Parameters of :class:`HitRate`."""

    metric = "hit_rate"


class HitRate(_Accuracy):
    """Hit rate@k: 1 if any of the top ``k`` is relevant, else 0."""

    name = "hit_rate"
    Config = HitRateConfig

    def compute(self, data: MetricInput) -> FloatArray:
        """Return 1.0 or 0.0 for each user."""
        return _floats(self._hits(data)[1].max(axis=1, initial=0.0))

    def _formula(self, axes: dict[str, str], k: int) -> str:
        return f"HR@{k} = mean over users of 1 if any of the top {k} is relevant, else 0"
