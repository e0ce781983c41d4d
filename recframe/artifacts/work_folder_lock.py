"""An advisory lock on a save's work folder, so that a save under way is never taken for a leftover.

:func:`~recframe.artifacts.model_files.write_folder` builds a model in a work folder beside its
target, and whoever takes the folder's lock (:func:`~recframe.artifacts.model_lock.model_lock`)
removes such folders as what killed saves left. Saves that take no lock (``Recommender.save``,
``recframe update --output``) write them too, so the name alone can't tell a dead save's folder
from a live one's: the writer holds an ``flock`` on its work folder until the model is in place,
and the remover takes the same lock, without waiting, before removing one. The lock dies with the
process that held it, so a killed save's folder is free to remove. Where the system has no
``flock`` (Windows) nothing is locked, as with the folder's own lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """Hold the lock of the work folder `folder`, which this process has just made, while the block runs.

    Raises
    ------
    FileNotFoundError
        If a remover took the folder between its making and the lock (it was new, so it is empty).
    """
    fd = _open(folder)
    if fd < 0:
        if not os.path.lexists(folder):
            raise FileNotFoundError(errno.ENOENT, "the work folder was removed as a leftover", str(folder))
        yield
        return
    try:
        import fcntl

        with contextlib.suppress(OSError):  # a file system without locks: written unlocked
            fcntl.flock(fd, fcntl.LOCK_EX)  # free unless a remover holds it for a moment
        if os.fstat(fd).st_nlink == 0:  # that remover took the folder away
            raise FileNotFoundError(errno.ENOENT, "the work folder was removed as a leftover", str(folder))
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def unused(folder: Path) -> Iterator[bool]:
    """Take the lock of the work folder `folder` without waiting: yield whether no save is writing it.

    While the block runs the lock is held, so a save can't start writing the folder meanwhile.
    """
    fd = _open(folder)
    if fd < 0:
        yield sys.platform == "win32" or os.path.lexists(folder)  # (one it can't open: its removal says why)
        return
    try:
        import fcntl

        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError:  # a file system that refuses locks: nothing to tell a live save by
            yield True
            return
        yield True
    finally:
        os.close(fd)


def _open(folder: Path) -> int:
    """Return a read-only descriptor of `folder`, or ``-1`` where it can't be locked (no ``flock``, gone)."""
    if sys.platform == "win32":
        return -1
    try:
        return os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return -1
