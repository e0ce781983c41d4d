"""The neighbour search split into blocks of pairs: each pair once, the serial search's lists bit for bit."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import NeighbourGraph, PluginError, Recommender, SupportsPairBlocks
from recframe.builtin.executors import LocalExecutor
from recframe.engine import (
    check_transpose,
    merge_offers,
    numba_available,
    pair_bounds,
    pair_offers,
    top_k_neighbours,
)
from recframe.recommender.blocks import search_blocks
from recframe.testing import random_interactions

# one pytest-xdist worker runs them all: on a cold cache their kernels compile once, not on both workers
pytestmark = [
    pytest.mark.skipif(not numba_available(), reason="needs numba"),
    pytest.mark.xdist_group("pair_blocks"),
]


@pytest.fixture(autouse=True)
def _pairs_on_small_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """Search by pairs however rarely the small test rows meet a pair (see ``pairs_met_often``)."""
    from recframe.engine import products

    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)


TINY = sp.csr_array(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]]))
"""Dot products: (0,1) 1, (0,2) 1, (0,3) 2, (1,2) 1, (1,3) 2, (2,3) 2."""


def long_tailed(rng: np.random.Generator, n_rows: int = 150, n_columns: int = 90, dtype=np.float64) -> sp.csr_array:
    """Rows of log-normal lengths (some empty) over power-law popular columns, values in quarters (ties)."""
    lengths = np.clip(rng.lognormal(1.3, 1.1, n_rows).astype(int), 0, n_columns)
    weights = 1.0 / (np.arange(n_columns) + 2.0)
    picked = [rng.choice(n_columns, size, replace=False, p=weights / weights.sum()) for size in lengths]
    rows = np.repeat(np.arange(n_rows), lengths)
    values = (rng.integers(1, 5, len(rows)) / 4).astype(dtype)
    return sp.csr_array(sp.coo_array((values, (rows, np.concatenate(picked))), shape=(n_rows, n_columns)).tocsr())


def brute_force(x: sp.csr_array, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k largest positive entries of X @ X.T off the diagonal, ties by lower row."""
    dense = x.astype(np.float64).toarray()
    gram = dense @ dense.T
    np.fill_diagonal(gram, 0.0)
    columns, scores = np.full((len(gram), k), -1), np.zeros((len(gram), k))
    for i, row in enumerate(gram):
        best = [j for j in np.lexsort((np.arange(len(row)), -row))[:k] if row[j] > 0]
        columns[i, : len(best)], scores[i, : len(best)] = best, row[best]
    return columns, scores


def by_pairs(
    x: sp.csr_array, k: int, n_blocks: int, shuffle: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The engine's pair search of `x`, its blocks merged in block order or shuffled."""
    x = sp.csr_array(x, dtype=np.float64)
    t = sp.csr_array(x.T)
    t.sort_indices()
    bounds = pair_bounds(x, t, n_blocks)
    width = min(k, x.shape[0] - 1)
    columns, scores = np.full((x.shape[0], width), -1, dtype=np.int64), np.zeros((x.shape[0], width))
    for number in np.arange(len(bounds)) if shuffle is None else shuffle.permutation(len(bounds)):
        start, stop = bounds[number]
        merge_offers(columns, scores, *pair_offers(x, t, start, stop, width, threads=2), start)
    return columns, scores


def test_the_bounds_the_offers_and_the_merge_of_a_hand_checked_example():
    t = sp.csr_array(TINY.T)
    # work: multiply-adds of the pairs below [4, 3, 2, 0] plus the accumulator read back [3, 2, 1, 0]
    assert pair_bounds(TINY, t, 1) == [(0, 4)]
    assert pair_bounds(TINY, t, 2) == [(0, 2), (2, 4)]  # cumulative 7 12 15 15: half is 7.5
    assert pair_bounds(TINY, t, 3) == [(0, 1), (1, 2), (2, 4)]
    assert pair_bounds(TINY, t, 50) == [(0, 1), (1, 2), (2, 3), (3, 4)]  # no more than rows
    assert pair_bounds(TINY, t, 2, k=2, max_memory_mb=0) == []  # 4 x 2 x 13 bytes of heaps: too many
    first = pair_offers(TINY, t, 0, 2, 2)  # pairs (0, 1..3) and (1, 2..3), for rows 0..3
    assert first[0].tolist() == [[3, 1], [3, 0], [0, 1], [0, 1]]
    assert first[1].tolist() == [[2, 1], [2, 1], [1, 1], [2, 2]]
    second = pair_offers(TINY, t, 2, 4, 2)  # pair (2, 3) only, for rows 2..3
    assert second[0].tolist() == [[3, -1], [2, -1]]
    assert second[1].tolist() == [[2, 0], [2, 0]]
    columns, scores = np.full((4, 2), -1, dtype=np.int64), np.zeros((4, 2))
    merge_offers(columns, scores, *second, 2)
    merge_offers(columns, scores, *first, 0)
    assert columns.tolist() == [[3, 1], [3, 0], [3, 0], [0, 1]]  # row 3: three ties at 2, the lower rows
    assert scores.tolist() == [[2, 1], [2, 1], [2, 1], [2, 2]]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 6, 400])
def test_any_blocks_in_any_order_give_the_serial_lists_bit_for_bit(monkeypatch, rng, dtype, k):
    from recframe.engine import products

    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)  # the serial search by pairs too
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)
    x = long_tailed(rng, dtype=dtype)
    want = top_k_neighbours(sp.csr_array(x, dtype=np.float64), min(k, x.shape[0] - 1), engine="numba")
    np.testing.assert_array_equal(want[0], brute_force(x, min(k, x.shape[0] - 1))[0])
    for n_blocks in (1, 2, 7, 1000):
        for columns, scores in (by_pairs(x, k, n_blocks), by_pairs(x, k, n_blocks, rng)):
            np.testing.assert_array_equal(columns, want[0])
            np.testing.assert_array_equal(scores, want[1])


def test_the_numpy_merge_equals_the_compiled_one(rng):
    x = long_tailed(rng)
    t = sp.csr_array(x.T)
    merged = {}
    for engine in ("numba", "scipy"):
        columns, scores = np.full((x.shape[0], 5), -1, dtype=np.int64), np.zeros((x.shape[0], 5))
        for start, stop in pair_bounds(x, t, 4):
            offered = pair_offers(x, t, start, stop, 5)
            merge_offers(columns, scores, *offered, start, engine=engine)
        merged[engine] = columns, scores
    np.testing.assert_array_equal(merged["scipy"][0], merged["numba"][0])
    np.testing.assert_array_equal(merged["scipy"][1], merged["numba"][1])


def test_wrong_inputs_are_refused_with_what_to_give():
    t = sp.csr_array(TINY.T)
    with pytest.raises(ValueError, match=r"the block \[3, 5\) is not a range of the 4 rows"):
        pair_offers(TINY, t, 3, 5, 2)
    with pytest.raises(ValueError, match="n_blocks must be 1 or more"):
        pair_bounds(TINY, t, 0)
    with pytest.raises(ValueError, match=r"norms must hold one value per row \(4\)"):
        pair_offers(TINY, t, 0, 2, 2, norms=np.ones(3))
    with pytest.raises(ValueError, match="transposed is not the transpose of x"):
        check_transpose(TINY, sp.csr_array(TINY.T * 2.0))
    with pytest.raises(ValueError, match="transposed is not the transpose of x"):
        pair_offers(TINY, sp.csr_array(TINY.T * 2.0), 0, 2, 2)
    with pytest.raises(ValueError, match="merge_offers needs writable int64 columns"):
        merge_offers(np.full((2, 2), -1), np.zeros((2, 2)), np.zeros((3, 2), dtype=np.int64), np.zeros((3, 2)))


def _backend(config: dict[str, object], rows: sp.csr_array):
    return type(Recommender.from_config({"similarity": {"type": "sparse"}}).similarity)(**config).fit(rows)


@pytest.mark.parametrize(
    "config",
    [
        {"measure": "cosine", "k": 5},
        {"measure": "dot", "k": 3},
        {"measure": "cosine", "k": 500, "normalise": "l1"},
        {"measure": "dot", "k": 4, "normalise": "l1", "threads": 1},
    ],
)
def test_the_executor_search_by_pairs_equals_the_backend_search(rng, config):
    x = long_tailed(rng, dtype=np.float32)
    assert np.diff(x.indptr).min() == 0  # empty rows too
    executor = LocalExecutor(workers=2, block_rows=9)
    for rows in (x, sp.csr_array(x.T)):  # both orientations: user rows and item rows
        backend = _backend(config, rows)
        assert isinstance(backend, SupportsPairBlocks)
        n = rows.shape[0]
        want = backend.neighbours()
        got = search_blocks(executor, backend, n, None, "similarity 'sparse'", "executor 'local'")
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.scores, want.scores)
        assert len(backend.pair_blocks(4)) == 4
        shipped = pickle.loads(pickle.dumps(backend))  # what Ray sends: the blocks check the transpose again
        np.testing.assert_array_equal(shipped.pair_offers(0, n // 2).indices, backend.pair_offers(0, n // 2).indices)


@pytest.mark.parametrize(
    "config",
    [{"measure": "jaccard"}, {"measure": "cosine", "shrinkage": 5.0}, {"measure": "p3alpha"}, {"engine": "scipy"}],
)
def test_a_search_that_is_not_by_pairs_offers_no_pair_blocks(rng, config):
    assert _backend(config, long_tailed(rng)).pair_blocks(4) == []


def test_without_pair_blocks_the_rows_are_searched_in_blocks_as_before(rng):
    calls: list[object] = []
    base = type(_backend({}, TINY))

    class NoPairs(base):  # type: ignore[misc, valid-type]
        def pair_blocks(self, n_blocks, k=None):  # type: ignore[no-untyped-def]
            return []

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            calls.append(rows)
            return super().neighbours(rows, k)

    x = long_tailed(rng)
    backend = NoPairs(k=4).fit(x)
    got = search_blocks(
        LocalExecutor(workers=2, block_rows=40), backend, x.shape[0], None, "similarity 'sparse'", "executor 'local'"
    )
    assert sorted(len(rows) for rows in calls) == [30, 40, 40, 40]
    np.testing.assert_array_equal(got.indices, backend.neighbours().indices)


def test_malformed_pair_blocks_are_named_errors(rng):
    base = type(_backend({}, TINY))

    class Gaps(base):  # type: ignore[misc, valid-type]
        def pair_blocks(self, n_blocks, k=None):  # type: ignore[no-untyped-def]
            return [(0, 2), (3, 4)]

    class Ragged(base):  # type: ignore[misc, valid-type]
        def pair_offers(self, start, stop, k=None):  # type: ignore[no-untyped-def]
            graph = super().pair_offers(start, stop, k)
            width = 2 if start else 3
            return NeighbourGraph(graph.indices[:, :width], graph.scores[:, :width], graph.n_targets)

    executor = LocalExecutor(workers=2, block_rows=2)
    with pytest.raises(
        PluginError, match=r"similarity 'x' returned pair blocks \[\(0, 2\), \(3, 4\)\]; expected conse"
    ):
        search_blocks(executor, Gaps(k=3).fit(TINY), 4, None, "similarity 'x'", "executor 'local'")
    with pytest.raises(
        PluginError, match=r"similarity 'x' returned pair offers 2 wide for block 1, 3 wide for block 0"
    ):
        search_blocks(executor, Ragged(k=3).fit(TINY), 4, None, "similarity 'x'", "executor 'local'")


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_a_fit_on_two_workers_equals_the_serial_fit(monkeypatch, ranker):
    from recframe.builtin.similarity import sparse

    offered: list[tuple[int, int]] = []
    search = sparse.pair_offers

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        offered.append(args[2:4])
        return search(*args, **kwargs)

    monkeypatch.setattr(sparse, "pair_offers", spy)
    data = random_interactions(n_users=90, n_items=50, density=0.15, seed=3)
    config = {"similarity": {"type": "sparse", "k": 6}, "ranker": {"type": ranker, "n": 5}}
    one = Recommender.from_config(config).fit(data)
    assert not offered
    many = Recommender.from_config({**config, "executor": {"type": "local", "workers": 2, "block_rows": 8}}).fit(data)
    axis = one.fitted_ranker.neighbour_axis
    assert axis is not None
    n_rows = 90 if axis == "users" else 50
    assert sorted(offered)[0][0] == 0 and sorted(offered)[-1][1] == n_rows and len(offered) > 2
    for name in ("indices", "scores"):
        np.testing.assert_array_equal(
            getattr(many._state().graphs[axis], name), getattr(one._state().graphs[axis], name)
        )
    a, b = one.recommend_all(), many.recommend_all()
    np.testing.assert_array_equal(b.ids, a.ids)
    np.testing.assert_array_equal(b.scores, a.scores)


def test_the_module_example_runs():
    import doctest

    from recframe.engine import pairs

    result = doctest.testmod(pairs)
    assert result.attempted > 0 and result.failed == 0


def test_rows_that_meet_pairs_rarely_are_spread_in_blocks_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # short rows over many columns meet most pairs once: the pairs' two heaps cost more than a
    # second product (see products.SYMMETRIC_MIN_PAIR_WORK), so the executor searches row blocks
    from recframe.builtin.similarity import sparse
    from recframe.engine import pairs_met_often, products

    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 7.0)
    offered = []
    monkeypatch.setattr(sparse, "pair_offers", lambda *a, **kw: offered.append(a))
    data = random_interactions(n_users=300, n_items=400, density=0.01, seed=4)
    config = {"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "user_cf", "n": 5}}
    one = Recommender.from_config(config).fit(data)
    users = one.interaction_matrix.matrix
    assert not pairs_met_often(users)
    assert _backend({}, users).pair_blocks(3) == []
    many = Recommender.from_config({**config, "executor": {"type": "local", "workers": 2, "block_rows": 50}}).fit(data)
    assert not offered  # blocks of query rows, not of pairs
    for name in ("indices", "scores"):
        np.testing.assert_array_equal(
            getattr(many._state().graphs["users"], name), getattr(one._state().graphs["users"], name)
        )
