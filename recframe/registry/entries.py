"""What the registry records: each plugin it saw and each component class it filed.

These small frozen records are shared by the registry, its load-error messages and the
``recframe plugins`` listing, so they live apart from the logic that fills them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from recframe.interfaces import Component


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
    hint : str
        For a failed plugin: what to do about it, when the failure says (also the end of
        ``error``); empty where fixing or reinstalling the plugin is the answer.
    """

    name: str
    package: str
    version: str
    status: Literal["ok", "failed", "blocked"] = "ok"
    error: str = ""
    offered: tuple[str, ...] = ()
    failed_step: Literal["import", "register"] = "import"
    disabled_by: str = ""
    hint: str = ""

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
