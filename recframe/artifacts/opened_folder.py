"""A saved model's folder opened once, so that a load reads every file of one save.

A save replaces a model folder by swapping a new folder into its path
(:func:`~recframe.artifacts.model_files.write_folder`) and then deletes the old one. A load that
opened ``manifest.json`` and each array by path could read the manifest of one save and
arrays of the next (a model that answers as one and says it is the other), or find a file
gone. :class:`OpenedFolder` opens the folder once, then the manifest and every file it lists
relative to that folder, and keeps them open: what it reads is one save's, whatever is renamed
into the path meanwhile. If the folder is deleted under it before every file is open, it raises
:class:`FolderReplaced` and the load starts again on the folder now at the path.

Where the system can't open files relative to a folder (Windows), files are opened by path:
the same checks, without that guarantee.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import stat
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import numpy as np

from recframe.artifacts.model_files import (
    ARRAY_FILE,
    ARRAYS_DIR,
    MANIFEST,
    ModelFileError,
    file_sha256,
    same_folder,
)
from recframe.jsonio import parse_json

_RELATIVE = os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")
"""Whether files can be opened relative to an open folder (Linux, macOS)."""

_NO_LINK = getattr(os, "O_NOFOLLOW", 0)
_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
"""Flags of every open: binary on Windows; not waiting for a writer where a named pipe was put in a
file's place (the check that it is a regular file follows the open)."""

OPEN_ATTEMPTS = 3
"""How many times a folder is opened again when a save replaces it while it is being opened."""

T = TypeVar("T")

logger = logging.getLogger(__name__)


def _open_folder(path: str | Path, inside: int | None) -> int:
    """Open the folder `path` (inside the open folder `inside`, not through a link) and return its descriptor.

    A folder one may enter but not list is opened as a handle on its place (``O_PATH``, Linux),
    which is all that opening files inside it needs.

    Raises
    ------
    OSError
        If it is missing, not a folder, a link, or can't be opened.
    """
    flags = os.O_DIRECTORY | (_NO_LINK if inside is not None else 0)
    try:
        return os.open(path, os.O_RDONLY | flags, dir_fd=inside)
    except PermissionError:
        if not hasattr(os, "O_PATH"):
            raise
        return os.open(path, os.O_PATH | flags, dir_fd=inside)


_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
"""The ``.npy`` header readers by format version (``np.save`` writes 1.0, or 2.0 for huge headers)."""


class FolderReplaced(Exception):
    """The model folder was replaced and deleted while it was being opened: open the path again."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: replaced by a save while it was being opened")


def read_whole(path: Path, read: Callable[[OpenedFolder], T], doing: str) -> T:
    """Return ``read(folder)`` of the model folder `path` opened once: every file of one save.

    Where a save replaced the folder before every file was open, it is opened again, up to
    :data:`OPEN_ATTEMPTS` times.

    Raises
    ------
    ModelFileError
        What `read` raises, or that the folder kept being replaced while `doing`.
    """
    for _ in range(OPEN_ATTEMPTS):
        try:
            with OpenedFolder(Path(path)) as folder:
                return read(folder)
        except FolderReplaced:  # a save swapped another model in and deleted this one meanwhile
            logger.info("%s was replaced while %s; reading the model now there", path, doing)
    msg = f"{path}: was replaced {OPEN_ATTEMPTS} times while {doing} (saves one after another); try again"
    raise ModelFileError(msg)


class OpenedFolder:
    """A model folder opened once: its manifest and the files it lists, read from the same save.

    Use as a context manager; the files are closed on exit (arrays memory-mapped from them
    stay valid).

    Parameters
    ----------
    path : Path
        The model folder.

    Raises
    ------
    ModelFileError
        If `path` is not a folder.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            msg = f"{self.path}: no such model folder"
            raise ModelFileError(msg)
        self._root: int | None = None
        self._arrays: int | None = None
        self._files: dict[str, int] = {}
        if _RELATIVE:
            try:
                self._root = _open_folder(self.path, None)
            except PermissionError as exc:
                raise ModelFileError(_denied(self.path, exc)) from exc
            except OSError as exc:
                msg = f"{self.path}: can't be opened ({exc.strerror or exc})"
                raise ModelFileError(msg) from exc

    def __enter__(self) -> OpenedFolder:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every file and the folder."""
        for fd in [*self._files.values(), self._arrays, self._root]:
            if fd is not None:
                os.close(fd)
        self._files, self._arrays, self._root = {}, None, None

    def replaced(self) -> bool:
        """Return whether the path now names another folder than the one opened (or none)."""
        return self._root is not None and not same_folder(self.path, self._root)

    def _open(self, relative: str, flags: int, folder: int | None) -> int:
        """Open `relative` inside the open `folder`, or inside :attr:`path` by path where `folder` is ``None``.

        Raises
        ------
        FolderReplaced
            If it is missing because the folder was replaced meanwhile.
        """
        try:
            if folder is None:
                return os.open(self.path / relative, flags | _READ)
            return os.open(relative, flags | _READ, dir_fd=folder)
        except FileNotFoundError:
            if self.replaced():
                raise FolderReplaced(self.path) from None
            raise

    def manifest(self) -> Any:
        """Read ``manifest.json`` with :mod:`json` only (its format is checked by ``manifest.check_format``).

        Raises
        ------
        ModelFileError
            If it is missing or can't be read as JSON.
        FolderReplaced
            If the folder was replaced before it was read.
        """
        try:
            with os.fdopen(self._open(MANIFEST, 0, self._root), encoding="utf-8") as stream:
                if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):  # a named pipe, a device
                    msg = f"{self.path / MANIFEST}: is not a regular file; the folder was altered"
                    raise ModelFileError(msg)
                return parse_json(stream.read(), what=MANIFEST, expect=None)  # (also refuses JSON nested too deeply)
        except FileNotFoundError:
            msg = f"{self.path}: has no {MANIFEST}; not a saved model (give a folder written by save() or recframe run)"
            raise ModelFileError(msg) from None
        except PermissionError as exc:
            raise ModelFileError(_denied(self.path / MANIFEST, exc)) from exc
        except (OSError, ValueError) as exc:
            msg = f"{self.path / MANIFEST}: can't be read as JSON ({exc}); the file was altered"
            raise ModelFileError(msg) from exc

    def open_files(self, files: Mapping[str, Any], *, checksums: bool) -> None:
        """Open every file the manifest lists, check its size and (if `checksums`) its sha256.

        The files are hashed by several threads at once (hashlib releases the GIL), largest first.

        Raises
        ------
        ModelFileError
            Naming the first file that is missing, a link, of another size, or altered.
        FolderReplaced
            If the folder was replaced before every file was open.
        """
        arrays = self.path / ARRAYS_DIR
        not_a_folder = f"{arrays}: is a link or not a folder; a saved model holds no links (save it again)"
        if files and self._root is not None:
            try:
                self._arrays = _open_folder(ARRAYS_DIR, self._root)
            except FileNotFoundError:
                if self.replaced():
                    raise FolderReplaced(self.path) from None
                raise ModelFileError(not_a_folder) from None
            except PermissionError as exc:
                raise ModelFileError(_denied(arrays, exc)) from exc
            except OSError as exc:  # a file, or a link (ELOOP)
                raise ModelFileError(not_a_folder) from exc
        if files and self._arrays is None and (arrays.is_symlink() or not arrays.is_dir()):
            raise ModelFileError(not_a_folder)
        for relative, record in files.items():
            if not isinstance(relative, str) or not ARRAY_FILE.match(relative) or not isinstance(record, dict):
                msg = f"{self.path / MANIFEST}: lists a file {relative!r} no saved model has; the manifest was altered"
                raise ModelFileError(msg)
            said = record.get("bytes")
            if not isinstance(said, int) or isinstance(said, bool):
                msg = f"{self.path / MANIFEST}: the size of {relative!r} is {said!r}, not a whole number; altered"
                raise ModelFileError(msg)
            self._files[relative] = fd = self._file(relative)
            size = os.fstat(fd).st_size
            if size != said:
                msg = f"{self.path / relative}: has {size} bytes, the manifest says {said}; the file was altered"
                raise ModelFileError(msg)
        if not checksums or not files:
            return
        names = sorted(files, key=lambda name: -files[name]["bytes"])
        with ThreadPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1, 8)) as pool:
            digests = dict(zip(names, pool.map(lambda name: file_sha256(self._files[name]), names), strict=True))
        for relative, record in files.items():
            if digests[relative] != record.get("sha256"):
                msg = (
                    f"{self.path / relative}: checksum mismatch (sha256 differs from the manifest's); "
                    "the file was altered"
                )
                raise ModelFileError(msg)

    def _file(self, relative: str) -> int:
        """Open one listed file (a regular file, not a link) and return its descriptor."""
        target = self.path / relative
        missing = f"{target}: missing; the saved model is incomplete (save it again)"
        link = f"{target}: is a symbolic link, where a saved model has its own file; the folder was altered"
        if self._arrays is None and target.is_symlink():
            raise ModelFileError(link)
        inside = relative if self._arrays is None else relative[len(ARRAYS_DIR) + 1 :]
        try:
            fd = self._open(inside, _NO_LINK, self._arrays)
        except PermissionError as exc:
            raise ModelFileError(_denied(target, exc)) from exc
        except FileNotFoundError as exc:
            raise ModelFileError(missing) from exc
        except OSError as exc:  # a link (ELOOP), or another file that can't be opened so
            msg = link if exc.errno == errno.ELOOP else f"{target}: can't be opened ({exc})"
            raise ModelFileError(msg) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            msg = f"{target}: is not a regular file; the folder was altered"
            raise ModelFileError(msg)
        return fd

    def read_array(self, relative: str, record: Mapping[str, Any], *, mmap: bool) -> np.ndarray:
        """Read one opened ``.npy`` file without pickle: memory-mapped read-only, or into memory.

        Raises
        ------
        ModelFileError
            If the file is not a ``.npy`` of the shape and dtype the manifest records.
        """
        target = self.path / relative
        shape = record.get("shape")
        if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
            msg = f"{self.path / MANIFEST}: the shape of {relative!r} is {shape!r}, not a list of ints; it was altered"
            raise ModelFileError(msg)
        array: np.ndarray
        try:
            with os.fdopen(os.dup(self._files[relative]), "rb") as stream:
                stream.seek(0)
                if mmap and math.prod(shape) > 0:
                    array = _mapped(stream)
                else:
                    array = np.load(stream, allow_pickle=False)
                    array.setflags(write=False)
        except (OSError, ValueError) as exc:
            msg = f"{target}: not a readable .npy array ({exc}); the file was altered"
            raise ModelFileError(msg) from exc
        if list(array.shape) != record.get("shape") or array.dtype.str != record.get("dtype"):
            msg = (
                f"{target}: holds an array of shape {list(array.shape)} and dtype {array.dtype.str}; the manifest "
                f"says {record.get('shape')} and {record.get('dtype')}"
            )
            raise ModelFileError(msg)
        return array


def _denied(target: Path, exc: PermissionError) -> str:
    """Say that `target` of a saved model can't be read for its permissions (not missing, not altered)."""
    return (
        f"{target}: can't be read ({exc.strerror or exc}); the user running this needs read access to the "
        "model folder and every file in it (check their permissions)"
    )


def _mapped(stream: BinaryIO) -> np.ndarray:
    """Return the ``.npy`` array of the open `stream` memory-mapped read-only (no pickle: plain dtypes only)."""
    version = np.lib.format.read_magic(stream)
    if version not in _HEADERS:
        msg = f".npy format version {version} is not one numpy writes for such arrays"
        raise ValueError(msg)
    shape, fortran, dtype = _HEADERS[version](stream)
    if dtype.hasobject:
        msg = "the array holds Python objects, which a saved model never does"
        raise ValueError(msg)
    mapped: np.ndarray = np.memmap(
        stream, dtype=dtype, mode="r", offset=stream.tell(), shape=shape, order="F" if fortran else "C"
    )
    return mapped
