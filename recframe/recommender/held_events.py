"""A model's training events with the range of their values and times, found once.

A matrix builder's update asks the model's events for the range of their values and times
(:meth:`~recframe.Interactions.column_range`: the ``ratings`` builder updates its matrix only
where every value is positive, ``first`` and ``last`` only with events newer than the old
ones): a pass over a column of every event, about 0.01 s per column for each 10 million
events, on every update. The model keeps its events as :class:`HeldEvents`, which answer from
ranges found once: by ``fit`` when it takes them, by the worker that copies a forget's kept
events (mostly from the forgotten events alone, :func:`ranges_after_removal`), from the parts
of an update's (:class:`~recframe.recommender.joined_events.JoinedEvents`), and on first use
after ``load`` (a loaded model's events may be memory-mapped, and are not read until needed).
"""

from __future__ import annotations

import abc
import threading

import numpy as np
import numpy.typing as npt

from recframe.data import Interactions
from recframe.recommender.deferred_events import DeferredEvents

RANGED = ("values", "timestamps")
"""The columns whose range is kept."""

Ranges = dict[str, tuple[float, float] | None]
"""Each column of :data:`RANGED`: its smallest and largest entry, ``None`` without entries."""


def ranges_of(events: Interactions) -> Ranges:
    """Return the ranges of `events`' columns (a pass over each)."""
    return {name: events.column_range(name) for name in RANGED}


def joined_ranges(parts: tuple[Interactions, ...]) -> Ranges:
    """Return the ranges of the events of `parts` one after another, from the parts' ranges."""
    ranges: Ranges = {}
    for name in RANGED:
        known = np.array([bounds for bounds in (part.column_range(name) for part in parts) if bounds is not None])
        # numpy's min and max, as a column's own: a NaN (of events made unchecked) stays NaN
        ranges[name] = (float(known[:, 0].min()), float(known[:, 1].max())) if len(known) else None
    return ranges


def ranges_after_removal(
    events: Interactions, ranges: Ranges, removed: npt.NDArray[np.int64], kept: Interactions
) -> Ranges:
    """Return the ranges of `kept`, the events of `events` (whose ranges are `ranges`) but those at `removed`.

    An end of a column's range stays where every removed event lies strictly inside it, or
    where a kept event is at that end: :func:`_range_without` reads the kept events only until
    it finds one there (at once for an end many events share, such as the top rating), and
    finds the range in the same pass otherwise. The removed events are few (a forget's).
    """
    result: Ranges = {}
    for name in RANGED:
        column, bounds = getattr(events, name), ranges[name]
        if column is None or bounds is None or not len(kept):
            result[name] = None
            continue
        gone = column[removed]
        inside = not len(gone) or (float(gone.min()) > bounds[0] and float(gone.max()) < bounds[1])
        result[name] = bounds if inside else _range_without(kept, name, bounds)
    return result


_BLOCK = 1 << 16
"""Entries :func:`_range_without` reads at a time."""


def _range_without(kept: Interactions, name: str, bounds: tuple[float, float]) -> tuple[float, float]:
    """Return the range of the `kept` events' column `name`, whose ends can only be at or inside `bounds`.

    Read a block at a time, keeping its smallest and largest entry so far: once they reach both
    ends of `bounds`, those are its ends; after the last block, they are what it holds.
    """
    if np.isnan(bounds).any():  # numpy's min and max of a column with a NaN: as column_range finds them
        found = kept.column_range(name)
        assert found is not None  # kept events are not empty
        return found
    column = getattr(kept, name)
    low, high = np.inf, -np.inf
    for start in range(0, len(column), _BLOCK):
        block = column[start : start + _BLOCK]
        low, high = min(low, float(block.min())), max(high, float(block.max()))
        if low == bounds[0] and high == bounds[1]:
            break
    return low, high


class RangedEvents(DeferredEvents):
    """Deferred events that answer :meth:`column_range` from ranges found once (:meth:`ranges`)."""

    @abc.abstractmethod
    def ranges(self) -> Ranges:
        """Return the ranges of the columns of :data:`RANGED`."""

    def column_range(self, name: str) -> tuple[float, float] | None:
        """Return the smallest and the largest entry of the column `name`, from the ranges found once."""
        if name not in RANGED:
            return Interactions.column_range(self, name)  # says what it takes
        return self.ranges()[name]


class HeldEvents(RangedEvents):
    """A model's training events (`events`, plain) and their ranges: `ranges`, or found on first use.

    They behave as plain events (:class:`~recframe.recommender.deferred_events.DeferredEvents`);
    only :meth:`column_range` answers without a pass.
    """

    def __init__(self, events: Interactions, ranges: Ranges | None = None) -> None:
        self._events = events.result() if isinstance(events, DeferredEvents) else events  # plain, as promised
        self._count = len(events)
        self._ranges = ranges
        self._lock = threading.Lock()

    def result(self) -> Interactions:
        """Return the plain events."""
        return self._events

    def ranges(self) -> Ranges:
        """Return the ranges given, or found (once) on first use."""
        with self._lock:
            if self._ranges is None:
                self._ranges = ranges_of(self._events)
            return self._ranges
