"""Checks on the component classes a plugin registers, and the error that rejects a plugin.

A plugin's components are checked before any of them is filed: a concrete
:class:`~recframe.interfaces.Component` subclass with a ``name``, a known ``kind``, a ``Config``
deriving from its kind's base config, and defaults that can be written to ``config.yaml``.
"""

from __future__ import annotations

import inspect
import json
import math
import sys
import weakref
from typing import Annotated, Any

import pydantic

from recframe import interfaces
from recframe.errors import PluginError, short_repr
from recframe.interfaces import Component, ComponentConfig
from recframe.interfaces.calls import is_builtin


class _RegistrationError(PluginError):
    """A plugin's registration failed; `reason` is the message without the plugin's name."""

    def __init__(self, where: str | None, reason: str, hint: str = "") -> None:
        message = f"{where} {reason}" if where else reason
        super().__init__(f"{message}; {hint}" if hint else message)
        self.reason = reason
        self.hint = hint
        self.offered: tuple[str, ...] = ()


_DEFAULTS_PASSED: weakref.WeakKeyDictionary[type, type] = weakref.WeakKeyDictionary()
"""Component classes whose defaults passed :func:`_check_defaults`, each with the ``Config`` checked.

A class's defaults don't change while it lives, and every registry (one per command, one per
``Recommender`` built from a config) registers the same classes again: checking them once per
process takes about 10 ms off each registry, a third of its cost.
"""


def _check_defaults(cls: type[Component], kind: str, name: str, where: str) -> None:
    """Check that each default of `cls`'s config can be written to ``config.yaml`` and read back.

    Every run writes its resolved config, and a default that can't be written as JSON
    (``nan``, ``inf``, bytes that are not UTF-8, an arbitrary object) makes that file unusable.
    The config is built from its defaults without validation (``model_construct``: a model
    validator may rightly ask the user for a value), and each defaulted field is dumped alone,
    so the message names the field. A class that passed with the same ``Config`` is not checked again.
    """
    config = cls.Config
    if _DEFAULTS_PASSED.get(cls) is config:
        return
    _check_each_default(cls, kind, name, where)
    _DEFAULTS_PASSED[cls] = config


def _check_each_default(cls: type[Component], kind: str, name: str, where: str) -> None:
    """Check every defaulted field of `cls`'s config (:func:`_check_defaults`), raising for the first bad one."""
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
        if is_builtin(cls):  # the built-ins' are checked by the test suite, not at each start
            continue
        problem = refused_default(config, field, getattr(instance, field, None))
        if problem is not None:  # a run would write it to config.yaml, which then can't be run again
            shown = short_repr(getattr(instance, field, None))
            reason = f"registered {kind} {name!r} whose Config field {field!r} defaults to {shown}, which it refuses"
            raise _RegistrationError(where, f"{reason} ({problem})", "give the field a default it accepts")


def refused_default(config: type[ComponentConfig], field: str, value: object) -> str | None:
    """Return why the field `field` of `config` refuses its own default `value` (pydantic does not check), or None.

    Only the field's type and constraints are checked (``PositiveInt``, ``Field(gt=0)``), not
    the model's validators, which may rightly need other fields' values.
    """
    info = config.model_fields[field]
    try:
        checked: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        pydantic.TypeAdapter(checked).validate_python(value)
    except pydantic.ValidationError as exc:
        errors = exc.errors(include_url=False)
        return str(errors[0].get("msg", exc)) if errors else str(exc)
    except Exception:  # a type pydantic can't build a validator for alone: the model's own validation decides
        return None
    return None


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

    It is the type the nearest of recframe's own base classes of `cls` declares for ``config``
    (what they read of it). The kind's interface (the class in :mod:`recframe.interfaces` that
    sets ``kind``) declares ``RankerConfig`` for rankers, ``SimilarityConfig`` for similarity
    backends, ``MetricConfig`` for metrics, ``ComponentConfig`` for kinds whose engine code reads
    no parameters; a base class of the engine or a built-in may ask for more (a
    :class:`~recframe.engine.ScoringRanker` reads a ``ScoringConfig``).
    """
    return config_owner(cls)[0]


def config_owner(cls: type[Component]) -> tuple[type[ComponentConfig], type | None]:
    """Return :func:`kind_config`'s class, and the recframe base class that declares it (None: none does)."""
    for klass in cls.__mro__[1:]:  # what its bases read: a class's own annotation is its own affair
        if not is_builtin(klass) or "config" not in vars(klass).get("__annotations__", {}):
            if "kind" in vars(klass) and klass.__module__.startswith(f"{interfaces.__name__}."):
                break
            continue
        hint = _declared_config(klass)
        if inspect.isclass(hint) and issubclass(hint, ComponentConfig):
            return hint, klass
        break
    return ComponentConfig, None


def _declared_config(klass: type) -> object:
    """Return the type `klass` declares for ``config`` (its annotation evaluated in its module), or None."""
    declared = vars(klass)["__annotations__"]["config"]
    if not isinstance(declared, str):
        return declared
    try:
        return eval(declared, vars(sys.modules[klass.__module__]))
    except Exception:
        return None
