"""Fresh memory in small pages while a model is updated, so its first writes do not stall.

numpy asks Linux for transparent huge pages on each large array (``madvise``). Where the
kernel then compacts memory on the spot to find them (``/sys/kernel/mm/transparent_hugepage/defrag``
set to ``madvise``, the default of many distributions), the first write to each part of a new
array can stall while the process's memory is fragmented, which is just the state of a
long-running service that has fitted a model and now updates it. An update writes a few fresh
copies of the data (the events, the matrix, the items' rows) and little else, so it pays this
more than anything: on the ML-20M shape (2 cores, medians of 3 repeats, each right after its own
fit) adding 1% took 2.55 s with huge pages and 1.56 s without, and a fit took the same either way.

:func:`small_pages` turns numpy's request off for the duration of an update and restores it
after; it is a hint about page size only (no result depends on it), so arrays that other
threads allocate meanwhile are unaffected but for their page size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

_lock = threading.Lock()
_state = {"depth": 0, "before": True}


def _switch() -> Callable[[bool], bool] | None:
    """Numpy's (internal) switch of the huge-page request, which returns the previous setting; None if absent."""
    core = getattr(np, "_core", None) or getattr(np, "core", None)
    switch = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    return switch if callable(switch) else None


@contextmanager
def small_pages() -> Iterator[None]:
    """Allocate numpy arrays without the huge-page request inside the block (nested and concurrent blocks share it)."""
    switch = _switch()
    if switch is None:
        yield
        return
    entered = False
    try:  # entered inside the try: an interrupt right after it still restores the setting
        with _lock:
            if _state["depth"] == 0:
                _state["before"] = bool(switch(False))
            _state["depth"] += 1
            entered = True
        yield
    finally:
        if entered:
            with _lock:
                _state["depth"] -= 1
                if _state["depth"] == 0:
                    switch(bool(_state["before"]))
