"""Progress bars for long loops: on a terminal only, never under ``--quiet``.

Library code wraps its chunk loops in :func:`progress`; whoever drives the work (the CLI, or an
embedding application) decides with :func:`show_progress` whether bars appear. The setting is a
context variable, so two recommenders in different threads or tasks never interfere.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO, TypeVar

T = TypeVar("T")

_show: ContextVar[bool | None] = ContextVar("recframe_show_progress", default=None)


@contextmanager
def show_progress(enabled: bool | None) -> Iterator[None]:
    """Within the block, force progress bars on (``True``), off (``False``) or automatic (``None``).

    Automatic means: shown when standard error is a terminal.
    """
    token = _show.set(enabled)
    try:
        yield
    finally:
        _show.reset(token)


def _wanted(stream: TextIO) -> bool:
    setting = _show.get()
    if setting is not None:
        return setting
    return bool(getattr(stream, "isatty", lambda: False)())


def progress(
    iterable: Iterable[T], *, total: int | None, desc: str, unit: str = "rows", sizes: Iterable[int] | None = None
) -> Iterator[T]:
    """Yield from `iterable`, drawing a bar on standard error when progress is wanted.

    Parameters
    ----------
    iterable : iterable
        The work items, typically chunks.
    total : int or None
        Total amount of work, in `unit`; ``None`` when unknown (the count is shown, no bar).
    desc : str
        What is being done, shown before the bar.
    unit : str
        Name of the unit of `total`.
    sizes : iterable of int, optional
        Amount of work in each item; 1 per item by default.
    """
    stream = sys.stderr
    if not _wanted(stream):
        yield from iterable
        return
    start = last = time.monotonic()
    done = 0
    size_iter = iter(sizes) if sizes is not None else None
    for item in iterable:
        yield item
        done += next(size_iter, 1) if size_iter is not None else 1
        now = time.monotonic()
        if now - last >= 0.1 or (total is not None and done >= total):
            last = now
            _draw(stream, desc, done, total, unit, now - start)
    _draw(stream, desc, done, total, unit, time.monotonic() - start)
    stream.write("\n")
    stream.flush()


def _draw(stream: TextIO, desc: str, done: int, total: int | None, unit: str, elapsed: float) -> None:
    if total is None:
        stream.write(f"\r{desc}: {done} {unit} [{elapsed:.1f}s]")
        stream.flush()
        return
    fraction = min(1.0, done / total) if total else 1.0
    width = 24
    filled = int(fraction * width)
    bar = "#" * filled + "-" * (width - filled)
    stream.write(f"\r{desc}: {fraction:4.0%} |{bar}| {done}/{total} {unit} [{elapsed:.1f}s]")
    stream.flush()
