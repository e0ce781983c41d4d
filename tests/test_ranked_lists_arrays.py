"""RankedLists as arrays: external ids, scores, mask and lengths of every list, without a Python loop."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import IdIndex, RankedLists, Recommender, TopN
from recframe.builtin.rankers import ItemCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.registry import builtin_registry
from recframe.testing import random_interactions


def test_a_hand_checked_example():
    index = IdIndex([10, 20, 30, 40])  # rows 0..3
    ranked = TopN(
        np.array([[2, 0, -1], [-1, -1, -1], [3, 1, 0]]), np.array([[0.9, 0.5, np.nan], [np.nan] * 3, [3, 2, 1]])
    )
    lists = RankedLists(np.array(["a", "b", "c"]), ranked, index, np.array(["item_cf", "", "popularity"]))
    assert lists.ids.dtype == index.ids.dtype
    np.testing.assert_array_equal(lists.ids, [[30, 10, 0], [0, 0, 0], [40, 20, 10]])
    np.testing.assert_array_equal(lists.mask, [[True, True, False], [False] * 3, [True] * 3])
    np.testing.assert_array_equal(lists.lengths, [2, 0, 3])
    np.testing.assert_array_equal(lists.scores, [[0.9, 0.5, np.nan], [np.nan] * 3, [3.0, 2.0, 1.0]])
    assert lists.scores.dtype == np.float64
    np.testing.assert_array_equal(lists.ids[lists.mask], [30, 10, 40, 20, 10])


def test_string_ids_pad_with_the_empty_string():
    index = IdIndex(["x", "y"])
    lists = RankedLists(np.array([1]), TopN(np.array([[1, -1]]), np.array([[1.0, np.nan]])), index, np.array(["p"]))
    assert lists.ids.dtype.kind == "U"
    assert lists.ids.tolist() == [["y", ""]]


@pytest.mark.parametrize("string_ids", [False, True])
def test_the_arrays_agree_with_to_dict_on_random_data(string_ids):
    data = random_interactions(60, 40, density=0.08, seed=5, string_ids=string_ids)
    rec = Recommender(similarity=SklearnNNSimilarity(k=2), ranker=ItemCFRanker(n=12), fallback=None).fit(data)
    users = rec.interaction_matrix.users.ids
    lists = rec.recommend(users)
    assert lists.ids.shape == lists.scores.shape == lists.mask.shape == (len(users), 12)
    assert not lists.mask.all()  # some lists are padded
    expected = lists.to_dict()
    for position, query in enumerate(lists.queries.tolist()):
        length = int(lists.lengths[position])
        assert not lists.mask[position, length:].any() and lists.mask[position, :length].all()
        got = list(zip(lists.ids[position, :length].tolist(), lists.scores[position, :length].tolist(), strict=True))
        assert got == expected[query]
        assert np.isnan(lists.scores[position, length:]).all()


def test_similar_items_have_the_arrays_too():
    rec = Recommender.from_config(
        {"data": {"type": "synthetic", "n_users": 80, "n_items": 30}}, registry=builtin_registry()
    )
    lists = rec.fit().similar_items(rec.interaction_matrix.items.ids[:5], n=4)
    for query, ids, scores in lists:
        position = lists.queries.tolist().index(query)
        assert lists.ids[position][lists.mask[position]].tolist() == ids
        assert lists.scores[position][lists.mask[position]].tolist() == scores
