"""Read an evaluated run's per-user metric values from its folder, refusing anything malformed.

:class:`RunScores` is what :func:`~recframe.evaluation.compare.compare` pairs: one run's per-user
values by (fold, user), taken from an in-memory evaluation or read from a run folder's
``per_user.csv``, with the provenance recorded in its ``run.json`` and ``config.yaml``. Run
folders may have been edited or damaged, so every file is checked and an error names the file,
line and field to fix.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray
from recframe.errors import ConfigError, DataError, short_repr, short_text
from recframe.evaluation.run_provenance import provenance
from recframe.jsonio import read_json
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from recframe.registry import PluginRegistry


PER_USER_FILE = "per_user.csv"
RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True, eq=False)
class RunScores:
    r"""One run's per-user metric values, keyed by ``fold<TAB>user``, and what it was evaluated on.

    Attributes
    ----------
    name : str
        The run's name in tables.
    keys : ndarray of shape (n,), str
        ``"<fold>\t<user>"`` of each entry.
    values : dict of str to ndarray of shape (n,)
        Each per-user metric's values, aligned with `keys`.
    provenance : dict of str to object, optional
        What decides the evaluated users and their relevant items (:func:`provenance`): the
        data fingerprint and size, the split, the seed of a seeded split and the relevance
        settings. :func:`~recframe.evaluation.compare.compare` refuses runs whose provenance differs. ``None``: unknown.
    source : str
        Where the run came from (its folder), for messages; the name when empty.
    recorded : dict of str to list of float, optional
        Each metric's value of the run in each fold (index = fold number), as ``metrics.json``
        records it; ``None``: unknown. A metric whose recorded value is not the mean of its
        per-user values (micro-averaged, or counting users without relevant items as 0) is
        left out of comparisons, as per-user statistics would describe another number.
    definitions : dict of str to dict, optional
        What each metric computes, by label (:attr:`recframe.Metric.definition`), to say why.
    """

    name: str
    keys: npt.NDArray[np.str_]
    values: dict[str, FloatArray]
    provenance: dict[str, object] | None = None
    source: str = ""
    recorded: dict[str, list[float]] | None = None
    definitions: dict[str, dict[str, Any]] | None = None

    @classmethod
    def from_result(cls, name: str, result: EvaluationResult, provenance: dict[str, object] | None = None) -> RunScores:
        """Take the per-user values of an in-memory evaluation (and, optionally, its provenance)."""
        users = np.char.strip(result.users.astype(str))  # as per_user.csv is read (_entry_key)
        keys = np.char.add(np.char.add(result.fold_of.astype(str), "\t"), users)
        recorded = {label: [fold.metrics[label] for fold in result.folds] for label in result.per_user}
        return cls(name, keys, dict(result.per_user), provenance, "", recorded, dict(result.definitions))

    @classmethod
    def from_run_dir(cls, folder: Path, name: str | None = None, registry: PluginRegistry | None = None) -> RunScores:
        """Read the ``per_user.csv`` of a run folder, and its provenance from ``run.json`` and ``config.yaml``.

        Raises
        ------
        DataError
            If the folder or its ``per_user.csv`` is missing (the message says whether the
            folder holds a sweep or an unevaluated run), or the file is malformed: a bad
            header, a repeated metric or (fold, user), a value that is not a finite number
            (the message names the file and line).
        """
        folder = Path(folder)
        path = folder / PER_USER_FILE
        if not folder.is_dir():
            msg = f"{folder}: no such run folder"
            raise DataError(msg)
        record = _read_json(folder / RUN_FILE)
        if not path.is_file():
            raise DataError(_missing_per_user(folder, record))
        if record is not None:
            _check_record(folder / RUN_FILE, record)
        rows = _read_csv(path)
        if not rows or [cell.strip() for cell in rows[0][:2]] != ["fold", "user"]:
            got = short_repr(",".join(rows[0])) if rows else "nothing"
            msg = f"{path}:1: expected a header starting with fold,user; got {got}"
            raise DataError(msg)
        header, body = rows[0], rows[1:]
        labels = header[2:]
        for i, label in enumerate(labels):
            if not label or label in labels[:i]:
                what = "empty" if not label else "a repeat"
                msg = (
                    f"{path}:1: metric column {i + 3} is {short_repr(label)}, {what}; "
                    "each column needs its own metric label"
                )
                raise DataError(msg)
        if not body:
            msg = f"{path}: has no evaluated user; nothing to compare"
            raise DataError(msg)
        keys: list[str] = []
        first_line: dict[str, int] = {}
        columns: list[list[float]] = [[] for _ in labels]
        for line, row in enumerate(body, start=2):
            if len(row) != len(header):
                msg = f"{path}:{line}: expected {len(header)} fields; got {len(row)}"
                raise DataError(msg)
            key = _entry_key(row[0], row[1], f"{path}:{line}")
            if key in first_line:
                msg = (
                    f"{path}:{line}: fold {short_repr(row[0])}, user {short_repr(row[1])} repeats line "
                    f"{first_line[key]}; each (fold, user) is evaluated once"
                )
                raise DataError(msg)
            first_line[key] = line
            keys.append(key)
            for column, label, text in zip(columns, labels, row[2:], strict=True):
                try:
                    value = float(text)
                except ValueError:
                    msg = f"{path}:{line}: value {short_repr(text)} is not a number ({short_text(label)})"
                    raise DataError(msg) from None
                if not math.isfinite(value):
                    msg = f"{path}:{line}: {short_text(label)} is {short_repr(text)}, not a finite number"
                    raise DataError(msg)
                column.append(value)
        values = {label: np.asarray(col, dtype=np.float64) for label, col in zip(labels, columns, strict=True)}
        config = _read_yaml(folder / CONFIG_FILE)
        known = record is not None or config is not None
        origin = provenance(config or {}, record or {}, registry) if known else None
        recorded, definitions = _read_metrics(folder / METRICS_FILE, labels)
        return cls(name or folder.name, np.asarray(keys, dtype=str), values, origin, str(folder), recorded, definitions)


RECORD_FIELDS: dict[str, tuple[type, ...]] = {"data_fingerprint": (str,), "n_interactions": (int,), "seed": (int,)}
"""The fields of ``run.json`` that compare reads and that ``recframe run`` always writes, with their types."""

MAX_DEPTH = 50
"""Deepest nesting of lists and mappings compare accepts in a recorded value (a split's settings)."""


def _read_json(path: Path) -> dict[str, Any] | None:
    """Return the ``run.json`` object of a run folder, ``None`` without one; refuse anything else."""
    if not path.exists():
        return None
    record: dict[str, Any] = read_json(
        path, what=RUN_FILE, expect=dict, hint="give run folders written by recframe run"
    )
    return record


def _read_metrics(
    path: Path, labels: list[str]
) -> tuple[dict[str, list[float]] | None, dict[str, dict[str, Any]] | None]:
    """Return each metric's recorded value in each fold, and the definitions, from ``metrics.json``.

    A fold or metric the file does not record as a number is left out (``None`` without the
    file): compare then can't check it, as for runs written before definitions were recorded.
    """
    if not path.is_file():
        return None, None
    summary = read_json(path, what=METRICS_FILE, hint="give run folders written by recframe run")
    folds = summary.get("folds")
    tables = [f.get("metrics") for f in folds if isinstance(f, dict)] if isinstance(folds, list) else []
    tables = tables or [summary.get("metrics")]
    recorded: dict[str, list[float]] = {}
    for label in labels:
        values = [t.get(label) if isinstance(t, dict) else None for t in tables]
        if all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
            recorded[label] = [float(v) for v in values]  # type: ignore[arg-type]
    found = summary.get("definitions")
    definitions = {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else None
    return recorded, definitions


def _check_record(path: Path, record: dict[str, Any]) -> None:
    """Refuse a run's ``run.json`` that lacks a field ``recframe run`` always writes, or holds a wrong type.

    Raises
    ------
    DataError
        Naming the file, the field and the value found.
    """
    for key, types in RECORD_FIELDS.items():
        value = record.get(key)
        wanted = " or ".join("a string" if t is str else "an integer" for t in types)
        if key not in record or value is None:
            msg = (
                f"{path}: has no {key}, which recframe run always records (expected {wanted}); "
                "give run folders written by recframe run"
            )
            raise DataError(msg)
        if isinstance(value, bool) or not isinstance(value, types) or (isinstance(value, int) and value < 0):
            msg = f"{path}: {key} is {short_repr(value)}; expected {wanted}{'' if str in types else ' >= 0'}"
            raise DataError(msg)
    split = record.get("split")
    if split is not None and (not isinstance(split, str | dict) or _depth(split) > MAX_DEPTH):
        msg = f"{path}: split is {short_repr(split)}; expected a split's settings (a name or a mapping)"
        raise DataError(msg)


def _depth(value: object) -> int:
    """Return how deeply lists and mappings nest in `value`, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _read_text(path: Path) -> str:
    """Return the UTF-8 text of `path` (a byte-order mark dropped), refusing what can't be read as text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: can't read the file: {exc.strerror or exc}"
        raise DataError(msg) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = (
            f"{path}:{line}: is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "give the file recframe run wrote, or save it as UTF-8"
        )
        raise DataError(msg) from None


def _read_csv(path: Path) -> list[list[str]]:
    """Return the rows of a CSV file, naming the file and line of anything malformed."""
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        msg = f"{path}:{reader.line_num}: not valid CSV: {short_text(str(exc))}"
        raise DataError(msg) from None


def _entry_key(fold: str, user: str, where: str) -> str:
    r"""Return the ``"<fold>\t<user>"`` key of a per_user.csv row: the fold as an integer, the user stripped.

    Spellings of one entry (``0`` and ``00``, ``u1`` and `` u1``) give one key, so a repeated
    entry can't pass as a new one.
    """
    try:
        number = int(fold.strip())
    except ValueError:
        number = -1
    if number < 0:
        msg = f"{where}: fold {short_repr(fold)} is not a fold number (a non-negative integer)"
        raise DataError(msg)
    return f"{number}\t{user.strip()}"


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """Return the ``config.yaml`` mapping of a run folder, ``None`` without one; refuse anything else.

    Raises
    ------
    DataError
        If the file can't be read, is not UTF-8 YAML (one line naming the file and line), is
        nested too deeply or expands too far, or is not a mapping.
    """
    if not path.exists():
        return None
    from recframe.config import parse_yaml

    text = _read_text(path)
    try:
        data = parse_yaml(text, str(path))[0]
    except ConfigError as exc:  # "<path>:<line>: not valid YAML: ...", in one line
        raise DataError(str(exc)) from None
    if not isinstance(data, dict):
        msg = f"{path}: holds {short_repr(data)}; expected the run's settings (a mapping), as recframe run writes them"
        raise DataError(msg)
    return data


def _missing_per_user(folder: Path, record: dict[str, Any] | None) -> str:
    """Say why a run folder has no ``per_user.csv``: a sweep, an unevaluated run, or per_user: false."""
    missing = f"{folder}: has no {PER_USER_FILE}"
    if record is not None and record.get("sweep"):
        settings = sorted(p for p in (folder / "settings").glob("*") if (p / PER_USER_FILE).is_file())
        example = " ".join(str(p) for p in settings[:2]) or f"{folder}/settings/<n>"
        count = record["sweep"].get("settings", "several") if isinstance(record["sweep"], dict) else "several"
        count = count if isinstance(count, int) and not isinstance(count, bool) else "several"
        return (
            f"{missing}: it is a sweep of {count} settings, not one evaluated run; "
            f"compare its settings' folders instead, e.g. recframe compare {example}"
        )
    if (folder / METRICS_FILE).is_file():
        return f"{missing}; run it with an evaluation section and evaluation.per_user: true"
    if record is not None or (folder / CONFIG_FILE).is_file():
        return (
            f"{missing}: the run was not evaluated (its run file has no evaluation section); "
            "add evaluation.split and evaluation.metrics and run it again"
        )
    return f"{missing} and is not a run folder (no {RUN_FILE} or {CONFIG_FILE}); give folders written by recframe run"
