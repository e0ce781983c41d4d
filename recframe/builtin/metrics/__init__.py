"""Built-in metrics, each at a cut-off ``k``: accuracy of the ranked lists and beyond accuracy.

Accuracy metrics (:mod:`.accuracy`) read ``hits[u, r]`` (is the item at rank ``r`` of user
``u``'s list relevant, ranks counted from 1) and ``n_rel[u]`` (the user's number of relevant
held-out items). A list shorter than ``k`` counts its missing places as misses. Beyond-accuracy
metrics (:mod:`.beyond_accuracy`) read the recommended items and the training matrix;
rating-error metrics (:mod:`.rating_error`) the predicted ratings. Every formula is written in
the class docstring, which is also the reference documentation.
"""

from __future__ import annotations

from recframe import Component, hookimpl
from recframe.builtin.metrics.accuracy import (
    F1,
    MAP,
    MRR,
    NDCG,
    Denominator,
    F1Config,
    HitRate,
    HitRateConfig,
    MAPConfig,
    MRRConfig,
    NDCGConfig,
    Precision,
    PrecisionConfig,
    Recall,
    RecallConfig,
)
from recframe.builtin.metrics.beyond_accuracy import (
    ILD_BLOCK_MB,
    AveragePopularity,
    AveragePopularityConfig,
    Coverage,
    CoverageConfig,
    Gini,
    GiniConfig,
    IntraListDiversity,
    IntraListDiversityConfig,
    Novelty,
    NoveltyConfig,
)
from recframe.builtin.metrics.rating_error import MAE, RMSE, MAEConfig, RMSEConfig

__all__ = [
    "F1",
    "ILD_BLOCK_MB",
    "MAE",
    "MAP",
    "MRR",
    "NDCG",
    "RMSE",
    "AveragePopularity",
    "AveragePopularityConfig",
    "Coverage",
    "CoverageConfig",
    "Denominator",
    "F1Config",
    "Gini",
    "GiniConfig",
    "HitRate",
    "HitRateConfig",
    "IntraListDiversity",
    "IntraListDiversityConfig",
    "MAEConfig",
    "MAPConfig",
    "MRRConfig",
    "NDCGConfig",
    "Novelty",
    "NoveltyConfig",
    "Precision",
    "PrecisionConfig",
    "RMSEConfig",
    "Recall",
    "RecallConfig",
]


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in metrics."""
    return [
        Precision,
        Recall,
        F1,
        NDCG,
        MAP,
        MRR,
        HitRate,
        Coverage,
        Gini,
        Novelty,
        AveragePopularity,
        IntraListDiversity,
        RMSE,
        MAE,
    ]
