"""An updated model's training events: the model's followed by the update's, joined only when read.

``update`` gives the model its old training events followed by the new ones. Joined at once,
that is a fresh copy of every event (0.11-0.15 s for 18 million on 2 cores) whatever the size
of the update, and the library's incremental matrix builders (``ratings``, ``binary``) read
none of them: the matrix is brought up to date from the previous matrix, with the old events'
range of values and times (:meth:`~recframe.Interactions.column_range`), found from the parts'
when the events are made (the model's part knows its own: :mod:`.held_events`).
:class:`JoinedEvents` keeps the parts (the model's events, shared with the previous model, and
a copy of the update's) and joins them into one array per column when a column is first read:
by a save, a forget, or a builder that builds from ``change.after``. Updates in a row add parts
without joining anything; the :data:`MOST_PARTS`-th part is joined at its update, so one join
serves that many updates.

A model's events never change: the parts are never written to, the joined columns are new
arrays, and once joined the parts are let go of (an older model keeps its own). The first part
after a fit is the events ``fit`` was given, as the fitted model's are: arrays handed to ``fit``
must not be changed afterwards (see ``Recommender.fit``).
"""

from __future__ import annotations

import threading

import numpy as np

from recframe.data import Interactions
from recframe.recommender.entry_passes import joined
from recframe.recommender.held_events import HeldEvents, RangedEvents, Ranges, joined_ranges

MOST_PARTS = 64
"""The parts an updated model's events may have before they are joined at an update."""


class JoinedEvents(RangedEvents):
    """The events of `parts`, one after another, joined into plain columns when one is first read.

    Every part has the same columns and ids of the same kind (an update checks that first).
    The join runs once, under a lock, for every thread that reads them; the joined events keep
    the ranges (:class:`~recframe.recommender.held_events.HeldEvents`), so the next update's
    events know theirs without reading them.
    """

    def __init__(self, parts: tuple[Interactions, ...], ranges: Ranges | None = None) -> None:
        self._parts = parts  # at least two until joined, then the joined events alone (held)
        self._count = sum(len(part) for part in parts)
        self._ranges = joined_ranges(parts) if ranges is None else ranges
        self._lock = threading.Lock()

    @property
    def parts(self) -> tuple[Interactions, ...]:
        """The events joined, in order (one part, the joined events, once a column was read)."""
        with self._lock:
            return self._parts

    def ranges(self) -> Ranges:
        """Return the ranges, found from the parts' when the events were made."""
        return self._ranges

    def result(self) -> Interactions:
        """Return the events as plain :class:`~recframe.Interactions`, joining them on the first call."""
        with self._lock:
            if len(self._parts) > 1:
                self._parts = (HeldEvents(_joined(self._parts), self._ranges),)
            joined_part = self._parts[0]
        return joined_part.result() if isinstance(joined_part, HeldEvents) else joined_part


def joined_events(base: Interactions, new: Interactions) -> Interactions:
    """Return the events of `base` followed by a copy of those of `new`, joined when first read.

    `new` is copied (it is as long as the update) so that the model's events stay the same
    whatever the caller does with its arrays; `base` is a model's events, which never change.
    Their ranges come from `base`'s (a model's events know theirs) and the copy's.
    """
    copied = _copied(new)
    parts = (*(base.parts if isinstance(base, JoinedEvents) else (base,)), copied)
    events = JoinedEvents(parts, joined_ranges((base, copied)))
    if len(parts) >= MOST_PARTS:
        events.result()
    return events


def first_part(events: Interactions) -> Interactions:
    """Return events whose columns have the kinds of `events`' without joining them: the first part of joined events."""
    return events.parts[0] if isinstance(events, JoinedEvents) else events


def _copied(events: Interactions) -> Interactions:
    """Return plain events with copies of `events`' columns."""
    users, items, values, timestamps = (getattr(events, name) for name in Interactions.COLUMNS)
    return Interactions._unchecked(
        users.copy(),
        items.copy(),
        None if values is None else values.copy(),
        None if timestamps is None else timestamps.copy(),
    )


def _joined(parts: tuple[Interactions, ...]) -> Interactions:
    """Return the events of `parts` one after another, as plain events."""

    def column(name: str) -> np.ndarray | None:
        values = [getattr(part, name) for part in parts]
        return None if any(value is None for value in values) else joined(values)

    users, items, values, timestamps = (column(name) for name in Interactions.COLUMNS)
    assert users is not None and items is not None
    return Interactions._unchecked(users, items, values, timestamps)
