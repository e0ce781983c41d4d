"""The ``synthetic`` source: seeded, offline interactions with realistic structure."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt

from recframe import ComponentConfig, DataSource, Interactions


class SyntheticConfig(ComponentConfig):
    """Parameters of :class:`SyntheticDataSource`."""

    n_users: int = Field(2000, gt=0, le=10_000_000)
    """Number of users generated."""
    n_items: int = Field(800, gt=0, le=10_000_000)
    """Number of items generated."""
    n_groups: PositiveInt = 10
    """Number of latent taste groups; each user and each item belongs to one."""
    mean_interactions: float = Field(40.0, gt=0.0, le=100_000)
    """Median number of interactions drawn per user (activity is log-normal around it)."""
    activity_sigma: float = Field(0.8, ge=0.0)
    """Spread of the log-normal user activity; 0 gives every user the same activity."""
    min_interactions: int = Field(5, gt=0, le=100_000)
    """Fewest interactions drawn for any user."""
    popularity_exponent: float = Field(1.0, ge=0.0, le=10.0)
    """Zipf exponent of item popularity: item of popularity rank r is drawn with weight r^-exponent."""
    group_affinity: float = Field(0.7, ge=0.0, le=1.0)
    """Probability that an interaction is drawn from the user's own taste group."""
    start_time: NonNegativeInt = 1_577_836_800
    """Earliest timestamp, in Unix seconds (default 2020-01-01)."""
    time_span_days: PositiveFloat = 365.0
    """Timestamps fall uniformly within this many days after ``start_time``."""
    seed: NonNegativeInt | None = None
    """Seed of the generator; by default the run's ``seed``."""


class SyntheticDataSource(DataSource):
    """Generate realistic explicit-feedback interactions, seeded and offline.

    Item popularity follows a power law, user activity is log-normal, and users and items fall
    into latent taste groups: a user draws most items from their own group, so collaborative
    filtering measurably beats popularity. Ratings are 1-5 (higher within the user's group) and
    timestamps are spread over ``time_span_days``. The same seed gives the same data on every
    machine.
    """

    name = "synthetic"
    Config = SyntheticConfig
    config: SyntheticConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Generate the interactions."""
        c = self.config
        if c.seed is not None:
            rng = np.random.default_rng(c.seed)
        n_groups = min(c.n_groups, c.n_items)
        user_group = rng.integers(n_groups, size=c.n_users)
        item_group = rng.permutation(np.arange(c.n_items) % n_groups)
        popularity = (rng.permutation(c.n_items) + 1.0) ** -c.popularity_exponent

        activity = rng.lognormal(math.log(c.mean_interactions), c.activity_sigma, size=c.n_users)
        counts = np.clip(np.rint(activity), c.min_interactions, max(c.min_interactions, c.n_items // 2))
        draw_user = np.repeat(np.arange(c.n_users), counts.astype(np.int64))
        n_draws = len(draw_user)

        global_cdf = np.cumsum(popularity) / popularity.sum()
        global_cdf[-1] = 1.0
        global_pick = np.searchsorted(global_cdf, rng.random(n_draws), side="right")
        group_pick = _draw_within_groups(item_group, popularity, user_group[draw_user], rng)
        in_group = rng.random(n_draws) < c.group_affinity
        draw_item = np.where(in_group, group_pick, np.minimum(global_pick, c.n_items - 1))

        # keep each (user, item) pair once, at its first draw
        _, first = np.unique(draw_user * c.n_items + draw_item, return_index=True)
        first.sort()
        users, items = draw_user[first], draw_item[first]

        user_bias = rng.normal(0.0, 0.4, size=c.n_users)
        item_quality = rng.normal(0.0, 0.4, size=c.n_items)
        liked = item_group[items] == user_group[users]
        noise = rng.normal(0.0, 0.6, size=len(users))
        raw = 2.7 + 1.3 * liked + user_bias[users] + item_quality[items] + noise
        ratings = np.clip(np.rint(raw), 1, 5)
        span = c.time_span_days * 86_400.0
        timestamps = c.start_time + np.floor(rng.random(len(users)) * span)

        order = np.lexsort((items, timestamps, users))
        return Interactions(users[order], items[order], ratings[order], timestamps[order])


def _draw_within_groups(
    item_group: np.ndarray, popularity: np.ndarray, groups: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one item per entry of `groups`, from that group's items, weighted by popularity.

    Items are laid out group by group with the key ``group + within-group CDF``, so a single
    ``searchsorted`` of ``group + uniform`` samples every draw at once.
    """
    order = np.argsort(item_group, kind="stable")
    sorted_groups = item_group[order]
    weights = popularity[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    totals = np.add.reduceat(weights, starts)
    cumulative = np.cumsum(weights)
    before = np.repeat(cumulative[starts] - weights[starts], np.diff(np.r_[starts, len(weights)]))
    within = (cumulative - before) / np.repeat(totals, np.diff(np.r_[starts, len(weights)]))
    ends = np.r_[starts[1:], len(weights)] - 1
    within[ends] = 1.0
    keys = sorted_groups + within
    picks = np.searchsorted(keys, groups + rng.random(len(groups)), side="right")
    return np.asarray(order[np.minimum(picks, len(order) - 1)])
