"""An update's events are joined after the model's only when read: the same events, older models unchanged."""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np
import pytest

import recframe.recommender.joined_events as joined_module
from recframe import Interactions, Recommender
from recframe.recommender.held_events import HeldEvents
from recframe.recommender.joined_events import JoinedEvents, first_part, joined_events
from recframe.testing import random_interactions


def _columns(events: Interactions) -> list[list[object] | None]:
    return [None if c is None else c.tolist() for c in (events.users, events.items, events.values, events.timestamps)]


def _concatenated(*parts: Interactions) -> list[list[object] | None]:
    result = parts[0]
    for part in parts[1:]:
        result = Interactions.concat(result, part)
    return _columns(result)


@pytest.mark.parametrize("string_ids", [False, True])
def test_joined_events_equal_a_concatenation(string_ids: bool) -> None:
    base = random_interactions(seed=1, string_ids=string_ids)
    first, second = base.take(np.arange(5)), base.take(np.arange(5, 9))
    one = joined_events(base, first)
    two = joined_events(one, second)
    assert isinstance(two, JoinedEvents) and len(two) == len(base) + 9  # known before any join
    assert two.parts == (base, *two.parts[1:]) and len(two.parts) == 3  # the parts of `one`, not `one` joined
    assert _columns(two) == _concatenated(base, first, second)
    assert len(two.parts) == 1  # joined once read; the parts let go of
    assert _columns(one) == _concatenated(base, first)  # the older events are their own
    assert type(two.result()) is Interactions and two.result() is two.result()


def test_longer_text_ids_and_missing_columns_join_as_concatenate_does() -> None:
    base = Interactions(["a", "b"], ["x", "y"])
    longer = joined_events(base, Interactions(["a-much-longer-id"], ["x"]))
    assert longer.users.tolist() == ["a", "b", "a-much-longer-id"]
    assert longer.values is None and longer.timestamps is None
    narrow = Interactions(np.arange(3, dtype=np.int32), np.arange(3, dtype=np.int32), np.ones(3))
    wide = joined_events(narrow, Interactions(np.array([2**40]), np.array([1]), np.array([2.0])))
    assert wide.users.dtype == np.int64 and wide.users.tolist() == [0, 1, 2, 2**40]


def test_the_update_is_copied_and_the_parts_are_never_written() -> None:
    base = random_interactions(seed=2)
    before = _columns(base)
    users, items, values = np.array([1, 2]), np.array([3, 4]), np.array([5.0, 1.0])
    events = joined_events(base, Interactions(users, items, values, np.array([2e9, 2e9])))
    users[0], values[0] = 99, 0.5  # the caller reuses its arrays
    assert events.users.tolist()[-2:] == [1, 2] and events.values.tolist()[-2:] == [5.0, 1.0]
    assert _columns(base) == before


def test_many_updates_are_joined_at_the_last_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(joined_module, "MOST_PARTS", 4)
    base = random_interactions(seed=3)
    events: Interactions = base
    for start in range(0, 3):
        events = joined_events(events, base.take([start]))
    assert isinstance(events, JoinedEvents) and len(events.parts) == 1  # the fourth part joined them
    events = joined_events(events, base.take([3]))
    assert len(events.parts) == 2
    assert _columns(events) == _concatenated(base, base.take([0]), base.take([1]), base.take([2]), base.take([3]))


def test_first_part_reads_no_column() -> None:
    base = random_interactions(seed=5)
    events = joined_events(base, base.take([0]))
    assert first_part(events) is base and first_part(base) is base
    assert len(events.parts) == 2  # nothing was joined


def test_they_behave_as_plain_events_for_a_plugin() -> None:
    base = random_interactions(seed=6, string_ids=True)
    events = joined_events(base, base.take([0, 1]))
    expected = _concatenated(base, base.take([0, 1]))
    for plain, want in (
        (events.take(np.arange(len(events))), expected),
        (Interactions.concat(events, base.take([2])), _concatenated(base, base.take([0, 1, 2]))),
        (copy.copy(events), expected),
        (copy.deepcopy(events), expected),
        (pickle.loads(pickle.dumps(events)), expected),
    ):
        assert type(plain) is Interactions
        assert _columns(plain) == want
    with pytest.raises(AttributeError):
        _ = events.no_such_column  # type: ignore[attr-defined]
    assert "Interactions(" in repr(events)


def test_threads_reading_at_once_join_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = joined_module._joined

    def counted(parts: tuple[Interactions, ...]) -> Interactions:
        calls.append(len(parts))
        return real(parts)

    monkeypatch.setattr(joined_module, "_joined", counted)
    base = random_interactions(seed=7)
    events = joined_events(base, base.take([0]))
    seen: list[int] = []
    threads = [threading.Thread(target=lambda: seen.append(len(events.users))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [2] and seen == [len(base) + 1] * 8


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
    last, middle = states[2].interactions, states[1].interactions
    assert isinstance(last, JoinedEvents) and len(last.parts) == 4  # three updates, nothing joined
    assert isinstance(middle, JoinedEvents) and len(middle.parts) == 3  # the builder read only their value range
    assert _columns(middle) == _concatenated(data, parts[0], parts[1])  # unchanged by the last
    refit = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(
        Interactions.concat(Interactions.concat(Interactions.concat(data, parts[0]), parts[1]), parts[2])
    )
    assert _columns(last) == _columns(refit._state().interactions)
    assert (rec.interaction_matrix.matrix != refit.interaction_matrix.matrix).nnz == 0


def test_a_forget_after_updates_and_a_save_read_the_joined_events(tmp_path: object) -> None:
    data = random_interactions(seed=9)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(data)
    rec.update(Interactions([1, 500], [2, 3], [4.0, 5.0], [2e9, 2e9]))
    rec.update(Interactions([501], [4], [1.0], [2e9 + 1]))
    rec.forget(users=[500])
    events = rec._state().interactions
    assert isinstance(events, HeldEvents) and type(events.result()) is Interactions  # settled, its ranges kept
    assert 500 not in events.users.tolist() and 501 in events.users.tolist()
    rec.update(Interactions([502], [2], [2.0], [2e9 + 2]))
    path = rec.save(f"{tmp_path}/model")
    loaded = Recommender.load(path)
    assert _columns(loaded._state().interactions) == _columns(rec._state().interactions)


def test_column_range_by_hand_and_from_the_parts() -> None:
    events = Interactions([1, 2, 3], [4, 5, 6], [3.0, 0.5, 2.0], [30.0, 10.0, 20.0])
    assert events.column_range("values") == (0.5, 3.0)
    assert events.column_range("timestamps") == (10.0, 30.0)
    assert Interactions([1], [2]).column_range("values") is None  # no values
    assert events.take(np.zeros(3, dtype=bool)).column_range("values") is None  # no events
    with pytest.raises(ValueError, match="'values' or 'timestamps', not 'users'"):
        events.column_range("users")
    later = joined_events(
        joined_events(events, Interactions([7], [8], [9.0], [5.0])), Interactions([1], [1], [1.0], [40.0])
    )
    assert later.column_range("values") == (0.5, 9.0) and later.column_range("timestamps") == (5.0, 40.0)
    assert isinstance(later, JoinedEvents) and len(later.parts) == 3  # answered without joining
    rng = np.random.default_rng(0)
    parts = [Interactions(np.arange(n), np.arange(n), rng.random(n), rng.random(n)) for n in (50, 0, 7, 30)]
    chained: Interactions = parts[0]
    for part in parts[1:]:
        chained = joined_events(chained, part)
    for name in ("values", "timestamps"):
        column = np.concatenate([getattr(part, name) for part in parts])
        assert chained.column_range(name) == (column.min(), column.max())
    assert isinstance(chained, JoinedEvents) and len(chained.parts) == 4  # still not joined


def test_column_range_keeps_a_nan_as_numpy_does() -> None:
    with_nan = Interactions._unchecked(np.arange(2), np.arange(2), np.array([1.0, np.nan]), None)
    low, high = joined_events(Interactions([5], [5], [2.0]), with_nan).column_range("values")  # type: ignore[misc]
    assert np.isnan(low) and np.isnan(high)
