"""The plugin registry: built-in components plus those of installed ``recframe`` entry points.

:meth:`PluginRegistry.from_environment` builds one (nothing happens at import time). Components
are looked up by ``(kind, name)``; a name nobody registered gets a "did you mean" message, and
one whose plugin failed to import says which package to fix.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import logging
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pluggy

from recframe import hookspecs
from recframe._version import __version__
from recframe.builtin import BUILTIN_MODULES
from recframe.errors import ConfigError, PluginError, PluginLoadWarning
from recframe.interfaces import KINDS, Component, ComponentConfig

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "recframe"
DISABLE_ENV = "RECFRAME_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """One registered (or failed) plugin.

    Attributes
    ----------
    name : str
        The plugin's name: its entry-point name, or the module for built-ins.
    package : str
        The distribution that provides it, e.g. ``recframe-timedecay``.
    version : str
        That distribution's version.
    status : {"ok", "failed", "blocked"}
        Whether it loaded, failed to import, or was disabled by ``RECFRAME_DISABLE_PLUGINS``.
    error : str
        The import error of a failed plugin, else ``""``.
    """

    name: str
    package: str
    version: str
    status: Literal["ok", "failed", "blocked"] = "ok"
    error: str = ""

    def __str__(self) -> str:
        """Return ``package version``, the way messages name a plugin."""
        return f"{self.package} {self.version}"


@dataclass(frozen=True)
class ComponentEntry:
    """A registered component class and the plugin it came from."""

    kind: str
    name: str
    cls: type[Component]
    plugin: PluginInfo


class PluginRegistry:
    """Components registered through the ``recframe_register_components`` hook.

    Build it with :meth:`from_environment`; tests build one with ``entry_points=False`` and
    :meth:`register` their own plugin objects.
    """

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
        self._pm.add_hookspecs(hookspecs)
        self._components: dict[tuple[str, str], ComponentEntry] = {}
        self._plugins: dict[str, PluginInfo] = {}

    @classmethod
    def from_environment(
        cls, *, entry_points: bool = True, disabled: Iterable[str] | None = None
    ) -> PluginRegistry:
        """Return a registry of the built-ins and, unless told not to, every installed plugin.

        Parameters
        ----------
        entry_points : bool
            Load the ``recframe`` entry-point group.
        disabled : iterable of str, optional
            Entry-point names to skip; by default those in ``RECFRAME_DISABLE_PLUGINS``
            (comma-separated).

        Raises
        ------
        PluginError
            If a plugin registers something invalid or a ``(kind, name)`` twice.
        """
        registry = cls()
        for module_name in BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            registry.register(module, name=module_name, package="recframe", version=__version__)
        if entry_points:
            if disabled is None:
                disabled = [p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()]
            registry.load_entry_points(set(disabled))
        return registry

    def load_entry_points(self, disabled: set[str]) -> None:
        """Import and register every plugin of the ``recframe`` entry-point group.

        A plugin that fails to import is recorded as failed and reported with one
        :class:`PluginLoadWarning`; the others still load. A plugin whose entry-point name or
        distribution name is in `disabled` is recorded as blocked and not imported.

        Raises
        ------
        PluginError
            If a plugin that imports registers something invalid (see :meth:`register`).
        """
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            if dist is not None:
                package, version = dist.metadata["Name"], dist.version
            else:
                package, version = ep.value.split(":")[0].split(".")[0], "unknown"
            if ep.name in disabled or package in disabled:
                self._pm.set_blocked(ep.name)
                self._plugins[ep.name] = PluginInfo(ep.name, package, version, status="blocked")
                logger.debug("plugin %r (%s %s) is disabled by %s", ep.name, package, version, DISABLE_ENV)
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                self._plugins[ep.name] = PluginInfo(ep.name, package, version, "failed", error)
                warnings.warn(
                    f"plugin {ep.name!r} ({package} {version}) failed to import and is disabled: {error}",
                    PluginLoadWarning,
                    stacklevel=2,
                )
                continue
            self.register(plugin, name=ep.name, package=package, version=version)

    def register(self, plugin: object, *, name: str, package: str, version: str) -> None:
        """Register a plugin object (usually a module) and the components its hook returns.

        Nothing is registered unless every component the plugin returns is valid.

        Raises
        ------
        PluginError
            If the plugin implements an unknown hook, its hook fails or returns something that
            is not a concrete component class, or it registers a ``(kind, name)`` that is
            already taken.
        """
        info = PluginInfo(name, package, version)
        where = f"plugin {name!r} ({info})"
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            msg = f"{where} can't be registered: {exc}"
            raise PluginError(msg) from exc
        try:
            entries: dict[tuple[str, str], ComponentEntry] = {}
            for impl in self._pm.hook.recframe_register_components.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    returned = impl.function()
                except Exception as exc:
                    msg = f"{where} failed in recframe_register_components: {type(exc).__name__}: {exc}"
                    raise PluginError(msg) from exc
                if returned is None:
                    continue
                if isinstance(returned, (str, bytes)) or not isinstance(returned, Iterable):
                    msg = f"{where} returned {returned!r} from recframe_register_components; expected a list of classes"
                    raise PluginError(msg)
                for cls in returned:
                    entry = self._check_component(cls, info)
                    if (entry.kind, entry.name) in entries:
                        msg = f"{where} registers {entry.kind} {entry.name!r} twice"
                        raise PluginError(msg)
                    entries[(entry.kind, entry.name)] = entry
        except PluginError:
            self._pm.unregister(plugin)
            raise
        self._plugins[name] = info
        self._components.update(entries)

    def _check_component(self, cls: object, info: PluginInfo) -> ComponentEntry:
        """Check one component class a plugin returned; return its entry if it can be filed."""
        where = f"plugin {info.name!r} ({info})"
        if not (inspect.isclass(cls) and issubclass(cls, Component)):
            msg = f"{where} registered {cls!r}, which is not a recframe Component subclass"
            raise PluginError(msg)
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            msg = f"{where} registered {cls.__name__}, which is abstract; implement {missing}"
            raise PluginError(msg)
        name = getattr(cls, "name", None)
        kind = getattr(cls, "kind", None)
        if not isinstance(name, str) or not name:
            msg = f"{where} registered {cls.__name__} without a `name`"
            raise PluginError(msg)
        if kind not in KINDS:
            msg = f"{where} registered {cls.__name__} of unknown kind {kind!r}; expected one of {KINDS}"
            raise PluginError(msg)
        if not (inspect.isclass(cls.Config) and issubclass(cls.Config, ComponentConfig)):
            msg = f"{where} registered {cls.__name__} whose Config is not a ComponentConfig subclass"
            raise PluginError(msg)
        key = (kind, name)
        if key in self._components:
            other = self._components[key].plugin
            msg = (
                f"{kind} {name!r} is registered twice: by {other.package} {other.version} "
                f"and by {info.package} {info.version}; uninstall or disable one of them"
            )
            raise PluginError(msg)
        return ComponentEntry(kind, name, cls, info)

    @property
    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, in registration order."""
        return list(self._plugins.values())

    def components(self, kind: str | None = None) -> list[ComponentEntry]:
        """Return the registered components, of one kind or all, sorted by kind and name."""
        entries = [e for (k, _), e in self._components.items() if kind is None or k == kind]
        return sorted(entries, key=lambda e: (KINDS.index(e.kind), e.name))

    def names(self, kind: str) -> list[str]:
        """Return the registered names of one kind, sorted."""
        return [e.name for e in self.components(kind)]

    def entry(self, kind: str, name: str) -> ComponentEntry:
        """Return the entry of ``(kind, name)``.

        Raises
        ------
        ConfigError
            If nothing is registered under that name; the message suggests close names, or
            names the failed plugin that would have provided it.
        """
        try:
            return self._components[(kind, name)]
        except KeyError:
            raise ConfigError(self.unknown_message(kind, name)) from None

    def get(self, kind: str, name: str) -> type[Component]:
        """Return the component class registered as ``(kind, name)`` (see :meth:`entry`)."""
        return self.entry(kind, name).cls

    def describe(self, component: Component | type[Component]) -> str:
        """Name a component the way errors do: ``similarity 'sklearn_nn' (recframe 0.1.0)``."""
        cls = component if isinstance(component, type) else type(component)
        entry = self._components.get((cls.kind, cls.name))
        origin = f" ({entry.plugin})" if entry is not None and entry.cls is cls else ""
        return f"{cls.kind} {cls.name!r}{origin}"

    def unknown_message(self, kind: str, name: object) -> str:
        """Explain why ``(kind, name)`` is not available and what to do about it."""
        failed = [p for p in self._plugins.values() if p.status != "ok"]
        for plugin in failed:
            if _likely_provides(plugin, str(name)):
                if plugin.status == "blocked":
                    return (
                        f"{name!r} comes from {plugin.package}, which is disabled by {DISABLE_ENV}; "
                        f"remove {plugin.name!r} from it to use {name!r}"
                    )
                return (
                    f"{name!r} needs {plugin.package}, which failed to import: {plugin.error}; "
                    f"fix or reinstall {plugin.package}"
                )
        names = self.names(kind)
        msg = f"unknown {kind} {name!r}"
        close = difflib.get_close_matches(str(name), names, n=3)
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        msg += f" (registered: {', '.join(names) or 'none'})"
        if failed:
            msg += "; not loaded: " + ", ".join(f"{p.package} ({p.status})" for p in failed)
        return msg


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _likely_provides(plugin: PluginInfo, name: str) -> bool:
    """Guess whether a plugin that did not load provides the component `name`.

    Its components are unknown (it never ran), so this compares names with punctuation
    removed: ``time_decay`` matches the entry point ``timedecay`` and ``recframe-timedecay``.
    """
    wanted = _squash(name)
    return bool(wanted) and wanted in (_squash(plugin.name), _squash(plugin.package).removeprefix("recframe"))
