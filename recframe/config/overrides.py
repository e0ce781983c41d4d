"""``--set`` overrides: dotted keys set in a parsed run file, sections expanded on the way."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from recframe.config.messages import PathKey, dotted_key, yaml_repr
from recframe.config.model import DEFAULT_METRICS, SECTION_DEFAULTS, metric_entry
from recframe.config.yaml_source import load_yaml_value
from recframe.errors import ConfigError


def apply_overrides(
    raw: object, overrides: Sequence[str], *, source: str = "--set"
) -> tuple[object, list[PathKey]]:
    """Return a copy of `raw` with each ``dotted.key=value`` override applied, and their paths.

    A component section given as a bare plugin name (``similarity: sklearn_nn``, or a metric
    ``ndcg@10``) is expanded so that its parameters can be set, and a section the file leaves
    out starts from its default (``--set ranker.n=5`` tunes the default ``item_cf``).
    List entries are addressed by position (``evaluation.metrics.0``).

    Raises
    ------
    ConfigError
        If an override is not of the form ``key=value``, its value is not valid YAML, or it
        walks through something that is not a mapping or past the end of a list.
    """
    if not overrides:
        return raw, []
    if not isinstance(raw, dict):
        return raw, []
    raw = copy.deepcopy(raw)
    paths: list[PathKey] = []
    for item in overrides:
        key, sep, text = item.partition("=")
        label = f"--set {yaml_repr(item)}"
        if not sep or not key.strip() or any(not p.strip() for p in key.split(".")):
            msg = f"{label}: expected KEY=VALUE with a dotted key, e.g. similarity.k=100"
            raise ConfigError(msg)
        value = load_yaml_value(text, label)
        paths.append(set_dotted(raw, key, value, label))
    return raw, paths


def set_dotted(raw: dict[str, Any], key: str, value: object, label: str) -> PathKey:
    """Set the dotted `key` of the parsed run file `raw` to `value`, in place; return its path.

    Sections on the way are expanded as for ``--set`` (see :func:`apply_overrides`); `label`
    starts the error messages.

    Raises
    ------
    ConfigError
        If the key walks through something that is not a mapping or past the end of a list.
    """
    parts = [p.strip() for p in key.split(".")]
    node: Any = raw
    path: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        slot: str | int
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = dotted_key(path)
                size = f"{len(node)} {'entry' if len(node) == 1 else 'entries'}"
                msg = f"{label}: {where} has no entry {yaml_repr(part)}; the list has {size}, counted from 0"
                raise ConfigError(msg)
            slot = int(part)
            current = node[slot]
        elif isinstance(node, dict):
            slot = part
            current = node.get(part)
        else:
            msg = f"{label}: {dotted_key(path)} is {yaml_repr(node)}, not a mapping"
            raise ConfigError(msg)
        path.append(slot)
        if last:
            node[slot] = value
        else:
            node[slot] = _expand_section(tuple(path), current)
            node = node[slot]
    return tuple(path)


def _is_metric_entry(path: PathKey) -> bool:
    return len(path) == 3 and path[:2] == ("evaluation", "metrics") and isinstance(path[2], int)


def _expand_section(path: PathKey, value: object) -> object:
    """Return the value at `path` ready to have a key set inside it.

    A component section given as a bare name becomes ``{"type": name}`` (a metric ``name@k``
    becomes ``{"type": name, "k": k}``); a missing one becomes its default plugin, or ``{}``.
    """
    component = path in SECTION_DEFAULTS or _is_metric_entry(path)
    if _is_metric_entry(path) and isinstance(value, str | dict):  # name@k, or {name@k: {options}}
        return metric_entry(value)
    if component and isinstance(value, str):
        return {"type": value}
    if value is None:
        if path == ("evaluation", "metrics"):
            return list(DEFAULT_METRICS)
        default = SECTION_DEFAULTS.get(path)
        return {"type": default} if default is not None else {}
    return value
