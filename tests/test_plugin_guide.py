"""The plugin author guide works as written (issue 11, defect 4).

Every python block of docs/plugins.md is run as a plugin module, in order (a block sees the names
of the blocks before it, as a reader's package would import them); its components are
registered in a test registry; the contract classes the guide defines run on them; and the
guide's run file runs with them.
"""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import Component, PluginRegistry, Recommender
from recframe.registry import kind_config
from recframe.testing import ComponentContract

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
BLOCK = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)  # "```yaml plugins": needs the guide's plugins
KINDS_WITH_EXAMPLES = {"data", "filter", "matrix", "similarity", "ranker", "splitter", "metric"}


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(GUIDE.read_text(encoding="utf-8")) if lang == language]


def run_guide() -> tuple[PluginRegistry, list[types.ModuleType]]:
    """Run every python block as a module and register those that implement the hook."""
    registry = PluginRegistry.from_environment(entry_points=False)
    modules: list[types.ModuleType] = []
    seen: dict[str, Any] = {}
    for number, code in enumerate(blocks("python")):
        module = types.ModuleType(f"recframe_guide_{number}")
        module.__dict__.update({k: v for k, v in seen.items() if k != "recframe_register_components"})
        exec(compile(code, f"{GUIDE}:block{number}", "exec", dont_inherit=True), module.__dict__)
        if "def recframe_register_components" in code:
            registry.register(module, name=module.__name__, package="recframe-guide", version="0.0")
        seen.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
        modules.append(module)
    return registry, modules


@pytest.fixture(scope="module")
def guide() -> tuple[PluginRegistry, list[types.ModuleType]]:
    return run_guide()


def guide_components(registry: PluginRegistry) -> list[type[Component]]:
    return [e.cls for e in registry.components() if e.plugin.package == "recframe-guide"]


def contract_classes(modules: list[types.ModuleType]) -> list[type[ComponentContract]]:
    found = []
    for module in modules:
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, ComponentContract) and value.__module__ == module.__name__:
                found.append(value)
    return found


def test_the_guide_has_a_registered_example_of_every_kind(guide):
    registry, _ = guide
    components = guide_components(registry)
    assert {c.kind for c in components} == KINDS_WITH_EXAMPLES
    for component in components:
        assert issubclass(component.Config, kind_config(component))


def test_every_example_has_a_contract_test_in_the_guide(guide):
    registry, modules = guide
    tested = {c.component for c in contract_classes(modules)}
    assert tested == set(guide_components(registry))


def contract_cases() -> list[tuple[str, str]]:
    _, modules = run_guide()
    return [
        (cls.__name__, name)
        for cls in contract_classes(modules)
        for name in sorted(n for n in dir(cls) if n.startswith("test_"))
    ]


@pytest.mark.parametrize(("contract", "check"), contract_cases())
def test_the_guides_contract_tests_pass(guide, contract, check):
    _, modules = guide
    cls = next(c for c in contract_classes(modules) if c.__name__ == contract)
    getattr(cls(), check)()


def test_the_guides_run_file_runs(guide, tmp_path):
    registry, _ = guide
    (yaml_text,) = blocks("yaml")
    path = tmp_path / "guide.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    rec = Recommender.from_config(path, registry=registry)
    result = rec.evaluate()
    metrics = result.metrics
    assert {"hit_share@5", "hit_share_gain3@5", "precision@5"} <= set(metrics)
    assert metrics["hit_share@5"] >= metrics["hit_share_gain3@5"]
    lists = rec.fit().recommend([0, 1, 2])
    assert all(len(ids) <= 5 for _, ids, _ in lists)


def test_the_guides_matrix_builder_refuses_negative_counts(guide):
    from recframe import DataError, Interactions

    registry, _ = guide
    builder = registry.get("matrix", "log_count")()
    with pytest.raises(DataError, match=r"^matrix 'log_count' needs non-negative counts in the ratings column, "
                       r"got -1\.0 for user 'b'"):
        builder.build(Interactions(np.array(["a", "b"]), np.array(["x", "y"]), np.array([1.0, -1.0])))


@pytest.mark.parametrize(("duplicates", "matrix"), [("max", "incremental"), ("sum", "full")])
def test_the_guides_matrix_builder_updates_as_a_refit(guide, duplicates, matrix):
    """Its `update` merges the new cells with `update_cells`; under `sum` a repeated cell is built again."""
    from recframe import Interactions
    from recframe.testing import assert_same_neighbours

    registry, _ = guide
    config = {
        "matrix": {"type": "log_count", "duplicates": duplicates},
        "similarity": {"type": "sparse", "k": 4, "update_slack": 4},
        "ranker": {"type": "item_cf"},
    }
    rng = np.random.default_rng(2)
    base = Interactions(rng.integers(0, 40, 500), rng.integers(0, 30, 500), rng.integers(1, 50, 500).astype(float))
    new = Interactions(np.r_[base.users[:5], 41, 42], np.r_[base.items[:5], 3, 31], np.r_[60.0, 1, 2, 3, 70, 5, 6])
    rec = Recommender.from_config(config, registry=registry).fit(base).update(new)
    assert rec.lineage[-1]["matrix"] == matrix
    rec.forget(users=[41])
    assert rec.lineage[-1]["matrix"] == "incremental"
    after = Interactions.concat(base, new)
    refit = Recommender.from_config(config, registry=registry).fit(after.take(after.users != 41))
    np.testing.assert_array_equal(rec.interaction_matrix.matrix.toarray(), refit.interaction_matrix.matrix.toarray())
    assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)
