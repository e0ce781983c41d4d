"""``benchmarks.update``'s runs again: each lets the state before it go, and the model ends updated; whom it forgets."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from benchmarks.update import _forgotten, config, split, timed_again, timed_fit
from recframe.data import Interactions


def small_events(seed: int = 3) -> Interactions:
    """Return 2,000 random events of 120 users and 60 items, ratings 1 to 5."""
    rng = np.random.default_rng(seed)
    users, items = rng.integers(0, 120, 2_000), rng.integers(0, 60, 2_000)
    return Interactions(users, items, rng.integers(1, 6, 2_000).astype(np.float64))


def test_runs_again_let_the_states_before_them_go():
    cfg = config("item_cf", 5, 2)
    cfg["similarity"]["engine"] = "scipy"  # no numba compile in the suite
    base, part = split(small_events(), 0.1, np.random.default_rng(0))
    rec, _ = timed_fit(cfg, base)
    before = rec._state()
    rec.update(part)
    first = rec._state()
    first_graph = rec.fitted_ranker.neighbours_.to_csr().toarray()
    gone = weakref.ref(first)
    del first
    seconds = timed_again(rec, before, lambda r: r.update(part), 3)
    gc.collect()
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    assert gone() is None  # not held while the runs again wrote their own states
    assert rec._state() is not before
    assert len(rec.lineage) == len(before.lineage) + 1  # updated once, as after the first run
    np.testing.assert_array_equal(rec.fitted_ranker.neighbours_.to_csr().toarray(), first_graph)


def test_forgets_random_users_or_the_heaviest():
    events = Interactions(np.array([5, 5, 5, 2, 2, 9, 7, 7, 7]), np.array([1, 2, 3, 1, 2, 1, 1, 2, 3]))
    assert _forgotten(events, 2, True, np.random.default_rng(0)).tolist() == [5, 7]  # three events each
    assert _forgotten(events, 3, True, np.random.default_rng(0)).tolist() == [5, 7, 2]
    drawn = _forgotten(events, 2, False, np.random.default_rng(0))
    assert len(set(drawn.tolist())) == 2 and set(drawn.tolist()) <= {2, 5, 7, 9}
