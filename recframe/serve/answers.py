"""The answers of the service: query a :class:`ServedModel` and shape the result as JSON values.

These functions do the work of the endpoints without the web framework, so that each request
is one call into the recommender and one pass over its arrays (``tolist`` once, no per-item
lookups). Errors come out as :class:`~recframe.serve.errors.ApiError` naming the field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.errors import RecframeError
from recframe.results import RankedLists
from recframe.serve.errors import ApiError, from_recframe
from recframe.serve.model import ServedModel
from recframe.serve.requests import MAX_ANSWER_IDS


def call_options(model: ServedModel, method: str, given: dict[str, Any]) -> dict[str, Any]:
    """Return the call-time options given (not ``None``), as keyword arguments of `method`.

    Item ids in ``exclude`` and ``candidates`` must already have the model's id type.

    Raises
    ------
    ApiError
        400 naming the option if the model's `method` does not take it: an option is never
        silently ignored.
    """
    kwargs = {name: value for name, value in given.items() if value is not None}
    accepted = model.options.get(method, frozenset())
    for name in kwargs:
        if name not in accepted:
            msg = f"{name}: not supported by this model's {method}() (this recframe accepts: "
            msg += (", ".join(sorted(accepted)) or "no call-time options") + ")"
            raise ApiError(400, msg, name)
    return kwargs


def _unknown(index: Any, ids: npt.NDArray[Any], what: str, field: str) -> None:
    """Raise 404 naming the first few ids of `ids` not in `index`."""
    rows = index.rows(ids, missing="mark")
    if (rows >= 0).all():
        return
    missing = ids[rows < 0].tolist()
    shown = ", ".join(repr(x) for x in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    raise ApiError(404, f"unknown {what} {shown}; not in the training data", field)


def lists_json(lists: RankedLists, query_key: str, entry_key: str) -> list[dict[str, Any]]:
    """Return one ``{query_key: id, entry_key: [ids], "scores": [...], "source", "reason"}`` per list."""
    lengths = lists.lengths.tolist()
    ids = lists.ids.tolist()
    scores = lists.ranked.scores.tolist()
    queries = lists.queries.tolist()
    sources = lists.sources.tolist()
    reasons = [""] * len(queries) if lists.reasons is None else lists.reasons.tolist()
    return [
        {
            query_key: queries[i],
            entry_key: ids[i][:length],
            "scores": scores[i][:length],
            "source": sources[i],
            "reason": reasons[i],
        }
        for i, length in enumerate(lengths)
    ]


def recommend(
    model: ServedModel, users: npt.NDArray[Any], n: int | None, options: dict[str, Any], field: str
) -> list[dict[str, Any]]:
    """Return the recommendations of `users` (already of the model's id type).

    Raises
    ------
    ApiError
        404 for an unknown user when the model has no fallback ranker; 400 for an option the
        model can't apply.
    """
    rec = model.recommender
    kwargs = call_options(model, "recommend", options)
    n = model.default_n if n is None else n
    _answer_size(len(users), n, field)
    if not rec.fallbacks:
        _unknown(rec.interaction_matrix.users, users, "user", field)
    try:
        lists = rec.recommend(users, n, **kwargs)
    except (RecframeError, TypeError, ValueError) as exc:
        raise from_recframe(exc, field) from exc
    return lists_json(lists, "user", "items")


def similar(model: ServedModel, axis: str, ids: npt.NDArray[Any], n: int, field: str) -> list[dict[str, Any]]:
    """Return the most similar items (``axis="items"``) or users of each of `ids`.

    Raises
    ------
    ApiError
        404 for an id not in the training data.
    """
    rec = model.recommender
    _answer_size(len(ids), n, field)
    index = rec.interaction_matrix.items if axis == "items" else rec.interaction_matrix.users
    _unknown(index, ids, axis[:-1], field)
    try:
        lists = rec.similar_items(ids, n) if axis == "items" else rec.similar_users(ids, n)
    except (RecframeError, TypeError, ValueError) as exc:
        raise from_recframe(exc, field) from exc
    return lists_json(lists, axis[:-1], axis)


def _answer_size(queries: int, n: int, field: str) -> None:
    """Refuse (413) an answer of more than :data:`~recframe.serve.requests.MAX_ANSWER_IDS` ids."""
    if queries * n > MAX_ANSWER_IDS:
        msg = (
            f"{field}: {queries:,} lists of {n:,} would be {queries * n:,} ids, over the {MAX_ANSWER_IDS:,} one answer "
            "may hold; ask for fewer at a time, or a smaller n"
        )
        raise ApiError(413, msg, field)


def explain(model: ServedModel, user: Any, item: Any) -> dict[str, Any]:
    """Return why `item` scores what it does for `user` (see ``Recommender.explain``).

    Raises
    ------
    ApiError
        404 for an unknown item, or an unknown user without a fallback ranker.
    """
    rec = model.recommender
    _unknown(rec.interaction_matrix.items, np.asarray([item]), "item", "item")
    if not rec.fallbacks:
        _unknown(rec.interaction_matrix.users, np.asarray([user]), "user", "user")
    try:
        return rec.explain(user, item).to_dict()
    except (RecframeError, TypeError, ValueError) as exc:
        raise from_recframe(exc, "item") from exc


def predict(model: ServedModel, users: npt.NDArray[Any], items: npt.NDArray[Any]) -> list[dict[str, Any]]:
    """Return the predicted rating of each (``users[i]``, ``items[i]``) pair.

    As ``recframe predict``: an unknown item is 404, and so is an unknown user without a
    fallback ranker; a ranker that can't predict ratings is 400.
    """
    rec = model.recommender
    _unknown(rec.interaction_matrix.items, items, "item", "items")
    if not rec.fallbacks:
        _unknown(rec.interaction_matrix.users, users, "user", "users")
    try:
        predictions = rec.predict(users, items)
    except (RecframeError, TypeError, ValueError) as exc:
        raise from_recframe(exc, "items") from exc
    values = [None if math.isnan(v) else v for v in predictions.values.tolist()]
    return [
        {"user": u, "item": i, "rating": v, "source": s}
        for u, i, v, s in zip(users.tolist(), items.tolist(), values, predictions.source_names().tolist(), strict=True)
    ]
