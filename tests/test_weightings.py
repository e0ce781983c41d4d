"""Matrix weightings by hand: bm25, tfidf and log_confidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recframe import Interactions
from recframe.builtin.matrix_builders import BM25MatrixBuilder, LogConfidenceMatrixBuilder, TFIDFMatrixBuilder

# users 0 (items 0, 1), 1 (item 0); counts 2, 1, 3; 2 items
EVENTS = Interactions(np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([2.0, 1.0, 3.0]))


def test_tfidf_by_hand():
    idf = [math.log(2) - math.log1p(2), math.log(2) - math.log1p(1)]  # user 0 has 2 items, user 1 has 1
    got = TFIDFMatrixBuilder().build(EVENTS).matrix.toarray()
    np.testing.assert_allclose(got, [[math.sqrt(2) * idf[0], 1 * idf[0]], [math.sqrt(3) * idf[1], 0]])


def test_bm25_by_hand():
    k1, b = 1.2, 0.75
    lengths = np.array([5.0, 1.0])  # item sums
    norm = (1 - b) + b * lengths / lengths.mean()
    idf = [math.log(2) - math.log1p(2), math.log(2) - math.log1p(1)]

    def w(r, item, user):
        return r * (k1 + 1) / (k1 * norm[item] + r) * idf[user]

    got = BM25MatrixBuilder(k1=k1, b=b).build(EVENTS).matrix.toarray()
    np.testing.assert_allclose(got, [[w(2, 0, 0), w(1, 1, 0)], [w(3, 0, 1), 0]])


def test_log_confidence_by_hand_and_duplicates_add_up():
    doubled = Interactions(np.array([0, 0]), np.array([0, 0]), np.array([1.0, 3.0]))
    got = LogConfidenceMatrixBuilder(alpha=2.0, epsilon=0.5).build(doubled).matrix.toarray()
    assert got[0, 0] == pytest.approx(1 + 2.0 * math.log(1 + 4.0 / 0.5))
