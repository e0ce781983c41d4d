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
from recframe.recommender import entry_passes as passes
from recframe.recommender.held_events import HeldEvents
from recframe.recommender.pending_events import PendingEvents, forgotten, settled, without
from recframe.testing import assert_same_neighbours, random_interactions


def _columns(events: Interactions) -> list[list[object] | None]:
    return [None if c is None else c.tolist() for c in (events.users, events.items, events.values, events.timestamps)]


def _worker_alive() -> bool:
    return any(thread.name == "recframe-kept-events" for thread in threading.enumerate())


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize(("string_ids", "axes"), [(False, "users"), (False, "both"), (True, "users"), (True, "items")])
def test_the_kept_events_equal_an_eager_selection(
    string_ids: bool, axes: str, compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if compiled:  # the compiled passes (finding the forgotten events, copying the runs between them) on a small model
        monkeypatch.setattr(passes, "COMPILED_ENTRIES", 0)
    events = random_interactions(seed=3, string_ids=string_ids)
    rng = np.random.default_rng(0)
    users = np.unique(rng.choice(events.users, 5)) if axes != "items" else events.users[:0]
    items = np.unique(rng.choice(events.items, 4)) if axes != "users" else events.items[:0]
    keep = ~(np.isin(events.users, users) | np.isin(events.items, items))
    pending = PendingEvents(events, users, items)
    assert len(pending) == int(keep.sum())  # known once the forgotten events are found
    assert pending.users.tolist() == events.users[keep].tolist()  # a column read waits for the copy
    kept = settled(pending)
    assert isinstance(kept, HeldEvents) and type(kept.result()) is Interactions
    assert _columns(kept) == _columns(events.take(keep))
    for name in ("values", "timestamps"):  # found by the worker
        assert kept.column_range(name) == events.take(keep).column_range(name)
    assert settled(kept) is kept
    assert not _worker_alive()


@pytest.mark.parametrize("compiled", [False, True])
def test_the_forgotten_events_equal_a_mask(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids at both ends of their span, outside it, negative, a wide span (no table): the positions of a mask.

    And the ids of which no event was found (items -2, 7 and 8 never occur).
    """
    if compiled:
        monkeypatch.setattr(passes, "COMPILED_ENTRIES", 0)
    rng = np.random.default_rng(4)
    for case in range(60):
        n = int(rng.integers(0, 300))
        span = (5, 1000, 2**40)[case % 3]
        users = rng.integers(-span, span, n)
        items = rng.integers(0, 7, n)
        wanted_users = np.unique(rng.choice(users, min(n, 3))) if n and case % 4 else users[:0]
        wanted_items = np.unique(rng.integers(-2, 9, case % 3)).astype(np.int64)
        events = Interactions(users, items)
        expected = np.flatnonzero(np.isin(users, wanted_users) | np.isin(items, wanted_items))
        got, absent = forgotten(events, wanted_users, wanted_items)
        np.testing.assert_array_equal(got, expected)
        assert absent["users"].tolist() == np.setdiff1d(wanted_users, users).tolist()
        assert absent["items"].tolist() == np.setdiff1d(wanted_items, items).tolist()
        kept = [without(column, got).tolist() for column in (users, items)]  # many drops: numpy's delete
        assert kept == [users[np.setdiff1d(np.arange(n), expected)].tolist(), np.delete(items, expected).tolist()]


def test_without_values_and_timestamps() -> None:
    events = Interactions([1, 2, 3], [4, 5, 6])
    pending = PendingEvents(events, np.array([2]), events.items[:0])
    assert _columns(pending.result()) == [[1, 3], [4, 6], None, None]
    with pytest.raises(AttributeError):
        _ = pending.no_such_column  # type: ignore[attr-defined]


def test_an_error_of_the_copy_reaches_the_reader_not_the_waiter() -> None:
    events = random_interactions(seed=1)
    unordered = np.array([object()], dtype=object)  # ids the search can't compare with the events'
    pending = PendingEvents(events, unordered, events.items[:0])
    pending.wait()  # raises nothing
    assert isinstance(pending.error, TypeError)
    for read in (pending.result, lambda: pending.items, lambda: len(pending)):
        with pytest.raises(TypeError):
            read()


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

    def slow(self: PendingEvents, *args: object) -> None:
        time.sleep(0.3)
        copy(self, *args)  # type: ignore[arg-type]

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
    def fail(self: PendingEvents, *args: object) -> None:
        self._error = MemoryError("no memory for the kept events")
        self._counted.set()

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


def test_a_column_without_a_few_events_is_copied_run_by_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forget's few events (long runs between them): the compiled copy of runs; many: numpy's delete. Both exact."""
    pytest.importorskip("numba")
    import recframe.engine._compiled.kept_events as kernels

    monkeypatch.setattr(passes, "COMPILED_ENTRIES", 0)
    calls = []
    real = kernels.copy_kept
    monkeypatch.setattr(kernels, "copy_kept", lambda *args: calls.append(1) or real(*args))
    rng = np.random.default_rng(8)
    for dtype, count in ((np.int64, 20), (np.float64, 20), (np.int32, 3), (np.float64, 4000)):
        column = rng.integers(-50, 50, 10_000).astype(dtype)
        dropped = np.sort(rng.choice(len(column), count, replace=False))
        if count == 3:
            dropped = np.array([0, 1, len(column) - 1])  # at both ends, side by side
        calls.clear()
        got = without(column, dropped)
        assert got.dtype == column.dtype and got.tolist() == np.delete(column, dropped).tolist()
        assert len(calls) == (count * 32 <= len(column))
