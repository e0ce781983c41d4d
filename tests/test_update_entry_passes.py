"""The passes over every entry of a neighbour update: compiled and numpy give the same, and the update stays exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.cells as cells
import recframe.engine.entry_facts as entry_facts
import recframe.engine.search as search
import recframe.engine.transposes as transposes
import recframe.recommender.entry_passes as passes
from recframe import NeighbourGraph, Recommender
from recframe.recommender.delta_rows import lists_in_new_rows
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.testing import random_interactions

# one pytest-xdist worker runs them all: on a cold cache their kernels compile once, not on both workers
pytestmark = pytest.mark.xdist_group("update_entry_passes")


@pytest.fixture(params=["compiled", "numpy"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the compiled passes on every size, or numpy's on every size."""
    threshold = 0 if request.param == "compiled" else 1 << 62
    monkeypatch.setattr(passes, "COMPILED_ENTRIES", threshold)
    monkeypatch.setattr(search, "COMPILED_TOTALS", threshold)
    monkeypatch.setattr(transposes, "COMPILED_TRANSPOSE", threshold)  # the items' rows, the listers
    monkeypatch.setattr(cells, "COMPILED_MIN_ENTRIES", threshold)  # the matrix merge, the items' rows merge
    monkeypatch.setattr(entry_facts, "COMPILED_FACTS", threshold)  # the checks of the matrix, the items' totals
    return str(request.param)


def _random(seed: int) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    n, m = (int(v) for v in rng.integers(1, 50, size=2))
    return sp.csr_array(sp.random_array((n, m), density=float(rng.uniform(0.0, 0.5)), format="csr", rng=rng))


def test_lengths_by_hand(mode: str) -> None:
    x = sp.csr_array(np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 2.0]]))
    assert passes.row_lengths(x).tolist() == [5.0, 0.0, 2.0]


@pytest.mark.parametrize("seed", range(5))
def test_lengths_against_dense(mode: str, seed: int) -> None:
    x = _random(seed)
    np.testing.assert_allclose(passes.row_lengths(x), np.linalg.norm(x.toarray(), axis=1), rtol=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_renumbered_and_in_columns_against_numpy(mode: str, seed: int) -> None:
    x = _random(seed)
    rng = np.random.default_rng(seed)
    table = np.sort(rng.choice(3 * x.shape[1], size=x.shape[1], replace=False)).astype(np.int64)
    assert np.array_equal(passes.renumbered(x.indices, table, np.int32), table[x.indices])
    columns = rng.random(x.shape[1]) < 0.4
    picked = passes.in_columns(x, columns)
    assert picked.has_sorted_indices or picked.nnz == 0
    assert np.array_equal(picked.toarray(), x.toarray() * columns[None, :])
    assert picked.nnz == int(columns[x.indices].sum())


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_an_update_with_the_passes_equals_a_refit(mode: str, ranker: str) -> None:
    events = random_interactions(n_users=70, n_items=50, density=0.2, seed=3)
    config = {"similarity": {"type": "sparse", "k": 6, "update_slack": 6}, "ranker": {"type": ranker, "n": 5}}
    rec = Recommender.from_config(config).fit(events)
    rec.update({"user": [1, 5, 9001], "item": [2, 3, 4], "rating": [5.0, 1.0, 3.0], "timestamp": [2e9, 2e9, 2e9]})
    rec.forget(users=[7], items=[int(rec.interaction_matrix.items.ids[-1])])
    rest = rec._state().interactions
    refit = Recommender.from_config(config).fit(rest)
    assert (rec.interaction_matrix.matrix != refit.interaction_matrix.matrix).nnz == 0
    item_rows = rec._state().item_rows
    if item_rows is not None:  # merged from the cells (item-CF): the transpose, bit for bit
        expected = sp.csr_array(rec.interaction_matrix.matrix.T)
        expected.sort_indices()
        assert np.array_equal(item_rows.indices, expected.indices) and np.array_equal(item_rows.data, expected.data)
    a, b = rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_
    order_a = np.lexsort((a.indices, -a.scores), axis=1)
    order_b = np.lexsort((b.indices, -b.scores), axis=1)
    np.testing.assert_allclose(
        np.take_along_axis(a.scores, order_a, 1), np.take_along_axis(b.scores, order_b, 1), atol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.int64, np.float64, "U3"])  # the ids' and the values' dtypes, text ids
def test_joined_against_numpy(mode: str, dtype: object) -> None:
    rng = np.random.default_rng(11)
    first, second = rng.integers(0, 500, 1000).astype(dtype), rng.integers(0, 500, 37).astype(dtype)
    third = rng.integers(0, 500, 2000).astype(dtype)
    assert np.array_equal(passes.joined([first, second, third]), np.concatenate([first, second, third]))
    assert passes.joined([first, second[:0]]).tolist() == first.tolist()
    narrow = rng.integers(0, 500, 1500).astype(np.int32)  # converted to the result's dtype, as concatenate does
    if np.dtype(dtype).kind != "U":
        assert np.array_equal(passes.joined([first, narrow]), np.concatenate([first, narrow]))


@pytest.mark.parametrize("seed", range(4))
def test_in_table_against_isin(mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(-50, 400, 2000)
    ids = np.unique(rng.integers(0, 300, 20))
    assert np.array_equal(passes.in_table(values, ids), np.isin(values, ids))
    assert passes.in_table(np.array([5, 6, 7]), np.array([6])).tolist() == [False, True, False]


@pytest.mark.parametrize("scores_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(3))
def test_old_lists_by_new_row_against_numpy(mode: str, seed: int, scores_dtype: type[np.floating]) -> None:
    """Gone neighbours, padding and new rows: each row's old list in new positions, as brute force gives it."""
    rng = np.random.default_rng(seed)
    n_old, width = 40, 6
    indices = np.where(rng.random((n_old, width)) < 0.2, -1, rng.integers(0, n_old, (n_old, width)))
    scores = np.where(indices >= 0, rng.random((n_old, width)), 0.0).astype(scores_dtype)
    lists = NeighbourLists(NeighbourGraph(indices.astype(np.int64), scores, n_old), rng.random(n_old))
    row_map = np.where(rng.random(n_old) < 0.8, 0, -1)
    row_map[row_map >= 0] = np.sort(rng.choice(45, int((row_map >= 0).sum()), replace=False))
    old_rows = np.full(45, -1)
    old_rows[row_map[row_map >= 0]] = np.flatnonzero(row_map >= 0)
    listed, listed_scores, floors = lists_in_new_rows(lists, old_rows, row_map)
    for new, old in enumerate(old_rows.tolist()):
        row = [row_map[j] if old >= 0 and j >= 0 else -1 for j in (indices[old] if old >= 0 else [-1] * width)]
        assert listed[new].tolist() == row
        expected = [float(scores[old, c]) if row[c] >= 0 else 0.0 for c in range(width)]
        assert listed_scores[new].tolist() == expected
        assert floors[new] == (lists.floors[old] if old >= 0 else 0.0)
    assert (listed == -1).any() and (listed >= 0).any() and (old_rows < 0).any()


def test_old_lists_outside_their_rows_are_refused(mode: str) -> None:
    """A neighbour or an old row past the old lists: an IndexError either way, never a read outside them."""
    lists = NeighbourLists(
        NeighbourGraph(np.array([[1, -1], [5, 0]]), np.array([[0.5, 0.0], [0.4, 0.3]]), 2), np.zeros(2)
    )
    with pytest.raises(IndexError):
        lists_in_new_rows(lists, np.array([0, 1]), np.array([0, 1]))
    fine = NeighbourLists(
        NeighbourGraph(np.array([[1, -1], [0, -1]]), np.array([[0.5, 0.0], [0.4, 0.0]]), 2), np.zeros(2)
    )
    with pytest.raises(IndexError):
        lists_in_new_rows(fine, np.array([0, 2]), np.array([0, 1]))
    assert lists_in_new_rows(fine, np.array([1, -1, 0]), np.array([2, 0]))[0].tolist() == [[2, -1], [-1, -1], [0, -1]]


def test_old_lists_whose_rows_all_keep_their_place_are_the_lists_own(mode: str) -> None:
    """A forget of users keeps every item's row in place: the lists are given as they are, not renumbered."""
    indices = np.array([[1, 2], [0, -1], [1, 0]])
    scores = np.array([[0.9, 0.5], [0.7, 0.0], [0.6, 0.2]])
    lists = NeighbourLists(NeighbourGraph(indices, scores, 3), np.array([0.1, 0.0, 0.2]))
    same = np.arange(3)
    listed, listed_scores, floors = lists_in_new_rows(lists, same, same)
    assert listed is lists.graph.indices and listed_scores is lists.graph.scores and floors is lists.floors
    moved = lists_in_new_rows(lists, np.array([0, 1, 2, -1]), same)  # a new row: renumbered copies
    assert moved[0].tolist() == [[1, 2], [0, -1], [1, 0], [-1, -1]] and moved[0] is not lists.graph.indices
    indices.flags.writeable = False  # not what the kernel takes: copied, as before
    copied = lists_in_new_rows(lists, same, same)
    assert copied[0] is not indices and copied[0].tolist() == indices.tolist()
    assert copied[1].tolist() == scores.tolist() and copied[2].tolist() == [0.1, 0.0, 0.2]
