"""The plugin registry: built-in components plus those of installed ``recframe`` entry points.

:meth:`PluginRegistry.from_environment` builds one (nothing happens at import time). Components
are looked up by ``(kind, name)``; a name nobody registered gets a "did you mean" message, and
one whose plugin failed to import says which package to fix.

One concern a module: :mod:`~recframe.registry.plugin_registry` (the registry and its lookups),
:mod:`~recframe.registry.entries` (what it records), :mod:`~recframe.registry.component_checks`
(what a registered class must be), :mod:`~recframe.registry.naming` (how messages name
components), :mod:`~recframe.registry.disabling` (``RECFRAME_DISABLE_PLUGINS``) and
:mod:`~recframe.registry.plugin_output` (plugin output kept off standard output).
"""

from __future__ import annotations

from recframe.registry.component_checks import kind_config
from recframe.registry.disabling import DISABLE_ENV, disable_name
from recframe.registry.entries import ComponentEntry, PluginInfo
from recframe.registry.naming import describe_component
from recframe.registry.plugin_output import plugin_output_to_stderr
from recframe.registry.plugin_registry import BUILTIN_MODULES, ENTRY_POINT_GROUP, PluginRegistry, builtin_registry

__all__ = [
    "BUILTIN_MODULES",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "ComponentEntry",
    "PluginInfo",
    "PluginRegistry",
    "builtin_registry",
    "describe_component",
    "disable_name",
    "kind_config",
    "plugin_output_to_stderr",
]
