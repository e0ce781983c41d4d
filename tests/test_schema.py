"""The JSON Schema of run files agrees with load_config, on the shipped and documented run files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from recframe import ConfigError, PluginRegistry
from recframe.config import (
    EVALUATION_KEYS,
    TOP_LEVEL_KEYS,
    OutputConfig,
    config_schema,
    load_config,
    validate_run,
)

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = config_schema(PluginRegistry.from_environment(entry_points=False))
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # plain JSON
    return jsonschema.Draft202012Validator(schema)


def doc_run_files() -> list[tuple[str, dict[str, Any]]]:
    """Return every YAML example in the docs made of run-file sections, with a data source added."""
    found = []
    for page in DOCS:
        text = page.read_text(encoding="utf-8")
        for block in re.finditer(r"```ya?ml\n(.*?)```", text, re.DOTALL):
            if text[: block.start()].rstrip().rsplit("\n", 1)[-1].startswith("<!-- excerpt"):
                continue  # an excerpt: it needs what the tests don't install (its marker says what)
            document = yaml.safe_load(block.group(1))
            if isinstance(document, dict) and document and set(document) <= set(TOP_LEVEL_KEYS):
                line = text.count("\n", 0, block.start()) + 1
                found.append((f"{page.name}:{line}", {"data": {"type": "synthetic"}, **document}))
    return found


def test_the_schema_covers_every_key_load_config_knows(validator):
    properties = validator.schema["properties"]
    assert tuple(properties) == TOP_LEVEL_KEYS
    assert tuple(properties["evaluation"]["properties"]) == EVALUATION_KEYS
    assert tuple(properties["output"]["properties"]) == tuple(OutputConfig.model_fields)
    for key, value in properties.items():
        assert value.get("description"), f"top-level key {key!r} has no description"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_with_the_schema_and_load_config(validator, registry, path):
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []
    load_config(path, registry)


def test_the_docs_have_run_file_examples():
    examples = dict(doc_run_files())
    assert any("sweep" in document for document in examples.values())
    assert any(isinstance(document.get("ranker", {}).get("fallback"), list) for document in examples.values()
               if isinstance(document.get("ranker"), dict))


@pytest.mark.parametrize(("where", "document"), doc_run_files(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_documented_run_file_validates_with_the_schema_and_load_config(validator, registry, where, document):
    assert [e.message for e in validator.iter_errors(document)] == [], where
    validate_run(document, registry, source=where)


AGREEMENT: list[dict[str, Any]] = [
    {"data": "synthetic", "ranker": {"type": "user_cf", "fallback": ["item_cf", {"type": "popularity", "n": 20}]}},
    {"data": "synthetic", "ranker": {"type": "user_cf", "fallback": []}},
    {"data": "synthetic", "ranker": {"type": "user_cf", "fallback": None}},
    {"data": "synthetic", "ranker": {"type": "user_cf", "fallback": ["itemcf"]}},
    {"data": "synthetic", "ranker": {"type": "user_cf", "fallback": [{"type": "item_cf", "fallback": None}]}},
    {"data": {"type": "synthetic", "filters": [{"type": "k_core", "min_user_interactions": 2}, "duplicates"]}},
    {"data": {"type": "synthetic", "filters": [{"type": "kcore"}]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"similarity.k": [5, 10]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"ranker": ["item_cf", "user_cf"]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"similarity.k": []}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"similarity.k": 5}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"output.n": [5, 10]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"evaluation.metrics": [["mrr"]]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"name": ["a", "b"]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {"bogus.k": [1]}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"]}, "sweep": {}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"], "alpha": 0.01, "unseen_items": "drop"}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"], "alpha": 1.5}},
    {"data": "synthetic", "evaluation": {"metrics": ["ndcg@5"], "bogus": 1}},
    {"data": "synthetic", "output": {"n": 5, "report": False}},
    {"data": "synthetic", "output": {"n": 0}},
    {"data": "synthetic", "output": {"bogus": 1}},
    {"data": "synthetic", "similarity": {"type": "sklearn_nn", "n_jobs": 0}},
    {"data": "synthetic", "similarity": {"type": "sklearn_nn", "n_jobs": -1}},
    {"data": "synthetic", "ranker": {"type": "item_cf", "n": 10_001}},
]


@pytest.mark.parametrize("document", AGREEMENT, ids=lambda d: json.dumps(d)[:70])
def test_the_schema_accepts_what_load_config_accepts(validator, registry, document):
    try:
        validate_run(document, registry)
    except ConfigError:
        accepted = False
    else:
        accepted = True
    assert validator.is_valid(document) == accepted, [e.message for e in validator.iter_errors(document)]
