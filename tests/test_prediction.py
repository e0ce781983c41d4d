"""Rating prediction (item_cf, user_cf): by hand, against brute force, fallbacks, RMSE/MAE, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import ConfigError, Interactions, MetricInput, NeighbourGraph, Recommender
from recframe.builtin.metrics import MAE, RMSE
from recframe.builtin.splitters import PredefinedSplitter
from recframe.cli import main
from recframe.engine import PredictionSettings, RatingStatistics, predict_ratings
from recframe.interfaces import RatedPairs
from recframe.testing import random_interactions


def neighbour_average(ratings, graph, users, items, *, axis, fallback, **settings):
    """Predict with the basic variant (or others via `settings`) and the given fallback."""
    chosen = PredictionSettings(fallback=fallback, **settings)
    return predict_ratings(
        ratings, graph, users, items, axis=axis, settings=chosen, statistics=RatingStatistics.fit(ratings, chosen)
    )

# 3 users x 4 items
R = sp.csr_array(np.array([[5.0, 3.0, 0.0, 1.0], [4.0, 0.0, 0.0, 1.0], [0.0, 1.0, 5.0, 4.0]]))
ITEM_GRAPH = NeighbourGraph(  # each item's 2 nearest items
    np.array([[3, 1], [0, 3], [3, -1], [2, 0]]), np.array([[0.9, 0.5], [0.5, 0.4], [0.8, 0.0], [0.8, 0.9]]), 4
)
USER_GRAPH = NeighbourGraph(np.array([[1, 2], [0, -1], [0, 1]]), np.array([[0.7, 0.2], [0.7, 0.0], [0.2, 0.1]]), 3)


def test_item_based_prediction_by_hand():
    p = neighbour_average(R, ITEM_GRAPH, np.array([0, 1, 2]), np.array([2, 1, 0]), axis="items", fallback="user_mean")
    # user 0, item 2: neighbour 3 (0.8) rated 1 -> 1.0
    # user 1, item 1: neighbours 0 (0.5, rated 4) and 3 (0.4, rated 1) -> (2 + 0.4) / 0.9
    # user 2, item 0: neighbours 3 (0.9, rated 4), 1 (0.5, rated 1) -> (3.6 + 0.5) / 1.4
    np.testing.assert_allclose(p.values, [1.0, 2.4 / 0.9, 4.1 / 1.4])
    assert p.n_fallback == 0


def test_user_based_prediction_by_hand_and_fallbacks():
    users, items = np.array([0, 0, 1, 2, -1, 1]), np.array([2, 1, 1, 0, 0, -1])
    p = neighbour_average(R, USER_GRAPH, users, items, axis="users", fallback="user_mean")
    # (0, 2): neighbours 1 (no rating of 2) and 2 (0.2, rated 5) -> 5.0
    # (0, 1): neighbour 2 rated 1 -> 1.0 (user 1 did not rate item 1)
    # (1, 1): only neighbour 0 (0.7, rated 3) -> 3.0
    # (2, 0): neighbours 0 (0.2, 5) and 1 (0.1, 4) -> (1.0 + 0.4) / 0.3
    # (-1, 0): unknown user -> global mean; (1, -1): unknown item -> user 1's mean 2.5
    global_mean = R.data.mean()
    np.testing.assert_allclose(p.values, [5.0, 1.0, 3.0, 1.4 / 0.3, global_mean, 2.5])
    assert p.source_names().tolist() == ["neighbours"] * 4 + ["global_mean", "user_mean"]
    by_item = neighbour_average(R, USER_GRAPH, users[4:], items[4:], axis="users", fallback="item_mean")
    np.testing.assert_allclose(by_item.values, [4.5, global_mean])  # item 0's mean; unknown item
    by_global = neighbour_average(R, USER_GRAPH, users[4:], items[4:], axis="users", fallback="global_mean")
    assert by_global.values.tolist() == [global_mean, global_mean]


def brute(ratings: np.ndarray, graph: NeighbourGraph, u: int, i: int, axis: str) -> float | None:
    num = den = 0.0
    target = i if axis == "items" else u
    for n, s in zip(graph.indices[target], graph.scores[target], strict=True):
        if n < 0:
            continue
        r = ratings[u, n] if axis == "items" else ratings[n, i]
        if r != 0:
            num += s * r
            den += abs(s)
    return num / den if den > 0 else None


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_predictions_equal_brute_force(ranker):
    data = random_interactions(50, 40, density=0.2, seed=4)
    rec = Recommender.from_config({"similarity": {"type": "sklearn_nn", "k": 6}, "ranker": ranker}).fit(data)
    matrix = rec.interaction_matrix
    axis = "items" if ranker == "item_cf" else "users"
    graph = rec.fitted_ranker.neighbours_
    rng = np.random.default_rng(0)
    users, items = rng.integers(50, size=400), rng.integers(40, size=400)
    got = rec.fitted_ranker.predict(users, items)
    dense = matrix.matrix.toarray()
    means = dense.sum(axis=1) / (dense != 0).sum(axis=1)
    for k, (u, i) in enumerate(zip(users.tolist(), items.tolist(), strict=True)):
        expected = brute(dense, graph, u, i, axis)
        assert got.values[k] == pytest.approx(means[u] if expected is None else expected, rel=1e-12)
        assert (got.source[k] == 0) == (expected is not None)


def test_rmse_and_mae_by_hand():
    ratings = RatedPairs(np.array([4.0, 2.0, 5.0]), np.array([3.0, 2.5, 5.0]), np.zeros(3, dtype=bool))
    data = MetricInput(np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=bool), np.zeros((1, 1)),
                       np.ones(1, dtype=np.int64), np.ones((1, 1)), None, ratings)  # type: ignore[arg-type]
    assert RMSE().compute(data) == pytest.approx(math.sqrt((1 + 0.25) / 3))
    assert MAE().compute(data) == pytest.approx(1.5 / 3)
    assert RMSE().label == "rmse" and MAE().label == "mae"


def test_evaluation_reports_rmse_from_the_rankers_predictions():
    config = {
        "data": {"type": "synthetic", "n_users": 200, "n_items": 90},
        "similarity": {"type": "sklearn_nn", "k": 15},
        "evaluation": {"split": "temporal_global", "metrics": ["rmse", "mae", "ndcg@5"]},
    }
    rec = Recommender.from_config(config)
    result = rec.evaluate()
    _, test = rec.splitter.split(rec.load_data(), rec._rng(1))
    predicted = rec.predict(test.users, test.items).values
    assert result.metrics["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - test.values) ** 2)))
    assert result.metrics["mae"] == pytest.approx(np.mean(np.abs(predicted - test.values)))
    counts = result.folds[0].counts
    assert counts["n_rated"] == len(test) and 0 <= counts["n_prediction_fallback"] < len(test)
    assert "rmse" not in result.per_user


@pytest.mark.parametrize("unseen", ["keep", "drop"])
def test_rmse_scores_the_test_part_that_unseen_items_leaves(unseen: str) -> None:
    """By hand: (1, c) is predicted 4 (u1's mean: c's one neighbour a is u1's 4), (3, zzz) 1 (u3's mean)."""
    train = {"user": [1, 1, 2, 2, 3], "item": ["a", "b", "a", "c", "b"], "rating": [4.0, 2.0, 5.0, 3.0, 1.0]}
    test = {"user": [1, 3], "item": ["c", "zzz"], "rating": [5.0, 1.0]}
    rec = Recommender.from_config({"evaluation": {"metrics": ["rmse", "mae"], "unseen_items": unseen}})
    rec.splitter = None
    result = rec.evaluate(train, test=test)
    assert rec.predict([1, 3], ["c", "zzz"]).values.tolist() == [4.0, 1.0]
    want = {"keep": (math.sqrt(1 / 2), 1 / 2, 2), "drop": (1.0, 1.0, 1)}[unseen]
    metrics, counts = result.metrics, result.folds[0].counts
    assert (metrics["rmse"], metrics["mae"], counts["n_rated"]) == pytest.approx(want)


def test_rmse_needs_a_predicting_ranker_and_ratings():
    base = {"data": {"type": "synthetic", "n_users": 100, "n_items": 50},
            "evaluation": {"split": "temporal_global", "metrics": ["rmse"]}}
    with pytest.raises(ConfigError, match=r"rmse needs rating predictions, but ranker 'popularity' .* can't predict"):
        Recommender.from_config({**base, "ranker": "popularity"}).evaluate()
    untimed = random_interactions(40, 30, seed=1)
    unrated = Interactions(untimed.users, untimed.items, None, untimed.timestamps)
    with pytest.raises(ConfigError, match=r"metric 'rmse' .* the training data has no ratings"):
        Recommender.from_config(base).evaluate(unrated)
    unrated_test = (untimed.users[:10], untimed.items[:10])  # ratings to train on, none to test against
    with pytest.raises(ConfigError, match="rmse needs held-out ratings, but the test interactions have none"):
        Recommender(splitter=PredefinedSplitter(), metrics=[RMSE()]).evaluate(untimed, test=unrated_test)


def test_recframe_predict_command(tmp_path, capsys):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("data: {type: synthetic, n_users: 100, n_items: 50}\nsimilarity: {type: sklearn_nn, k: 10}\n")
    assert main(["predict", str(run_file), "--user", "3", "--item", "4", "--item", "999", "-q", "--json"]) == 3
    assert capsys.readouterr().err == "error: unknown item 999; not in the training data\n"  # as similar, explain
    assert main(["predict", str(run_file), "--user", "3", "--item", "4", "-q", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["user"] == 3 and [p["item"] for p in out["predictions"]] == [4]
    rec = Recommender.from_config(str(run_file)).fit()
    assert out["predictions"][0]["rating"] == pytest.approx(float(rec.predict([3], [4]).values[0]))
