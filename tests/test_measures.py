"""Similarity measures and modifiers: by hand, against brute force, symmetry, id invariance, both engines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, Recommender
from recframe.builtin.similarity import SparseSimilarity
from recframe.engine import GRAPH, MEASURES, SYMMETRIC

ENGINES = ["numba", "scipy"]


def brute_similarity(x: np.ndarray, mask: np.ndarray, a: int, b: int, measure: str, alpha: float, beta: float):
    """One pair's similarity straight from the definitions; None when the rows share no column."""
    co = mask[a] & mask[b]
    n = int(co.sum())
    if n == 0:
        return None
    xa, xb = x[a][co], x[b][co]
    count_a, count_b = mask[a].sum(), mask[b].sum()
    norm_a, norm_b = math.sqrt((x[a] ** 2).sum()), math.sqrt((x[b] ** 2).sum())

    def ratio(p, q):
        return p / q if q > 0 else 0.0

    if measure == "cosine":
        return ratio(xa @ xb, norm_a * norm_b)
    if measure == "dot":
        return float(xa @ xb)
    if measure in ("corated_cosine", "adjusted_cosine"):
        return ratio(xa @ xb, math.sqrt((xa**2).sum() * (xb**2).sum()))
    if measure == "pearson":
        da, db = xa - xa.mean(), xb - xb.mean()
        return ratio(da @ db, math.sqrt((da**2).sum() * (db**2).sum()))
    if measure == "msd":
        return 1 / (1 + ((xa - xb) ** 2).mean())
    if measure == "jaccard":
        return n / (count_a + count_b - n)
    if measure == "dice":
        return 2 * n / (count_a + count_b)
    if measure == "tversky":
        return ratio(n, n + alpha * (count_a - n) + beta * (count_b - n))
    if measure == "asymmetric_cosine":
        return ratio(xa @ xb, norm_a ** (2 * alpha) * norm_b ** (2 * (1 - alpha)))
    if measure == "conditional_probability":
        return ratio(n, count_a * count_b**alpha)
    if measure == "lift":
        return n * x.shape[1] / (count_a * count_b)
    raise AssertionError(measure)


def brute_graph(matrix: sp.csr_array, k: int, measure: str, *, alpha=0.5, beta=0.5, shrinkage=0.0, min_support=1,
                min_similarity=None, keep_negative=False):
    x = matrix.toarray()
    mask = np.zeros(x.shape, dtype=bool)
    coo = matrix.tocoo()
    mask[coo.row, coo.col] = True
    if measure == "adjusted_cosine":  # centre by the column's mean over its stored entries
        means = np.array([x[mask[:, c], c].mean() if mask[:, c].any() else 0.0 for c in range(x.shape[1])])
        x = np.where(mask, x - means, 0.0)
    rows = []
    for a in range(x.shape[0]):
        found = []
        for b in range(x.shape[0]):
            if a == b:
                continue
            sim = brute_similarity(x, mask, a, b, measure, alpha, beta)
            if sim is None:
                continue
            n = int((mask[a] & mask[b]).sum())
            sim = sim * n / (n + shrinkage) if shrinkage else sim
            if n < min_support or sim == 0 or (min_similarity is not None and sim < min_similarity):
                continue
            if sim < 0 and not keep_negative:
                continue
            found.append((-sim, b))
        rows.append([(b, -s) for s, b in sorted(found)[:k]])
    return rows


def assert_graph_equals(graph, expected, k):
    for a, want in enumerate(expected):
        got = [(int(b), float(s)) for b, s in zip(graph.indices[a], graph.scores[a], strict=True) if b >= 0]
        assert len(got) == len(want), (a, got, want)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-9, atol=1e-12)
        # the same neighbours, except where scores tie (both order ties by lower row)
        for (gb, gs), (wb, ws) in zip(got, want, strict=True):
            assert gb == wb or math.isclose(gs, ws, rel_tol=1e-9), (a, got, want)


def random_rows(density: float, seed: int) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((30, 25)) < density, rng.integers(1, 6, size=(30, 25)), 0).astype(float)
    return sp.csr_array(dense)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("measure", [m for m in MEASURES if m not in GRAPH])  # walks: test_graph_similarity.py
@pytest.mark.parametrize("density", [0.15, 0.8])
def test_every_measure_equals_brute_force(measure, engine, density):
    rows = random_rows(density, seed=int(density * 10))
    with_params = ("tversky", "asymmetric_cosine", "conditional_probability")
    params = ({"alpha": 0.3} if measure in with_params else {}) | ({"beta": 0.8} if measure == "tversky" else {})
    backend = SparseSimilarity(k=6, measure=measure, engine=engine, **params).fit(rows)
    assert_graph_equals(backend.neighbours(), brute_graph(rows, 6, measure, **params), 6)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("measure", "modifiers"),
    [
        ("cosine", {"shrinkage": 10.0}),
        ("pearson", {"min_support": 3, "negative": "keep"}),
        ("adjusted_cosine", {"negative": "keep", "min_similarity": -0.5}),
        ("jaccard", {"min_similarity": 0.2071, "shrinkage": 2.0}),
        ("dot", {"min_support": 4}),
    ],
)
def test_modifiers_equal_brute_force(measure, modifiers, engine):
    rows = random_rows(0.35, seed=3)
    backend = SparseSimilarity(k=8, measure=measure, engine=engine, **modifiers).fit(rows)
    expected_mods = {key: value for key, value in modifiers.items() if key != "negative"}
    expected = brute_graph(rows, 8, measure, keep_negative=modifiers.get("negative") == "keep", **expected_mods)
    assert_graph_equals(backend.neighbours(), expected, 8)
    if modifiers.get("negative") == "keep":
        everyone = SparseSimilarity(k=29, measure=measure, engine=engine, **modifiers).fit(rows).neighbours()
        assert (everyone.scores < 0).any()


@pytest.mark.parametrize("measure", sorted(SYMMETRIC))
def test_symmetric_measures_are_symmetric(measure):
    rows = random_rows(0.4, seed=5)
    graph = SparseSimilarity(k=29, measure=measure, negative="keep").fit(rows).neighbours()
    sims = graph.to_csr().toarray()
    np.testing.assert_allclose(sims, sims.T, rtol=1e-12, atol=1e-12)


def test_measures_by_hand():
    # rows a = (5, 3, -, 1), b = (4, -, 2, 1), c = (-, 3, -, -); columns 4
    rows = sp.csr_array(np.array([[5.0, 3, 0, 1], [4, 0, 2, 1], [0, 3, 0, 0]]))

    def sim(measure, a=0, b=1, **params):
        graph = SparseSimilarity(k=2, measure=measure, negative="keep", **params).fit(rows).neighbours()
        return dict(zip(graph.indices[a].tolist(), graph.scores[a].tolist(), strict=True)).get(b, 0.0)

    # a and b share columns 0 and 3: (5, 1) and (4, 1)
    assert sim("dot") == pytest.approx(21)
    assert sim("cosine") == pytest.approx(21 / (math.sqrt(35) * math.sqrt(21)))
    assert sim("corated_cosine") == pytest.approx(21 / math.sqrt(26 * 17))
    assert sim("pearson") == pytest.approx(1.0)  # two points always correlate perfectly
    assert sim("msd") == pytest.approx(1 / (1 + (1 + 0) / 2))
    assert sim("jaccard") == pytest.approx(2 / (3 + 3 - 2))
    assert sim("dice") == pytest.approx(2 * 2 / 6)
    assert sim("tversky", alpha=1.0, beta=0.0) == pytest.approx(2 / (2 + 1))
    assert sim("conditional_probability", alpha=0.5) == pytest.approx(2 / (3 * math.sqrt(3)))
    assert sim("lift") == pytest.approx(2 * 4 / (3 * 3))
    assert sim("cosine", shrinkage=2.0) == pytest.approx(21 / (math.sqrt(35) * math.sqrt(21)) * 2 / 4)
    assert sim("cosine", min_support=3) == 0.0
    # a and c share column 1 only; asymmetric cosine with alpha 0.5 is cosine
    assert sim("asymmetric_cosine", 0, 2) == pytest.approx(9 / (math.sqrt(35) * 3))


def test_adjusted_cosine_centres_by_column_means_and_keeps_zero_deviations():
    # column 0 mean is 3: row 2's rating 3 becomes a stored 0 and still counts as co-rated
    rows = sp.csr_array(np.array([[4.0, 2], [2, 4], [3, 3]]))
    backend = SparseSimilarity(k=2, measure="adjusted_cosine", negative="keep").fit(rows)
    np.testing.assert_allclose(backend.column_means_, [3, 3])
    graph = backend.neighbours()
    assert graph.indices[0].tolist() == [1, -1] and graph.scores[0].tolist() == [pytest.approx(-1.0), 0.0]


@pytest.mark.parametrize("measure", ["pearson", "jaccard", "msd"])
def test_results_do_not_depend_on_ids_or_their_order(measure):
    rng = np.random.default_rng(2)
    users, items = np.nonzero(rng.random((40, 30)) < 0.3)
    ratings = rng.integers(1, 6, size=len(users)).astype(float)
    config = {"similarity": {"type": "sparse", "measure": measure, "k": 39}, "ranker": "user_cf"}
    by_int = Recommender.from_config(config).fit(Interactions(users, items, ratings))
    # string ids in a different order of first appearance, and shuffled events
    order = rng.permutation(len(users))
    names = Interactions(np.char.add("user-", (39 - users[order]).astype(str)),
                         np.char.add("item-", (29 - items[order]).astype(str)), ratings[order])
    by_str = Recommender.from_config(config).fit(names)
    for user in range(40):  # every neighbour (n = 39): the same similarities, whatever the ids
        a = by_int.similar_users([user], n=39).to_dict()[user]
        b = by_str.similar_users([f"user-{39 - user}"], n=39).to_dict()[f"user-{39 - user}"]
        assert {f"user-{39 - v}": pytest.approx(s, rel=1e-12) for v, s in a} == dict(b)


def test_query_of_new_vectors_uses_the_training_centring():
    rows = random_rows(0.5, seed=9)
    backend = SparseSimilarity(k=4, measure="adjusted_cosine").fit(rows)
    graph = backend.query(rows[[2, 7]])
    full = backend.neighbours()
    # a query with a training row's own vector finds that row first (similarity 1), then its neighbours
    for position, row in enumerate([2, 7]):
        assert graph.indices[position][0] == row and graph.scores[position][0] == pytest.approx(1.0)
        np.testing.assert_allclose(graph.scores[position][1:], full.scores[row][:3], rtol=1e-12)
