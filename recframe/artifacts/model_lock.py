"""An exclusive lock on a model folder for one load-change-save cycle.

``recframe update``, ``recframe forget`` and the HTTP service's ``"save": true`` each load a
model folder, change the model in memory and save it over the folder. Two such cycles on one
folder at once would each save a change made to the model as it was before the other's save, so
the last save would silently undo the first (a forget could come back). :func:`model_lock`
makes them run one after the other.

The lock is an advisory ``flock`` on the folder itself: it binds only programs that take it too.
A save replaces the folder by another one (see :func:`~recframe.artifacts.model_files.write_folder`),
so the lock is taken on whatever folder the path names once the wait is over.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recframe.artifacts.model_files import ModelFileError, leftovers, same_folder
from recframe.artifacts.work_folder_lock import unused
from recframe.errors import RecframeError

logger = logging.getLogger(__name__)

_HELD = threading.local()
"""Per thread, ``folders``: the (process id, device, inode) of each folder it holds the lock of, with a count.
``flock`` binds each open file, so a second lock of the same folder in the same thread would wait
for itself forever; it is counted instead."""

RELOCKS = 100
"""How many times the lock is taken again on a folder a save put in place during the wait, before
it is kept as it is (a file system whose ``stat`` and ``fstat`` never agree would loop forever)."""

REAPPEAR_SECONDS = 5.0
"""How long to wait for a model folder that a save (by two renames) moved away for a moment."""

_UNSUPPORTED = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EBADF, errno.EINVAL)
"""``flock`` errors of a file system that refuses such locks (as NFS may, for a folder open read-only)."""


class ModelFolderBusyError(RecframeError):
    """Another holder kept a model folder's lock longer than the caller would wait."""


@contextmanager
def model_lock(path: str | Path, *, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the model folder `path` while a model is loaded, changed and saved.

    Every ``recframe update`` and ``recframe forget`` in place, and every save of the HTTP service,
    takes this lock, so that changes of one folder run one after the other and none is lost. A
    Python program doing its own load, change and save of a folder that these may change at the
    same time should take it too::

        with model_lock("model"):
            rec = Recommender.load("model", mmap=False)
            rec.forget(users=[7])
            rec.save("model")

    The lock waits as long as another holder keeps it (logged at INFO), or at most `timeout`
    seconds (a service that must answer); taken again in the same
    thread (a block inside another), it is counted, not waited for. It holds the folder that was
    there when it was taken: once the block's own save has put a new folder in its place, another
    program may lock that one, so read what the save wrote from the model (``rec.save_id``), not
    from the folder. It is advisory (an
    ``flock`` on the folder): programs that don't take it are not stopped. A save replaces the
    folder, so after the wait the lock is checked to be on the folder the path names now, and
    taken again on that one if not. Where the system has no ``flock`` (Windows), or the file
    system refuses it (as NFS may), the block runs without a lock (the latter logged as a warning).
    Once the lock is taken, what saves of the folder killed midway left beside it is removed
    (logged as a warning): it may hold a model's events, such as those a ``forget`` removed.

    Parameters
    ----------
    path : str or Path
        The model folder (not a run folder: its ``model/``).
    timeout : float, optional
        The longest wait for another holder, in seconds; none by default.

    Raises
    ------
    ModelFileError
        If `path` is not a folder, or can't be opened (no permission).
    ModelFolderBusyError
        If another holder kept the lock longer than `timeout`.
    """
    if timeout is not None and not timeout >= 0:  # also NaN
        msg = f"timeout must be a number of seconds, 0 or more; got {timeout!r}"
        raise ValueError(msg)
    folder = Path(path)
    held: dict[tuple[int, int, int], int] = _HELD.__dict__.setdefault("folders", {})
    key = _identity(folder)
    if key in held:  # this thread holds it already (a block inside another): one lock, counted
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    fd = _acquire(folder, timeout)
    key = _key(os.fstat(fd)) if fd >= 0 else None
    if key is not None:
        held[key] = 1
        _remove_leftovers(folder)
    try:
        yield
    finally:
        if key is not None:
            del held[key]
        if fd >= 0:
            os.close(fd)  # releases the lock


def _remove_leftovers(folder: Path) -> None:
    """Remove what saves of `folder` killed midway left beside it (:func:`~.model_files.leftovers`); log each.

    The lock is held, so no save following the lock's protocol is under way; a save that takes
    no lock holds its own work folder's (:mod:`~recframe.artifacts.work_folder_lock`), which is
    skipped. Each other one is an interrupted save's, and may hold a model's events (the old
    model of a ``forget``).
    """
    for leftover in leftovers(folder):
        with unused(leftover) as free:
            if not free:  # a save that takes no lock (``Recommender.save``, ``--output``) is writing it
                continue
            shutil.rmtree(leftover, ignore_errors=True)
        if os.path.lexists(leftover):
            logger.warning("%s: left by an interrupted save, and can't be removed; remove it by hand", leftover)
        else:
            logger.warning("%s: removed what an interrupted save left there", leftover)


def _identity(folder: Path) -> tuple[int, int, int] | None:
    """Return the :func:`_key` of the folder `folder` names now (``None`` if none)."""
    try:
        return _key(os.stat(folder))
    except OSError:
        return None


def _key(found: os.stat_result) -> tuple[int, int, int]:
    """Return this process's id and a folder's device and inode: what a thread's record of its locks holds.

    The process id keeps a child made by ``fork`` inside a block from counting its parent's lock
    as its own (a thread's record is copied into the child).
    """
    return os.getpid(), found.st_dev, found.st_ino


def _acquire(folder: Path, timeout: float | None) -> int:
    """Lock the folder `folder` and return the descriptor holding the lock (-1: no lock could be taken).

    Raises
    ------
    ModelFileError
        If `folder` is not a folder, or can't be opened.
    ModelFolderBusyError
        If another holder kept it longer than `timeout` seconds.
    """
    if sys.platform == "win32":  # no flock: nothing to lock with
        return -1
    import fcntl

    fd = _open(folder, wait=0.0)
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        waited = False
        for _ in range(RELOCKS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waited:
                    logger.info("waiting for another update of %s", folder)
                    waited = True
                _wait(fd, folder, deadline)
            if same_folder(folder, fd):
                return fd
            os.close(fd)  # a save replaced the folder while this one waited: lock the new one
            fd = -1
            fd = _open(folder, wait=REAPPEAR_SECONDS)
        _wait(fd, folder, deadline)
        logger.warning("%s: kept being replaced while its lock was taken; going on with the last one", folder)
        return fd
    except BaseException as exc:
        if fd >= 0:
            os.close(fd)
        if not isinstance(exc, OSError) or exc.errno not in _UNSUPPORTED:
            raise
        logger.warning("%s: can't be locked (%s); changing it without a lock", folder, exc.strerror)
        return -1


def _wait(fd: int, folder: Path, deadline: float | None) -> None:
    """Take the lock of `fd`, waiting as long as it takes or until `deadline` (``time.monotonic``).

    Raises
    ------
    ModelFolderBusyError
        If the deadline passed first.
    """
    import fcntl

    if deadline is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                msg = f"{folder}: another update or save held its lock too long; try again later"
                raise ModelFolderBusyError(msg) from None
            time.sleep(0.05)


def _open(folder: Path, wait: float) -> int:
    """Return a read-only descriptor of the folder `folder`, waiting up to `wait` seconds for it to appear.

    Raises
    ------
    ModelFileError
        If `folder` is not a folder (after `wait` seconds), or can't be opened.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except (FileNotFoundError, NotADirectoryError) as exc:
            if time.monotonic() >= deadline:
                msg = f"{folder}: no such model folder"
                raise ModelFileError(msg) from exc
            time.sleep(0.01)
        except OSError as exc:
            msg = f"{folder}: can't be opened to lock it ({exc.strerror})"
            raise ModelFileError(msg) from exc
