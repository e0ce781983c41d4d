"""Random-walk similarities P3alpha and RP3beta: by hand, against dense brute force, and against similaripy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import ConfigError, DataError, Interactions, Recommender
from recframe.builtin.similarity import SparseSimilarity

ENGINES = ["numba", "scipy"]


def brute_walk(x: np.ndarray, measure: str, alpha: float = 1.0, beta: float = 0.5, degree: str = "sum") -> np.ndarray:
    """Return every pair's similarity (diagonal included) straight from the transition probabilities."""
    edge = x > 0
    row_sums, column_sums = x.sum(axis=1), x.sum(axis=0)
    if degree == "count":
        first = np.where(edge, 1.0 / np.maximum(edge.sum(axis=1), 1)[:, None], 0.0)
        popularity = edge.sum(axis=1).astype(float)
    else:
        first = np.where(edge, x / np.where(row_sums > 0, row_sums, 1.0)[:, None], 0.0)
        popularity = row_sums
    last = np.where(edge, x / np.where(column_sums > 0, column_sums, 1.0)[None, :], 0.0)
    walk = np.where(edge, first**alpha, 0.0) @ np.where(edge, last**alpha, 0.0).T
    if measure == "rp3beta":
        walk = walk * np.where(popularity > 0, np.where(popularity > 0, popularity, 1.0) ** -beta, 0.0)[None, :]
    return walk


def brute_lists(
    sims: np.ndarray,
    edge: np.ndarray,
    k: int,
    *,
    shrinkage: float = 0.0,
    min_support: int = 1,
    min_similarity: float | None = None,
    normalise: str = "none",
) -> list[list[tuple[int, float]]]:
    """Return each row's k best other rows (ties by lower row) after the modifiers, normalised as asked."""
    support = edge.astype(float) @ edge.astype(float).T
    if shrinkage:
        sims = sims * support / (support + shrinkage)
    keep = (support >= min_support) & (sims > 0)
    if min_similarity is not None:
        keep &= sims >= min_similarity
    np.fill_diagonal(keep, False)
    lists = []
    for a in range(sims.shape[0]):
        found = sorted((-sims[a, b], b) for b in np.flatnonzero(keep[a]))[:k]
        total = sum(-s for s, _ in found)
        scale = total if normalise == "l1" and total > 0 else 1.0
        lists.append([(int(b), -s / scale) for s, b in found])
    return lists


def assert_lists(graph, expected: list[list[tuple[int, float]]]) -> None:
    """Assert the graph holds the expected lists: the same scores, the same rows except at exact ties."""
    for a, want in enumerate(expected):
        got = [(int(b), float(s)) for b, s in zip(graph.indices[a], graph.scores[a], strict=True) if b >= 0]
        assert len(got) == len(want), (a, got, want)
        np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-9, atol=1e-15)
        for (gb, gs), (wb, ws) in zip(got, want, strict=True):
            assert gb == wb or math.isclose(gs, ws, rel_tol=1e-9), (a, got, want)


def skewed_ratings(seed: int, n_users: int = 40, n_items: int = 30) -> sp.csr_array:
    """Return a random users x items matrix with long-tailed item popularity and real values."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    filled = rng.random((n_users, n_items)) < 0.6 * popularity[rng.permutation(n_items)]
    return sp.csr_array(np.where(filled, rng.uniform(0.5, 5.0, (n_users, n_items)).round(3), 0.0))


def test_walks_by_hand():
    # rows a = (1, 1, 0), b = (1, 0, 1), c = (0, 2, 1); row sums 2, 2, 3; column sums 2, 3, 2
    rows = sp.csr_array(np.array([[1.0, 1, 0], [1, 0, 1], [0, 2, 1]]))

    def check(expected, **config):
        graph = SparseSimilarity(k=2, **config).fit(rows).neighbours()
        for r, want in expected.items():
            assert graph.indices[r].tolist() == [b for b, _ in want], (r, graph.indices[r])
            np.testing.assert_allclose(graph.scores[r], [s for _, s in want], rtol=1e-12)

    # a -> col 0 -> b: (1/2)(1/2); a -> col 1 -> c: (1/2)(2/3); b -> col 2 -> c: (1/2)(1/2);
    # c -> col 1 -> a: (2/3)(1/3); c -> col 2 -> b: (1/3)(1/2). b's two neighbours tie: lower row first
    check({0: [(2, 1 / 3), (1, 1 / 4)], 1: [(0, 1 / 4), (2, 1 / 4)], 2: [(0, 2 / 9), (1, 1 / 6)]}, measure="p3alpha")
    # alpha 2 squares every step: a -> c (1/4)(4/9), a -> b (1/4)(1/4)
    check({0: [(2, 1 / 9), (1, 1 / 16)]}, measure="p3alpha", alpha=2.0)
    # rp3beta, beta 1: divided by the target's sum of values (2, 2, 3)
    check(
        {0: [(1, 1 / 8), (2, 1 / 9)], 1: [(0, 1 / 8), (2, 1 / 12)], 2: [(0, 1 / 9), (1, 1 / 12)]},
        measure="rp3beta",
        beta=1.0,
    )
    # degree count: a uniform first step (every row has 2 entries), popularity 2 for all:
    # c -> a (1/2)(1/3)/2 = 1/12 now ranks below c -> b (1/2)(1/2)/2 = 1/8
    check({2: [(1, 1 / 8), (0, 1 / 12)]}, measure="rp3beta", beta=1.0, degree="count")
    # l1: a's kept 1/3 and 1/4 share 1
    check({0: [(2, 4 / 7), (1, 3 / 7)]}, measure="p3alpha", normalise="l1")


CASES = [
    ("p3alpha", {}),
    ("p3alpha", {"alpha": 0.6, "normalise": "l1"}),
    ("rp3beta", {"beta": 0.7}),
    ("rp3beta", {"alpha": 1.3, "beta": 0.4, "degree": "count", "normalise": "l1"}),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("orientation", ["users", "items"])
@pytest.mark.parametrize(("measure", "params"), CASES)
def test_walks_equal_brute_force(measure, params, orientation, engine):
    ratings = skewed_ratings(seed=len(params) + (measure == "rp3beta"))
    rows = ratings if orientation == "users" else sp.csr_array(ratings.T)
    x = rows.toarray()
    backend = SparseSimilarity(k=7, measure=measure, engine=engine, **params).fit(rows)
    walk_params = {key: value for key, value in params.items() if key != "normalise"}
    sims = brute_walk(x, measure, **walk_params)
    assert_lists(backend.neighbours(), brute_lists(sims, x > 0, 7, normalise=params.get("normalise", "none")))
    # some rows only: the same lists as all rows give them
    picked = np.array([4, 0, 9])
    part = backend.neighbours(picked)
    np.testing.assert_array_equal(part.indices, backend.neighbours().indices[picked])
    # new vectors walk from their own first step to the fitted rows (a row's own vector finds itself)
    queried = SparseSimilarity(k=x.shape[0], measure=measure, engine=engine, **params).fit(rows).query(rows[[2, 5]])
    for position, row in enumerate([2, 5]):
        got = dict(zip(queried.indices[position].tolist(), queried.scores[position].tolist(), strict=True))
        want = {b: s for b, s in enumerate(sims[row]) if s > 0}
        if params.get("normalise") == "l1":
            want = {b: s / sum(want.values()) for b, s in want.items()}
        assert got.keys() - {-1} == want.keys()
        np.testing.assert_allclose([got[b] for b in want], list(want.values()), rtol=1e-9)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "modifiers",
    [{"shrinkage": 2.0}, {"min_support": 2}, {"min_similarity": 0.004}, {"shrinkage": 1.0, "min_support": 3}],
)
def test_modifiers_equal_brute_force(modifiers, engine):
    ratings = skewed_ratings(seed=11)
    x = ratings.toarray()
    backend = SparseSimilarity(k=6, measure="rp3beta", beta=0.3, engine=engine, **modifiers).fit(ratings)
    assert_lists(backend.neighbours(), brute_lists(brute_walk(x, "rp3beta", beta=0.3), x > 0, 6, **modifiers))


def test_both_orientations_through_the_recommender_score_as_the_walk():
    ratings = skewed_ratings(seed=5, n_users=25, n_items=20)
    users, items = ratings.nonzero()
    data = Interactions(users, items, ratings.toarray()[users, items])
    x = ratings.toarray()
    for ranker, rows in (("item_cf", x.T), ("user_cf", x)):
        config = {"similarity": {"type": "sparse", "measure": "rp3beta", "beta": 0.5, "k": 200}, "ranker": ranker}
        rec = Recommender.from_config(config).fit(data)
        sims = brute_walk(rows, "rp3beta", beta=0.5)
        np.fill_diagonal(sims, 0.0)
        scores = x @ sims if ranker == "item_cf" else sims @ x  # every neighbour kept (k >= rows)
        top = rec.recommend([3], n=3)
        want = np.where(x[3] > 0, -np.inf, scores[3])
        np.testing.assert_allclose(top.scores[0], np.sort(want)[::-1][:3], rtol=1e-9)


def test_config_and_data_errors_name_the_field_and_the_measure():
    with pytest.raises(ValueError, match=r"degree applies to p3alpha and rp3beta only, not to measure 'cosine'"):
        SparseSimilarity(measure="cosine", degree="count")
    with pytest.raises(ValueError, match=r"measure 'p3alpha' is a walk's probability, never negative"):
        SparseSimilarity(measure="p3alpha", negative="keep")
    config = {"similarity": {"type": "sparse", "measure": "rp3beta", "negative": "keep"}, "ranker": "item_cf"}
    with pytest.raises(ConfigError, match=r"similarity\.negative"):
        Recommender.from_config(config)
    rows = sp.csr_array(np.array([[1.0, -0.5], [2.0, 1.0]]))
    with pytest.raises(DataError, match=r"similarity 'sparse' \(measure 'rp3beta'\): row 0 holds the value -0\.5"):
        SparseSimilarity(measure="rp3beta").fit(rows)


def test_alpha_and_beta_are_refused_where_they_change_nothing_and_resolved_where_they_do():
    with pytest.raises(ValueError, match=r"measure 'p3alpha' has no beta \(it changes nothing\); beta applies to "):
        SparseSimilarity(measure="p3alpha", beta=0.9)
    with pytest.raises(ValueError, match=r"measure 'cosine' has no alpha"):
        SparseSimilarity(measure="cosine", alpha=0.7)
    config = {"similarity": {"type": "sparse", "measure": "dot", "beta": 2}, "ranker": "item_cf"}
    with pytest.raises(ConfigError, match=r"similarity\.beta: .*measure 'dot' has no beta"):
        Recommender.from_config(config)
    # the resolved config shows the alpha used, and the defaults of the other measures are accepted back
    assert SparseSimilarity(measure="rp3beta").config.alpha == 1.0
    assert SparseSimilarity(measure="jaccard").config.alpha == 0.5
    written = Recommender.from_config({"similarity": {"type": "sparse", "measure": "p3alpha"}, "ranker": "item_cf"})
    assert written.to_config()["similarity"]["alpha"] == 1.0
    assert SparseSimilarity(measure="cosine", alpha=0.5, beta=0.5).config.alpha == 0.5
    # asymmetric cosine weighs the two lengths, alpha and 1 - alpha: past 1 it rewarded popular targets
    assert SparseSimilarity(measure="asymmetric_cosine", alpha=1.0).config.alpha == 1.0
    said = r"asymmetric_cosine's alpha weighs the two rows' lengths, so it is in \[0, 1\]"
    with pytest.raises(ValueError, match=said):
        SparseSimilarity(measure="asymmetric_cosine", alpha=1.5)


def test_stored_zeros_are_no_edges_and_alpha_defaults_to_the_plain_walk():
    dense = np.array([[1.0, 2, 0], [3, 0, 1], [0, 1, 1]])
    # row 0 stores a zero in column 2
    stored = sp.csr_array(([1.0, 2, 0, 3, 1, 1, 1], [0, 1, 2, 0, 2, 1, 2], [0, 3, 5, 7]), shape=(3, 3))
    for alpha in (None, 0.0):
        params = {} if alpha is None else {"alpha": alpha}
        a = SparseSimilarity(k=2, measure="p3alpha", **params).fit(stored).neighbours()
        b = SparseSimilarity(k=2, measure="p3alpha", **params).fit(sp.csr_array(dense)).neighbours()
        np.testing.assert_array_equal(a.indices, b.indices)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12)
    explicit = SparseSimilarity(k=2, measure="p3alpha", alpha=1.0).fit(sp.csr_array(dense)).neighbours()
    np.testing.assert_array_equal(
        explicit.scores, SparseSimilarity(k=2, measure="p3alpha").fit(sp.csr_array(dense)).neighbours().scores
    )


def test_updates_search_again_and_say_why():
    for config in ({"measure": "p3alpha"}, {"measure": "rp3beta"}, {"measure": "cosine", "normalise": "l1"}):
        backend = SparseSimilarity(**config)
        assert backend.update_obstacle(False) is not None
        assert backend.update_measure() is None
    assert "walks through columns" in SparseSimilarity(measure="rp3beta").update_obstacle(False)


@pytest.mark.parametrize("orientation", ["users", "items"])
@pytest.mark.parametrize(
    ("measure", "params"),
    [
        ("p3alpha", {"alpha": 1.0}),
        ("p3alpha", {"alpha": 0.7}),
        ("rp3beta", {"alpha": 1.0, "beta": 0.6}),
        ("rp3beta", {"alpha": 0.8, "beta": 1.2}),
    ],
)
def test_parity_with_similaripy(measure, params, orientation):
    similaripy = pytest.importorskip(
        "similaripy", reason="parity with similaripy needs the parity extra: pip install 'recframe[parity]'"
    )
    ratings = skewed_ratings(seed=21, n_users=60, n_items=45)
    rows = ratings if orientation == "users" else sp.csr_array(ratings.T)
    n, k = rows.shape[0], 10
    full = getattr(similaripy, measure)(rows, k=n, verbose=False, format_output="csr", **params)
    reference = full.toarray().astype(np.float64)
    np.fill_diagonal(reference, 0.0)  # similaripy lists a row as its own neighbour; recframe never does
    for engine in ENGINES:
        graph = SparseSimilarity(k=k, measure=measure, engine=engine, **params).fit(rows).neighbours()
        np.testing.assert_allclose(
            graph.to_csr().toarray(), np.where(graph.to_csr().toarray() > 0, reference, 0.0), rtol=0, atol=1e-6
        )
        best = -np.sort(-reference, axis=1)[:, :k]
        np.testing.assert_allclose(graph.scores, best, rtol=0, atol=1e-6)
