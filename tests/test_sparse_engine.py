"""The sparse top-k engine: both implementations against each other, brute force and sklearn."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Recommender
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.rankers import ItemCFRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity, SparseSimilarity
from recframe.engine import numba_available, top_k_neighbours, top_n_product
from recframe.testing import SimilarityContract, random_interactions

ENGINES = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="needs numba"))]


def random_csr(rng, shape, density, negative=False):
    matrix = sp.random_array(shape, density=density, format="csr", random_state=rng)
    if negative:
        matrix.data -= 0.5
    matrix = sp.csr_array(matrix)
    matrix.data = np.round(matrix.data * 4) / 4 + (0 if negative else 0.25)  # many exact ties
    matrix.eliminate_zeros()
    return matrix


def brute_top(dense, n, banned=None):
    """Per row, the n largest positive entries, ties by lower column, by sorting."""
    out = []
    for i, row in enumerate(dense):
        cands = [(j, v) for j, v in enumerate(row) if v > 0 and (banned is None or not banned[i, j])]
        cands.sort(key=lambda t: (-t[1], t[0]))
        out.append(cands[:n])
    return out


def as_lists(columns, scores):
    return [
        [(int(j), float(v)) for j, v in zip(c, s, strict=True) if j >= 0] for c, s in zip(columns, scores, strict=True)
    ]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("negative", [False, True])
def test_top_n_product_equals_brute_force(rng, engine, negative):
    a = random_csr(rng, (40, 30), 0.2, negative)
    b = random_csr(rng, (30, 50), 0.2, negative)
    seen = random_csr(rng, (40, 50), 0.1)
    rows = np.array([3, -1, 0, 39, 3, 17])
    exclude = random_csr(rng, (len(rows), 50), 0.1)
    columns, scores = top_n_product(a, rows, b, 7, seen=seen, exclude=exclude, engine=engine, max_memory_mb=1)
    dense = (a @ b).toarray()
    banned = (seen.toarray() != 0)[np.maximum(rows, 0)] | (exclude.toarray() != 0)
    expected = brute_top(dense[np.maximum(rows, 0)], 7, banned)
    expected[1] = []  # row -1 has no history
    got = as_lists(columns, scores)
    for want, have in zip(expected, got, strict=True):
        assert [j for j, _ in have] == [j for j, _ in want]
        np.testing.assert_allclose([v for _, v in have], [v for _, v in want], rtol=1e-12)
    assert np.all(scores[columns < 0] == 0.0)


@pytest.mark.skipif(not numba_available(), reason="needs numba")
def test_a_sum_that_comes_back_to_zero_is_read_once():
    """Light rows mark the columns they reach by a zero sum: a sum that returns to zero lists its column again."""
    # row 0 reaches column 0 through items 0, 1, 2 with +1, -1, +1 (sum 1, zero after the second)
    # and column 1 through item 1 only (-1 * -2 = 2); row 1 reaches column 0 with 1 - 1 = 0 and
    # column 1 with 2
    a = sp.csr_array(np.array([[1.0, -1.0, 1.0], [1.0, -1.0, 0.0]]))
    b = sp.csr_array(np.array([[1.0, 0.0] + [0.0] * 98, [1.0, -2.0] + [0.0] * 98, [1.0, 0.0] + [0.0] * 98]))
    columns, scores = top_n_product(a, np.array([0, 1]), b, 3, engine="numba")
    assert columns.tolist() == [[1, 0, -1], [1, -1, -1]]
    assert scores.tolist() == [[2.0, 1.0, 0.0], [2.0, 0.0, 0.0]]


@pytest.mark.skipif(not numba_available(), reason="needs numba")
@pytest.mark.parametrize("scaled", [False, True])
def test_light_and_dense_rows_equal_brute_force(rng, scaled):
    """Rows below and above the light/dense split, across blocks of the dense scan, against sorting."""
    n_cols = 2 * 64 + 37  # two full blocks of the dense scan and a partial one
    density = np.repeat([0.02, 0.15, 0.9], 20)  # light rows, rows near the split, dense rows
    a = sp.csr_array((rng.random((density.size, 40)) < density[:, None]) * rng.integers(-2, 5, (density.size, 40)))
    a.eliminate_zeros()
    b = random_csr(rng, (40, n_cols), 0.15, negative=True)
    b.data = np.round(b.data * 4) / 4  # exact ties and sums that cancel
    b.eliminate_zeros()
    seen = random_csr(rng, (density.size, n_cols), 0.05)
    rows = rng.permutation(density.size)
    exclude = random_csr(rng, (rows.size, n_cols), 0.05)
    norms = {}
    if scaled:
        norms = {"query_norms": rng.integers(1, 4, density.size) / 2.0}
        norms["target_norms"] = rng.integers(1, 4, n_cols) / 4.0
    columns, scores = top_n_product(a, rows, b, 9, seen=seen, exclude=exclude, engine="numba", **norms)
    dense = (a @ b).toarray()[rows]
    if scaled:
        dense = dense * ((1 / norms["query_norms"][rows])[:, None] * (1 / norms["target_norms"])[None, :])
    banned = (seen.toarray() != 0)[rows] | (exclude.toarray() != 0)
    for want, have in zip(brute_top(dense, 9, banned), as_lists(columns, scores), strict=True):
        assert [j for j, _ in have] == [j for j, _ in want]
        np.testing.assert_allclose([v for _, v in have], [v for _, v in want], rtol=1e-12)


@pytest.fixture(params=["symmetric", "plain"])
def symmetric(request, monkeypatch):
    """Run a test with the symmetric kernel enabled for any size, and with it off."""
    from recframe.engine import products as kernels

    monkeypatch.setattr(kernels, "SYMMETRIC_MIN_ROWS", 0 if request.param == "symmetric" else 10**9)
    monkeypatch.setattr(kernels, "SYMMETRIC_MIN_PAIR_WORK", 0.0)
    return request.param


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("k", "budget"), [(5, 1024), (60, 1024), (5, 0)])
def test_top_k_neighbours_equal_brute_force(rng, engine, k, budget, symmetric):
    x = random_csr(rng, (60, 25), 0.15)
    columns, scores = top_k_neighbours(x, k, engine=engine, max_memory_mb=budget)
    dense = (x @ x.T).toarray()
    np.fill_diagonal(dense, 0.0)
    for want, have in zip(brute_top(dense, k), as_lists(columns, scores), strict=True):
        assert [j for j, _ in have] == [j for j, _ in want]
        np.testing.assert_allclose([v for _, v in have], [v for _, v in want], rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("axis", ["users", "items"])
@pytest.mark.parametrize("k", [3, 50])
def test_sparse_backend_equals_sklearn(engine, axis, k, symmetric):
    matrix = RatingsMatrixBuilder().build(random_interactions(n_users=80, n_items=60, density=0.1, seed=11))
    rows = matrix.matrix if axis == "users" else matrix.item_major()
    ours = SparseSimilarity(k=k, engine=engine).fit(rows).neighbours()
    reference = SklearnNNSimilarity(k=k).fit(rows).neighbours()
    def neighbours_of(graph, i):
        real = graph.indices[i] >= 0
        return dict(zip(graph.indices[i][real].tolist(), graph.scores[i][real], strict=True))

    for i in range(rows.shape[0]):
        mine, theirs = neighbours_of(ours, i), neighbours_of(reference, i)
        np.testing.assert_allclose(np.sort(list(mine.values())), np.sort(list(theirs.values())), atol=1e-9)
        if len(theirs) == k:  # a full list may differ only among entries tied with the last one
            last = min(theirs.values())
            assert {j for j, v in mine.items() if v > last + 1e-9} == {j for j, v in theirs.items() if v > last + 1e-9}
        else:
            assert set(mine) == set(theirs)


@pytest.mark.parametrize("engine", ENGINES)
def test_subset_and_query_agree_with_the_full_graph(engine):
    matrix = RatingsMatrixBuilder().build(random_interactions(seed=12))
    backend = SparseSimilarity(k=6, engine=engine).fit(matrix.item_major())
    full = backend.neighbours()
    picked = np.array([4, 0, 9])
    part = backend.neighbours(picked)
    np.testing.assert_array_equal(part.indices, full.indices[picked])
    np.testing.assert_allclose(part.scores, full.scores[picked], rtol=1e-12)
    # querying the rows themselves finds each row first (similarity 1), then its neighbours
    queried = backend.query(matrix.item_major()[picked], k=7)
    np.testing.assert_array_equal(queried.indices[:, 0], picked)
    np.testing.assert_allclose(queried.scores[:, 0], 1.0)


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_rows_anywhere(engine, symmetric):
    rows = sp.csr_array(np.array([[0, 0, 0], [1.0, 2.0, 0], [0, 0, 0], [2.0, 1.0, 1.0], [0, 0, 0]]))
    graph = SparseSimilarity(k=3, engine=engine).fit(rows).neighbours()
    assert graph.indices.tolist() == [[-1, -1, -1], [3, -1, -1], [-1, -1, -1], [1, -1, -1], [-1, -1, -1]]
    assert graph.scores[1, 0] == pytest.approx(4 / np.sqrt(5 * 6))


def test_dot_measure_is_the_raw_product():
    matrix = RatingsMatrixBuilder().build(random_interactions(seed=13))
    rows = matrix.item_major()
    graph = SparseSimilarity(k=4, measure="dot", engine="scipy").fit(rows).neighbours()
    dense = (rows @ rows.T).toarray()
    np.fill_diagonal(dense, 0)
    for i, want in enumerate(brute_top(dense, 4)):
        assert graph.scores[i][graph.indices[i] >= 0].tolist() == pytest.approx([v for _, v in want])


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ranker", [ItemCFRanker, UserCFRanker])
def test_kernel_lists_equal_the_dense_definition(engine, ranker):
    data = random_interactions(n_users=70, n_items=50, seed=14)
    rec = Recommender(similarity=SparseSimilarity(k=8), ranker=ranker(n=9, engine=engine), fallback=None).fit(data)
    fitted = rec.fitted_ranker
    users = np.arange(rec.interaction_matrix.n_users)
    dense = fitted.score_block(users)
    banned = rec.interaction_matrix.matrix.toarray() != 0
    expected = brute_top(dense, 9, banned)
    top = fitted.recommend(users)
    for u, want in enumerate(expected):
        real = top.items[u] >= 0
        assert top.items[u][real].tolist() == [j for j, _ in want]
        np.testing.assert_allclose(top.scores[u][real], [v for _, v in want], rtol=1e-12)


@pytest.mark.skipif(not numba_available(), reason="needs numba")
def test_engines_give_the_same_recommendations():
    data = random_interactions(n_users=90, n_items=70, seed=15)
    results = []
    for engine in ("scipy", "numba"):
        rec = Recommender(similarity=SparseSimilarity(k=10, engine=engine), ranker=ItemCFRanker(engine=engine))
        results.append(rec.fit(data).recommend_all())
    scipy_lists, numba_lists = results
    np.testing.assert_array_equal(scipy_lists.ranked.items, numba_lists.ranked.items)
    np.testing.assert_allclose(scipy_lists.ranked.scores, numba_lists.ranked.scores, rtol=1e-12)


def test_concurrent_kernel_calls_are_safe():
    data = random_interactions(n_users=120, n_items=80, seed=16)
    rec = Recommender(similarity=SparseSimilarity(k=10), ranker=UserCFRanker(n=5)).fit(data)
    users = rec.interaction_matrix.users.ids
    expected = rec.recommend(users).to_dict()
    results = []
    threads = [threading.Thread(target=lambda: results.append(rec.recommend(users).to_dict())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


class TestSparseContract(SimilarityContract):
    component = SparseSimilarity
    configs = (
        {"k": 5},
        {"k": 1000},
        {"k": 3, "measure": "dot", "engine": "scipy", "max_memory_mb": 1},
        {"k": 4, "measure": "p3alpha", "alpha": 0.8, "normalise": "l1"},
        {"k": 6, "measure": "rp3beta", "degree": "count", "min_support": 2, "engine": "scipy"},
    )


class _JaccardSayingCosine(SparseSimilarity):
    """Jaccard similarities, but it says cosine: an update would maintain them as cosines."""

    name = "jaccard_saying_cosine"

    def update_measure(self):  # type: ignore[no-untyped-def]
        return "cosine"


def test_the_contract_catches_a_backend_whose_update_measure_is_not_its_similarity():
    contract = TestSparseContract()
    contract.component = _JaccardSayingCosine
    contract.configs = ({"k": 5, "measure": "jaccard"},)
    with pytest.raises(AssertionError, match=r"says its similarity is the cosine, but lists others|the cosine is"):
        contract.test_update_measure_promise()
    contract.configs = ({"k": 5},)  # a real cosine: kept
    contract.test_update_measure_promise()
