"""What resuming an interrupted sweep reads back: each finished setting's evaluation, and whose sweep it is.

A sweep keeps each finished setting's :class:`~recframe.results.EvaluationResult` as JSON
(:func:`result_to_json`) in its progress folder (:mod:`recframe.runner.partial`), with a record
of the run file it belongs to (:data:`PARTIAL_ORIGIN`). The folder may have been edited or
damaged since, so everything read back is checked (:func:`result_from_json`,
:func:`kept_result_problem`) before it takes the place of evaluating a setting again.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recframe.config import RunConfig
from recframe.errors import RecframeError, path_text, short_repr, short_text
from recframe.interfaces import Metric
from recframe.jsonio import parse_json, read_json
from recframe.results import EvaluationResult, FoldResult


def result_to_json(result: EvaluationResult) -> str:
    """Return an evaluation as JSON text that :func:`result_from_json` reads back bit for bit.

    Floats are written with ``repr`` digits (what :mod:`json` does), arrays with their dtype;
    the fingerprint of the data evaluated is kept where known.
    """

    def array(values: np.ndarray) -> dict[str, Any]:
        return {"dtype": values.dtype.str, "values": values.tolist()}

    folds = [
        {
            "metrics": dict(fold.metrics),
            "per_user": {label: array(np.asarray(values)) for label, values in fold.per_user.items()},
            "users": array(np.asarray(fold.users)),
            "counts": {name: int(count) for name, count in fold.counts.items()},
        }
        for fold in result.folds
    ]
    document: dict[str, Any] = {"folds": folds, "warnings": list(result.warnings), "definitions": result.definitions}
    if result.data_fingerprint:
        document["data_fingerprint"] = result.data_fingerprint
    return json.dumps(document) + "\n"


def result_from_json(text: str | bytes | Mapping[str, Any]) -> EvaluationResult:
    """Read an evaluation written by :func:`result_to_json` (its text, or the parsed object).

    Everything is checked, as the document may have been edited or damaged since it was written:
    each fold holds exactly the entries recframe writes, every per-user array is one-dimensional
    and as long as the fold's users, metric values are finite numbers (JSON's ``1e999`` reads as
    infinity), counts are non-negative integers, and each array reads back to the values
    written (no text cut short by a narrower dtype). Whether the metrics are the run's is
    checked by :func:`kept_result_problem`.

    Raises
    ------
    ValueError
        If `text` is not such a document (also when it is nested too deeply to parse); the
        message says what is wrong where (``fold 1: per_user 'ndcg@5' holds inf``).
    """
    try:
        data = text if isinstance(text, Mapping) else parse_json(text, what="evaluation result", expect=dict)
        _exact_keys(data, {"folds", "warnings"} | ({"definitions", "data_fingerprint"} & set(data)), "the document")
        folds = _entry(data, "folds", list, "the document")
        if not folds:
            msg = "no folds"
            raise ValueError(msg)
        result = EvaluationResult(
            [_fold_from_json(fold, f"fold {number}") for number, fold in enumerate(folds, start=1)],
            [_text(w, "warnings") for w in _entry(data, "warnings", list, "the document")],
            {  # what each metric computes (kept since metric profiles; absent from older folders)
                _text(label, "definitions"): dict(_entry(data["definitions"], label, dict, "definitions"))
                for label in _entry(data, "definitions", dict, "the document")
            }
            if "definitions" in data
            else {},
            _fingerprint(data.get("data_fingerprint", "")),  # (absent from folders kept before it was kept)
        )
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        msg = f"not an evaluation result written by recframe: {exc}"
        raise ValueError(msg) from exc
    return result


def _fingerprint(value: object) -> str:
    """Return a kept ``data_fingerprint``: a sha256 hex digest, or empty."""
    if not (isinstance(value, str) and (not value or _SHA256.fullmatch(value))):
        msg = f"data_fingerprint is not a sha256 hex digest: {short_repr(value)}"
        raise ValueError(msg)
    return value


_SHA256 = re.compile(r"[0-9a-f]{64}")

_ARRAY_KINDS = {"users": "iufUO", "per_user": "iuf"}
"""The dtype kinds each kind of array of a kept result may have (ids: numbers or text)."""


_SCALARS: dict[str, tuple[type, ...]] = {"i": (int,), "u": (int,), "f": (int, float), "U": (str,), "O": (str, int)}
_SCALAR_WORDS = {"i": "integers", "u": "integers", "f": "numbers", "U": "text", "O": "text or integers"}


def _fold_from_json(fold: object, where: str) -> FoldResult:
    _exact_keys(fold, {"metrics", "per_user", "users", "counts"}, where)
    assert isinstance(fold, Mapping)
    metrics = {
        _text(label, f"{where}: metrics"): _finite(value, f"{where}: metric {short_repr(label)}")
        for label, value in _entry(fold, "metrics", dict, where).items()
    }
    users = _array(fold["users"], "users", f"{where}: users")
    per_user = {}
    for label, entry in _entry(fold, "per_user", dict, where).items():
        name = f"{where}: per_user {short_repr(label)}"
        values = _array(entry, "per_user", name)
        if len(values) != len(users):
            msg = f"{name} has {len(values)} values for {len(users)} users"
            raise ValueError(msg)
        per_user[_text(label, f"{where}: per_user")] = values
    counts = {}
    for name, count in _entry(fold, "counts", dict, where).items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            msg = f"{where}: count {short_repr(name)} is {short_repr(count)}; expected a non-negative integer"
            raise ValueError(msg)
        counts[_text(name, f"{where}: counts")] = count
    return FoldResult(metrics=metrics, per_user=per_user, users=users, counts=counts)


def _exact_keys(value: object, keys: set[str], where: str) -> None:
    if not isinstance(value, Mapping):
        msg = f"{where} is {short_repr(value)}; expected a mapping with {sorted(keys)}"
        raise ValueError(msg)
    if set(value) != keys:
        msg = f"{where} has the entries {short_repr(sorted(map(str, value)))}; expected {sorted(keys)}"
        raise ValueError(msg)


def _entry(value: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    entry = value[key]
    if not isinstance(entry, kind):
        msg = f"{where}: {key} is {short_repr(entry)}; expected a {'mapping' if kind is dict else kind.__name__}"
        raise ValueError(msg)
    return entry


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        msg = f"{where}: {short_repr(value)} is not text"
        raise ValueError(msg)
    return value


def _finite(value: object, where: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        msg = f"{where} is {short_repr(value)}; expected a finite number"
        raise ValueError(msg)
    return float(value)


def _array(entry: object, kind: str, where: str) -> np.ndarray:
    """Return a kept array, refusing what :func:`result_to_json` could not have written."""
    _exact_keys(entry, {"dtype", "values"}, where)
    assert isinstance(entry, Mapping)
    spelled, values = entry["dtype"], entry["values"]
    if not isinstance(spelled, str) or not isinstance(values, list):
        msg = f"{where}: dtype {short_repr(spelled)} and values {short_repr(values)}; expected text and a list"
        raise ValueError(msg)
    dtype = np.dtype(spelled)
    if dtype.kind not in _ARRAY_KINDS[kind]:
        msg = f"{where} has dtype {short_repr(spelled)}; expected one of the kinds {_ARRAY_KINDS[kind]!r}"
        raise ValueError(msg)
    longest = max([1, *(len(v) for v in values if isinstance(v, str))])
    if dtype.kind == "U" and dtype.itemsize > 4 * longest:  # read at its longest id's width: the width written
        # is the whole data's (a fold's users may lack its longest id); a forged one must not make a huge array
        dtype = np.dtype(f"<U{longest}")
    scalars = _SCALARS[dtype.kind]
    for value in values:
        if not isinstance(value, scalars) or isinstance(value, bool):
            wanted = _SCALAR_WORDS[dtype.kind]
            msg = f"{where} holds {short_repr(value)}; expected {wanted} (dtype {short_text(spelled)})"
            raise ValueError(msg)
        if isinstance(value, float) and not math.isfinite(value):
            msg = f"{where} holds {short_repr(value)}; expected finite numbers"
            raise ValueError(msg)
    array = np.array(values, dtype=object) if dtype.hasobject else np.asarray(values, dtype=dtype)
    if array.ndim != 1 or array.tolist() != values:  # e.g. '<U2' cuts longer text short
        msg = f"{where}: dtype {short_repr(spelled)} does not hold its values {short_repr(values)}"
        raise ValueError(msg)
    return array


def kept_result_problem(result: EvaluationResult, metrics: Sequence[Any]) -> str | None:
    """Return what makes a result kept on disk unusable for a setting computing `metrics`, or ``None``.

    The result must hold exactly the metrics' labels, in their order, with a per-user array
    for each per-user metric; every value within the metric's bounds; each fold's value of a
    per-user metric the mean of its users' values (what evaluation computes), and as many
    evaluated users as the fold counted. :func:`result_from_json` has checked the types.
    """
    labels = [str(m.label) for m in metrics]
    per_user = [str(m.label) for m in metrics if getattr(m, "per_user", True)]
    for number, fold in enumerate(result.folds, start=1):
        where = f"fold {number}"
        if list(fold.metrics) != labels:
            return f"{where} has the metrics {short_repr(list(fold.metrics))}; this run computes {short_repr(labels)}"
        if list(fold.per_user) != per_user:
            return (
                f"{where} has per-user values of {short_repr(list(fold.per_user))}; this run computes them of "
                f"{short_repr(per_user)}"
            )
        if fold.counts.get("n_evaluated", len(fold.users)) != len(fold.users):
            return f"{where} counts {fold.counts['n_evaluated']} evaluated users and lists {len(fold.users)}"
        for metric, label in zip(metrics, labels, strict=True):
            low, high = getattr(metric, "bounds", (-math.inf, math.inf))
            value = fold.metrics[label]
            values = fold.per_user.get(label)
            if not low <= value <= high or (values is not None and np.any((values < low) | (values > high))):
                return f"{where}: {short_repr(label)} has values outside its bounds [{low}, {high}]"
            if values is not None and not len(values):
                return f"{where}: {short_repr(label)} has no users' values"
            if values is not None and _plain_mean(metric) and float(np.mean(values)) != value:
                return f"{where}: {short_repr(label)} is {value!r}, not the mean of its users' values"
    return None


def _plain_mean(metric: Any) -> bool:
    """Whether `metric`'s run value is the plain mean of its users' values (:meth:`Metric.summary_is_mean`).

    Micro averaging, users without relevant items counted as 0, or a plugin's own summary
    weigh users otherwise, from what the kept result does not hold: its value is not checked.
    """
    return bool(metric.summary_is_mean()) if isinstance(metric, Metric) else False


PARTIAL_ORIGIN = "origin.json"
"""The file of a sweep's progress folder (``.<output>.partial``) naming the run file it keeps settings of."""


def origin_record(config: RunConfig) -> str:
    """Return the text of :data:`PARTIAL_ORIGIN` for `config`: its run file (as given and absolute) and name."""
    return json.dumps({"run_file": config.source, "path": _run_file_path(config.source), "name": config.name}) + "\n"


def kept_for_other_run_file(partial: Path, config: RunConfig) -> str | None:
    """Return the run file whose interrupted sweep `partial` keeps, if recorded and not `config`'s; else ``None``."""
    other = _kept_origin(partial)
    return other if other is not None and other != _run_file_path(config.source) else None


def kept_sweep_message(partial: Path, config: RunConfig, output_dir: Path) -> str:
    """Return the message refusing to start a sweep over the progress folder `partial` of an interrupted one.

    It says whose sweep that is: `config`'s run file, another run file writing to the same
    output folder (recorded in :data:`PARTIAL_ORIGIN`), or one that did not record it.
    """
    this = path_text(_run_file_path(config.source))
    other = _kept_origin(partial)
    if other is None:
        return (
            f"{partial}: an interrupted sweep writing to {output_dir} keeps its finished settings there (of a run "
            f"file recframe did not record); pass --resume to continue it if it is {this}'s, or remove that folder "
            f"to start again"
        )
    if other != _run_file_path(config.source):
        return (
            f"{partial}: an interrupted sweep of another run file, {path_text(other)}, keeps its finished "
            f"settings there, as it also writes to {output_dir}; finish it with --resume on that run file, "
            f"give {this} another --output, or remove that folder to start again"
        )
    return (
        f"{partial}: an interrupted sweep of this run file, {this}, keeps its finished settings there; pass "
        f"--resume to continue it, or remove that folder to start again"
    )


def _run_file_path(source: str) -> str:
    """Return a run file's absolute path (the same file from any working folder); other sources as they are."""
    return os.path.abspath(source) if os.path.isfile(source) else source


def _kept_origin(partial: Path) -> str | None:
    """Return the run file recorded in `partial`'s :data:`PARTIAL_ORIGIN`, or ``None`` if there is none to read."""
    if not (partial / PARTIAL_ORIGIN).is_file():  # also no FIFO to hang on
        return None
    try:
        record = read_json(partial / PARTIAL_ORIGIN, what="sweep origin", expect=dict, max_bytes=1 << 16)
    except (RecframeError, OSError, ValueError):
        return None
    path = record.get("path")
    return path if isinstance(path, str) and path else None
