"""The architecture's import rules hold, and the public engine is documented (issue 12, item 1).

`lint-imports` checks the contracts configured in pyproject.toml; these tests run it, make
sure the contract listing what built-ins may not import covers every private module, and
check what the rules rely on: defaults looked up in the registry by name, a documented engine.
"""

from __future__ import annotations

import doctest
import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

import recframe
import recframe.engine
from recframe import CandidateRanker, MatrixBuilder, PluginError, PluginRegistry, Recommender
from recframe.registry import builtin_registry

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"recframe.engine", "recframe.testing", "recframe.builtin"}


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def test_lint_imports_keeps_every_contract():
    pytest.importorskip("importlinter")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    done = subprocess.run(
        [sys.executable, "-c", command, "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 5 kept, 0 broken." in done.stdout


def test_builtins_may_import_no_private_module():
    modules = {f"recframe.{m.name}" for m in pkgutil.iter_modules(recframe.__path__)}
    forbidden = set(contracts()["builtins-use-public-modules"]["forbidden_modules"])
    assert modules - PUBLIC <= forbidden, (
        "a new recframe module: add it to the forbidden_modules of builtins-use-public-modules"
    )
    assert not forbidden & PUBLIC


def test_contracts_and_data_may_import_no_implementation():
    forbidden = set(contracts()["contracts-import-no-implementation"]["forbidden_modules"])
    implementation = {"recframe.engine", "recframe.builtin", "recframe.recommender", "recframe.registry"}
    assert implementation <= forbidden


def test_the_core_reaches_the_builtins_only_through_the_registry():
    contract = contracts()["core-never-imports-builtins"]
    assert contract["type"] == "protected" and contract["allowed_importers"] == ["recframe.builtin"]
    rec = Recommender()
    names = (rec.matrix.name, rec.similarity.name, rec.ranker.name, [f.name for f in rec.fallbacks])
    assert names == ("ratings", "sklearn_nn", "item_cf", ["popularity"])


def test_registry_create_builds_a_component_of_the_asked_interface():
    registry = builtin_registry()
    ranker = registry.create("ranker", "item_cf", CandidateRanker, n=3)
    assert isinstance(ranker, CandidateRanker) and ranker.config.n == 3
    with pytest.raises(PluginError, match=r"^ranker 'item_cf' \(recframe [^)]+\) is not a MatrixBuilder$"):
        registry.create("ranker", "item_cf", MatrixBuilder)
    assert builtin_registry() is registry  # built once per process
    assert isinstance(PluginRegistry.from_environment(entry_points=False), PluginRegistry)


def test_ci_runs_the_linters_then_the_readme_test_command_last():
    lines = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    readme = (ROOT / "README.md").read_text(encoding="utf-8").split("## Set up and run", 1)[1]
    test_command = [line for line in readme.split("```bash", 1)[1].split("```", 1)[0].splitlines()
                    if line.strip() and not line.startswith("#")][1]
    assert lines[-1] == test_command  # the script's exit code is pytest's
    assert "set -euo pipefail" in lines
    for linter in ("ruff check recframe tests plugins benchmarks", "python3 -m mypy", "lint-imports"):
        assert any(linter in line for line in lines[:-1]), linter


def test_every_public_engine_function_has_a_numpydoc_docstring():
    for name in recframe.engine.__all__:
        obj = getattr(recframe.engine, name)
        if not inspect.isfunction(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        signature = inspect.signature(obj)
        if signature.parameters:
            assert "Parameters\n----------" in doc, f"recframe.engine.{name} lacks a Parameters section"
        if signature.return_annotation not in ("None", None):
            assert "Returns\n-------" in doc or "Yields\n------" in doc, f"recframe.engine.{name} lacks Returns"


def test_the_engine_docstring_example_runs():
    result = doctest.testmod(recframe.engine, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_name_the_public_api_exports_exists():
    for module in (recframe, recframe.engine):
        assert sorted(module.__all__) == sorted(set(module.__all__))
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert not missing
