"""The run folder: the output folder checks, ``manifest.json``, and writing all files or none.

Every file is first written into a staging folder beside the output folder and moved into place
only when all of them are complete, so a failure never leaves half-written outputs. A folder that
is not empty is written into only with ``overwrite``, and then only the files its manifest lists
are replaced or removed; recframe never follows, replaces or removes a symbolic link.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

from recframe._version import __version__
from recframe.artifacts import listed_files
from recframe.errors import ConfigError, RecframeError, path_repr, short_repr
from recframe.jsonio import read_json
from recframe.runner.files import MANIFEST, _json

MAX_MANIFEST_BYTES = 64 << 20
"""The largest ``manifest.json`` recframe reads (one it wrote lists a few thousand names)."""


def _check_flags(function: str, **flags: object) -> None:
    """Raise a TypeError naming the first of `flags` that is not a bool (``overwrite="no"`` is not false)."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            msg = f"{function}: {name} must be True or False; got {type(value).__name__} {short_repr(value)}"
            raise TypeError(msg)


def _check_folder_arg(function: str, value: object) -> Path:
    """Return `value` as a Path if it is a str or path-like of text; else raise a TypeError naming it."""
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return Path(path)
    msg = (
        f"{function}: output_dir must be a folder path (str or pathlib.Path, not empty); got "
        f"{type(value).__name__} {short_repr(value)}"
    )
    raise TypeError(msg)


def check_output_dir(
    output_dir: Path, *, overwrite: bool = False, writes: Sequence[str] = (), keep_others: bool = False
) -> None:
    """Refuse an output folder a run can't or must not write into, before any work is done.

    A folder that does not exist yet is fine if it can be created: no file stands where one
    of its parent folders would be, and the nearest existing one is writable (the files are
    staged beside the output folder, so its parent must be writable too). An existing folder
    must be writable. A folder that is not empty is refused unless `overwrite` is given; then
    its ``manifest.json`` (if any) must be one recframe wrote, and nothing the run `writes`
    may stand in the way: a file the manifest does not list, or a link or file where the run
    writes a folder (see :func:`planned_names`), and no symbolic link where the run would write,
    replace or remove a file (nor ``manifest.json`` itself): recframe never follows, replaces or
    removes a link. :func:`write_atomically` checks again when it writes.

    Parameters
    ----------
    output_dir : Path
        The output folder.
    overwrite : bool
        Whether an earlier run's files may be replaced.
    writes : sequence of str
        The top-level names the run will write, folders ending in ``/`` (``charts/``).
    keep_others : bool
        Whether the earlier run's files this run does not write are kept (as
        :func:`write_atomically` with `keep_others`) rather than removed.

    Raises
    ------
    ConfigError
        If `output_dir` is a file or can't be created or written, or is a folder that is not
        empty and `overwrite` is not given, or holds something in the way of the run's files.
    """
    output_dir = _check_folder_arg("check_output_dir", output_dir)
    _check_flags("check_output_dir", overwrite=overwrite, keep_others=keep_others)
    try:
        check_creatable(output_dir)
        if not os.path.lexists(output_dir):
            return
        if not output_dir.is_dir():
            msg = f"{output_dir}: exists and is not a folder; choose another --output"
            raise ConfigError(msg)
        if not os.access(output_dir, os.W_OK | os.X_OK):
            msg = f"{output_dir}: the output folder is not writable (permission denied); choose another --output"
            raise ConfigError(msg)
        if overwrite:
            earlier = _read_manifest(output_dir)
            _check_in_the_way(output_dir, writes, earlier, keep_others=keep_others)
            return
        if any(output_dir.iterdir()):
            msg = (
                f"{output_dir}: the output folder is not empty; pass --overwrite to replace the files an "
                f"earlier run wrote there (only those listed in its {MANIFEST}; nothing else is touched), "
                f"or choose another --output"
            )
            raise ConfigError(msg)
    except OSError as exc:
        msg = f"{output_dir}: can't read the output folder: {exc.strerror or exc}; choose another --output"
        raise ConfigError(msg) from exc


MAX_NAME_BYTES = 255
"""The longest file or folder name most file systems take, in bytes."""


def check_creatable(output_dir: Path, fix: str = "choose another --output") -> None:
    """Raise a ConfigError if `output_dir` (or the staging folder beside it) can't be created, ending in `fix`."""
    for part in output_dir.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            msg = (
                f"{path_repr(output_dir)}: the name {short_repr(part)} is longer than {MAX_NAME_BYTES} "
                f"bytes, more than file systems allow; {fix}"
            )
            raise ConfigError(msg)
    for folder in output_dir.parents:  # nearest first
        if os.path.lexists(folder):
            if not folder.is_dir():
                msg = (
                    f"{folder}: is a file, not a folder, so the output folder {output_dir} can't be created "
                    f"inside it; {fix}"
                )
                raise ConfigError(msg)
            break
    base = output_dir.resolve().parent  # where the staging folder (and a sweep's progress) goes
    existing = next((folder for folder in (base, *base.parents) if os.path.lexists(folder)), None)
    if existing is not None and not existing.is_dir():
        msg = (
            f"{existing}: is a file, not a folder, so the output folder {output_dir} can't be created "
            f"inside it; {fix}"
        )
        raise ConfigError(msg)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        msg = (
            f"{existing}: not writable (permission denied); recframe writes the output folder {output_dir} "
            f"and stages its files beside it there; {fix}"
        )
        raise ConfigError(msg)
    if existing is not None:  # permissions don't tell everything (/proc, /sys): make a folder there, and remove it
        try:
            probe_creatable(existing)
        except OSError as exc:
            msg = (
                f"{existing}: no folder can be created there ({exc.strerror or exc}); recframe writes the output "
                f"folder {output_dir} and stages its files beside it there; {fix}"
            )
            raise ConfigError(msg) from exc


def probe_creatable(folder: Path) -> None:
    """Make a folder in `folder` and remove it at once; raise the ``OSError`` if none can be made.

    Permissions alone don't tell (a read-only mount, ``/proc``, root's access to anything).
    """
    os.rmdir(tempfile.mkdtemp(prefix=".recframe-probe-", dir=folder))


def _check_in_the_way(
    output_dir: Path, writes: Sequence[str], earlier: Sequence[str], *, keep_others: bool = False
) -> None:
    """Raise a ConfigError naming what in `output_dir` an overwriting run would refuse to replace."""
    owned = set(earlier)
    tops = {name.rstrip("/") for name in writes}
    touched = [*writes] + [
        name for name in earlier if not keep_others or name.split("/")[0] in tops
    ]
    conflicts = []
    for name in writes:
        path = output_dir / name.rstrip("/")
        if not os.path.lexists(path):
            continue
        if name.endswith("/"):
            if not _is_real_dir(path):
                conflicts.append(name)
        elif name not in owned or _is_real_dir(path):
            conflicts.append(name)
    folders = tuple(name for name in writes if name.endswith("/"))
    conflicts += [name for name in earlier if name.startswith(folders) and not _owned(output_dir, name)]
    if conflicts:
        raise _in_the_way(output_dir, conflicts)
    _refuse_links(output_dir, touched)


def _link_on(output_dir: Path, name: str) -> str | None:
    """Return the first part of `name` inside `output_dir` that is a symbolic link (``charts``), or ``None``."""
    path = output_dir
    parts = name.rstrip("/").split("/")
    for i, part in enumerate(parts):
        path = path / part
        if path.is_symlink():
            return "/".join(parts[: i + 1])
        if not os.path.lexists(path):
            return None
    return None


def _refuse_links(output_dir: Path, names: Sequence[str]) -> None:
    """Raise a ConfigError naming each symbolic link on the way to `names`, which a run would write or remove."""
    links = list(dict.fromkeys(link for link in (_link_on(output_dir, name) for name in names) if link))
    if links:
        shown = ", ".join(short_repr(link) for link in links[:5]) + (
            f" and {len(links) - 5} more" if len(links) > 5 else ""
        )
        msg = (
            f"{output_dir}: {shown} {'is a symbolic link' if len(links) == 1 else 'are symbolic links'} where "
            f"this run would write, replace or remove a file; recframe never follows, replaces or removes a "
            f"link, so it won't write there; move the link away or choose another --output"
        )
        raise ConfigError(msg)


def _in_the_way(output_dir: Path, conflicts: Sequence[str]) -> ConfigError:
    shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
    msg = (
        f"{output_dir}: holds {shown}, which recframe did not write (not in its {MANIFEST}) or which is a "
        f"folder or a link, so it won't replace it; move it away or choose another --output"
    )
    return ConfigError(msg)


def _read_manifest(output_dir: Path) -> list[str]:
    """Return the files an earlier run wrote into `output_dir`, by its manifest (none without one).

    Raises
    ------
    ConfigError
        If the manifest is not one recframe wrote: not JSON, not a list of file names, or
        naming a path outside the folder.
    """
    path = output_dir / MANIFEST
    if not os.path.lexists(path):
        return []
    _refuse_links(output_dir, [MANIFEST])  # never read (nor replace) through a link
    data = read_json(
        path, what="manifest", expect=dict, max_bytes=MAX_MANIFEST_BYTES, error=ConfigError,
        hint="it is not a manifest recframe wrote; move it away or choose another --output",
    )
    names = data.get("files")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        msg = f"{path}: not a manifest recframe wrote (no list of 'files'); move it away or choose another --output"
        raise ConfigError(msg)
    names = [*names, *_saved_model_files(output_dir, names)]
    for name in names:
        problem = _unsafe_name(name)
        if problem is not None:
            msg = (
                f"{path}: lists {name!r}, which {problem}; recframe writes only inside the run folder, "
                f"so this manifest is not its own"
            )
            raise ConfigError(msg)
    return names


def _saved_model_files(output_dir: Path, names: Sequence[str]) -> list[str]:
    """Return the files the saved models among `names` list now and `names` does not (a run's ``model/``).

    ``recframe update`` and ``forget``, and a service's save, replace a run's model folder after
    the run: its files may then differ from those the run's manifest lists (an update's suspects,
    arrays numbered anew). They belong to the run all the same, so that ``--overwrite`` replaces
    the model whole and leaves none of the old one's arrays (events a ``forget`` removed among them).
    """
    listed = set(names)
    extra: list[str] = []
    for name in names:
        folder, _, base = name.rpartition("/")
        if base != MANIFEST or not folder or not _owned(output_dir, name) or (output_dir / folder).is_symlink():
            continue
        inside = (f"{folder}/{file}" for file in listed_files(output_dir / folder) or ())
        extra += [file for file in inside if file not in listed]
    return extra


def _unsafe_name(name: str) -> str | None:
    """Return why `name` is not a plain relative path inside a run folder, or ``None``."""
    if not name or "\\" in name or "\0" in name:
        return "is not a plain relative path"
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("~"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "is not a plain relative path"
    return None


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _owned(output_dir: Path, name: str) -> bool:
    """Whether `name` inside `output_dir` is reached through real folders only (no link leads out).

    Folders on the way that don't exist yet are fine: they will be created.
    """
    folder = output_dir
    for part in name.split("/")[:-1]:
        folder = folder / part
        if not os.path.lexists(folder):
            return True
        if not _is_real_dir(folder):
            return False
    return True


def write_atomically(
    output_dir: Path, files: Mapping[str, str | bytes | Path], *, overwrite: bool = False, keep_others: bool = False
) -> list[Path]:
    """Write every file into `output_dir` only once all of them have been written in full.

    A value is the file's text or bytes, or the :class:`~pathlib.Path` of a finished file
    (a saved model's arrays), which is moved in rather than held in memory.

    The files are written into a staging folder next to `output_dir`; names may contain ``/``
    (a sweep's ``settings/01/metrics.json``). A ``manifest.json`` listing them is added. A new
    (or empty) `output_dir` receives them by renames. A folder that is not empty is refused
    unless `overwrite` is given; then the files the earlier run listed in its manifest are
    replaced or, if this run does not write them, removed (kept and still listed with
    `keep_others`, as ``recframe compare --output`` into a run folder does), and nothing else is
    touched: a file this run would write that the earlier manifest does not list is refused.
    If anything fails, every rename is undone, so `output_dir` is left as it was.

    Raises
    ------
    ConfigError
        If `output_dir` is a file, is not empty without `overwrite`, or holds files recframe did
        not write where this run writes.
    RecframeError
        If the files can't be written (the message names the folder and the system error).
    """
    output_dir = _check_folder_arg("write_atomically", output_dir)
    _check_flags("write_atomically", overwrite=overwrite, keep_others=keep_others)
    check_output_dir(output_dir, overwrite=overwrite)
    names = [*(name for name in files if name != MANIFEST), MANIFEST]
    earlier = _read_manifest(output_dir) if os.path.isdir(output_dir) else []
    kept = [name for name in earlier if name not in names] if keep_others else []
    listed = sorted({*names, *(name for name in kept if os.path.lexists(output_dir / name))})
    manifest = _json({"written_by": f"recframe {__version__}", "files": listed}, MANIFEST)
    target = output_dir.resolve()
    staging = target.parent / f".{target.name or 'run'}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    created = [folder for folder in output_dir.parents if not folder.exists()]  # nearest first
    done = False
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, text in {**files, MANIFEST: manifest}.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, Path):
                shutil.move(text, staging / name)
            else:
                _write_file(staging / name, text)
        if not os.path.lexists(output_dir):
            staging.rename(output_dir)
        else:
            _move_into(output_dir, staging, names, [name for name in earlier if name not in kept])
        done = True
        return [output_dir / name for name in files]
    except OSError as exc:
        msg = f"{output_dir}: can't write the run's files: {exc.strerror or exc}"
        raise RecframeError(msg) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:  # remove the parent folders this call created
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break


def _move_into(output_dir: Path, staging: Path, names: Sequence[str], earlier: Sequence[str]) -> None:
    """Move the staged `names` into the existing `output_dir`, retiring the `earlier` run's files.

    Every rename is recorded (before it is made) and undone in reverse order if any step fails
    (or is interrupted: Ctrl-C, or SIGTERM and SIGHUP in the command), so the folder ends
    either as it was or with the new run complete.
    """
    owned = set(earlier)
    conflicts = [
        name for name in names
        if not _owned(output_dir, name)
        or (os.path.lexists(output_dir / name) and (name not in owned or _is_real_dir(output_dir / name)))
    ]
    if conflicts:
        raise _in_the_way(output_dir, conflicts)
    _refuse_links(output_dir, [*names, *earlier])  # every file replaced or removed; before any move
    retired = staging / ".retired"
    retired.mkdir()
    moves: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        for number, name in enumerate(sorted(owned)):
            old = output_dir / name
            if _owned(output_dir, name) and os.path.lexists(old) and not _is_real_dir(old):
                moves.append((old, retired / str(number)))  # first: a signal may stop us right after the rename
                os.replace(old, retired / str(number))
        for name in names:
            folder = output_dir
            for part in name.split("/")[:-1]:
                folder = folder / part
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            moves.append((staging / name, output_dir / name))
            os.replace(staging / name, output_dir / name)
    except BaseException:
        with _signals_held():  # a second Ctrl-C must not stop the undo halfway
            for source, moved in reversed(moves):
                if os.path.lexists(moved):  # recorded before it was made: the last may not have been
                    with contextlib.suppress(OSError):
                        os.replace(moved, source)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise
    for name in sorted(owned - set(names), key=lambda n: -n.count("/")):  # folders the earlier run alone used
        folder = (output_dir / name).parent
        while folder != output_dir:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


_HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ignore Ctrl-C, SIGTERM and SIGHUP while the block runs (in the main thread; elsewhere none arrive).

    The block is an undo already under way because of the first one: the command stops with it
    afterwards either way.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _HELD_SIGNALS}
    for number, handler in previous.items():
        if handler is not None:  # None: set outside Python, which could not be put back
            signal.signal(number, signal.SIG_IGN)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)


def _write_file(path: Path, text: str | bytes) -> None:
    with path.open("wb") as fh:
        fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
