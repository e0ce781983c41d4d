"""Fixtures of recframe-gpu's tests: a registry of the built-ins and this plugin only."""

from __future__ import annotations

import pytest
import recframe_gpu

from recframe import PluginRegistry


@pytest.fixture
def registry() -> PluginRegistry:
    """The built-ins and recframe-gpu, registered directly: other installed plugins can't disturb the tests."""
    registry = PluginRegistry.from_environment(entry_points=False)
    registry.register(recframe_gpu, name="gpu", package="recframe-gpu", version="0.1.0")
    return registry
