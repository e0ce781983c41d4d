"""The training events of an updated model, appended where the previous update left room.

``update`` gives the model the old training events followed by the new ones. Joined anew, that
is a copy of every event (0.08-0.15 s for 18 million on 2 cores), whatever the size of the
update. :func:`appended` copies them once, into columns with room for a quarter more events.
The room is allocated but not written: for arrays this large the system backs it with memory
only as it is used (smaller ones may come from memory the process already holds). The next
update then writes only its own events after the old ones, in place: the events it joins cost
what it adds.

The room belongs to the events that end where it starts, and is claimed by the first update
that writes into it. The claim is kept here, by buffer, under a lock. Another update of those
events, one that lost a race or ran on a copy of the model's state, finds the room claimed and
copies instead. An update that fails gives its claim back (:func:`released`). The events of a
model never change: an update writes only past their end, where no published model's events
reach. Where any column can't be written in place (no room, a read-only buffer, two columns
sharing one, text ids longer than the buffer's, a dtype it can't hold exactly), every column
is copied anew.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np

from recframe.data import Interactions
from recframe.recommender.entry_passes import joined

SPARE = 0.25
"""The room left after the events, as a share of their number."""

_COLUMNS = ("users", "items", "values", "timestamps")

_lock = threading.Lock()
_claims: dict[int, tuple[weakref.ref[np.ndarray], int]] = {}
"""For each buffer (by id), a weak reference to it and how many of its entries are claimed."""


def appended(base: Interactions, new: Interactions) -> Interactions:
    """Return the events of `base` followed by those of `new`: written after `base`'s in place where it has room.

    A column that either lacks is left out (as :meth:`Interactions.concat` does). `base`, and
    every events made before, are left as they are.
    """
    pairs = [(getattr(base, name), getattr(new, name)) for name in _COLUMNS]
    pairs = [(old, add) if old is not None and add is not None else (None, None) for old, add in pairs]
    with _lock:
        _forget_dead()
        found = [(None if old is None else _room(old, add), old, add) for old, add in pairs]
        rooms = [room for room, old, _ in found if old is not None]
        in_place = all(room is not None for room in rooms) and len({id(room) for room in rooms}) == len(rooms)
        if in_place:  # claimed here, written below outside the lock: the claim makes the room this call's
            for room, old, add in found:
                if room is not None:
                    _claim(room, len(old) + len(add))
    if in_place:
        return _events([None if room is None else _written(room, old, add) for room, old, add in found])
    spare = max(int((len(base) + len(new)) * SPARE), 1)  # at least one: the columns are views of their buffers
    columns = [None if old is None else joined(old, add, spare) for old, add in pairs]
    with _lock:
        for column in columns:
            if column is not None:
                _claim(column.base, len(column))
    return _events(columns)


def released(events: Interactions, length: int) -> None:
    """Give back the room `events` claimed after their first `length` (an update that failed).

    Only a claim that still ends where `events` end is given back: if a later call claimed more,
    it keeps it.
    """
    with _lock:
        for name in _COLUMNS:
            column = getattr(events, name)
            buffer = None if column is None else column.base
            if _claimed_end(buffer) == len(column):
                _claim(buffer, length)


def _room(column: np.ndarray, add: np.ndarray) -> np.ndarray | None:
    """Return the buffer `column` starts, if the room after it is unclaimed, writable and holds `add` as it is."""
    buffer = column.base
    if not isinstance(buffer, np.ndarray) or buffer.ndim != 1 or column.ndim != 1:
        return None
    if _claimed_end(buffer) != len(column):
        return None  # not a buffer of ours, or its room is claimed by other events
    same_start = column.__array_interface__["data"][0] == buffer.__array_interface__["data"][0]
    if not same_start or column.strides != buffer.strides or column.dtype != buffer.dtype:
        return None
    if len(buffer) - len(column) < len(add) or not buffer.flags.writeable:
        return None
    if add.dtype != buffer.dtype and not np.can_cast(add.dtype, buffer.dtype, casting="safe"):
        return None  # longer text ids, say: joined anew in a dtype that holds both
    return buffer


def _claimed_end(buffer: object) -> int | None:
    """Return how many entries of `buffer` are claimed, ``None`` if it is not a buffer of ours."""
    claim = _claims.get(id(buffer)) if isinstance(buffer, np.ndarray) else None
    return claim[1] if claim is not None and claim[0]() is buffer else None


def _written(buffer: np.ndarray, old: np.ndarray, add: np.ndarray) -> np.ndarray:
    """Write `add` after `old` (the start of `buffer`, its room claimed) and return the view of both."""
    end = len(old) + len(add)
    buffer[len(old) : end] = add
    return buffer[:end]


def _claim(buffer: object, end: int) -> None:
    """Record that the entries of `buffer` up to `end` belong to a model's events (the room after is free)."""
    assert isinstance(buffer, np.ndarray)
    _claims[id(buffer)] = (weakref.ref(buffer), end)


def _events(columns: list[np.ndarray | None]) -> Interactions:
    """Return events of these (checked) columns: users, items, values, timestamps."""
    users, items, values, timestamps = columns
    assert users is not None and items is not None
    return Interactions._unchecked(users, items, values, timestamps)


def _forget_dead() -> None:
    """Drop the claims of buffers that are gone (their ids may be reused)."""
    for key in [key for key, (ref, _) in _claims.items() if ref() is None]:
        del _claims[key]
