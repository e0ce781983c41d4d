"""What a Ray task does with a block: run it as the driver would, and bring its log records back.

A block run by the ``local`` executor runs in the driver's process: relative paths (a run
file's ``data.path: events``) name files in the driver's working folder, and what the work logs
(a builder's warning, a fold's timings) reaches the user. A Ray worker runs in its own folder
(where ``ray start`` ran) and its logs stay on its node. So each task runs in the driver's
working folder (where that folder exists on the node: on a shared file system, the same files),
and keeps the records its work logs at the driver's level, which the driver then logs as its
own, in block order.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

P = TypeVar("P")
B = TypeVar("B")
R = TypeVar("R")

Record = dict[str, Any]
"""A log record as plain values (its message formatted, its exception as text): what pickles anywhere."""


@dataclass(frozen=True)
class TaskContext:
    """What a task takes of the driver: its working folder and the level its logs are kept at."""

    folder: str
    level: int

    @classmethod
    def of_driver(cls) -> TaskContext:
        """Return the context of this process: its working folder, and the lowest level recframe's logs reach."""
        level = min(logging.getLogger().getEffectiveLevel(), logging.getLogger("recframe").getEffectiveLevel())
        return cls(os.getcwd(), level)


def apply_in_context(
    function: Callable[[P, B], R], payload: P, block: B, context: TaskContext
) -> tuple[R, list[Record]]:
    """Run ``function(payload, block)`` in the driver's folder; return its result and the records it logged."""
    with _in_folder(context.folder), _kept_records(context.level) as records:
        result = function(payload, block)
    return result, records


def log_again(records: list[Record]) -> None:
    """Log a task's `records` in this process, each by its logger, where this process's levels let it through."""
    for values in records:
        record = logging.makeLogRecord(values)
        target = logging.getLogger(record.name)
        if target.isEnabledFor(record.levelno):
            target.handle(record)


@contextlib.contextmanager
def _in_folder(folder: str) -> Iterator[None]:
    """Work in `folder` if this node has it (else where the worker is), and go back afterwards."""
    before = os.getcwd()
    with contextlib.suppress(OSError):  # not on this node: relative paths fail as without a shared file system
        os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


class _Keeper(logging.Handler):
    """Keep every record it is handed, as plain values."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            values = dict(record.__dict__)
            values["msg"], values["args"] = record.getMessage(), None
            if record.exc_info:
                values["exc_text"] = logging.Formatter().formatException(record.exc_info)
            values["exc_info"] = None
            values.pop("message", None)
            self.records.append({k: v for k, v in values.items() if _plain(v)})
        except Exception:  # a record whose arguments don't fit its message: as logging's own handlers do
            self.handleError(record)


def _plain(value: object) -> bool:
    """Whether `value` is a plain value that pickles anywhere (what a record's standard fields are)."""
    return value is None or isinstance(value, str | int | float | bool)


@contextlib.contextmanager
def _kept_records(level: int) -> Iterator[list[Record]]:
    """Keep the records logged in the block at `level` or above (the root logger's level lowered to it meanwhile)."""
    root = logging.getLogger()
    keeper = _Keeper(level)
    before = root.level
    root.addHandler(keeper)
    if before != logging.NOTSET:  # NOTSET lets every record through already
        root.setLevel(min(before, level))
    try:
        yield keeper.records
    finally:
        root.removeHandler(keeper)
        root.setLevel(before)
