"""What the query commands read and write in bulk: a saved model, a file of ids, CSV and JSON lines.

``recframe recommend|similar|explain|predict --model RUN_OR_MODEL_DIR`` answers from a saved
model (:func:`load_model`) instead of refitting a run file; ``--users-file`` gives many users at
once (:func:`read_ids`); ``--format csv|jsonl`` writes one row per ranked entry or one JSON
object per list (:func:`ranked_rows`), to standard output or atomically to ``--output``
(:func:`emit`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recframe.cli.common import _print
from recframe.errors import ConfigError, RecframeError, short_repr
from recframe.results import RankedLists

MAX_IDS_FILE_BYTES = 1 << 30
"""The largest ``--users-file`` read (1 GiB)."""


def load_model(path: Path, registry: Any) -> Any:
    """Return the recommender saved in `path`: a model folder, or a run folder holding ``model/``.

    Raises
    ------
    ModelFileError
        (exit 3) If the folder holds no model, or the model is incomplete, altered, too new,
        or needs a plugin that is not installed.
    """
    from recframe.artifacts import MANIFEST, ModelFileError
    from recframe.recommender import Recommender

    folder = Path(path)
    if (folder / "model" / MANIFEST).is_file():
        folder = folder / "model"
    elif (folder / "run.json").is_file():
        msg = f"--model {short_repr(str(path))}: this run folder has no model/ (run with --no-model, or a sweep)"
        raise ModelFileError(msg)
    return Recommender.load(folder, registry=registry)


def read_ids(path: Path, column: str | None, *, label: str | None = None) -> list[str]:
    """Return the ids in `path`: one per line, or the `column` of a CSV file with a header.

    Blank lines are skipped; ids are text here (the caller converts them to the model's type).
    Messages start with `label` (by default ``--users-file PATH``).

    Raises
    ------
    ConfigError
        If the file can't be read, is too large, has no such column, or holds no id.
    """
    named = label if label is not None else f"--users-file {short_repr(str(path))}"
    try:
        if path.stat().st_size > MAX_IDS_FILE_BYTES:
            msg = f"{named}: larger than {MAX_IDS_FILE_BYTES >> 20} MiB"
            raise ConfigError(msg)
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        msg = f"{named}: can't be read: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = f"{named}: is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ConfigError(msg) from exc
    if column is None:
        ids = [line.strip() for line in text.splitlines() if line.strip()]
    else:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or column not in reader.fieldnames:
            shown = ", ".join(reader.fieldnames or []) or "none"
            msg = f"--column {short_repr(column)}: not a column of {path} (its columns: {shown})"
            raise ConfigError(msg)
        ids = [(row.get(column) or "").strip() for row in reader]
        ids = [i for i in ids if i]
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


def render(rows: list[dict[str, Any]], fmt: str, query_key: str, label: str) -> str:
    """Return the lists as CSV (one row per ranked entry, empty lists as one row) or JSON lines."""
    if fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([query_key, "rank", label, "score", "source", "reason"])
    for row in rows:
        if not row["items"]:
            writer.writerow([row[query_key], "", "", "", row["source"], row["reason"]])
        for rank, entry in enumerate(row["items"], start=1):
            writer.writerow([row[query_key], rank, entry[label], repr(entry["score"]), row["source"], row["reason"]])
    return out.getvalue()


def emit(text: str, output: Path | None) -> None:
    """Print `text`, or write it to `output` atomically (a temporary file beside it, then renamed).

    Raises
    ------
    RecframeError
        If `output` can't be written.
    """
    if output is None:
        _print(text, end="")
        return
    target = Path(output)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        msg = f"--output {short_repr(str(output))}: can't be written: {exc.strerror or exc}"
        raise RecframeError(msg) from exc


def _plain(value: Any) -> Any:
    """Return a numpy scalar as the Python value JSON writes."""
    return value.item() if hasattr(value, "item") else value
