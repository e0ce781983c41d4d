"""The files recframe writes in the dataset cache: one writer at a time, and never through a link.

Two programs fetching the same dataset at once (two runs started together, a test suite on
several workers) would append to one ``.part`` file, truncate it under each other and rename it
away from each other. :func:`cache_lock` makes them take turns: the second waits, then finds the
verified file the first put in place. The cache folder may be shared (a team's
``$RECFRAME_DATA``); :func:`open_new` and :func:`open_partial` never write through a symbolic
link someone planted under a name recframe writes, which would overwrite the link's target.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from recframe.errors import DataError, path_repr

logger = logging.getLogger(__name__)

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""Refuse a symbolic link as the last part of the path (not defined on Windows, where links are rare)."""

_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF, errno.EINVAL)
"""``flock`` errors of a file system that refuses such locks (as NFS may)."""


@contextmanager
def cache_lock(folder: Path, name: str) -> Iterator[None]:
    """Hold an exclusive lock on dataset `name` in the cache `folder` while its files are fetched or extracted.

    The lock is an advisory ``flock`` on ``.{name}.lock`` in the folder; a program that waits
    for it logs so at INFO. Where the system has no ``flock`` (Windows), or the file system
    refuses it (as NFS may; logged as a warning), the block runs without a lock.

    Raises
    ------
    DataError
        If the lock file can't be opened (a folder or a link in its place).
    """
    if sys.platform == "win32":  # no flock
        yield
        return
    import fcntl

    path = folder / f".{name}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _NO_FOLLOW, 0o666)
    except OSError as exc:
        msg = f"{path_repr(path)}: can't open the cache's lock file ({exc.strerror or exc}); remove it and try again"
        raise DataError(msg) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("waiting for another program fetching %s into %s", name, folder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in _UNSUPPORTED:
                raise
            logger.warning("%s: can't be locked (%s); going on without a lock", path, exc.strerror)
        yield
    finally:
        os.close(fd)  # closing the file releases its lock


def open_new(path: Path) -> BinaryIO:
    """Open `path` for writing as a new file: whatever is there (a link, an old file) is removed first.

    Raises
    ------
    OSError
        If it can't be created (the caller names what it was writing).
    """
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, 0o666)
    return os.fdopen(fd, "wb")


def open_partial(path: Path) -> BinaryIO:
    """Open the partial download `path` to be continued, refusing a link in its place.

    Raises
    ------
    OSError
        If it is a link (``ELOOP``) or can't be opened.
    """
    fd = os.open(path, os.O_RDWR | _NO_FOLLOW)
    return os.fdopen(fd, "r+b")


def check_regular(path: Path, what: str) -> bool:
    """Return whether `path` exists (a file, or a link to one); raise if something else is there.

    Raises
    ------
    DataError
        If `path` is a folder or another kind of file: named, with `what` it should be, and
        what to do.
    """
    if not os.path.lexists(path):
        return False
    if path.is_file():
        return True
    kind = "a folder" if path.is_dir() else "a broken link" if path.is_symlink() else "not a regular file"
    msg = f"{path_repr(path)} is {kind}, where recframe keeps {what}; remove it and fetch again"
    raise DataError(msg)
