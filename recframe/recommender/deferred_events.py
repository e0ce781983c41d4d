"""Training events whose columns are made when first read: the base of a forget's and an update's events.

A model's training events are needed whole only by what reads every event (a save, a forget, a
builder without an incremental update), not by an update that brings the matrix up to date from
the previous one. :class:`DeferredEvents` is an :class:`~recframe.Interactions` that knows its
length before its columns and makes its columns when one is first read
(:meth:`~DeferredEvents.result`): :class:`~recframe.recommender.pending_events.PendingEvents`
finds and copies a forget's kept events on a worker thread (its length known once the
forgotten events are found), :class:`~recframe.recommender.joined_events.JoinedEvents` joins an
update's events after the model's only when something reads them.

Whatever a plugin does with them, they behave as plain events: :meth:`~Interactions.take` and
:meth:`~Interactions.concat` give plain :class:`~recframe.Interactions`, and so do ``copy``,
``deepcopy`` and ``pickle``.
"""

from __future__ import annotations

import abc
from typing import Any

from recframe.data import FloatArray, IdArray, Interactions


class DeferredEvents(Interactions, metaclass=abc.ABCMeta):
    """Events of a known length whose columns come from :meth:`result` when one is first read.

    No ``Interactions.__init__``: the columns are never set on the object (its slots stay
    empty), so that reading one goes through :meth:`__getattr__`.
    """

    _count: int

    @abc.abstractmethod
    def result(self) -> Interactions:
        """Return the events as plain :class:`~recframe.Interactions` (made on the first call)."""

    @classmethod
    def _unchecked(
        cls, users: IdArray, items: IdArray, values: FloatArray | None, timestamps: FloatArray | None
    ) -> Interactions:
        """Return plain events (what ``take`` and ``concat`` of deferred events give)."""
        return Interactions._unchecked(users, items, values, timestamps)

    def __reduce__(self) -> tuple[Any, ...]:
        """Copy and pickle as the plain events (not the thread, lock or parts behind them)."""
        events = self.result()
        return Interactions._unchecked, (events.users, events.items, events.values, events.timestamps)

    def __len__(self) -> int:
        """Return the number of events (known before the columns are made)."""
        return self._count

    def __getattr__(self, name: str) -> Any:
        """Return a column from :meth:`result` (called only for the columns: they are not set on this object)."""
        if name not in Interactions.COLUMNS:
            raise AttributeError(name)
        return getattr(self.result(), name)
