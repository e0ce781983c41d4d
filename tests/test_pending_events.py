"""The events a forget keeps, copied on a worker thread: an eager copy's events, errors kept, no thread left."""

from __future__ import annotations

import copy
import pickle
import threading
import time

import numpy as np
import pytest

from recframe import InteractionMatrix, Interactions, Recommender
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.recommender.held_events import HeldEvents
from recframe.recommender.pending_events import PendingEvents, settled
from recframe.testing import assert_same_neighbours, random_interactions


def _columns(events: Interactions) -> list[list[object] | None]:
    return [None if c is None else c.tolist() for c in (events.users, events.items, events.values, events.timestamps)]


def _worker_alive() -> bool:
    return any(thread.name == "recframe-kept-events" for thread in threading.enumerate())


@pytest.mark.parametrize("string_ids", [False, True])
def test_the_kept_events_equal_an_eager_selection(string_ids: bool) -> None:
    events = random_interactions(seed=3, string_ids=string_ids)
    keep = np.random.default_rng(0).random(len(events)) < 0.7
    pending = PendingEvents(events, keep)
    assert len(pending) == int(keep.sum())  # known before the copy
    assert pending.users.tolist() == events.users[keep].tolist()  # a column read waits for the copy
    kept = settled(pending)
    assert isinstance(kept, HeldEvents) and type(kept.result()) is Interactions
    assert _columns(kept) == _columns(events.take(keep))
    for name in ("values", "timestamps"):  # found by the worker
        assert kept.column_range(name) == events.take(keep).column_range(name)
    assert settled(kept) is kept
    assert not _worker_alive()


def test_without_values_and_timestamps() -> None:
    events = Interactions([1, 2, 3], [4, 5, 6])
    pending = PendingEvents(events, np.array([True, False, True]))
    assert _columns(pending.result()) == [[1, 3], [4, 6], None, None]
    with pytest.raises(AttributeError):
        _ = pending.no_such_column  # type: ignore[attr-defined]


def test_an_error_of_the_copy_reaches_the_reader_not_the_waiter() -> None:
    events = random_interactions(seed=1)
    pending = PendingEvents(events, np.ones(len(events) + 5, dtype=bool))  # a mask of the wrong length
    pending.wait()  # raises nothing
    with pytest.raises(IndexError):
        pending.result()
    with pytest.raises(IndexError):
        _ = pending.items


class _ReadsAfter(RatingsMatrixBuilder):
    """A builder whose update builds from ``change.after`` (as a plugin without a merge may)."""

    name = "reads_after"
    seen: list[int] = []

    def update(self, previous: InteractionMatrix, change: object) -> InteractionMatrix:
        after = change.after  # type: ignore[attr-defined]
        self.seen.append(len(after.users))
        return self.build(after)


def test_a_builder_reading_the_kept_events_during_a_forget_gets_them() -> None:
    _ReadsAfter.seen = []
    events = random_interactions(seed=5)
    rec = Recommender(matrix=_ReadsAfter()).fit(events)
    rec.forget(users=[4, 7])
    keep = ~np.isin(events.users, [4, 7])
    assert _ReadsAfter.seen == [int(keep.sum())]
    ref = Recommender.from_config({}).fit(events.take(keep))
    assert_same_neighbours(rec._state().graphs["items"], ref._state().graphs["items"])
    assert _columns(rec._state().interactions) == _columns(events.take(keep))  # type: ignore[arg-type]
    assert isinstance(rec._state().interactions, HeldEvents)
    assert "events kept" in rec.timings


def _slow_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the worker's copy take 0.3 s, so that a forget ending first would leave it running."""
    copy = PendingEvents._copy

    def slow(self: PendingEvents, events: Interactions, keep: np.ndarray) -> None:
        time.sleep(0.3)
        copy(self, events, keep)

    monkeypatch.setattr(PendingEvents, "_copy", slow)


def test_a_forget_that_fails_leaves_the_model_and_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=2))
    before = rec._state()
    _slow_copy(monkeypatch)

    def broken(*args: object) -> None:
        raise RuntimeError("the neighbours failed")

    monkeypatch.setattr(rec, "_fit_rankers", broken)
    with pytest.raises(RuntimeError, match="the neighbours failed"):
        rec.forget(users=[1])
    assert rec._state() is before
    assert not _worker_alive()


def _failing_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: PendingEvents, events: Interactions, keep: np.ndarray) -> None:
        self._error = MemoryError("no memory for the kept events")

    monkeypatch.setattr(PendingEvents, "_copy", fail)


@pytest.mark.parametrize("builder", ["ratings", "reads_after"])
def test_a_failed_copy_is_raised_as_itself_and_changes_nothing(builder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read at the end (settled) or by a builder's update: a MemoryError, not a plugin's error."""
    matrix = _ReadsAfter() if builder == "reads_after" else None
    rec = Recommender(matrix=matrix).fit(random_interactions(seed=5))
    before = rec._state()
    _failing_copy(monkeypatch)
    with pytest.raises(MemoryError, match="no memory for the kept events"):
        rec.forget(users=[4])
    assert rec._state() is before
    assert not _worker_alive()


class _TakesAfter(RatingsMatrixBuilder):
    """A builder without an update (built again from ``change.after``) that selects, copies and pickles the events."""

    name = "takes_after"

    def update(self, previous: InteractionMatrix, change: object) -> None:
        after = change.after  # type: ignore[attr-defined]
        for copied in (copy.copy(after), copy.deepcopy(after), pickle.loads(pickle.dumps(after))):
            assert type(copied) is Interactions
            assert _columns(copied) == _columns(after)
        joined = Interactions.concat(after, after)
        assert type(joined) is Interactions and len(joined) == 2 * len(after)
        return None

    def build(self, interactions: Interactions) -> InteractionMatrix:
        taken = interactions.take(np.ones(len(interactions), dtype=bool))
        assert type(taken) is Interactions
        return super().build(taken)


def test_a_full_build_from_the_kept_events_equals_a_refit() -> None:
    events = random_interactions(seed=6)
    rec = Recommender(matrix=_TakesAfter()).fit(events)
    rec.forget(users=[1, 10])
    assert rec.lineage[-1]["matrix"] == "full"
    keep = ~np.isin(events.users, [1, 10])
    ref = Recommender.from_config({}).fit(events.take(keep))
    assert_same_neighbours(rec._state().graphs["items"], ref._state().graphs["items"])
