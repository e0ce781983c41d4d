"""Interrupts held back while a save puts its folder in place, and delivered once it is there.

A save writes the new folder beside the old one and then swaps them (and removes the old one).
Interrupted in that step, by a Ctrl-C or a SIGTERM the command turns into an interrupt, the save
would report itself as stopped, and undone, while the new folder was already in place: a
command exiting 143 (which the docs say is undone) after its update was saved would be retried
and apply the same events twice. :func:`interrupts_held` holds SIGINT, SIGTERM and SIGHUP back
for the swap and delivers the first one after it, as the signal's own handler would have; the
save marks the interrupt it then raises with :func:`mark_saved`, so that its caller can tell an
interrupt after the save from one before it (:func:`saved_before`).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals held back during a swap (SIGHUP is not on Windows)."""

_PLACED = [0]
"""How many saves this process has put in place (:func:`note_placed`)."""

_SAVED = "recframe_saved_to"
"""The attribute of an interrupt raised after a save put its folder in place: the folder."""


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back inside the block; deliver the first one received after it.

    Only the main thread can set signal handlers (and Python runs them there): elsewhere the
    block runs as it is. Delivered after the block means: the handler there was is called (a
    Python handler raises, ``KeyboardInterrupt`` for SIGINT), or, where it was the default
    action, the signal is sent again to this process.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: object) -> None:
        received.append(signum)

    try:
        for held in HELD:
            previous[held] = signal.signal(held, hold)
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)
        if received:
            _deliver(received[0], previous.get(received[0]))


def _deliver(signum: int, handler: Any) -> None:
    """Do what `handler` (the one in place before the hold) does on `signum`."""
    if callable(handler):
        handler(signum, None)
    elif handler != signal.SIG_IGN:  # the default action (or a handler not set from Python)
        os.kill(os.getpid(), signum)


def mark_saved(exc: BaseException, folder: Path) -> None:
    """Record on `exc`, an interrupt delivered after a save put `folder` in place, that the save is done."""
    setattr(exc, _SAVED, folder)


def saved_before(exc: BaseException) -> Path | None:
    """Return the folder a save had put in place before `exc` (an interrupt) was raised, else ``None``."""
    saved = getattr(exc, _SAVED, None)
    return saved if isinstance(saved, Path) else None


def note_placed() -> None:
    """Count a save put in place (inside the hold of its swap): see :func:`saves_placed`."""
    _PLACED[0] += 1


def saves_placed() -> int:
    """Return how many saves this process has put in place so far.

    An interrupt raised after a save's swap, but before the save returned (the model's own
    bookkeeping), carries no mark (:func:`mark_saved`): a caller that counted before the save
    tells by the count that the save is done all the same.
    """
    return _PLACED[0]
