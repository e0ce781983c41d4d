"""Metric profiles: every axis by hand, every metric x profile against a brute-force loop, labels, run files.

The brute force below is written from each library's definitions (see the table in
docs/evaluation.md), one user and one rank at a time, so that it shares no code with the
vectorised metrics.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from recframe import ConfigError, Interactions, MetricInput, Recommender
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.metrics import F1, MAP, MRR, NDCG, HitRate, Precision, Recall
from recframe.builtin.metrics.profiles import PROFILE_AXES
from recframe.builtin.splitters import PredefinedSplitter

METRICS = {
    "precision": Precision,
    "recall": Recall,
    "f1": F1,
    "ndcg": NDCG,
    "map": MAP,
    "mrr": MRR,
    "hit_rate": HitRate,
}
TRAIN = RatingsMatrixBuilder().build(Interactions(users=np.arange(30) % 3, items=np.arange(30)))


def metric_input(items, relevant, scores=None, n_without_relevant=0) -> MetricInput:
    """A MetricInput from lists of item rows (``-1`` padded) and each user's {item: gain} truth."""
    items = np.asarray(items, dtype=np.int64)
    hits = np.array([[i in rel for i in row] for row, rel in zip(items.tolist(), relevant, strict=True)])
    gains = np.array([[rel.get(i, 0.0) for i in row] for row, rel in zip(items.tolist(), relevant, strict=True)])
    ideal = np.zeros((len(relevant), 40))
    for u, rel in enumerate(relevant):
        best = sorted(rel.values(), reverse=True)[:40]
        ideal[u, : len(best)] = best
    n_rel = np.array([len(rel) for rel in relevant], dtype=np.int64)
    scores = None if scores is None else np.asarray(scores, dtype=float)
    return MetricInput(items, hits, gains, n_rel, ideal, TRAIN, scores=scores, n_without_relevant=n_without_relevant)


# one user: list [a, b, c, d] with hits at ranks 1 and 3, |R| = 5; another: 2 of 4 places filled, hit at 2
TINY_TRUTH = [{0: 1.0, 2: 1.0, 7: 1.0, 8: 1.0, 9: 1.0}, {5: 1.0}]
TINY = metric_input([[0, 1, 2, 3], [4, 5, -1, -1]], TINY_TRUTH)


@pytest.mark.parametrize(
    ("metric", "options", "expected"),
    [
        (Precision, {}, [2 / 4, 1 / 4]),
        (Precision, {"denominator": "list"}, [2 / 4, 1 / 2]),
        (Precision, {"denominator": "min_k_relevant"}, [2 / 4, 1 / 1]),
        (Recall, {}, [2 / 5, 1]),
        (Recall, {"denominator": "min_k_relevant"}, [2 / 4, 1]),
        (NDCG, {}, [(1 + 1 / 2) / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)), 1 / math.log2(3)]),
        (NDCG, {"discount": "log2(max(r,2))"}, [(1 + 1 / math.log2(3)) / (2 + 1 / math.log2(3) + 1 / 2), 1.0]),
        (
            NDCG,
            {"ideal": "k"},
            [
                (1 + 1 / 2) / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)),
                (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)),
            ],
        ),
        (NDCG, {"ideal": "list"}, [(1 + 1 / 2) / (1 + 1 / math.log2(3)), 1 / math.log2(3)]),
        (MAP, {}, [(1 + 2 / 3) / 4, (1 / 2) / 1]),
        (MAP, {"denominator": "relevant"}, [(1 + 2 / 3) / 5, 1 / 2]),
        (MAP, {"denominator": "min_list_relevant"}, [(1 + 2 / 3) / 4, 1 / 2]),
        (MAP, {"denominator": "k"}, [(1 + 2 / 3) / 4, (1 / 2) / 4]),
        (MAP, {"denominator": "hits"}, [(1 + 2 / 3) / 2, 1 / 2]),
        (MRR, {}, [1, 1 / 2]),
        (HitRate, {}, [1, 1]),
        (F1, {}, [2 * (1 / 2) * (2 / 5) / (1 / 2 + 2 / 5), 2 * (1 / 4) * 1 / (1 / 4 + 1)]),
    ],
)
def test_every_axis_by_hand(metric, options, expected):
    np.testing.assert_allclose(metric(k=4, **options).compute(TINY), expected, rtol=0, atol=1e-15)


def test_graded_gains_by_hand():
    data = metric_input([[0, 1, 2]], [{0: 2.0, 2: 3.0, 5: 1.0}])
    dcg = 2 / 1 + 3 / 2
    np.testing.assert_allclose(NDCG(k=3, gain="rating").compute(data), [dcg / (3 + 2 / math.log2(3) + 1 / 2)])
    exp_dcg = 3 / 1 + 7 / 2
    np.testing.assert_allclose(NDCG(k=3, gain="exponential").compute(data), [exp_dcg / (7 + 3 / math.log2(3) + 1 / 2)])
    # IDCG built from the list: its own gains, best first
    np.testing.assert_allclose(NDCG(k=3, gain="rating", ideal="list").compute(data), [dcg / (3 + 2 / math.log2(3))])


def test_micro_averaging_and_users_without_relevant_items():
    micro = Precision(k=4, denominator="min_k_relevant", averaging="micro")
    values = micro.compute(TINY)
    assert micro.summarise(values, TINY) == pytest.approx((2 + 1) / (4 + 1))  # implicit's precision
    assert Recall(k=4, averaging="micro").summarise(Recall(k=4).compute(TINY), TINY) == pytest.approx(3 / 6)
    padded = metric_input([[0, 1, 2, 3], [4, 5, -1, -1]], TINY_TRUTH, n_without_relevant=2)
    zero = NDCG(k=4, without_relevant="zero")
    assert zero.summarise(zero.compute(padded), padded) == pytest.approx(NDCG(k=4).compute(padded).sum() / 4)
    assert NDCG(k=4).summarise(NDCG(k=4).compute(padded), padded) == pytest.approx(NDCG(k=4).compute(padded).mean())


def test_ties_id_descending_reorders_equal_scores_by_item_id_as_strings():
    # item rows 1, 2, 10 have ids "1", "2", "10": as strings "2" > "10" > "1"
    data = metric_input([[1, 10, 2]], [{2: 1.0}], scores=[[0.5, 0.5, 0.5]])
    assert MRR(k=3).compute(data)[0] == pytest.approx(1 / 3)
    assert MRR(k=3, ties="id_descending").compute(data)[0] == pytest.approx(1.0)
    # a tie at the cut-off: the hit moves into the top 1 only by the tie rule
    assert Precision(k=1, ties="id_descending").compute(data)[0] == 1.0 > Precision(k=1).compute(data)[0]
    unscored = metric_input([[1, 10, 2]], [{2: 1.0}])
    with pytest.raises(ValueError, match="lists' scores were not given"):
        MRR(k=3, ties="id_descending").compute(unscored)


# ---- brute force, one user and one rank at a time ----------------------------------------------------------


def brute(name: str, axes: dict[str, str], k: int, row: list[int], rel: dict[int, float]) -> float:
    """One user's value of metric `name` under `axes`, by the textbook loops."""
    listed = [i for i in row[:k] if i >= 0]
    hit = [i in rel for i in listed]
    hits, n_rel = sum(hit), len(rel)
    if name == "precision":
        den = {"k": k, "list": len(listed), "min_k_relevant": min(k, n_rel)}[axes["denominator"]]
        return hits / den if den else 0.0
    if name == "recall":
        return hits / (n_rel if axes["denominator"] == "relevant" else min(k, n_rel))
    if name == "f1":
        p, r = hits / k, hits / n_rel
        return 2 * p * r / (p + r) if p + r else 0.0
    if name == "mrr":
        return next((1 / (r + 1) for r, h in enumerate(hit) if h), 0.0)
    if name == "hit_rate":
        return float(hits > 0)
    if name == "map":
        total, found = 0.0, 0
        for r, h in enumerate(hit):
            if h:
                found += 1
                total += found / (r + 1)
        den = {
            "relevant": n_rel,
            "min_k_relevant": min(k, n_rel),
            "min_list_relevant": min(n_rel, len(listed)),
            "k": k,
            "hits": hits,
        }[axes["denominator"]]
        return total / den if den else 0.0

    def gain(g: float) -> float:
        return {"binary": 1.0, "rating": g, "exponential": 2**g - 1}[axes["gain"]]

    def disc(r: int) -> float:
        return math.log2(r + 1) if axes["discount"] == "log2(r+1)" else math.log2(max(r, 2))

    dcg = sum(gain(rel[i]) / disc(r + 1) for r, i in enumerate(listed) if i in rel)
    if axes["ideal"] == "k":
        best = [1.0] * k
    elif axes["ideal"] == "list":
        best = sorted((gain(rel[i]) for i in listed if i in rel), reverse=True)
    else:
        best = sorted((gain(g) for g in rel.values()), reverse=True)[:k]
    idcg = sum(g / disc(r + 1) for r, g in enumerate(best))
    return dcg / idcg if idcg else 0.0


def random_case(seed: int, n_users: int = 40, width: int = 12):
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for _ in range(n_users):
        length = int(rng.integers(0, width + 1))
        row = rng.choice(30, size=length, replace=False).tolist() + [-1] * (width - length)
        pool = rng.choice(30, size=int(rng.integers(1, 15)), replace=False)
        truth.append({int(i): float(rng.integers(1, 6)) for i in pool})
        rows.append(row)
    return rows, truth


CASES = [(p, m) for p, metrics in PROFILE_AXES.items() for m in metrics]


@pytest.mark.parametrize(("profile", "name"), CASES)
def test_every_profile_equals_the_brute_force_on_random_lists(profile, name):
    rows, truth = random_case(CASES.index((profile, name)))
    scores = [[float(12 - r) if i >= 0 else np.nan for r, i in enumerate(row)] for row in rows]  # no ties
    data = metric_input(rows, truth, scores=scores)
    for k in (1, 5, 12, 20):
        metric = METRICS[name](k=k, profile=profile)
        axes = metric.config.resolved()
        expected = [brute(name, axes, k, row, rel) for row, rel in zip(rows, truth, strict=True)]
        values = metric.compute(data)
        np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
        if axes.get("averaging") == "micro":
            den = [min(k, len(rel)) for rel in truth]
            assert metric.summarise(values, data) == pytest.approx(np.dot(values, den) / sum(den), abs=1e-12)
        elif axes["empty_lists"] == "excluded":  # Microsoft Recommenders: the users with a list only
            listed = [e for e, row in zip(expected, rows, strict=True) if row and row[0] >= 0]
            assert metric.summarise(values, data) == pytest.approx(np.mean(listed) if listed else 0.0, abs=1e-12)
        else:
            assert metric.summarise(values, data) == pytest.approx(np.mean(expected), abs=1e-12)


def test_recframe_profile_keeps_todays_numbers():
    rows, truth = random_case(7)
    data = metric_input(rows, truth)
    for name, cls in METRICS.items():
        np.testing.assert_array_equal(cls(k=10).compute(data), cls(k=10, profile="recframe").compute(data), name)


# ---- labels, refusals, run files --------------------------------------------------------------------------


def test_labels_are_todays_for_todays_configs_and_distinct_otherwise():
    assert [m.label for m in (Precision(k=10), NDCG(k=5), MAP(k=10), Recall(k=3, denominator="min_k_relevant"))] == [
        "precision@10",
        "ndcg@5",
        "map@10",
        "recall_capped@3",
    ]
    assert NDCG(k=10, gain="exponential").label == "ndcg_exponential@10"
    assert MAP(k=10, denominator="relevant").label == "map@10[denominator=relevant]"
    assert MAP(k=10, denominator="min_k_relevant").label == "map@10"  # the default, given: the same metric
    assert NDCG(k=10, profile="lenskit").label == "ndcg@10[profile=lenskit]"
    assert NDCG(k=10, profile="lenskit", gain="rating").label == "ndcg@10[profile=lenskit,gain=rating]"
    assert NDCG(k=10, profile="lenskit", discount="log2(max(r,2))").label == "ndcg@10[profile=lenskit]"
    assert Recall(k=5, profile="lenskit").label == "recall@5[profile=lenskit]"
    assert (
        Precision(k=5, averaging="micro", denominator="list").label == "precision@5[denominator=list,averaging=micro]"
    )


def test_an_axis_beside_a_profile_overrides_it():
    metric = NDCG(k=10, profile="lenskit", discount="log2(r+1)")
    assert metric.config.resolved()["discount"] == "log2(r+1)"
    assert metric.label == "ndcg@10[profile=lenskit,discount=log2(r+1)]"
    assert metric.definition["axes"]["discount"] == "log2(r+1)" and metric.definition["profile"] == "lenskit"


@pytest.mark.parametrize(
    ("cls", "options", "message"),
    [
        (F1, {"profile": "lenskit"}, "profile 'lenskit' has no f1 metric"),
        (Recall, {"profile": "implicit"}, "profile 'implicit' has no recall metric"),
        (Precision, {"averaging": "micro", "without_relevant": "zero"}, "can't be combined"),
        (NDCG, {"ideal": "k", "gain": "rating"}, "needs gain 'binary'"),
        (NDCG, {"profile": "rectools", "gain": "rating"}, "needs gain 'binary'"),
    ],
)
def test_impossible_combinations_are_refused(cls, options, message):
    with pytest.raises(ValidationError, match=message):
        cls(k=5, **options)


def evaluate(*metrics):
    train = Interactions(np.array([1, 1, 2, 2, 3, 3]), np.array([10, 11, 10, 12, 11, 12]))
    test = Interactions(np.array([1, 2, 3]), np.array([12, 11, 10]))
    return Recommender(splitter=PredefinedSplitter(), metrics=list(metrics)).evaluate(train, test=test)


def test_two_map_variants_get_two_labels_and_definitions_in_metrics_json():
    result = evaluate(MAP(k=2), MAP(k=2, denominator="relevant"), MAP(k=2, profile="lenskit"))
    assert list(result.metrics) == ["map@2", "map@2[denominator=relevant]", "map@2[profile=lenskit]"]
    summary = json.loads(json.dumps(result.summary()))
    assert list(summary["definitions"]) == list(result.metrics)
    lenskit = summary["definitions"]["map@2[profile=lenskit]"]
    assert lenskit["axes"]["denominator"] == "min_list_relevant" and "LensKit 2025.8" in lenskit["source"]
    assert "min(list length, |R|)" in lenskit["formula"]


def test_the_same_metric_twice_is_refused_naming_both_entries():
    with pytest.raises(ConfigError, match=r"metrics\[2\] and evaluation\.metrics\[0\] are both 'ndcg@2'"):
        evaluate(NDCG(k=2), MRR(k=2), NDCG(k=2, gain="binary"))


def test_a_run_file_takes_profiles_and_counts_users_without_relevant_items():
    config = {
        "data": {"type": "synthetic", "n_users": 60, "n_items": 40, "seed": 3},
        "evaluation": {
            "split": "temporal_global",
            "relevance_threshold": 4,
            "metrics": [
                "ndcg@5",
                {"type": "ndcg", "k": 5, "profile": "lenskit"},
                {"type": "ndcg", "k": 5, "without_relevant": "zero"},
            ],
        },
    }
    result = Recommender.from_config(config).evaluate()
    fold = result.folds[0]
    without = fold.counts["n_without_relevant"]
    assert without > 0
    plain = fold.per_user["ndcg@5"]
    zero = fold.metrics["ndcg@5[without_relevant=zero]"]
    # every user without a relevant item is evaluable: the default ranker has a fallback
    assert fold.counts["n_skipped"] == 0
    assert zero == pytest.approx(plain.sum() / (len(plain) + without), abs=1e-15)
    assert fold.metrics["ndcg@5"] == pytest.approx(plain.mean())


def test_other_metrics_keep_the_plain_mean_and_a_default_definition():
    from recframe.builtin.metrics import Coverage

    coverage = Coverage(k=5)
    assert coverage.definition["formula"].startswith("Catalogue coverage@k (of the run)")
    assert coverage.definition["options"] == {"k": 5}
    values = np.array([0.0, 1.0, 0.5])
    assert Precision(k=2).summarise(values, TINY) == pytest.approx(0.5)


def test_ms_recommenders_averages_precision_recall_and_map_over_the_users_with_a_list():
    """Its merge_ranking_true_pred keeps the users in both truth and predictions; nDCG's outer merge keeps all."""
    from recframe import Interactions, Recommender

    train = Interactions(np.array([0, 0, 0, 1, 1, 1, 2, 2, 3]), np.array([0, 1, 2, 1, 2, 3, 0, 3, 9]))
    test = Interactions(np.array([0, 1, 2, 3]), np.array([3, 0, 1, 0]))  # user 3's only item has no neighbour
    metrics = [{"type": m, "k": 5, "profile": "ms_recommenders"} for m in ("precision", "recall", "map", "ndcg")]
    rec = Recommender.from_config(
        {"similarity": {"type": "sparse", "k": 10}, "ranker": {"type": "item_cf", "n": 5, "fallback": None},
         "evaluation": {"metrics": metrics}}
    )
    rec.splitter = None
    result = rec.evaluate(train, test=test)
    got = {label.split("@")[0]: value for label, value in result.metrics.items()}
    assert got == pytest.approx({"precision": 0.2, "recall": 1.0, "map": 1.0, "ndcg": 0.75}, abs=1e-12)
    assert result.per_user["precision@5[profile=ms_recommenders]"].tolist() == pytest.approx([0.2, 0.2, 0.2, 0.0])
    assert "users with an empty list left out of the mean" in Precision(k=5, profile="ms_recommenders").definition[
        "formula"
    ]
