"""The per-user cap (``cap_user_events``): by hand, against a brute-force loop, and its effect on the work."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from recframe import DataError, Interactions, Recommender
from recframe.builtin.filters import CapUserEventsFilter

EVENTS = Interactions(
    users=np.array(["a", "a", "a", "b", "b", "c", "a"]),
    items=np.array([1, 2, 3, 1, 2, 1, 4]),
    values=np.array([5.0, 2.0, 4.0, 3.0, 1.0, 5.0, 4.0]),
    timestamps=np.array([10.0, 20.0, 30.0, 15.0, 15.0, 40.0, 5.0]),
)


def pairs(part: Interactions) -> list[tuple[str, int]]:
    return list(zip(part.users.tolist(), part.items.tolist(), strict=True))


def test_the_cap_by_hand():
    # a's latest two are items 2 (t=20) and 3 (t=30); b ties at t=15, the later in the data is later
    assert pairs(CapUserEventsFilter(max_events=2).apply(EVENTS)) == [("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1)]
    assert pairs(CapUserEventsFilter(max_events=1).apply(EVENTS)) == [("a", 3), ("b", 2), ("c", 1)]
    assert pairs(CapUserEventsFilter(max_events=9).apply(EVENTS)) == pairs(EVENTS)
    sample = CapUserEventsFilter(max_events=2, keep="random", seed=4).apply(EVENTS)
    assert [u for u, _ in pairs(sample)].count("a") == 2
    assert [p for p in pairs(sample) if p[0] != "a"] == [("b", 1), ("b", 2), ("c", 1)]  # under the cap: all kept
    assert pairs(sample) == pairs(CapUserEventsFilter(max_events=2, keep="random", seed=4).apply(EVENTS))
    with pytest.raises(DataError, match="filter 'cap_user_events' needs timestamps"):
        CapUserEventsFilter().apply(Interactions(EVENTS.users, EVENTS.items))
    assert len(CapUserEventsFilter(keep="random", max_events=1).apply(Interactions(EVENTS.users, EVENTS.items))) == 3
    with pytest.raises(ValidationError, match="max_events"):
        CapUserEventsFilter(max_events=0)
    with pytest.raises(ValidationError, match="keep"):
        CapUserEventsFilter(keep="oldest")


def test_the_cap_matches_a_brute_force_loop():
    rng = np.random.default_rng(0)
    n = 600
    users = rng.zipf(1.6, n) % 31  # long-tailed: a few heavy users
    data = Interactions(users, rng.integers(0, 100, n), None, rng.integers(0, 50, n).astype(float))
    cap = 7
    kept = CapUserEventsFilter(max_events=cap).apply(data)
    expected = []
    for position in range(n):  # an event stays when fewer than `cap` events of its user are later
        later = [
            q
            for q in range(n)
            if users[q] == users[position] and (data.timestamps[q], q) > (data.timestamps[position], position)  # type: ignore[index]
        ]
        if len(later) < cap:
            expected.append(position)
    np.testing.assert_array_equal(kept.users, users[expected])
    np.testing.assert_array_equal(kept.items, data.items[expected])
    sample = CapUserEventsFilter(max_events=cap, keep="random", seed=1).apply(data)
    degrees = np.bincount(users, minlength=31)
    np.testing.assert_array_equal(np.bincount(sample.users, minlength=31), np.minimum(degrees, cap))
    # the work of an item-item search, the sum of squared user degrees, is bounded by the cap
    capped = np.bincount(kept.users, minlength=31)
    assert int((capped.astype(np.int64) ** 2).sum()) <= int((np.minimum(degrees, cap) ** 2).sum())
    assert (capped**2).sum() < (degrees**2).sum() / 2


def test_the_cap_in_a_run_file_is_reported():
    cap = {"type": "cap_user_events", "max_events": 3, "keep": "random"}
    rec = Recommender.from_config({"data": {"type": "synthetic", "n_users": 40, "n_items": 30, "filters": [cap]}})
    loaded = rec.load_data()
    whole = Recommender.from_config({"data": {"type": "synthetic", "n_users": 40, "n_items": 30}}).load_data()
    assert np.unique(loaded.users, return_counts=True)[1].max() == 3
    assert len(loaded) < len(whole)
    step = rec.filter_report[0]
    assert step.filter == "cap_user_events"
    assert step.events_after == len(loaded)
