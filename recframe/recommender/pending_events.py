"""The events a forget keeps, found and copied on a worker thread while the rest of the model is updated.

A forget keeps every training event but the forgotten users' and items' ones: a fresh copy of
every column (0.2-0.4 s on the ML-20M shape) that nothing else in the update needs, since the
matrix builders of the library bring their matrix up to date from the previous matrix.
:class:`PendingEvents` finds the forgotten events (a pass over the users' column, the items'
or both; integer ids of a narrow span in a compiled pass that writes only their positions),
notes the ids of which it found none, and copies the others on a worker thread (numpy and the
compiled passes let go of the GIL). It is itself the :class:`~recframe.Interactions` the update
passes on as ``change.after``: its length is known once the worker has found the forgotten
events, a matrix builder that reads its columns waits for them, and gets the very events an
eager selection gives. The update waits for them at its end (:meth:`PendingEvents.held`)
and keeps them with their range of values and times, found by the worker too
(:class:`~recframe.recommender.held_events.HeldEvents`). They behave as plain events whatever a plugin does with them
(:class:`~recframe.recommender.deferred_events.DeferredEvents`), and a failed copy (a
``MemoryError``, say) is raised as itself, not as a plugin's error, when the forget ends.

On the ML-20M shape (2 cores), forgetting 100 users took 1.235 s with the copy on the worker
and 1.338 s with it first (interleaved medians of 8). Finding the forgotten events on the worker
too (the forget checks the ids against the matrix's, not against every event) took the forget
from 0.66 s to 0.57 s (medians of 6, one process each, after the copy became a copy of runs).
"""

from __future__ import annotations

import threading

import numpy as np

from recframe.data import IdArray, IntArray, Interactions
from recframe.data.ids import narrowed
from recframe.recommender.deferred_events import DeferredEvents
from recframe.recommender.entry_passes import compiled_pass
from recframe.recommender.held_events import HeldEvents, Ranges, ranges_after_removal, ranges_of
from recframe.recommender.update_inputs import positions_of


class PendingEvents(DeferredEvents):
    """The events of `events` but those of the `users` and `items` (sorted, distinct ids), copied on a worker thread.

    Reading a column waits for the copy (and raises what it raised); ``len`` waits only for the
    forgotten events to be found. Call :meth:`wait` before giving up on them, so that no copy
    outlives its caller.
    """

    def __init__(self, events: Interactions, users: IdArray, items: IdArray) -> None:
        # the columns come from the worker: checked events, filtered
        self._count: int | None = None  # type: ignore[assignment]  # known once the worker has counted
        self._counted = threading.Event()
        self._absent: dict[str, IdArray] = {}
        self._kept: Interactions | None = None
        self._ranges: Ranges | None = None
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._copy, args=(events, users, items), name="recframe-kept-events")
        self._worker.start()

    def _copy(self, events: Interactions, users: IdArray, items: IdArray) -> None:
        try:
            try:
                dropped, self._absent = forgotten(events, users, items)
                self._count = len(events) - len(dropped)
            finally:  # a reader of the length wakes either way (and finds the error)
                self._counted.set()
            self._kept = events_without(events, dropped)
            self._ranges = ranges_after_removal(events, ranges_of(events), dropped, self._kept)  # a model's: kept
        except BaseException as error:  # handed to the reader, raised there
            self._error = error

    def __len__(self) -> int:
        """Return the number of kept events, once the worker has found the forgotten ones; raises as :meth:`result`."""
        self._found()
        assert self._count is not None
        return self._count

    def absent(self) -> dict[str, IdArray]:
        """Return the ids to forget of which no event was found (``users``, ``items``), once the worker has looked."""
        self._found()
        return self._absent

    def _found(self) -> None:
        """Wait until the worker has found the forgotten events; raise what it raised meanwhile."""
        self._counted.wait()
        if self._count is None:
            self.wait()
            assert self._error is not None
            raise self._error

    @property
    def error(self) -> BaseException | None:
        """What the copy raised, once it has finished; ``None`` while it runs or if it succeeded."""
        return self._error if not self._worker.is_alive() else None

    def wait(self) -> None:
        """Wait until the copy has finished (or failed), raising nothing."""
        self._worker.join()

    def result(self) -> Interactions:
        """Return the kept events as plain :class:`~recframe.Interactions`, once copied.

        Raises
        ------
        BaseException
            What the copy raised (a ``MemoryError``, say).
        """
        self.wait()
        if self._error is not None:
            raise self._error
        assert self._kept is not None
        return self._kept

    def held(self) -> HeldEvents:
        """Return the kept events, once copied, with their ranges (:class:`HeldEvents`); raises as :meth:`result`."""
        return HeldEvents(self.result(), self._ranges)


def forgotten(events: Interactions, users: IdArray, items: IdArray) -> tuple[IntArray, dict[str, IdArray]]:
    """Return the positions of the events of the `users` and the `items` (sorted, distinct ids), in increasing order.

    Also returns, for ``users`` and ``items``, the ids of which no event was found.
    """
    found: list[IntArray] = []
    absent: dict[str, IdArray] = {}
    for name, ids in (("users", users), ("items", items)):
        column = getattr(events, name)
        positions = positions_of(column, ids) if len(ids) else np.empty(0, dtype=np.int64)
        absent[name] = np.setdiff1d(ids, column[positions]) if len(ids) else ids
        found.append(positions)
    return np.union1d(*found), absent


RUN_MIN = 32
"""The shortest mean run between dropped events that :func:`without` copies run by run."""


def without(column: np.ndarray, dropped: IntArray) -> np.ndarray:
    """Return a copy of `column` without the entries at the `dropped` positions (increasing, distinct).

    Numbers take the compiled copy of the runs between them (a column of every event, from
    :data:`~recframe.recommender.entry_passes.COMPILED_ENTRIES` on) while the runs are long
    (a forget's few events); others ``numpy.delete``, which tests a mask per entry instead of
    starting a copy per run.
    """
    if column.dtype.kind in "iuf" and compiled_pass(len(column)) and len(dropped) * RUN_MIN <= len(column):
        from recframe.engine._compiled.kept_events import copy_kept
        from recframe.engine.kernel_inputs import read_only_view

        out = np.empty(len(column) - len(dropped), dtype=column.dtype)
        copy_kept(read_only_view(np.asarray(column)), read_only_view(dropped), out)
        return out
    return np.delete(column, dropped)


def events_without(events: Interactions, dropped: IntArray) -> Interactions:
    """Return `events` without those at the `dropped` positions (increasing, distinct): :func:`without` per column.

    Text id columns come back as narrow as the ids left where a dropped one set their width
    (:func:`~recframe.data.ids.narrowed`).
    """

    def cut(column: np.ndarray | None) -> np.ndarray | None:
        return None if column is None else without(column, dropped)

    def ids(column: IdArray) -> IdArray:
        return narrowed(without(column, dropped), column[dropped])

    return Interactions._unchecked(ids(events.users), ids(events.items), cut(events.values), cut(events.timestamps))


def settled(events: Interactions) -> Interactions:
    """Return `events` as a model keeps them: a :class:`PendingEvents`' result with its ranges, or `events` itself."""
    return events.held() if isinstance(events, PendingEvents) else events
