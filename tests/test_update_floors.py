"""A fit's floors: the similarity of the best neighbour not kept, so that a row's last listed one is certain.

A fit searches one neighbour more than each row keeps (``k + update_slack``); that one's
similarity is the row's floor. Before, the floor was the last kept similarity, which left that
neighbour uncertain: with the default ``update_slack: 0`` every row then held one certain
neighbour too few after any update, and nearly all were searched again (a 3-event add searched
1,046 of 1,200 rows).
"""

from __future__ import annotations

import numpy as np

from recframe import Interactions, Recommender
from recframe.interfaces import NeighbourGraph
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.testing import assert_same_neighbours


def test_floor_is_the_next_neighbours_similarity_hand_example() -> None:
    """Width 2 of a search of 3: row 0 keeps 0.9 and 0.5 above its floor 0.3; row 1 lists every positive row."""
    graph = NeighbourGraph(
        np.array([[3, 1, 2], [0, 2, -1], [1, 0, 3], [2, -1, -1]]),
        np.array([[0.9, 0.5, 0.3], [0.8, 0.4, 0.0], [0.7, 0.7, 0.7], [0.6, 0.0, 0.0]]),
        4,
    )
    lists = NeighbourLists.of(graph, 2)
    np.testing.assert_array_equal(lists.floors, [0.3, 0.0, 0.7, 0.0])  # row 2: a tie, its second not certain
    np.testing.assert_array_equal(lists.graph.indices, [[3, 1], [0, 2], [1, 0], [2, -1]])
    np.testing.assert_array_equal(lists.graph.scores, [[0.9, 0.5], [0.8, 0.4], [0.7, 0.7], [0.6, 0.0]])
    assert lists.graph.indices.flags.c_contiguous and lists.graph.scores.flags.c_contiguous


def test_a_graph_as_wide_as_kept_takes_the_last_listed_as_floor() -> None:
    """A backend that gave only `width` columns: a full row's last similarity bounds the others (as before)."""
    graph = NeighbourGraph(np.array([[1, 2], [0, -1], [1, 0]]), np.array([[0.9, 0.5], [0.8, 0.0], [0.4, 0.2]]), 3)
    lists = NeighbourLists.of(graph, 2)
    np.testing.assert_array_equal(lists.floors, [0.5, 0.0, 0.2])
    assert lists.graph is graph
    narrow = NeighbourGraph(np.array([[1], [0]]), np.array([[0.9], [0.9]]), 2)  # fewer columns than the width
    np.testing.assert_array_equal(NeighbourLists.of(narrow, 2).floors, [0.0, 0.0])


def _random(rng: np.random.Generator, n_users: int, n_items: int, per_user: int, first: int = 0) -> Interactions:
    users = np.repeat(np.arange(first, first + n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    return Interactions(users, items, rng.integers(1, 6, len(users)).astype(np.float64))


def test_a_small_update_without_slack_settles_most_rows_and_stays_exact() -> None:
    """``update_slack: 0`` (the default): a new user of three items leaves most of 800 rows settled."""
    rng = np.random.default_rng(11)
    base = _random(rng, 400, 800, 30)
    config = {"matrix": {"type": "ratings"}, "similarity": {"type": "sparse", "k": 10}, "ranker": {"type": "item_cf"}}
    rec = Recommender.from_config(config).fit(base)
    lists = rec._state().lists["items"]
    assert (lists.floors < lists.graph.scores[:, -1]).mean() > 0.9  # the last listed is certain in most rows
    added = Interactions(np.array([400, 400, 400]), np.array([5, 17, 333]), np.array([5.0, 3.0, 4.0]))
    rec.update(added)
    searched = rec.lineage[-1]["neighbours"]["items"]["rows_searched"]
    assert searched < 0.1 * 800, searched
    refit = Recommender.from_config(config).fit(Interactions.concat(base, added))
    assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)  # type: ignore[attr-defined]
