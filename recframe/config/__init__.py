"""Run files: YAML in, validated component specifications out.

A run file names one plugin per section with ``type:`` and passes that plugin's parameters
beside it. Each section is checked in two steps: ``type`` is looked up in the registry, then the
other keys are validated against that plugin's ``Config``. All errors of a file are collected
and reported together, each as ``file:line: dotted.path: message``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from recframe.config.messages import PathKey, dotted, dotted_key, key_text, pydantic_message, yaml_repr
from recframe.config.model import (
    COMPONENT_SECTIONS,
    DEFAULT_FALLBACK,
    DEFAULT_METRICS,
    DEFAULT_SPLIT,
    DEFAULT_TYPES,
    EVALUATION_KEYS,
    EVALUATION_PARTS,
    RUN_FILE_KEYS,
    RUN_NAME_MAX,
    SECTION_DEFAULTS,
    TOP_LEVEL_KEYS,
    UNSWEPT_KEYS,
    UNSWEPT_PREFIXES,
    UNSWEPT_REASONS,
    ComponentSpec,
    EvaluationSettings,
    EvaluationSpec,
    OutputConfig,
    RunConfig,
    SweepSpec,
    metric_entry,
    run_name_problem,
)
from recframe.config.overrides import apply_overrides, set_dotted
from recframe.config.schema import config_schema
from recframe.config.validation import (
    MAX_SWEEP_SETTINGS,
    component_spec,
    load_component,
    validate_component,
    validate_run,
)
from recframe.config.yaml_source import (
    MAX_CONFIG_BYTES,
    MAX_INT_CHARACTERS,
    MAX_NESTING,
    MAX_VALUES,
    check_yaml_bounds,
    line_index,
    load_yaml_value,
    parse_yaml,
    read_config_text,
    user_path,
    yaml_problem,
)
from recframe.errors import ConfigError
from recframe.registry import PluginRegistry

__all__ = [
    "COMPONENT_SECTIONS",
    "ComponentSpec",
    "DEFAULT_FALLBACK",
    "DEFAULT_METRICS",
    "DEFAULT_SPLIT",
    "DEFAULT_TYPES",
    "EVALUATION_KEYS",
    "EVALUATION_PARTS",
    "EvaluationSettings",
    "EvaluationSpec",
    "MAX_CONFIG_BYTES",
    "MAX_INT_CHARACTERS",
    "MAX_NESTING",
    "MAX_SWEEP_SETTINGS",
    "MAX_VALUES",
    "OutputConfig",
    "PathKey",
    "RUN_FILE_KEYS",
    "RUN_NAME_MAX",
    "RunConfig",
    "SECTION_DEFAULTS",
    "SweepSpec",
    "TOP_LEVEL_KEYS",
    "UNSWEPT_KEYS",
    "UNSWEPT_PREFIXES",
    "UNSWEPT_REASONS",
    "apply_overrides",
    "check_yaml_bounds",
    "component_spec",
    "load_component",
    "config_schema",
    "dotted",
    "dotted_key",
    "key_text",
    "line_index",
    "load_config",
    "load_yaml_value",
    "metric_entry",
    "parse_yaml",
    "pydantic_message",
    "read_config_text",
    "run_name_problem",
    "set_dotted",
    "user_path",
    "validate_component",
    "validate_run",
    "yaml_problem",
    "yaml_repr",
]


def load_config(
    path: str | Path, registry: PluginRegistry, overrides: Sequence[str] = ()
) -> RunConfig:
    """Read, override and validate a run file.

    Parameters
    ----------
    path : str or Path
        The YAML run file.
    registry : PluginRegistry
        Where ``type:`` names are looked up.
    overrides : sequence of str
        ``dotted.key=value`` strings (``--set``), applied before validation; values are parsed
        as YAML scalars.

    Raises
    ------
    ConfigError
        If the file is missing, not a regular file, larger than :data:`MAX_CONFIG_BYTES` or not
        valid YAML, or anything in it is wrong; every problem is listed, each with file, line
        and dotted path.
    """
    path = Path(path)
    text = read_config_text(path)
    raw, lines, duplicates = parse_yaml(text, str(path))
    raw = {} if raw is None else raw
    _refuse_swept_overrides(raw, overrides)
    raw, overridden = apply_overrides(raw, overrides, source=str(path))
    problems = [
        (key, f"duplicate key; it is already set on line {first}") for key, first in duplicates
    ]
    return validate_run(
        raw, registry, source=str(path), lines=lines, overridden=overridden, problems=problems
    )


def _refuse_swept_overrides(raw: Any, overrides: Sequence[str]) -> None:
    """Refuse a ``--set`` of a key the run file's sweep varies: every setting would take the sweep's value.

    The run's ``config.yaml`` would show the ``--set`` value while no setting used it.
    """
    sweep = raw.get("sweep") if isinstance(raw, Mapping) else None
    if not isinstance(sweep, Mapping):
        return
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        for swept in (k for k in sweep if isinstance(k, str)):
            if key == swept or key.startswith(f"{swept}.") or swept.startswith(f"{key}."):
                msg = (
                    f"--set {key}: the sweep varies {swept}, so no setting would use this value; set the sweep "
                    f"instead (the whole grid: --set 'sweep={{{swept}: [...]}}'), or drop the --set"
                )
                raise ConfigError(msg)
