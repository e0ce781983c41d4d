"""The passes over every entry of a neighbour update: compiled and numpy give the same, and the update stays exact."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.cells as cells
import recframe.engine.search as search
import recframe.engine.transposes as transposes
import recframe.recommender.entry_passes as passes
from recframe import Recommender
from recframe.testing import random_interactions


@pytest.fixture(params=["compiled", "numpy"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the compiled passes on every size, or numpy's on every size."""
    threshold = 0 if request.param == "compiled" else 1 << 62
    monkeypatch.setattr(passes, "COMPILED_ENTRIES", threshold)
    monkeypatch.setattr(search, "COMPILED_TOTALS", threshold)
    monkeypatch.setattr(transposes, "COMPILED_TRANSPOSE", threshold)  # the items' rows, the listers
    monkeypatch.setattr(cells, "COMPILED_MIN_ENTRIES", threshold)  # the matrix merge, the items' rows merge
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
    assert np.array_equal(passes.joined(first, second), np.concatenate([first, second]))
    assert passes.joined(first, second[:0]).tolist() == first.tolist()


@pytest.mark.parametrize("seed", range(4))
def test_in_table_against_isin(mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(-50, 400, 2000)
    ids = np.unique(rng.integers(0, 300, 20))
    assert np.array_equal(passes.in_table(values, ids), np.isin(values, ids))
    assert passes.in_table(np.array([5, 6, 7]), np.array([6])).tolist() == [False, True, False]
