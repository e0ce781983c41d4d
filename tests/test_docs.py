"""The documentation is generated from, and checked against, the code it describes."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from recframe import hookspecs
from recframe.reference import configuration_reference, hook_reference

ROOT = Path(__file__).resolve().parents[1]


def test_configuration_reference_is_up_to_date(registry):
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert documented == configuration_reference(registry), (
        "docs/configuration.md is stale; run: python -m recframe.reference > docs/configuration.md"
    )


def test_hook_reference_is_up_to_date():
    documented = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    assert documented == hook_reference(), (
        "docs/hooks.md is stale; run: python -m recframe.reference hooks > docs/hooks.md"
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
