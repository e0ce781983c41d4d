"""Built-in filters: k-core, rating and time bounds, the latest or a capped number of events per user, duplicates.

Their types are ``k_core``, ``rating_threshold``, ``time_window``, ``recent_n``, ``cap_user_events`` and
``duplicates``.

Each keeps a subset of the events in their original order (``duplicates`` also merges repeated
pairs). The engine records what every filter removed; see :func:`recframe.recommender.filtering.apply_filters`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveInt, ValidationInfo, field_validator, model_validator
from typing_extensions import Self

from recframe import Component, ComponentConfig, DataError, Filter, IdIndex, Interactions, hookimpl, short_repr


class KCoreConfig(ComponentConfig):
    """Parameters of :class:`KCoreFilter`."""

    min_user_interactions: PositiveInt = 5
    """Users with fewer distinct items than this are removed."""
    min_item_interactions: PositiveInt = 5
    """Items with fewer distinct users than this are removed."""


class KCoreFilter(Filter):
    """Iterative k-core: remove sparse users and items until every remaining one meets its minimum.

    Removing a user can push an item below its minimum and the other way round, so the two
    passes repeat until nothing changes (a fixed point; the result does not depend on the
    order of removal). Repeated (user, item) events count once.
    """

    name = "k_core"
    Config = KCoreConfig
    config: KCoreConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return the events of the users and items in the k-core."""
        user_index, users = IdIndex.encode(interactions.users)
        item_index, items = IdIndex.encode(interactions.items)
        width = len(item_index)
        pairs = np.unique(users.astype(np.int64) * width + items)
        pair_users, pair_items = pairs // width, pairs % width
        alive = np.ones(len(pairs), dtype=bool)
        while True:
            user_degree = np.bincount(pair_users[alive], minlength=len(user_index))
            item_degree = np.bincount(pair_items[alive], minlength=width)
            keep = alive & (user_degree[pair_users] >= self.config.min_user_interactions)
            keep &= item_degree[pair_items] >= self.config.min_item_interactions
            if np.array_equal(keep, alive):
                break
            alive = keep
        good_users = np.zeros(len(user_index), dtype=bool)
        good_items = np.zeros(width, dtype=bool)
        good_users[pair_users[alive]] = True
        good_items[pair_items[alive]] = True
        return interactions.take(good_users[users] & good_items[items])


class RatingThresholdConfig(ComponentConfig):
    """Parameters of :class:`RatingThresholdFilter`."""

    min_rating: float | None = None
    """Keep events rated at least this."""
    max_rating: float | None = None
    """Keep events rated at most this."""

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        if self.min_rating is None and self.max_rating is None:
            msg = "give min_rating, max_rating or both"
            raise ValueError(msg)
        if self.min_rating is not None and self.max_rating is not None and self.min_rating > self.max_rating:
            msg = f"min_rating ({self.min_rating!r}) is above max_rating ({self.max_rating!r}): no rating is kept"
            raise ValueError(msg)
        return self


class RatingThresholdFilter(Filter):
    """Keep the events whose rating lies within ``[min_rating, max_rating]``."""

    name = "rating_threshold"
    Config = RatingThresholdConfig
    config: RatingThresholdConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return the events rated within the bounds.

        Raises
        ------
        DataError
            If the interactions have no ratings.
        """
        if interactions.values is None:
            msg = "filter 'rating_threshold' needs ratings, but the data has none"
            raise DataError(msg)
        keep = np.ones(len(interactions), dtype=bool)
        if self.config.min_rating is not None:
            keep &= interactions.values >= self.config.min_rating
        if self.config.max_rating is not None:
            keep &= interactions.values <= self.config.max_rating
        return interactions.take(keep)


class TimeWindowConfig(ComponentConfig):
    """Parameters of :class:`TimeWindowFilter`."""

    start: float | None = None
    """Keep events at or after this timestamp (same unit as the data, e.g. Unix seconds)."""
    end: float | None = None
    """Keep events before this timestamp."""
    last_days: float | None = Field(None, gt=0)
    """Instead of ``start``: keep the last this many days before the latest event (timestamps
    in seconds)."""

    @model_validator(mode="after")
    def _some_bound(self) -> Self:
        if self.start is None and self.end is None and self.last_days is None:
            msg = "give start, end or last_days"
            raise ValueError(msg)
        if self.start is not None and self.last_days is not None:
            msg = "give either start or last_days, not both"
            raise ValueError(msg)
        if self.start is not None and self.end is not None and self.start >= self.end:
            msg = f"start ({self.start!r}) is not before end ({self.end!r}): no event is kept"
            raise ValueError(msg)
        return self


class TimeWindowFilter(Filter):
    """Keep the events with ``start <= timestamp < end`` (or within the ``last_days``)."""

    name = "time_window"
    Config = TimeWindowConfig
    config: TimeWindowConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return the events inside the window.

        Raises
        ------
        DataError
            If the interactions have no timestamps.
        """
        times = _timestamps(interactions, self.name)
        c = self.config
        start = c.start if c.last_days is None else float(times.max()) - c.last_days * 86_400
        keep = np.ones(len(interactions), dtype=bool)
        if start is not None:
            keep &= times >= start
        if c.end is not None:
            keep &= times < c.end
        return interactions.take(keep)


class RecentNConfig(ComponentConfig):
    """Parameters of :class:`RecentNFilter`."""

    n: PositiveInt = 100
    """Events kept per user: the latest."""


class RecentNFilter(Filter):
    """Keep each user's ``n`` most recent events (ties in time: the later in the data counts as later)."""

    name = "recent_n"
    Config = RecentNConfig
    config: RecentNConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return each user's latest events.

        Raises
        ------
        DataError
            If the interactions have no timestamps.
        """
        return interactions.take(_latest_per_user(interactions, self.config.n, self.name))


class CapUserEventsConfig(ComponentConfig):
    """Parameters of :class:`CapUserEventsFilter`."""

    max_events: PositiveInt = 500
    """Events kept per user at most; users with fewer keep all theirs."""
    keep: Literal["recent", "random"] = "recent"
    """Which events of a user above the cap stay: the latest (by timestamp, then data order; the
    data needs timestamps), or a uniform random sample drawn with `seed`."""
    seed: NonNegativeInt = 0
    """Seed of the random sample (``keep: random``): the same data and seed keep the same events;
    ``keep: recent`` draws nothing and refuses a seed other than 0."""

    @field_validator("seed", mode="after")
    @classmethod
    def _seed_of_a_sample(cls, seed: int, info: ValidationInfo) -> int:
        if info.data.get("keep") == "recent" and seed != 0:
            msg = f"seed {seed} draws nothing with keep: recent; leave it out, or use keep: random"
            raise ValueError(msg)
        return seed


class CapUserEventsFilter(Filter):
    """Cap every user's events at ``max_events``, keeping the latest or a random sample, in data order.

    The neighbour search of item-item (co-occurrence) work grows with the sum of the squared
    user degrees, so a few users with tens of thousands of events can cost more than all the
    others together; capping them bounds each user's share at ``max_events**2`` while leaving
    the long tail of light users untouched (docs/scaling.md measures the effect on accuracy).
    """

    name = "cap_user_events"
    Config = CapUserEventsConfig
    config: CapUserEventsConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return the events of each user up to the cap.

        Raises
        ------
        DataError
            With ``keep: recent``, if the interactions have no timestamps.
        """
        if self.config.keep == "recent":
            return interactions.take(_latest_per_user(interactions, self.config.max_events, self.name))
        draw = np.random.default_rng(self.config.seed).random(len(interactions))
        rank, _ = _rank_per_user(interactions.users, draw)
        return interactions.take(rank < self.config.max_events)


class DuplicatesConfig(ComponentConfig):
    """Parameters of :class:`DuplicatesFilter`."""

    keep: Literal["first", "last", "error"] = "last"
    """Which event of a repeated (user, item) pair stays: the first or the last (by timestamp,
    then data order), or fail naming the first repeated pair."""


class DuplicatesFilter(Filter):
    """Leave one event per (user, item) pair, by an explicit policy."""

    name = "duplicates"
    Config = DuplicatesConfig
    config: DuplicatesConfig

    def apply(self, interactions: Interactions) -> Interactions:
        """Return the events without repeated pairs.

        Raises
        ------
        DataError
            With ``keep: error``, if a pair repeats.
        """
        _, users = IdIndex.encode(interactions.users)
        item_index, items = IdIndex.encode(interactions.items)
        key = users.astype(np.int64) * len(item_index) + items
        times = interactions.timestamps if interactions.timestamps is not None else np.zeros(len(key))
        order = np.lexsort((np.arange(len(key)), times, key))
        sorted_key = key[order]
        repeated = sorted_key[1:] == sorted_key[:-1]
        if self.config.keep == "error" and repeated.any():
            at = order[1:][repeated].min()  # the pair whose repeat comes first in the data (not in id order)
            user, item = short_repr(interactions.users[at].item()), short_repr(interactions.items[at].item())
            msg = f"user {user} and item {item} occur more than once; set the duplicates filter's keep to first or last"
            raise DataError(msg)
        # the first of each run of equal keys, or the last
        chosen = order[np.r_[True, ~repeated]] if self.config.keep == "first" else order[np.r_[~repeated, True]]
        keep = np.zeros(len(key), dtype=bool)
        keep[chosen] = True
        return interactions.take(keep)


def _rank_per_user(users: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each event's rank among its user's events by `key` (ties: data order), and its user's count."""
    _, codes, counts = np.unique(users, return_inverse=True, return_counts=True)
    codes = codes.reshape(-1)
    order = np.lexsort((np.arange(len(key)), key, codes))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.empty(len(key), dtype=np.int64)
    rank[order] = np.arange(len(key)) - np.repeat(starts, counts)
    return rank, counts[codes]


def _latest_per_user(interactions: Interactions, n: int, who: str) -> np.ndarray:
    """Return the mask of each user's `n` latest events (ties in time: the later in the data is later)."""
    rank, count = _rank_per_user(interactions.users, _timestamps(interactions, who))
    return rank >= count - n


def _timestamps(interactions: Interactions, who: str) -> np.ndarray:
    if interactions.timestamps is None:
        msg = f"filter {who!r} needs timestamps, but the data has none"
        raise DataError(msg)
    return interactions.timestamps


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in filters."""
    return [KCoreFilter, RatingThresholdFilter, TimeWindowFilter, RecentNFilter, CapUserEventsFilter, DuplicatesFilter]
