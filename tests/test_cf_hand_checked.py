"""Neighbours and CF scores on the 5 x 6 example, against numbers worked out by hand.

Item vectors over (u1..u5): i1=(5,4,1,0,0) i2=(3,0,1,0,1) i3=(0,0,0,5,0) i4=(1,1,5,4,0)
i5=(0,0,0,0,4) i6=(0,2,0,0,0); so, e.g., cos(i1, i2) = (15 + 1) / sqrt(42 * 11).
"""

from __future__ import annotations

import numpy as np
import pytest

from recframe import Recommender
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.errors import DataError


def neighbours_of(rec: Recommender, axis: str, query: str) -> dict[str, float]:
    lists = rec.similar_items([query], n=2) if axis == "items" else rec.similar_users([query], n=2)
    return dict(lists.to_dict()[query])


@pytest.fixture
def item_rec(tiny_interactions):
    rec = Recommender(similarity=SklearnNNSimilarity(k=2), ranker=ItemCFRanker(n=3))
    return rec.fit(tiny_interactions)


@pytest.fixture
def user_rec(tiny_interactions):
    rec = Recommender(similarity=SklearnNNSimilarity(k=2), ranker=UserCFRanker(n=3))
    return rec.fit(tiny_interactions)


def test_item_neighbours_by_hand(item_rec):
    assert neighbours_of(item_rec, "items", "i1") == pytest.approx(
        {"i2": 16 / np.sqrt(42 * 11), "i6": 8 / np.sqrt(42 * 4)}
    )
    assert neighbours_of(item_rec, "items", "i4") == pytest.approx(
        {"i3": 20 / np.sqrt(25 * 43), "i2": 8 / np.sqrt(11 * 43)}
    )
    # i3 overlaps only with i4: zero-similarity rows are no neighbours
    assert neighbours_of(item_rec, "items", "i3") == pytest.approx({"i4": 20 / np.sqrt(25 * 43)})
    ordered = item_rec.similar_items(["i1"], n=2).to_dict()["i1"]
    assert [item for item, _ in ordered] == ["i2", "i6"]


def test_user_neighbours_by_hand(user_rec):
    assert neighbours_of(user_rec, "users", "u1") == pytest.approx(
        {"u2": 21 / np.sqrt(35 * 21), "u3": 13 / np.sqrt(35 * 27)}
    )
    assert neighbours_of(user_rec, "users", "u4") == pytest.approx(
        {"u3": 20 / np.sqrt(27 * 41), "u2": 4 / np.sqrt(21 * 41)}
    )


def test_item_cf_scores_by_hand(item_rec):
    # u1 rated i1=5, i2=3, i4=1. With k=2: i6 is a neighbour of i1, i3 of i4; i5 gets nothing.
    lists = item_rec.recommend(["u1"]).to_dict()["u1"]
    assert [item for item, _ in lists] == ["i6", "i3"]
    assert [score for _, score in lists] == pytest.approx([5 * 8 / np.sqrt(42 * 4), 1 * 20 / np.sqrt(25 * 43)])


def test_user_cf_scores_by_hand(user_rec):
    # u4's neighbours are u3 (0.601) and u2 (0.136); u3 rated i1=1, i2=1 and u2 rated i1=4, i6=2.
    s43, s42 = 20 / np.sqrt(27 * 41), 4 / np.sqrt(21 * 41)
    lists = user_rec.recommend(["u4"]).to_dict()["u4"]
    assert [item for item, _ in lists] == ["i1", "i2", "i6"]
    assert [score for _, score in lists] == pytest.approx([s43 * 1 + s42 * 4, s43 * 1, s42 * 2])
    # u1's neighbours u2 and u3 only add i6 (from u2's rating 2)
    (item, score), *rest = user_rec.recommend(["u1"]).to_dict()["u1"]
    assert item == "i6" and not rest
    assert score == pytest.approx(2 * 21 / np.sqrt(35 * 21))


def test_popularity_by_hand_ties_by_item_id(tiny_interactions):
    rec = Recommender(ranker=PopularityRanker(n=3), fallback=None).fit(tiny_interactions)
    # users per item: i1 3, i2 3, i3 1, i4 4, i5 1, i6 1; u5 has seen i2 and i5
    assert rec.recommend(["u5"]).to_dict()["u5"] == [("i4", 4.0), ("i1", 3.0), ("i3", 1.0)]


def test_unknown_user_gets_the_fallback_and_the_source_says_so(item_rec):
    lists = item_rec.recommend(["u1", "nobody"])
    assert lists.sources.tolist() == ["item_cf", "popularity"]
    assert lists.to_dict()["nobody"] == [("i4", 4.0), ("i1", 3.0), ("i2", 3.0)]


def test_unknown_user_without_fallback_is_an_error(tiny_interactions):
    rec = Recommender(ranker=ItemCFRanker(), fallback=None).fit(tiny_interactions)
    with pytest.raises(DataError, match=r"unknown user 'nobody'; not in the training data"):
        rec.recommend(["u1", "nobody"])


def test_exclude_seen_false_keeps_seen_items(tiny_interactions):
    rec = Recommender(similarity=SklearnNNSimilarity(k=2), ranker=ItemCFRanker(n=6, exclude_seen=False))
    items = [item for item, _ in rec.fit(tiny_interactions).recommend(["u1"]).to_dict()["u1"]]
    assert {"i1", "i2"} <= set(items)
