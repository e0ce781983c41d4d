"""The JSON Schema of run files, for editors."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from recframe.config.model import (
    EVALUATION_PARTS,
    RUN_FILE_KEYS,
    TOP_LEVEL_KEYS,
    UNSWEPT_KEYS,
    UNSWEPT_PREFIXES,
    EvaluationSettings,
    OutputConfig,
)
from recframe.registry import PluginRegistry


def config_schema(registry: PluginRegistry) -> dict[str, Any]:
    """Return a JSON Schema of run files covering every registered plugin, for editors.

    Each component section is a ``oneOf`` of the registered plugins' configs, told apart by
    their ``type`` constant, or a bare plugin name; a metric may also be ``name@k`` or ``name@k:
    {options}``. The keys
    and their descriptions come from :data:`RUN_FILE_KEYS`, :data:`EVALUATION_PARTS` and the
    settings models, as does the configuration reference (:mod:`recframe.config.reference`).
    """
    defs: dict[str, Any] = {}

    def options(kind: str) -> list[dict[str, Any]]:
        out = []
        for entry in registry.components(kind):
            schema = entry.cls.Config.model_json_schema(ref_template="#/$defs/{model}")
            defs.update(schema.pop("$defs", {}))
            schema["properties"] = {"type": {"const": entry.name}, **schema.get("properties", {})}
            schema["required"] = ["type", *schema.get("required", [])]
            schema["title"] = f"{kind} {entry.name}"
            schema["description"] = (entry.cls.__doc__ or "").strip().split("\n\n")[0]
            out.append(schema)
        return out

    def section(kind: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        objects = options(kind)
        if extra:
            for schema in objects:
                schema["properties"] = {**schema["properties"], **extra}
        return {"oneOf": [*objects, {"type": "string", "enum": registry.names(kind)}]}

    fallback = {
        "description": "the ranker for users the main ranker can't serve, a list tried in order, or null for none",
        "anyOf": [{"type": "null"}, section("ranker"), {"type": "array", "items": section("ranker")}],
    }
    filters = {"description": "filters applied in order to what the source loads",
               "type": "array", "items": section("filter")}
    metric_names = "|".join(re.escape(name) for name in registry.names("metric"))
    swept = "|".join(re.escape(k) for k in TOP_LEVEL_KEYS if k not in UNSWEPT_KEYS)
    unswept = "|".join(re.escape(prefix) for prefix in UNSWEPT_PREFIXES)
    evaluation_parts: dict[str, Any] = {
        "split": section("splitter"),
        "metrics": {
            "type": "array",
            "minItems": 1,
            "items": {
                "anyOf": [
                    {"type": "string", "pattern": f"^({metric_names})(@[1-9][0-9]*)?$"},
                    *options("metric"),
                    {
                        "description": "a metric and its options, as name@k: {option: value}",
                        "type": "object",
                        "minProperties": 1,
                        "maxProperties": 1,
                        "propertyNames": {"pattern": f"^({metric_names})(@[1-9][0-9]*)?$"},
                        "additionalProperties": {"type": ["object", "null"]},
                    },
                ]
            },
        },
        "test_data": section("data"),
    }
    for part, description in EVALUATION_PARTS.items():
        evaluation_parts[part] = {"description": description, **evaluation_parts[part]}
    properties: dict[str, Any] = {
        "name": {"type": "string", "minLength": 1},
        "seed": {"type": "integer", "minimum": 0},
        "data": section("data", {"filters": filters}),
        "matrix": section("matrix"),
        "similarity": section("similarity"),
        "ranker": section("ranker", {"fallback": fallback}),
        "evaluation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {**evaluation_parts, **_settings_schema(EvaluationSettings, defs)},
        },
        "output": {"type": "object", "additionalProperties": False,
                   "properties": _settings_schema(OutputConfig, defs)},
        "sweep": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": f"^(?!{unswept})({swept})(\\.[^.]+)*$"},
            "additionalProperties": {"type": "array", "minItems": 1},
        },
        "executor": section("executor"),
    }
    assert tuple(properties) == TOP_LEVEL_KEYS, "every top-level key needs a schema"
    for key, (meaning, default) in RUN_FILE_KEYS.items():
        properties[key] = {"description": f"{meaning} (default: {default})".replace("`", ""), **properties[key]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "recframe run file",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        "required": ["data"],
        "$defs": defs,
    }


def _settings_schema(model: type[BaseModel], defs: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON Schema properties of a settings model, its definitions moved to `defs`."""
    schema = model.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(schema.pop("$defs", {}))
    properties: dict[str, Any] = schema["properties"]
    return properties
