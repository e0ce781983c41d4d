"""The update's cheaper passes give what the general ones give (issue 14's cost targets).

``update_lists`` numbers the old and new columns together without sorting a row again, and
hands the kernel only the entries that can add to its products; ``members`` looks integer ids
up in a table; the popularity ranker counts each item's users from the matrix's column indices.
Each is checked on a hand-computed example and against brute force on random data.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.builtin.rankers.popularity import PopularityRanker
from recframe.data import IdIndex, InteractionMatrix
from recframe.engine import transposes
from recframe.interfaces import NeighbourGraph
from recframe.recommender import graph_delta
from recframe.recommender.graph_delta import _common_columns, _in_columns, update_lists
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.recommender.update_inputs import TABLE_SPAN, members

# one pytest-xdist worker runs them all: on a cold cache their kernels compile once, not on both workers
pytestmark = pytest.mark.xdist_group("update_cost")


def test_union_columns_hand_example() -> None:
    """Old columns a b c d, new a c e (b and d gone, e added): the union is a b c d e, nothing re-sorted."""
    old = sp.csr_array(np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 5.0, 0.0, 6.0]]))
    new = sp.csr_array(np.array([[1.0, 3.0, 7.0], [0.0, 0.0, 8.0]]))
    column_map = np.array([0, -1, 1, -1])
    old_x, new_x, positions, _ = _common_columns(old, new, np.array([0, 1]), column_map)
    assert positions.tolist() == [0, 2, 4]
    np.testing.assert_array_equal(old_x.toarray(), [[1, 2, 3, 4, 0], [0, 5, 0, 6, 0]])
    np.testing.assert_array_equal(new_x.toarray(), [[1, 0, 3, 0, 7], [0, 0, 0, 0, 8]])
    assert old_x.has_sorted_indices and new_x.has_sorted_indices


def _random_rows(rng: np.random.Generator, n: int, m: int, density: float) -> sp.csr_array:
    dense = np.where(rng.random((n, m)) < density, rng.integers(1, 6, (n, m)).astype(np.float64), 0.0)
    dense[np.flatnonzero(~dense.any(axis=1)), 0] = 1.0  # every row has an entry
    return sp.csr_array(dense)


def _maps(rng: np.random.Generator, n_old: int, n_new_only: int, keep: float = 0.7) -> tuple[np.ndarray, int]:
    """Return an order-keeping map of `n_old` positions (some gone) into a new axis with `n_new_only` more."""
    old_ids = np.arange(0, 2 * n_old, 2)
    kept = old_ids[rng.random(n_old) < keep]
    new_ids = np.union1d(kept, rng.choice(np.arange(1, 2 * n_old + 20, 2), n_new_only, replace=False))
    found = np.searchsorted(new_ids, old_ids)
    hit = (found < len(new_ids)) & (new_ids[np.minimum(found, len(new_ids) - 1)] == old_ids)
    return np.where(hit, found, -1).astype(np.int64), len(new_ids)


@pytest.mark.parametrize("seed", range(4))
def test_union_columns_match_brute_force(seed: int) -> None:
    """Both sides keep their values in the union's columns, and every row stays sorted."""
    rng = np.random.default_rng(seed)
    column_map, m_new = _maps(rng, 15, 6)
    row_map, n_new = _maps(rng, 12, 3)
    old, new = _random_rows(rng, 12, 15, 0.4), _random_rows(rng, n_new, m_new, 0.4)
    old_x, new_x, positions, _ = _common_columns(old, new, row_map, column_map)
    m = old_x.shape[1]
    assert m == m_new + int((column_map < 0).sum())
    old_positions = np.full(len(column_map), -1)
    old_positions[column_map >= 0] = positions[column_map[column_map >= 0]]
    old_positions[column_map < 0] = np.setdiff1d(np.arange(m), positions)
    assert (np.diff(positions) > 0).all() and (np.diff(old_positions) > 0).all()  # both orders kept
    want_old = np.zeros((n_new, m))
    kept = row_map >= 0
    want_old[np.ix_(row_map[kept], old_positions)] = old.toarray()[kept]
    want_new = np.zeros((n_new, m))
    want_new[:, positions] = new.toarray()
    np.testing.assert_array_equal(old_x.toarray(), want_old)
    np.testing.assert_array_equal(new_x.toarray(), want_new)
    assert old_x.has_sorted_indices and new_x.has_sorted_indices


def test_in_columns_keeps_only_marked_columns_when_they_are_few() -> None:
    x = sp.csr_array(np.array([[1.0, 2.0, 0.0, 3.0], [0.0, 4.0, 5.0, 0.0], [6.0, 0.0, 0.0, 0.0]]))
    degree = np.bincount(x.indices, minlength=4).astype(np.float64)
    few = _in_columns(x, np.array([False, False, False, True]), degree)
    np.testing.assert_array_equal(few.toarray(), [[0, 0, 0, 3], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert _in_columns(x, np.array([True, True, False, False]), degree) is x  # most entries: x itself
    assert _in_columns(x, np.zeros(4, dtype=bool), degree).nnz == 0


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("rows_gone", [False, True])
@pytest.mark.parametrize("seed", range(8))
def test_in_columns_from_the_transpose_picks_the_same_entries(
    seed: int, rows_gone: bool, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows of the marked columns taken from the transpose: the same entries as a pass over `x`.

    With rows gone (a map from the old rows) or not (``rows`` is ``None``), and with the engine's
    compiled transpose (its counting sort) as well as scipy's.
    """
    monkeypatch.setattr(graph_delta, "TRANSPOSED_SHARE", 1.0)
    if compiled:
        monkeypatch.setattr(transposes, "COMPILED_TRANSPOSE", 0)
    rng = np.random.default_rng(seed)
    old = sp.csr_array(sp.random_array((30, 20), density=0.3, format="csr", rng=rng))
    row_map = np.where(rng.random(30) < 0.8, 0, -1) if rows_gone else np.zeros(30, dtype=np.int64)
    row_map[row_map >= 0] = np.arange(int((row_map >= 0).sum()))  # the kept rows keep their order
    n_new = int((row_map >= 0).sum())
    kept = row_map >= 0
    x = sp.csr_array(old[np.flatnonzero(kept)])  # the old rows in their new places
    positions = np.sort(rng.choice(26, size=20, replace=False))  # the union position of each column
    x = sp.csr_array((x.data, positions[x.indices], x.indptr), shape=(n_new, 26))
    columns = rng.random(26) < 0.3
    degree = np.bincount(x.indices, minlength=26).astype(np.float64)
    transposed = graph_delta._Transposed(sp.csr_array(old.T), positions, row_map if rows_gone else None)
    picked = _in_columns(x, columns, degree, transposed)
    expected = x.toarray() * columns[None, :]
    np.testing.assert_array_equal(picked.toarray(), expected)
    assert picked.nnz == int(columns[x.indices].sum()) and picked.has_sorted_indices


def test_in_columns_from_the_transpose_leaves_rows_it_lacks_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of `x` beyond the transpose's columns (new rows, no old entries) come out empty."""
    monkeypatch.setattr(graph_delta, "TRANSPOSED_SHARE", 1.0)
    old = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]))
    x = sp.csr_array((old.data, old.indices, np.r_[old.indptr, [old.nnz] * 2]), shape=(4, 3))
    transposed = graph_delta._Transposed(sp.csr_array(old.T), np.arange(3), None)
    columns = np.array([False, False, True])  # a third of the entries: taken from the transpose
    picked = _in_columns(x, columns, np.bincount(x.indices, minlength=3).astype(np.float64), transposed)
    np.testing.assert_array_equal(picked.toarray(), [[0, 0, 2], [0, 0, 0], [0, 0, 0], [0, 0, 0]])


def _cosine_search(x: sp.csr_array, rows: np.ndarray, width: int) -> NeighbourGraph:
    """Brute force: each row's `width` most similar other rows of positive cosine (ties by lower row)."""
    dense = x.toarray()
    lengths = np.linalg.norm(dense, axis=1)
    sims = (dense @ dense.T) / np.maximum(np.outer(lengths, lengths), 1e-300)
    np.fill_diagonal(sims, 0.0)
    sims = sims[rows]
    order = np.lexsort((np.broadcast_to(np.arange(x.shape[0]), sims.shape), -sims), axis=-1)[:, :width]
    scores = np.take_along_axis(sims, order, axis=1)
    indices = np.where(scores > 0, order, -1)
    return NeighbourGraph(indices.astype(np.int64), np.where(scores > 0, scores, 0.0), x.shape[0])


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("shrunk_work", [0.0, 0.005, 1.0])
@pytest.mark.parametrize("seed", range(3))
def test_update_lists_with_gone_and_added_columns_equals_a_search(
    seed: int, shrunk_work: float, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows and columns both gone and added at once (more than any one update does): a full search's lists."""
    monkeypatch.setattr(graph_delta, "SHRUNK_WORK", shrunk_work)
    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)  # never give up: the delta path is under test
    rng = np.random.default_rng(seed)
    n_old, m_old, k, width = 60, 50, 3, 25
    old = _random_rows(rng, n_old, m_old, 0.3)
    row_map, n_new = _maps(rng, n_old, 4, keep=0.95)
    column_map, m_new = _maps(rng, m_old, 3, keep=0.95)
    dense = old_in_new_positions(old, row_map, column_map, n_new, m_new)
    dense[rng.integers(0, n_new, 15), rng.integers(0, m_new, 15)] = rng.integers(1, 6, 15).astype(np.float64)
    new = sp.csr_array(dense)
    lists = NeighbourLists.of(_cosine_search(old, np.arange(n_old), width), width)
    result = update_lists(
        lists, old, new, row_map, column_map, "cosine", k, width, lambda r, w: _cosine_search(new, r, w), engine
    )
    assert not isinstance(result, str)
    assert result.merged > n_new // 2  # most rows come from the update, not from a search
    got = result.lists.served(k)
    want = _cosine_search(new, np.arange(n_new), k)
    np.testing.assert_allclose(got.scores, want.scores, atol=1e-9)
    for row in range(n_new):  # the same neighbours, except among those tied with the k-th
        cut = want.scores[row, -1] + 1e-9
        assert set(got.indices[row][got.scores[row] > cut]) == set(want.indices[row][want.scores[row] > cut])


def test_the_compiled_update_on_many_slices_of_rows_equals_a_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows updated in slices on a pool's threads, each slice with accumulators of its own: a full search's lists."""
    from recframe.recommender import delta_rows

    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)
    ran: list[tuple[int, int]] = []
    real = delta_rows.run_in_slices

    def spied(kernel, arguments, n_rows, threads, desc, **kwargs):  # type: ignore[no-untyped-def]
        def recorded(start: int, stop: int, *rest: object) -> None:
            ran.append((start, stop))
            kernel(start, stop, *rest)

        real(recorded, arguments, n_rows, 2, desc, **kwargs)

    monkeypatch.setattr(delta_rows, "run_in_slices", spied)
    rng = np.random.default_rng(5)
    n_old, m, k, width = 400, 120, 4, 12
    old = _random_rows(rng, n_old, m, 0.05)
    row_map, n_new = _maps(rng, n_old, 20, keep=0.97)
    dense = old_in_new_positions(old, row_map, np.arange(m), n_new, m)
    dense[rng.integers(0, n_new, 60), rng.integers(0, m, 60)] = rng.integers(1, 6, 60).astype(np.float64)
    new = sp.csr_array(dense)
    lists = NeighbourLists.of(_cosine_search(old, np.arange(n_old), width), width)
    result = update_lists(
        lists, old, new, row_map, np.arange(m), "cosine", k, width, lambda r, w: _cosine_search(new, r, w), "numba"
    )
    assert not isinstance(result, str)
    assert len(ran) > 4 and sorted(ran)[0][0] == 0 and sum(stop - start for start, stop in ran) == n_new
    got, want = result.lists.served(k), _cosine_search(new, np.arange(n_new), k)
    np.testing.assert_allclose(got.scores, want.scores, atol=1e-9)
    for row in range(n_new):
        cut = want.scores[row, -1] + 1e-9
        assert set(got.indices[row][got.scores[row] > cut]) == set(want.indices[row][want.scores[row] > cut])


@pytest.mark.parametrize("seed", range(3))
def test_update_lists_sorts_few_candidates_and_heaps_many_alike(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows of few certain candidates are sorted in place, rows of many go through a heap: both give a search's lists.

    With two neighbours kept (three candidates needed), a new row's candidates are every row it
    shares a column with, far more than the kernel sorts in place; an old row's are about its
    old neighbours.
    """
    from recframe.engine._compiled.delta import SORTED_AT_MOST

    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)
    rng = np.random.default_rng(seed)
    n_old, m, k, width = 40, 30, 2, 2
    old = _random_rows(rng, n_old, m, 0.3)
    row_map, n_new = _maps(rng, n_old, 3, keep=1.0)
    dense = old_in_new_positions(old, row_map, np.arange(m), n_new, m)
    new_rows = np.setdiff1d(np.arange(n_new), row_map)
    dense[new_rows] = _random_rows(rng, len(new_rows), m, 0.5).toarray()
    dense[rng.integers(0, n_new, 10), rng.integers(0, m, 10)] = 2.0
    new = sp.csr_array(dense)
    reached = (new.toarray()[new_rows] @ new.toarray().T > 0).sum(axis=1) - 1
    assert reached.max() > SORTED_AT_MOST * (width + 1)  # a heap's row, so both ways are taken
    lists = NeighbourLists.of(_cosine_search(old, np.arange(n_old), width), width)
    result = update_lists(
        lists, old, new, row_map, np.arange(m), "cosine", k, width, lambda r, w: _cosine_search(new, r, w), "numba"
    )
    assert not isinstance(result, str)
    got, want = result.lists.served(k), _cosine_search(new, np.arange(n_new), k)
    np.testing.assert_allclose(got.scores, want.scores, atol=1e-9)
    for row in range(n_new):
        cut = want.scores[row, -1] + 1e-9
        assert set(got.indices[row][got.scores[row] > cut]) == set(want.indices[row][want.scores[row] > cut])


def test_sort_best_first_orders_by_score_then_lower_column() -> None:
    """The in-place sort puts the best first, ties by lower column, as draining a heap does."""
    from recframe.engine._compiled.heaps import _sort_best_first

    values = np.array([0.5, 0.9, 0.5, 0.1, 0.9, 0.7])
    columns = np.array([4, 7, 2, 9, 3, 5], dtype=np.int64)
    assert _sort_best_first(values, columns, 5, 100)  # the last entry is left where it is
    np.testing.assert_array_equal(values, [0.9, 0.9, 0.5, 0.5, 0.1, 0.7])
    np.testing.assert_array_equal(columns, [3, 7, 2, 4, 9, 5])
    rng = np.random.default_rng(0)
    values = rng.integers(0, 5, 300).astype(np.float64)
    columns = rng.permutation(300).astype(np.int64)
    order = np.lexsort((columns, -values))
    want_values, want_columns = values[order], columns[order]
    assert _sort_best_first(values, columns, 300, 300 * 300)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(columns, want_columns)


def test_sort_best_first_gives_way_past_its_budget_leaving_a_permutation() -> None:
    """Entries far out of order stop the sort at its budget; what is left holds every entry once."""
    from recframe.engine._compiled.heaps import _sort_best_first

    values = np.arange(50, dtype=np.float64)  # worst first: every entry moves to the front
    columns = np.arange(50, dtype=np.int64)
    assert not _sort_best_first(values, columns, 50, 8 * 50)
    assert sorted(columns.tolist()) == list(range(50)) and np.array_equal(values, columns.astype(np.float64))
    nearly = np.r_[np.arange(50, 0, -1), 25.5].astype(np.float64)  # in order but for the last entry
    assert _sort_best_first(nearly, np.arange(51, dtype=np.int64), 51, 8 * 51)


@pytest.mark.parametrize("seed", range(20))
def test_sorting_keeps_what_the_heap_keeps(seed: int) -> None:
    """Sorted in place and cut, or kept in a bounded heap and drained: the same entries in the same order."""
    from recframe.engine._compiled.heaps import _drain_best_first, _keep, _sort_best_first

    rng = np.random.default_rng(seed)
    size, capacity = int(rng.integers(0, 60)), int(rng.integers(1, 30))
    values = rng.integers(0, 6, size).astype(np.float64) / 5  # many ties
    columns = rng.permutation(200)[:size].astype(np.int64)
    heap_v, heap_j = np.empty(capacity), np.empty(capacity, dtype=np.int64)
    kept = 0
    for t in range(size):
        kept = _keep(heap_v, heap_j, kept, capacity, values[t], columns[t])
    drained_v, drained_j = np.empty(kept), np.empty(kept, dtype=np.int64)
    _drain_best_first(heap_v, heap_j, kept, drained_v, drained_j)
    sorted_v, sorted_j = values.copy(), columns.copy()
    assert _sort_best_first(sorted_v, sorted_j, size, size * size)
    np.testing.assert_array_equal(sorted_v[:kept], drained_v)
    np.testing.assert_array_equal(sorted_j[:kept], drained_j)


def old_in_new_positions(
    old: sp.csr_array, row_map: np.ndarray, column_map: np.ndarray, n_new: int, m_new: int
) -> np.ndarray:
    """Return the old values that survive, placed at their new positions (dense)."""
    dense = np.zeros((n_new, m_new))
    rows, columns = row_map >= 0, column_map >= 0
    dense[np.ix_(row_map[rows], column_map[columns])] = old.toarray()[np.ix_(rows, columns)]
    return dense


@pytest.mark.parametrize("seed", range(3))
def test_members_table_equals_binary_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(-50, 50, 500)
    wanted = np.unique(rng.integers(-50, 50, 20))
    np.testing.assert_array_equal(members(values, wanted), np.isin(values, wanted))
    wide = np.array([-3, TABLE_SPAN * 4])  # too wide a span for a table: binary search
    np.testing.assert_array_equal(members(np.array([-3, 0, TABLE_SPAN * 4]), wide), [True, False, True])
    text = np.array(["a", "c"])
    np.testing.assert_array_equal(members(np.array(["a", "b", "c"]), text), [True, False, True])


def test_popularity_counts_each_items_users() -> None:
    matrix = sp.csr_array(np.array([[1.0, 0.0, 2.0], [3.0, 0.0, 0.0], [4.0, 0.0, 5.0]]))
    ranker = PopularityRanker(PopularityRanker.Config())
    ranker.fit(InteractionMatrix(matrix, IdIndex(np.arange(3)), IdIndex(np.arange(3))), None)
    assert ranker.popularity_ is not None
    np.testing.assert_array_equal(ranker.popularity_, [3.0, 0.0, 2.0])


@pytest.mark.parametrize("batch", [1, 3, 256])
@pytest.mark.parametrize("seed", range(4))
def test_most_shrunk_in_batches_equals_one_sum_of_every_cost(
    seed: int, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The costs summed batch by batch choose the rows one sum over every shrinking row chooses."""
    monkeypatch.setattr(graph_delta, "SHRUNK_BATCH", batch)
    rng = np.random.default_rng(seed)
    rows = _random_rows(rng, 80, 40, 0.3)
    degree = np.bincount(rows.indices, minlength=40).astype(np.float64)
    grown = 1.0 + np.where(rng.random(80) < 0.3, 0.02 * rng.random(80), rng.random(80))  # some barely
    ratio = np.where(rng.random(80) < 0.6, grown, 1.0 - 0.5 * rng.random(80))
    is_new = rng.random(80) < 0.1
    full = float((degree**2).sum())
    for share in (0.0, 0.01, 0.05, 0.3, 10.0):  # none, some, many and every shrinking row afforded
        monkeypatch.setattr(graph_delta, "SHRUNK_WORK", share)
        chosen, left = graph_delta._most_shrunk(ratio, is_new, rows, degree, full)
        shrinking = np.flatnonzero(~is_new & (ratio > 1.0))
        order = shrinking[np.argsort(-ratio[shrinking], kind="stable")]
        worth = order[ratio[order] > graph_delta.SHRUNK_RATIO]
        afforded = int(np.searchsorted(np.cumsum((rows @ degree)[worth]), share * full, side="right"))
        assert chosen.tolist() == sorted(worth[:afforded].tolist())
        assert left == (max(float(ratio[order[afforded]]), 1.0) if afforded < len(order) else 1.0)
        if share == 10.0:
            assert len(chosen) == len(worth) > 20  # more than a batch of 1 or 3
            assert len(worth) < len(shrinking) and left <= graph_delta.SHRUNK_RATIO  # some shrank too little


def test_rows_shrunk_too_little_get_no_exact_similarities() -> None:
    """Below SHRUNK_RATIO a row is left to the growth bound whatever the budget; above it, it is computed."""
    rows = sp.csr_array(np.eye(4))
    degree, is_new = np.ones(4), np.zeros(4, dtype=bool)
    chosen, left = graph_delta._most_shrunk(np.array([1.01, 1.5, 1.0, 1.019]), is_new, rows, degree, 1e9)
    assert chosen.tolist() == [1] and left == 1.019
    chosen, left = graph_delta._most_shrunk(np.array([1.01, 1.001, 0.9, 1.0]), is_new, rows, degree, 1e9)
    assert chosen.tolist() == [] and left == 1.01


@pytest.mark.parametrize("column_degree", [10, 3])
def test_bounds_at_or_above_the_kth_are_resolved_all_or_none(column_degree: int) -> None:
    """A row's bounds at or above its k-th exact similarity get exact dot products together, or none does.

    Row 0 = (1, 1, 0, 0, 0) has one exact candidate (row 1, 0.5; k = 1) and three bounds: row 2
    (0.6, two entries), row 3 (0.55, four) and row 4 (0.3, below the k-th). Row 0's columns
    have ``column_degree`` entries each, so a search of it reads twice that. At 10 a search reads
    20 and the two bounds 6: both are resolved, exactly (row 2: 2 / (sqrt 2 sqrt 2) = 1; row 3:
    1 / (sqrt 2 * 2)), and 0.3 is left. At 3 a search reads 6, which the two bounds' 6 passes
    half of: none is resolved (the row will be searched again), and the highest bound, 0.6, is
    left. The rule this replaced resolved the highest first while within half a search: row 2
    alone here (2 entries), whose 1.0 passes the 0.55 left, so that row would have settled. That
    is rare in real updates, where such rows mostly went on to be searched again anyway.
    """
    from recframe.engine._compiled.delta_steps import NEW_LENGTH, _resolve_bounds

    xn = sp.csr_array(
        np.array(
            [
                [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                [1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 1.0, 1.0, 1.0, 0.0],
                [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            ]
        )
    )
    degrees = np.array([column_degree, column_degree, 1, 1, 1, 1])
    xnt_indptr = np.r_[0, np.cumsum(degrees)].astype(np.int64)
    row_info = np.zeros((5, 4))
    row_info[:, NEW_LENGTH] = np.sqrt(xn.multiply(xn).sum(axis=1))
    cand_j, cand_v = np.full(8, -1, dtype=np.int64), np.zeros(8)
    cand_j[0], cand_v[0] = 1, 0.5
    bound_j, bound_v = np.array([3, 2, 4], dtype=np.int64), np.array([0.55, 0.6, 0.3])
    dense, present = np.zeros(7), np.zeros(1, dtype=np.uint64)  # a slot per column and a zero one; a bitmap
    held_v, held_j = np.empty(5), np.empty(5, dtype=np.int64)
    n_cand, left, n_suspects, _ = _resolve_bounds(
        0, 3, 0, 0.1, 1, 0.1, 1, np.empty(2), np.empty(2, dtype=np.int64), bound_j, bound_v, cand_j, cand_v, dense,
        present, False, xn.indptr.astype(np.int64), xn.indices.astype(np.int64), xn.data, xnt_indptr, row_info,
        held_v, held_j, 0,
    )  # fmt: skip
    if column_degree == 10:
        assert (n_cand, left, n_suspects) == (3, 0.3, 0)
        assert dict(zip(cand_j[1:3].tolist(), cand_v[1:3].tolist(), strict=True)) == pytest.approx(
            {3: 1.0 / (np.sqrt(2.0) * 2.0), 2: 1.0}
        )
    else:
        assert (n_cand, left, n_suspects) == (1, 0.6, -1)
        assert cand_j[1:].tolist() == [-1] * 7


def test_bounds_below_the_kth_are_kept_as_suspects_up_to_their_number() -> None:
    """The bounds below the k-th exact similarity: the highest ones stay suspects, the next one is left.

    Row 0 has one exact candidate (0.9, k = 1) and five bounds below it, with none to resolve.
    With room for two suspects, rows 5 (0.8) and 2 (0.7) stay and 0.6 is left (the floor);
    with room for five, all stay (in no order), and nothing is left but the given floor (0.1).
    """
    from recframe.engine._compiled.delta_steps import _resolve_bounds

    xn = sp.csr_array(np.eye(6))
    row_info = np.ones((6, 4))
    cand_j, cand_v = np.full(8, -1, dtype=np.int64), np.zeros(8)
    cand_j[0], cand_v[0] = 1, 0.9
    every = [(5, 0.8), (2, 0.7), (3, 0.6), (4, 0.5), (0, 0.2)]
    for room, left, kept in [(2, 0.6, every[:2]), (5, 0.1, every)]:
        held_v, held_j = np.array([0.5, 0.8, 0.6, 0.2, 0.7, 0.0]), np.array([4, 5, 3, 0, 2, -1], dtype=np.int64)
        result = _resolve_bounds(
            0, 0, 5, 0.1, 1, 0.1, 1, np.empty(2), np.empty(2, dtype=np.int64), np.empty(1, dtype=np.int64),
            np.empty(1), cand_j, cand_v, np.zeros(7), np.zeros(1, dtype=np.uint64), False, xn.indptr.astype(np.int64),
            xn.indices.astype(np.int64), xn.data, xn.indptr.astype(np.int64), row_info, held_v, held_j, room,
        )  # fmt: skip
        assert result[:3] == (1, left, len(kept))
        assert sorted(zip(held_j[: len(kept)].tolist(), held_v[: len(kept)].tolist(), strict=True)) == sorted(kept)


@pytest.mark.parametrize("seed", range(6))
def test_exact_dot_products_read_through_the_bitmap_equal_numpy(seed: int) -> None:
    """Exact dot products of rows over 200 columns (several bitmap words) against numpy, bit for bit.

    Row ``i`` is scattered once and dotted with every row (itself, empty rows and rows sharing
    no column included), then taken out again: `dense` and its bitmap are all zero after.
    """
    from recframe.engine._compiled.delta_steps import _clear_row, _exact_dot

    rng = np.random.default_rng(seed)
    x = sp.random_array((12, 200), density=0.1, rng=rng, format="csr")
    x = sp.csr_array(x.multiply(rng.integers(-2, 3, x.shape)))  # some zeros stored-then-dropped, negatives
    x.eliminate_zeros()
    x.sort_indices()
    indptr, indices = x.indptr.astype(np.int64), x.indices.astype(np.int32)
    dense, present = np.zeros(201), np.zeros(4, dtype=np.uint64)
    for i in range(x.shape[0]):
        row_i = x[[i]].toarray().ravel()
        for j in range(x.shape[0]):
            dot = _exact_dot(i, j, dense, present, j > 0, indptr, indices, x.data)
            expected = 0.0
            for p in range(indptr[j], indptr[j + 1]):  # numpy's products, summed in the kernel's order
                expected += row_i[indices[p]] * x.data[p]
            assert dot == expected
            assert dot == pytest.approx(float(row_i @ x[[j]].toarray().ravel()))
        _clear_row(i, dense, present, indptr, indices)
        assert not dense.any() and not present.any()


@pytest.mark.parametrize("seed", range(20))
def test_compact_keeps_what_is_above_the_rank_th_highest(seed: int) -> None:
    """The quickselect under the suspects' compaction against a sort, with ties and every rank."""
    from recframe.engine._compiled.delta_steps import _compact

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    values = rng.integers(0, 40, n) / 8.0 if seed % 2 else rng.random(n)  # many ties on odd seeds
    for rank in sorted({1, n, int(rng.integers(1, n + 1))}):
        held_v, held_j = values.copy(), np.arange(n, dtype=np.int64)
        kept, threshold = _compact(held_v, held_j, n, rank)
        expected = np.sort(values)[::-1][rank - 1]
        assert threshold == expected
        assert sorted(held_j[:kept].tolist()) == np.flatnonzero(values > expected).tolist()
        assert np.array_equal(held_v[:kept], values[held_j[:kept]])


@pytest.mark.parametrize("threads", [1, None])
def test_an_update_runs_on_the_similaritys_threads(threads: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """``similarity.threads`` bounds an update's compiled passes and kernel as it bounds the fit's search."""
    from recframe import Recommender
    from recframe.engine import dispatch
    from recframe.recommender import delta_rows

    asked: list[int | None] = []
    real_slices, real_threads = delta_rows.run_in_slices, dispatch.numba_threads

    def slices(kernel, arguments, n_rows, threads, desc, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(threads)
        real_slices(kernel, arguments, n_rows, threads, desc, **kwargs)

    def numba_threads(threads):  # type: ignore[no-untyped-def]
        asked.append(threads)
        return real_threads(threads)

    monkeypatch.setattr(delta_rows, "run_in_slices", slices)
    monkeypatch.setattr(delta_rows, "numba_threads", numba_threads)
    rng = np.random.default_rng(3)
    similarity = {"type": "sparse", "k": 5, "engine": "numba", "threads": threads}
    rec = Recommender.from_config({"similarity": similarity, "ranker": {"type": "item_cf"}})
    rec.fit({"user": rng.integers(0, 300, 3000), "item": rng.integers(0, 200, 3000)})
    asked.clear()
    rec.update({"user": rng.integers(0, 320, 60), "item": rng.integers(0, 210, 60)})
    assert rec.lineage[-1]["neighbours"]["items"]["mode"] == "delta"
    assert len(asked) >= 3 and set(asked) == {threads}  # the kernel, the lists by new row, their packing
