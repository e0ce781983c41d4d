"""The plugin registry: built-in components plus those of installed ``recframe`` entry points.

:meth:`PluginRegistry.from_environment` builds one (nothing happens at import time). Components
are looked up by ``(kind, name)``; a name nobody registered gets a "did you mean" message, and
one whose plugin failed to import says which package to fix.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import inspect
import io
import json
import logging
import math
import os
import re
import sys
import typing
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import pluggy

from recframe import hookspecs, interfaces
from recframe._version import __version__
from recframe.errors import ConfigError, PluginError, PluginLoadWarning, RecframeWarning, short_repr
from recframe.interfaces import KINDS, Component, ComponentConfig

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "recframe"
DISABLE_ENV = "RECFRAME_DISABLE_PLUGINS"

BUILTIN_MODULES: tuple[str, ...] = (
    "recframe.builtin.data_sources",
    "recframe.builtin.filters",
    "recframe.builtin.matrix_builders",
    "recframe.builtin.similarity",
    "recframe.builtin.rankers",
    "recframe.builtin.splitters",
    "recframe.builtin.metrics",
)
"""Built-in plugin modules, registered in this order before any entry point is loaded. They are
imported by name, so that nothing in the core imports :mod:`recframe.builtin` (the built-ins
import the public API, as any plugin does)."""

_C = TypeVar("_C", bound=Component)


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
        Whether it loaded, failed to import or to register (and was disabled), or was disabled
        by ``RECFRAME_DISABLE_PLUGINS``.
    error : str
        Why a failed plugin was disabled, else ``""``.
    offered : tuple of str
        For a plugin that failed to register: the names of the components it offered, so that
        a config asking for one of them is told which package to fix.
    failed_step : {"import", "register"}
        What a failed plugin failed to do.
    disabled_by : str
        For a blocked plugin: the name in ``RECFRAME_DISABLE_PLUGINS`` that matched it (its
        entry-point name or its distribution's).
    """

    name: str
    package: str
    version: str
    status: Literal["ok", "failed", "blocked"] = "ok"
    error: str = ""
    offered: tuple[str, ...] = ()
    failed_step: Literal["import", "register"] = "import"
    disabled_by: str = ""

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
            with plugin_output_to_stderr():
                try:
                    plugin = ep.load()
                except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() is broken too
                    self._disable(PluginInfo(ep.name, package, version, "failed", f"{type(exc).__name__}: {exc}"))
                    continue
                try:
                    self.register(plugin, name=ep.name, package=package, version=version)
                except _RegistrationError as exc:
                    error = f"{exc.reason}; {exc.hint}" if exc.hint else exc.reason
                    info = PluginInfo(ep.name, package, version, "failed", error, exc.offered, "register")
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
                if returned is None:
                    continue
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
        base = kind_config(cls)
        if not issubclass(cls.Config, base):
            fields = ", ".join(base.model_fields) or "none"
            reason = (
                f"registered {kind} {name!r} ({cls.__name__}) whose Config {cls.Config.__name__} does not "
                f"derive from {base.__name__}, the base config of every {kind} (fields the engine reads: "
                f"{fields})"
            )
            given = cls.Config
            if given.__module__ == "recframe" or given.__module__.startswith("recframe."):  # one of ours, as it is
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
            hint = "uninstall or disable one of them"
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
                if plugin.status == "blocked":
                    return (
                        f"{shown} comes from {plugin.package}, which is disabled by {DISABLE_ENV}; "
                        f"remove {short_repr(plugin.disabled_by or plugin.name)} from it to use {shown}"
                    )
                return (
                    f"{shown} needs {plugin.package}, which failed to {plugin.failed_step}: {plugin.error}; "
                    f"fix or reinstall {plugin.package}"
                )
        names = self.names(kind)
        msg = f"unknown {kind} {shown}"
        close = difflib.get_close_matches(str(name), names, n=3)
        if close:
            msg += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        msg += f" (registered: {', '.join(names) or 'none'})"
        if failed:
            msg += "; not loaded: " + ", ".join(f"{p.package} ({p.status})" for p in failed)
        return msg


class _RegistrationError(PluginError):
    """A plugin's registration failed; `reason` is the message without the plugin's name."""

    def __init__(self, where: str | None, reason: str, hint: str = "") -> None:
        message = f"{where} {reason}" if where else reason
        super().__init__(f"{message}; {hint}" if hint else message)
        self.reason = reason
        self.hint = hint
        self.offered: tuple[str, ...] = ()


def _check_defaults(cls: type[Component], kind: str, name: str, where: str) -> None:
    """Check that each default of `cls`'s config can be written to ``config.yaml`` and read back.

    Every run writes its resolved config, and a default that can't be written as JSON
    (``nan``, ``inf``, bytes that are not UTF-8, an arbitrary object) makes that file unusable.
    The config is built from its defaults without validation (``model_construct``: a model
    validator may rightly ask the user for a value), and each defaulted field is dumped alone,
    so the message names the field.
    """
    config = cls.Config
    defaulted = {field for field, info in config.model_fields.items() if not info.is_required()}
    if not defaulted:
        return
    instance = config.model_construct()
    for field in sorted(defaulted):
        try:
            if not _finite(instance.model_dump(include={field}, warnings=False)):  # json mode may turn nan to null
                msg = "not a finite number"
                raise ValueError(msg)
            json.dumps(instance.model_dump(mode="json", include={field}, warnings=False), allow_nan=False)
        except Exception as exc:  # nan/inf, undecodable bytes, objects
            shown = short_repr(getattr(instance, field, None))
            reason = (
                f"registered {kind} {name!r} whose Config field {field!r} defaults to {shown}, which can't be "
                f"written to config.yaml ({type(exc).__name__})"
            )
            hint = "use a finite number, UTF-8 text or another JSON-compatible default"
            raise _RegistrationError(where, reason, hint) from exc


def _finite(value: object, depth: int = 0) -> bool:
    """Whether no float in `value` (a dumped config value, nested a few levels) is nan or infinite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > 16:
        return True
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_finite(v, depth + 1) for v in value)
    return True


def kind_config(cls: type[Component]) -> type[ComponentConfig]:
    """Return the config base class every component of `cls`'s kind must derive from.

    It is the type the kind's interface (the class in :mod:`recframe.interfaces` that sets
    ``kind``) declares for ``config``: ``RankerConfig`` for rankers, ``SimilarityConfig`` for
    similarity backends, ``MetricConfig`` for metrics, ``ComponentConfig`` for kinds whose
    engine code reads no parameters.
    """
    for klass in cls.__mro__:
        if "kind" in vars(klass) and klass.__module__ == interfaces.__name__:
            hint = typing.get_type_hints(klass, vars(interfaces)).get("config")
            if inspect.isclass(hint) and issubclass(hint, ComponentConfig):
                return hint
            break
    return ComponentConfig


def describe_component(component: Component | type[Component]) -> str:
    """Name a component that no registry knows, with the package its class comes from.

    A class defined outside any installed distribution (a script, a test) is named by its
    module: ``ranker 'toy' (module __main__)``.
    """
    cls = component if isinstance(component, type) else type(component)
    return f"{cls.kind} {cls.name!r} ({_origin(cls.__module__)})"


@functools.lru_cache(maxsize=256)
def _origin(module: str) -> str:
    top = module.split(".")[0]
    if top == "recframe":
        return f"recframe {__version__}"
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return f"module {module}"


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _likely_provides(plugin: PluginInfo, name: str) -> bool:
    """Guess whether a plugin that did not load provides the component `name`.

    Its components are unknown (it never ran), so this compares names with punctuation
    removed: ``time_decay`` matches the entry point ``timedecay`` and ``recframe-timedecay``.
    """
    wanted = _squash(name)
    return bool(wanted) and wanted in (_squash(plugin.name), _squash(plugin.package).removeprefix("recframe"))


@functools.lru_cache(maxsize=1)
def builtin_registry() -> PluginRegistry:
    """Return the registry of the built-in components only, built once per process.

    The core looks its defaults up here by name (``builtin_registry().get("ranker", "item_cf")``)
    instead of importing :mod:`recframe.builtin`. Don't register anything on it: build your own
    with :meth:`PluginRegistry.from_environment`.
    """
    return PluginRegistry.from_environment(entry_points=False)


def _canonical(name: str) -> str:
    """Return a distribution name normalised as packaging does: ``Recframe_TimeDecay`` is ``recframe-timedecay``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _disabled_names(disabled: object) -> list[str] | None:
    """Return the names of `disabled` as a list (a str is one name), or ``None`` for ``None``."""
    if disabled is None:
        return None
    if isinstance(disabled, str):
        return [disabled]
    if isinstance(disabled, Iterable) and not isinstance(disabled, bytes | bytearray | dict):
        names = list(disabled)
        odd = [name for name in names if not isinstance(name, str)]
        if not odd:
            return names
        msg = f"disabled: plugin names must be str; got {short_repr(odd[0])} ({type(odd[0]).__name__})"
        raise TypeError(msg)
    msg = f"disabled: expected a plugin name or an iterable of names; got {short_repr(disabled)}"
    raise TypeError(msg)


def disable_name(info: PluginInfo) -> str:
    """Return the name to put into ``RECFRAME_DISABLE_PLUGINS`` to skip `info`'s plugin.

    That is its entry-point name, unless the variable can't hold it (it is split on commas and
    stripped of spaces); then its distribution's name, which can hold neither.
    """
    name = info.name
    if name and "," not in name and name == name.strip():
        return name
    return info.package


class _StdoutToStderr(io.TextIOBase):
    """Standard output while plugin code runs: written to the current standard error, never closed."""

    def write(self, text: str) -> int:
        stream = sys.stderr
        if stream is not None and not stream.closed:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        stream = sys.stderr
        if stream is not None and not stream.closed:
            stream.flush()

    def close(self) -> None:
        """Do nothing: a plugin may not close the command's output."""

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return sys.stderr.fileno()


@contextmanager
def plugin_output_to_stderr() -> Iterator[None]:
    """Within the block, send what is printed to standard output to standard error instead.

    Plugin code (an import, a registration hook, a component's ``fit``) must not write into a
    command's output, which may be JSON read by a program: what it prints goes to standard
    error, and ``sys.stdout.close()`` is ignored. ``sys.stdout`` is restored afterwards,
    whatever the plugin set it to.
    """
    saved = sys.stdout
    sys.stdout = typing.cast("typing.TextIO", _StdoutToStderr())
    try:
        yield
    finally:
        sys.stdout = saved
