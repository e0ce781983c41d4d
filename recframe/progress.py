"""Progress bars for long loops: on a terminal only, never under ``--quiet``.

Library code wraps its chunk loops in :func:`progress`; whoever drives the work (the CLI, or an
embedding application) decides with :func:`show_progress` whether bars appear. The setting is a
context variable, so two recommenders in different threads or tasks never interfere.

A bar shows the rate and the time left (``ETA``) once there is a rate to go by. The first use
of the compiled engine compiles its numba kernels (cached afterwards, so once per install):
:func:`announce_numba_compilation` logs that it is compiling instead of stalling silently.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

logger = logging.getLogger(__name__)

COMPILE_SECONDS = 10
"""About how long compiling the kernels of one engine path takes on first use (measured, docs/performance.md)."""

UPDATE_COMPILE_SECONDS = 20
"""About how long compiling the kernel of ``update`` and ``forget`` takes on first use: 17 s on a 2-core
machine (docs/updating.md), twice a search's, and so announced on its own even after a fit."""

UPDATE_KERNEL_MODULE = "recframe.engine._compiled.delta"
"""The module of that kernel (:func:`~recframe.engine._compiled.delta.delta_lists`)."""

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
    done = width = 0
    size_iter = iter(sizes) if sizes is not None else None
    for item in iterable:
        yield item
        done += next(size_iter, 1) if size_iter is not None else 1
        now = time.monotonic()
        if now - last >= 0.1 or (total is not None and done >= total):
            last = now
            width = _draw(stream, desc, done, total, unit, now - start, width)
    _draw(stream, desc, done, total, unit, time.monotonic() - start, width)
    stream.write("\n")
    stream.flush()


def format_duration(seconds: float) -> str:
    """Render a duration for a progress bar: ``0s``, ``42s``, ``3m05s``, ``2h07m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_rate(rate: float, unit: str) -> str:
    """Render a rate with a k/M/G suffix: ``850 rows/s``, ``12.5k rows/s``, ``3.1M work/s``."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rate >= factor:
            value = rate / factor
            return f"{value:.1f}{suffix} {unit}/s" if value < 100 else f"{value:.0f}{suffix} {unit}/s"
    return f"{rate:.1f} {unit}/s" if rate < 10 else f"{rate:.0f} {unit}/s"


def eta(done: float, total: float | None, elapsed: float) -> float | None:
    """Return the seconds left at the rate so far, or ``None`` while there is no rate to go by."""
    if total is None or done <= 0 or elapsed <= 0:
        return None
    return max(0.0, (total - done) * elapsed / done)


def status_text(done: int, total: int | None, unit: str, elapsed: float) -> str:
    """Return the bracketed status of a bar: elapsed time, rate and, with a total, the time left."""
    parts = [format_duration(elapsed)]
    if done > 0 and elapsed > 0:
        parts.append(format_rate(done / elapsed, unit))
    left = eta(done, total, elapsed)
    if left is not None and total is not None and done < total:
        parts.append(f"ETA {format_duration(left)}")
    return "[" + ", ".join(parts) + "]"


def _draw(
    stream: TextIO, desc: str, done: int, total: int | None, unit: str, elapsed: float, previous: int = 0
) -> int:
    """Redraw the bar over the previous one (padding over a longer one); return its length."""
    status = status_text(done, total, unit, elapsed)
    if total is None:
        line = f"{desc}: {done} {unit} {status}"
    else:
        fraction = min(1.0, done / total) if total else 1.0
        width = 24
        filled = int(fraction * width)
        bar = "#" * filled + "-" * (width - filled)
        line = f"{desc}: {fraction:4.0%} |{bar}| {done}/{total} {unit} {status}"
    stream.write("\r" + line.ljust(previous))
    stream.flush()
    return len(line)


_compile_lock = threading.Lock()
_compile_state = {"installed": False, "announced": False, "announced_update": False}


def announce_numba_compilation() -> None:
    """Log, once per process, when numba starts compiling a recframe kernel; and the update's kernel once more.

    numba caches compiled kernels on disk (``cache=True``), so compiling happens on the first
    use after an install or upgrade and takes a while; a kernel loaded from the cache is not
    announced. Modules of compiled kernels call this when they are imported. The listener
    watches numba's ``numba:compile`` event, which fires only on a real compilation. The kernel
    of ``update`` and ``forget`` (:data:`UPDATE_KERNEL_MODULE`) takes several times longer than
    the others, and often compiles in a process that has compiled a search already: it has a
    notice of its own, with its own estimate.
    """
    with _compile_lock:
        if _compile_state["installed"]:
            return
        from numba.core import event

        class _Listener(event.Listener):
            def on_start(self, ev: Any) -> None:
                dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
                module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
                if module.split(".")[0] != "recframe":
                    return
                update = module == UPDATE_KERNEL_MODULE
                key = "announced_update" if update else "announced"
                with _compile_lock:
                    if _compile_state[key]:
                        return
                    _compile_state[key] = True
                logger.info(
                    "compiling the %snumba kernels (once per install, ~%d s; later runs load them from the cache)...",
                    "update's " if update else "",
                    UPDATE_COMPILE_SECONDS if update else COMPILE_SECONDS,
                )

            def on_end(self, ev: Any) -> None:
                pass

        event.register("numba:compile", _Listener())  # type: ignore[no-untyped-call]
        _compile_state["installed"] = True
