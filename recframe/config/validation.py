"""Validating a parsed run file against the registry's plugins, every error with its location."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recframe.config.error_collector import _add_pydantic_errors, _Errors
from recframe.config.flow_text import yaml_text
from recframe.config.messages import (
    PathKey,
    _unknown_key_message,
    key_text,
    yaml_repr,
)
from recframe.config.model import (
    COMPONENT_SECTIONS,
    DEFAULT_FALLBACK,
    DEFAULT_METRICS,
    DEFAULT_SPLIT,
    DEFAULT_TYPES,
    EVALUATION_KEYS,
    TOP_LEVEL_KEYS,
    UNSWEPT_REASONS,
    ComponentSpec,
    EvaluationSettings,
    EvaluationSpec,
    OutputConfig,
    RunConfig,
    SweepSpec,
    default_run_name,
    metric_entry,
    metric_entry_problem,
    run_name_problem,
)
from recframe.config.overrides import set_dotted
from recframe.config.yaml_source import parse_yaml, read_config_text
from recframe.errors import SHOWN_CHARACTERS, ConfigError, RecframeError, short_text
from recframe.interfaces import (
    INT64_MAX,
)
from recframe.interfaces.calls import plugin_failure
from recframe.registry import PluginRegistry


def validate_run(
    raw: object,
    registry: PluginRegistry,
    *,
    source: str = "<config>",
    lines: Mapping[PathKey, int] | None = None,
    overridden: Sequence[PathKey] = (),
    problems: Sequence[tuple[PathKey, str]] = (),
) -> RunConfig:
    """Validate a parsed run file (a mapping) against the registry's plugins.

    Parameters
    ----------
    raw : object
        The parsed YAML document.
    registry : PluginRegistry
        Where ``type:`` names are looked up.
    source : str
        The file name used in messages.
    lines : mapping, optional
        The line of each path in the file (:func:`line_index`).
    overridden : sequence of tuple
        Paths set by ``--set``; their errors are located there instead of in the file.
    problems : sequence of (path, message)
        Errors found before validation (such as duplicate keys), reported with the others.

    Raises
    ------
    ConfigError
        Listing every problem found, each with its location.
    """
    errors = _Errors(source, lines or {}, overridden)
    for path, message in problems:
        errors.add(path, message)
    if not isinstance(raw, Mapping):
        errors.add((), f"the top level must be a mapping of sections; got {yaml_repr(raw)}")
        errors.raise_if_any()
    assert isinstance(raw, Mapping)
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            errors.add((key_text(key),), _unknown_key_message(key_text(key), TOP_LEVEL_KEYS, "top-level key"))

    name = raw.get("name", default_run_name(Path(source).stem) if source != "<config>" else "run")
    name_problem = run_name_problem(name)
    if name_problem is not None:
        errors.add(("name",), name_problem)
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        errors.add(("seed",), f"must be a non-negative integer; got {yaml_repr(seed)}")
    elif seed > INT64_MAX:
        errors.add(("seed",), f"{yaml_repr(seed)} is too large; integers must be within +-{INT64_MAX}")

    specs: dict[str, ComponentSpec | None] = {}
    fallback_raw: object = DEFAULT_FALLBACK
    filters: tuple[ComponentSpec, ...] = ()
    for section, kind in COMPONENT_SECTIONS.items():
        value = raw.get(section)
        if value is None and DEFAULT_TYPES[section] is not None:
            value = {"type": DEFAULT_TYPES[section]}
        if value is None:
            specs[section] = None
            continue
        if section == "ranker":
            value, fallback_raw = _pop_fallback(value)
        if section == "data" and isinstance(value, Mapping) and "filters" in value:
            filters = _filter_specs(value["filters"], registry, errors)
            value = {k: v for k, v in value.items() if k != "filters"}
        specs[section] = component_spec(value, kind, (section,), registry, errors)

    fallbacks: list[ComponentSpec] = []
    chain_raw = fallback_raw if isinstance(fallback_raw, list) else [] if fallback_raw is None else [fallback_raw]
    for position, entry in enumerate(chain_raw):
        path = ("ranker", "fallback", position) if isinstance(fallback_raw, list) else ("ranker", "fallback")
        spec = component_spec(entry, "ranker", path, registry, errors)
        if spec is not None:
            fallbacks.append(spec)

    evaluation = None
    if raw.get("evaluation") is not None:
        evaluation = _evaluation_spec(raw["evaluation"], registry, errors)

    output = OutputConfig()
    if raw.get("output") is not None:
        try:
            output = OutputConfig.model_validate(raw["output"])
        except ValidationError as exc:
            _add_pydantic_errors(exc, ("output",), errors, OutputConfig, raw=raw["output"])

    errors.raise_if_any()
    assert specs["matrix"] and specs["similarity"] and specs["ranker"]
    run = RunConfig(
        name=str(name),
        seed=int(seed),
        data=specs["data"],
        matrix=specs["matrix"],
        similarity=specs["similarity"],
        ranker=specs["ranker"],
        ranker_fallback=fallbacks[0] if fallbacks else None,
        ranker_fallbacks=tuple(fallbacks),
        data_filters=filters,
        executor=specs["executor"],
        evaluation=evaluation,
        output=output,
        source=source,
    )
    if raw.get("sweep") is None:
        return run
    sweep = _sweep_spec(raw, registry, source, errors)
    errors.raise_if_any()
    return replace(run, sweep=sweep)


MAX_SWEEP_SETTINGS = 1000
"""More settings than this in one sweep is refused as a likely mistake."""


def _sweep_spec(raw: Mapping[str, Any], registry: PluginRegistry, source: str, errors: _Errors) -> SweepSpec | None:
    """Validate the ``sweep`` section and every setting of its grid, each as a whole run file."""
    path: PathKey = ("sweep",)
    grid_raw = raw["sweep"]
    if raw.get("evaluation") is None:
        errors.add(path, "a sweep compares settings by their metrics; add an evaluation section")
        return None
    evaluation = raw["evaluation"]
    if isinstance(evaluation, Mapping) and evaluation.get("compare"):
        errors.add(
            ("evaluation", "compare"),
            "a sweep compares its own settings (sweep.csv); compare its folder with earlier runs afterwards "
            "(recframe compare OUT/settings/N EARLIER_RUN), or remove the sweep",
        )
        return None
    if not isinstance(grid_raw, Mapping) or not grid_raw:
        shown = yaml_repr(grid_raw)
        errors.add(path, f"must map dotted keys to lists of values, e.g. similarity.k: [10, 50]; got {shown}")
        return None
    grid = []
    for key, values in grid_raw.items():
        section = key.split(".")[0] if isinstance(key, str) else None
        unswept = _unswept_reason(key) if isinstance(key, str) else None
        if section not in TOP_LEVEL_KEYS:
            errors.add((*path, key_text(key)), "must be a dotted key of the run file, such as similarity.k")
        elif unswept is not None:
            errors.add((*path, key), f"can't be swept: {unswept}")
        elif isinstance(values, Mapping) and values:  # sweep: {similarity: {k: [...]}}, or --set sweep.similarity.k=
            inner = next(iter(values))
            example = f"{key}.{key_text(inner)}: {yaml_repr(values[inner])}"
            errors.add(
                (*path, key),
                f"must be a list of values; a sweep names each key whole and dotted, as {example} (on the command "
                f"line: --set 'sweep={{{example}}}')",
            )
        elif not isinstance(values, list) or not values:
            errors.add((*path, key), f"must be a non-empty list of values; got {yaml_repr(values)}")
        elif (twice := _repeated(values)) is not None:
            errors.add((*path, key), f"lists {yaml_repr(twice)} twice: each setting would run twice; list it once")
        else:
            grid.append((key, tuple(values)))
    if len(grid) != len(grid_raw):
        return None
    overlap = _overlapping_keys([key for key, _ in grid])
    if overlap is not None:
        outer, inner = overlap
        errors.add(
            (*path, inner),
            f"overlaps {short_text(outer)}, which sets the whole of it: sweep one of them (put the values of "
            f"{short_text(inner)} inside each value of {short_text(outer)}, or sweep only inner keys)",
        )
        return None
    size = math.prod(len(values) for _, values in grid)
    if size > MAX_SWEEP_SETTINGS:
        errors.add(path, f"the grid has {size} settings, more than {MAX_SWEEP_SETTINGS}; sweep fewer values")
        return None
    base = {k: v for k, v in raw.items() if k != "sweep"}
    settings = []
    for number, combination in enumerate(itertools.product(*(values for _, values in grid)), start=1):
        pairs = zip(grid, combination, strict=True)
        label = ", ".join(f"{short_text(key)}={yaml_text(value, SHOWN_CHARACTERS)}" for (key, _), value in pairs)
        document = copy.deepcopy(base)
        try:
            for (key, _), value in zip(grid, combination, strict=True):
                # a copy: a later key must not change the grid's own value (the labels show it)
                set_dotted(document, key, copy.deepcopy(value), f"sweep setting {number} ({label})")
            settings.append((combination, validate_run(document, registry, source=source)))
        except ConfigError as exc:
            for line in str(exc).splitlines():
                errors.add(path, f"setting {number} ({label}): {line.removeprefix(source + ': ')}")
    if len(settings) != size:
        return None
    return SweepSpec(tuple(grid), tuple(settings))


def _repeated(values: list[Any]) -> Any | None:
    """Return the first value of `values` equal to an earlier one (``5`` and ``5.0`` are equal), else ``None``."""
    for position, value in enumerate(values):
        if any(_same_value(value, earlier) for earlier in values[:position]):
            return value
    return None


def _same_value(a: Any, b: Any) -> bool:
    """Whether two swept values are the same setting: equal, but a bool is never a number."""
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    try:
        return bool(a == b)
    except Exception:  # a value whose comparison fails is not the same as another
        return False


def _overlapping_keys(keys: list[str]) -> tuple[str, str] | None:
    """Return two swept keys of which the first holds the second (``similarity``, ``similarity.k``), if any.

    Setting both would let one overwrite the other's value, in an order the labels don't show.
    """
    parts = [tuple(part.strip() for part in key.split(".")) for key in keys]
    for (outer, outer_parts), (inner, inner_parts) in itertools.permutations(zip(keys, parts, strict=True), 2):
        if inner_parts[: len(outer_parts)] == outer_parts:
            return outer, inner
    return None


def _unswept_reason(key: str) -> str | None:
    """Return why the dotted `key` can't be swept (:data:`UNSWEPT_REASONS`), or ``None`` if it can."""
    parts = [part.strip() for part in key.split(".")]
    for prefix, reason in UNSWEPT_REASONS.items():
        fixed = prefix.split(".")
        if parts[: len(fixed)] == fixed:
            return reason
    return None


def _filter_specs(value: object, registry: PluginRegistry, errors: _Errors) -> tuple[ComponentSpec, ...]:
    """Validate ``data.filters``: a list of filter sections (or bare filter names)."""
    if not isinstance(value, list):
        shown = yaml_repr(value)
        errors.add(("data", "filters"), f"must be a list of filters such as [{{type: k_core}}]; got {shown}")
        return ()
    specs = [component_spec(entry, "filter", ("data", "filters", i), registry, errors) for i, entry in enumerate(value)]
    return tuple(spec for spec in specs if spec is not None)


def _pop_fallback(value: object) -> tuple[object, object]:
    """Split the ``fallback`` key off a ranker section; the default fallback if it is absent."""
    if isinstance(value, Mapping):
        rest = {k: v for k, v in value.items() if k != "fallback"}
        fallback = value.get("fallback", DEFAULT_FALLBACK)
        return rest, fallback
    return value, DEFAULT_FALLBACK


def component_spec(
    value: object, kind: str, path: PathKey, registry: PluginRegistry, errors: _Errors
) -> ComponentSpec | None:
    """Validate one component section; record problems in `errors` and return ``None`` then."""
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        errors.add(path, f"must be a mapping with a 'type' key, or a {kind} name; got {yaml_repr(value)}")
        return None
    type_name = value.get("type")
    if type_name is None:
        errors.add(path, f"missing 'type'; registered {kind} types: {', '.join(registry.names(kind)) or 'none'}")
        return None
    if not isinstance(type_name, str):
        errors.add((*path, "type"), f"must be a {kind} name; got {yaml_repr(type_name)}")
        return None
    try:
        cls = registry.get(kind, type_name)
    except ConfigError as exc:
        errors.add((*path, "type"), str(exc))
        return None
    params = {k: v for k, v in value.items() if k != "type"}
    try:
        config = cls.Config.model_validate(params)
    except ValidationError as exc:
        _add_pydantic_errors(exc, path, errors, cls.Config, f"{kind} {yaml_repr(type_name)}", raw=params)
        return None
    except (RecframeError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # a plugin's validator fails by accident (pydantic wraps only ValueError & co.)
        errors.add(path, plugin_failure(registry.describe(cls), "Config.model_validate", exc))
        return None
    return ComponentSpec(kind, type_name, config)


def validate_component(
    value: object, kind: str, registry: PluginRegistry, *, source: str, lines: Mapping[PathKey, int] | None = None
) -> ComponentSpec:
    """Validate one component section given on its own (not in a run file), such as a data source file.

    Parameters
    ----------
    value : mapping or str
        ``{type: ..., <parameters>}``, or a type name.
    kind : str
        The component kind (``data``, ``matrix`` ...).
    registry : PluginRegistry
        Where the type is looked up.
    source : str
        Names where the section comes from in errors (a file name).
    lines : mapping of dotted paths to line numbers, optional
        Where each key is in `source` (from :func:`parse_yaml`), for errors with lines.

    Raises
    ------
    ConfigError
        Listing every problem, each with `source`, its line where known, and the field.
    """
    errors = _Errors(source, lines or {}, ())
    spec = component_spec(value, kind, (), registry, errors)
    errors.raise_if_any()
    assert spec is not None
    return spec


def load_component(path: Path, kind: str, registry: PluginRegistry) -> ComponentSpec:
    """Validate the YAML file `path` holding one component section (see :func:`validate_component`).

    Raises
    ------
    ConfigError
        If the file can't be read or parsed, repeats a key, or does not validate; errors name
        the file, the line and the field.
    """
    raw, lines, duplicates = parse_yaml(read_config_text(path), str(path))
    errors = _Errors(str(path), lines, ())
    for key, first in duplicates:
        errors.add(key, f"duplicate key; it is already set on line {first}")
    if not isinstance(raw, Mapping | str):
        errors.add((), f"must be a mapping with 'type' and the {kind} component's parameters; got {yaml_repr(raw)}")
    errors.raise_if_any()
    return validate_component(raw, kind, registry, source=str(path), lines=lines)


def _evaluation_spec(value: object, registry: PluginRegistry, errors: _Errors) -> EvaluationSpec | None:
    """Validate the ``evaluation`` section: a splitter, metrics, optional test data and settings."""
    path: PathKey = ("evaluation",)
    if not isinstance(value, Mapping):
        errors.add(path, f"must be a mapping with 'split' and 'metrics'; got {yaml_repr(value)}")
        return None
    for key in value:
        if key not in EVALUATION_KEYS:
            errors.add((*path, key_text(key)), _unknown_key_message(key_text(key), EVALUATION_KEYS, "key"))
    split_raw = DEFAULT_SPLIT if value.get("split") is None else value["split"]
    split = component_spec(split_raw, "splitter", (*path, "split"), registry, errors)
    test_data = None
    if value.get("test_data") is not None:
        test_data = component_spec(value["test_data"], "data", (*path, "test_data"), registry, errors)
    if split is not None and (split.type == "predefined") != (value.get("test_data") is not None):
        errors.add(
            (*path, "split" if split.type == "predefined" else "test_data"),
            "split 'predefined' and test_data go together: the test part comes from test_data",
        )
    settings = EvaluationSettings()
    try:
        own = {k: v for k, v in value.items() if k in EvaluationSettings.model_fields}
        settings = EvaluationSettings.model_validate(own)
    except ValidationError as exc:
        _add_pydantic_errors(exc, path, errors, EvaluationSettings, raw=own)
    metrics_raw = value.get("metrics", list(DEFAULT_METRICS))
    if not isinstance(metrics_raw, list) or not metrics_raw:
        shown = yaml_repr(metrics_raw)
        errors.add((*path, "metrics"), f"must be a non-empty list such as [precision@10, ndcg@10]; got {shown}")
        return None
    metrics, places = [], []
    for i, entry in enumerate(metrics_raw):
        problem = metric_entry_problem(entry)
        if problem is not None:
            errors.add((*path, "metrics", i, *problem[0]), problem[1])
            continue
        spec = component_spec(metric_entry(entry), "metric", (*path, "metrics", i), registry, errors)
        if spec is not None:
            metrics.append(spec)
            places.append(i)
    first: dict[str, int] = {}
    for i, spec in zip(places, metrics, strict=True):
        label = str(getattr(spec.build(registry), "label", spec.type))
        if label in first:
            errors.add((*path, "metrics", i), f"{label} is listed twice: as metrics[{first[label]}] and metrics[{i}]")
        first.setdefault(label, i)
    if split is None or len(metrics) != len(metrics_raw):
        return None
    return EvaluationSpec(split, tuple(metrics), settings, test_data)
