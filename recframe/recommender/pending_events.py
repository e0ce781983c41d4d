"""The events a forget keeps, filtered on a worker thread while the rest of the model is updated.

A forget keeps every training event but the forgotten users' and items' ones: a fresh copy of
every column (0.2-0.3 s on the ML-20M shape) that nothing else in the update needs, since the
matrix builders of the library bring their matrix up to date from the previous matrix.
:class:`PendingEvents` copies the kept events on a worker thread (numpy lets go of the GIL while
it copies), and is itself the :class:`~recframe.Interactions` the update passes on as
``change.after``: a matrix builder that reads its columns waits for them, and gets the very
events an eager copy gives. The update waits for them at its end (:meth:`PendingEvents.result`)
and keeps the plain events.

Whatever a plugin does with them, they behave as plain events: :meth:`~Interactions.take` and
:meth:`~Interactions.concat` give plain :class:`~recframe.Interactions`, and so do ``copy``,
``deepcopy`` and ``pickle`` (the worker and its lock are not copied). A failed copy (a
``MemoryError``, say) is raised as itself, not as a plugin's error, when the forget ends.

On the ML-20M shape (2 cores), forgetting 100 users took 1.235 s with the copy on the worker
and 1.338 s with it first (interleaved medians of 8). An update that adds events joins them
first: joined on a worker, it took 1.70 s for adding 1% against 1.58 s (the join competed with
the matrix's merge for memory).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray, IdArray, Interactions

_COLUMNS = ("users", "items", "values", "timestamps")


class PendingEvents(Interactions):
    """The events of `events` where `keep` is true, being copied on a worker thread.

    Reading a column waits for the copy (and raises what it raised); ``len`` does not.
    Call :meth:`wait` before giving up on them, so that no copy outlives its caller.
    """

    def __init__(self, events: Interactions, keep: npt.NDArray[np.bool_]) -> None:
        # no Interactions.__init__: the columns come from the worker, checked events filtered
        self._count = int(np.count_nonzero(keep))
        self._kept: Interactions | None = None
        self._error: BaseException | None = None
        self._worker = threading.Thread(target=self._copy, args=(events, keep), name="recframe-kept-events")
        self._worker.start()

    def _copy(self, events: Interactions, keep: npt.NDArray[np.bool_]) -> None:
        try:
            self._kept = events.take(keep)
        except BaseException as error:  # handed to the reader, raised there
            self._error = error

    @classmethod
    def _unchecked(
        cls, users: IdArray, items: IdArray, values: FloatArray | None, timestamps: FloatArray | None
    ) -> Interactions:
        """Return plain events (what ``take`` and ``concat`` of pending events give)."""
        return Interactions._unchecked(users, items, values, timestamps)

    def __reduce__(self) -> tuple[Any, ...]:
        """Copy and pickle as the plain events, once copied (not the worker)."""
        events = self.result()
        return Interactions._unchecked, (events.users, events.items, events.values, events.timestamps)

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

    def __len__(self) -> int:
        """Return the number of events kept (known before they are copied)."""
        return self._count

    def __getattr__(self, name: str) -> Any:
        """Return a column once copied (called only for the columns: they are not set on this object)."""
        if name not in _COLUMNS:
            raise AttributeError(name)
        return getattr(self.result(), name)


def settled(events: Interactions) -> Interactions:
    """Return `events` as plain interactions: a :class:`PendingEvents`' result, or `events` itself."""
    return events.result() if isinstance(events, PendingEvents) else events
