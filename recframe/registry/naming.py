"""How messages name components and guess which failed plugin provides a component.

A component no registry knows is named by the distribution its class comes from; a name that a
failed plugin probably provides is matched with punctuation removed.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re

from recframe._version import __version__
from recframe.interfaces import Component
from recframe.registry.entries import PluginInfo


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
