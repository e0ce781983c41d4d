"""Ranking metrics against hand-computed values and a brute-force implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recframe.builtin.metrics import MAP, NDCG, HitRate, Precision, Recall

HITS = np.array([[True, False, True, False], [False, False, False, False], [False, True, False, False]])
N_REL = np.array([3, 2, 1])


def test_precision_by_hand():
    np.testing.assert_allclose(Precision(k=4).compute(HITS, N_REL), [2 / 4, 0, 1 / 4])
    # k larger than the list: missing places are misses
    np.testing.assert_allclose(Precision(k=8).compute(HITS, N_REL), [2 / 8, 0, 1 / 8])


def test_recall_by_hand():
    np.testing.assert_allclose(Recall(k=2).compute(HITS, N_REL), [1 / 3, 0, 1 / 1])


def test_ndcg_by_hand():
    dcg = 1 / math.log2(2) + 1 / math.log2(4)
    idcg = 1 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    np.testing.assert_allclose(NDCG(k=4).compute(HITS, N_REL), [dcg / idcg, 0, (1 / math.log2(3)) / 1])
    # with k = 2 the ideal list has only min(k, n_rel) = 2 hits
    np.testing.assert_allclose(NDCG(k=2).compute(HITS[:1], N_REL[:1]), [1 / (1 + 1 / math.log2(3))])


def test_map_by_hand():
    # user 0: hits at ranks 1 and 3 -> (1/1 + 2/3) / min(4, 3)
    np.testing.assert_allclose(MAP(k=4).compute(HITS, N_REL), [(1 + 2 / 3) / 3, 0, (1 / 2) / 1])


def test_hit_rate_by_hand():
    np.testing.assert_allclose(HitRate(k=1).compute(HITS, N_REL), [1, 0, 0])
    np.testing.assert_allclose(HitRate(k=2).compute(HITS, N_REL), [1, 0, 1])


def brute(name, hits, n_rel, k):
    out = []
    for row, n in zip(hits, n_rel, strict=True):
        top = [bool(h) for h in row[:k]] + [False] * max(0, k - len(row))
        found = sum(top)
        if name == "precision":
            out.append(found / k)
        elif name == "recall":
            out.append(found / n)
        elif name == "hit_rate":
            out.append(float(found > 0))
        elif name == "ndcg":
            dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(top) if h)
            out.append(dcg / sum(1 / math.log2(r + 2) for r in range(min(k, n))))
        elif name == "map":
            score, seen = 0.0, 0
            for r, h in enumerate(top):
                if h:
                    seen += 1
                    score += seen / (r + 1)
            out.append(score / min(k, n))
    return np.array(out)


@pytest.mark.parametrize("metric", [Precision, Recall, NDCG, MAP, HitRate])
@pytest.mark.parametrize("k", [1, 5, 20])
def test_metrics_equal_brute_force(metric, k, rng):
    hits = rng.random((40, 10)) < 0.3
    n_rel = np.maximum(hits.sum(axis=1), rng.integers(1, 12, size=40))
    np.testing.assert_allclose(metric(k=k).compute(hits, n_rel), brute(metric.name, hits, n_rel, k))


def test_labels():
    assert NDCG(k=10).label == "ndcg@10" and HitRate(k=3).label == "hit_rate@3"
