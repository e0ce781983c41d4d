"""Checks every source that reads a file makes before opening it (csv, parquet, sql, arrays)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from recframe import DataError

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def readable_path(path: Path, key: str, *, folders: bool = False, missing: str = "file not found") -> Path:
    """Return `path` if it is a regular file (or, with `folders`, a folder); raise otherwise.

    A named pipe would block the read forever, ``/dev/zero`` never ends and ``/dev/null`` reads
    as empty, so anything but a regular file is refused up front, before it is opened, with a
    message naming the setting `key` (``data.path``, ``data.url``); `missing` says what a path
    that does not exist is not.

    Raises
    ------
    DataError
        If `path` does not exist, is a folder (unless `folders`), or is a pipe, a device or a socket.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        msg = f"{path}: {missing} ({key})"
        raise DataError(msg) from None
    except OSError as exc:
        msg = f"{path}: can't read the file: {exc.strerror or exc} ({key})"
        raise DataError(msg) from exc
    if stat.S_ISREG(mode) or (folders and stat.S_ISDIR(mode)):
        return path
    if stat.S_ISDIR(mode):
        msg = f"{path}: is a directory, not a file ({key})"
        raise DataError(msg)
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    msg = f"{path}: is {kind}, not a regular file ({key}); give a file on disk"
    raise DataError(msg)
