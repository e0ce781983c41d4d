"""Metric profiles: the definitional axes of the accuracy metrics, and each library's choices on them.

Libraries disagree on the "same" metric along several axes: the gain and discount of nDCG, the
ideal DCG's cut-off, the denominators of AP, precision and recall, macro or micro averaging,
whether users without a relevant item count as 0 or are left out, and how tied scores are
ordered. Every axis is an option of the metrics it concerns; ``profile: <library>`` fills them
with what that library does (read from its source, versions in :data:`PROFILE_VERSIONS`), and an
axis given beside a profile overrides it. ``recframe`` (the default) is today's behaviour.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from recframe import MetricConfig

Profile = Literal["recframe", "trec_eval", "lenskit", "recbole", "rectools", "implicit", "ms_recommenders"]
WithoutRelevant = Literal["excluded", "zero"]
Ties = Literal["as_listed", "id_descending"]
Averaging = Literal["macro", "micro"]
EmptyLists = Literal["zero", "excluded"]

PROFILE_VERSIONS: dict[str, str] = {
    "recframe": "this version",
    "trec_eval": "trec_eval 9.0.8 via ir-measures 0.4.3 (pytrec-eval-terrier 0.5.11) and ranx 0.3.21",
    "lenskit": "LensKit 2025.8.1 (src/lenskit/metrics/ranking/)",
    "recbole": "RecBole 1.2.1 (recbole/evaluator/metrics.py)",
    "rectools": "RecTools 0.17.0 (rectools/metrics/)",
    "implicit": "implicit 0.7.3 (implicit/evaluation.pyx, ranking_metrics_at_k)",
    "ms_recommenders": "Microsoft Recommenders 1.2.1 (recommenders/evaluation/python_evaluation.py)",
}
"""The library version whose source each profile was read from and tested against."""

_COMMON = {"without_relevant": "excluded", "ties": "as_listed", "empty_lists": "zero"}
_TREC = {**_COMMON, "ties": "id_descending"}

PROFILE_AXES: dict[str, dict[str, dict[str, str]]] = {
    "recframe": {
        "precision": {**_COMMON, "denominator": "k", "averaging": "macro"},
        "recall": {**_COMMON, "denominator": "relevant", "averaging": "macro"},
        "f1": dict(_COMMON),
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(r+1)", "ideal": "min_k_relevant"},
        "map": {**_COMMON, "denominator": "min_k_relevant"},
        "mrr": dict(_COMMON),
        "hit_rate": dict(_COMMON),
    },
    "trec_eval": {  # P_k, recall_k, ndcg_cut_k, map_cut_k, recip_rank, success_k; F1 from ranx
        "precision": {**_TREC, "denominator": "k", "averaging": "macro"},
        "recall": {**_TREC, "denominator": "relevant", "averaging": "macro"},
        "f1": dict(_TREC),
        "ndcg": {**_TREC, "gain": "rating", "discount": "log2(r+1)", "ideal": "min_k_relevant"},
        "map": {**_TREC, "denominator": "relevant"},
        "mrr": dict(_TREC),
        "hit_rate": dict(_TREC),
    },
    "lenskit": {  # Precision, Recall, NDCG, AveragePrecision, RecipRank, Hit
        "precision": {**_COMMON, "denominator": "list", "averaging": "macro"},
        "recall": {**_COMMON, "denominator": "min_k_relevant", "averaging": "macro"},
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(max(r,2))", "ideal": "min_k_relevant"},
        "map": {**_COMMON, "denominator": "min_list_relevant"},
        "mrr": dict(_COMMON),
        "hit_rate": dict(_COMMON),
    },
    "recbole": {  # Precision, Recall, NDCG, MAP, MRR, Hit
        "precision": {**_COMMON, "denominator": "k", "averaging": "macro"},
        "recall": {**_COMMON, "denominator": "relevant", "averaging": "macro"},
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(r+1)", "ideal": "min_k_relevant"},
        "map": {**_COMMON, "denominator": "min_k_relevant"},
        "mrr": dict(_COMMON),
        "hit_rate": dict(_COMMON),
    },
    "rectools": {  # Precision, Recall, F1Beta(beta=1), NDCG, MAP, MRR, HitRate, all at their defaults
        "precision": {**_COMMON, "denominator": "k", "averaging": "macro"},
        "recall": {**_COMMON, "denominator": "relevant", "averaging": "macro"},
        "f1": dict(_COMMON),
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(r+1)", "ideal": "k"},
        "map": {**_COMMON, "denominator": "relevant"},
        "mrr": dict(_COMMON),
        "hit_rate": dict(_COMMON),
    },
    "implicit": {  # precision_at_k, ndcg_at_k, mean_average_precision_at_k
        "precision": {**_COMMON, "denominator": "min_k_relevant", "averaging": "micro"},
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(r+1)", "ideal": "min_k_relevant"},
        "map": {**_COMMON, "denominator": "min_k_relevant"},
    },
    "ms_recommenders": {  # precision_at_k, recall_at_k, ndcg_at_k, map_at_k
        # the first three average over the users with a list (merge_ranking_true_pred's common users)
        "precision": {**_COMMON, "denominator": "k", "averaging": "macro", "empty_lists": "excluded"},
        "recall": {**_COMMON, "denominator": "relevant", "averaging": "macro", "empty_lists": "excluded"},
        "ndcg": {**_COMMON, "gain": "binary", "discount": "log2(r+1)", "ideal": "min_k_relevant"},
        "map": {**_COMMON, "denominator": "min_k_relevant", "empty_lists": "excluded"},
    },
}
"""Each profile's value of every axis, by metric; a library without the metric has no entry."""


class AccuracyConfig(MetricConfig):
    """Parameters every profiled accuracy metric has: its profile and the axes all of them share.

    An axis left out takes the profile's value; an axis given beside a profile overrides it
    (and the metric's label names the override).
    """

    metric: ClassVar[str] = ""

    profile: Profile = "recframe"
    """Whose definitions to use: ``recframe`` (the default), ``trec_eval``, ``lenskit``,
    ``recbole``, ``rectools``, ``implicit`` or ``ms_recommenders``. It fills every axis left out;
    an axis given beside it overrides it. A library that has no such metric is refused."""

    without_relevant: WithoutRelevant = "excluded"
    """Test users without a relevant held-out item: ``excluded`` from the mean (the default; every
    profiled library does so), or counted as ``zero`` (the mean divides by them as well; their
    per-user values are not written)."""

    empty_lists: EmptyLists = "zero"
    """Evaluated users whose list is empty (only a run with ``fallback: null`` leaves one): they
    score ``zero`` (the default), or are ``excluded`` from the run's mean (Microsoft
    Recommenders' precision, recall and MAP average over the users with a list); their per-user
    value is 0 either way."""

    ties: Ties = "as_listed"
    """Order of items with equal scores: ``as_listed`` scores the list in recframe's order (ties
    broken by the ranker), ``id_descending`` reorders equal scores by item id, largest string
    first (trec_eval's rule). Ties with items below the longest evaluated cut-off can't be seen."""

    @model_validator(mode="after")
    def _known_profile(self) -> AccuracyConfig:
        """Refuse a profile of a library that has no such metric."""
        if self.metric and self.metric not in PROFILE_AXES[self.profile]:
            have = sorted(p for p, metrics in PROFILE_AXES.items() if self.metric in metrics)
            msg = (
                f"profile {self.profile!r} has no {self.metric} metric (the library defines none); "
                f"use one of {', '.join(have)}, or give the axes yourself under profile 'recframe'"
            )
            raise ValueError(msg)
        return self

    def resolved(self) -> dict[str, str]:
        """Return every axis's value: the profile's, with the axes given explicitly on top."""
        table = PROFILE_AXES[self.profile].get(self.metric, _COMMON)
        axes = {name: value for name, value in table.items() if name not in _COMMON} | {
            name: table[name] for name in _COMMON
        }
        for name in axes:
            if name in self.model_fields_set:
                axes[name] = str(getattr(self, name))
        return axes

    def overrides(self) -> dict[str, str]:
        """Return the explicitly given axes that differ from the profile's value, in axis order."""
        base = PROFILE_AXES[self.profile].get(self.metric, _COMMON)
        return {name: value for name, value in self.resolved().items() if base.get(name) != value}


def profiled_label(name: str, config: AccuracyConfig, legacy: dict[str, str] | None = None) -> str:
    """Return a label unique to the metric's resolved definition, e.g. ``map@10[profile=lenskit]``.

    Under the ``recframe`` profile the label is today's: ``name@k``, with the suffix `legacy`
    maps axis values to (``recall_capped@10``); other differing axes are listed in brackets in
    axis order (``map@10[denominator=relevant]``). Another profile names itself first, then its
    overrides (``ndcg@10[profile=lenskit,gain=exponential]``).
    """
    parts, head = [], name
    overrides = config.overrides()
    if config.profile == "recframe":
        for axis, suffix in (legacy or {}).items():
            value = overrides.pop(axis, None)
            if value is not None:
                head += suffix.format(value=value)
    else:
        parts.append(f"profile={config.profile}")
    parts += [f"{axis}={value}" for axis, value in overrides.items()]
    label = f"{head}@{config.k}"
    return f"{label}[{','.join(parts)}]" if parts else label


def definition(formula: str, config: AccuracyConfig) -> dict[str, Any]:
    """Return a metric's definition for ``metrics.json`` and the report: formula, profile, axes."""
    return {
        "formula": formula,
        "profile": config.profile,
        "source": PROFILE_VERSIONS[config.profile],
        "k": config.k,
        "axes": config.resolved(),
    }
