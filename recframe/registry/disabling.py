"""Disabling plugins by name: ``RECFRAME_DISABLE_PLUGINS`` and the names it accepts.

A plugin is disabled by its entry-point name or its distribution's name (spelt any way packaging
accepts); these helpers normalise and check the names given and say which name skips a plugin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from recframe.errors import short_repr
from recframe.registry.entries import PluginInfo

DISABLE_ENV = "RECFRAME_DISABLE_PLUGINS"


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
