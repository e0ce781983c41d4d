"""The files of a saved model: ``.npy`` arrays, their checksums, and the atomic write of the folder.

A saved model is a folder holding ``manifest.json`` and one ``.npy`` file per distinct array
under ``arrays/``. Arrays are written with ``allow_pickle=False`` (numbers, bools and
fixed-width text only) and read back the same way, memory-mapped read-only by default, so
loading never runs code from the folder. An array shared by several state entries (a ranker's
matrix and the recommender's) is written once, and mapped once.

The folder is written beside its target under a temporary name and renamed into place, so a
failure never leaves a half-written model; an existing folder is replaced only if it is a saved
model (or empty), never a folder of other files.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

from recframe.artifacts.commit_signals import interrupts_held, mark_saved, note_placed
from recframe.artifacts.work_folder_lock import holding
from recframe.errors import DataError, PluginError

MANIFEST = "manifest.json"
"""The manifest's file name inside a model folder."""

ARRAYS_DIR = "arrays"
"""The folder of a model's ``.npy`` files."""

FORMAT_NAME = "recframe-model"
"""The ``format`` a model's manifest declares: how a model folder is told from other folders."""

ARRAY_KINDS = "biufU"
"""numpy dtype kinds an array may have: bools, ints, floats, fixed-width text (never objects)."""

_CHUNK = 1 << 20
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
ARRAY_FILE = re.compile(r"^arrays/[A-Za-z0-9_.-]+\.npy$")
"""The relative path of every file a manifest may list: a plain ``.npy`` name under ``arrays/``."""


class ModelFileError(DataError):
    """A saved model can't be loaded: a file missing or altered, a format too new, a plugin missing.

    A :class:`~recframe.errors.DataError`, so the command line exits with code 3.
    """


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB pieces (a file read, not a mapping: no resident memory)."""
    with path.open("rb", buffering=0) as stream:
        return file_sha256(stream.fileno())


def file_sha256(fd: int) -> str:
    """Return the hex sha256 of the open file `fd` from its start, read in 1 MiB pieces at their offsets.

    Reads at offsets (``os.pread``) leave the file's position alone, so a file can be hashed
    while another thread holds it; where ``os.pread`` is missing (Windows) the position moves.
    """
    digest = hashlib.sha256()
    offset = 0
    while piece := _pread(fd, _CHUNK, offset):
        digest.update(piece)
        offset += len(piece)
    return digest.hexdigest()


def _seek_and_read(fd: int, size: int, offset: int) -> bytes:
    """``os.pread`` where the system lacks it: seek, then read."""
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


_pread: Callable[[int, int, int], bytes] = getattr(os, "pread", _seek_and_read)


def same_folder(path: Path, fd: int) -> bool:
    """Return whether `path` still names the folder open as `fd` (a save replaces a model folder by another)."""
    try:
        now = os.stat(path)
    except OSError:  # gone: moved aside by a save's two renames, or deleted
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def check_array(array: np.ndarray, where: Callable[[], str]) -> None:
    """Refuse an array that can't be saved without pickle (object dtype, structured dtype).

    Raises
    ------
    PluginError
        Naming `where` (the role, the component and the state entry).
    """
    if array.dtype.kind not in ARRAY_KINDS or array.dtype.fields is not None:
        msg = (
            f"{where()} is an array of dtype {array.dtype}; a saved model holds only bool, int, float and "
            "fixed-width text arrays (no objects: they would need pickle)"
        )
        raise PluginError(msg)


class ArrayWriter:
    """Write arrays into a model folder under construction, each distinct array once.

    An array is written once however many components hold it: the same memory is found by its
    address, and an equal copy (the same shape, type and bytes: an array that came back from
    another process, say) by comparing it with the arrays of its shape and type written before.
    So a model's folder is the same whichever way its arrays were made.

    Parameters
    ----------
    folder : Path
        The (temporary) model folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / ARRAYS_DIR).mkdir()
        self.files: dict[str, dict[str, Any]] = {}
        self._written: dict[tuple[int, tuple[int, ...], tuple[int, ...], str], str] = {}
        self._by_shape: dict[tuple[tuple[int, ...], str], list[tuple[np.ndarray, str]]] = {}
        self._keep: list[np.ndarray] = []  # keeps the arrays alive, so their addresses stay unique

    def write(self, name: str, array: np.ndarray) -> str:
        """Write `array` (or find the file already holding it, or an equal copy of it) and return its relative path."""
        key = (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)
        found = self._written.get(key) or self._equal_copy(array)
        if found is not None:
            self._written[key] = found
            self._keep.append(array)
            return found
        relative = f"{ARRAYS_DIR}/{len(self.files):03d}-{_SAFE.sub('_', name)[:80]}.npy"
        target = self.folder / relative
        with target.open("wb") as stream:
            np.save(stream, array, allow_pickle=False)
            stream.flush()
            os.fsync(stream.fileno())
        self._written[key] = relative
        self._keep.append(array)
        self._by_shape.setdefault((array.shape, array.dtype.str), []).append((array, relative))
        self.files[relative] = {"sha256": sha256_of(target), "bytes": target.stat().st_size}
        return relative

    def _equal_copy(self, array: np.ndarray) -> str | None:
        """Return the file of an array written before with the same shape, type and bytes, or ``None``."""
        for other, relative in self._by_shape.get((array.shape, array.dtype.str), ()):
            if same_bytes(array, other):
                return relative
        return None


_COMPARED_BYTES = 1 << 24
"""Bytes of two arrays compared at a time: an unequal pair mostly differs in its first ones."""


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    """Return whether `a` and `b` (of one shape and type) hold the same bytes, read in chunks (-0.0 is not 0.0)."""
    if a.dtype.hasobject or b.dtype.hasobject:
        return False
    flat_a, flat_b = np.ravel(a), np.ravel(b)  # a copy only where an array is not contiguous
    step = max(1, _COMPARED_BYTES // max(a.dtype.itemsize, 1))
    for start in range(0, flat_a.size, step):
        chunk_a = np.ascontiguousarray(flat_a[start : start + step]).view(np.uint8)
        chunk_b = np.ascontiguousarray(flat_b[start : start + step]).view(np.uint8)
        if not np.array_equal(chunk_a, chunk_b):
            return False
    return True


WORK_TAG = "recframe-save-"
"""What the names of :func:`write_folder`'s work folders carry before their random part.

Only folders so named are removed as what an interrupted save left (:func:`leftovers`): a
folder a user named ``.model.20240101.old`` or ``.model.backup_1.partial`` (a dated copy, say)
fits the pattern of ``mkdtemp``'s names alone, and is the user's.
"""


def write_folder(path: Path, fill: Callable[[Path], Mapping[str, Any]]) -> None:
    """Build a model folder with `fill` beside `path` and rename it into place.

    An existing folder is replaced by one atomic swap where the system can (:func:`exchange`),
    else by two renames (the old folder aside, the new one in).

    Parameters
    ----------
    path : Path
        The model folder to write. An existing one is replaced only if it is a saved model or
        empty.
    fill : callable
        Writes the arrays into the folder it is given and returns the manifest (a JSON mapping).

    Raises
    ------
    ConfigError
        If `path` is a file, or a folder that is neither empty nor a saved model.
    """
    from recframe.errors import ConfigError

    path = Path(os.path.abspath(path))  # "." has no name to put its work folder by, nor can it be renamed
    check_not_a_link(path)
    if path.exists() and not path.is_dir():
        msg = f"{path}: is not a folder; give a new or empty folder, or a saved model to replace"
        raise ConfigError(msg)
    if path.is_dir() and any(path.iterdir()) and not is_model_folder(path):
        msg = f"{path}: is a folder of other files, not a saved model; give a new or empty folder"
        raise ConfigError(msg)
    foreign = foreign_files(path) if path.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        msg = f"{path}: holds files the saved model did not write ({shown}); move them away or give another folder"
        raise ConfigError(msg)
    check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{path.name}.{WORK_TAG}", suffix=".partial", dir=path.parent))
    try:
        with holding(temporary):  # never removed as a leftover while this save writes it
            _fill_and_place(temporary, path, fill)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _fill_and_place(temporary: Path, path: Path, fill: Callable[[Path], Mapping[str, Any]]) -> None:
    """Write the model into the work folder `temporary` with `fill`, then put it in place at `path`."""
    temporary.chmod(0o777 & ~process_umask())  # mkdtemp makes it 0700; a model folder gets a plain mkdir's mode
    manifest = fill(temporary)
    text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False) + "\n"
    with (temporary / MANIFEST).open("w", encoding="utf-8") as stream:
        stream.write(text)
        stream.flush()
        os.fsync(stream.fileno())
    try:
        with interrupts_held():  # the swap is not undone halfway: an interrupt comes after it
            _put_in_place(temporary, path)
            note_placed()
    except KeyboardInterrupt as exc:  # delivered once the new model is in place: the save is done
        mark_saved(exc, path)
        raise


def _put_in_place(temporary: Path, path: Path) -> None:
    """Move the model written in `temporary` to `path`, replacing (and removing) a model there."""
    if path.exists() and exchange(temporary, path):  # in place in one step; the old model is now at `temporary`
        _remove_replaced(temporary, path)
    elif path.exists():  # two renames: for a moment nothing is at `path`
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.{WORK_TAG}", suffix=".old", dir=path.parent))
        old.rmdir()
        path.rename(old)
        try:
            temporary.rename(path)
        except BaseException:
            old.rename(path)
            raise
        _remove_replaced(old, path)
    else:
        temporary.rename(path)


def why_not_written(exc: OSError, folder: Path) -> str:
    """Return the reason a save into `folder` failed with `exc`, for its message.

    numpy reports a short write (a full device, a file size limit) as an ``OSError`` without an
    errno, ``"1200 requested and 496 written"``: the room left on the device is added, as what
    usually explains it.
    """
    reason = exc.strerror or str(exc)
    if exc.errno is not None:
        return reason
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return reason
    return f"a short write ({reason}); {free:,} bytes free on the device of {folder}"


def check_not_a_link(path: Path, named: str | None = None) -> None:
    """Raise a ConfigError if `path` (`named` so in the message) is a symbolic link.

    A save replaces the folder named: the link itself, by a folder, not the folder it points to.
    """
    from recframe.errors import ConfigError

    if path.is_symlink():
        msg = (
            f"{named or path}: is a symbolic link, which a save would replace by a folder; save to the folder it "
            f"points to ({path.resolve()}), or to another path"
        )
        raise ConfigError(msg)


def check_replaceable(path: Path) -> None:
    """Raise a ConfigError if a model folder at `path` could be replaced but its files not removed afterwards.

    A save swaps the new folder in by renaming, which needs only the parent folder writable;
    removing the old one then needs every folder in it writable. In a read-only model folder
    the old model would stay beside the new one (with the events a ``forget`` took out): refused
    before anything is written. Nothing to check where `path` does not exist.
    """
    from recframe.errors import ConfigError

    if not path.is_dir():
        return
    for folder, _, _ in os.walk(path):
        if not os.access(folder, os.W_OK | os.X_OK):
            which = "is read-only" if Path(folder) == path else f"holds the read-only folder {folder}"
            msg = (
                f"{path}: {which}, so the model in it could not be removed once replaced (it would stay "
                "beside the new one, with anything a forget takes out); make it writable, or save to another folder"
            )
            raise ConfigError(msg)


def _remove_replaced(old: Path, path: Path) -> None:
    """Remove the model `old` that the save of `path` replaced; raise a RecframeError naming it if that fails.

    The new model is in place by then; an old one left behind silently would keep what a
    ``forget`` took out (:func:`check_replaceable` refuses the usual cause before the save).
    """
    from recframe.errors import RecframeError

    shutil.rmtree(old, ignore_errors=True)
    if not os.path.lexists(old):
        return
    try:
        shutil.rmtree(old)  # again, for the reason it fails
    except FileNotFoundError:
        return
    except OSError as exc:
        msg = (
            f"{path}: the new model is saved, but the one it replaced could not be removed from {old} "
            f"({exc.strerror or exc}); remove that folder by hand: it holds the model as it was, with "
            "anything a forget took out"
        )
        raise RecframeError(msg) from exc


LEFTOVER = re.compile(r"\.(?P<name>.+)\." + re.escape(WORK_TAG) + r"[a-z0-9_]{8}\.(partial|old)")
"""The name of a folder :func:`write_folder` works in beside the model folder ``name`` (``mkdtemp``'s)."""


def leftovers(path: Path) -> list[Path]:
    """Return the folders interrupted saves of the model folder `path` left beside it (sorted).

    :func:`write_folder` removes its work folder itself, unless the process is killed first:
    then it may hold the new model half written, or the old one half removed (with the events a
    ``forget`` took out of the model). Only who holds the folder's lock
    (:func:`~recframe.artifacts.model_lock.model_lock`) may remove them: no save is under way.
    """
    path = Path(os.path.abspath(path))
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return []
    found = []
    for entry in entries:
        match = LEFTOVER.fullmatch(entry.name)
        if match and match["name"] == path.name and entry.is_dir(follow_symlinks=False):
            found.append(path.parent / entry.name)
    return sorted(found)


RENAME_EXCHANGE = 2
"""The flag of Linux's ``renameat2`` that swaps two paths (``linux/fs.h``)."""

AT_FDCWD = -100
"""``renameat2``'s stand-in for a folder descriptor: paths relative to the working folder."""


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step; return False, changing nothing, where it can't be done.

    Linux's ``renameat2(RENAME_EXCHANGE)`` (kernel 3.15, glibc 2.28): a reader of `second`
    finds the old folder or the new one, never none. Elsewhere (another system, an older libc,
    a file system or a sandbox without it) and on any failure, nothing is changed and the caller
    renames twice instead, which reports a real problem (a path gone, no permission) itself.
    """
    swap = _renameat2()
    if swap is None:
        return False
    return swap(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    """Return the C library's ``renameat2``, or ``None`` off Linux or where the library lacks it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).renameat2
    except (OSError, AttributeError, TypeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return cast("Callable[..., int]", function)


def process_umask() -> int:
    """Return the process's umask (read from /proc where it can be, so it is never changed meanwhile)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def foreign_files(path: Path) -> list[str]:
    """Return the paths (relative, sorted) inside the model folder `path` that its manifest does not list.

    Saving over a model folder replaces it whole, so these would be lost; saving refuses them.
    """
    known = set(listed_files(path) or ())
    found = []
    for entry in sorted(path.rglob("*")):
        relative = entry.relative_to(path).as_posix()
        if relative in (MANIFEST, ARRAYS_DIR) or relative in known:
            continue
        found.append(relative + ("/" if entry.is_dir() and not entry.is_symlink() else ""))
    return found


RUN_MODEL_DIR = "model"
"""The folder of a run folder (``recframe run``'s output) that holds its saved model."""


def model_in(path: Path, named: str | None = None) -> Path:
    """Return the model folder `path` names: a run folder's ``model/``, or `path` itself.

    Every command that takes a run or a model folder (``--model``, ``serve``, ``update``,
    ``forget``) resolves it here, so all say the same of a run folder without a model.

    Raises
    ------
    ModelFileError
        If `path` is a run folder (it holds ``run.json``) without ``model/``: made with
        ``--no-model``, or a sweep. The message starts with `named` (default: the path).
    """
    if (path / RUN_MODEL_DIR).is_dir():
        return path / RUN_MODEL_DIR
    if (path / "run.json").is_file():
        msg = f"{named or path}: this run folder has no model/ (run with --no-model, or a sweep)"
        raise ModelFileError(msg)
    return path


def is_model_folder(path: Path) -> bool:
    """Return whether `path` holds a saved model's manifest (by its ``format`` field; nothing is run)."""
    return _model_manifest(path) is not None


def listed_files(path: Path) -> list[str] | None:
    """Return the files (relative paths) the saved model in `path` lists, its manifest aside; ``None``: no model.

    What a save wrote there last: an update saved over a model folder may write other files than
    the fit did (its suspects, arrays numbered anew), so whoever replaces or cleans the folder
    asks the model, not a list made before.
    """
    data = _model_manifest(path)
    listed = data.get("files") if data is not None else None
    if not isinstance(listed, dict):
        return None if data is None else []
    return [name for name in listed if isinstance(name, str)]


def _model_manifest(path: Path) -> dict[str, Any] | None:
    """Return the saved model's manifest in `path` (by its ``format`` field), ``None`` if there is none."""
    manifest = Path(path) / MANIFEST
    if not manifest.is_file():
        return None
    try:
        with manifest.open(encoding="utf-8") as stream:
            data = json.load(stream)
    except (OSError, ValueError, RecursionError):  # RecursionError: JSON nested too deeply
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT_NAME else None
