"""Metrics against hand-computed values, and against a brute-force implementation on random data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recframe import Interactions, MetricInput
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.metrics import (
    F1,
    MAP,
    MRR,
    NDCG,
    AveragePopularity,
    Coverage,
    Gini,
    HitRate,
    IntraListDiversity,
    Novelty,
    Precision,
    Recall,
)
from recframe.evaluation import held_out, metric_input
from recframe.testing import random_interactions

HITS = np.array([[True, False, True, False], [False, False, False, False], [False, True, False, False]])
N_REL = np.array([3, 2, 1])

# 4 users x 5 items; item popularity (training users) [4, 2, 1, 1, 1]
TRAIN = RatingsMatrixBuilder().build(
    Interactions(users=np.array([0, 0, 0, 1, 1, 2, 2, 3, 3]), items=np.array([0, 1, 2, 0, 3, 0, 1, 0, 4]))
)


def data(hits=HITS, n_rel=N_REL, gains=None, ideal=None, items=None) -> MetricInput:
    """A MetricInput for hand checks: items default to 0..n-1 in every row."""
    hits = np.asarray(hits)
    items = np.tile(np.arange(hits.shape[1]), (hits.shape[0], 1)) if items is None else np.asarray(items)
    gains = hits.astype(float) if gains is None else np.asarray(gains, dtype=float)
    if ideal is None:
        ideal = (np.arange(8)[None, :] < np.asarray(n_rel)[:, None]).astype(float)
    return MetricInput(items, hits, gains, np.asarray(n_rel), np.asarray(ideal, dtype=float), TRAIN)


def test_precision_by_hand():
    np.testing.assert_allclose(Precision(k=4).compute(data()), [2 / 4, 0, 1 / 4])
    # k larger than the list: missing places are misses
    np.testing.assert_allclose(Precision(k=8).compute(data()), [2 / 8, 0, 1 / 8])


def test_recall_by_hand_with_both_denominators():
    np.testing.assert_allclose(Recall(k=2).compute(data()), [1 / 3, 0, 1 / 1])
    np.testing.assert_allclose(Recall(k=2, denominator="min_k_relevant").compute(data()), [1 / 2, 0, 1 / 1])
    assert Recall(k=2, denominator="min_k_relevant").label == "recall_capped@2"


def test_f1_by_hand():
    p, r = 2 / 4, 2 / 3
    np.testing.assert_allclose(F1(k=4).compute(data()), [2 * p * r / (p + r), 0, 2 * (1 / 4) / (1 / 4 + 1)])


def test_ndcg_by_hand():
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    np.testing.assert_allclose(NDCG(k=4).compute(data()), [dcg / idcg, 0, (1 / math.log2(3)) / 1])
    # with k = 2 the ideal list has only min(k, n_rel) = 2 hits
    np.testing.assert_allclose(NDCG(k=2).compute(data(HITS[:1], N_REL[:1])), [1 / (1 + 1 / math.log2(3))])


def test_graded_ndcg_by_hand():
    # one user: ranked gains 3 (rank 1), 0, 5 (rank 3); relevant ratings 5, 3, 2
    hits = [[True, False, True]]
    gains = [[3.0, 0.0, 5.0]]
    ideal = [[5.0, 3.0, 2.0, 0.0]]
    d = data(hits, [3], gains, ideal)
    dcg = 3 / math.log2(2) + 5 / math.log2(4)
    idcg = 5 / math.log2(2) + 3 / math.log2(3) + 2 / math.log2(4)
    np.testing.assert_allclose(NDCG(k=3, gain="rating").compute(d), [dcg / idcg])
    dcg_exp = 7 / math.log2(2) + 31 / math.log2(4)
    idcg_exp = 31 / math.log2(2) + 7 / math.log2(3) + 3 / math.log2(4)
    np.testing.assert_allclose(NDCG(k=3, gain="exponential").compute(d), [dcg_exp / idcg_exp])
    assert NDCG(k=3, gain="rating").label == "ndcg_rating@3"


def test_map_by_hand_with_both_denominators():
    # user 0: hits at ranks 1 and 3 -> (1/1 + 2/3) / min(4, 3)
    np.testing.assert_allclose(MAP(k=4).compute(data()), [(1 + 2 / 3) / 3, 0, (1 / 2) / 1])
    np.testing.assert_allclose(MAP(k=2, denominator="relevant").compute(data()), [1 / 3, 0, (1 / 2) / 1])


def test_mrr_and_hit_rate_by_hand():
    np.testing.assert_allclose(MRR(k=4).compute(data()), [1, 0, 1 / 2])
    np.testing.assert_allclose(MRR(k=1).compute(data()), [1, 0, 0])
    np.testing.assert_allclose(HitRate(k=1).compute(data()), [1, 0, 0])
    np.testing.assert_allclose(HitRate(k=2).compute(data()), [1, 0, 1])


def test_beyond_accuracy_by_hand():
    # lists: user 0 [0, 1], user 1 [0, 3], user 2 [4, -1]; popularity [4, 2, 1, 1, 1]
    items = np.array([[0, 1], [0, 3], [4, -1]])
    d = data(np.zeros((3, 2), dtype=bool), [1, 1, 1], items=items)
    assert Coverage(k=2).compute(d) == 4 / 5
    assert Coverage(k=1).compute(d) == 2 / 5
    # exposure [2, 1, 0, 1, 1], sorted [0, 1, 1, 1, 2]: sum (2i - 6) x_i / (5 * 5)
    assert Gini(k=2).compute(d) == pytest.approx(((-4 * 0) + (-2 * 1) + (0 * 1) + (2 * 1) + (4 * 2)) / 25)
    info = [-math.log2(c / 4) for c in (4, 2, 1, 1, 1)]
    np.testing.assert_allclose(Novelty(k=2).compute(d), [(info[0] + info[1]) / 2, (info[0] + info[3]) / 2, info[4]])
    np.testing.assert_allclose(AveragePopularity(k=2).compute(d), [3, 2.5, 1])
    # cosines of binary item columns: items 0 (users 0-3) and 1 (users 0, 2): 2 / sqrt(4 * 2)
    cos01, cos03 = 2 / math.sqrt(8), 1 / math.sqrt(4)
    np.testing.assert_allclose(IntraListDiversity(k=2).compute(d), [1 - cos01, 1 - cos03, 0.0])


def test_gini_is_zero_for_even_exposure_and_without_lists():
    even = data(np.zeros((5, 1), dtype=bool), [1] * 5, items=np.arange(5)[:, None])
    assert Gini(k=1).compute(even) == pytest.approx(0.0)
    empty = data(np.zeros((2, 1), dtype=bool), [1, 1], items=np.full((2, 1), -1))
    assert Gini(k=1).compute(empty) == 0.0
    assert Coverage(k=1).compute(empty) == 0.0


# --------------------------------------------------------------------------- brute force


def brute(name: str, ranked: list[int], relevant: dict[int, float], k: int, train_items: np.ndarray) -> float:
    """One user's metric from the plain list and the user's relevant {item: rating}."""
    top = [i for i in ranked[:k] if i >= 0]
    hits = [i in relevant for i in top] + [False] * (k - len(top))
    n_rel = len(relevant)
    found = sum(hits)
    if name == "precision":
        return found / k
    if name == "recall":
        return found / n_rel
    if name == "f1":
        p, r = found / k, found / n_rel
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)
    if name == "hit_rate":
        return float(found > 0)
    if name == "mrr":
        return next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0)
    if name in ("ndcg", "ndcg_rating"):
        graded = name == "ndcg_rating"
        dcg = sum((relevant[i] if graded else 1.0) / math.log2(r + 2) for r, i in enumerate(top) if i in relevant)
        best = sorted(relevant.values() if graded else [1.0] * n_rel, reverse=True)[:k]
        return dcg / sum(g / math.log2(r + 2) for r, g in enumerate(best))
    if name == "map":
        score, seen = 0.0, 0
        for r, h in enumerate(hits):
            if h:
                seen += 1
                score += seen / (r + 1)
        return score / min(k, n_rel)
    if name == "novelty":
        n_users = train_items.shape[0]
        return float(np.mean([-math.log2(train_items[:, i].sum() / n_users) for i in top])) if top else 0.0
    if name == "avg_popularity":
        return float(np.mean([train_items[:, i].sum() for i in top])) if top else 0.0
    raise AssertionError(name)


METRICS = {
    "precision": Precision, "recall": Recall, "f1": F1, "hit_rate": HitRate, "mrr": MRR, "ndcg": NDCG,
    "map": MAP, "novelty": Novelty, "avg_popularity": AveragePopularity,
}


@pytest.fixture(scope="module")
def random_case():
    """Training data, rated test pairs (some unseen items, some repeated) and random lists."""
    rng = np.random.default_rng(5)
    train = RatingsMatrixBuilder().build(random_interactions(60, 35, seed=5))
    n_pairs = 300
    items = train.items.ids[rng.integers(35, size=n_pairs)]
    items[rng.random(n_pairs) < 0.1] = -99  # never in training
    test = Interactions(train.users.ids[rng.integers(60, size=n_pairs)], items, rng.integers(1, 6, size=n_pairs) * 1.0)
    held = held_out(test, train.items)
    ranked = np.stack([rng.permutation(35)[:12] for _ in range(len(held.users))]).astype(np.int64)
    ranked[rng.random(len(ranked)) < 0.2, 8:] = -1
    relevant: dict[object, dict[int, float]] = {}
    for user, item, rating in zip(test.users.tolist(), test.items.tolist(), test.values.tolist(), strict=True):
        row = train.items.rows([item], missing="mark")[0] if item != -99 else -1
        key = row if row >= 0 else ("unseen", item)
        mine = relevant.setdefault(user, {})
        mine[key] = max(mine.get(key, 0.0), rating)
    return train, held, ranked, relevant


@pytest.mark.parametrize("name", [*METRICS, "ndcg_rating"])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_metrics_equal_brute_force(name, k, random_case):
    train, held, ranked, relevant = random_case
    d = metric_input(held, held.users, ranked, train, k)
    metric = NDCG(k=k, gain="rating") if name == "ndcg_rating" else METRICS[name](k=k)
    dense = train.matrix.toarray() > 0
    expected = [
        brute(name, ranked[u].tolist(), relevant[user], k, dense) for u, user in enumerate(held.users.ids.tolist())
    ]
    np.testing.assert_allclose(metric.compute(d), expected, rtol=1e-12)


def test_coverage_and_gini_equal_brute_force(random_case):
    train, held, ranked, _ = random_case
    d = metric_input(held, held.users, ranked, train, 5)
    shown = [i for row in ranked[:, :5] for i in row if i >= 0]
    assert Coverage(k=5).compute(d) == len(set(shown)) / train.n_items
    x = sorted(shown.count(i) for i in range(train.n_items))
    n = len(x)
    mean_difference = sum(abs(a - b) for a in x for b in x) / (n * n)
    assert Gini(k=5).compute(d) == pytest.approx(mean_difference / (2 * np.mean(x)))


def test_ild_equals_brute_force(random_case):
    train, held, ranked, _ = random_case
    d = metric_input(held, held.users, ranked, train, 6)
    columns = train.matrix.toarray().T
    expected = []
    for row in ranked[:, :6]:
        top = [i for i in row if i >= 0]
        pairs = [(a, b) for x, a in enumerate(top) for b in top[x + 1 :]]
        cos = [columns[a] @ columns[b] / np.linalg.norm(columns[a]) / np.linalg.norm(columns[b]) for a, b in pairs]
        expected.append(float(np.mean([1 - c for c in cos])) if pairs else 0.0)
    np.testing.assert_allclose(IntraListDiversity(k=6).compute(d), expected, rtol=1e-9, atol=1e-12)


def test_labels():
    assert NDCG(k=10).label == "ndcg@10" and HitRate(k=3).label == "hit_rate@3" and Coverage(k=5).label == "coverage@5"


@pytest.mark.parametrize("gain", ["binary", "rating"])
def test_ndcg_equals_scikit_learns(gain):
    """nDCG with log2(rank + 1) discounts and linear gains, as scikit-learn's ndcg_score computes it."""
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(8)
    train = RatingsMatrixBuilder().build(random_interactions(40, 30, seed=8))
    n_pairs = 200
    test = Interactions(
        train.users.ids[rng.integers(40, size=n_pairs)], train.items.ids[rng.integers(30, size=n_pairs)],
        rng.integers(1, 6, size=n_pairs) * 1.0,
    )
    held = held_out(test, train.items)
    scores = rng.random((len(held.users), 30))  # distinct scores: no ties for either library to break
    ranked = np.argsort(-scores, axis=1)[:, :10]
    d = metric_input(held, held.users, ranked, train, 10)
    truth = np.zeros((len(held.users), 30))
    for u, i, g in zip(held.user_rows, held.item_rows, held.gains, strict=True):
        truth[u, i] = g if gain == "rating" else 1.0
    expected = [ndcg_score(truth[[u]], scores[[u]], k=10) for u in range(len(held.users))]
    np.testing.assert_allclose(NDCG(k=10, gain=gain).compute(d), expected, rtol=1e-12)
