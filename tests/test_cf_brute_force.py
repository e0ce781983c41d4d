"""Neighbours and CF lists on random data, against brute-force numpy and the seed recipe.

The seed recipe is the definition in the foundation issue: scikit-learn
``NearestNeighbors(metric="cosine", algorithm="brute")`` on the rows, ``k + 1`` neighbours with
the row itself dropped, similarity ``1 - distance``; then ``scores = R @ W`` (item-CF) or
``W @ R`` (user-CF), seen items removed, positive scores only, ties by item id.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from recframe import Recommender, select_top_n
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.rankers import ItemCFRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.testing import random_interactions


def dense_cosine(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    norms[norms == 0] = 1.0
    unit = x / norms[:, None]
    return unit @ unit.T


def tie_order(pairs):
    """Sort (column, value) pairs best first, treating values within 1e-10 as tied."""
    return sorted(pairs, key=lambda t: (-round(t[1], 10), t[0]))


def brute_top(values: np.ndarray, k: int, exclude_self: bool) -> list[list[tuple[int, float]]]:
    """Per row, the k largest positive entries, ties by lower column, by plain sorting.

    Values equal up to rounding count as ties, as exact arithmetic would have them.
    """
    out = []
    for i, row in enumerate(values):
        candidates = [(j, v) for j, v in enumerate(row) if v > 1e-12 and not (exclude_self and i == j)]
        out.append(tie_order(candidates)[:k])
    return out


def seed_recipe(x: sp.csr_array, k: int) -> np.ndarray:
    """The dense W of the seed recipe (row i holds the similarities of i's k neighbours)."""
    nn = NearestNeighbors(metric="cosine", algorithm="brute").fit(x)
    dist, ind = nn.kneighbors(x, n_neighbors=k + 1)
    w = np.zeros((x.shape[0], x.shape[0]))
    for i in range(x.shape[0]):
        kept = [(j, 1 - d) for j, d in zip(ind[i], dist[i], strict=True) if j != i][:k]
        for j, s in kept:
            w[i, j] = s
    return w


@pytest.fixture(scope="module")
def data():
    return random_interactions(n_users=60, n_items=45, density=0.12, seed=3)


@pytest.fixture(scope="module")
def matrix(data):
    return RatingsMatrixBuilder().build(data)


@pytest.mark.parametrize("axis", ["users", "items"])
@pytest.mark.parametrize("k", [1, 5, 200])
def test_neighbours_equal_brute_force(matrix, axis, k):
    rows = matrix.matrix if axis == "users" else matrix.item_major()
    graph = SklearnNNSimilarity(k=k, max_memory_mb=1).fit(rows).neighbours()
    expected = brute_top(dense_cosine(rows.toarray()), k, exclude_self=True)
    for i, want in enumerate(expected):
        got = tie_order([(int(j), s) for j, s in zip(graph.indices[i], graph.scores[i], strict=True) if j >= 0])
        assert [j for j, _ in got] == [j for j, _ in want], f"row {i}"
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12, atol=1e-12)


def test_chunking_does_not_change_neighbours(matrix):
    rows = matrix.item_major()
    small = SklearnNNSimilarity(k=7, max_memory_mb=1).fit(rows)
    one_chunk = SklearnNNSimilarity(k=7, max_memory_mb=1024).fit(rows).neighbours()
    np.testing.assert_array_equal(small.neighbours().indices, one_chunk.indices)
    np.testing.assert_array_equal(small.neighbours().scores, one_chunk.scores)


@pytest.mark.parametrize(("ranker_cls", "axis"), [(ItemCFRanker, "items"), (UserCFRanker, "users")])
@pytest.mark.parametrize("k", [3, 10])
def test_lists_equal_the_seed_recipe(data, matrix, ranker_cls, axis, k):
    n = 8
    rec = Recommender(similarity=SklearnNNSimilarity(k=k), ranker=ranker_cls(n=n), fallback=None).fit(data)
    r = matrix.matrix.toarray()
    scores = r @ seed_recipe(matrix.item_major(), k) if axis == "items" else seed_recipe(matrix.matrix, k) @ r
    scores[r != 0] = 0.0
    expected = brute_top(scores, n, exclude_self=False)
    lists = rec.recommend_all()
    for u, want in enumerate(expected):
        ids, got_scores = lists.list_of(u)
        got = tie_order(list(zip(matrix.items.rows(ids).tolist(), got_scores, strict=True)))
        assert [j for j, _ in got] == [j for j, _ in want], f"user {u}"
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-12)


def test_int_and_string_ids_give_the_same_lists():
    a = random_interactions(seed=5)
    b = random_interactions(seed=5, string_ids=True)
    rec_a = Recommender(ranker=ItemCFRanker(n=5)).fit(a)
    rec_b = Recommender(ranker=ItemCFRanker(n=5)).fit(b)
    # string ids sort differently ('i10' < 'i2'), so compare by mapped ids, up to tie order
    to_str = {int(i): f"i{(int(i) - 2) // 7}" for i in a.items}
    for user in np.unique(a.users)[:20]:
        sa = dict(rec_a.recommend([user]).to_dict()[user])
        sb = dict(rec_b.recommend([f"u{(user - 1) // 3}"]).to_dict()[f"u{(user - 1) // 3}"])
        assert {to_str[i]: s for i, s in sa.items()} == pytest.approx(sb)


class TestSelectTopN:
    def test_ties_at_the_cut_are_broken_by_lower_column(self):
        scores = np.array([[1.0, 3.0, 3.0, 3.0, 0.0, 2.0]])
        top = select_top_n(scores.copy(), 2)
        assert top.items.tolist() == [[1, 2]]
        top = select_top_n(scores.copy(), 4)
        assert top.items.tolist() == [[1, 2, 3, 5]]

    def test_non_positive_scores_are_padding(self):
        top = select_top_n(np.array([[0.0, -1.0, 0.5], [0.0, 0.0, 0.0]]), 3)
        assert top.items.tolist() == [[2, -1, -1], [-1, -1, -1]]
        assert np.isnan(top.scores[0, 1:]).all() and top.scores[0, 0] == 0.5

    def test_n_larger_than_the_catalogue_pads(self):
        top = select_top_n(np.array([[0.2, 0.4]]), 5)
        assert top.items.tolist() == [[1, 0, -1, -1, -1]]

    def test_random_blocks_equal_sorting(self, rng):
        scores = np.round(rng.random((30, 50)) * 5) / 5 - 0.2  # many ties and non-positives
        top = select_top_n(scores.copy(), 7)
        for row, want in zip(top.items, brute_top(scores, 7, exclude_self=False), strict=True):
            assert row[row >= 0].tolist() == [j for j, _ in want]
