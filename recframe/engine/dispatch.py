"""The one choice between the compiled (numba) and the scipy implementation of every primitive.

Each primitive of :mod:`recframe.engine` takes ``engine="auto" | "numba" | "scipy"`` and asks
:func:`resolve_engine` which one to run: ``auto`` is numba when it is installed
(``pip install 'recframe[fast]'``), scipy otherwise, unless the environment variable
``RECFRAME_ENGINE`` (:data:`ENGINE_ENV`) names one: then every ``auto`` of the process, the
recommender's own passes (transposes, merges, row totals) included, means that one. Both give
the same result up to float rounding. Compiled kernels run inside :func:`numba_threads`, which
sets the number of threads and holds the one lock that keeps two Python threads out of numba's
thread pool at once.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

Engine = Literal["auto", "numba", "scipy"]
"""An implementation choice: ``auto`` (numba when installed), ``numba`` or ``scipy``."""

ENGINE_ENV = "RECFRAME_ENGINE"
"""The environment variable that fixes what ``auto`` means: ``numba`` or ``scipy`` (or ``auto``)."""

_NUMBA_LOCK = threading.Lock()
"""numba's default thread pool must not be entered by two Python threads at once: compiled
parallel kernels run one at a time (each already uses every thread it was given)."""


def numba_available() -> bool:
    """Return whether the compiled engine can be used (numba is installed).

    Returns
    -------
    bool
        ``True`` if the ``numba`` package can be imported.
    """
    return importlib.util.find_spec("numba") is not None


def resolve_engine(engine: Engine) -> Literal["numba", "scipy"]:
    """Return the engine ``auto`` stands for, or `engine` itself.

    Parameters
    ----------
    engine : {"auto", "numba", "scipy"}
        The engine asked for.

    Returns
    -------
    {"numba", "scipy"}
        The implementation that will run.

    Raises
    ------
    ImportError
        If ``numba`` is asked for (or ``RECFRAME_ENGINE=numba`` for ``auto``) and not installed;
        the message says how to install it.
    ValueError
        If `engine`, or ``RECFRAME_ENGINE`` for ``auto``, is something other than ``numba``,
        ``scipy`` or ``auto``.
    """
    if engine == "auto":
        chosen = os.environ.get(ENGINE_ENV, "auto").strip().lower() or "auto"
        if chosen not in ("auto", "numba", "scipy"):
            msg = f"{ENGINE_ENV}={os.environ[ENGINE_ENV]!r} is not an engine; use numba, scipy or auto"
            raise ValueError(msg)
        if chosen != "auto":
            return resolve_engine(chosen)  # type: ignore[arg-type]
        return "numba" if numba_available() else "scipy"
    if engine not in ("numba", "scipy"):  # anything else ran scipy without a word
        msg = f"engine must be 'auto', 'numba' or 'scipy'; got {engine!r}"
        raise ValueError(msg)
    if engine == "numba" and not numba_available():
        msg = "engine 'numba' needs the numba package; install it with: pip install 'recframe[fast]'"
        raise ImportError(msg)
    return engine


def compiled_by_default() -> bool:
    """Return whether ``auto`` runs the compiled kernels here.

    For code that picks a compiled path of its own (a pass over every entry with no ``engine``
    setting), so that ``RECFRAME_ENGINE=scipy`` keeps it off numba like every primitive.

    Returns
    -------
    bool
        ``True`` if numba is installed and ``RECFRAME_ENGINE`` is not ``scipy``.

    Raises
    ------
    ImportError, ValueError
        As :func:`resolve_engine` for ``auto``.
    """
    return resolve_engine("auto") == "numba"


def default_threads() -> int:
    """Return the number of cores this process may use.

    Returns
    -------
    int
        The CPU affinity of the process where the platform reports it, else the CPU count.
    """
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def numba_max_threads() -> int:
    """Return the most threads numba's pool can run (``NUMBA_NUM_THREADS``); imports numba."""
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


def used_threads(threads: int | None) -> int:
    """Return how many threads a compiled kernel asked for `threads` runs on.

    Parameters
    ----------
    threads : int, optional
        Threads asked for; all cores (:func:`default_threads`) by default.

    Returns
    -------
    int
        Between 1 and numba's pool size.

    Raises
    ------
    TypeError, ValueError
        If `threads` is not ``None`` or a whole number ``>= 1``.
    """
    from recframe.engine.kernel_inputs import check_threads

    return max(1, min(check_threads(threads) or default_threads(), numba_max_threads()))


@contextmanager
def numba_threads(threads: int | None) -> Iterator[int]:
    """Hold the compiled-kernel lock with numba set to `threads` threads; yield the number used.

    Parameters
    ----------
    threads : int, optional
        Threads for the kernels run inside the block; all cores by default.

    Yields
    ------
    int
        The number of threads numba runs on inside the block.
    """
    import numba

    with _NUMBA_LOCK:
        used = used_threads(threads)
        previous = numba.get_num_threads()
        numba.set_num_threads(used)
        try:
            yield used
        finally:
            numba.set_num_threads(previous)
