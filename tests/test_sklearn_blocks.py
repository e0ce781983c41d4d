"""``sklearn_nn`` searches its fitted rows block by block: the blocks change the memory, never the neighbours."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.builtin.similarity.sklearn_nn import _blocks


def skewed_rows(n_rows: int, n_cols: int, nnz: int, seed: int) -> sp.csr_array:
    """Random rows with long-tailed column popularity and a few duplicated rows (ties at distance 0)."""
    rng = np.random.default_rng(seed)
    popular = np.minimum(rng.zipf(1.6, nnz // 4) - 1, n_cols - 1)
    cols = np.r_[popular, rng.integers(0, n_cols, nnz - len(popular))]
    rows = rng.integers(0, n_rows, nnz)
    x = sp.csr_array((rng.integers(1, 6, nnz).astype(np.float64), (rows, cols)), shape=(n_rows, n_cols))
    x.sum_duplicates()
    dense = x.toarray()
    dense[n_rows - 1] = dense[0]  # the same row in the first and the last block
    dense[n_rows // 2] = dense[1]
    return sp.csr_array(dense)


@pytest.fixture(scope="module")
def rows() -> sp.csr_array:
    return skewed_rows(400, 3000, 100_000, seed=5)


def brute_cosine(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1.0
    unit = x / norms[:, None]
    return unit @ unit.T


def test_blocks_split_the_entries_evenly(rows):
    blocks = _blocks(rows, 1)  # 256 KB of entries a block: 12 bytes each
    assert len(blocks) == -(-rows.nnz * 12 // (1 << 18))
    assert blocks[0][0] == 0 and blocks[-1][1] == rows.shape[0]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    sizes = [rows.indptr[b] - rows.indptr[a] for a, b in blocks]
    assert max(sizes) - min(sizes) <= 2 * np.diff(rows.indptr).max()
    assert _blocks(rows, 1024) == [(0, rows.shape[0])]
    assert _blocks(sp.csr_array((0, 4)), 1) == [(0, 0)]


@pytest.mark.parametrize("k", [1, 9, 500])
def test_many_blocks_equal_one_block_and_brute_force(rows, k):
    many = SklearnNNSimilarity(k=k, max_memory_mb=1).fit(rows)
    one = SklearnNNSimilarity(k=k, max_memory_mb=1024).fit(rows)
    assert len(_blocks(many.rows_, 1)) >= 3
    got, want = many.neighbours(), one.neighbours()
    np.testing.assert_array_equal(got.scores, want.scores)  # each distance is computed the same way
    # which of the rows tied at the k-th place is kept: the lower with blocks, scikit-learn's pick without
    tied = got.scores == got.scores[:, -1:]
    np.testing.assert_array_equal(np.where(tied, -2, got.indices), np.where(tied, -2, want.indices))
    sims = brute_cosine(rows.toarray())
    np.fill_diagonal(sims, -np.inf)
    width = min(k, rows.shape[0] - 1)
    for i in range(rows.shape[0]):
        kept = got.indices[i] >= 0
        expected = np.sort(sims[i])[::-1][:width]
        expected = expected[expected > 1e-12]
        np.testing.assert_allclose(got.scores[i][kept], expected[: kept.sum()], rtol=1e-12, atol=1e-12)
        assert i not in got.indices[i]
        np.testing.assert_allclose(sims[i, got.indices[i][kept]], got.scores[i][kept], rtol=1e-12, atol=1e-12)


def test_duplicate_rows_in_other_blocks_are_neighbours_not_self(rows):
    graph = SklearnNNSimilarity(k=3, max_memory_mb=1).fit(rows).neighbours()
    n = rows.shape[0]
    assert graph.indices[0, 0] == n - 1 and graph.indices[n - 1, 0] == 0
    np.testing.assert_allclose(graph.scores[0, 0], 1.0)
    assert graph.indices[1, 0] == n // 2


def test_queries_and_row_subsets_answer_like_the_whole_search(rows):
    backend = SklearnNNSimilarity(k=6, max_memory_mb=1).fit(rows)
    whole = backend.neighbours()
    picked = np.array([399, 3, 0, 200, 17])
    part = backend.neighbours(picked)
    np.testing.assert_array_equal(part.indices, whole.indices[picked])
    np.testing.assert_array_equal(part.scores, whole.scores[picked])
    found = backend.query(rows[[5]], k=4)  # a fitted row as a new vector: itself first
    assert found.indices[0, 0] == 5
    np.testing.assert_allclose(found.scores[0, 0], 1.0)
    np.testing.assert_array_equal(found.indices[0, 1:], whole.indices[5, :3])


def test_a_loaded_model_splits_and_answers_as_the_fitted_one(rows):
    fitted = SklearnNNSimilarity(k=5, max_memory_mb=1).fit(rows)
    loaded = SklearnNNSimilarity(k=5, max_memory_mb=1)
    state = fitted.get_state()
    # a saved model may come back with 64-bit indices
    state = {**state, "rows.indices": np.asarray(state["rows.indices"], dtype=np.int64)}
    loaded.set_state(state)
    np.testing.assert_array_equal(loaded.neighbours().indices, fitted.neighbours().indices)
    np.testing.assert_array_equal(loaded.neighbours().scores, fitted.neighbours().scores)


def test_bad_values_are_refused_as_scikit_learn_refuses_them(rows):
    bad = rows.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SklearnNNSimilarity(k=5, max_memory_mb=1).fit(bad)
    with pytest.raises(ValueError, match="NaN"):
        SklearnNNSimilarity(k=5, max_memory_mb=1024).fit(bad)
