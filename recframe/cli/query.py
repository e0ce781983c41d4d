"""``recframe recommend``, ``similar``, ``predict`` and ``explain``: fit a run file and answer one query."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.errors import ConfigError, DataError, short_repr
from recframe.recommender import MAX_HISTORY_VALUE


def _predict(args: argparse.Namespace) -> int:
    from recframe.recommender import Recommender

    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    items = [_external_id(item, rec.interaction_matrix.items.is_str) for item in args.item]
    rec.interaction_matrix.items.rows(items, what="item")  # unknown items: exit 3, as similar and explain
    if not rec.fallbacks:  # as recommend and explain: an unknown user needs a fallback ranker
        rec.interaction_matrix.users.rows([user], what="user")
    predictions = rec.predict([user] * len(items), items)
    sources = predictions.source_names().tolist()
    if args.json:
        values = predictions.values.tolist()
        rows = [{"item": i, "rating": v, "source": s} for i, v, s in zip(items, values, sources, strict=True)]
        _print(json.dumps({"user": user, "predictions": rows}))
        return EXIT_OK
    _print(f"user {user}:")
    _print(f"{'item':<12}  {'rating':>8}  source")
    for item, value, source in zip(items, predictions.values.tolist(), sources, strict=True):
        _print(f"{item!s:<12}  {value:>8.4f}  {source}")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from recframe.recommender import Recommender

    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    user = _external_id(args.user, rec.interaction_matrix.users.is_str)
    item = _external_id(args.item, rec.interaction_matrix.items.is_str)
    explanation = rec.explain(user, item)
    if args.json:
        _print(json.dumps(explanation.to_dict()))
        return EXIT_OK
    _print(f"user {explanation.user}, item {explanation.item}: score {explanation.score:.6g} "
          f"from {explanation.source} ({explanation.reason})")
    if explanation.contributions:
        kind = (explanation.neighbour_kind or "neighbour").rstrip("s")
        _print(f"{kind:<12}  {'similarity':>10}  {'value':>8}  contribution")
        for c in explanation.contributions:
            _print(f"{c.neighbour!s:<12}  {c.similarity:>10.6g}  {c.value:>8.6g}  {c.contribution:.6g}")
    return EXIT_OK


def _query(args: argparse.Namespace) -> int:
    from recframe.recommender import Recommender

    if args.command == "recommend" and args.ratings is not None and args.history is None:
        msg = f"--ratings {short_repr(args.ratings)}: gives the values of --history items; use it with --history"
        raise ConfigError(msg)
    if args.command == "recommend" and args.history is not None:
        _history(args, True)  # check the numbers of --ratings before the work of fitting
    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    rec.fit()
    if args.command == "recommend" and args.history is not None:
        history = _history(args, rec.interaction_matrix.items.is_str)
        _check_history_items(history, rec.interaction_matrix.items)
        lists = rec.recommend_history(history, args.n)
        query_key, label = "new user", "item"
    elif args.command == "recommend":
        user = _external_id(args.user, rec.interaction_matrix.users.is_str)
        lists = rec.recommend([user], args.n)
        query_key, label = "user", "item"
    else:
        item = _external_id(args.item, rec.interaction_matrix.items.is_str)
        lists = rec.similar_items([item], args.n)
        query_key, label = "item", "item"
    query, ids, scores = next(iter(lists))
    source = str(lists.sources[0])
    reason = "" if lists.reasons is None else str(lists.reasons[0])
    if args.json:
        _print(json.dumps({query_key.replace(" ", "_"): query, "source": source, "reason": reason,
                          "items": [{label: i, "score": s} for i, s in zip(ids, scores, strict=True)]}))
        return EXIT_OK
    _print(f"{query_key} {query} ({source or 'nothing to recommend'}{'; ' + reason if reason else ''}):")
    _print(f"{'rank':>4}  {label:<12}  score")
    for rank, (item_id, score) in enumerate(zip(ids, scores, strict=True), start=1):
        _print(f"{rank:>4}  {item_id!s:<12}  {score:.6g}")
    return EXIT_OK


def _history(args: argparse.Namespace, str_ids: bool) -> dict[str | int, float]:
    """Return ``--history`` (and ``--ratings``) as ``{item: value}``."""
    items = [_external_id(text.strip(), str_ids) for text in args.history.split(",") if text.strip()]
    if args.ratings is None:
        return dict.fromkeys(items, 1.0)
    try:
        values = [float(text) for text in args.ratings.split(",")]
    except ValueError as exc:
        msg = f"--ratings {short_repr(args.ratings)}: values must be numbers"
        raise ConfigError(msg) from exc
    for text, value in zip(args.ratings.split(","), values, strict=True):
        if not abs(value) <= MAX_HISTORY_VALUE:  # also NaN
            msg = (
                f"--ratings {short_repr(text.strip())}: values must be finite numbers of magnitude at most "
                f"{MAX_HISTORY_VALUE:g}, on the scale of the training data's values"
            )
            raise ConfigError(msg)
    if len(values) != len(items):
        msg = f"--ratings has {len(values)} values for {len(items)} items of --history"
        raise ConfigError(msg)
    return dict(zip(items, values, strict=True))


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
    _print(f"warning: --history: {len(unknown)} of {len(ids)} items are not in the training data and are ignored: "
          f"{shown}", file=sys.stderr)


def _external_id(text: str, str_ids: bool) -> str | int:
    """Return a command-line id as the data's id type: an int where the ids are ints."""
    if not str_ids:
        try:
            return int(text)
        except ValueError:
            return text  # not an id of this data; the recommender says so
    return text
