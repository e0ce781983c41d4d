"""``recframe recommend``, ``similar``, ``predict`` and ``explain``: answer queries from a run file or a saved model.

With a run file (``CONFIG``) the recommender is fitted on all its data first; with ``--model``
it is loaded from a saved model, without refitting. ``recommend --users-file`` answers many users,
:data:`CHUNK_USERS` at a time, each chunk written before the next is computed; ``--format
csv|jsonl`` and ``--output`` are for programs (see :mod:`recframe.cli.query_output`). Call-time
control is the API's: ``--exclude`` and ``--candidates`` (``recommend`` and ``similar``),
``--include-seen``/``--exclude-seen`` and ``--fill-short`` (``recommend --user|--users-file``),
parsed in :mod:`recframe.cli.args`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any

from recframe.cli.args import IdsFromFile
from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.cli.query_output import (
    check_output,
    emit,
    load_model,
    open_output,
    ranked_rows,
    read_ids,
    reads_saved_model,
    render,
)
from recframe.data import plain_number, whole_number
from recframe.errors import ConfigError, DataError, RecframeError, short_repr
from recframe.recommender import MAX_HISTORY_VALUE

CHUNK_USERS = 10_000
"""Users answered and written at a time by ``recommend --users-file``: memory is bounded by one chunk."""


def _recommender(args: argparse.Namespace) -> Any:
    """Return the fitted recommender the query asks: loaded from ``--model``, or fitted from ``CONFIG``."""
    from recframe.recommender import Recommender

    if reads_saved_model(args, args.command):
        return load_model(args.model, _registry())
    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    return rec


def _format(args: argparse.Namespace) -> str:
    """Return the output format: ``--format``, else ``json`` with ``--json``, else a table."""
    if args.format is not None:
        if args.json and args.format != "json":
            msg = f"--json and --format {args.format} disagree; give one of them"
            raise ConfigError(msg)
        return str(args.format)
    return "json" if args.json else "table"


def _read_from(args: argparse.Namespace) -> Path | None:
    """Return what the command reads its model from: the model or run folder, else the run file it fits."""
    source: Path | None = args.model if args.model is not None else args.config
    return source


def _inputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Return the files the command reads besides its model, which ``--output`` may not replace (none without it)."""
    found: list[tuple[str, Path]] = []
    if args.output is None:  # nothing is written: no run file read twice
        return found
    users_file = getattr(args, "users_file", None)
    if users_file is not None and str(users_file) != "-":
        found.append(("the --users-file", Path(users_file)))
    for option in ("exclude", "candidates", "history"):
        values = getattr(args, option, None)
        if isinstance(values, IdsFromFile):
            found.append((f"the --{option} @FILE", values.source))
    if args.model is None and args.config is not None:
        from recframe.config import load_config

        try:
            with warnings.catch_warnings():  # the fit reads the run file again, and warns then
                warnings.simplefilter("ignore")
                data = load_config(args.config, _registry()).data
        except (RecframeError, OSError):  # the fit reports it, as it would without --output
            return found
        path = getattr(data.params, "path", None) if data is not None else None
        if isinstance(path, str | Path):
            found.append(("the data file the run file names", Path(path)))
    return found


def _predict(args: argparse.Namespace) -> int:
    fmt = _format(args)
    check_output(args.output, _read_from(args), _inputs(args))
    rec = _recommender(args)
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    items = [_external_id(item, rec.interaction_matrix.items.is_str) for item in args.item]
    rec.interaction_matrix.items.rows(items, what="item")  # unknown items: exit 3, as similar and explain
    if not rec.fallbacks:  # as recommend and explain: an unknown user needs a fallback ranker
        rec.interaction_matrix.users.rows([user], what="user")
    predictions = rec.predict([user] * len(items), items)
    sources = predictions.source_names().tolist()
    values = predictions.values.tolist()
    rows = [{"item": i, "rating": v, "source": s} for i, v, s in zip(items, values, sources, strict=True)]
    if fmt == "json":
        emit(json.dumps({"user": user, "predictions": rows}) + "\n", args.output)
    elif fmt == "jsonl":
        emit("".join(json.dumps({"user": user, **row}) + "\n" for row in rows), args.output)
    elif fmt == "csv":  # quoted as CSV needs (ids may hold commas or quotes), as recommend's
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["user", "item", "rating", "source"])
        writer.writerows([user, r["item"], repr(r["rating"]), r["source"]] for r in rows)
        emit(out.getvalue(), args.output)
    else:
        lines = [f"user {user}:\n", f"{'item':<12}  {'rating':>8}  source\n"]
        lines += [f"{r['item']!s:<12}  {r['rating']:>8.4f}  {r['source']}\n" for r in rows]
        emit("".join(lines), args.output)
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    fmt = _format(args)
    if fmt in ("csv", "jsonl"):
        msg = f"--format {fmt}: explain prints a table or JSON (--format json)"
        raise ConfigError(msg)
    check_output(args.output, _read_from(args), _inputs(args))
    rec = _recommender(args)
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    item = _external_id(args.item, rec.interaction_matrix.items.is_str)
    explanation = rec.explain(user, item)
    if fmt == "json":
        emit(json.dumps(explanation.to_dict()) + "\n", args.output)
        return EXIT_OK
    lines = [
        f"user {explanation.user}, item {explanation.item}: score {explanation.score:.6g} "
        f"from {explanation.source} ({explanation.reason})\n"
    ]
    if explanation.contributions:
        kind = (explanation.neighbour_kind or "neighbour").rstrip("s")
        lines.append(f"{kind:<12}  {'similarity':>10}  {'value':>8}  contribution\n")
        for c in explanation.contributions:
            lines.append(f"{c.neighbour!s:<12}  {c.similarity:>10.6g}  {c.value:>8.6g}  {c.contribution:.6g}\n")
    emit("".join(lines), args.output)
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    fmt = _format(args)
    users_file = getattr(args, "users_file", None)
    if args.command == "recommend" and args.ratings is not None and args.history is None:
        msg = f"--ratings {short_repr(args.ratings)}: gives the values of --history items; use it with --history"
        raise ConfigError(msg)
    if args.command == "recommend" and args.column is not None and users_file is None:
        msg = f"--column {short_repr(args.column)}: names the users' column of --users-file; use it with --users-file"
        raise ConfigError(msg)
    if args.command == "recommend" and args.history is not None:
        _history(args, True)  # check the numbers of --ratings before the work of fitting
        for option, given in (
            ("--include-seen", args.exclude_seen is False),
            ("--exclude-seen", args.exclude_seen),
            ("--fill-short", args.fill_short),
        ):
            if given:
                msg = f"{option}: applies to training users (--user, --users-file), not to a --history"
                raise ConfigError(msg)
    check_output(args.output, _read_from(args), _inputs(args))
    ids = read_ids(users_file, args.column) if users_file is not None else None
    rec = _recommender(args)
    if args.command == "recommend" and args.history is not None:
        history = _history(args, rec.interaction_matrix.items.is_str)
        _check_history_items(history, rec.interaction_matrix.items)
        chunks = iter([rec.recommend_history(history, args.n, **_item_sets(args, rec))])
        query_key, label = "new user", "item"
    elif args.command == "recommend":
        str_ids = rec.interaction_matrix.users.is_str
        users = [_external_id(u, str_ids) for u in (ids if ids is not None else [args.user])]
        if not all(isinstance(u, int) for u in users):  # one type per query array: text, matched by value
            users = [str(u) for u in users]
        if len(users) > CHUNK_USERS and not rec.fallbacks:  # an unknown user fails before the first chunk is out
            rec.interaction_matrix.users.rows(users, what="user")
        options = {**_item_sets(args, rec), "exclude_seen": args.exclude_seen, "fill_short": args.fill_short}
        chunks = (
            rec.recommend(users[i : i + CHUNK_USERS], args.n, **options) for i in range(0, len(users), CHUNK_USERS)
        )
        query_key, label = "user", "item"
    else:
        item = _external_id(args.item, rec.interaction_matrix.items.is_str)
        chunks = iter([rec.similar_items([item], args.n, **_item_sets(args, rec))])
        query_key, label = "item", "item"
    key = query_key.replace(" ", "_")
    array = fmt == "json" and ids is not None  # many users: one JSON document, an array (jsonl: a line each)
    with open_output(args.output) as write:
        for position, lists in enumerate(chunks):
            rows = list(ranked_rows(lists, key, label))
            if array:
                write(("[\n" if position == 0 else ",\n") + ",\n".join(json.dumps(row) for row in rows))
            else:
                write(_lists_text(rows, fmt, query_key, label, header=position == 0))
        if array:
            write("\n]\n")
    return EXIT_OK


def _lists_text(rows: list[dict[str, Any]], fmt: str, query_key: str, label: str, *, header: bool) -> str:
    """Return ranked lists as the text of `fmt`; ``header=False`` for a later chunk (no CSV header)."""
    key = query_key.replace(" ", "_")
    if fmt in ("csv", "jsonl"):
        return render(rows, fmt, key, label, header=header)
    if fmt == "json":
        return "".join(json.dumps(row) + "\n" for row in rows)
    lines = []
    for row in rows:
        source, reason = row["source"], row["reason"]
        lines.append(f"{query_key} {row[key]} ({source or 'nothing to recommend'}{'; ' + reason if reason else ''}):\n")
        lines.append(f"{'rank':>4}  {label:<12}  score\n")
        for rank, entry in enumerate(row["items"], start=1):
            lines.append(f"{rank:>4}  {entry[label]!s:<12}  {entry['score']:.6g}\n")
    return "".join(lines)


def _item_sets(args: argparse.Namespace, rec: Any) -> dict[str, list[str | int] | None]:
    """Return ``--exclude`` and ``--candidates`` as the API's ``exclude`` and ``candidates``, typed as the item ids.

    Each id is converted as ``--item`` is (an int where the model's ids are ints); an id that
    can't be one of the model's is unknown to it, so ignored and counted in the list's reason.
    """
    str_ids = rec.interaction_matrix.items.is_str
    return {
        key: None if values is None else [_external_id(text, str_ids) for text in values]
        for key, values in (("exclude", args.exclude), ("candidates", args.candidates))
    }


def _history(args: argparse.Namespace, str_ids: bool) -> dict[str | int, float]:
    """Return ``--history`` (and ``--ratings``) as ``{item: value}``; a repeated item's values add up, as in the API."""
    items = [_external_id(text, str_ids) for text in args.history]  # parsed by --history's IDS type
    values = [1.0] * len(items) if args.ratings is None else _history_ratings(args.ratings, len(items))
    history: dict[str | int, float] = {}
    for item, value in zip(items, values, strict=True):
        history[item] = history.get(item, 0.0) + value
    return history


def _history_ratings(ratings: str, n_items: int) -> list[float]:
    """Return ``--ratings`` as numbers, one for each of the `n_items` of ``--history``."""
    try:
        values = [plain_number(text) for text in ratings.split(",")]
    except ValueError as exc:
        msg = f"--ratings {short_repr(ratings)}: values must be numbers"
        raise ConfigError(msg) from exc
    for text, value in zip(ratings.split(","), values, strict=True):
        if not abs(value) <= MAX_HISTORY_VALUE:  # also NaN
            msg = (
                f"--ratings {short_repr(text.strip())}: values must be finite numbers of magnitude at most "
                f"{MAX_HISTORY_VALUE:g}, on the scale of the training data's values"
            )
            raise ConfigError(msg)
    if len(values) != n_items:
        msg = f"--ratings has {len(values)} values for {n_items} items of --history"
        raise ConfigError(msg)
    return values


def _check_history_items(history: dict[str | int, float], index: Any) -> None:
    """Refuse a ``--history`` naming no training item (exit 3); warn about the unknown ones of a mixed one."""
    ids = list(history)
    if not ids:
        msg = "--history names no item; give the new user's items, comma-separated (e.g. 12,57,3)"
        raise ConfigError(msg)
    rows = index.rows(ids, missing="mark")
    unknown = [item for item, row in zip(ids, rows.tolist(), strict=True) if row < 0]
    if not unknown:
        return
    shown = ", ".join(short_repr(item) for item in unknown[:5]) + (
        f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
    )
    if len(unknown) == len(ids):
        msg = f"--history: no item is in the training data (unknown item {shown}); give items the run file's data has"
        raise DataError(msg)
    _print(
        f"warning: --history: {len(unknown)} of {len(ids)} items are not in the training data and are ignored: {shown}",
        file=sys.stderr,
    )


def _external_id(text: str, str_ids: bool) -> str | int:
    """Return a command-line id as the data's id type: an int where the ids are ints."""
    if not str_ids:
        number = whole_number(text)  # not int(): it reads '0_5' and non-ASCII digits as numbers
        return text if number is None else number  # text: not an id of this data; the recommender says so
    return text
