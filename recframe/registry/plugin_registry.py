"""The :class:`PluginRegistry`: built-ins and ``recframe`` entry points, looked up by ``(kind, name)``.

It loads the built-in modules and the entry-point group (a plugin that fails to load is disabled
with one warning, the others keep working), files the components each plugin registers, and
looks them up with "did you mean" messages. :func:`builtin_registry` is the built-ins-only
registry the core takes its defaults from.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import inspect
import logging
import os
import typing
import warnings
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pluggy

from recframe import hookspecs, interfaces
from recframe._version import __version__
from recframe.errors import ConfigError, PluginError, PluginLoadWarning, RecframeWarning, short_repr
from recframe.interfaces import KINDS, Component, ComponentConfig
from recframe.interfaces.calls import is_builtin
from recframe.registry.component_checks import _check_defaults, _RegistrationError, config_owner
from recframe.registry.disabling import DISABLE_ENV, _canonical, _disabled_names, disable_name
from recframe.registry.entries import ComponentEntry, PluginInfo
from recframe.registry.naming import _likely_provides, describe_component

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "recframe"

BUILTIN_MODULES: tuple[str, ...] = (
    "recframe.builtin.data_sources",
    "recframe.builtin.filters",
    "recframe.builtin.matrix_builders",
    "recframe.builtin.similarity",
    "recframe.builtin.rankers",
    "recframe.builtin.splitters",
    "recframe.builtin.metrics",
    "recframe.builtin.executors",
)
"""Built-in plugin modules, registered in this order before any entry point is loaded. They are
imported by name, so that nothing in the core imports :mod:`recframe.builtin` (the built-ins
import the public API, as any plugin does)."""

_C = TypeVar("_C", bound=Component)


_HOOK_NAMES = tuple(name for name in vars(hookspecs) if name.startswith("recframe_"))
"""The hooks a plugin may implement (:mod:`recframe.hookspecs`)."""


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
    def from_environment(cls, *, entry_points: bool = True, disabled: Iterable[str] | None = None) -> PluginRegistry:
        """Return a registry of the built-ins and, unless told not to, every installed plugin.

        Parameters
        ----------
        entry_points : bool
            Load the ``recframe`` entry-point group.
        disabled : str or iterable of str, optional
            Entry-point or distribution names to skip (a str is one name); by default those in
            ``RECFRAME_DISABLE_PLUGINS`` (comma-separated). A name matching no installed plugin
            is reported with one :class:`~recframe.errors.RecframeWarning`.

        Raises
        ------
        TypeError
            If `disabled` is not a str or an iterable of str.
        PluginError
            If a plugin registers something invalid or a ``(kind, name)`` twice.
        """
        names = _disabled_names(disabled)  # a wrong type fails before anything is imported
        registry = cls()
        for module_name in BUILTIN_MODULES:
            module = importlib.import_module(module_name)
            registry.register(module, name=module_name, package="recframe", version=__version__)
        if entry_points:
            if names is None:
                names = [p.strip() for p in os.environ.get(DISABLE_ENV, "").split(",") if p.strip()]
            registry.load_entry_points(names)
        return registry

    def load_entry_points(self, disabled: str | Iterable[str] = ()) -> None:
        """Import and register every plugin of the ``recframe`` entry-point group.

        A plugin that fails to import, or whose registration fails (its hook raises, returns
        something invalid, or claims a ``(kind, name)`` already taken), is recorded as failed,
        registers none of its components and is reported with one :class:`PluginLoadWarning`;
        the others still load, and only a config asking for one of its components fails. A
        plugin whose entry-point name or distribution name is in `disabled` is recorded as
        blocked and not imported (distribution names match whatever their spelling of ``-``,
        ``_``, ``.`` and case); a name in `disabled` matching no plugin is reported with one
        :class:`~recframe.errors.RecframeWarning`. Plugins load in entry-point name order, so of
        two plugins claiming the same name, the one whose entry point sorts later is disabled.

        While a plugin is imported and registered, what it prints goes to standard error, so it
        can't corrupt a command's output (``--json``), and closing standard output is ignored.
        """
        wanted = _disabled_names(disabled) or []
        unmatched = dict.fromkeys(wanted)
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            if dist is not None:
                package, version = dist.metadata["Name"], dist.version
            else:
                package, version = ep.value.split(":")[0].split(".")[0], "unknown"
            matched = [n for n in wanted if n == ep.name or _canonical(n) == _canonical(package)]
            if matched:
                for name in matched:
                    unmatched.pop(name, None)
                self._pm.set_blocked(ep.name)
                info = PluginInfo(ep.name, package, version, status="blocked", disabled_by=matched[0])
                self._plugins[ep.name] = info
                logger.debug("plugin %r (%s %s) is disabled by %s", ep.name, package, version, DISABLE_ENV)
                continue
            # what a plugin prints goes where the program's output goes: the CLI sends it to
            # standard error around each command (plugin_output_to_stderr); a library never
            # rebinds sys.stdout, which other threads of its host share
            try:
                plugin = ep.load()
            except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() is broken too
                self._disable(PluginInfo(ep.name, package, version, "failed", f"{type(exc).__name__}: {exc}"))
                continue
            try:
                self.register(plugin, name=ep.name, package=package, version=version)
            except _RegistrationError as exc:
                error = f"{exc.reason}; {exc.hint}" if exc.hint else exc.reason
                hint = exc.hint or ""
                info = PluginInfo(ep.name, package, version, "failed", error, exc.offered, "register", hint=hint)
                self._disable(info, exc.reason, exc.hint)
        if unmatched:
            names = [p.name for p in self._plugins.values() if p.package != "recframe"]
            shown = ", ".join(short_repr(n) for n in list(unmatched)[:5]) + (
                f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
            )
            warnings.warn(
                f"{DISABLE_ENV} names no installed plugin: {shown}, ignored; give entry-point or distribution "
                f"names, comma-separated (installed: {', '.join(names) or 'none'})",
                RecframeWarning,
                stacklevel=3,
            )

    def _disable(self, info: PluginInfo, reason: str | None = None, hint: str = "") -> None:
        """Record a third-party plugin that failed to load and warn about it, once."""
        self._plugins[info.name] = info
        warnings.warn(
            f"plugin {info.name!r} ({info}) failed to {info.failed_step} and is disabled: "
            f"{info.error if reason is None else reason}; {hint or f'fix or uninstall {info.package}'}, "
            f"or set {DISABLE_ENV}={disable_name(info)} to skip it",
            PluginLoadWarning,
            stacklevel=3,
        )

    def register(self, plugin: object, *, name: str, package: str, version: str) -> None:
        """Register a plugin object (usually a module) and the components its hook returns.

        Nothing is registered unless every component the plugin returns is valid.

        Called directly (built-ins, tests, embedding code), a failure is fatal: it is a bug in
        the plugin being registered. :meth:`load_entry_points` instead disables a third-party
        plugin that fails here.

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
            raise _RegistrationError(where, f"can't be registered: {exc}") from exc
        if not self._pm.get_hookcallers(plugin):  # pluggy sees only marked functions: say so, don't vanish
            self._pm.unregister(plugin)
            unmarked = [hook for hook in _HOOK_NAMES if callable(getattr(plugin, hook, None))]
            hint = (
                f"mark {unmarked[0]} with @recframe.hookimpl (a hook function without it is not seen)"
                if unmarked
                else "implement recframe_register_components, marked with @recframe.hookimpl"
            )
            raise _RegistrationError(where, "implements no recframe hook, so it registers nothing", hint)
        offered: list[str] = []
        try:
            entries: dict[tuple[str, str], ComponentEntry] = {}
            for impl in self._pm.hook.recframe_register_components.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                try:
                    returned = impl.function()
                    if isinstance(returned, Iterable) and not isinstance(returned, (str, bytes)):
                        returned = list(returned)  # a generator may fail only now
                except (Exception, SystemExit) as exc:
                    reason = f"failed in recframe_register_components: {type(exc).__name__}: {exc}"
                    raise _RegistrationError(where, reason) from exc
                if returned is None:  # pluggy would drop it: say so, don't vanish
                    reason = "returned None from recframe_register_components; expected a list of classes"
                    raise _RegistrationError(
                        where, reason, "return the list of component classes (is `return` missing?)"
                    )
                if not isinstance(returned, list):
                    shown = short_repr(returned)
                    reason = f"returned {shown} from recframe_register_components; expected a list of classes"
                    raise _RegistrationError(where, reason)
                offered += [n for n in (getattr(c, "name", None) for c in returned) if isinstance(n, str) and n]
                for cls in returned:
                    entry = self._check_component(cls, info)
                    if (entry.kind, entry.name) in entries:
                        raise _RegistrationError(where, f"registers {entry.kind} {entry.name!r} twice")
                    entries[(entry.kind, entry.name)] = entry
        except _RegistrationError as exc:
            self._pm.unregister(plugin)
            exc.offered = tuple(offered)
            raise
        except Exception as exc:  # e.g. a class whose attributes raise when read
            self._pm.unregister(plugin)
            failure = _RegistrationError(where, f"failed while being registered: {type(exc).__name__}: {exc}")
            failure.offered = tuple(offered)
            raise failure from exc
        self._plugins[name] = info
        self._components.update(entries)

    def _check_component(self, cls: object, info: PluginInfo) -> ComponentEntry:
        """Check one component class a plugin returned; return its entry if it can be filed."""
        where = f"plugin {info.name!r} ({info})"
        if not (inspect.isclass(cls) and issubclass(cls, Component)):
            raise _RegistrationError(where, f"registered {short_repr(cls)}, which is not a recframe Component subclass")
        if inspect.isabstract(cls):
            missing = ", ".join(sorted(getattr(cls, "__abstractmethods__", ())))
            raise _RegistrationError(where, f"registered {cls.__name__}, which is abstract", f"implement {missing}")
        name = getattr(cls, "name", None)
        kind = getattr(cls, "kind", None)
        if not isinstance(name, str) or not name:
            raise _RegistrationError(where, f"registered {cls.__name__} without a `name`")
        if kind not in KINDS:
            reason = f"registered {cls.__name__} of unknown kind {kind!r}"
            raise _RegistrationError(where, reason, f"expected one of {KINDS}")
        if not (inspect.isclass(cls.Config) and issubclass(cls.Config, ComponentConfig)):
            raise _RegistrationError(where, f"registered {cls.__name__} whose Config is not a ComponentConfig subclass")
        base, owner = config_owner(cls)
        if not issubclass(cls.Config, base):
            fields = ", ".join(base.model_fields) or "none"
            if owner is None or owner.__module__.startswith(f"{interfaces.__name__}."):
                every = f"every {kind}"
            else:  # an engine or built-in base asks for more: name the nearest of recframe's classes
                nearest = next(k for k in cls.__mro__ if is_builtin(k))
                every = f"a {kind} built on {nearest.__name__}"
            reason = (
                f"registered {kind} {name!r} ({cls.__name__}) whose Config {cls.Config.__name__} does not "
                f"derive from {base.__name__}, the base config of {every} (fields the engine reads: "
                f"{fields})"
            )
            given = cls.Config
            if is_builtin(given):  # one of ours, as it is
                hint = f"set Config = {base.__name__} (or a subclass of it) instead of {given.__name__}"
            else:
                parents = ", ".join(b.__name__ for b in given.__bases__)
                hint = f"subclass {base.__name__} instead of {parents}"
            raise _RegistrationError(where, reason, hint)
        _check_defaults(cls, kind, name, where)
        key = (kind, name)
        if key in self._components:
            other = self._components[key].plugin
            reason = (
                f"{kind} {name!r} is registered twice: by {other.package} {other.version} "
                f"and by {info.package} {info.version}"
            )
            if other.package == "recframe":  # a built-in can't be disabled: the plugin must give way
                hint = f"rename the plugin's {kind}, or uninstall it (recframe's own can't be disabled)"
            else:
                hint = f"uninstall or disable one of them ({DISABLE_ENV}={other.name} disables {other.package})"

            raise _RegistrationError(None, reason, hint)
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

    def create(self, kind: str, name: str, base: Callable[..., _C], **params: Any) -> _C:
        """Return a new ``(kind, name)`` component built from `params`, checked to be a `base`.

        Parameters
        ----------
        kind, name : str
            The registered component, e.g. ``("ranker", "item_cf")``.
        base : type
            The interface the component must implement, e.g. :class:`CandidateRanker`.
        **params
            Its config's parameters; the defaults where left out.

        Raises
        ------
        ConfigError
            If nothing is registered as ``(kind, name)``.
        PluginError
            If the registered class does not implement `base`.
        """
        # `base` is typed as a callable, not type[_C]: mypy refuses abstract classes for type[_C]
        component = self.get(kind, name)(**params)
        if isinstance(base, type) and isinstance(component, base):
            return typing.cast("_C", component)
        msg = f"{self.describe(component)} is not a {getattr(base, '__name__', base)}"
        raise PluginError(msg)

    def describe(self, component: Component | type[Component]) -> str:
        """Name a component the way errors do: ``similarity 'sklearn_nn' (recframe 0.1.0)``."""
        cls = component if isinstance(component, type) else type(component)
        entry = self._components.get((cls.kind, cls.name))
        if entry is not None and entry.cls is cls:
            return f"{cls.kind} {cls.name!r} ({entry.plugin})"
        return describe_component(cls)

    def unknown_message(self, kind: str, name: object) -> str:
        """Explain why ``(kind, name)`` is not available and what to do about it."""
        failed = [p for p in self._plugins.values() if p.status != "ok"]
        shown = short_repr(name)  # a name can be any length; the message stays short
        for plugin in failed:
            if str(name) in plugin.offered or _likely_provides(plugin, str(name)):
                return not_loaded_message(plugin, shown)
        names = self.names(kind)
        msg = f"unknown {kind} {shown}"
        close = difflib.get_close_matches(str(name), names, n=3)
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        msg += f" (registered: {', '.join(names) or 'none'})"
        if failed:
            grouped: dict[tuple[str, str], list[str]] = {}
            for plugin in failed:  # one package may have several entry points: once, naming them
                grouped.setdefault((plugin.package, plugin.status), []).append(plugin.name)
            msg += "; not loaded: " + ", ".join(
                f"{package} ({status}{': ' + ', '.join(names) if len(names) > 1 else ''})"
                for (package, status), names in grouped.items()
            )
            if any(plugin.status == "failed" for plugin in failed):
                msg += "; `recframe plugins` says why each failed"
        return msg

    def why_not_loaded(self, package: str, shown: str) -> str | None:
        """Say why `shown` (a component, quoted) of the distribution `package` is missing, if that is installed.

        ``None`` unless a plugin of `package` failed to load or is disabled: then installing it
        again would not help, and the message says what would.
        """
        wanted = _canonical(package)
        plugin = next((p for p in self._plugins.values() if p.status != "ok" and _canonical(p.package) == wanted), None)
        return None if plugin is None else not_loaded_message(plugin, shown)


def not_loaded_message(plugin: PluginInfo, shown: str) -> str:
    """Say why `shown` (a component, quoted) is missing: its installed plugin failed to load, or is disabled."""
    if plugin.status == "blocked":
        return (
            f"{shown} comes from {plugin.package}, which is disabled by {DISABLE_ENV}; "
            f"remove {short_repr(plugin.disabled_by or plugin.name)} from it to use {shown}"
        )
    remedy = "" if plugin.hint else f"; fix or reinstall {plugin.package}"  # a hint in the error says what to do
    return f"{shown} needs {plugin.package}, which failed to {plugin.failed_step}: {plugin.error}{remedy}"


@functools.lru_cache(maxsize=1)
def builtin_registry() -> PluginRegistry:
    """Return the registry of the built-in components only, built once per process.

    The core looks its defaults up here by name (``builtin_registry().get("ranker", "item_cf")``)
    instead of importing :mod:`recframe.builtin`. Don't register anything on it: build your own
    with :meth:`PluginRegistry.from_environment`.
    """
    return PluginRegistry.from_environment(entry_points=False)
