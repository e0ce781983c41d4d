"""The built-in executor: ``local``, which runs blocks of work on this machine.

With one worker (the default) the engine makes its usual single call in the calling thread,
exactly as a run without an executor. With more, blocks run on a thread pool: the compiled
kernels and scipy's sparse products release the GIL, so threads share the payload at no cost
(nothing is copied or pickled) and still run side by side.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import PositiveInt

from recframe import Executor, ExecutorConfig, gather_in_order, hookimpl, progress_bar

P = TypeVar("P")
B = TypeVar("B")
R = TypeVar("R")


class LocalExecutorConfig(ExecutorConfig):
    """Parameters of :class:`LocalExecutor`."""

    workers: PositiveInt = 1
    """Threads that run blocks side by side; 1 runs everything in the calling thread, as a run
    without an executor (the compiled kernels already use every core within one call, so more
    workers mostly help the scipy and scikit-learn paths)."""


class LocalExecutor(Executor):
    """Run blocks on this machine: in the calling thread, or on a pool of ``workers`` threads."""

    name = "local"
    Config = LocalExecutorConfig
    config: LocalExecutorConfig

    @property
    def parallel(self) -> bool:
        """Whether blocks run on a thread pool (more than one worker)."""
        return self.config.workers > 1

    def map_blocks(
        self,
        function: Callable[[P, B], R],
        blocks: Sequence[B],
        payload: P,
        *,
        desc: str,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """Return ``function(payload, block)`` of every block, in block order (see :meth:`Executor.map_blocks`)."""
        sizes = [len(block) if hasattr(block, "__len__") else 1 for block in blocks]
        if self.config.workers == 1 or len(blocks) <= 1:
            done = progress_bar(blocks, total=sum(sizes), desc=desc, sizes=sizes)
            return gather_in_order((function(payload, block) for block in done), on_result)
        with ThreadPoolExecutor(max_workers=min(self.config.workers, len(blocks))) as pool:
            # each block runs in a copy of the caller's context: its settings (show_progress(False),
            # --quiet) hold in the workers as in the calling thread
            futures = [pool.submit(contextvars.copy_context().run, function, payload, block) for block in blocks]
            try:
                waited = progress_bar(futures, total=sum(sizes), desc=desc, sizes=sizes)
                return gather_in_order((f.result() for f in waited), on_result)
            except BaseException:
                for future in futures:  # a failed block fails the map: start no more blocks
                    future.cancel()
                raise


@hookimpl
def recframe_register_components() -> list[type[Executor]]:
    """Register the ``local`` executor."""
    return [LocalExecutor]
