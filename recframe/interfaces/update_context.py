"""Whether components are being fitted again by an update of a model, not by a fit.

``Recommender.update`` and ``forget`` fit copies of the model's components again (the rankers
always; a similarity for the rows it searches anew) while :func:`in_update` is true. A component
whose fit would refuse for want of something the model already does without may do what the
model does instead: a GPU plugin's model loaded on a machine without a GPU answers with the CPU
engine, so its update and forget run there too rather than stop (a data-protection ``forget``
must not wait for a GPU). A fit is never inside this context.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_IN_UPDATE: ContextVar[bool] = ContextVar("recframe_in_update", default=False)


def in_update() -> bool:
    """Return whether the caller runs inside ``Recommender.update`` or ``forget`` (threads it started included).

    The recommender's local executor runs work in the caller's context, so a component's code
    on its threads sees the same answer; a task on another process (a Ray worker) sees ``False``.
    """
    return _IN_UPDATE.get()


@contextmanager
def updating_model() -> Iterator[None]:
    """Make :func:`in_update` true within the block (what ``update`` and ``forget`` run in)."""
    token = _IN_UPDATE.set(True)
    try:
        yield
    finally:
        _IN_UPDATE.reset(token)
