"""A compiled kernel's tasks run side by side on a few Python threads, instead of a numba ``prange``.

A kernel compiled with ``nogil=True`` releases the GIL while it runs, so Python threads calling
it on different tasks (ranges of rows, heap sets) run in parallel just as a ``prange`` loop
over the same tasks does, one task per thread. What the ``prange`` costs instead is compiling:
numba lowers a parallel loop into a gufunc of its own, seconds for each combination of argument
types on the first call after an install (the symmetric search's accumulation, 8 s of its
float32 version's first call; a serial kernel of the same body compiles in 1.4 s). See also
:mod:`recframe.engine.slices`, which runs the batch kernels on slices of query rows.

A serial kernel loses one thing a ``prange`` loop's compilation gave for free: the array
arguments of a helper numba inlines (``inline="always"``) are copies counted in and out of use
at every call, which in an innermost loop costs as much as real work. Keep such calls out of
the hottest loop, or make the helper an intrinsic (as :mod:`~recframe.engine._compiled.prefetch`
does).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any


class TaskThreads(AbstractContextManager["TaskThreads"]):
    """Up to `threads` threads that run ``kernel(task, *arguments)`` for each task, side by side.

    Open it once for a search that calls kernels many times (a thread pool starts in about
    0.1 ms a thread), as a context manager: leaving it ends the threads. With one thread, or
    one task, the kernel runs in the calling thread.
    """

    def __init__(self, threads: int) -> None:
        self.threads = max(1, int(threads))
        self._pool: ThreadPoolExecutor | None = None

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """End the threads (after their running tasks)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def run(self, kernel: Callable[..., Any], n_tasks: int, *arguments: object) -> list[Any]:
        """Return ``[kernel(task, *arguments) for task in range(n_tasks)]``, the tasks run side by side.

        On an error in a task (or Ctrl-C while waiting), the tasks not started are dropped, the
        running ones end, and the error is raised here.
        """
        if self.threads == 1 or n_tasks <= 1:
            return [kernel(task, *arguments) for task in range(n_tasks)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="recframe-tasks")
        futures: list[Future[Any]] = [self._pool.submit(kernel, task, *arguments) for task in range(n_tasks)]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()
            for future in futures:  # none left running on arrays the caller may free or reuse
                if not future.cancelled():
                    future.exception()
