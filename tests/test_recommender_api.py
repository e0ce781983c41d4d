"""The Python API: construction, fitting from memory, queries, evaluation and contract checks."""

from __future__ import annotations

import copy
import pickle
import re
import threading
import types

import numpy as np
import pytest

from recframe import (
    ConfigError,
    Interactions,
    NotFittedError,
    PluginError,
    PluginRegistry,
    Recommender,
    TopN,
    hookimpl,
)
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.testing import random_interactions

SMALL = {"data": {"type": "synthetic", "n_users": 150, "n_items": 80}}
EVALUATED = {**SMALL, "evaluation": {"split": "per_user_holdout", "metrics": ["precision@5", "ndcg@5"]}}


def test_from_mapping_and_from_components_agree():
    data = random_interactions(seed=8)
    a = Recommender.from_config({"similarity": {"type": "sklearn_nn", "k": 7}, "ranker": {"type": "user_cf", "n": 4}})
    b = Recommender(similarity=SklearnNNSimilarity(k=7), ranker=UserCFRanker(n=4))
    users = np.unique(data.users)
    assert a.fit(data).recommend(users).to_dict() == b.fit(data).recommend(users).to_dict()


def test_fit_from_dataframe_and_columns():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": [1, 2, 1, 3, 2], "rating": [5, 4, 5, 1, 2]})
    rec = Recommender(ranker=ItemCFRanker(n=2)).fit(frame)
    assert rec.interaction_matrix.users.ids.tolist() == ["a", "b", "c"]
    again = Recommender(ranker=ItemCFRanker(n=2)).fit({c: frame[c].to_numpy() for c in frame.columns})
    assert rec.recommend(["a", "c"]).to_dict() == again.recommend(["a", "c"]).to_dict()


@pytest.mark.parametrize("how", [pickle.dumps, copy.deepcopy, copy.copy])
def test_pickling_or_copying_a_recommender_says_how_to_share_one(how) -> None:
    fitted = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit(random_interactions(seed=1))
    for rec in (Recommender(), fitted):
        with pytest.raises(TypeError, match=r"can't be pickled or copied; .*rec\.save\(folder\).*Recommender\.load"):
            how(rec)
    assert pickle.loads(pickle.dumps(fitted.fitted_ranker)).name == "item_cf"  # its components still pickle


def test_queries_before_fit():
    with pytest.raises(NotFittedError, match=r"Recommender is not fitted; call fit\(\) first"):
        Recommender().recommend([1])


def test_fit_without_data():
    with pytest.raises(ConfigError, match=r"no data: pass interactions to fit\(\) or configure a data source"):
        Recommender().fit()


def test_evaluate_without_evaluation():
    with pytest.raises(ConfigError, match=r"nothing to evaluate: configure evaluation\.split"):
        Recommender.from_config(SMALL).evaluate()


def test_wrong_component_type():
    with pytest.raises(TypeError, match=r"ranker must be a CandidateRanker; got SklearnNNSimilarity"):
        Recommender(ranker=SklearnNNSimilarity())


@pytest.mark.parametrize("role", ["similarity", "matrix", "ranker", "executor", "fallbacks"])
def test_a_component_set_after_construction_is_checked_before_fit_update_and_forget(role, tiny_interactions):
    rec = Recommender.from_config(SMALL).fit(tiny_interactions)
    before = rec.recommend(["u1"], n=3).to_dict()
    config = {"type": "sparse"}  # a config, not a component
    setattr(rec, role, (config,) if role == "fallbacks" else config)
    named = "ranker.fallback[0]" if role == "fallbacks" else role
    for change in (lambda: rec.fit(tiny_interactions), lambda: rec.update({"user": ["u9"], "item": ["i1"]}),
                   lambda: rec.forget(users=["u1"])):  # fmt: skip
        with pytest.raises(TypeError, match=rf"^{re.escape(named)} must be a \w+; got dict$"):
            change()
    assert rec.recommend(["u1"], n=3).to_dict() == before


def test_evaluation_is_deterministic_and_counts():
    a = Recommender.from_config(EVALUATED).evaluate()
    b = Recommender.from_config(EVALUATED).evaluate()
    assert a.metrics == b.metrics
    assert a.n_train + a.n_test == len(Recommender.from_config(SMALL).load_data())
    assert set(a.per_user) == {"precision@5", "ndcg@5"}
    assert len(a.users) == len(a.per_user["ndcg@5"]) and a.n_skipped == 0
    assert a.metrics["precision@5"] == pytest.approx(a.per_user["precision@5"].mean())


def test_seed_changes_the_run():
    a = Recommender.from_config(EVALUATED).evaluate().metrics
    b = Recommender.from_config({**EVALUATED, "seed": 1}).evaluate().metrics
    assert a != b


def test_recommend_n_and_all():
    rec = Recommender.from_config(SMALL).fit()
    lists = rec.recommend_all(n=3)
    assert len(lists) == rec.interaction_matrix.n_users
    assert all(len(ids) <= 3 for _, ids, _ in lists)
    assert lists.sources.tolist().count("item_cf") == len(lists)
    with pytest.raises(ValueError, match=r"n must be from 1 to 10,000, as a ranker's n; got 0"):
        rec.recommend([0], n=0)


def test_similar_items_beyond_k_queries_the_backend():
    rec = Recommender(similarity=SklearnNNSimilarity(k=3)).fit(random_interactions(seed=1))
    item = rec.interaction_matrix.items.ids[0]
    short = rec.similar_items([item], n=3).to_dict()[item]
    long = rec.similar_items([item], n=10).to_dict()[item]
    assert len(long) > 3 and long[:3] == short


def test_two_recommenders_do_not_interfere():
    a = Recommender().fit(random_interactions(seed=1))
    before = a.recommend_all().to_dict()
    b = Recommender().fit(random_interactions(seed=2))
    b.recommend_all()
    assert a.recommend_all().to_dict() == before


def test_concurrent_queries_match_serial_ones():
    rec = Recommender.from_config(SMALL).fit()
    users = rec.interaction_matrix.users.ids
    expected = rec.recommend(users).to_dict()
    similar = rec.similar_users(users[:5], n=4).to_dict()  # computed lazily: race it below too
    results, errors = [], []

    def work():
        try:
            results.append((rec.recommend(users).to_dict(), rec.similar_users(users[:5], n=4).to_dict()))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(r == (expected, similar) for r in results)


class ShuffledRanker(PopularityRanker):
    """Breaks the contract: lists come back in the wrong shape."""

    name = "shuffled"

    def recommend(self, users, n=None, *, exclude=None):
        top = super().recommend(users, n, exclude=exclude)
        return TopN(top.items[:, :-1], top.scores[:, :-1])


def test_a_broken_contract_names_the_plugin(tiny_interactions):
    registry = PluginRegistry.from_environment(entry_points=False)
    plugin = types.SimpleNamespace(recframe_register_components=hookimpl(lambda: [ShuffledRanker]))
    registry.register(plugin, name="shuffled", package="recframe-shuffled", version="0.3.0")
    rec = Recommender.from_config({"ranker": {"type": "shuffled", "n": 3}}, registry=registry)
    rec.fit(tiny_interactions)
    with pytest.raises(
        PluginError, match=r"ranker 'shuffled' \(recframe-shuffled 0\.3\.0\) returned lists of shape \(1, 2\)"
    ):
        rec.recommend(["u1"])


def test_empty_data_is_refused():
    from recframe import DataError

    with pytest.raises(DataError, match=r"no interactions to fit; the data is empty"):
        Recommender().fit(Interactions([], []))
