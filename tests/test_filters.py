"""Filters (k-core to a fixed point, thresholds, windows, recent-n, duplicates), their report, and the data summary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, Recommender
from recframe.builtin.filters import (
    DuplicatesFilter,
    KCoreFilter,
    RatingThresholdFilter,
    RecentNFilter,
    TimeWindowFilter,
)
from recframe.cli import main
from recframe.config import validate_run
from recframe.data.summary import describe, gini
from recframe.testing import random_interactions

EVENTS = Interactions(
    users=np.array(["a", "a", "a", "b", "b", "c", "a"]),
    items=np.array([1, 2, 3, 1, 2, 1, 1]),
    values=np.array([5.0, 2.0, 4.0, 3.0, 1.0, 5.0, 4.0]),
    timestamps=np.array([10.0, 20.0, 30.0, 15.0, 15.0, 40.0, 50.0]),
)


def pairs(part: Interactions) -> list[tuple]:
    return list(zip(part.users.tolist(), part.items.tolist(), strict=True))


def brute_k_core(data: Interactions, min_user: int, min_item: int) -> set[tuple]:
    """Remove one offending user or item at a time until none is left."""
    alive = set(pairs(data))
    while True:
        users, items = {}, {}
        for u, i in alive:
            users[u] = users.get(u, 0) + 1
            items[i] = items.get(i, 0) + 1
        bad_user = next((u for u, c in users.items() if c < min_user), None)
        bad_item = next((i for i, c in items.items() if c < min_item), None)
        if bad_user is None and bad_item is None:
            return alive
        alive = {(u, i) for u, i in alive if u != bad_user and i != bad_item}


@pytest.mark.parametrize(("min_user", "min_item"), [(3, 3), (5, 2), (2, 6)])
def test_k_core_reaches_the_fixed_point_brute_force_finds(min_user, min_item):
    data = random_interactions(40, 30, density=0.12, seed=min_user * 10 + min_item)
    core = KCoreFilter(min_user_interactions=min_user, min_item_interactions=min_item).apply(data)
    assert set(pairs(core)) == brute_k_core(data, min_user, min_item)
    again = KCoreFilter(min_user_interactions=min_user, min_item_interactions=min_item).apply(core)
    assert pairs(again) == pairs(core)  # a fixed point


def test_removal_report_matches_a_brute_force_count():
    data = random_interactions(50, 40, density=0.1, seed=3)
    rec = Recommender(filters=[KCoreFilter(min_user_interactions=4, min_item_interactions=4),
                               RatingThresholdFilter(min_rating=3)])
    rec.data = _Source(data)
    kept = rec.load_data()
    core = set(brute_k_core(data, 4, 4))
    after_core = [(u, i, v) for u, i, v in zip(data.users, data.items, data.values, strict=True) if (u, i) in core]
    first, second = (step.to_dict() for step in rec.filter_report)
    assert first["removed"] == {
        "events": len(data) - len(after_core),
        "users": len(set(data.users)) - len({u for u, _, _ in after_core}),
        "items": len(set(data.items)) - len({i for _, i, _ in after_core}),
    }
    rated = [(u, i) for u, i, v in after_core if v >= 3]
    assert second["events_before"] == len(after_core) and second["events_after"] == len(rated) == len(kept)


class _Source:
    """A stand-in data source for the Python API test."""

    kind, name = "data", "fixed"

    def __init__(self, data: Interactions) -> None:
        self.data = data

    def load(self, rng):
        return self.data


def test_threshold_window_recent_and_duplicates_by_hand():
    assert pairs(RatingThresholdFilter(min_rating=4).apply(EVENTS)) == [("a", 1), ("a", 3), ("c", 1), ("a", 1)]
    assert pairs(RatingThresholdFilter(max_rating=2).apply(EVENTS)) == [("a", 2), ("b", 2)]
    assert pairs(TimeWindowFilter(start=15, end=40).apply(EVENTS)) == [("a", 2), ("a", 3), ("b", 1), ("b", 2)]
    # b's two events tie at t=15: the later in the data counts as later
    assert pairs(RecentNFilter(n=1).apply(EVENTS)) == [("b", 2), ("c", 1), ("a", 1)]
    assert pairs(DuplicatesFilter(keep="first").apply(EVENTS)) == pairs(EVENTS)[:6]
    assert pairs(DuplicatesFilter(keep="last").apply(EVENTS)) == pairs(EVENTS)[1:]
    with pytest.raises(DataError, match=r"user 'a' and item 1 occur more than once"):
        DuplicatesFilter(keep="error").apply(EVENTS)


def test_time_window_last_days():
    day = 86_400.0
    timed = Interactions(np.array([1, 1, 2]), np.array([1, 2, 1]), None, np.array([0.0, 9 * day, 10 * day]))
    assert len(TimeWindowFilter(last_days=2).apply(timed)) == 2


def test_filters_name_what_they_need():
    untimed = Interactions(EVENTS.users, EVENTS.items, EVENTS.values)
    with pytest.raises(DataError, match="filter 'recent_n' needs timestamps"):
        RecentNFilter().apply(untimed)
    with pytest.raises(DataError, match="filter 'rating_threshold' needs ratings"):
        RatingThresholdFilter(min_rating=1).apply(Interactions(EVENTS.users, EVENTS.items))
    with pytest.raises(ValueError, match="give min_rating, max_rating or both"):
        RatingThresholdFilter()
    # bounds that keep nothing passed validation, and failed later with "removed all" (exit 3)
    with pytest.raises(ValueError, match=r"min_rating \(4\.0\) is above max_rating \(2\.0\): no rating is kept"):
        RatingThresholdFilter(min_rating=4, max_rating=2)
    assert RatingThresholdFilter(min_rating=3, max_rating=3).config.max_rating == 3
    with pytest.raises(ValueError, match=r"start \(1700000001\.0\) is not before end \(1700000000\.0\): no event"):
        TimeWindowFilter(start=1_700_000_001, end=1_700_000_000)  # Unix seconds, told apart


def test_filters_from_yaml_and_their_errors(registry):
    config = validate_run({"data": {"type": "synthetic", "filters": ["duplicates", {"type": "k_core"}]}}, registry)
    assert [spec.type for spec in config.data_filters] == ["duplicates", "k_core"]
    assert validate_run(config.to_dict(), registry).data_filters == config.data_filters
    with pytest.raises(ConfigError, match=r"data\.filters\[1\]\.type: unknown filter 'kcore'; did you mean 'k_core'"):
        validate_run({"data": {"type": "synthetic", "filters": ["duplicates", "kcore"]}}, registry)
    with pytest.raises(ConfigError, match=r"data\.filters: must be a list of filters"):
        validate_run({"data": {"type": "synthetic", "filters": "k_core"}}, registry)


def test_a_filter_that_removes_everything_is_named():
    rec = Recommender.from_config({"data": {"type": "synthetic", "n_users": 50, "n_items": 30,
                                            "filters": [{"type": "k_core", "min_user_interactions": 1000}]}})
    with pytest.raises(DataError, match=r"filter 'k_core' \(recframe .*\) removed all \d+ interactions"):
        rec.load_data()


def test_describe_by_hand():
    summary = describe(EVENTS)
    assert (summary["interactions"], summary["users"], summary["items"], summary["duplicates"]) == (7, 3, 3, 1)
    assert summary["density"] == pytest.approx(6 / 9)
    # distinct users per item: 1 -> 3, 2 -> 2, 3 -> 1
    assert summary["popularity"]["gini"] == pytest.approx(gini(np.array([3, 2, 1])))
    assert summary["popularity"]["top_1pct_items_share"] == pytest.approx(3 / 6)
    assert summary["user_activity"] == {"min": 1.0, "median": 2.0, "mean": 2.0, "p90": pytest.approx(2.8), "max": 3.0}
    assert summary["ratings"]["histogram"] == {"1": 1, "2": 1, "3": 1, "4": 2, "5": 2}
    assert summary["time"] == {"first": 10.0, "last": 50.0, "span_days": pytest.approx(40 / 86_400)}
    # the Gini index from its definition: mean absolute difference over twice the mean
    x = np.array([3, 2, 1])
    assert gini(x) == pytest.approx(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))


def test_run_records_filters_and_data_and_describe_prints_them(tmp_path, capsys):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(
        "data: {type: synthetic, n_users: 200, n_items: 80, filters: [{type: k_core, min_user_interactions: 8}]}\n"
        "similarity: {type: sklearn_nn, k: 10}\n"
        "evaluation: {split: temporal_global, metrics: [ndcg@5]}\n"
    )
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 0
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["filters"][0]["filter"] == "k_core" and record["data"]["users"] == record["filters"][0]["users_after"]
    assert ">filter</th>" in (tmp_path / "out" / "report.html").read_text()
    capsys.readouterr()
    assert main(["data", "describe", str(run_file), "--json", "-q"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["data"] == record["data"] and described["filters"] == record["filters"]
    assert main(["data", "describe", str(run_file), "-q"]) == 0
    assert "filter k_core: removed" in capsys.readouterr().out
