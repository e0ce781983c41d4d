"""The documentation is generated from, and checked against, the code it describes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from recframe import PluginRegistry, hookspecs
from recframe.cli import main
from recframe.config import EVALUATION_KEYS, TOP_LEVEL_KEYS, OutputConfig
from recframe.config.reference import configuration_reference, hook_reference
from recframe.interfaces.component import KINDS

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_reference_is_up_to_date(registry):
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert documented == configuration_reference(registry), (
        "docs/configuration.md is stale; run: python -m recframe.config.reference > docs/configuration.md"
    )


def test_recframe_config_reference_prints_the_documented_reference(monkeypatch, capsys):
    builtins_only = PluginRegistry.from_environment(entry_points=False)
    monkeypatch.setattr(PluginRegistry, "from_environment", lambda *args, **kwargs: builtins_only)
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def test_configuration_reference_covers_every_section_and_setting(registry):
    reference = configuration_reference(registry)
    for heading in (
        "## Filters (`data.filters`)",
        "### Fallback chain (`ranker.fallback`)",
        "## Splitters (`evaluation.split`)",
        "## Metrics (`evaluation.metrics`)",
        "## Evaluation (`evaluation`)",
        "## Output (`output`)",
        "## Sweep (`sweep`)",
    ):
        assert f"\n{heading}\n" in reference, heading
    for kind in KINDS:  # every kind of component, the executors too (they were left out)
        for entry in registry.components(kind):
            assert f"\n### `{entry.name}`\n\n*recframe* · `{entry.cls.__name__}`" in reference, (kind, entry.name)
    top = reference.split("\n## ", 1)[0]
    for key in TOP_LEVEL_KEYS:
        assert f"| `{key}` |" in top, f"top-level key {key!r} is not in the reference's table"
    evaluation = reference.split("## Evaluation (`evaluation`)", 1)[1].split("\n## ", 1)[0]
    for key in EVALUATION_KEYS:
        assert f"| `{key}` |" in evaluation, f"evaluation.{key} is not in the reference"
    output = reference.split("## Output (`output`)", 1)[1].split("\n## ", 1)[0]
    for key in OutputConfig.model_fields:
        assert f"| `{key}` |" in output, f"output.{key} is not in the reference"


def test_hook_reference_is_up_to_date():
    documented = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert documented == hook_reference(), (
        "docs/hooks.md is stale; run: python -m recframe.config.reference hooks > docs/hooks.md"
    )


@pytest.mark.parametrize(
    "hook", [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("recframe_")]
)
def test_every_hookspec_is_documented_for_plugin_authors(hook):
    doc = inspect.getdoc(hook) or ""
    assert doc.splitlines()[0].endswith("."), "summary line"
    for section in ("Returns", "Examples"):
        assert re.search(rf"^{section}\n-+$", doc, re.MULTILINE), f"{hook.__name__} lacks a {section} section"


def test_every_builtin_config_field_is_documented(registry):
    for entry in registry.components():
        for name, field in entry.cls.Config.model_fields.items():
            assert field.description, f"{entry.kind} {entry.name!r}: field {name!r} has no docstring"


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Set up and run", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one():
    commands = readme_commands()
    assert len(commands) == 2
    assert "recframe run configs/quickstart.yaml" in commands[0]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
