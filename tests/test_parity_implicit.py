"""Parity with implicit: its weightings, and its item-item recommenders' top-n lists (up to ties).

implicit's ``K`` counts each item as its own neighbour when it is among the K most similar
(always for cosine, where it scores 1): recframe's ``k`` never does. So implicit's
``CosineRecommender(K=k + 1)`` is recframe's cosine with ``k``; for ``BM25`` and ``TFIDF`` both
keep every neighbour here, which makes the two conventions agree whatever the self-similarity.
implicit scores the weighted similarities with the raw interactions: on implicit feedback
(every count 1) that is recframe's ``history: binary``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, Recommender
from recframe.builtin.matrix_builders import BM25MatrixBuilder, TFIDFMatrixBuilder
from recframe.testing import random_interactions

implicit_nn = pytest.importorskip("implicit.nearest_neighbours")
# implicit's own recommenders hand its kernels COO matrices and warn about it
pytestmark = pytest.mark.filterwarnings("ignore:Method expects CSR input")

RATED = random_interactions(80, 50, density=0.12, seed=11)
BINARY = Interactions(RATED.users, RATED.items)  # implicit feedback: every count is 1


def counts(data: Interactions = RATED) -> sp.csr_matrix:
    """The users x items counts implicit is given (rows and columns in recframe's id order)."""
    matrix = Recommender().matrix.build(data).matrix
    return sp.csr_matrix(matrix)


def test_bm25_and_tfidf_weights_equal_implicits():
    user_items = counts()
    ours = BM25MatrixBuilder(k1=1.2, b=0.75).build(RATED).matrix.toarray()
    theirs = implicit_nn.bm25_weight(user_items.T, 1.2, 0.75).T.toarray()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    ours = TFIDFMatrixBuilder().build(RATED).matrix.toarray()
    np.testing.assert_allclose(ours, implicit_nn.tfidf_weight(user_items.T).T.toarray(), rtol=1e-12)


def implicit_lists(model, user_items: sp.csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
    model.fit(user_items, show_progress=False)
    users = np.arange(user_items.shape[0])
    return model.recommend(users, user_items[users], N=n, filter_already_liked_items=True)


def recframe_lists(config: dict, n: int, data: Interactions = RATED, history: str = "values"):
    rec = Recommender.from_config({**config, "ranker": {"type": "item_cf", "n": n, "history": history}}).fit(data)
    ranked = rec.recommend(rec.interaction_matrix.users.ids, n).ranked
    return ranked.items, ranked.scores


def assert_same_lists(ours, theirs):
    """Same scores in order; the same items wherever the scores do not tie."""
    (our_items, our_scores), (their_items, their_scores) = ours, theirs
    for u in range(len(our_items)):
        keep = our_items[u] >= 0
        got_i, got_s = our_items[u][keep], our_scores[u][keep]
        want = their_scores[u] > 0
        want_i, want_s = their_items[u][want], their_scores[u][want]
        assert len(got_i) == len(want_i), u
        np.testing.assert_allclose(got_s, want_s, rtol=2e-5)
        for a, b, s in zip(got_i, want_i, got_s, strict=True):
            tied = np.isclose(got_s, s, rtol=2e-5).sum() > 1
            assert a == b or tied, (u, got_i, want_i)


@pytest.mark.parametrize("k", [5, 20])
def test_cosine_lists_equal_implicits_cosine_recommender(k):
    theirs = implicit_lists(implicit_nn.CosineRecommender(K=k + 1), counts(), 10)
    ours = recframe_lists({"similarity": {"type": "sparse", "measure": "cosine", "k": k}}, 10)
    assert_same_lists(ours, theirs)


def test_bm25_lists_equal_implicits_bm25_recommender():
    theirs = implicit_lists(implicit_nn.BM25Recommender(K=50, K1=1.2, B=0.75), counts(BINARY), 10)
    ours = recframe_lists(
        {"matrix": {"type": "bm25", "k1": 1.2, "b": 0.75}, "similarity": {"type": "sparse", "measure": "dot", "k": 49}},
        10, BINARY, "binary",
    )
    assert_same_lists(ours, theirs)


def test_tfidf_lists_equal_implicits_tfidf_recommender():
    theirs = implicit_lists(implicit_nn.TFIDFRecommender(K=50), counts(BINARY), 10)
    ours = recframe_lists(
        {"matrix": "tfidf", "similarity": {"type": "sparse", "measure": "cosine", "k": 49}}, 10, BINARY, "binary"
    )
    assert_same_lists(ours, theirs)
