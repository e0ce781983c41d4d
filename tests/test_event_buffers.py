"""An update's events are written after the old ones where the previous update left room; older events never change."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import recframe.recommender.event_buffers as buffers
from recframe import Interactions, Recommender
from recframe.recommender.event_buffers import appended
from recframe.testing import random_interactions


def _columns(events: Interactions) -> list[list[object] | None]:
    return [None if c is None else c.tolist() for c in (events.users, events.items, events.values, events.timestamps)]


def _joined(*parts: Interactions) -> list[list[object] | None]:
    result = parts[0]
    for part in parts[1:]:
        result = Interactions.concat(result, part)
    return _columns(result)


@pytest.mark.parametrize("string_ids", [False, True])
def test_appends_equal_a_concatenation_and_reuse_the_room(string_ids: bool) -> None:
    base = random_interactions(seed=1, string_ids=string_ids)
    first, second = base.take(np.arange(5)), base.take(np.arange(5, 9))
    one = appended(base, first)  # copied: the base has no room of ours
    assert _columns(one) == _joined(base, first)
    assert one.users.base is not None and len(one.users.base) > len(one)  # room left after the events
    two = appended(one, second)  # written in place after them
    assert _columns(two) == _joined(base, first, second)
    assert two.users.base is one.users.base and two.values.base is one.values.base
    assert _columns(one) == _joined(base, first)  # the older events are unchanged


def test_a_second_append_to_the_same_events_copies_and_changes_neither() -> None:
    """Two updates of one model state (one lost a race, say): the second finds the room claimed."""
    base = random_interactions(seed=2)
    one = appended(base, base.take(np.arange(3)))
    a = appended(one, base.take(np.arange(3, 6)))
    b = appended(one, base.take(np.arange(10, 12)))
    assert a.users.base is one.users.base  # the first took the room
    assert b.users.base is not one.users.base  # the second copied
    assert _columns(a) == _joined(one, base.take(np.arange(3, 6)))
    assert _columns(b) == _joined(one, base.take(np.arange(10, 12)))
    assert _columns(appended(a, base.take([0]))) == _joined(a, base.take([0]))  # `a` still has its room


def test_longer_text_ids_and_a_full_room_are_copied() -> None:
    base = Interactions(["a", "b"], ["x", "y"], [1.0, 2.0])
    one = appended(base, Interactions(["c"], ["z"], [3.0]))
    longer = appended(one, Interactions(["a-much-longer-id"], ["x"], [4.0]))
    assert longer.users.tolist() == ["a", "b", "c", "a-much-longer-id"]  # not cut to the buffer's width
    assert longer.users.base is not one.users.base
    many = Interactions([f"u{i}" for i in range(10)], ["x"] * 10, np.ones(10))
    full = appended(one, many)  # more than the room
    assert _columns(full) == _joined(one, many) and full.users.base is not one.users.base


def _raw(users: np.ndarray, items: np.ndarray, values: np.ndarray | None = None) -> Interactions:
    """Events of exactly these arrays (the constructor would widen them to int64)."""
    return Interactions._unchecked(users, items, values, None)


def test_narrower_numbers_fit_the_room_and_others_are_copied() -> None:
    base = _raw(np.arange(8), np.arange(8), np.ones(8))
    one = appended(base, _raw(np.arange(8, 12), np.arange(4), np.ones(4)))
    narrow = _raw(np.array([99], dtype=np.int32), np.array([1], dtype=np.int32), np.array([2.5], dtype=np.float32))
    two = appended(one, narrow)
    assert two.users.base is one.users.base and two.users.dtype == np.int64 and two.values.dtype == np.float64
    assert two.users.tolist()[-1] == 99 and two.values.tolist()[-1] == 2.5
    unsigned = _raw(np.array([2**63 + 1], dtype=np.uint64), np.array([1]), np.array([1.0]))
    wide = appended(two, unsigned)  # not held exactly by int64: copied, as concatenate would
    assert wide.users.base is not one.users.base
    assert wide.users.tolist() == np.concatenate([two.users, unsigned.users]).tolist()


def test_columns_sharing_a_buffer_are_copied() -> None:
    """Users and items that are one array (the constructor keeps it): writing both in place would mix them."""
    one = appended(_raw(np.arange(6), np.arange(6)), _raw(np.array([6]), np.array([6])))
    shared = _raw(one.users, one.users)
    two = appended(shared, _raw(np.array([7]), np.array([8])))
    assert two.users.tolist() == [*range(7), 7] and two.items.tolist() == [*range(7), 8]
    assert one.users.tolist() == list(range(7))


def test_a_read_only_buffer_is_copied() -> None:
    one = appended(_raw(np.arange(6), np.arange(6)), _raw(np.array([6]), np.array([6])))
    one.items.base.flags.writeable = False
    two = appended(one, _raw(np.array([7]), np.array([8])))
    assert two.items.tolist() == [*range(7), 8] and two.items.base is not one.items.base


def test_a_released_room_serves_the_next_append() -> None:
    base = random_interactions(seed=7)
    one = appended(base, base.take([0]))
    failed = appended(one, base.take([1, 2]))  # an update that then fails gives its room back
    buffers.released(failed, len(one))
    again = appended(one, base.take([3]))
    assert again.users.base is one.users.base
    assert _columns(again) == _joined(one, base.take([3]))


def test_claims_of_freed_buffers_are_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buffers, "_claims", {})
    base = random_interactions(seed=3)
    for _ in range(20):
        appended(base, base.take([0]))
    gc.collect()
    kept = appended(base, base.take([0]))
    assert len(buffers._claims) == 4  # only the columns of `kept`
    assert all(ref() is not None for ref, _ in buffers._claims.values()) and len(kept) == len(base) + 1


def test_chained_updates_equal_a_refit_and_leave_earlier_models_as_they_were() -> None:
    data = random_interactions(seed=4)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(data)
    parts = [
        Interactions([1, 500], [2, 3], [4.0, 5.0], [2e9, 2e9]),
        Interactions([500, 501], [4, 2], [1.0, 2.0], [2e9 + 1, 2e9 + 1]),
        Interactions([7], [1], [3.0], [2e9 + 2]),
    ]
    states = []
    for part in parts:
        rec.update(part)
        states.append(rec._state())
    assert states[2].interactions is not None and states[1].interactions is not None
    assert states[2].interactions.users.base is states[1].interactions.users.base  # the last two: in place
    assert _columns(states[1].interactions) == _joined(data, parts[0], parts[1])  # unchanged by the last
    refit = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(
        Interactions.concat(Interactions.concat(Interactions.concat(data, parts[0]), parts[1]), parts[2])
    )
    assert _columns(states[2].interactions) == _columns(refit._state().interactions)
    assert (rec.interaction_matrix.matrix != refit.interaction_matrix.matrix).nnz == 0


def test_an_update_that_fails_leaves_the_room_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=8))
    rec.update(Interactions([1], [2], [4.0], [2e9]))
    state = rec._state()
    original = rec._fit_rankers

    def broken(*args: object) -> None:
        raise RuntimeError("the rankers failed")

    monkeypatch.setattr(rec, "_fit_rankers", broken)
    with pytest.raises(RuntimeError, match="the rankers failed"):
        rec.update(Interactions([4], [5], [3.0], [2e9 + 1]))
    assert rec._state() is state
    monkeypatch.setattr(rec, "_fit_rankers", original)
    rec.update(Interactions([7], [8], [2.0], [2e9 + 2]))
    assert state.interactions is not None and rec._state().interactions is not None
    assert rec._state().interactions.users.base is state.interactions.users.base  # in place, after all
    assert rec._state().interactions.users.tolist() == [*state.interactions.users.tolist(), 7]
