"""``recframe.in_update()``: true while ``update`` and ``forget`` fit components again, never in a fit."""

from __future__ import annotations

from typing import Any

import numpy as np

from recframe import Recommender, in_update
from recframe.builtin.rankers import ItemCFRanker
from recframe.builtin.similarity.sparse import SparseSimilarity
from recframe.testing import random_interactions


class Recording(ItemCFRanker):
    """``item_cf`` noting, at each fit, whether it ran inside an update."""

    seen: list[bool]

    def fit(self, *args: Any, **kwargs: Any) -> Recording:
        type(self).seen.append(in_update())
        return super().fit(*args, **kwargs)


class RecordingSimilarity(SparseSimilarity):
    """``sparse`` noting, at each fit, whether it ran inside an update."""

    seen: list[bool]

    def fit(self, rows: Any) -> RecordingSimilarity:
        type(self).seen.append(in_update())
        return super().fit(rows)


def test_components_fitted_again_by_an_update_or_a_forget_see_it() -> None:
    Recording.seen, RecordingSimilarity.seen = [], []
    data = random_interactions(n_users=40, n_items=25, density=0.2, seed=3)
    rec = Recommender(similarity=RecordingSimilarity(k=4, measure="jaccard"), ranker=Recording(n=3)).fit(data)
    assert Recording.seen == [False] and set(RecordingSimilarity.seen) == {False}
    fitted_similarities = len(RecordingSimilarity.seen)
    rec.update({"user": [999], "item": [int(data.items[0])], "rating": [4.0], "timestamp": [1.7e9]})
    rec.forget(users=[999])
    assert Recording.seen == [False, True, True]
    assert len(RecordingSimilarity.seen) > fitted_similarities and all(RecordingSimilarity.seen[fitted_similarities:])
    assert not in_update()  # reset after each
    assert np.isfinite(rec.recommend(data.users[:3]).scores).any()
