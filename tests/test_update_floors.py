"""A fit's floors: the similarity of the best neighbour not kept, so that a row's last listed one is certain.

A fit searches one neighbour more than each row keeps (``k + update_slack``); that one's
similarity is the row's floor. Before, the floor was the last kept similarity, which left that
neighbour uncertain: with the default ``update_slack: 0`` every row then held one certain
neighbour too few after any update, and nearly all were searched again (a 3-event add searched
1,046 of 1,200 rows).
"""

from __future__ import annotations

import numpy as np
import pytest

from recframe import Interactions, Recommender
from recframe.builtin.similarity import SparseSimilarity
from recframe.interfaces import NeighbourGraph
from recframe.recommender import graph_delta
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
    graph = NeighbourGraph(np.array([[1, 2], [0, -1], [1, 0]]), np.array([[0.9, 0.5], [0.8, 0.0], [0.4, 0.2]]), 10)
    lists = NeighbourLists.of(graph, 2)
    np.testing.assert_array_equal(lists.floors, [0.5, 0.0, 0.2])
    assert lists.graph is graph


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


def test_a_graph_with_a_column_for_every_other_row_has_floor_zero() -> None:
    """Four rows, three columns: a full row lists every other row, so nothing lies beyond it."""
    graph = NeighbourGraph(np.array([[1, 2, 3], [0, 2, -1]]), np.array([[0.9, 0.5, 0.1], [0.8, 0.4, 0.0]]), 4)
    np.testing.assert_array_equal(NeighbourLists.of(graph, 3).floors, [0.0, 0.0])
    np.testing.assert_array_equal(NeighbourLists.of(graph, 5).graph.indices, graph.indices)  # not padded


def test_a_graph_narrower_than_asked_bounds_full_rows_and_is_padded() -> None:
    """A backend that gave 2 neighbours where 4 were kept (of 10 rows): a full row's last one bounds the rest."""
    graph = NeighbourGraph(np.array([[1, 2], [0, -1]]), np.array([[0.9, 0.5], [0.8, 0.0]]), 10)
    lists = NeighbourLists.of(graph, 4)
    np.testing.assert_array_equal(lists.floors, [0.5, 0.0])
    np.testing.assert_array_equal(lists.graph.indices, [[1, 2, -1, -1], [0, -1, -1, -1]])
    np.testing.assert_array_equal(lists.graph.scores, [[0.9, 0.5, 0.0, 0.0], [0.8, 0.0, 0.0, 0.0]])


def test_a_graph_without_columns_is_padded_to_what_a_row_can_hold() -> None:
    """A plugin that left out every column of padding (no row has a neighbour): padded to `width`, floors 0."""
    empty = NeighbourGraph(np.zeros((2, 0), dtype=np.int64), np.zeros((2, 0)), 5)
    lists = NeighbourLists.of(empty, 2)
    np.testing.assert_array_equal(lists.graph.indices, [[-1, -1], [-1, -1]])
    np.testing.assert_array_equal(lists.floors, [0.0, 0.0])
    # never wider than the other rows (4 here), as an update keeps them: padded to 4, not to 6
    assert NeighbourLists.of(empty, 6).graph.indices.shape == (2, 4)


def test_a_plugin_that_leaves_out_padding_columns_updates_like_a_refit(monkeypatch: pytest.MonkeyPatch) -> None:
    """k 1; a forget takes every item's only co-rater: the rows searched again have no neighbour (0 columns)."""

    class Trimmed(SparseSimilarity):
        def neighbours(self, rows: object = None, k: int | None = None) -> NeighbourGraph:
            found = super().neighbours(rows, k)  # type: ignore[arg-type]
            used = int((found.indices >= 0).sum(axis=1).max(initial=0))
            return NeighbourGraph(found.indices[:, :used].copy(), found.scores[:, :used].copy(), found.n_targets)

    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 1e9)  # small data: keep the delta path
    # users 0 and 1 co-rate items 0-1 and 2-3; users 3-6 rate one item each
    events = Interactions(np.array([0, 0, 1, 1, 3, 4, 5, 6]), np.array([0, 1, 2, 3, 0, 1, 2, 3]), np.ones(8))
    rec = Recommender(similarity=Trimmed(k=1, engine="numba")).fit(events)
    rec.forget(users=[0, 1])
    assert rec.lineage[-1]["neighbours"]["items"]["rows_searched"] == 4
    refit = Recommender(similarity=SparseSimilarity(k=1)).fit(events.take(events.users >= 2))
    assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)  # type: ignore[attr-defined]


def test_the_memory_estimate_is_of_the_lists_kept_for_updates(monkeypatch: pytest.MonkeyPatch) -> None:
    """With update_slack the fit keeps k + slack + 1 neighbours a row: the preflight estimates that width."""
    asked: list[int] = []
    original = SparseSimilarity.estimate

    def spy(self: SparseSimilarity, rows: object, k: int | None = None) -> object:
        asked.append(int(k) if k is not None else -1)
        return original(self, rows, k=k)  # type: ignore[arg-type]

    monkeypatch.setattr(SparseSimilarity, "estimate", spy)
    rng = np.random.default_rng(2)
    config = {"similarity": {"type": "sparse", "k": 5, "update_slack": 7}, "ranker": {"type": "item_cf"}}
    Recommender.from_config(config).fit(_random(rng, 60, 40, 8))
    assert asked == [13]
    asked.clear()
    config["similarity"] = {"type": "sparse", "k": 5, "update_slack": 70}  # capped at the other 39 rows
    Recommender.from_config(config).fit(_random(rng, 60, 40, 8))
    assert asked == [39]
