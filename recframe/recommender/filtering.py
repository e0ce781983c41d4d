"""Run a data section's filters in order and account for what each removed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import IdIndex, Interactions
from recframe.errors import DataError, PluginError, short_repr, short_text
from recframe.interfaces import Filter
from recframe.interfaces.calls import calling, checked_interactions


@dataclass(frozen=True)
class FilterStep:
    """What one filter did: the events, users and items before and after it."""

    filter: str
    events_before: int
    events_after: int
    users_before: int
    users_after: int
    items_before: int
    items_after: int

    def removed(self) -> dict[str, int]:
        """Return the events, users and items the filter removed."""
        return {
            "events": self.events_before - self.events_after,
            "users": self.users_before - self.users_after,
            "items": self.items_before - self.items_after,
        }

    def to_dict(self) -> dict[str, object]:
        """Return the step as JSON-ready values, with what it removed."""
        return {**vars(self), "removed": self.removed()}


def apply_filters(
    interactions: Interactions,
    filters: Sequence[Filter],
    names: Sequence[str],
    builtins: Sequence[bool] | None = None,
) -> tuple[Interactions, list[FilterStep]]:
    """Apply `filters` in order; return the result and one :class:`FilterStep` per filter.

    Parameters
    ----------
    interactions : Interactions
        What the data source loaded.
    filters : sequence of Filter
        The filters, in order.
    names : sequence of str
        How to name each filter in messages (kind, name and package).
    builtins : sequence of bool, optional
        Whether each filter is a built-in one (default: none is); see
        :func:`recframe.interfaces.calls.checked_interactions`. A built-in's result is not hashed against
        its input (:func:`check_subset`): the contract kit checks that in the test suite.

    Raises
    ------
    DataError
        If a filter leaves no interaction (the message names it and what it started from).
    PluginError
        If a filter returns something other than interactions, or events that are not among its
        input (added, changed or repeated), or writes to its input in place.
    """
    steps = []
    flags = [False] * len(filters) if builtins is None else list(builtins)
    for component, who, builtin in zip(filters, names, flags, strict=True):
        given = _read_only(interactions)  # an in-place write raises, and is blamed on the filter below
        try:
            # what a filter raises by accident, or invalid interactions it builds, name it (recframe.interfaces.calls)
            with checked_interactions(who, builtin=builtin), calling(who, "apply"):
                result = component.apply(given)
        except PluginError as exc:
            if isinstance(exc.__cause__, ValueError) and "read-only" in str(exc.__cause__):
                msg = (
                    f"{who} modified its input in place ({short_text(str(exc.__cause__))}); a filter must "
                    "not change the interactions it is given: return interactions.take(mask) instead"
                )
                raise PluginError(msg) from exc
            raise
        result = _checked_result(result, who)
        if result is given:
            result = interactions
        if len(result) > len(interactions):
            msg = f"{who} returned {len(result)} events from {len(interactions)}; a filter can only remove events"
            raise PluginError(msg)
        if result is not interactions and not builtin:
            # ~1.5 s per filter on 5M events: built-ins are held to it by the contract kit in the
            # test suite (which calls this without `builtins`), so a run checks third parties only
            check_subset(interactions, result, who)
        steps.append(
            FilterStep(
                component.name,
                len(interactions),
                len(result),
                _distinct(interactions.users),
                _distinct(result.users),
                _distinct(interactions.items),
                _distinct(result.items),
            )
        )
        if len(result) == 0:
            msg = f"{who} removed all {len(interactions)} interactions; loosen its settings"
            raise DataError(msg)
        interactions = result
    return interactions, steps


def _distinct(ids: np.ndarray) -> int:
    return len(np.unique(ids))


def _read_only(interactions: Interactions) -> Interactions:
    """Return `interactions` over read-only views of its columns, so that a write in place raises."""
    view = Interactions.__new__(Interactions)
    for name in Interactions.COLUMNS:
        column = getattr(interactions, name)
        if column is not None:
            column = column.view()
            column.flags.writeable = False
        setattr(view, name, column)
    return view


def _checked_result(result: object, who: str) -> Interactions:
    """Return what a filter returned as plain, well-formed :class:`Interactions`, or raise naming it."""
    if not isinstance(result, Interactions):
        msg = f"{who} returned {type(result).__name__}; expected Interactions"
        raise PluginError(msg)
    columns: list[Any] = [getattr(result, name, None) for name in Interactions.COLUMNS]
    users, items = columns[:2]
    well_formed = (
        type(result) is Interactions
        and isinstance(users, np.ndarray)
        and isinstance(items, np.ndarray)
        and all(isinstance(c, np.ndarray) and c.shape == (len(users),) for c in columns if c is not None)
    )
    if well_formed:
        return result
    try:  # a subclass or reassigned columns: rebuild, so len() and the columns can't disagree
        return Interactions(*columns)
    except (DataError, TypeError, ValueError) as exc:
        msg = f"{who} returned malformed interactions: {short_text(str(exc))}"
        raise PluginError(msg) from exc


def check_subset(before: Interactions, after: Interactions, who: str) -> None:
    """Raise unless every event of `after` is an event of `before`, none more often than there.

    An event is its (user, item, value, timestamp) row; the order may differ. The check is
    vectorised (about 3 s per ten million events on one core): each row is mixed into a 64-bit
    hash (string ids by their code among the distinct ids of both parts), and the multisets of
    hashes are compared after sorting. Rows that differ pass only if their hashes collide, with
    odds of about n² / 2⁶⁵ for n events.

    Raises
    ------
    PluginError
        Naming `who`, the first event of `after` that is not in `before` (or is repeated) and how
        many such events there are.
    """
    hashes = np.zeros(len(before) + len(after), dtype=np.uint64)
    for number, name in enumerate(Interactions.COLUMNS):
        old, new = getattr(before, name), getattr(after, name)
        if (old is None) != (new is None):
            state = "dropped" if new is None else "added"
            msg = (
                f"{who} {state} the {name} column; a filter may only remove events, keeping every column "
                "as it is: return interactions.take(mask)"
            )
            raise PluginError(msg)
        if old is None:
            continue
        if old.dtype.kind != new.dtype.kind:
            msg = (
                f"{who} returned {name} of dtype {new.dtype}, from {old.dtype}; a filter may only remove events, "
                "never change their ids or values: return interactions.take(mask)"
            )
            raise PluginError(msg)
        both = np.concatenate([old, new])
        if both.dtype.kind == "U":
            bits = IdIndex.encode(both)[1].view(np.uint64)
        elif both.dtype.kind == "f":
            bits = (both.astype(np.float64) + 0.0).view(np.uint64)  # -0.0 and 0.0 are one value
        else:
            bits = both.astype(np.int64).view(np.uint64)
        with np.errstate(over="ignore"):  # wrapping multiplication is the point of the hash
            hashes = _mix(hashes ^ (bits * _SALTS[number]))
    old_hashes, new_hashes = hashes[: len(before)], hashes[len(before) :]
    old_sorted, new_sorted = np.sort(old_hashes), np.sort(new_hashes)  # sorted queries: cache-friendly
    available = np.searchsorted(old_sorted, new_sorted, "right") - np.searchsorted(old_sorted, new_sorted, "left")
    if np.all(_group_rank(new_sorted) < available):
        return
    # the failure path: find the first offending row in the filter's own order
    distinct, counts = np.unique(old_hashes, return_counts=True)
    at = np.minimum(np.searchsorted(distinct, new_hashes), len(distinct) - 1)  # `before` is never empty here
    present = distinct[at] == new_hashes
    allowed = np.where(present, counts[at], 0)
    order = np.argsort(new_hashes, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = _group_rank(new_hashes[order])
    bad = np.flatnonzero(rank >= allowed)
    first = int(bad[0])
    event = ", ".join(
        f"{name[:-1]} {short_repr(column[first].item())}"
        for name in Interactions.COLUMNS
        if (column := getattr(after, name)) is not None
    )
    how = "an event more often than its input has it" if present[first] else "an event that is not among its input"
    msg = (
        f"{who} returned {how}, at row {first} ({event}), {bad.size} such events in all; "
        "a filter may only remove events, never add, change or repeat one: return interactions.take(mask)"
    )
    raise PluginError(msg)


_SALTS = tuple(
    np.uint64(salt) for salt in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93)
)
"""One odd multiplier per column (a bijection of 64-bit words), so that equal bits in two columns differ."""


def _mix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Return the splitmix64 finaliser of each entry: a bijection of 64-bit words that spreads every bit."""
    with np.errstate(over="ignore"):  # multiplication modulo 2**64, wrapping on purpose
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _group_rank(ordered: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Return, for each entry of the sorted `ordered`, how many earlier entries equal it."""
    positions = np.arange(len(ordered), dtype=np.int64)
    starts = np.where(np.r_[True, ordered[1:] != ordered[:-1]], positions, 0)
    return positions - np.maximum.accumulate(starts)
