"""SIGTERM and SIGHUP in the ``recframe`` command: stopped as a Ctrl-C stops it, undoing what was half made.

A scheduler's time limit (SIGTERM) or a closed terminal (SIGHUP) would otherwise kill the
process between two renames of an output folder being replaced, leaving the earlier run's files
retired and the new run's half in place. :func:`stop_as_interrupt` turns them into
:class:`Terminated`, a ``KeyboardInterrupt``, for the command's entry point only (a program
calling :func:`recframe.cli.main` keeps its own signal handling); ``recframe serve`` gives them
back to their defaults (:func:`stop_by_default`), as its server stops gracefully on them and
then ends by the signal.
"""

from __future__ import annotations

import signal
import threading

_DONE: list[str] = []
"""What the running command has made for good (:func:`note_done`); cleared as each command starts."""

STOPPING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
"""The signals turned into :class:`Terminated` (SIGHUP is not on Windows)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: the command stops as a Ctrl-C stops it, undoing what it had half made.

    A scheduler's time limit or a closed terminal would otherwise kill the process between two
    renames of an output folder being replaced, leaving the earlier run's files retired and the
    new run's half in place. The exit status is the signal's, 128 + its number (143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def stop_as_interrupt() -> None:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` where they have their default action (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for stopping in STOPPING:
        if signal.getsignal(stopping) == signal.SIG_DFL:  # not one a caller of ours set
            signal.signal(stopping, _terminate)


def ignore_stopping() -> None:
    """Ignore Ctrl-C, SIGTERM and SIGHUP from here on (main thread): for after the command has finished.

    One of them during the interpreter's shutdown (threads joined, files closed) would kill the
    process by the signal, 130 or 143 to a shell, and a script would take a finished command for
    an interrupted one: an update saved, then retried on 143, would apply its events twice
    (found by an outside review, for SIGINT and then for SIGTERM).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for stopping in (signal.SIGINT, *STOPPING):
        signal.signal(stopping, signal.SIG_IGN)


def stop_by_default() -> None:
    """Give SIGTERM and SIGHUP back their default action where :func:`stop_as_interrupt` set them."""
    if threading.current_thread() is not threading.main_thread():
        return
    for stopping in STOPPING:
        if signal.getsignal(stopping) is _terminate:
            signal.signal(stopping, signal.SIG_DFL)


def note_done(what: str) -> None:
    """Record that the running command's change is made for good (`what` says where): a stop can't undo it.

    :func:`recframe.cli.main` then answers a Ctrl-C, SIGTERM or SIGHUP that comes later (its
    report being printed, its lock let go) with a warning and exit status 0, not 130 or 143,
    which say the change was not made: a script retrying on those would apply an update twice.
    """
    _DONE.append(what)


def done_before_stop() -> str | None:
    """Return what the running command made for good (:func:`note_done`), ``None`` if nothing yet."""
    return _DONE[-1] if _DONE else None


def new_command() -> None:
    """Forget what an earlier command (of the same process) made for good."""
    _DONE.clear()
