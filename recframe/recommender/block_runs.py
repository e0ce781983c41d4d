"""How recframe runs its blocks of work on an executor, and checks what comes back.

:func:`run_blocks` hands the blocks to ``executor.map_blocks`` each with its number, and takes
each result back with it: an executor plugin that returns the results out of order, or other than
one per block, is named rather than giving one block's rows another block's results. It tells
what the blocks' own work raised (re-raised as it was) from the executor's own accidents (a
:class:`~recframe.errors.PluginError` naming it). :func:`close_executor` releases an executor
after a run without letting a failure to replace the run's outcome. The blocks themselves (a
search, lists, a data source's parts) are in :mod:`recframe.recommender.blocks`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from recframe.errors import PluginError, RecframeError, short_repr
from recframe.interfaces import Executor, gather_in_order
from recframe.interfaces.calls import calling, plugin_failure

logger = logging.getLogger(__name__)

_P = TypeVar("_P")
_B = TypeVar("_B")
_R = TypeVar("_R")


@dataclass(frozen=True)
class _Numbered(Generic[_B]):
    """A block with its place among the blocks: its result comes back with it (see :func:`run_blocks`)."""

    number: int
    block: _B

    def __len__(self) -> int:
        """Return the block's own length (what executors size their progress by), 1 for a block without one."""
        return len(self.block) if isinstance(self.block, Sized) else 1


_RAISED_IN_BLOCK = "_recframe_raised_in_block"
"""Set on an exception recframe's own work raised (a block's, or the handling of a block's result),
so that :func:`run_blocks` tells it from the executor's."""


def _numbered(payload: tuple[Callable[[_P, _B], _R], _P], numbered: _Numbered[_B]) -> tuple[int, _R]:
    """Return `numbered`'s place with the result of the block's function (run by the executor).

    What the function raises is marked as the block's (an attribute, which pickling keeps, so it
    survives a worker process): it reaches the caller as it was raised, not blamed on the executor.
    """
    function, shared = payload
    try:
        return numbered.number, function(shared, numbered.block)
    except BaseException as exc:
        _mark_ours(exc)
        raise


def _mark_ours(exc: BaseException) -> None:
    """Mark `exc` as raised by recframe's work (a block's, or the handling of its result), not the executor's."""
    with contextlib.suppress(Exception):  # an exception type that takes no attributes: named as the executor's
        setattr(exc, _RAISED_IN_BLOCK, True)


def run_blocks(
    executor: Executor,
    function: Callable[[_P, _B], _R],
    blocks: Sequence[_B],
    payload: _P,
    *,
    desc: str,
    runs: str,
    on_result: Callable[[int, _R], None] | None = None,
) -> list[_R]:
    """Return ``function(payload, block)`` of every block, run by ``executor.map_blocks``, in block order.

    Every block goes to the executor with its number, and its result comes back with it, so
    that an executor plugin that returns the results in another order than the blocks', or
    not one result per block, is refused naming it (`runs`) rather than giving one block's
    rows another block's results. Results are handed to `on_result` as the executor hands
    them back, also for an executor written before that argument (all of them once the map
    has returned, so a sweep then keeps its finished settings only when every setting ran,
    rather than failing with a ``TypeError`` on the argument it does not know).

    What a block's work raises reaches the caller unchanged (a plugin's failure in it is already
    a :class:`PluginError` naming the plugin); what the executor raises by accident becomes a
    :class:`PluginError` naming it (`runs`), as any plugin call's.

    Raises
    ------
    PluginError
        If the executor fails, or returns other than one result per block, in block order.
    """
    with _executor_accidents(runs):
        numbered = [_Numbered(number, block) for number, block in enumerate(blocks)]

        def taken(place: int, tagged: tuple[int, _R]) -> None:
            result = _result_in_place(tagged, place, runs)
            if on_result is not None:
                try:
                    on_result(place, result)  # recframe's own handling (a merge, a sweep's save), run by the executor
                except BaseException as exc:
                    _mark_ours(exc)
                    raise

        shared = (function, payload)
        parameters = inspect.signature(executor.map_blocks).parameters.values()
        if any(p.name == "on_result" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            tagged = executor.map_blocks(_numbered, numbered, shared, desc=desc, on_result=taken)
        else:
            returned = executor.map_blocks(_numbered, numbered, shared, desc=desc)
            tagged = gather_in_order(_every_result(returned, runs), taken)
        return [_result_in_place(t, place, runs) for place, t in enumerate(_every_result(tagged, runs, len(blocks)))]


@contextlib.contextmanager
def _executor_accidents(runs: str) -> Iterator[None]:
    """Turn what the executor (`runs`) raises by accident into a :class:`PluginError` naming it.

    recframe's own exceptions pass as they are: its errors, ``KeyboardInterrupt``, and whatever
    its work raised in a block or in the handling of a block's result (marked by :func:`_mark_ours`).
    """
    try:
        yield
    except (RecframeError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        if getattr(exc, _RAISED_IN_BLOCK, False):
            raise
        raise PluginError(plugin_failure(runs, "map_blocks", exc)) from exc


def _every_result(results: object, runs: str, n_blocks: int | None = None) -> list[tuple[int, Any]]:
    """Return what an executor's ``map_blocks`` returned if it is a list (of `n_blocks` results, where given)."""
    expected = "map_blocks returns a list of one result per block, in the blocks' order"
    if not isinstance(results, list | tuple):
        msg = f"{runs} returned {type(results).__name__} from map_blocks; {expected}"
        raise PluginError(msg)
    if n_blocks is not None and len(results) != n_blocks:
        msg = f"{runs} returned {len(results)} results from map_blocks for {n_blocks} blocks; {expected}"
        raise PluginError(msg)
    return list(results)


def _result_in_place(tagged: object, place: int, runs: str) -> Any:
    """Return the result of the block at `place`, from what the executor returned there (its number and result)."""
    if not (isinstance(tagged, tuple) and len(tagged) == 2 and isinstance(tagged[0], int)):
        msg = (
            f"{runs} returned {short_repr(tagged)} as the result of block {place}; map_blocks returns what "
            "function(payload, block) returned for each block"
        )
        raise PluginError(msg)
    number, result = tagged
    if number != place:
        msg = (
            f"{runs} returned the result of block {number} in place {place}; map_blocks returns the results in "
            "the blocks' order"
        )
        raise PluginError(msg)
    return result


def close_executor(executor: Executor, runs: str) -> None:
    """Close `executor` after a run or a sweep; a failure to is logged as a warning naming it (`runs`), not raised.

    The work is finished (or failed for its own reason, which a failing ``close`` must not hide):
    an executor plugin that can't release its connection must neither fail a run whose output is
    written nor replace the error that ended one.
    """
    try:
        with calling(runs, "close"):
            executor.close()
    except RecframeError as exc:
        logger.warning("%s", exc)


def spreads(executor: Executor, n_rows: int) -> bool:
    """Whether work over `n_rows` rows goes through `executor`: it runs blocks side by side, and there are several."""
    return executor.parallel and n_rows > executor.config.block_rows
