"""``run.json``: a run's provenance (the plugins and libraries it used, its seed, data and timings)."""

from __future__ import annotations

import platform
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from recframe._version import __version__
from recframe.config import ComponentSpec, RunConfig
from recframe.registry import PluginRegistry


def run_record(
    config: RunConfig,
    registry: PluginRegistry,
    fingerprint: str,
    n_interactions: int,
    seconds: float,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """Return the provenance of a run: versions of every plugin used, seed, data fingerprint and timings."""
    return {
        "name": config.name,
        "config_file": config.source,
        "seed": config.seed,
        "recframe_version": __version__,
        "components": components_record(config, registry),
        "libraries": _libraries(),
        "python": platform.python_version(),
        "data_fingerprint": f"sha256:{fingerprint}",
        "n_interactions": n_interactions,
        "timings_s": {k: round(v, 4) for k, v in {**timings, "total": seconds}.items()},
    }


CORE_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pydantic")
"""Libraries every run records the versions of."""

USED_LIBRARIES = ("numba", "pandas", "pyarrow", "ray", "torch")
"""Optional libraries (their modules and distributions share the name) a run records where its process imported them."""


def _libraries() -> dict[str, str]:
    """Return the versions of the core libraries, and of the optional ones this process imported."""
    used = [name for name in USED_LIBRARIES if sys.modules.get(name) is not None]
    return {name: _version(name) for name in (*CORE_LIBRARIES, *used)}


def components_record(config: RunConfig, registry: PluginRegistry) -> dict[str, Any]:
    """Return every plugin a run uses, by its place in the run file, with its distribution and version.

    The places are dotted paths of the run file (``data``, ``data.filters[0]``, ``matrix``,
    ``similarity``, ``ranker``, ``ranker.fallback`` or ``ranker.fallback[1]`` of a chain,
    ``evaluation.split``, ``evaluation.test_data``, ``evaluation.metrics[0]``, ``executor``); each maps to
    ``{"type", "package", "version"}``. Of a sweep, a place whose plugin differs between
    settings maps to the list of its distinct plugins, in grid order.
    """
    configs = [setting for _, setting in config.sweep.settings] if config.sweep is not None else [config]
    merged: dict[str, list[dict[str, str]]] = {}
    for run in configs:
        for place, spec in _component_specs(run):
            entry = registry.entry(spec.kind, spec.type)
            record = {"type": spec.type, "package": entry.plugin.package, "version": entry.plugin.version}
            if record not in merged.setdefault(place, []):
                merged[place].append(record)
    return {place: records[0] if len(records) == 1 else records for place, records in merged.items()}


def _component_specs(config: RunConfig) -> list[tuple[str, ComponentSpec]]:
    """Return each component section of a run file with its dotted path."""
    specs: list[tuple[str, ComponentSpec | None]] = [("data", config.data)]
    specs += [(f"data.filters[{i}]", spec) for i, spec in enumerate(config.data_filters)]
    specs += [("matrix", config.matrix), ("similarity", config.similarity), ("ranker", config.ranker)]
    chain = config.ranker_fallbacks or ((config.ranker_fallback,) if config.ranker_fallback is not None else ())
    if len(chain) == 1:
        specs.append(("ranker.fallback", chain[0]))
    else:
        specs += [(f"ranker.fallback[{i}]", spec) for i, spec in enumerate(chain)]
    if config.evaluation is not None:
        specs += [("evaluation.split", config.evaluation.split), ("evaluation.test_data", config.evaluation.test_data)]
        specs += [(f"evaluation.metrics[{i}]", spec) for i, spec in enumerate(config.evaluation.metrics)]
    specs.append(("executor", config.executor))  # where the work ran
    return [(place, spec) for place, spec in specs if spec is not None]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"
