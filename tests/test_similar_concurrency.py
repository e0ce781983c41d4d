"""A similar-items query asking more than the graph holds searches its rows without holding others up."""

from __future__ import annotations

import threading
from typing import Any

from recframe import Recommender
from recframe.builtin.similarity.sparse import SparseSimilarity
from recframe.testing import random_interactions


class Held(SparseSimilarity):
    """``sparse``, whose searches of a few rows wait until the test lets them go."""

    started = threading.Event()
    release = threading.Event()

    def neighbours(self, rows: Any = None, k: int | None = None) -> Any:
        if rows is not None and len(rows) < 5:
            type(self).started.set()
            type(self).release.wait(30)
        return super().neighbours(rows, k)


def test_a_deep_similar_query_does_not_block_a_shallow_one() -> None:
    """The search of a query wanting more than the graph's k ran under the recommender's lock (found by a review)."""
    rec = Recommender(similarity=Held(k=3), ranker=None).fit(random_interactions(n_users=40, n_items=30, seed=2))
    item = int(rec.interaction_matrix.items.ids[0])
    rec.similar_items([item], n=2)  # the graph, built once
    deep = threading.Thread(target=rec.similar_items, args=([item],), kwargs={"n": 20})
    deep.start()
    try:
        assert Held.started.wait(30)
        answered: list[object] = []
        shallow = threading.Thread(target=lambda: answered.append(rec.similar_items([item], n=2)))
        shallow.start()
        shallow.join(10)
        assert answered, "the shallow query waited for the deep one's search"
    finally:
        Held.release.set()
        deep.join(30)
