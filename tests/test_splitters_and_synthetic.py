"""Splitters and the synthetic data source."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import DataError, Interactions, Recommender
from recframe.builtin.data_sources import SyntheticDataSource
from recframe.builtin.splitters import LeaveLastNSplitter, PerUserHoldoutSplitter, RandomHoldoutSplitter
from recframe.testing import random_interactions


def test_per_user_holdout_counts():
    data = random_interactions(n_users=30, n_items=40, density=0.3, seed=2)
    train, test = PerUserHoldoutSplitter(test_fraction=0.25, min_history=4).split(data, np.random.default_rng(0))
    users, counts = np.unique(data.users, return_counts=True)
    tested = dict(zip(*np.unique(test.users, return_counts=True), strict=True))
    for user, count in zip(users, counts, strict=True):
        expected = 0 if count < 4 else min(count - 1, max(1, int(np.floor(count * 0.25))))
        assert tested.get(user, 0) == expected
    assert set(test.users.tolist()) <= set(train.users.tolist())


@pytest.mark.parametrize("percent", range(1, 100))
def test_a_users_share_is_the_fraction_as_written(percent: int) -> None:
    """0.29 of 100 is 29 (the float 0.29 times 100 is 28.999999999999996): integer arithmetic decides."""
    fraction = percent / 100
    data = Interactions([0] * 100 + [1] * 7, list(range(107)), None, list(range(107)))
    want = {0: percent, 1: max(1, 7 * percent // 100)}
    for splitter in (PerUserHoldoutSplitter(test_fraction=fraction), LeaveLastNSplitter(fraction=fraction)):
        test = splitter.split(data, np.random.default_rng(0))[1]
        assert dict(zip(*np.unique(test.users, return_counts=True), strict=True)) == want


@pytest.mark.parametrize(("numerator", "denominator"), [(1, 3), (2, 3), (1, 6), (1, 7), (3, 7), (5, 12)])
def test_a_share_given_as_a_ratio_is_that_ratio(numerator: int, denominator: int) -> None:
    """1 / 3 as a float is a little below a third: 6 events still give 2, as 6 * 1/3 does."""
    counts = np.arange(1, 400)
    splitter = PerUserHoldoutSplitter(test_fraction=numerator / denominator, min_history=1)
    data = Interactions(np.repeat(counts, counts), np.arange(counts.sum()))
    test = splitter.split(data, np.random.default_rng(0))[1]
    tested = dict(zip(*np.unique(test.users, return_counts=True), strict=True))
    want = {c: min(c - 1, max(1, c * numerator // denominator)) for c in counts.tolist() if c >= 2}
    assert {int(u): int(n) for u, n in tested.items()} == want


def test_per_user_holdout_differs_by_seed():
    data = random_interactions(seed=4)
    a = PerUserHoldoutSplitter().split(data, np.random.default_rng(0))[1]
    b = PerUserHoldoutSplitter().split(data, np.random.default_rng(1))[1]
    assert a.fingerprint() != b.fingerprint()


def test_random_holdout_size():
    data = random_interactions(seed=4)
    train, test = RandomHoldoutSplitter(test_fraction=0.3).split(data, np.random.default_rng(0))
    assert len(test) == round(len(data) * 0.3) and len(train) + len(test) == len(data)


def test_split_with_nothing_to_test():
    data = Interactions([1, 2], [1, 1])
    with pytest.raises(DataError, match=r"^every one of the 2 users has 1 interaction, so none can be tested and keep "
                       r"one in training; use random_holdout"):
        PerUserHoldoutSplitter().split(data, np.random.default_rng(0))
    with pytest.raises(DataError, match=r"every one of the 2 users has 1 interaction"):
        LeaveLastNSplitter().split(Interactions([1, 2], [1, 1], timestamps=[1.0, 2.0]), np.random.default_rng(0))


class TestSynthetic:
    def test_same_seed_same_data_and_shape(self):
        source = SyntheticDataSource(n_users=300, n_items=120, seed=9)
        a, b = source.load(np.random.default_rng(0)), source.load(np.random.default_rng(1))
        assert a.fingerprint() == b.fingerprint()  # its own seed wins over the run's generator
        assert set(np.unique(a.values)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
        assert a.timestamps is not None and np.all(np.diff(a.timestamps[a.users == a.users[0]]) >= 0)
        pairs = a.users.astype(np.int64) * 1000 + a.items
        assert len(np.unique(pairs)) == len(pairs)

    def test_popularity_is_skewed(self):
        data = SyntheticDataSource(n_users=1000, n_items=400).load(np.random.default_rng(0))
        counts = np.sort(np.bincount(data.items, minlength=400))[::-1]
        assert counts[:40].sum() > 0.3 * counts.sum()  # the top 10% of items get over 30% of events

    def test_cf_beats_popularity(self):
        config = {
            "data": {"type": "synthetic", "n_users": 600, "n_items": 300},
            "evaluation": {"split": "per_user_holdout", "metrics": ["ndcg@10"]},
        }
        cf = Recommender.from_config(config).evaluate().metrics["ndcg@10"]
        pop = Recommender.from_config({**config, "ranker": "popularity"}).evaluate().metrics["ndcg@10"]
        assert cf > 1.2 * pop
