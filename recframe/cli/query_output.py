"""What the query commands read and write in bulk: a saved model, a file of ids, CSV and JSON lines.

``recframe recommend|similar|explain|predict --model RUN_OR_MODEL_DIR`` answers from a saved
model (:func:`load_model`) instead of refitting a run file; ``--users-file`` gives many users at
once (:func:`read_ids`); ``--format csv|jsonl`` writes one row per ranked entry or one JSON
object per list (:func:`ranked_rows`), to standard output or atomically to ``--output``
(:func:`open_output`, :func:`emit`), chunk by chunk, so that a file of a million users never
has all its answers in memory at once. :func:`check_output` refuses an ``--output`` that is a
folder or lies inside the model folder being read.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recframe.artifacts import process_umask
from recframe.cli.common import _print
from recframe.errors import ConfigError, RecframeError, path_repr, short_repr
from recframe.results import RankedLists

MAX_IDS_FILE_BYTES = 1 << 30
"""The largest ``--users-file`` read (1 GiB)."""


def model_folder_arg(path: Path, option: str = "") -> Path:
    """Return the model folder a command line names: a run folder's ``model/``, or `path` itself.

    Raises
    ------
    ConfigError
        (exit 2) If `path` is not a folder: a command-line mistake, as any folder named there.
    ModelFileError
        (exit 3) If `path` is a run folder without a saved model.
    """
    from recframe.artifacts import model_in

    named = f"{option} {path_repr(path)}" if option else path_repr(path)
    check_model_folder(path, named)
    return model_in(path, named)


def check_model_folder(path: Path, named: str) -> None:
    """Refuse (exit 2) a `path` that is not a folder, saying whether it is missing or a file."""
    if path.is_dir():
        return
    what = "is a file, not a folder" if path.exists() else "no such folder"
    msg = f"{named}: {what}; give a run folder or a model folder (Recommender.save)"
    raise ConfigError(msg)


def reads_saved_model(args: Any, command: str) -> bool:
    """Return whether `command` reads a saved model (``--model``) rather than its run file (``CONFIG``).

    Raises
    ------
    ConfigError
        (exit 2) If both are given, or neither, or ``--set`` with ``--model``, or a folder
        where the run file goes (the hint: give it as ``--model``).
    """
    if args.model is not None:
        if args.config is not None:
            msg = f"give a run file ({args.config}) or --model {args.model}, not both"
            raise ConfigError(msg)
        if args.overrides:
            msg = "--set overrides a run file's values; a saved model (--model) is read as it was saved"
            raise ConfigError(msg)
        return True
    if args.config is None:
        msg = f"recframe {command}: give a run file (CONFIG) or a saved model (--model RUN_OR_MODEL_DIR)"
        raise ConfigError(msg)
    if Path(args.config).is_dir():  # a saved model or a run folder given where the run file goes
        msg = (
            f"{args.config} is a folder, and CONFIG is a YAML run file; to read a saved model or a run folder, "
            f"give --model {args.config}"
        )
        raise ConfigError(msg)
    return False


def load_model(path: Path, registry: Any) -> Any:
    """Return the recommender saved in `path` (``--model``): a model folder, or a run folder holding ``model/``.

    Raises
    ------
    ConfigError
        (exit 2) If `path` is not a folder.
    ModelFileError
        (exit 3) If the folder holds no model, or the model is incomplete, altered, too new,
        or needs a plugin that is not installed.
    """
    from recframe.recommender import Recommender

    return Recommender.load(model_folder_arg(Path(path), "--model"), registry=registry)


def read_ids(path: Path, column: str | None, *, label: str | None = None) -> list[str]:
    """Return the ids in `path` (``-``: standard input): one per line, or the `column` of a CSV file with a header.

    Blank lines are skipped; ids are text here (the caller converts them to the model's type).
    Messages start with `label` (by default ``--users-file PATH``).

    Raises
    ------
    ConfigError
        If the file can't be read, is too large, has no such column, or holds no id.
    """
    return [text for _, text in read_numbered_ids(path, column, label=label)]


def read_numbered_ids(path: Path, column: str | None, *, label: str | None = None) -> list[tuple[int, str]]:
    """Return the ids of :func:`read_ids`, each with its line in the file (from 1; a CSV file's header is line 1).

    For messages about one id that name where it is (a caller converting the ids).
    """
    named = label if label is not None else f"--users-file {path_repr(path)}"
    try:
        if str(path) == "-":  # standard input, as the usual convention: read up to the limit, then refuse
            data = sys.stdin.buffer.read(MAX_IDS_FILE_BYTES + 1)
            too_large = len(data) > MAX_IDS_FILE_BYTES
        else:
            too_large = path.stat().st_size > MAX_IDS_FILE_BYTES
            data = b"" if too_large else path.read_bytes()
        if too_large:
            msg = f"{named}: larger than {MAX_IDS_FILE_BYTES >> 20} MiB"
            raise ConfigError(msg)
        text = data.decode("utf-8-sig")
    except OSError as exc:
        msg = f"{named}: can't be read: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"{named}: is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ConfigError(msg) from exc
    if column is None:
        ids = [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    else:
        reader = csv.DictReader(io.StringIO(text))
        try:
            if reader.fieldnames is None or column not in reader.fieldnames:
                shown = ", ".join(reader.fieldnames or []) or "none"
                msg = f"--column {short_repr(column)}: not a column of {path} (its columns: {shown})"
                raise ConfigError(msg)
            ids = [(reader.line_num, (row.get(column) or "").strip()) for row in reader]
        except csv.Error as exc:  # a field over the csv module's limit (128 KiB), a NUL, an odd quote
            msg = f"{named}, line {reader.line_num + 1}: can't be read as CSV ({exc})"  # the line being read
            raise ConfigError(msg) from exc
        ids = [(number, i) for number, i in ids if i]
    if not ids:
        hint = "give one id per line" + (", or a CSV file with --column" if label is None else "")
        msg = f"{named}: holds no id; {hint}"
        raise ConfigError(msg)
    return ids


def ranked_rows(lists: RankedLists, query_key: str, label: str) -> Iterator[dict[str, Any]]:
    """Yield one JSON-ready dict per list: the query, its source and reason, and the ranked entries."""
    reasons = lists.reasons
    for position, (query, ids, scores) in enumerate(lists):
        yield {
            query_key: _plain(query),
            "source": str(lists.sources[position]),
            "reason": "" if reasons is None else str(reasons[position]),
            "items": [{label: _plain(i), "score": float(s)} for i, s in zip(ids, scores, strict=True)],
        }


def entry_column(query_key: str, label: str) -> str:
    """Return the CSV column of the ranked entries: `label`, or ``similar_<label>`` if the query is one too.

    ``recommend`` writes ``user,rank,item,...`` and ``similar`` writes ``item,rank,similar_item,...``,
    so that no two columns share a name.
    """
    return f"similar_{label}" if label == query_key else label


def render(rows: list[dict[str, Any]], fmt: str, query_key: str, label: str, *, header: bool = True) -> str:
    """Return the lists as CSV (one row per ranked entry, empty lists as one row) or JSON lines.

    With ``header=False`` the CSV has no header row (a later chunk of the same output).
    """
    if fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow([query_key, "rank", entry_column(query_key, label), "score", "source", "reason"])
    for row in rows:
        if not row["items"]:
            writer.writerow([row[query_key], "", "", "", row["source"], row["reason"]])
        for rank, entry in enumerate(row["items"], start=1):
            writer.writerow([row[query_key], rank, entry[label], repr(entry["score"]), row["source"], row["reason"]])
    return out.getvalue()


def _refuse_what_is_read(target: Path, model: Path, named: str) -> None:
    """Refuse an `output` inside the model folder `model` reads, or the run folder it belongs to, or the run file it is.

    A run's own files (its ``recommendations.csv``, say) are refused however ``--model`` names
    the run: the run folder, or its ``model/``.
    """
    from recframe.artifacts import MANIFEST

    resolved = target.resolve()
    if model.is_file():  # a run file, fitted by the command
        if resolved == model.resolve():
            msg = f"{named}: is the run file being read; write the answer elsewhere"
            raise ConfigError(msg)
        return
    model_dir = (model / "model" if (model / "model" / MANIFEST).is_file() else model).resolve()
    in_run = model_dir.name == "model" and _lists_a_model(model_dir.parent / MANIFEST)
    folder = model_dir.parent if in_run else model_dir
    if resolved == folder or folder in resolved.parents:
        what = "the run folder" if in_run else "the model folder"
        msg = f"{named}: is inside {what} {path_repr(folder)} being read; write the answer elsewhere"
        raise ConfigError(msg)


def _lists_a_model(manifest: Path) -> bool:
    """Whether `manifest` is a run folder's, listing the files of its ``model/`` (another program's is not)."""
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError, RecursionError):  # RecursionError: JSON nested too deeply
        return False
    return isinstance(files, list) and any(isinstance(name, str) and name.startswith("model/") for name in files)


def check_output(output: Path | None, model: Path | None, inputs: Sequence[tuple[str, Path]] = ()) -> None:
    """Refuse an `output` that is not a regular file (or none yet), or one the command reads.

    Checked before any work, so that a mistyped ``--output`` never overwrites the saved model,
    nor one of the `inputs` (``(what, path)``: the ``--users-file``, an ``@FILE`` of ids, the
    data file a run file names), which the answer would replace.

    Raises
    ------
    ConfigError
        (exit 2) If `output` names an existing folder, a symbolic link, a pipe or a device (an
        atomic write would replace it), or resolves (links followed) to what `model` reads: see
        :func:`_refuse_what_is_read`.
    """
    if output is None:
        return
    named = f"--output {path_repr(output)}"
    target = Path(output)
    if target.is_dir():
        msg = f"{named}: is a folder; give the file to write (e.g. {Path(output) / 'lists.csv'})"
        raise ConfigError(msg)
    if model is not None:
        _refuse_what_is_read(target, Path(model), named)
    blocking = next((above for above in target.parents if os.path.lexists(above) and not above.is_dir()), None)
    if blocking is not None:  # a file (or a dangling link) where a folder of the path must be
        msg = f"{named}: {path_repr(blocking)} is not a folder, so no file can be written below it"
        raise ConfigError(msg)
    for what, source in inputs:
        if target.resolve() == Path(source).resolve():
            msg = f"{named}: is {what} being read; write the answer elsewhere"
            raise ConfigError(msg)
    if target.is_symlink():  # the atomic write would replace the link, not write where it points
        msg = (
            f"{named}: is a symbolic link, which recframe never replaces nor writes through; give the file "
            f"it points to ({path_repr(target.resolve())}), or another path"
        )
        raise ConfigError(msg)
    if os.path.lexists(target) and not target.is_file():  # a pipe or a device: replaced by a file, never written
        msg = (
            f"{named}: is not a regular file (a pipe or a device); --output writes a file atomically, so leave it "
            "out and redirect standard output instead"
        )
        raise ConfigError(msg)
    _probe_writable(target, named)


def _probe_writable(target: Path, named: str) -> None:
    """Refuse `target` if nothing can be made in its folder (or the nearest one there is), before any work."""
    from recframe.runner.folder import probe_creatable

    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        probe_creatable(folder)
    except OSError as exc:
        msg = f"{named}: can't be written in {path_repr(folder)}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc


def _file_mode() -> int:
    """Return the mode a new file gets: ``0o666`` less the process's umask (``mkstemp`` gives ``0o600``)."""
    return 0o666 & ~process_umask()


@contextmanager
def open_output(output: Path | None) -> Iterator[Callable[[str], None]]:
    """Yield a ``write(text)`` to standard output, or to `output` atomically, chunk by chunk.

    `output` is written through a temporary file beside it, renamed over it once every chunk
    is written; if the block fails the temporary file is removed and `output` is untouched.

    Raises
    ------
    RecframeError
        If `output` can't be written.
    """
    if output is None:
        yield lambda text: _print(text, end="")
        return
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _unwritable(output, exc) from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:

            def write(text: str) -> None:
                try:
                    stream.write(text)
                except OSError as exc:
                    raise _unwritable(output, exc) from exc

            _written(output, lambda: os.fchmod(stream.fileno(), _file_mode()))
            yield write
            _written(output, stream.flush)
            _written(output, lambda: os.fsync(stream.fileno()))
        _written(output, lambda: os.replace(temporary, target))
    finally:
        Path(temporary).unlink(missing_ok=True)  # still there only if something failed


def _written(output: Path, step: Callable[[], None]) -> None:
    """Run one step of writing `output`, an ``OSError`` becoming the command's error."""
    try:
        step()
    except OSError as exc:
        raise _unwritable(output, exc) from exc


def _unwritable(output: Path, exc: OSError) -> RecframeError:
    return RecframeError(f"--output {path_repr(output)}: can't be written: {exc.strerror or exc}")


def emit(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` atomically (a temporary file beside it, then renamed).

    Raises
    ------
    RecframeError
        If `output` can't be written.
    """
    with open_output(output) as write:
        write(text)


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value JSON writes."""
    return value.item() if hasattr(value, "item") else value
