"""Every built-in component passes the same contract tests a plugin author runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from recframe import Interactions
from recframe.builtin.data_sources import SyntheticDataSource
from recframe.builtin.executors import LocalExecutor
from recframe.builtin.filters import (
    DuplicatesFilter,
    KCoreFilter,
    RatingThresholdFilter,
    RecentNFilter,
    TimeWindowFilter,
)
from recframe.builtin.matrix_builders import (
    BinaryMatrixBuilder,
    BM25MatrixBuilder,
    LogConfidenceMatrixBuilder,
    RatingsMatrixBuilder,
    TFIDFMatrixBuilder,
)
from recframe.builtin.metrics import (
    F1,
    MAP,
    MRR,
    NDCG,
    AveragePopularity,
    Coverage,
    Gini,
    HitRate,
    IntraListDiversity,
    Novelty,
    Precision,
    Recall,
)
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.builtin.splitters import (
    KFoldSplitter,
    LeaveLastNSplitter,
    PerUserHoldoutSplitter,
    RandomHoldoutSplitter,
    TemporalGlobalSplitter,
)
from recframe.testing import (
    DataSourceContract,
    ExecutorContract,
    FilterContract,
    MatrixBuilderContract,
    MetricContract,
    RankerContract,
    SimilarityContract,
    SplitterContract,
    random_interactions,
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


class TestLeaveLastN(SplitterContract):
    component = LeaveLastNSplitter
    configs = [{}, {"n": 3, "min_history": 4}, {"fraction": 0.3}]


class TestTemporalGlobal(SplitterContract):
    component = TemporalGlobalSplitter
    configs = [{}, {"quantile": 0.5}, {"cutoff": 1_605_000_000}]


class TestKFold(SplitterContract):
    component = KFoldSplitter
    configs = [{}, {"n_folds": 3, "per_user": True, "fold": 2}]


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


class TestF1(MetricContract):
    component = F1


class TestMRR(MetricContract):
    component = MRR


class TestGradedNDCG(MetricContract):
    component = NDCG
    configs = [{"gain": "rating"}, {"gain": "exponential", "k": 3}]


class TestCoverage(MetricContract):
    component = Coverage


class TestGini(MetricContract):
    component = Gini


class TestNovelty(MetricContract):
    component = Novelty


class TestAveragePopularity(MetricContract):
    component = AveragePopularity


class TestIntraListDiversity(MetricContract):
    component = IntraListDiversity
    configs = [{"k": 5}]


class TestBM25(MatrixBuilderContract):
    component = BM25MatrixBuilder
    configs = [{}, {"k1": 100, "b": 0.8, "duplicates": "max"}]


class TestTFIDF(MatrixBuilderContract):
    component = TFIDFMatrixBuilder


class TestLogConfidence(MatrixBuilderContract):
    component = LogConfidenceMatrixBuilder
    configs = [{}, {"alpha": 40, "epsilon": 0.5}]


class TestKCore(FilterContract):
    component = KCoreFilter
    configs = [{"min_user_interactions": 2, "min_item_interactions": 2}]


class TestRatingThreshold(FilterContract):
    component = RatingThresholdFilter
    configs = [{"min_rating": 3}, {"max_rating": 4}]


class TestTimeWindow(FilterContract):
    component = TimeWindowFilter
    configs = [{"start": 1_602_000_000}, {"last_days": 30}]


class TestRecentN(FilterContract):
    component = RecentNFilter
    configs = [{"n": 3}]


class TestDuplicates(FilterContract):
    component = DuplicatesFilter
    configs = [{}, {"keep": "first"}]


class _StaleUpdate(RatingsMatrixBuilder):
    """A builder whose ``update`` ignores the change: the contract must say what it missed."""

    def update(self, previous, change):  # type: ignore[no-untyped-def]
        return previous


def test_the_update_contract_names_what_an_update_missed() -> None:
    class Stale(MatrixBuilderContract):
        component = _StaleUpdate
        configs = [{}]

    with pytest.raises(
        AssertionError, match=r"^adding events: update\(\) and build\(\) .* differ in their users: missing \["
    ):
        Stale().test_an_update_equals_a_build()


class TestLocalExecutor(ExecutorContract):
    component = LocalExecutor
    configs = ({}, {"workers": 3, "block_rows": 7})


class _KeepsForgottenItems(RatingsMatrixBuilder):
    """A builder whose ``update`` handles added events and forgotten users, but not forgotten items."""

    def update(self, previous, change):  # type: ignore[no-untyped-def]
        if change.removed_items is not None and len(change.removed_items):
            change = replace(change, removed_items=change.removed_items[:0])
            return super().update(previous, change)
        return super().update(previous, change)


class _LastEvenWhenOlder(RatingsMatrixBuilder):
    """A ``last`` builder whose ``update`` takes the new event's value, even where it is older than the old one."""

    def update(self, previous, change):  # type: ignore[no-untyped-def]
        if change.added is None or change.added.timestamps is None:
            return super().update(previous, change)
        newer = change.added
        newer = type(newer)(newer.users, newer.items, newer.values, newer.timestamps * 0 + 1e12)
        return super().update(previous, replace(change, added=newer))


@pytest.mark.parametrize(
    ("builder", "missed"),
    [(_KeepsForgottenItems, "forgetting items"), (_LastEvenWhenOlder, "adding older events")],
)
def test_the_update_contract_forgets_items_and_adds_older_events(builder: type, missed: str) -> None:
    """Found by an outside review: the kit added events and forgot users only, so these bugs passed it."""

    class Broken(MatrixBuilderContract):
        component = builder
        configs = [{"duplicates": "last"}]

        def interactions(self):  # type: ignore[no-untyped-def]
            data = random_interactions(seed=3)
            return Interactions(data.users, data.items, data.values, np.arange(len(data), dtype=np.float64))

    with pytest.raises(AssertionError, match=f"^{missed}: update\\(\\) and build\\(\\)"):
        Broken().test_an_update_equals_a_build()
