"""Run a data section's filters in order and account for what each removed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from recframe.checks import calling
from recframe.data import Interactions
from recframe.errors import DataError, PluginError
from recframe.interfaces import Filter


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
    interactions: Interactions, filters: Sequence[Filter], names: Sequence[str]
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

    Raises
    ------
    DataError
        If a filter leaves no interaction (the message names it and what it started from).
    PluginError
        If a filter returns something other than interactions, or adds events.
    """
    steps = []
    for component, who in zip(filters, names, strict=True):
        with calling(who, "apply"):  # what a filter raises by accident names it (see recframe.checks)
            result = component.apply(interactions)
        if not isinstance(result, Interactions):
            msg = f"{who} returned {type(result).__name__}; expected Interactions"
            raise PluginError(msg)
        if len(result) > len(interactions):
            msg = f"{who} returned {len(result)} events from {len(interactions)}; a filter can only remove events"
            raise PluginError(msg)
        steps.append(FilterStep(
            component.name,
            len(interactions), len(result), _distinct(interactions.users), _distinct(result.users),
            _distinct(interactions.items), _distinct(result.items),
        ))
        if len(result) == 0:
            msg = f"{who} removed all {len(interactions)} interactions; loosen its settings"
            raise DataError(msg)
        interactions = result
    return interactions, steps


def _distinct(ids: np.ndarray) -> int:
    return len(np.unique(ids))
