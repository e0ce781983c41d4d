"""The sparse backend's plain cosine and dot on the caller's rows: no normalised copy, a given transpose kept.

Cosine is each raw product times the two rows' inverse L2 norms, in every path (the symmetric
kernel, blocks of pairs, blocks of query rows, queries of fitted rows), so all of them give the
same bits; the transpose a caller holds is checked and kept instead of copied; a model saved
with L2-normalised rows (before raw rows) still loads and answers the same.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Recommender, SupportsTransposedFit, csr_state
from recframe.builtin.rankers import ItemCFRanker
from recframe.builtin.similarity import SparseSimilarity
from recframe.engine import freeze, merge_offers, numba_available, row_totals
from recframe.testing import random_interactions

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")

HAND = sp.csr_array(np.array([[1.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 3.0, 4.0], [0.0, 0.0, 0.0]]))
"""Norms sqrt 5, sqrt 5, 5, 0; products (0, 1) 2, (0, 2) 6, (1, 2) 4; row 3 has no neighbours."""


@pytest.fixture(autouse=True)
def _symmetric_on_small_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from recframe.engine import products

    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)  # the pair kernel on small data too
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)


def long_tailed(rng: np.random.Generator, lossless: bool, n_rows: int = 120, n_columns: int = 70) -> sp.csr_array:
    """Rows of log-normal lengths (some empty) over power-law popular columns; half-star or arbitrary values."""
    lengths = np.clip(rng.lognormal(1.3, 1.1, n_rows).astype(int), 0, n_columns)
    weights = 1.0 / (np.arange(n_columns) + 2.0)
    picked = [rng.choice(n_columns, size, replace=False, p=weights / weights.sum()) for size in lengths]
    rows = np.repeat(np.arange(n_rows), lengths)
    values = rng.integers(1, 11, len(rows)) / 2 if lossless else rng.random(len(rows)) + 0.1
    return sp.csr_array(sp.coo_array((values, (rows, np.concatenate(picked))), shape=(n_rows, n_columns)).tocsr())


def cosines(x: sp.csr_array) -> np.ndarray:
    """The float64 cosine of every pair of rows (0 for a row of norm 0), the diagonal 0."""
    dense = x.toarray()
    norms = np.linalg.norm(dense, axis=1)
    inverse = np.divide(1.0, norms, out=np.zeros(len(norms)), where=norms > 0)
    gram = dense @ dense.T * np.outer(inverse, inverse)
    np.fill_diagonal(gram, 0.0)
    return gram


def check_against(gram: np.ndarray, indices: np.ndarray, scores: np.ndarray, k: int) -> None:
    """Each kept score is its pair's cosine to 1e-12, and each row keeps its k best positive cosines."""
    for i, row in enumerate(gram):
        best = np.sort(row[row > 0])[::-1][:k]
        kept = indices[i][indices[i] >= 0]
        np.testing.assert_allclose(scores[i, : len(kept)], row[kept], rtol=1e-12, atol=0)
        np.testing.assert_allclose(scores[i, : len(kept)], best, rtol=1e-12, atol=0)


def test_the_hand_computed_cosines():
    for backend in (SparseSimilarity(k=2).fit(HAND), SparseSimilarity(k=2).fit_transposed(HAND, sp.csr_array(HAND.T))):
        graph = backend.neighbours()
        assert graph.indices.tolist() == [[2, 1], [0, 2], [0, 1], [-1, -1]]
        want = [[6 / 5 / 5**0.5, 2 / 5], [2 / 5, 4 / 5 / 5**0.5], [6 / 5 / 5**0.5, 4 / 5 / 5**0.5], [0.0, 0.0]]
        np.testing.assert_allclose(graph.scores, want, rtol=1e-15)
        assert backend.neighbours(np.array([3, 0])).indices.tolist() == [[-1, -1], [2, 1]]
        dot = SparseSimilarity(k=2, measure="dot").fit(HAND).neighbours()
        assert dot.indices.tolist() == [[2, 1], [2, 0], [0, 1], [-1, -1]]  # the raw products 6 2, 4 2, 6 4
        assert dot.scores.tolist() == [[6.0, 2.0], [4.0, 2.0], [6.0, 4.0], [0.0, 0.0]]


@pytest.mark.parametrize("lossless", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_random_rows_against_brute_force_and_every_path_bit_for_bit(rng, lossless, threads):
    x = long_tailed(rng, lossless)
    k = 6
    gram = cosines(x)
    backends = {
        "made": SparseSimilarity(k=k, threads=threads).fit(x),
        "given": SparseSimilarity(k=k, threads=threads).fit_transposed(x, sp.csr_array(x.T)),
    }
    # the transpose made here holds float32 values exactly when they are equal
    assert backends["made"]._transposed.data.dtype == (np.float32 if lossless else np.float64)
    want = backends["made"].neighbours()
    check_against(gram, want.indices, want.scores, k)
    n = x.shape[0]
    for backend in backends.values():
        graphs = [backend.neighbours()]
        graphs.append(backend.neighbours(np.arange(n)))  # by query rows: each pair from both sides
        blocks = [backend.neighbours(np.arange(start, min(n, start + 17))) for start in range(0, n, 17)]
        graphs.append(type(want)(np.vstack([b.indices for b in blocks]), np.vstack([b.scores for b in blocks]), n))
        columns, scores = np.full((n, k), -1, dtype=np.int64), np.zeros((n, k))
        for start, stop in backend.pair_blocks(5):
            offered = backend.pair_offers(start, stop)
            merge_offers(columns, scores, offered.indices, offered.scores, start)
        graphs.append(backend.finish_pairs(type(want)(columns, scores, n)))
        for graph in graphs:
            np.testing.assert_array_equal(graph.indices, want.indices)
            np.testing.assert_array_equal(graph.scores, want.scores)
        # a fitted row as a query: its own score first (about 1), then its neighbours, the same bits
        asked = backend.query(x[:30], k=k + 1)
        for i in range(30):
            others = asked.indices[i] != i
            if np.diff(x.indptr)[i]:
                assert asked.indices[i, 0] == i or asked.scores[i, 0] == asked.scores[i][~others][0]
            kept = want.indices[i] >= 0
            np.testing.assert_array_equal(asked.indices[i][others][: kept.sum()], want.indices[i][kept])
            np.testing.assert_array_equal(asked.scores[i][others][: kept.sum()], want.scores[i][kept])
    scipy = SparseSimilarity(k=k, engine="scipy").fit(x).neighbours()
    check_against(gram, scipy.indices, scipy.scores, k)


@pytest.mark.parametrize("compiled", [True, False])
def test_the_rows_are_kept_not_copied_and_a_wrong_transpose_is_refused_by_name(rng, monkeypatch, compiled):
    from recframe.builtin.similarity import sparse_rows

    # the compiled check from COMPILED_CHECK entries on, a comparison with a transpose made here below
    monkeypatch.setattr(sparse_rows, "COMPILED_CHECK", 0 if compiled else 1 << 40)
    x = long_tailed(rng, lossless=True)
    t = sp.csr_array(x.T)
    backend = SparseSimilarity(k=3).fit_transposed(x, t)
    assert isinstance(backend, SupportsTransposedFit)
    assert np.shares_memory(backend.rows_.data, x.data) and np.shares_memory(backend._transposed.data, t.data)
    assert not x.data.flags.writeable  # handed over: read-only now
    other = long_tailed(np.random.default_rng(7), lossless=True)
    changed = sp.csr_array(x.T, copy=True)
    changed.data[len(changed.data) // 2] += 1.0
    for wrong, match in (
        (sp.csr_array(x), r"transposed has shape \(120, 70\); expected \(70, 120\)"),
        (sp.csr_array(other.T), "transposed is not the transpose of"),
        (changed, "transposed is not the transpose of"),
    ):
        with pytest.raises(ValueError, match=match):
            SparseSimilarity(k=3).fit_transposed(x, wrong)


def old_state(backend: SparseSimilarity) -> dict[str, object]:
    """What the backend saved before raw rows: L2-normalised rows and transpose, no ``raw_rows``."""
    rows = sp.csr_array(backend.rows_, dtype=np.float64, copy=True)
    norms, _ = row_totals(rows)
    rows.data /= np.repeat(norms, np.diff(rows.indptr))
    transposed = sp.csr_array(rows.T)
    transposed.sort_indices()
    totals = row_totals(rows)
    return {**csr_state("rows", rows), **csr_state("transposed", transposed), "norms": totals[0], "counts": totals[1]}


def test_a_model_saved_with_normalised_rows_loads_and_answers_the_same(rng):
    x = long_tailed(rng, lossless=False)
    fresh = SparseSimilarity(k=5).fit(x)
    state = fresh.get_state()
    assert "raw_rows" in state
    loaded = SparseSimilarity(k=5)
    loaded.set_state(state)
    for got, want in ((loaded.neighbours(), fresh.neighbours()), (loaded.query(x[:9]), fresh.query(x[:9]))):
        np.testing.assert_array_equal(got.indices, want.indices)
        np.testing.assert_array_equal(got.scores, want.scores)
    old = SparseSimilarity(k=5)
    old.set_state(old_state(fresh))
    assert "raw_rows" not in old.get_state()  # it stays what it was
    # the same lists but for the order of rounded ties (rows of one entry in one column, say)
    check_against(cosines(x), old.neighbours().indices, old.neighbours().scores, 5)
    got, want = old.query(x[:9]), fresh.query(x[:9])
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-12)
    rounded = np.abs(np.diff(want.scores, axis=1)) < 1e-12
    steady = ~(np.c_[rounded, np.zeros((9, 1), bool)] | np.c_[np.zeros((9, 1), bool), rounded])
    np.testing.assert_array_equal(got.indices[steady], want.indices[steady])


def test_the_recommender_hands_the_backend_the_other_axis_as_the_transpose():
    data = random_interactions(n_users=60, n_items=40, density=0.2, seed=5)
    for ranker in ("item_cf", "user_cf"):
        model = Recommender.from_config({"similarity": {"type": "sparse", "k": 4}, "ranker": {"type": ranker}})
        model.fit(data)
        state = model._state()
        axis = model.fitted_ranker.neighbour_axis
        assert axis is not None
        backend = state.backends[axis]
        other = state.item_rows if axis == "users" else state.matrix.matrix
        assert backend._transposed is other or np.shares_memory(backend._transposed.data, other.data)
        rows = state.matrix.matrix if axis == "users" else state.item_rows
        alone = SparseSimilarity(k=4).fit(sp.csr_array(rows, copy=True)).neighbours()
        np.testing.assert_array_equal(state.graphs[axis].indices, alone.indices)
        np.testing.assert_array_equal(state.graphs[axis].scores, alone.scores)


class _CubedLogs(SparseSimilarity):
    """A plugin-style subclass that prepares its rows in its own ``fit`` (and inherits ``fit_transposed``)."""

    def fit(self, rows: sp.csr_array) -> _CubedLogs:
        rows = sp.csr_array(rows, copy=True)
        rows.data = np.log1p(rows.data) ** 3
        return super().fit(rows)


def test_a_subclass_that_overrides_fit_only_is_fitted_by_its_fit():
    data = random_interactions(n_users=60, n_items=40, density=0.2, seed=6)
    model = Recommender(similarity=_CubedLogs(k=4), ranker=ItemCFRanker())
    model.fit(data)
    rows = model._state().item_rows
    own = _CubedLogs(k=4).fit(rows).neighbours()
    plain = SparseSimilarity(k=4).fit(sp.csr_array(rows, copy=True)).neighbours()
    assert not np.array_equal(own.scores, plain.scores)  # the subclass's fit matters here
    np.testing.assert_array_equal(model._state().graphs["items"].scores, own.scores)
    np.testing.assert_array_equal(model._state().graphs["items"].indices, own.indices)


def test_the_totals_of_read_only_rows_are_found_once_and_handed_out_as_copies(monkeypatch):
    """A fit and an update read the norms of the same rows: computed once, the same to the bit."""
    import pickle

    import recframe.engine.search as search

    computed = []
    compute = search._row_totals
    monkeypatch.setattr(search, "_row_totals", lambda x: computed.append(x.shape) or compute(x))
    rows = freeze(sp.csr_array(sp.random_array((40, 30), density=0.2, random_state=3)))
    norms, counts = row_totals(rows)
    again, _ = row_totals(rows)
    np.testing.assert_array_equal(counts, np.diff(rows.indptr))
    assert len(computed) == 1
    np.testing.assert_array_equal(again, norms)
    np.testing.assert_allclose(norms, np.sqrt((rows.toarray() ** 2).sum(axis=1)), rtol=1e-15)
    again[:] = -1.0  # a copy: the kept norms are not changed through it
    np.testing.assert_array_equal(row_totals(rows)[0], norms)
    writable = sp.csr_array(rows.toarray())
    row_totals(writable)
    row_totals(writable)  # anyone may change it meanwhile: computed each time
    shipped = freeze(pickle.loads(pickle.dumps(rows)))  # its kept totals came along, writable: not reused
    row_totals(shipped)
    assert len(computed) == 4
