"""What a request may say: the JSON bodies, their limits, and ids mapped to the model's id type.

Ids in a JSON body must have the JSON type of the model's ids: numbers for a model with integer
ids, strings for one with string ids. ``"42"`` sent to an integer model is refused (422, naming
the field) rather than guessed, so that a client mixing up types learns it at once instead of
being told the user is unknown. Ids in a URL (``/recommend/42``, ``?item=7``) are text by nature
and are parsed: an integer model needs a decimal integer there.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, model_validator

from recframe.errors import short_repr
from recframe.serve.errors import ApiError

MAX_N = 1000
"""The longest list a request may ask for."""
MAX_BATCH = 10_000
"""The most users (or items, or pairs) one request may name."""
MAX_ANSWER_IDS = 1_000_000
"""The most ids one answer may hold (the batch's length times ``n``). Writing an answer's JSON holds
the interpreter's lock: 10,000 users x 1,000 (about 240 MB) held it for seconds, and ``/health``
waited as long; a million ids (about 24 MB) take a fraction of a second."""
MAX_BODY_BYTES = 2 * 1024 * 1024
"""The largest request body accepted (2 MiB)."""
MAX_ID_LENGTH = 1000
"""The longest string id accepted."""

_INT64 = np.iinfo(np.int64)

Id = StrictInt | Annotated[StrictStr, Field(max_length=MAX_ID_LENGTH)]
"""A user or item id: a JSON integer or string."""
ListLength = Annotated[StrictInt, Field(ge=1, le=MAX_N)]
IdList = Annotated[list[Id], Field(max_length=MAX_BATCH)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QueryOptions(_Body):
    """Call-time options of a recommendation; each is refused (400) if the model can't apply it."""

    n: ListLength | None = None
    """List length, 1 to 1000; the ranker's ``n`` by default."""
    exclude: IdList | None = None
    """Items never recommended in this call."""
    candidates: IdList | None = None
    """Recommend only from these items."""
    exclude_seen: StrictBool | None = None
    """Drop (or keep) the items the user interacted with; the ranker's setting by default."""
    fill_short: StrictBool | None = None
    """Complete a list shorter than ``n`` from the fallback ranker (not only an empty one)."""


class RecommendBody(QueryOptions):
    """``POST /recommend``: one ``user`` (answered like ``GET /recommend/{user}``) or a batch of ``users``."""

    user: Id | None = None
    """One user."""
    users: IdList | None = None
    """Up to 10,000 users; the answer lists them in this order."""

    @model_validator(mode="after")
    def _one_of(self) -> RecommendBody:
        if (self.user is None) == (self.users is None):
            msg = "give either 'user' (one id) or 'users' (a list of ids)"
            raise ValueError(msg)
        return self


class SimilarItemsBody(_Body):
    """``POST /similar/items``: the items whose most similar items to list."""

    items: IdList
    """Up to 10,000 items."""
    n: ListLength = 10
    """Similar items per item, 1 to 1000."""


class SimilarUsersBody(_Body):
    """``POST /similar/users``: the users whose most similar users to list."""

    users: IdList
    """Up to 10,000 users."""
    n: ListLength = 10
    """Similar users per user, 1 to 1000."""


class ExplainBody(_Body):
    """``POST /explain``: why `item` scores what it does for `user`."""

    user: Id
    item: Id


class PredictBody(_Body):
    """``POST /predict``: ratings of `items` by `user`, or of each (``users[i]``, ``items[i]``) pair."""

    user: Id | None = None
    """One user, paired with every item."""
    users: IdList | None = None
    """One user per item."""
    items: IdList

    @model_validator(mode="after")
    def _pairs(self) -> PredictBody:
        if (self.user is None) == (self.users is None):
            msg = "give either 'user' (one id for all items) or 'users' (one id per item)"
            raise ValueError(msg)
        if self.users is not None and len(self.users) != len(self.items):
            msg = f"'users' and 'items' pair up; got {len(self.users)} users and {len(self.items)} items"
            raise ValueError(msg)
        return self


class ReloadBody(_Body):
    """``POST /reload``: the run or model folder to load; the current model's folder by default."""

    path: Annotated[StrictStr, Field(min_length=1, max_length=4096)] | None = None


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A rating or timestamp: a finite JSON number."""
NumberList = Annotated[list[Number], Field(max_length=MAX_BATCH)]


class UpdateBody(_Body):
    """``POST /update``: events to add to the model, one per position of ``users`` and ``items``."""

    users: Annotated[IdList, Field(min_length=1)]
    """The user of each event (up to 10,000 events a request)."""
    items: Annotated[IdList, Field(min_length=1)]
    """The item of each event."""
    ratings: NumberList | None = None
    """The value of each event; required exactly when the model's training data has values."""
    timestamps: NumberList | None = None
    """The time of each event (e.g. Unix seconds); required exactly when the training data has them."""
    save: StrictBool = False
    """Also write the updated model over the served model's folder (atomically)."""

    @model_validator(mode="after")
    def _events(self) -> UpdateBody:
        lengths = {"users": len(self.users), "items": len(self.items)}
        lengths.update({name: len(v) for name in ("ratings", "timestamps") if (v := getattr(self, name)) is not None})
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{n} {name}" for name, n in lengths.items())
            msg = f"one entry per event in each of {', '.join(lengths)}; got {shown}"
            raise ValueError(msg)
        return self


class ForgetBody(_Body):
    """``POST /forget``: users and items whose events the model forgets."""

    users: IdList | None = None
    """Users to forget."""
    items: IdList | None = None
    """Items to forget."""
    save: StrictBool = False
    """Also write the changed model over the served model's folder (atomically)."""

    @model_validator(mode="after")
    def _some(self) -> ForgetBody:
        if not self.users and not self.items:
            msg = "give 'users', 'items' or both (lists of ids to forget)"
            raise ValueError(msg)
        return self


def body_ids(values: list[Any], is_str: bool, field: str) -> npt.NDArray[Any]:
    """Return JSON ids as an array of the model's id type.

    Raises
    ------
    ApiError
        422 naming the entry (``users[3]``) if an id has the other JSON type, or an integer is
        beyond int64.
    """
    if is_str:
        for i, value in enumerate(values):
            if not isinstance(value, str):
                msg = f"{field}[{i}]: {value!r} is a number, but this model's ids are strings; send it as a string"
                raise ApiError(422, msg, f"{field}[{i}]")
            _refuse_nul_ended(value, f"{field}[{i}]")
        return np.asarray(values, dtype=str) if values else np.zeros(0, dtype=str)
    for i, value in enumerate(values):
        if not isinstance(value, int):
            msg = f"{field}[{i}]: {value!r} is a string, but this model's ids are integers; send it as a number"
            raise ApiError(422, msg, f"{field}[{i}]")
        if not _INT64.min <= value <= _INT64.max:
            msg = f"{field}[{i}]: {short_repr(value)} is beyond the 64-bit integer range of ids"
            raise ApiError(422, msg, f"{field}[{i}]")
    return np.asarray(values, dtype=np.int64)


def body_id(value: Any, is_str: bool, field: str) -> Any:
    """Return one JSON id as the model's id type (see :func:`body_ids`)."""
    if is_str and not isinstance(value, str):
        raise ApiError(422, f"{field}: {value!r} is a number, but this model's ids are strings", field)
    if isinstance(value, str):
        _refuse_nul_ended(value, field)
    if not is_str:
        if not isinstance(value, int):
            msg = f"{field}: {value!r} is a string, but this model's ids are integers; send it as a number"
            raise ApiError(422, msg, field)
        if not _INT64.min <= value <= _INT64.max:
            raise ApiError(422, f"{field}: {short_repr(value)} is beyond the 64-bit integer range of ids", field)
    return value


def _refuse_nul_ended(value: str, field: str) -> None:
    """Refuse a text id ending in a NUL character (422), which numpy's text arrays would take for another id."""
    if value.endswith("\x00"):
        msg = f"{field}: {value!r} ends in a NUL character, which an id can't hold (it would be taken for another)"
        raise ApiError(422, msg, field)


def text_id(text: str, is_str: bool, field: str) -> Any:
    """Return an id written in a URL as the model's id type: an int for an integer model.

    An integer is decimal digits with an optional leading ``-``, nothing around them (``" 1"``,
    a newline and ``"+1"`` are not, nor is a ``+`` a query string decodes to a space). Text
    holding U+FFFD, what percent-escapes of bytes that are no UTF-8 decode to, is refused: every
    such id would be the same one.

    Raises
    ------
    ApiError
        422 naming the field if an integer model gets text that is not a 64-bit integer, the
        text is not UTF-8, or it ends in a NUL character.
    """
    if "\ufffd" in text:
        msg = (
            f"{field}: {text[:50]!r} holds U+FFFD, what percent-escapes of bytes that are no UTF-8 decode to; "
            "a URL's ids must be UTF-8 (send an id holding U+FFFD in a POST body)"
        )
        raise ApiError(422, msg, field)
    if is_str:
        if len(text) > MAX_ID_LENGTH:
            raise ApiError(422, f"{field}: ids are at most {MAX_ID_LENGTH} characters", field)
        _refuse_nul_ended(text, field)
        return text
    digits = text[1:] if text[:1] == "-" else text
    if not digits.isascii() or not digits.isdigit():
        raise ApiError(422, f"{field}: {text[:50]!r} is not an integer, and this model's ids are integers", field)
    significant = digits.lstrip("0") or "0"  # leading zeros add nothing (and no int() of thousands of digits)
    if len(significant) > 19:
        shown = ("-" if text[:1] == "-" else "") + significant[:50] + ("..." if len(significant) > 50 else "")
        raise ApiError(422, f"{field}: {shown} is beyond the 64-bit integer range of ids", field)
    value = int(significant) * (-1 if text[:1] == "-" else 1)
    if not _INT64.min <= value <= _INT64.max:
        raise ApiError(422, f"{field}: {value} is beyond the 64-bit integer range of ids", field)
    return value
