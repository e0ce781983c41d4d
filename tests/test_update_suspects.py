"""Suspects: the pairs an update could neither rule out nor afford to compute, kept with their bounds.

After each of a chain of updates the neighbour lists must keep their contract, checked against
every pair's similarity computed densely: listed similarities are exact, every suspect's bound
is at least its similarity and above the floor, every other pair is at most the floor, and the
best ``k`` served equal a full search's. The suspects must also do what they are for: a second
update searches fewer rows again than it does with none kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, Recommender
from recframe.interfaces import NeighbourGraph
from recframe.recommender import graph_delta
from recframe.recommender.graph_delta import DeltaUpdate, update_lists
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.testing import assert_same_neighbours, random_interactions

TOLERANCE = 1e-9


def _similarities(x: sp.csr_array) -> np.ndarray:
    dense = x.toarray()
    lengths = np.linalg.norm(dense, axis=1)
    sims = (dense @ dense.T) / np.maximum(np.outer(lengths, lengths), 1e-300)
    np.fill_diagonal(sims, 0.0)
    return sims


def _search(x: sp.csr_array, rows: np.ndarray, width: int) -> NeighbourGraph:
    """Brute force: each row's `width` most similar other rows of positive cosine (ties by lower row)."""
    sims = _similarities(x)[rows]
    order = np.lexsort((np.broadcast_to(np.arange(x.shape[0]), sims.shape), -sims), axis=-1)[:, :width]
    scores = np.take_along_axis(sims, order, axis=1)
    indices = np.where(scores > 0, order, -1)
    return NeighbourGraph(indices.astype(np.int64), np.where(scores > 0, scores, 0.0), x.shape[0])


def _skewed_rows(rng: np.random.Generator, n: int, m: int, entries: int) -> np.ndarray:
    """Long-tailed rows and columns (a few popular ones, many rare), ratings 1 to 5."""
    row_weight, column_weight = 1.0 / np.arange(1, n + 1) ** 0.8, 1.0 / np.arange(1, m + 1) ** 0.8
    rows = rng.choice(n, entries, p=row_weight / row_weight.sum())
    columns = rng.choice(m, entries, p=column_weight / column_weight.sum())
    dense = np.zeros((n, m))
    dense[rows, columns] = rng.integers(1, 6, entries)
    dense[np.flatnonzero(~dense.any(axis=1)), 0] = 1.0
    return dense


def _added(rng: np.random.Generator, dense: np.ndarray, new_rows: int, entries: int) -> np.ndarray:
    """`dense` with `new_rows` more rows and `entries` entries set (new ones, and changed ones, some lower)."""
    grown = np.vstack([dense, _skewed_rows(rng, new_rows, dense.shape[1], 4 * new_rows)]) if new_rows else dense.copy()
    weight = 1.0 / np.arange(1, grown.shape[0] + 1) ** 0.5
    rows = rng.choice(grown.shape[0], entries, p=weight / weight.sum())
    grown[rows, rng.integers(0, grown.shape[1], entries)] = rng.integers(1, 6, entries)
    return grown


def _check_contract(lists: NeighbourLists, x: sp.csr_array, k: int) -> None:
    """The lists' contract, against every pair's similarity."""
    sims = _similarities(x)
    n = x.shape[0]
    graph, floors = lists.graph, lists.floors
    suspects = lists.suspects.rows if lists.suspects is not None else np.full((n, 0), -1)
    bounds = lists.suspects.bounds if lists.suspects is not None else np.zeros((n, 0))
    for row in range(n):
        listed = graph.indices[row][graph.indices[row] >= 0]
        np.testing.assert_allclose(graph.scores[row][: len(listed)], sims[row, listed], atol=TOLERANCE)
        held = suspects[row] >= 0
        assert not np.isin(suspects[row][held], listed).any()
        assert (bounds[row][held] >= sims[row, suspects[row][held]] - TOLERANCE).all()
        assert (bounds[row][held] > floors[row]).all()
        others = np.setdiff1d(np.arange(n), np.r_[listed, suspects[row][held], row])
        assert (sims[row, others] <= floors[row] + TOLERANCE).all()
    served, want = lists.served(k), _search(x, np.arange(n), k)
    np.testing.assert_allclose(served.scores, want.scores, atol=TOLERANCE)
    for row in range(n):  # the same neighbours, except among those tied with the k-th
        cut = want.scores[row, -1] + TOLERANCE
        assert set(served.indices[row][served.scores[row] > cut]) == set(want.indices[row][want.scores[row] > cut])


def _chain(seed: int, engine: str, suspects_kept: int | None, steps: int) -> tuple[list[DeltaUpdate], int, np.ndarray]:
    """Apply `steps` updates in a row, checking the contract after each.

    Returns the updates, the most suspects any state held, and the last rows.
    """
    rng = np.random.default_rng(seed)
    n, m, k, width = 70, 40, 3, 9
    dense = _skewed_rows(rng, n, m, 500)
    x = sp.csr_array(dense)
    lists = NeighbourLists.of(_search(x, np.arange(n), width), width)
    updates, most = [], 0
    for _ in range(steps):
        grown = _added(rng, dense, int(rng.integers(0, 3)), 25)
        new = sp.csr_array(grown)
        row_map = np.arange(dense.shape[0], dtype=np.int64)
        result = update_lists(
            lists,
            x,
            new,
            row_map,
            np.arange(m, dtype=np.int64),
            "cosine",
            k,
            width,
            lambda r, w, new=new: _search(new, r, w),
            engine,
            suspects_kept=suspects_kept,
        )
        assert isinstance(result, DeltaUpdate)
        _check_contract(result.lists, new, k)
        if result.lists.suspects is not None:
            most = max(most, int((result.lists.suspects.rows >= 0).sum()))
        updates.append(result)
        lists, x, dense = result.lists, new, grown
    return updates, most, dense


@pytest.mark.parametrize("suspects_kept", [None, 0, 2])
@pytest.mark.parametrize("seed", range(6))
def test_chained_updates_keep_the_lists_contract(seed: int, suspects_kept: int | None, monkeypatch) -> None:
    """Six updates in a row, with the slack's suspects, none, or two per row: every state is exact."""
    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)  # never give up: the delta path is under test
    _, most, _ = _chain(seed, "numba", suspects_kept, 6)
    if suspects_kept == 0:
        assert most == 0
    else:
        assert most > 0  # the suspects were used


@pytest.mark.parametrize("seed", range(3))
def test_the_scipy_blocks_fold_the_suspects_into_the_floors(seed: int, monkeypatch) -> None:
    """Lists with suspects (from the compiled kernel) updated by the scipy blocks: exact, and no suspects after."""
    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)
    updates, most, dense = _chain(seed, "numba", None, 2)
    assert most > 0
    lists = updates[-1].lists
    (n, m), k, width = dense.shape, 3, 9
    x = sp.csr_array(dense)
    new = sp.csr_array(_added(np.random.default_rng(seed + 100), dense, 1, 25))
    result = update_lists(
        lists,
        x,
        new,
        np.arange(n, dtype=np.int64),
        np.arange(m, dtype=np.int64),
        "cosine",
        k,
        width,
        lambda r, w: _search(new, r, w),
        "scipy",
    )
    assert isinstance(result, DeltaUpdate) and result.lists.suspects is None
    _check_contract(result.lists, new, k)


def test_suspects_leave_fewer_rows_to_search_in_the_next_update(monkeypatch) -> None:
    """Over three updates in a row, keeping suspects searches fewer rows again than folding them into the floors."""
    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)
    with_suspects = [u.searched for seed in range(4) for u in _chain(seed, "numba", None, 3)[0][1:]]
    without = [u.searched for seed in range(4) for u in _chain(seed, "numba", 0, 3)[0][1:]]
    assert sum(with_suspects) < sum(without)


def _model_lists(rec: Recommender) -> NeighbourLists:
    return rec._fitted.lists["items"]  # type: ignore[union-attr]


def test_suspects_are_saved_and_loaded_and_updates_go_on_alike(tmp_path: Path) -> None:
    """A model with suspects, saved and loaded, updates and forgets as the live one does, as a refit answers."""
    events = random_interactions(200, 60, 0.08, seed=3)
    config = {
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": 3, "engine": "numba", "update_slack": 6},
        "ranker": {"type": "item_cf", "n": 5},
    }
    rec = Recommender.from_config(config).fit(events)
    rng = np.random.default_rng(0)
    for step in range(2):
        users = rng.integers(0, 260, 120)
        rec.update(
            Interactions(users, rng.integers(0, 60, 120), rng.integers(1, 6, 120).astype(float), [1.8e9 + step] * 120)
        )
    suspects = _model_lists(rec).suspects
    assert suspects is not None and (suspects.rows >= 0).any()
    loaded = Recommender.load(rec.save(tmp_path / "m"))
    kept = _model_lists(loaded)
    assert kept.suspects is not None
    np.testing.assert_array_equal(kept.suspects.rows, suspects.rows)
    np.testing.assert_array_equal(kept.suspects.bounds, suspects.bounds)
    more = Interactions(
        rng.integers(0, 260, 80), rng.integers(0, 60, 80), rng.integers(1, 6, 80).astype(float), [1.9e9] * 80
    )
    rec.update(more)
    loaded.update(more)
    assert loaded.lineage[-1]["neighbours"] == rec.lineage[-1]["neighbours"]
    gone = rec.interaction_matrix.users.ids[:5].tolist()  # the items' rows shrink: suspects of kept rows
    rec.forget(users=gone)
    loaded.forget(users=gone)
    assert loaded.lineage[-1]["neighbours"] == rec.lineage[-1]["neighbours"]
    live, restored = _model_lists(rec), _model_lists(loaded)
    assert live.suspects is not None and restored.suspects is not None
    for a, b in (
        (live.graph.indices, restored.graph.indices),
        (live.graph.scores, restored.graph.scores),
        (live.floors, restored.floors),
        (live.suspects.rows, restored.suspects.rows),
        (live.suspects.bounds, restored.suspects.bounds),
    ):
        np.testing.assert_array_equal(a, b)
    refit = Recommender.from_config(config).fit(rec._fitted.interactions)  # type: ignore[union-attr]
    for model in (rec, loaded):
        assert_same_neighbours(model._fitted.graphs["items"], refit._fitted.graphs["items"])  # type: ignore[union-attr]


def test_bounds_all_cut_away_while_they_come_still_raise_the_floor() -> None:
    """A row whose held bounds are all cut away (100 tied ones) keeps them under its floor: the next update is exact.

    User 0 gains item 7, then item 20: after the first, the 100 users who have items 0, 1, 7 and
    20-22 tie as user 0's bounds, more than a row holds at once; the cut drops them all (ties with
    the cut go), and the floor must rise to them, or the second update misses them.
    """
    rows = [{0, 1}] * 3 + [{0, 1, 5, 6}] * 2 + [{0, 1, 7, 20, 21, 22}] * 100
    users = [r for r, items in enumerate(rows) for _ in items]
    items = [i for row in rows for i in sorted(row)]
    events = Interactions(users, items, np.ones(len(users)), np.full(len(users), 1.7e9))
    config = {
        "matrix": {"type": "binary"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": 2, "engine": "numba", "update_slack": 2},
        "ranker": {"type": "user_cf", "n": 5},
    }
    rec = Recommender.from_config(config).fit(events)
    for step, item in enumerate([7, 20]):
        rec.update(Interactions([0], [item], [1.0], [1.8e9 + step]))
        refit = Recommender.from_config(config).fit(rec._fitted.interactions)  # type: ignore[union-attr]
        assert_same_neighbours(rec._fitted.graphs["users"], refit._fitted.graphs["users"])  # type: ignore[union-attr]
        _check_contract(rec._fitted.lists["users"], rec._fitted.matrix.matrix, 2)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("rows", "bounds", "says"),
    [
        ([[1, 1], [0, -1], [0, 1]], [[0.5, 0.4], [0.5, 0.0], [0.3, 0.2]], "holds a row twice"),
        ([[0, -1], [0, -1], [0, 1]], [[0.5, 0.0], [0.5, 0.0], [0.3, 0.2]], "suspecting itself"),
        ([[1, 2, -1], [0, 2, -1], [0, 1, -1]], [[0.5, 0.4, 0.0]] * 3, "more than the other rows"),
        ([[1, -1], [0, -1], [0, 1]], [[np.inf, 0.0], [0.5, 0.0], [0.3, 0.2]], "an infinity"),
        ([[1, -1], [0, -1], [0, 3]], [[0.5, 0.0], [0.5, 0.0], [0.3, 0.2]], "outside -1..2"),
    ],
)
def test_saved_suspects_the_kernel_could_not_take_are_refused(rows: list, bounds: list, says: str) -> None:
    """Suspects repeated, of the row itself, wider than the other rows, infinite or out of range: a named error."""
    from recframe.errors import PluginError
    from recframe.recommender.persistence import _suspects

    state = {
        "lists.items.suspects.rows": np.array(rows, dtype=np.int64),
        "lists.items.suspects.bounds": np.array(bounds, dtype=np.float64),
    }
    with pytest.raises(PluginError, match=r"lists\.items\.suspects") as caught:
        _suspects(state, "items", 3)
    assert says in str(caught.value)
    fine = {
        "lists.items.suspects.rows": np.array([[1, -1], [0, 2], [-1, -1]]),
        "lists.items.suspects.bounds": np.ones((3, 2)),
    }
    assert _suspects(fine, "items", 3) is not None
