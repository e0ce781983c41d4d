"""Every built-in component passes the same contract tests a plugin author runs."""

from __future__ import annotations

from recframe.builtin.data_sources import SyntheticDataSource
from recframe.builtin.matrix_builders import BinaryMatrixBuilder, RatingsMatrixBuilder
from recframe.builtin.metrics import MAP, NDCG, HitRate, Precision, Recall
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.builtin.splitters import PerUserHoldoutSplitter, RandomHoldoutSplitter
from recframe.testing import (
    DataSourceContract,
    MatrixBuilderContract,
    MetricContract,
    RankerContract,
    SimilarityContract,
    SplitterContract,
)


class TestSynthetic(DataSourceContract):
    component = SyntheticDataSource
    configs = [{"n_users": 50, "n_items": 30}, {"n_users": 20, "n_items": 10, "seed": 3, "activity_sigma": 0}]


class TestRatings(MatrixBuilderContract):
    component = RatingsMatrixBuilder
    configs = [{}, {"duplicates": "mean"}, {"duplicates": "error"}]


class TestBinary(MatrixBuilderContract):
    component = BinaryMatrixBuilder
    configs = [{}, {"threshold": 3}]


class TestSklearnNN(SimilarityContract):
    component = SklearnNNSimilarity
    configs = [{"k": 5}, {"k": 1000}, {"k": 3, "metric": "euclidean", "max_memory_mb": 1}]


class TestItemCF(RankerContract):
    component = ItemCFRanker
    configs = [{"n": 3}, {"n": 5, "exclude_seen": False}, {"n": 40, "max_memory_mb": 1}]


class TestUserCF(RankerContract):
    component = UserCFRanker
    configs = [{"n": 3}, {"n": 5, "exclude_seen": False}]


class TestPopularity(RankerContract):
    component = PopularityRanker
    configs = [{"n": 3}, {"n": 4, "by": "values"}]


class TestRandomHoldout(SplitterContract):
    component = RandomHoldoutSplitter
    configs = [{}, {"test_fraction": 0.5}]


class TestPerUserHoldout(SplitterContract):
    component = PerUserHoldoutSplitter
    configs = [{}, {"test_fraction": 0.4, "min_history": 5}]


class TestMetrics(MetricContract):
    component = Precision
    configs = [{"k": 1}, {"k": 10}]


class TestRecall(MetricContract):
    component = Recall


class TestNDCG(MetricContract):
    component = NDCG


class TestMAP(MetricContract):
    component = MAP


class TestHitRate(MetricContract):
    component = HitRate
