"""The hooks a recframe plugin implements: the one page a plugin author reads.

A plugin is a module (or object) with functions marked ``@hookimpl`` and named after the hooks
below. Third-party plugins are found through the ``recframe`` entry-point group::

    # pyproject.toml of recframe-foo
    [project.entry-points.recframe]
    foo = "recframe_foo"

recframe's own built-in components are registered through these same hooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from recframe.interfaces import Component

hookspec = pluggy.HookspecMarker("recframe")
hookimpl = pluggy.HookimplMarker("recframe")


@hookspec
def recframe_register_components() -> Sequence[type[Component]]:  # type: ignore[empty-body]
    """Return the component classes this plugin provides.

    Each class subclasses one of the interfaces in :mod:`recframe.interfaces` (``DataSource``,
    ``Filter``, ``MatrixBuilder``, ``SimilarityBackend``, ``CandidateRanker``, ``Splitter``,
    ``Metric``, ``Executor``), sets ``name`` (the YAML ``type:``) and ``Config``, and is not
    abstract. ``Config`` derives from its kind's base config, which holds the fields the engine
    reads: ``SimilarityConfig``, ``RankerConfig`` (or ``ScoringConfig``), ``MetricConfig``,
    ``ExecutorConfig``, else ``ComponentConfig``. A ``(kind, name)`` pair already registered by another plugin is an
    error.

    If this hook raises or returns something invalid (``None`` included: a forgotten
    ``return``), an installed plugin is disabled (one
    ``PluginLoadWarning``, listed as ``failed`` by ``recframe plugins``) and none of its
    components is registered; a plugin registered directly with ``PluginRegistry.register``
    gets a ``PluginError`` instead.

    Returns
    -------
    sequence of Component subclasses
        Classes, not instances; unique per ``kind``.

    Examples
    --------
    >>> from recframe import hookimpl
    >>> @hookimpl
    ... def recframe_register_components():
    ...     return [MyMatrixBuilder]
    """
