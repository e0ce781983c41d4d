"""Parity with scikit-surprise: KNNBasic, KNNWithMeans (and KNNWithZScore, KNNBaseline) to 1e-9.

Settings that reproduce surprise (see docs/prediction.md): the ``sparse`` backend with surprise's
measure (``corated_cosine`` for its ``cosine``, ``pearson``, ``msd``) and a ``k`` large enough
to keep every neighbour (surprise computes every similarity), ``neighbour_policy: per_target``
with ``prediction_k`` = surprise's ``k``, ``min_k`` as surprise's, and ``prediction_fallback:
global_mean`` (surprise's answer when a prediction is impossible). Surprise clips predictions
to the rating scale by default; the comparison turns that off.
"""

from __future__ import annotations

import numpy as np
import pytest

from recframe import Recommender
from recframe.testing import random_interactions

surprise = pytest.importorskip("surprise")
pd = pytest.importorskip("pandas")

DATA = random_interactions(45, 35, density=0.3, seed=21)
MEASURES = {"cosine": "corated_cosine", "pearson": "pearson", "msd": "msd"}
ALGORITHMS = {
    "KNNBasic": "basic",
    "KNNWithMeans": "mean_centred",
    "KNNWithZScore": "zscore",
    "KNNBaseline": "baseline",
}


def surprise_predictions(algorithm: str, measure: str, user_based: bool, k: int, min_k: int, pairs):
    frame = pd.DataFrame({"user": DATA.users, "item": DATA.items, "rating": DATA.values}).sort_values(["user", "item"])
    data = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5)))
    algo = getattr(surprise, algorithm)(
        k=k, min_k=min_k, sim_options={"name": measure, "user_based": user_based}, verbose=False
    )
    algo.fit(data.build_full_trainset())
    return np.array([algo.predict(u, i, clip=False).est for u, i in pairs])


def unrated_pairs():
    rated = set(zip(DATA.users.tolist(), DATA.items.tolist(), strict=True))
    users, items = np.unique(DATA.users), np.unique(DATA.items)
    return [(u, i) for u in users.tolist() for i in items.tolist() if (u, i) not in rated]


@pytest.mark.parametrize("algorithm", list(ALGORITHMS))
@pytest.mark.parametrize("measure", list(MEASURES))
@pytest.mark.parametrize("user_based", [True, False])
def test_predictions_equal_surprise(algorithm, measure, user_based):
    k, min_k = 7, 2
    pairs = unrated_pairs()
    expected = surprise_predictions(algorithm, measure, user_based, k, min_k, pairs)
    rec = Recommender.from_config({
        "similarity": {"type": "sparse", "measure": MEASURES[measure], "k": 1000},
        "ranker": {
            "type": "user_cf" if user_based else "item_cf",
            "prediction": ALGORITHMS[algorithm],
            "neighbour_policy": "per_target",
            "prediction_k": k,
            "min_k": min_k,
            "prediction_fallback": "global_mean",
        },
    }).fit(DATA)
    users, items = zip(*pairs, strict=True)
    got = rec.predict(np.array(users), np.array(items))
    np.testing.assert_allclose(got.values, expected, rtol=1e-9, atol=1e-9)
    assert got.n_fallback < len(pairs)  # most pairs come from neighbours
