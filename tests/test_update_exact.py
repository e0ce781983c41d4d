"""Incremental updates equal a full refit: random sequences of updates and removals over random data.

Each case fits a recommender, applies a random sequence of ``update`` (new users, new items,
more events of known users, repeated pairs that change a rating) and ``forget`` (users, items),
then fits a second recommender on the resulting events and compares: the same matrix bit for
bit, the same neighbour graphs up to exact ties at the ``k``-th place, and, where the graphs
hold the very same neighbours, the same recommendations, predictions and explanations.
The cases cover every measure of the ``sparse`` backend with its modifiers, scikit-learn's
metrics, both orientations, both engines, every matrix builder, and both the incremental path
(forced) and the automatic choice.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recframe import Interactions, Recommender
from recframe.engine import MEASURES
from recframe.recommender import graph_update
from recframe.testing import assert_same_neighbours, same_neighbour_sets

pytestmark = pytest.mark.filterwarnings("ignore::recframe.RecframeWarning")


@dataclass(frozen=True)
class Step:
    """One change: ``update`` with `size` events, or ``forget`` of `size` users or items."""

    kind: str
    seed: int
    size: int


steps = st.lists(
    st.builds(
        Step,
        st.sampled_from(["update", "update", "forget users", "forget items"]),
        st.integers(0, 2**31),
        st.integers(1, 40),
    ),
    min_size=1,
    max_size=4,
)


def events(
    seed: int, n: int, *, n_users: int = 90, n_items: int = 60, continuous: bool = True, skewed: bool = True
) -> Interactions:
    """Return `n` random events over sparse id ranges (new ids land between old ones), skewed like real data."""
    rng = np.random.default_rng(seed)
    if skewed:
        users = (rng.pareto(1.5, n) * 9).astype(np.int64) % n_users * 3
        items = (rng.pareto(1.2, n) * 7).astype(np.int64) % n_items * 5
    else:
        users, items = rng.integers(0, n_users, n) * 3, rng.integers(0, n_items, n) * 5
    values = rng.uniform(0.5, 5.0, n).round(6) if continuous else rng.integers(1, 6, n).astype(np.float64)
    times = 1_600_000_000 + rng.integers(0, 1_000_000, n).astype(np.float64)
    return Interactions(users, items, values, times)


def apply(rec: Recommender, data: Interactions, step: Step, continuous: bool, skewed: bool = True) -> Interactions:
    """Apply `step` to `rec` and return the events a refit would see (unchanged if the step is impossible)."""
    rng = np.random.default_rng(step.seed)
    if step.kind == "update":
        part = events(step.seed, step.size, n_users=120, n_items=80, continuous=continuous, skewed=skewed)
        rec.update(part)
        return Interactions.concat(data, part)
    column = data.users if step.kind == "forget users" else data.items
    present = np.unique(column)
    chosen = rng.choice(present, size=min(len(present) - 1, 1 + step.size % 4), replace=False)
    drop = np.isin(column, chosen)
    if len(chosen) == 0 or drop.all():
        return data
    remaining = data.take(~drop)
    if len(np.unique(remaining.users)) < 2 or len(np.unique(remaining.items)) < 2:
        return data
    if step.kind == "forget users":
        rec.forget(users=chosen)
    else:
        rec.forget(items=chosen)
    return remaining


def assert_refit_equal(live: Recommender, data: Interactions, config: dict[str, Any]) -> bool:
    """Assert `live` answers as a refit on `data`; return whether the strong checks ran (no tie differed)."""
    ref = Recommender.from_config(config).fit(data)
    got, want = live._state(), ref._state()
    assert got.matrix.users == want.matrix.users
    assert got.matrix.items == want.matrix.items
    np.testing.assert_array_equal(got.matrix.matrix.indptr, want.matrix.matrix.indptr)
    np.testing.assert_array_equal(got.matrix.matrix.indices, want.matrix.matrix.indices)
    np.testing.assert_array_equal(got.matrix.matrix.data, want.matrix.matrix.data)
    assert set(got.graphs) == set(want.graphs)
    for axis in want.graphs:
        assert_same_neighbours(got.graphs[axis], want.graphs[axis])
    if not all(same_neighbour_sets(got.graphs[a], want.graphs[a]) for a in want.graphs):
        return False
    users = want.matrix.users.ids
    a, b = live.recommend(users, n=5), ref.recommend(users, n=5)
    np.testing.assert_allclose(a.scores, b.scores, rtol=0, atol=1e-9)
    assert_same_lists(a.ids, a.scores, b.ids, b.scores)
    rng = np.random.default_rng(0)
    pair_users = rng.choice(users, 30)
    pair_items = rng.choice(want.matrix.items.ids, 30)
    if config["ranker"]["type"] in ("item_cf", "user_cf"):
        p, q = live.predict(pair_users, pair_items), ref.predict(pair_users, pair_items)
        np.testing.assert_allclose(p.values, q.values, rtol=0, atol=1e-9)
        for user, item in zip(pair_users[:5].tolist(), pair_items[:5].tolist(), strict=True):
            e, f = live.explain(user, item), ref.explain(user, item)
            assert abs(e.score - f.score) <= 1e-9
            # the same terms; their order may differ only among contributions equal to rounding
            got = {c.neighbour: c.contribution for c in e.contributions}
            want_terms = {c.neighbour: c.contribution for c in f.contributions}
            assert got.keys() == want_terms.keys()
            assert all(abs(got[n] - want_terms[n]) <= 1e-9 for n in got)
            assert all(a.contribution >= b.contribution - 1e-9 for a, b in itertools.pairwise(e.contributions))
    return True


def assert_same_lists(ids: np.ndarray, scores: np.ndarray, want_ids: np.ndarray, want_scores: np.ndarray) -> None:
    """Assert ranked lists hold the same items, but for the order (or, at the end, the choice) among equal scores."""
    for row in range(ids.shape[0]):
        keep, want_keep = ~np.isnan(scores[row]), ~np.isnan(want_scores[row])
        got = dict(zip(ids[row][keep].tolist(), scores[row][keep].tolist(), strict=True))
        want = dict(zip(want_ids[row][want_keep].tolist(), want_scores[row][want_keep].tolist(), strict=True))
        last = min(want.values(), default=0.0)
        above = {i for i, v in want.items() if v > last + 1e-9} | {i for i, v in got.items() if v > last + 1e-9}
        assert above <= set(got) & set(want), f"row {row}: {got} != {want}"


def run_case(config: dict[str, Any], sequence: list[Step], *, continuous: bool = True, skewed: bool = True) -> bool:
    """Fit, apply `sequence`, and compare with a refit; return whether the strong checks ran."""
    data = events(7, 500 if skewed else 2000, continuous=continuous, skewed=skewed)
    live = Recommender.from_config(config).fit(data)
    for step in sequence:
        data = apply(live, data, step, continuous, skewed)
    return assert_refit_equal(live, data, config)


def config_of(similarity: dict[str, Any], ranker: str, matrix: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a run config with these components."""
    return {
        "matrix": matrix or {"type": "ratings", "duplicates": "last"},
        "similarity": similarity,
        "ranker": {"type": ranker},
    }


@pytest.fixture(params=["forced", "automatic"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Search in parts whenever the update allows (forced), or let the update choose."""
    if request.param == "forced":
        monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    return str(request.param)


EXAMPLES = int(os.environ.get("RECFRAME_UPDATE_EXAMPLES", "3"))
"""Random sequences per case; raise it for a longer search (``RECFRAME_UPDATE_EXAMPLES=200``)."""
EXPLORE = "RECFRAME_UPDATE_EXAMPLES" in os.environ
"""A search asked for by name draws new sequences each run; the suite's default run draws the same
ones every time (``derandomize``), so that its outcome never depends on the luck of the draw."""

SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not EXPLORE,
    database=None if not EXPLORE else settings.default.database,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
@pytest.mark.parametrize("measure", sorted(MEASURES))
@SETTINGS
@given(sequence=steps, slack=st.sampled_from([0, 4]))
def test_every_measure_matches_a_refit(measure: str, ranker: str, path: str, sequence: list[Step], slack: int) -> None:
    engine = "numba" if sorted(MEASURES).index(measure) % 2 else "scipy"
    similarity = {"type": "sparse", "measure": measure, "k": 6, "engine": engine, "update_slack": slack}
    run_case(config_of(similarity, ranker), sequence)


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("measure", ["cosine", "dot"])
@SETTINGS
@given(sequence=steps, slack=st.sampled_from([0, 3, 20]))
def test_dot_product_lists_match_a_refit(
    measure: str, engine: str, ranker: str, path: str, sequence: list[Step], slack: int
) -> None:
    """The lists updated from dot products (the compiled kernel and the scipy blocks) equal a refit's."""
    similarity = {"type": "sparse", "measure": measure, "k": 5, "engine": engine, "update_slack": slack}
    run_case(config_of(similarity, ranker), sequence)


@pytest.mark.parametrize(
    "modifiers",
    [
        {"measure": "cosine", "shrinkage": 3.0, "min_support": 2},
        {"measure": "pearson", "negative": "keep", "min_similarity": -0.5},
        {"measure": "jaccard", "min_support": 2},
        {"measure": "asymmetric_cosine", "alpha": 0.2, "shrinkage": 1.0},
    ],
)
@pytest.mark.parametrize("engine", ["numba", "scipy"])
@SETTINGS
@given(sequence=steps)
def test_modifiers_match_a_refit(modifiers: dict[str, Any], engine: str, path: str, sequence: list[Step]) -> None:
    similarity = {"type": "sparse", "k": 5, "engine": engine, **modifiers}
    run_case(config_of(similarity, "item_cf"), sequence)
    run_case(config_of(similarity, "user_cf"), sequence)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "manhattan"])
@SETTINGS
@given(sequence=steps)
def test_scikit_learn_metrics_match_a_refit(metric: str, path: str, sequence: list[Step]) -> None:
    similarity = {"type": "sklearn_nn", "metric": metric, "k": 6, "update_slack": 3}
    run_case(config_of(similarity, "item_cf"), sequence)
    run_case(config_of(similarity, "user_cf"), sequence)


@pytest.mark.parametrize(
    "matrix",
    [
        {"type": "ratings", "duplicates": "mean"},
        {"type": "ratings", "duplicates": "sum"},
        {"type": "ratings", "duplicates": "first"},
        {"type": "ratings", "duplicates": "max"},
        {"type": "binary", "threshold": 3.0},
        {"type": "bm25"},
        {"type": "tfidf"},
        {"type": "log_confidence"},
    ],
)
@SETTINGS
@given(sequence=steps)
def test_every_matrix_builder_matches_a_refit(matrix: dict[str, Any], path: str, sequence: list[Step]) -> None:
    similarity = {"type": "sparse", "k": 6}
    run_case(config_of(similarity, "item_cf", matrix), sequence, continuous=False)
    run_case(config_of(similarity, "user_cf", matrix), sequence, continuous=False)


@pytest.mark.parametrize("measure", ["cosine", "dot", "pearson", "asymmetric_cosine", "msd"])
@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_strong_checks_run_on_continuous_ratings(measure: str, ranker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With continuous ratings on even data there are no ties: recommendations, predictions, explanations agree."""
    monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    sequence = [Step("update", 3, 30), Step("forget users", 4, 2), Step("update", 5, 12), Step("forget items", 6, 1)]
    similarity = {"type": "sparse", "measure": measure, "k": 8}
    assert run_case(config_of(similarity, ranker), sequence, skewed=False)


def test_forced_path_searches_in_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The incremental path is taken, and merges rows (so the tests above exercise it)."""
    monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    config = config_of({"type": "sparse", "measure": "pearson", "k": 8}, "user_cf")
    live = Recommender.from_config(config).fit(events(7, 500))
    live.update(events(11, 5, n_users=120, n_items=80))
    record = live.lineage[-1]["neighbours"]["users"]
    assert record["mode"] == "incremental"
    assert record["rows_merged"] > 0
    assert record["rows_searched"] < live.interaction_matrix.n_users


@pytest.mark.parametrize("measure", ["cosine", "dot"])
def test_dot_product_updates_merge_most_rows(measure: str) -> None:
    """Cosine and dot lists with slack are updated from the change of the dot products, rarely searched again."""
    config = config_of({"type": "sparse", "measure": measure, "k": 5, "update_slack": 5}, "item_cf")
    data = events(7, 3000, n_users=300, n_items=60, skewed=False)
    live = Recommender.from_config(config).fit(data)
    part = events(12, 30, n_users=300, n_items=60, skewed=False)
    live.update(part)
    record = live.lineage[-1]["neighbours"]["items"]
    assert record["mode"] == "delta"
    assert record["rows_merged"] > 0
    assert record["rows_searched"] < live.interaction_matrix.n_items
    assert assert_refit_equal(live, Interactions.concat(data, part), config)


def test_a_tie_at_the_kth_place_is_broken_by_lower_row_as_a_refit_does() -> None:
    """u3's similarity to u0 falls to exactly u0's old ``k``-th: a refit lists u1 and u2, the lower rows of the tie.

    By hand: u0 = {a, b, c}; jaccard with u1 = {a, d} and u2 = {b, e} is 1/4 each, with u3 = {a, b}
    2/3, then 2/8 = 1/4 once u3 rated five more items. The merge kept u1 and the changed u3.
    """
    config = {"similarity": {"type": "sparse", "measure": "jaccard", "k": 2}, "ranker": {"type": "user_cf", "n": 5}}
    base = {"user": [0, 0, 0, 1, 1, 2, 2, 3, 3], "item": [0, 1, 2, 0, 3, 1, 4, 0, 1]}
    new = {"user": [3] * 5, "item": [5, 6, 7, 8, 9]}
    live = Recommender.from_config(config).fit(base).update(new)
    graph = live._state().graphs["users"]
    assert graph.indices[0].tolist() == [1, 2] and graph.scores[0].tolist() == [0.25, 0.25]
    assert live.recommend(0).to_dict() == {0: [(3, 0.25), (4, 0.25)]}


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_a_replaced_rating_that_dominated_a_dot_product_is_computed_again(engine: str) -> None:
    """u0's 1e10 on items a and b made their old dot product 1e20; replaced by 2.5, it is 2.5e10 + 1.94.

    By hand: a = (2.5, 1.3, 0.7), b = (1e10, 0.9, 1.1) over u0-u2, so cos(a, b) = (2.5e10 + 1.94)
    / (|a| |b|) = 0.8610457... The old dot product plus the change sums terms of 1e20 to 2.5e10:
    its rounding (~1e4) would leave the similarity 5e-8 off, so the update computes it from the
    new rows, as a refit does.
    """
    config = {
        "matrix": {"type": "ratings", "duplicates": "last"},
        "similarity": {"type": "sparse", "k": 3, "engine": engine},
        "ranker": {"type": "item_cf"},
    }
    base = Interactions([0, 0, 1, 1, 1, 2, 2, 3], ["a", "b", "a", "b", "c", "a", "b", "c"],
                        [1e10, 1e10, 1.3, 0.9, 2.0, 0.7, 1.1, 4.0])  # fmt: skip
    part = Interactions([0], ["a"], [2.5])
    live = Recommender.from_config(config).fit(base).update(part)
    a, b = np.array([2.5, 1.3, 0.7]), np.array([1e10, 0.9, 1.1])
    graph = live._state().graphs["items"]
    assert graph.indices[0, 0] == 1
    assert abs(graph.scores[0, 0] - a @ b / np.linalg.norm(a) / np.linalg.norm(b)) <= 1e-12
    assert assert_refit_equal(live, Interactions.concat(base, part), config)


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_a_row_shrunk_by_a_replaced_rating_has_its_listed_pairs_computed_again(engine: str) -> None:
    """u0's 1e17 for item a, replaced by 2, shrinks a 10^17-fold; u0 also rates b: 3.

    By hand: a = (2, 1.3, 0.7, 0), b = (3, 0.9, 1.1, 2) over u0-u3, cos(a, b) = 7.94 / (|a| |b|)
    = 0.8241216... The change of the pair's dot product sums (2 - 1e17) x 3 and 1e17 x 3, whose
    rounding (16 each) left 0.2013597; a row shrunk beyond ``SHRUNK_EXACT`` has its pairs
    computed from the new rows.
    """
    config = {
        "matrix": {"type": "ratings", "duplicates": "last"},
        "similarity": {"type": "sparse", "k": 3, "engine": engine},
        "ranker": {"type": "item_cf"},
    }
    base = Interactions([0, 1, 1, 2, 2, 3, 3], ["a", "a", "b", "a", "b", "b", "c"],
                        [1e17, 1.3, 0.9, 0.7, 1.1, 2.0, 4.0])  # fmt: skip
    part = Interactions([0, 0], ["a", "b"], [2.0, 3.0])
    live = Recommender.from_config(config).fit(base).update(part)
    assert live.lineage[-1]["neighbours"]["items"]["rows_shrunk"] == 1
    a, b = np.array([2.0, 1.3, 0.7, 0.0]), np.array([3.0, 0.9, 1.1, 2.0])
    graph = live._state().graphs["items"]
    assert graph.indices[0, 0] == 1
    assert abs(graph.scores[0, 0] - a @ b / np.linalg.norm(a) / np.linalg.norm(b)) <= 1e-12
    assert assert_refit_equal(live, Interactions.concat(base, part), config)


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_dot_products_whose_change_sums_large_terms_are_searched_in_full(engine: str) -> None:
    """Found by an outside review: a play count of 766,867,351 replaced by 2 left a dot product 34 off.

    By hand: u1 = (2, 3, 0) and u3 = (860567313, 7, 5) over items 10-12 after the update, so
    dot(u1, u3) = 2 x 860567313 + 3 x 7 = 1,721,134,647. Its change sums (2 - 766867351) x
    860567313 and 766867351 x 860567313, about 6.6e17 each, whose rounding left 1,721,134,613
    (2e-8 of it, where 1e-9 is promised): such an update searches the rows in full.
    """
    config = {
        "matrix": {"type": "ratings", "duplicates": "last"},
        "similarity": {"type": "sparse", "measure": "dot", "k": 3, "update_slack": 2, "engine": engine},
        "ranker": {"type": "user_cf"},
    }
    rng = np.random.default_rng(0)
    padding = [(100 + p, 1000 + int(i), float(rng.integers(1, 6))) for p in range(60) for i in rng.choice(40, 4, False)]
    hand = [(1, 10, 766867351.0), (1, 11, 3.0), (3, 11, 7.0), (3, 12, 5.0), (2, 10, 1.0)]
    users, items, values = zip(*hand, *padding, strict=True)
    base = Interactions(np.array(users), np.array(items), np.array(values))
    part = Interactions(np.array([1, 3]), np.array([10, 10]), np.array([2.0, 860567313.0]))
    live = Recommender.from_config(config).fit(base).update(part)
    record = live.lineage[-1]["neighbours"]["users"]
    assert record["mode"] == "full"
    assert record["reason"].startswith("the changed dot products sum terms up to 1.48e+18, whose")
    graph = live._state().graphs["users"]
    one, three = live.interaction_matrix.users.rows([1, 3]).tolist()
    assert graph.scores[one, graph.indices[one].tolist().index(three)] == 1_721_134_647.0
    assert assert_refit_equal(live, Interactions.concat(base, part), config)


def test_rows_too_short_for_normal_products_are_searched_in_full_and_said_so() -> None:
    """Item a's length is about 3.2e-150: a similarity times two such lengths is below 1e-299."""
    config = {"similarity": {"type": "sparse", "k": 3}, "ranker": {"type": "item_cf"}}
    base = Interactions([0, 0, 1, 1, 2, 2], ["a", "b", "a", "b", "b", "c"], [1e-150, 2e-150, 3e-150, 1e-150, 2.0, 4.0])
    part = Interactions([3, 3], ["a", "c"], [1.0, 2.0])
    live = Recommender.from_config(config).fit(base).update(part)
    record = live.lineage[-1]["neighbours"]["items"]
    assert record["mode"] == "full"
    assert record["reason"].startswith("a row's length is 3.16e-150, beyond 1e-145..1e+145, where a similarity")
    assert assert_refit_equal(live, Interactions.concat(base, part), config)


def test_scikit_learn_floors_of_zero_grow_with_shrinking_rows() -> None:
    """scikit-learn's cosine (one minus a distance) reports a similarity of 1e-41 as 0, the floor of a row.

    Ratings spanning 1e-30..1e30: updates and forgets of users and items then shrink rows by
    factors up to 10^40, and a pair below the floor may become the best. With floors of 0 the
    update kept the old lists (8 rows missed their best neighbour here); a cosine floor is at
    least ``COSINE_ROUNDING``, which grows with the rows' shrinking, so those rows are searched.
    """
    rng = np.random.default_rng(14)

    def part(seed: int, n: int) -> Interactions:
        draw = np.random.default_rng(seed)
        users = draw.pareto(1.3, n).astype(np.int64) % 60
        items = draw.pareto(1.1, n).astype(np.int64) % 40
        scale = 10.0 ** draw.uniform(-20, 20, 60)[users] * 10.0 ** draw.uniform(-10, 10, 40)[items]
        return Interactions(users, items, draw.uniform(0.5, 5, n) * scale)

    config = {
        "matrix": {"type": "ratings", "duplicates": "max"},
        "similarity": {"type": "sklearn_nn", "metric": "cosine", "k": 5, "update_slack": 2},
        "ranker": {"type": "item_cf"},
    }
    data = part(14, 300)
    live = Recommender.from_config(config).fit(data)
    for step in range(4):
        r = rng.random()
        if r < 0.5:
            new = part(14 * 7 + step + 10**6, 30)
            live.update(new)
            data = Interactions.concat(data, new)
            continue
        column = data.users if r < 0.75 else data.items
        gone = rng.choice(np.unique(column), 1 + step % 2, replace=False)
        live.forget(**{"users" if r < 0.75 else "items": gone})
        data = data.take(~np.isin(column, gone))
    got = live._state().graphs["items"]
    want = Recommender.from_config(config).fit(data)._state().graphs["items"]
    for row in range(want.indices.shape[0]):  # scikit-learn's 0s are noise of 1e-16: compared above 1e-12
        a = np.sort(got.scores[row][(got.indices[row] >= 0) & (got.scores[row] > 1e-12)])
        b = np.sort(want.scores[row][(want.indices[row] >= 0) & (want.scores[row] > 1e-12)])
        assert len(a) == len(b) and np.allclose(a, b, rtol=0, atol=1e-9), row


@pytest.mark.parametrize("measure", ["jaccard", "dice", "tversky"])
def test_lists_with_many_ties_equal_a_refits_exactly(measure: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On binary data (ties everywhere) the merged lists hold the very neighbours of a refit, in its order."""
    monkeypatch.setattr(graph_update, "FULL_SEARCH_FRACTION", 1.0)
    config = config_of({"type": "sparse", "measure": measure, "k": 4}, "user_cf", {"type": "binary"})
    for seed in range(6):
        data = events(seed, 300, n_users=40, n_items=30, continuous=False, skewed=False)
        live = Recommender.from_config(config).fit(data)
        for step in range(3):
            part = events(100 * seed + step, 6, n_users=50, n_items=35, continuous=False, skewed=False)
            live.update(part)
            data = Interactions.concat(data, part)
        assert live.lineage[-1]["neighbours"]["users"]["mode"] == "incremental"
        got, want = live._state().graphs["users"], Recommender.from_config(config).fit(data)._state().graphs["users"]
        np.testing.assert_array_equal(got.indices, want.indices, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(got.scores, want.scores, err_msg=f"seed {seed}")


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
@pytest.mark.parametrize("matrix", [{"type": "binary"}, {"type": "ratings", "duplicates": "last"}])
def test_cosine_updates_on_whole_and_half_values_equal_a_refit_to_the_bit(
    engine: str, ranker: str, matrix: dict[str, Any]
) -> None:
    """On binary data and half-star ratings an update's graph and answers are a refit's, bit for bit.

    Found by two outside reviews: the update read each old dot product back from its similarity
    (a few units off in the last place) and divided by the lengths' product where a fit multiplies
    by their inverses, so exactly tied similarities came out a unit apart and the tie went to
    another neighbour than a refit's lower row: 2.5-14% of users got other recommendations on
    binary data. Whole multiples of 1/256 are now taken back exactly, as the fit's formula gives.
    """
    rng = np.random.default_rng(7)
    n = 5000
    users = np.minimum(rng.zipf(1.6, n), 400) - 1
    items = np.minimum(rng.zipf(1.4, n), 150) - 1
    data = {"user": users, "item": items, "rating": rng.integers(1, 11, n) / 2.0}
    similarity = {"type": "sparse", "measure": "cosine", "k": 8, "engine": engine, "update_slack": 4}
    config = config_of(similarity, ranker, matrix)
    base = {name: values[:4000] for name, values in data.items()}
    live = Recommender.from_config(config).fit(base)
    for start in (4000, 4400):  # new users and items, known ones' new and changed ratings
        live.update({name: values[start : start + 400] for name, values in data.items()})
    live.forget(users=[int(users[4100])])
    refit = Recommender.from_config(config).fit(live.training_interactions)
    axis = "items" if ranker == "item_cf" else "users"
    assert live.lineage[-2]["neighbours"][axis]["mode"] == "delta"
    got, want = live._state().graphs[axis], refit._state().graphs[axis]
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.scores, want.scores)
    queries = np.asarray(refit.interaction_matrix.users.ids)
    a, b = live.recommend(queries, 10), refit.recommend(queries, 10)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.scores, b.scores)
