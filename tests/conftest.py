"""Shared fixtures: a hand-checkable tiny data set, a seeded generator and a built-ins registry."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import Interactions, PluginRegistry


@pytest.fixture
def tiny_interactions() -> Interactions:
    """Five users x six items with ratings, small enough to check every number by hand.

    ::

               i1  i2  i3  i4  i5  i6
        u1      5   3   .   1   .   .
        u2      4   .   .   1   .   2
        u3      1   1   .   5   .   .
        u4      .   .   5   4   .   .
        u5      .   1   .   .   4   .
    """
    users = ["u1", "u1", "u1", "u2", "u2", "u2", "u3", "u3", "u3", "u4", "u4", "u5", "u5"]
    items = ["i1", "i2", "i4", "i1", "i4", "i6", "i1", "i2", "i4", "i3", "i4", "i2", "i5"]
    ratings = [5, 3, 1, 4, 1, 2, 1, 1, 5, 5, 4, 1, 4]
    times = np.arange(len(users), dtype=np.float64) * 100
    return Interactions(np.array(users), np.array(items), np.array(ratings, dtype=float), times)


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator."""
    return np.random.default_rng(12345)


@pytest.fixture
def registry() -> PluginRegistry:
    """A fresh registry of the built-ins only (no installed entry points)."""
    return PluginRegistry.from_environment(entry_points=False)
