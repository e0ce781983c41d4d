"""The evaluation protocol: splitters, relevance, unseen items, folds, predefined splits, leakage checks."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, Recommender
from recframe.builtin.splitters import KFoldSplitter, LeaveLastNSplitter, TemporalGlobalSplitter
from recframe.cli import main
from recframe.data import IdIndex
from recframe.evaluation import held_out
from recframe.testing import random_interactions

EVENTS = Interactions(
    users=np.array([1, 1, 1, 1, 2, 2, 2, 3]),
    items=np.array([10, 11, 12, 13, 10, 11, 12, 10]),
    values=np.array([5.0, 3.0, 4.0, 1.0, 2.0, 5.0, 4.0, 3.0]),
    timestamps=np.array([40.0, 10.0, 30.0, 20.0, 5.0, 50.0, 50.0, 60.0]),
)


def pairs(part: Interactions) -> list[tuple[int, int]]:
    return sorted(zip(part.users.tolist(), part.items.tolist(), strict=True))


def test_leave_last_n_takes_each_users_latest_events():
    rng = np.random.default_rng(0)
    _, test = LeaveLastNSplitter(n=1).split(EVENTS, rng)
    # user 2's two latest events tie at t=50: the later in the data wins; user 3 has one event
    assert pairs(test) == [(1, 10), (2, 12)]
    _, test = LeaveLastNSplitter(n=2).split(EVENTS, rng)
    assert pairs(test) == [(1, 10), (1, 12), (2, 11), (2, 12)]
    _, test = LeaveLastNSplitter(fraction=0.5, min_history=4).split(EVENTS, rng)
    assert pairs(test) == [(1, 10), (1, 12)]


def test_temporal_global_cuts_at_the_cutoff_or_quantile():
    rng = np.random.default_rng(0)
    train, test = TemporalGlobalSplitter(cutoff=30).split(EVENTS, rng)
    assert test.timestamps.min() > 30 >= train.timestamps.max()
    _, test = TemporalGlobalSplitter(quantile=0.5).split(EVENTS, rng)
    assert len(test) == 4  # quantile 0.5 of 8 times (method "lower") is 30


def test_temporal_splitters_need_timestamps():
    untimed = Interactions(EVENTS.users, EVENTS.items, EVENTS.values)
    # a setting the data can't meet (exit 2), as relevance_threshold on data without ratings is
    with pytest.raises(ConfigError, match=r"^evaluation\.split: 'leave_last_n' orders events by time, but the "
                       "interactions have no timestamps; use a random split"):
        LeaveLastNSplitter().split(untimed, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="'temporal_global' orders events by time"):
        TemporalGlobalSplitter().split(untimed, np.random.default_rng(0))


def test_either_n_or_fraction_and_either_cutoff_or_quantile():
    with pytest.raises(ValueError, match="either n or fraction"):
        LeaveLastNSplitter(n=1, fraction=0.2)
    with pytest.raises(ValueError, match="either cutoff or quantile"):
        TemporalGlobalSplitter(cutoff=3, quantile=0.2)
    with pytest.raises(ValueError, match=r"fold\n.*must be below n_folds=3; got 3"):
        KFoldSplitter(n_folds=3, fold=3)


@pytest.mark.parametrize("per_user", [False, True])
def test_kfold_tests_every_event_exactly_once(per_user):
    data = random_interactions(50, 40, seed=2)
    folds = list(KFoldSplitter(n_folds=4, per_user=per_user).folds(data, np.random.default_rng(1)))
    assert len(folds) == 4
    tested = [pair for _, test in folds for pair in pairs(test)]
    assert sorted(tested) == pairs(data)
    sizes = [len(test) for _, test in folds]
    assert max(sizes) - min(sizes) <= (50 if per_user else 1)


def test_held_out_relevance_threshold_duplicates_and_unseen_items():
    test = Interactions(
        users=np.array([1, 1, 1, 2, 2, 3]),
        items=np.array([10, 10, 99, 11, 12, 10]),
        values=np.array([2.0, 5.0, 4.0, 3.0, 1.0, 2.0]),
    )
    train_items = IdIndex(np.array([10, 11, 12]))
    held = held_out(test, train_items, threshold=3.0)
    # (1, 10) repeated: its best rating 5 counts; (1, 99) unseen but kept; user 3 has nothing relevant
    assert held.users.ids.tolist() == [1, 2]
    assert held.n_relevant.tolist() == [2, 1]
    assert (held.n_test_users, held.n_below_threshold, held.n_unseen_items) == (3, 2, 1)
    assert sorted(held.gains.tolist()) == [3.0, 4.0, 5.0]
    dropped = held_out(test, train_items, threshold=3.0, unseen_items="drop")
    assert dropped.n_relevant.tolist() == [1, 1]
    with pytest.raises(ConfigError, match="relevance_threshold needs ratings"):
        held_out(Interactions(test.users, test.items), train_items, threshold=3.0)


SYNTHETIC = {"type": "synthetic", "n_users": 150, "n_items": 80, "seed": 4}


def evaluated(split, **evaluation):
    rec = Recommender.from_config(
        {"data": SYNTHETIC, "similarity": {"type": "sklearn_nn", "k": 20},
         "evaluation": {"split": split, "metrics": ["precision@5", "ndcg@5", "coverage@5"], **evaluation}}
    )
    return rec, rec.evaluate()


def test_kfold_evaluation_reports_every_fold_and_the_spread():
    _, result = evaluated({"type": "kfold", "n_folds": 3})
    assert len(result.folds) == 3
    for label in ("precision@5", "ndcg@5", "coverage@5"):
        values = [fold.metrics[label] for fold in result.folds]
        assert result.metrics[label] == pytest.approx(np.mean(values))
        assert result.metrics_std[label] == pytest.approx(np.std(values))
    assert "coverage@5" not in result.per_user  # a run-level metric
    assert len(result.users) == len(result.fold_of) == len(result.per_user["ndcg@5"])
    assert result.n_test == sum(f.counts["n_test"] for f in result.folds)
    summary = result.summary()
    assert summary["n_folds"] == 3 and len(summary["folds"]) == 3


def test_relevance_threshold_leaves_out_low_ratings():
    _, everything = evaluated({"type": "temporal_global"})
    _, liked = evaluated({"type": "temporal_global"}, relevance_threshold=4)
    assert liked.count("n_below_threshold") > 0 == everything.count("n_below_threshold")
    assert liked.count("n_evaluated") <= everything.count("n_evaluated")


def test_random_split_of_timestamped_data_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="recframe.recommender"):
        _, result = evaluated({"type": "per_user_holdout"})
    assert any("is random on timestamped data" in w for w in result.warnings)
    assert "is random on timestamped data" in caplog.text
    _, result = evaluated({"type": "leave_last_n"})
    assert any("orders time per user on a shared timeline" in w for w in result.warnings)
    _, result = evaluated({"type": "temporal_global"})
    assert not any("timestamped" in w or "timeline" in w for w in result.warnings)


def test_unseen_items_and_repeated_pairs_are_reported():
    train = Interactions(np.array([1, 1, 2, 2, 3]), np.array([10, 11, 10, 12, 11]))
    test = Interactions(np.array([1, 2, 3]), np.array([12, 99, 11]))
    from recframe.builtin.metrics import HitRate
    from recframe.builtin.splitters import PredefinedSplitter

    rec = Recommender(splitter=PredefinedSplitter(), metrics=[HitRate(k=2)])
    result = rec.evaluate(train, test=test)
    assert any("1 test interactions (33.3%) are of items not in the training part" in w for w in result.warnings)
    assert any("repeat a (user, item) pair of the training part" in w for w in result.warnings)
    assert result.count("n_unseen_items") == 1


def test_predefined_split_from_python_and_from_yaml(tmp_path: Path, capsys):
    data = random_interactions(40, 30, seed=1)
    train, test = KFoldSplitter(n_folds=5).split(data, np.random.default_rng(0))
    for name, part in (("train.csv", train), ("test.csv", test)):
        columns = (part.users, part.items, part.values, part.timestamps)
        rows = zip(*(c.tolist() for c in columns), strict=True)
        with (tmp_path / name).open("w", newline="") as fh:
            csv.writer(fh).writerows([("user", "item", "rating", "timestamp"), *rows])
    config = {
        "data": {"type": "csv", "path": str(tmp_path / "train.csv")},
        "similarity": {"type": "sklearn_nn", "k": 10},
        "evaluation": {
            "split": "predefined",
            "test_data": {"type": "csv", "path": str(tmp_path / "test.csv")},
            "metrics": ["recall@5"],
        },
    }
    from_yaml = Recommender.from_config(config).evaluate()
    direct = Recommender.from_config(config).evaluate(train, test=test)
    assert from_yaml.metrics == direct.metrics
    assert from_yaml.n_train == len(train) and from_yaml.n_test == len(test)
    run_file = tmp_path / "run.yaml"
    import yaml

    run_file.write_text(yaml.safe_dump(config))
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert (tmp_path / "out" / "per_user.csv").read_text().startswith("fold,user,recall@5\n")


def test_a_test_data_file_it_cant_read_is_named_as_evaluation_test_data(tmp_path: Path):
    """The source names its settings as the data section's; loading the test part it is evaluation.test_data."""
    (tmp_path / "data.csv").write_text("user,item,rating\n1,2,3\n2,3,4\n1,3,5\n2,2,1\n")
    config = {
        "data": {"type": "csv", "path": str(tmp_path / "data.csv")},
        "similarity": {"type": "sparse", "k": 2},
        "evaluation": {"split": "predefined", "test_data": {"type": "csv", "path": str(tmp_path / "data.csv.gone")},
                       "metrics": ["recall@2"]},
    }
    with pytest.raises(DataError, match=r"data\.csv\.gone: file not found \(evaluation\.test_data\.path\)$"):
        Recommender.from_config(config).evaluate()


def test_predefined_split_and_test_data_go_together():
    with pytest.raises(ConfigError, match=r"evaluation\.split: split 'predefined' and test_data go together"):
        Recommender.from_config({"data": SYNTHETIC, "evaluation": {"split": "predefined"}})
    with pytest.raises(ConfigError, match=r"evaluation\.test_data: split 'predefined' and test_data go together"):
        Recommender.from_config({"data": SYNTHETIC, "evaluation": {"test_data": SYNTHETIC}})
    with pytest.raises(ConfigError, match=r"evaluation\.unseen_items: Input should be 'keep' or 'drop'"):
        Recommender.from_config({"data": SYNTHETIC, "evaluation": {"unseen_items": "ignore"}})
    with pytest.raises(ConfigError, match=r"evaluation\.relevance_treshold: unknown key .*mean 'relevance_threshold'"):
        Recommender.from_config({"data": SYNTHETIC, "evaluation": {"relevance_treshold": 4}})


def test_per_user_csv_has_one_row_per_fold_and_user(tmp_path: Path):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(
        "data: {type: synthetic, n_users: 100, n_items: 60}\n"
        "similarity: {type: sklearn_nn, k: 10}\n"
        "evaluation: {split: {type: kfold, n_folds: 2, per_user: true}, metrics: [ndcg@5, gini@5]}\n"
    )
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 0
    with (tmp_path / "out" / "per_user.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["fold", "user", "ndcg@5"]
    assert {row["fold"] for row in rows} == {"0", "1"}
    import json

    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_folds"] == 2 and "gini@5" in metrics["metrics_std"]
    means = [np.mean([float(r["ndcg@5"]) for r in rows if r["fold"] == f]) for f in ("0", "1")]
    assert metrics["metrics"]["ndcg@5"] == pytest.approx(np.mean(means))


def test_the_random_on_time_warning_says_when_ordering_is_only_the_default() -> None:
    """A plugin splitter that never set ``ordering`` was called "random" with no hint why."""
    from recframe import Splitter
    from recframe.builtin.splitters import RandomHoldoutSplitter
    from recframe.evaluation.leakage import protocol_warnings
    from recframe.testing import random_interactions

    data = random_interactions(seed=3)
    splitter = RandomHoldoutSplitter(test_fraction=0.3)
    train, test = splitter.split(data, np.random.default_rng(0))
    items = IdIndex(np.unique(train.items))
    builtin = protocol_warnings(splitter, train, test, items)["random_on_time"]
    assert builtin.startswith("split 'random_holdout' is random on timestamped data: ")

    class Quiet(Splitter):  # a plugin's splitter that never says how its parts relate in time
        name = "quiet"

        def split(self, interactions, rng):  # type: ignore[no-untyped-def]
            return splitter.split(interactions, rng)

    plugin = protocol_warnings(Quiet(), train, test, items)["random_on_time"]
    assert plugin.startswith(
        "split 'quiet' is random on timestamped data (its class does not set `ordering`, whose default is "
        "'random'; a time-keeping split says so there): "
    )


def test_a_relevance_threshold_above_every_rating_names_the_threshold_and_the_ratings() -> None:
    """It was exit 3, "no test user with a relevant item is known in training", naming neither."""
    test = Interactions([1, 2], [3, 2], [5.0, 2.0])
    with pytest.raises(ConfigError, match=r"^evaluation\.relevance_threshold: 6(\.0)? leaves no held-out interaction "
                       r"relevant: the held-out ratings run from 2\.0 to 5\.0; set it at most"):
        held_out(test, IdIndex(np.array([2, 3])), threshold=6.0)
    with pytest.raises(ConfigError, match="relevance_threshold: 6"):
        evaluated({"type": "temporal_global"}, relevance_threshold=6)
    assert held_out(test, IdIndex(np.array([2, 3])), threshold=5.0).users.ids.tolist() == [1]
