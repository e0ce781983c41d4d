"""The executor contract: an :class:`Executor` maps a function over blocks of rows.

The engine splits its large, row-independent work (the neighbour search of every row, the lists
of every training user) into blocks of :attr:`ExecutorConfig.block_rows` rows and hands them to
the run's executor with one shared, read-only payload (the fitted similarity backend, the fitted
ranker). The executor runs the function on each block wherever it likes (this thread, a thread
pool, a Ray cluster) and returns the results in block order, so that concatenating them gives
the same answer as one call over every row. ``local`` is built in; ``ray`` comes from
``recframe-ray``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import PositiveInt

from recframe.errors import short_repr
from recframe.interfaces.component import Component, ComponentConfig

if TYPE_CHECKING:
    from recframe.data import Interactions

P = TypeVar("P")
B = TypeVar("B")
R = TypeVar("R")


class ExecutorConfig(ComponentConfig):
    """Parameters every executor has."""

    block_rows: PositiveInt = 10_000
    """Rows in one block of work (rows whose neighbours are searched, or users whose lists are
    computed): large enough that the cost of sending a block is small beside its work, small
    enough that the blocks spread over every worker. An executor that runs blocks one after
    another in this thread (``local`` with one worker) makes one call over all rows instead."""


class Executor(Component):
    """Run a function over blocks of rows with a shared read-only payload, results in block order.

    The function is a picklable top-level function ``function(payload, block)``; the payload
    is sent once (put in a cluster's object store, or shared by reference between threads) and
    must not be changed by the function. Results come back in the order of ``blocks``, whatever
    order the blocks ran in, which is what makes a distributed run give the same outputs as a
    local one.
    """

    kind = "executor"
    config: ExecutorConfig

    @property
    def parallel(self) -> bool:
        """Whether :meth:`map_blocks` runs blocks side by side (threads, processes, a cluster).

        When ``False`` the engine does not split its work at all: it makes its usual single
        call in the calling thread, so a serial executor costs nothing. The default is ``True``.
        """
        return True

    @abstractmethod
    def map_blocks(
        self,
        function: Callable[[P, B], R],
        blocks: Sequence[B],
        payload: P,
        *,
        desc: str,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """Return ``[function(payload, block) for block in blocks]``, computed wherever this executor runs work.

        Parameters
        ----------
        function : callable
            A top-level (picklable) function of ``(payload, block)``.
        blocks : sequence
            The blocks, typically arrays of row numbers (:func:`row_blocks`).
        payload : object
            Shared by every call, read-only; sent once, not once per block.
        desc : str
            What the blocks are, for progress bars and messages (``"item neighbours"``).
        on_result : callable, optional
            Called in the calling thread as ``on_result(number, result)`` with each block's
            result as it is gathered, in block order, before the next one is waited for: so
            that whoever runs long blocks (a sweep's settings) keeps each one finished before a
            later block fails. Called for no block after the first failing one.

        Returns
        -------
        list
            One result per block, in the order of `blocks`.

        Raises
        ------
        RecframeError
            If the blocks can't be run (a cluster that can't be reached, or lost); an
            exception raised by `function` itself is raised again as it is.
        """

    def check(self) -> None:
        """Raise if this executor can't run work at all (a cluster that can't be reached); cheap, runs nothing.

        Called at the start of every ``fit``, whether or not the fit then needs the executor (a
        matrix of no more rows than ``block_rows`` is searched in one call, without it), so that
        a misconfigured executor fails at once, not at the first large run. The default does
        nothing.

        Raises
        ------
        ConfigError
            Naming the setting at fault (``executor.address``) and what to do.
        """

    def close(self) -> None:
        """Release what :meth:`map_blocks` acquired (a connection to a cluster); it acquires it again if used later.

        The default does nothing.
        """


@runtime_checkable
class SupportsPartitions(Protocol):
    """A data source that can read its data in parts, which an executor reads side by side.

    ``parquet`` reading a folder (a partitioned dataset) is one: each part is a row group of
    one of its files. When the run's executor runs blocks side by side and there is more than
    one part, the engine calls :meth:`partitions` here, :meth:`load_partition` of each part
    on the executor (the source itself is the shared payload, so it must be picklable), and
    :meth:`combine` of the results, in order, here; otherwise it calls ``load`` as always. Both
    ways must give the same interactions: the parts are read in the order ``load`` reads them,
    and ids are converted once, by :meth:`combine`, over every part.
    """

    def partitions(self) -> Sequence[object]:
        """Return the parts, in the order ``load`` reads them (small, picklable descriptions, not data).

        Raises
        ------
        DataError
            If the data can't be read (a file, named, can't be opened or lacks a column).
        """
        ...

    def load_partition(self, partition: object) -> object:
        """Read one part of :meth:`partitions` (run by the executor): raw columns, not yet converted.

        Raises
        ------
        DataError
            If the part can't be read; the message names its file.
        """
        ...

    def combine(self, loaded: list[object]) -> Interactions:
        """Return the interactions of every part's columns, in part order: what ``load`` returns.

        Raises
        ------
        DataError
            If there is no row at all, or an id or a value can't be converted.
        """
        ...


def row_blocks(rows: int | np.ndarray, block_rows: int) -> list[np.ndarray]:
    """Split rows into consecutive blocks of at most `block_rows` rows, in order.

    Parameters
    ----------
    rows : int or ndarray of int
        A number of rows (the rows ``0 .. rows - 1``) or the row numbers themselves.
    block_rows : int
        The largest block, at least 1.

    Returns
    -------
    list of ndarray of int64
        The blocks; concatenated, they are the rows in their order. No block for no rows.

    Raises
    ------
    ValueError
        If `block_rows` is below 1.
    """
    if isinstance(block_rows, bool) or not isinstance(block_rows, int | np.integer) or block_rows < 1:
        msg = f"block_rows must be a positive integer; got {short_repr(block_rows)}"
        raise ValueError(msg)
    all_rows = np.arange(rows, dtype=np.int64) if isinstance(rows, int | np.integer) else np.asarray(rows, np.int64)
    return [all_rows[start : start + block_rows] for start in range(0, len(all_rows), int(block_rows))]


def gather_in_order(results: Iterable[R], on_result: Callable[[int, R], None] | None = None) -> list[R]:
    """Collect `results` in order, calling `on_result` with each one's number as soon as it is taken.

    What every executor's :meth:`Executor.map_blocks` does with its blocks' results: `results`
    yields them in block order (waiting for each as needed), and an exception raised while
    waiting for one ends the gathering, after `on_result` has seen every earlier result.

    Parameters
    ----------
    results : iterable
        The blocks' results, in block order (a generator that waits for each).
    on_result : callable, optional
        ``on_result(number, result)``, called in this thread for each result in turn.

    Returns
    -------
    list
        The results, in block order.
    """
    out: list[R] = []
    for number, result in enumerate(results):
        if on_result is not None:
            on_result(number, result)
        out.append(result)
    return out
