"""A third-party plugin that fails to register is disabled, not fatal; the suite ignores foreign plugins.

Issue 11, defects 1-3: a plugin whose ``recframe_register_components`` raises, returns something
invalid, or claims a ``(kind, name)`` already taken is recorded as failed with one
:class:`PluginLoadWarning`, its components are not registered, and only a config that asks for
one of them fails, naming the package. Built-in registration errors stay fatal. Every contract
error names the component and its package.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.registry.plugin_registry as registry_module
from recframe import (
    CandidateRanker,
    ComponentConfig,
    ConfigError,
    NeighbourGraph,
    PluginError,
    PluginLoadWarning,
    PluginRegistry,
    RankerConfig,
    Recommender,
    SimilarityBackend,
    SimilarityConfig,
    hookimpl,
)
from recframe.artifacts import ModelFileError
from recframe.builtin.rankers import ItemCFRanker
from recframe.builtin.rankers.neighbourhood import GraphRankerConfig
from recframe.builtin.similarity import SparseSimilarity
from recframe.cli import main
from recframe.engine import ScoringConfig, ScoringRanker
from recframe.registry import DISABLE_ENV, describe_component, kind_config

ROOT = Path(__file__).resolve().parents[1]


class FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


class FakeEntryPoint:
    def __init__(self, name: str, plugin: object, version: str = "1.0.0") -> None:
        self.name, self.value, self.group = name, f"recframe_{name}", "recframe"
        self.dist = FakeDist(f"recframe-{name}", version)
        self._plugin = plugin

    def load(self) -> object:
        return self._plugin


def install(monkeypatch: pytest.MonkeyPatch, *eps: FakeEntryPoint) -> None:
    real = importlib.metadata.entry_points

    def entry_points(**params: Any) -> Any:
        return list(eps) if params == {"group": "recframe"} else real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def module_with_hook(name: str, hook: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    hook.__name__ = "recframe_register_components"
    module.recframe_register_components = hookimpl(hook)  # type: ignore[attr-defined]
    return module


def registers(name: str, *classes: object) -> types.ModuleType:
    return module_with_hook(name, lambda: list(classes))


class FancyRanker(ItemCFRanker):
    name = "fancy"


class ItemCFClone(ItemCFRanker):
    name = "item_cf"


class BareConfig(ComponentConfig):
    """A ranker config that forgot the fields every ranker has."""

    depth: int = 3
    """Anything."""


class BareRanker(ItemCFRanker):
    name = "bare"
    Config = BareConfig  # type: ignore[assignment]


def raising_hook() -> list[Any]:
    raise RuntimeError("database not reachable")


def run_file(tmp_path: Path, ranker: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(
        "data: {type: synthetic, n_users: 60, n_items: 30}\n"
        f"similarity: {{type: sklearn_nn, k: 5}}\nranker: {{type: {ranker}, n: 3}}\n",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------- defect 1: isolation

RAISES_WARNING = (
    "plugin 'flaky' (recframe-flaky 1.0.0) failed to register and is disabled: failed in "
    "recframe_register_components: RuntimeError: database not reachable; fix or uninstall recframe-flaky, "
    "or set RECFRAME_DISABLE_PLUGINS=flaky to skip it"
)


def test_a_raising_registration_hook_disables_only_that_plugin(monkeypatch):
    install(monkeypatch, FakeEntryPoint("flaky", module_with_hook("recframe_flaky", raising_hook)),
            FakeEntryPoint("good", registers("recframe_good", FancyRanker)))
    with pytest.warns(PluginLoadWarning) as record:
        registry = PluginRegistry.from_environment()
    assert [str(w.message) for w in record] == [RAISES_WARNING]
    assert "fancy" in registry.names("ranker")
    flaky = next(p for p in registry.plugins if p.name == "flaky")
    assert (flaky.status, flaky.failed_step) == ("failed", "register")
    # its hook implementation does not linger in the plugin manager
    assert registry._pm.get_plugin("flaky") is None


def test_a_duplicate_of_a_builtin_disables_the_plugin_and_keeps_the_builtin(monkeypatch, tmp_path, capsys):
    install(monkeypatch, FakeEntryPoint("clone", registers("recframe_clone", FancyRanker, ItemCFClone), "0.2"))
    with pytest.warns(PluginLoadWarning, match=r"RECFRAME_DISABLE_PLUGINS=clone to skip it$"):
        registry = PluginRegistry.from_environment()
    assert registry.get("ranker", "item_cf") is ItemCFRanker
    assert "fancy" not in registry.names("ranker")  # nothing of a failed plugin is registered
    # a config asking for one of its other components names the package
    with pytest.raises(ConfigError) as info:
        registry.get("ranker", "fancy")
    assert str(info.value).startswith(
        "'fancy' needs recframe-clone, which failed to register: ranker 'item_cf' is registered twice: "
    )
    assert str(info.value).endswith(  # what to do is what the failure says, not "fix or reinstall"
        "; rename the plugin's ranker, or uninstall it (recframe's own can't be disabled)"
    )


def test_cli_plugins_lists_a_plugin_that_failed_to_register(monkeypatch, capsys):
    install(monkeypatch, FakeEntryPoint("flaky", module_with_hook("recframe_flaky", raising_hook)))
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {RAISES_WARNING}\n"
    row = next(line for line in out.splitlines() if "recframe-flaky" in line)
    assert row.split()[:4] == ["flaky", "recframe-flaky", "1.0.0", "failed"]
    assert row.endswith("(failed in recframe_register_components: RuntimeError: database not reachable)")
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"kind": "", "name": "flaky", "package": "recframe-flaky", "version": "1.0.0", "status": "failed",
            "error": "failed in recframe_register_components: RuntimeError: database not reachable"} in rows


def test_cli_run_ignores_a_plugin_that_failed_to_register(monkeypatch, tmp_path, capsys):
    install(monkeypatch, FakeEntryPoint("flaky", module_with_hook("recframe_flaky", raising_hook)))
    assert main(["run", str(run_file(tmp_path, "item_cf")), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert capsys.readouterr().err == f"warning: {RAISES_WARNING}\n"


def test_cli_config_asking_for_a_plugin_that_failed_to_register_exits_2(monkeypatch, tmp_path, capsys):
    install(monkeypatch, FakeEntryPoint("flaky", module_with_hook("recframe_flaky", raising_hook)))
    assert main(["config", "validate", str(run_file(tmp_path, "flaky")), "-q"]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"error: {tmp_path / 'run.yaml'}:3: ranker.type: 'flaky' needs recframe-flaky, which failed to register: "
        "failed in recframe_register_components: RuntimeError: database not reachable; fix or reinstall recframe-flaky"
    )


class ExitingEntryPoint(FakeEntryPoint):
    def load(self) -> object:
        raise SystemExit(3)


def failing_generator() -> Any:
    yield FancyRanker
    raise KeyError("half way")


class HostileMeta(type(ItemCFRanker)):  # type: ignore[misc]
    def __getattribute__(cls, attr: str) -> Any:
        if attr == "Config":
            raise RuntimeError("no config for you")
        return super().__getattribute__(attr)


class HostileRanker(ItemCFRanker, metaclass=HostileMeta):
    name = "hostile"


@pytest.mark.parametrize(
    ("entry_point", "error"),
    [
        (ExitingEntryPoint("exits", None), "failed to import and is disabled: SystemExit: 3"),
        (FakeEntryPoint("gen", module_with_hook("recframe_gen", failing_generator)),
         "failed to register and is disabled: failed in recframe_register_components: KeyError: 'half way'"),
        (FakeEntryPoint("hostile", registers("recframe_hostile", HostileRanker)),
         "failed to register and is disabled: failed while being registered: RuntimeError: no config for you"),
    ],
    ids=["sys-exit-on-import", "generator-fails-midway", "class-attribute-raises"],
)
def test_any_failure_of_a_plugin_is_isolated(monkeypatch, entry_point, error):
    install(monkeypatch, entry_point, FakeEntryPoint("good", registers("recframe_good", FancyRanker)))
    with pytest.warns(PluginLoadWarning) as record:
        registry = PluginRegistry.from_environment()
    assert len(record) == 1 and error in str(record[0].message)
    assert "fancy" in registry.names("ranker") and "hostile" not in registry.names("ranker")
    assert registry._pm.get_plugin(entry_point.name) is None


def test_a_builtin_registration_error_stays_fatal(monkeypatch):
    broken = module_with_hook("recframe.builtin.broken_for_test", raising_hook)
    monkeypatch.setitem(sys.modules, broken.__name__, broken)
    monkeypatch.setattr(registry_module, "BUILTIN_MODULES", [*registry_module.BUILTIN_MODULES, broken.__name__])
    with pytest.raises(PluginError, match=r"^plugin 'recframe\.builtin\.broken_for_test' \(recframe .*\) failed in "
                       r"recframe_register_components: RuntimeError: database not reachable$"):
        PluginRegistry.from_environment(entry_points=False)


# --------------------------------------------------------------------------- defect 3: config bases


def test_kind_config_is_what_the_nearest_recframe_base_declares():
    from recframe.builtin.matrix_builders import RatingsMatrixBuilder
    from recframe.builtin.metrics import Precision

    assert kind_config(ItemCFRanker) is GraphRankerConfig  # what the built-in base reads, more than every ranker
    assert kind_config(AllOnes) is ScoringConfig
    assert kind_config(ScoringRanker) is RankerConfig
    assert kind_config(ShortGraphSimilarity) is SimilarityConfig
    assert kind_config(Precision).__name__ == "AccuracyConfig"  # its built-in base's: a subclass's config reads it
    assert kind_config(RatingsMatrixBuilder) is ComponentConfig


def test_a_config_not_deriving_from_its_kinds_base_is_refused_naming_the_fields(registry):
    with pytest.raises(PluginError) as info:
        registry.register(registers("recframe_bare", BareRanker), name="bare", package="recframe-bare", version="1.0")
    assert str(info.value).startswith(
        "plugin 'bare' (recframe-bare 1.0) registered ranker 'bare' (BareRanker) whose Config BareConfig does not "
        "derive from GraphRankerConfig, the base config of a ranker built on ItemCFRanker (fields the engine reads: "
        "n, exclude_seen, max_memory_mb, "
    )
    assert str(info.value).endswith("); subclass GraphRankerConfig instead of ComponentConfig")
    assert "bare" not in registry.names("ranker")


class AllOnes(ScoringRanker):
    """Scores every item 1: a scoring ranker whose config is only a ranker's."""

    name = "all_ones"
    Config = RankerConfig  # type: ignore[assignment]

    def score_block(self, rows: np.ndarray) -> np.ndarray:
        return np.ones((len(rows), self.matrix_.n_items))


def test_a_scoring_ranker_with_a_plain_ranker_config_is_refused(registry):
    # it would register, then fail at the first query: ScoringRanker reads max_memory_mb
    with pytest.raises(PluginError) as info:
        registry.register(registers("recframe_ones", AllOnes), name="ones", package="recframe-ones", version="1.0")
    assert str(info.value) == (
        "plugin 'ones' (recframe-ones 1.0) registered ranker 'all_ones' (AllOnes) whose Config RankerConfig does not "
        "derive from ScoringConfig, the base config of a ranker built on ScoringRanker (fields the engine reads: n, "
        "exclude_seen, max_memory_mb); set Config = ScoringConfig (or a subclass of it) instead of RankerConfig"
    )


def test_an_installed_plugin_with_a_bad_config_base_is_disabled(monkeypatch, tmp_path, capsys):
    install(monkeypatch, FakeEntryPoint("bare", registers("recframe_bare", BareRanker)))
    assert main(["run", str(run_file(tmp_path, "bare")), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "does not derive from GraphRankerConfig" in err
    assert "AttributeError" not in err


# --------------------------------------------------------------------------- defect 3: contract errors name the package


class ShortGraphConfig(SimilarityConfig):
    """Parameters of :class:`ShortGraphSimilarity`."""


class ShortGraphSimilarity(SimilarityBackend):
    """A backend that forgets one row of its graph."""

    name = "short_graph"
    Config = ShortGraphConfig

    def fit(self, rows: sp.csr_array) -> ShortGraphSimilarity:
        self.n_ = rows.shape[0]
        return self

    def neighbours(self, rows: Any = None, k: int | None = None) -> NeighbourGraph:
        n = self.n_ - 1
        return NeighbourGraph(np.zeros((n, 2), dtype=np.int64), np.ones((n, 2)), self.n_)

    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        return self.neighbours()


def test_a_contract_error_names_the_installed_plugin_and_its_version(monkeypatch, tmp_path):
    install(monkeypatch, FakeEntryPoint("shortgraph", registers("recframe_shortgraph", ShortGraphSimilarity), "0.4.1"))
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic, n_users: 40, n_items: 20}\nsimilarity: {type: short_graph}\n"
                    "ranker: {type: item_cf}\n", encoding="utf-8")
    rec = Recommender.from_config(path)
    with pytest.raises(PluginError, match=r"^similarity 'short_graph' \(recframe-shortgraph 0\.4\.1\) returned a "):
        rec.fit()


def test_a_component_no_registry_knows_is_named_by_its_package_or_module():
    assert describe_component(ItemCFRanker).startswith("ranker 'item_cf' (recframe ")
    assert describe_component(ShortGraphSimilarity) == f"similarity 'short_graph' (module {__name__})"


# --------------------------------------------------------------------------- defect 2: a suite blind to foreign plugins

METADATA = "Metadata-Version: 2.1\nName: {}\nVersion: 0.1\n"
BROKEN_SITE = {
    "recframe_isotest_broken-0.1.dist-info/METADATA": METADATA.format("recframe-isotest-broken"),
    "recframe_isotest_broken-0.1.dist-info/entry_points.txt": "[recframe]\nisotest_broken = recframe_isotest_missing\n",
    "recframe_isotest_clone-0.1.dist-info/METADATA": METADATA.format("recframe-isotest-clone"),
    "recframe_isotest_clone-0.1.dist-info/entry_points.txt": "[recframe]\nisotest_clone = recframe_isotest_clone\n",
    "recframe_isotest_clone.py": (
        "from recframe import hookimpl\nfrom recframe.builtin.rankers import ItemCFRanker\n\n"
        "class Clone(ItemCFRanker):\n    name = 'item_cf'\n\n"
        "@hookimpl\ndef recframe_register_components():\n    return [Clone]\n"
    ),
}
CLI_SUBSET = ["tests/test_cli.py", "-k", "plugins or validate or invalid_yaml or missing_config_file or bad_override"]
"""Quick CLI tests that compare what a command prints exactly, standard error too (each run is a new pytest)."""


def test_tests_see_only_first_party_plugins():
    registry = PluginRegistry.from_environment()  # under filterwarnings=error, a broken plugin would raise
    assert {p.package for p in registry.plugins} <= {"recframe", "recframe-gpu", "recframe-ray", "recframe-timedecay"}
    assert all(p.status == "ok" for p in registry.plugins)


def _pytest_subset(site: Path, opt_out: bool, tests: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (DISABLE_ENV, "RECFRAME_TEST_INSTALLED_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if opt_out:
        env["RECFRAME_TEST_INSTALLED_PLUGINS"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_suite_passes_with_broken_plugins_installed(tmp_path):
    site = tmp_path / "site"
    for rel, text in BROKEN_SITE.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")
    # the broken plugins really are visible to a recframe in that environment ...
    probe = subprocess.run(
        [sys.executable, "-m", "recframe", "plugins", "--json"], cwd=tmp_path, capture_output=True, text=True,
        env={**{k: v for k, v in os.environ.items() if k != DISABLE_ENV}, "PYTHONPATH": str(site)},
        timeout=120, check=False,
    )
    assert probe.returncode == 0, probe.stderr
    failed = {r["name"] for r in json.loads(probe.stdout) if r["status"] == "failed"}
    assert failed == {"isotest_broken", "isotest_clone"}
    assert probe.stderr.count("warning: plugin 'isotest_") == 2
    # ... and would break CLI tests that compare output exactly, were the suite not isolated from them
    exposed = _pytest_subset(site, opt_out=True, tests=CLI_SUBSET)
    assert exposed.returncode == 1, exposed.stdout[-2000:]
    assert "FAILED tests/test_cli.py::" in exposed.stdout, exposed.stdout[-2000:]
    first_party = "tests/test_plugin_isolation.py::test_tests_see_only_first_party_plugins"
    isolated = _pytest_subset(site, opt_out=False, tests=[first_party, *CLI_SUBSET])
    assert isolated.returncode == 0, isolated.stdout[-3000:]
    assert "\n7 passed" in isolated.stdout, isolated.stdout[-3000:]


@pytest.mark.parametrize(
    ("attribute", "hint"),
    [
        ("recframe_register_components", "mark recframe_register_components with @recframe.hookimpl"),
        ("register_components", "implement recframe_register_components, marked with @recframe.hookimpl"),
    ],
)
def test_a_plugin_implementing_no_hook_is_told_not_ignored(registry, attribute, hint):
    # pluggy sees only marked functions: without the mark the plugin would register nothing, silently
    module = types.ModuleType("recframe_unmarked")
    setattr(module, attribute, lambda: [FancyRanker])
    with pytest.raises(PluginError) as info:
        registry.register(module, name="unmarked", package="recframe-unmarked", version="1.0")
    assert str(info.value) == (
        f"plugin 'unmarked' (recframe-unmarked 1.0) implements no recframe hook, so it registers nothing; {hint}"
        + (" (a hook function without it is not seen)" if attribute.startswith("recframe_") else "")
    )
    assert "unmarked" not in {plugin.name for plugin in registry.plugins}


def test_loading_a_model_whose_installed_plugin_failed_or_is_disabled_says_so(monkeypatch, tmp_path):
    # installing it again would not help: the message says what would
    install(monkeypatch, FakeEntryPoint("fancy", registers("recframe_fancy", FancyRanker)))
    registry = PluginRegistry.from_environment()
    ranker = registry.create("ranker", "fancy", CandidateRanker, n=3)
    data = {"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 3, 2]}
    Recommender(ranker=ranker).fit(data).save(tmp_path / "model")

    class Broken(FakeEntryPoint):
        def load(self) -> object:
            raise ImportError("a dependency is missing")

    install(monkeypatch, Broken("fancy", None))
    failed = (
        r"ranker needs ranker 'fancy' from recframe-fancy 1\.0\.0; 'fancy' needs recframe-fancy, which failed to "
        r"import: ImportError: a dependency is missing; fix or reinstall"
    )
    with pytest.warns(PluginLoadWarning, match="failed to import"):
        broken = PluginRegistry.from_environment()
    with pytest.raises(ModelFileError, match=failed):
        Recommender.load(tmp_path / "model", registry=broken)
    install(monkeypatch, FakeEntryPoint("fancy", registers("recframe_fancy", FancyRanker)))
    with pytest.raises(ModelFileError, match=r"'fancy' comes from recframe-fancy, which is disabled by "
                       r"RECFRAME_DISABLE_PLUGINS; remove 'fancy' from it"):
        Recommender.load(tmp_path / "model", registry=PluginRegistry.from_environment(disabled="fancy"))
    assert Recommender.load(tmp_path / "model", registry=PluginRegistry.from_environment()).ranker.name == "fancy"


class ForgetfulRanker(ItemCFRanker):
    """Saves its state, but can't read it back."""

    name = "forgetful"

    def set_state(self, state: Any) -> None:
        raise ValueError("no such key 'weights'")


def test_a_plugin_that_cant_read_back_its_state_is_named_beside_the_files(monkeypatch, tmp_path):
    """Files that match their checksums: the plugin's fault (a PluginError, exit 1); unchecked: either's."""
    install(monkeypatch, FakeEntryPoint("forgetful", registers("recframe_forgetful", ForgetfulRanker)))
    registry = PluginRegistry.from_environment()
    ranker = registry.create("ranker", "forgetful", CandidateRanker, n=3)
    Recommender(ranker=ranker).fit({"user": [1, 1, 2, 2, 3], "item": [1, 2, 1, 3, 2]}).save(tmp_path / "model")
    with pytest.raises(PluginError) as checked:
        Recommender.load(tmp_path / "model", registry=registry)
    assert re.match(
        re.escape(f"{tmp_path / 'model'}: ranker: ranker 'forgetful' (recframe-forgetful ")
        + r"[^)]*\) could not restore the state it saved",
        str(checked.value),
    )
    assert "raised ValueError in set_state(): no such key 'weights'" in str(checked.value)
    assert str(checked.value).endswith(
        "the files match the checksums they were saved with, so fix or update the plugin"
    )
    with pytest.raises(ModelFileError) as unchecked:
        Recommender.load(tmp_path / "model", registry=registry, verify=False)
    assert str(unchecked.value).startswith(f"{tmp_path / 'model'}: ranker: its saved state was refused (ranker")
    assert str(unchecked.value).endswith("); the files were altered, or the plugin can't read back what it saved")


class UnsignedSimilarity(SparseSimilarity):
    """Returns its neighbours' rows as uint64 (in range, no padding): a dtype the contract allows."""

    name = "unsigned"

    def neighbours(self, rows: Any = None, k: int | None = None) -> NeighbourGraph:
        graph = super().neighbours(rows, k)
        assert (graph.indices >= 0).all()  # every row has k neighbours in this test's data
        return NeighbourGraph(graph.indices.astype(np.uint64), graph.scores, graph.n_targets)


def test_unsigned_neighbour_indices_answer_every_query(monkeypatch, tmp_path):
    """Found by an outside review: uint64 indices passed the check, then similar_items raised OverflowError (-1)."""
    install(monkeypatch, FakeEntryPoint("unsigned", registers("recframe_unsigned", UnsignedSimilarity)))
    registry = PluginRegistry.from_environment()
    rng = np.random.default_rng(0)
    events = {"user": rng.integers(0, 50, 2000), "item": rng.integers(0, 30, 2000)}
    rec = Recommender.from_config({"similarity": {"type": "unsigned", "k": 3}}, registry=registry).fit(events)
    plain = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit(events)
    for got, expected in ((rec, plain), (Recommender.load(rec.save(tmp_path / "m"), registry=registry), plain)):
        assert got.similar_items([3]).ranked.items.tolist() == expected.similar_items([3]).ranked.items.tolist()
        assert got.recommend([1]).ids.tolist() == expected.recommend([1]).ids.tolist()


def test_a_hook_returning_none_fails_the_plugin_and_an_empty_list_is_listed(monkeypatch, capsys):
    """A forgotten ``return`` made the plugin vanish: not listed, no warning, its types just unknown."""
    forgot = module_with_hook("recframe_forgot", lambda: None)
    empty = module_with_hook("recframe_empty", lambda: [])
    install(monkeypatch, FakeEntryPoint("forgot", forgot), FakeEntryPoint("empty", empty))
    assert main(["plugins", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["forgot"]["status"] == "failed"
    assert rows["forgot"]["error"] == (
        "returned None from recframe_register_components; expected a list of classes; "
        "return the list of component classes (is `return` missing?)"
    )
    assert "warning: plugin 'forgot' (recframe-forgot 1.0.0) failed to register" in err
    assert rows["empty"] == {"kind": "", "name": "empty", "package": "recframe-empty", "version": "1.0.0",
                             "status": "ok", "error": "registers no components"}
    with pytest.raises(PluginError, match="returned None from recframe_register_components"):
        PluginRegistry.from_environment(entry_points=False).register(
            module_with_hook("recframe_forgot", lambda: None), name="forgot", package="recframe-forgot", version="1"
        )
