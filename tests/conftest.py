"""Shared fixtures: a hand-checkable tiny data set, a seeded generator and a built-ins registry.

The suite must not depend on what else is installed: every test sees only recframe's own
first-party plugins (:data:`FIRST_PARTY`) among the ``recframe`` entry points, unless it is
marked ``@pytest.mark.installed_plugins``. Subprocesses get the other plugins' names in
``RECFRAME_DISABLE_PLUGINS``. Setting ``RECFRAME_TEST_INSTALLED_PLUGINS=1`` turns this off (the
test proving that it works runs a part of the suite both ways).
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from recframe import Interactions, PluginRegistry, hookimpl
from recframe.registry import DISABLE_ENV, ENTRY_POINT_GROUP

FIRST_PARTY = frozenset({"recframe", "recframe-gpu", "recframe-ray", "recframe-timedecay"})
"""Distributions whose ``recframe`` entry points the tests load: those built from this repository."""
OPT_OUT_ENV = "RECFRAME_TEST_INSTALLED_PLUGINS"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _first_party(ep: Any) -> bool:
    dist = getattr(ep, "dist", None)
    return dist is not None and _canonical(str(dist.metadata["Name"])) in FIRST_PARTY


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that lets a test see every installed plugin."""
    config.addinivalue_line(
        "markers", "installed_plugins: the test sees every installed recframe plugin, not only first-party ones"
    )


@pytest.fixture(scope="session")
def foreign_plugins() -> tuple[str, ...]:
    """Entry-point names of installed ``recframe`` plugins that this repository does not build."""
    found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return tuple(sorted({ep.name for ep in found if not _first_party(ep)}))


_FIRST_PARTY_FOUND: dict[tuple[Any, tuple[str, ...]], tuple[Any, ...]] = {}
"""The first-party ``recframe`` entry points, by the lookup function and ``sys.path`` they were found with."""


def _first_party_entry_points(real: Any) -> tuple[Any, ...]:
    """Return the first-party ``recframe`` entry points `real` finds, looked up once per ``sys.path``.

    ``importlib.metadata.entry_points`` reads every installed distribution's metadata (33 ms a
    call here), and nearly every test builds a plugin registry, some several: 40 ms of each
    build went to finding and filtering them. Nothing the tests install in this process changes
    them without changing ``sys.path`` or the lookup function (a test's own fake wraps this one).
    """
    key = (real, tuple(sys.path))
    if key not in _FIRST_PARTY_FOUND:
        _FIRST_PARTY_FOUND[key] = tuple(ep for ep in real(group=ENTRY_POINT_GROUP) if _first_party(ep))
    return _FIRST_PARTY_FOUND[key]


@pytest.fixture(autouse=True)
def _only_first_party_plugins(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, foreign_plugins: tuple[str, ...]
) -> Iterator[None]:
    """Hide third-party ``recframe`` entry points from every test not marked ``installed_plugins``."""
    if request.node.get_closest_marker("installed_plugins") or os.environ.get(OPT_OUT_ENV) == "1":
        yield
        return
    real = importlib.metadata.entry_points

    def entry_points(**params: Any) -> Any:
        if params == {"group": ENTRY_POINT_GROUP}:
            return list(_first_party_entry_points(real))
        found = real(**params)
        if params.get("group") != ENTRY_POINT_GROUP:
            return found
        return [ep for ep in found if _first_party(ep)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    if foreign_plugins:  # for subprocesses; in this process they are already hidden
        monkeypatch.setenv(DISABLE_ENV, ",".join(foreign_plugins))
        # so here they name no plugin this process sees: left out of the names a registry is
        # given, not warned about (a warning filter would not do: the CLI shows every RecframeWarning)
        real_load = PluginRegistry.load_entry_points

        def load_entry_points(self: PluginRegistry, disabled: Any = ()) -> None:
            names = [disabled] if isinstance(disabled, str) else disabled
            if isinstance(names, list | tuple) and all(isinstance(name, str) for name in names):
                disabled = [name for name in names if name not in foreign_plugins]
            real_load(self, disabled)

        monkeypatch.setattr(PluginRegistry, "load_entry_points", load_entry_points)
    yield


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


@pytest.fixture
def install_plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return ``install(components, name, package, version)``: a registry of the built-ins plus a fake plugin.

    The plugin is a module whose ``recframe_register_components`` returns `components`,
    registered as distribution `package` `version`; ``PluginRegistry.from_environment`` returns
    that registry for the rest of the test, so the command line (``main([...])``) sees it too.
    """

    def install(components: list[Any], name: str, package: str, version: str = "0.0.1") -> PluginRegistry:
        registry = PluginRegistry.from_environment(entry_points=False)
        module = types.ModuleType(f"recframe_{name}")

        @hookimpl
        def recframe_register_components() -> list[Any]:
            return list(components)

        module.recframe_register_components = recframe_register_components  # type: ignore[attr-defined]
        registry.register(module, name=name, package=package, version=version)
        monkeypatch.setattr(PluginRegistry, "from_environment", lambda *args, **kwargs: registry)
        return registry

    return install
