"""Built-in splitters: ``random_holdout`` (global) and ``per_user_holdout``."""

from __future__ import annotations

import numpy as np
from pydantic import Field, PositiveInt

from recframe import Component, ComponentConfig, DataError, Interactions, Splitter, hookimpl


class RandomHoldoutConfig(ComponentConfig):
    """Parameters of :class:`RandomHoldoutSplitter`."""

    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of all interactions moved to the test set."""


class RandomHoldoutSplitter(Splitter):
    """Move a random share of all interactions to the test set, regardless of user."""

    name = "random_holdout"
    Config = RandomHoldoutConfig
    config: RandomHoldoutConfig

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order."""
        n = len(interactions)
        n_test = round(n * self.config.test_fraction)
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[:n_test]] = True
        return _apply(interactions, is_test)


class PerUserHoldoutConfig(ComponentConfig):
    """Parameters of :class:`PerUserHoldoutSplitter`."""

    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of each user's interactions moved to the test set (rounded down, at least one)."""
    min_history: PositiveInt = 2
    """Users with fewer interactions than this keep them all in training (and are not tested)."""


class PerUserHoldoutSplitter(Splitter):
    """Hold out a random share of each user's interactions, so every tested user has history.

    A user with ``c >= min_history`` interactions gives ``max(1, floor(c * test_fraction))`` of
    them, chosen at random, to the test set, and always keeps at least one for training.
    """

    name = "per_user_holdout"
    Config = PerUserHoldoutConfig
    config: PerUserHoldoutConfig

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order."""
        _, user_codes, counts = np.unique(interactions.users, return_inverse=True, return_counts=True)
        user_codes = user_codes.reshape(-1)
        order = np.lexsort((rng.random(len(interactions)), user_codes))
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        rank = np.empty(len(interactions), dtype=np.int64)
        rank[order] = np.arange(len(interactions)) - np.repeat(starts, counts)
        n_test = np.maximum(1, np.floor(counts * self.config.test_fraction).astype(np.int64))
        n_test = np.where(counts >= max(2, self.config.min_history), np.minimum(n_test, counts - 1), 0)
        is_test = rank < n_test[user_codes]
        return _apply(interactions, is_test)


def _apply(interactions: Interactions, is_test: np.ndarray) -> tuple[Interactions, Interactions]:
    """Split by the mask, refusing splits that leave either side empty."""
    if not is_test.any():
        msg = f"the split left no test interactions out of {len(interactions)}; use more data or a larger test_fraction"
        raise DataError(msg)
    if is_test.all():
        msg = "the split left no training interactions"
        raise DataError(msg)
    return interactions.take(~is_test), interactions.take(is_test)


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in splitters."""
    return [RandomHoldoutSplitter, PerUserHoldoutSplitter]
