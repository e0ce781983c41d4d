"""Explanations (by hand; they add up to the scores), fallback chains with reasons, and cold start."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import ConfigError, Interactions, Recommender
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.cli import main
from recframe.config import validate_run
from recframe.testing import random_interactions


@pytest.fixture
def item_rec(tiny_interactions):
    return Recommender(similarity=SklearnNNSimilarity(k=2), ranker=ItemCFRanker(n=3)).fit(tiny_interactions)


@pytest.fixture
def user_rec(tiny_interactions):
    return Recommender(similarity=SklearnNNSimilarity(k=2), ranker=UserCFRanker(n=3)).fit(tiny_interactions)


def test_item_cf_explanation_by_hand(item_rec):
    # u1 rated i1=5, i2=3, i4=1; i6 is a neighbour of i1 only (cos 8 / sqrt(42 * 4))
    explanation = item_rec.explain("u1", "i6")
    assert (explanation.source, explanation.neighbour_kind) == ("item_cf", "items")
    [term] = explanation.contributions
    assert (term.neighbour, term.value) == ("i1", 5.0)
    assert term.similarity == pytest.approx(8 / np.sqrt(42 * 4))
    assert explanation.score == pytest.approx(5 * 8 / np.sqrt(42 * 4)) == term.contribution


def test_user_cf_explanation_by_hand(user_rec):
    # u4's neighbours u3 (20 / sqrt(27 * 41)) and u2 (4 / sqrt(21 * 41)) rated i1 = 1 and 4
    s43, s42 = 20 / np.sqrt(27 * 41), 4 / np.sqrt(21 * 41)
    explanation = user_rec.explain("u4", "i1")
    terms = {(c.neighbour, c.value): c.similarity for c in explanation.contributions}
    assert terms == {("u3", 1.0): pytest.approx(s43), ("u2", 4.0): pytest.approx(s42)}
    assert [c.neighbour for c in explanation.contributions] == ["u3", "u2"]  # largest contribution first
    assert explanation.score == pytest.approx(s43 * 1 + s42 * 4)


def test_unreachable_item_scores_zero_and_unknown_users_get_the_fallbacks_reason(item_rec):
    nothing = item_rec.explain("u1", "i5")
    assert nothing.score == 0.0 and nothing.contributions == []
    assert nothing.reason == "no item the user interacted with is its neighbour"
    assert item_rec.explain("u1", "i6").reason == "similar to items the user interacted with"
    stranger = item_rec.explain("nobody", "i4")
    assert stranger.source == "popularity" and stranger.score == 4.0  # i4 has 4 users
    assert "not in training" in stranger.reason


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_explanations_add_up_to_every_recommended_score(ranker):
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 8}, "ranker": {"type": ranker, "n": 6}}).fit(
        random_interactions(60, 40, density=0.15, seed=4)
    )
    lists = rec.recommend(rec.interaction_matrix.users.ids[:30], explain=True)
    assert lists.explanations is not None
    for position, explanations in enumerate(lists.explanations):
        scores = lists.ranked.scores[position][lists.ranked.items[position] >= 0]
        assert len(explanations) == len(scores)
        for explanation, score in zip(explanations, scores, strict=True):
            assert sum(c.contribution for c in explanation.contributions) == pytest.approx(score, rel=1e-12)
            assert explanation.score == pytest.approx(score, rel=1e-12)


def test_recframe_explain_command(tmp_path, capsys):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("data: {type: synthetic, n_users: 120, n_items: 60}\nsimilarity: {type: sklearn_nn, k: 10}\n")
    rec = Recommender.from_config(str(run_file)).fit()
    user, (item, score) = 3, rec.recommend([3]).to_dict()[3][0]
    assert main(["explain", str(run_file), "--user", str(user), "--item", str(item), "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == pytest.approx(score)
    assert sum(c["contribution"] for c in out["contributions"]) == pytest.approx(score)
    assert main(["explain", str(run_file), "--user", str(user), "--item", str(item), "-q"]) == 0
    assert f"score {score:.6g} from item_cf" in capsys.readouterr().out


def test_fallback_chains_from_yaml_with_reasons(registry):
    config = validate_run(
        {"ranker": {"type": "user_cf", "fallback": ["item_cf", {"type": "popularity", "n": 5}]}}, registry
    )
    assert [spec.type for spec in config.ranker_fallbacks] == ["item_cf", "popularity"]
    assert config.to_dict()["ranker"]["fallback"][1] == {**config.ranker_fallbacks[1].to_dict()}
    assert validate_run(config.to_dict(), registry).ranker_fallbacks == config.ranker_fallbacks
    with pytest.raises(ConfigError, match=r"ranker\.fallback\[1\]\.type: unknown ranker 'populer'"):
        validate_run({"ranker": {"type": "user_cf", "fallback": ["item_cf", "populer"]}}, registry)


def test_the_chain_serves_each_user_with_the_first_ranker_that_can(tiny_interactions):
    # u5's only neighbour-less history: with k=1, user_cf finds nothing new for some users
    rec = Recommender(
        similarity=SklearnNNSimilarity(k=1),
        ranker=UserCFRanker(n=3),
        fallback=[ItemCFRanker(n=3), PopularityRanker(n=3)],
    ).fit(tiny_interactions)
    lists = rec.recommend(["u1", "u2", "u3", "u4", "u5", "stranger"])
    assert lists.sources[-1] == "popularity" and lists.reasons[-1] == "not in training; nothing from item_cf"
    for source, reason in zip(lists.sources[:-1], lists.reasons[:-1], strict=True):
        assert (source == "user_cf") == (reason == "")
        if source == "item_cf":
            assert reason == "nothing from user_cf"
    alone = Recommender(similarity=SklearnNNSimilarity(k=1), ranker=UserCFRanker(n=3), fallback=None)
    assert alone.fit(tiny_interactions).fallbacks == ()


def test_a_training_users_own_history_reproduces_their_item_cf_list():
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 10}, "ranker": {"type": "item_cf", "n": 5}})
    rec.fit(random_interactions(50, 40, density=0.2, seed=6))
    matrix = rec.interaction_matrix
    for u in range(0, 50, 7):
        row = matrix.matrix[[u]]
        history = dict(zip(matrix.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))
        known = rec.recommend([matrix.users.ids[u]]).to_dict()[matrix.users.ids[u]]
        new = rec.recommend_history(history).to_dict()[0]
        assert [i for i, _ in new] == [i for i, _ in known]
        np.testing.assert_allclose([s for _, s in new], [s for _, s in known], rtol=1e-9)


def test_user_cf_for_a_new_user_scores_its_queried_neighbours():
    """The new user's nearest training users (the backend's query) score as in training."""
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 6}, "ranker": {"type": "user_cf", "n": 5}})
    rec.fit(random_interactions(50, 40, density=0.2, seed=6))
    items = rec.interaction_matrix.items.ids
    history = {int(items[1]): 4.0, int(items[5]): 2.0, int(items[9]): 5.0}
    got = rec.recommend_history(history).to_dict()[0]
    vector = np.zeros((1, len(items)))
    vector[0, [1, 5, 9]] = [4.0, 2.0, 5.0]
    backend = type(rec.similarity)(rec.similarity.config).fit(rec.interaction_matrix.matrix)
    graph = backend.query(sp.csr_array(vector))
    scores = (graph.to_csr() @ rec.interaction_matrix.matrix).toarray()[0]
    scores[[1, 5, 9]] = 0.0
    order = np.lexsort((np.arange(len(scores)), -scores))[:5]
    assert [i for i, _ in got] == [int(items[j]) for j in order if scores[j] > 0]
    np.testing.assert_allclose([s for _, s in got], scores[order][scores[order] > 0], rtol=1e-12)


def test_cold_start_chain_and_reasons():
    rec = Recommender.from_config(
        {
            "similarity": {"type": "sklearn_nn", "k": 10},
            "ranker": {"type": "user_cf", "fallback": ["item_cf", "popularity"]},
        }
    ).fit(random_interactions(50, 40, density=0.2, seed=6))
    items = rec.interaction_matrix.items.ids
    lists = rec.recommend_histories({"a": {int(items[0]): 5.0, int(items[3]): 3.0}, "b": [], "c": ["no-such-item"]})
    assert lists.queries.tolist() == ["a", "b", "c"]
    assert lists.sources.tolist() == ["user_cf", "popularity", "popularity"]
    assert lists.reasons.tolist() == [
        "",
        "nothing from user_cf; nothing from item_cf",
        "1 unknown items ignored; nothing from user_cf; nothing from item_cf",
    ]
    a_items = [i for i, _ in lists.to_dict()["a"]]
    assert int(items[0]) not in a_items and int(items[3]) not in a_items  # never the user's own items


def test_recframe_recommend_with_a_history(tmp_path, capsys):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("data: {type: synthetic, n_users: 120, n_items: 60}\nsimilarity: {type: sklearn_nn, k: 10}\n")
    assert main(["recommend", str(run_file), "--history", "3,7", "--ratings", "5,4", "--n", "4", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    rec = Recommender.from_config(str(run_file)).fit()
    expected = rec.recommend_history({3: 5.0, 7: 4.0}, 4).to_dict()[0]
    assert [entry["item"] for entry in out["items"]] == [i for i, _ in expected]
    assert main(["recommend", str(run_file), "--history", "3,7", "--ratings", "5", "-q"]) == 2
    assert "--ratings has 1 values for 2 items" in capsys.readouterr().err


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_per_target_ranking_equals_brute_force_and_its_explanations_add_up(ranker):
    data = random_interactions(40, 30, density=0.2, seed=9)
    p, n = 3, 6
    rec = Recommender.from_config(
        {
            "similarity": {"type": "sparse", "k": 12},
            "ranker": {"type": ranker, "n": n, "neighbour_policy": "per_target", "prediction_k": p},
        }
    ).fit(data)
    matrix = rec.interaction_matrix.matrix.toarray()
    graph = rec.fitted_ranker.neighbours_
    by_items = ranker == "item_cf"
    lists = rec.recommend(rec.interaction_matrix.users.ids, explain=True)
    for u in range(matrix.shape[0]):
        scores = {}
        for i in range(matrix.shape[1]):
            if matrix[u, i]:
                continue  # seen
            target = i if by_items else u
            terms = [
                (s, matrix[u, j] if by_items else matrix[j, i])
                for j, s in zip(graph.indices[target], graph.scores[target], strict=True)
                if j >= 0 and s > 0 and (matrix[u, j] if by_items else matrix[j, i])
            ][:p]
            if terms:
                scores[i] = sum(s * h for s, h in terms)
        best = sorted(scores.items(), key=lambda t: (-t[1], t[0]))[:n]
        got_items = lists.ranked.items[u][lists.ranked.items[u] >= 0]
        got_scores = lists.ranked.scores[u][: len(got_items)]
        np.testing.assert_allclose(got_scores, [s for _, s in best], rtol=1e-12)
        for explanation, score in zip(lists.explanations[u], got_scores, strict=True):
            assert len(explanation.contributions) <= p
            assert sum(c.contribution for c in explanation.contributions) == pytest.approx(score, rel=1e-12)


def test_per_target_cold_start_reproduces_a_training_users_list():
    rec = Recommender.from_config(
        {
            "similarity": {"type": "sparse", "k": 12},
            "ranker": {"type": "item_cf", "n": 5, "neighbour_policy": "per_target", "prediction_k": 3},
        }
    ).fit(random_interactions(40, 30, density=0.2, seed=9))
    matrix = rec.interaction_matrix
    for u in range(0, 40, 9):
        row = matrix.matrix[[u]]
        history = dict(zip(matrix.items.ids[row.indices].tolist(), row.data.tolist(), strict=True))
        known = rec.recommend([matrix.users.ids[u]]).to_dict()[matrix.users.ids[u]]
        new = rec.recommend_history(history).to_dict()[0]
        assert [i for i, _ in new] == [i for i, _ in known]
        np.testing.assert_allclose([s for _, s in new], [s for _, s in known], rtol=1e-12)


def test_explain_of_a_user_without_neighbours_is_an_empty_score():
    """A user_cf user whose neighbours were all cut (min_support) and who saw every item: score 0, no terms."""
    data = Interactions(np.array([1, 1, 1, 2, 3]), np.array([10, 11, 12, 10, 11]), np.array([5.0, 4.0, 3.0, 2.0, 1.0]))
    config = {
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": 5, "min_support": 3},
        "ranker": {"type": "user_cf"},
    }
    rec = Recommender.from_config(config).fit(data)
    explained = rec.explain(1, 10)
    assert explained.score == 0.0 and explained.contributions == []
    assert explained.source == "user_cf" and explained.reason == "no neighbour of the user interacted with it"


def test_a_user_id_beyond_int64_gets_the_fallback_in_every_view_of_the_lists(item_rec, tmp_path, capsys):
    # kept as a Python int (an object array): reading the lists crashed with "'int' object has no attribute 'item'"
    huge = 2**64
    lists = item_rec.recommend([huge, "u1"])
    assert list(lists.to_dict()) == [huge, "u1"] and next(iter(lists))[0] == huge
    assert str(lists.sources[0]) == "popularity" and "not in training" in str(lists.reasons[0])
    explanation = item_rec.explain(huge, str(item_rec.interaction_matrix.items.ids[0]))
    assert explanation.user == huge and explanation.reason.endswith("(user not in training)")
    integers = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}})
    integers.fit(random_interactions(n_users=20, n_items=10, seed=1)).save(tmp_path / "model")
    for command in (["recommend"], ["explain", "--item", str(int(integers.interaction_matrix.items.ids[0]))]):
        assert main([*command, "--model", str(tmp_path / "model"), "--user", str(huge), "--format", "json"]) == 0
        assert f'"user": {huge}' in capsys.readouterr().out


def test_events_of_value_0_are_no_interactions_and_the_fit_says_so_once(caplog, monkeypatch):
    # a rating of exactly 0 is not stored: its item counts as unseen, which the user was not told
    import recframe.builtin.matrix_builders as builders

    monkeypatch.setattr(builders, "_WARNED_OF_ZEROS", set())
    data = Interactions(
        np.array([1, 1, 2, 2, 3, 3, 3, 3]),
        np.array([10, 11, 10, 12, 11, 12, 13, 13]),
        np.array([0.0, 4.0, 5.0, 3.0, 2.0, 4.0, 0.0, 5.0]),
        np.arange(8.0),  # user 3 rated item 13 0, then 5: the cell holds 5 (duplicates: last)
    )
    config = {"matrix": "ratings", "ranker": "popularity"}
    with caplog.at_level("WARNING", logger="recframe"):
        rec = Recommender.from_config(config).fit(data)
        Recommender.from_config(config).fit(data)  # said once
    assert [r.getMessage() for r in caplog.records] == [
        "matrix 'ratings': 1 (user, item) pairs have the value 0, which a sparse matrix does not store: they count "
        "as not interacted with (exclude_seen may recommend them, popularity does not count them); shift the "
        "rating scale so that 0 is no rating, or use matrix 'binary' (said once)"
    ]
    assert 10 in [item for item, _ in rec.recommend([1]).to_dict()[1]]  # as the warning says
    caplog.clear()
    monkeypatch.setattr(builders, "_WARNED_OF_ZEROS", set())
    with caplog.at_level("WARNING", logger="recframe"):  # a 0 replaced by a later rating is stored: nothing to say
        Recommender.from_config(config).fit(data.take(np.arange(8) != 0))
    assert caplog.records == []


@pytest.mark.parametrize("matrix", ["tfidf", "bm25"])
def test_pairs_weighted_to_0_by_a_users_rarity_are_said_once(caplog, monkeypatch, matrix):
    """A user of every item but one has rarity 0: their whole history vanished without a word."""
    import recframe.builtin.matrix_builders as builders

    monkeypatch.setattr(builders, "_WARNED_OF_ZEROS", set())
    data = Interactions(
        np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]), np.array([0, 1, 2, 3, 4, 0, 5, 1, 5, 2, 5, 0, 1])
    )
    with caplog.at_level("WARNING", logger="recframe"):
        Recommender.from_config({"matrix": matrix}).fit(data)
        Recommender.from_config({"matrix": matrix}).fit(data)
    assert [r.getMessage() for r in caplog.records] == [
        f"matrix '{matrix}': 5 (user, item) pairs are weighted to 0 (their user has every item but one, whose rarity "
        "log(n_items) - log(1 + items of the user) is 0), which a sparse matrix does not store: they count as not "
        "interacted with (exclude_seen may recommend them, popularity does not count them); use matrix 'ratings', "
        "'binary' or 'log_confidence' where users have nearly every item (said once)"
    ]
