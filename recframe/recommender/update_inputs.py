"""What an update is given, checked: the training events, the new events, the ids to forget, the result.

``Recommender.update`` and ``forget`` (:mod:`.updating`) check their input here before anything
changes, so that bad input leaves the model as it was, and check what a matrix builder's
``update`` returns: only ids the change allows, never a forgotten one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import IdArray, IdIndex, IntArray, InteractionMatrix, Interactions, as_query_ids
from recframe.errors import DataError, PluginError, RecframeError, RepeatedPairError, short_repr
from recframe.interfaces import EventChange
from recframe.recommender.entry_passes import in_table, table_positions
from recframe.recommender.fitted_state import _Fitted

COLUMNS = frozenset({"user", "item", "rating", "value", "timestamp"})
"""The columns an update may have (as the data a ``fit`` takes)."""


def training_data(
    fitted: _Fitted, what: str, consequence: str = "so an update could not equal a refit; fit it again"
) -> Interactions:
    """Return the training events of `fitted`, or say why there are none: `what` fails, with `consequence`."""
    if fitted.interactions is None:
        msg = (
            f"can't {what}: this model was saved without its training data (save(..., training_data=False)), "
            f"{consequence}"
        )
        raise RecframeError(msg)
    return fitted.interactions


def check_updated_ids(result: InteractionMatrix, previous: InteractionMatrix, change: EventChange, who: str) -> None:
    """Raise :class:`PluginError` naming `who` unless an updated matrix's ids are those the change allows.

    Every id must be in the previous matrix or among the added events, and none may be a
    removed one (a forgotten id must not survive an update).
    """
    for axis in ("users", "items"):
        ids, before = getattr(result, axis).ids, getattr(previous, axis)
        if ids.dtype.kind != before.ids.dtype.kind:
            msg = (
                f"{who} updated the matrix to {axis[:-1]} ids of dtype {ids.dtype}, but the model's are "
                f"{before.ids.dtype}; the matrix's ids must be those of the interactions"
            )
            raise PluginError(msg)
        unknown = ids[before.rows(ids, missing="mark") < 0]
        if change.added is not None and len(unknown):  # the few new ids among the added events (no sort of these)
            unknown = unknown[~np.isin(unknown, getattr(change.added, axis))]
        removed = getattr(change, f"removed_{axis}")
        forgotten = ids[members(ids, removed)] if removed is not None else ids[:0]
        for bad, forgot in ((unknown, False), (forgotten, True)):
            if len(bad):
                named = f"{axis[:-1]} {'id' if len(bad) == 1 else 'ids'}"
                what = f"forgotten {named}" if forgot else f"{named} not in the interactions"
                msg = (
                    f"{who} updated the matrix with {len(bad)} {what} "
                    f"(e.g. {short_repr(bad[:5].tolist())}); its rows and columns must be the interactions' {axis}"
                )
                raise PluginError(msg)


def update_events(data: object, base: Interactions) -> Interactions:
    """Return the update's events, checked against the training data's columns and id kinds."""
    names: Any = data if isinstance(data, Mapping) else getattr(data, "columns", None)
    if names is not None and (isinstance(data, Mapping) or hasattr(data, "to_numpy")):
        unknown = sorted(str(name) for name in names if str(name) not in COLUMNS)
        if unknown:
            msg = f"update: unknown column(s) {short_repr(unknown)}; {_columns_of(base)}"
            raise DataError(msg)
        if {"rating", "value"} <= {str(name) for name in names}:
            msg = "update: both a 'rating' and a 'value' column; give the values in one of them"
            raise DataError(msg)
    try:
        new = Interactions.from_any(data)
    except DataError as exc:
        msg = f"update: {exc}"
        raise DataError(msg) from exc
    if len(new) == 0:
        msg = "update: there are no interactions in the update"
        raise DataError(msg)
    for axis in ("users", "items"):
        have, got = getattr(base, axis).dtype.kind == "U", getattr(new, axis).dtype.kind == "U"
        if have != got:
            kind = {True: "text", False: "integers"}
            example = short_repr(getattr(new, axis)[0].item())
            msg = (
                f"update: {axis[:-1]} ids are {kind[got]} (e.g. {example}) but the model's are {kind[have]}; "
                f"give {axis[:-1]} ids of the same kind"
            )
            raise DataError(msg)
    for column, name in (("values", "ratings"), ("timestamps", "timestamps")):
        have, got = getattr(base, column) is not None, getattr(new, column) is not None
        if have != got:
            where = "the model's training data has" if have else "the update has"
            other = "the update has none" if have else "the model's training data has none"
            fix = f"give each event a {name[:-1]}" if have else f"leave the {name[:-1]} column out of the update"
            msg = f"update: {where} {name} but {other}; an update has the same columns as the training data: {fix}"
            raise DataError(msg)
    return new


def repeated_in_update(error: RepeatedPairError, trained: int, added: int) -> DataError:
    """Say where an update's repeated pair is (twice in the update, or also in the training data) and what to do.

    The matrix builder refuses repeated pairs (``duplicates: error``) and names the pair; its
    events' positions in the joined data (`trained` training events, then `added` new ones)
    tell which events they are. An error whose positions are not both there comes back as it
    is.
    """
    if len(error.events) != 2 or not 0 <= error.events[0] < error.events[1] < trained + added:
        return error
    first, second = error.events
    pair = f"user {error.user!r} and item {error.item!r}"
    refused = "the model's matrix builder refuses a repeated pair (matrix.duplicates is error)"
    if first >= trained:
        where = f"{pair} occur twice in the update (its events {first - trained + 1} and {second - trained + 1})"
        fix = "give each pair once"
    elif second >= trained:
        where = f"{pair} are in the training data already (the update's event {second - trained + 1})"
        fix = "leave the pair out of the update"
    else:
        return error
    return DataError(f"update: {where}; {refused}: {fix}, or refit with another matrix.duplicates")


def _columns_of(base: Interactions) -> str:
    """Return which columns an update of a model trained on `base` has (as its training data)."""
    names = ["user", "item"]
    if base.values is not None:
        names.append("rating")
    if base.timestamps is not None:
        names.append("timestamp")
    also = " ('value' may stand for 'rating')" if base.values is not None else ""
    return f"an update of this model has the columns {names}{also}, as its training data"


def forget_ids(ids: object, index: IdIndex, column: IdArray, name: str, *, allow_empty: bool = False) -> IdArray:
    """Return the distinct ids to forget, each one checked to be among the training events' (`column`).

    An empty list is an error unless `allow_empty` (the other axis's ids are checked for that).

    Looked up in the model's matrix `index` of that axis: a built matrix's ids are among the
    events (a builder may drop events, never invent ids: :func:`~recframe.interfaces.checks.check_matrix_ids`),
    so only the ids the matrix lacks are looked for among the events here, in one pass over
    them. The forget's worker finds every id's events anyway, and an id it finds none of (one
    a plugin's incremental update kept in its matrix) fails the forget then, as here
    (:meth:`~recframe.recommender.pending_events.PendingEvents.absent`).

    Raises
    ------
    DataError
        If no id is given, the ids are of the other kind, or some are not in `column` (the
        message lists them; nothing is forgotten).
    """
    what = name[:-1]
    given = as_query_ids(ids, what)
    if given.dtype.kind not in "iuU" and len(given):
        huge = next((i for i in given.tolist() if isinstance(i, int) and not -(2**63) <= i < 2**63), None)
        if huge is not None:  # numpy keeps it as an object: not the other kind of id, but one no model holds
            msg = (
                f"forget: {what} id {huge} is outside the 64-bit integer range, so no model holds it; "
                "nothing was forgotten"
            )
        else:
            msg = f"forget: {what} ids must be all integers or all text; nothing was forgotten"
        raise DataError(msg)
    wanted = np.unique(given)
    if len(wanted) == 0:
        if allow_empty:
            return column[:0]
        msg = f"forget: no {name} given"
        raise DataError(msg)
    if (wanted.dtype.kind == "U") != (column.dtype.kind == "U"):
        kinds = ("text", "integers") if wanted.dtype.kind == "U" else ("integers", "text")
        msg = f"forget: {what} ids are {kinds[0]} but the model's are {kinds[1]}; nothing was forgotten"
        raise DataError(msg)
    try:
        elsewhere = wanted[index.rows(wanted, missing="mark") < 0]
    except DataError:  # ids no index of this kind can hold (unsigned beyond the 64-bit range): not in the events
        elsewhere = wanted
    missing = np.setdiff1d(elsewhere, column[members(column, elsewhere)]) if len(elsewhere) else elsewhere
    if len(missing):
        raise not_in_training_data(missing, name)
    return wanted


class UnknownIdsError(DataError):
    """A forget refused for ids that no training event has: a :class:`~recframe.DataError` that says which.

    Attributes
    ----------
    missing : ndarray
        The unknown ids, sorted.
    name : {"users", "items"}
        Which axis they are ids of.
    """

    def __init__(self, missing: IdArray, name: str) -> None:
        what = name[:-1] if len(missing) == 1 else name
        super().__init__(
            f"forget: {len(missing)} {what} not in the training data: {short_repr(missing.tolist())}; "
            "nothing was forgotten"
        )
        self.missing = missing
        self.name = name

    def __reduce__(self) -> tuple[type[UnknownIdsError], tuple[IdArray, str]]:
        """Pickle by the ids, as the message is made from them (an exception otherwise pickles its message)."""
        return type(self), (self.missing, self.name)


def not_in_training_data(missing: IdArray, name: str) -> UnknownIdsError:
    """Return the error of a forget given `missing` ids (of ``users`` or ``items``, `name`) that no event has."""
    return UnknownIdsError(missing, name)


TABLE_SPAN = 1 << 24
"""Integer ids spanning at most this many values are looked up in a table (one pass, no search)."""


def members(values: np.ndarray, sorted_ids: np.ndarray) -> npt.NDArray[np.bool_]:
    """Return whether each of `values` is among `sorted_ids` (sorted, distinct).

    Integer ids of a narrow span (at most :data:`TABLE_SPAN`) are looked up in a table of that
    span, in ``O(n)`` (a forget looks for the ids its matrix lacks this way); others by binary search,
    in ``O(n log m)``.
    """
    if len(sorted_ids) == 0:
        return np.zeros(len(values), dtype=bool)
    if _tabled(values, sorted_ids):
        return in_table(values, sorted_ids)
    found = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return np.asarray(sorted_ids[found] == values)


def positions_of(values: np.ndarray, sorted_ids: np.ndarray) -> IntArray:
    """Return the positions of `values` that are among `sorted_ids` (sorted, distinct), in increasing order.

    As ``flatnonzero(members(values, sorted_ids))``; integer ids of a narrow span take one
    compiled sequential pass that writes only the positions (a forget's worker thread finds the
    forgotten events this way, beside the update's kernels).
    """
    if len(sorted_ids) == 0:
        return np.empty(0, dtype=np.int64)
    if _tabled(values, sorted_ids):
        found = table_positions(values, sorted_ids)
        if found is not None:
            return found
    return np.flatnonzero(members(values, sorted_ids))


def _tabled(values: np.ndarray, sorted_ids: np.ndarray) -> bool:
    """Return whether `values` are looked up in a table of `sorted_ids` (integers spanning up to :data:`TABLE_SPAN`)."""
    return values.dtype.kind == sorted_ids.dtype.kind == "i" and int(sorted_ids[-1]) - int(sorted_ids[0]) < TABLE_SPAN
