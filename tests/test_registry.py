"""The plugin registry: built-ins, entry-point discovery, broken and misdeclared plugins."""

from __future__ import annotations

import importlib.metadata
import json
import types
from pathlib import Path

import numpy as np
import pytest

from recframe import (
    CandidateRanker,
    ConfigError,
    PluginError,
    PluginLoadWarning,
    PluginRegistry,
    RankerConfig,
    Recommender,
    ScoringConfig,
    ScoringRanker,
    hookimpl,
    load_config,
)
from recframe.cli import main
from recframe.registry import BUILTIN_MODULES, DISABLE_ENV
from recframe.registry.plugin_registry import not_loaded_message

BUILTINS = [
    ("data", "synthetic"),
    ("data", "csv"),
    ("matrix", "ratings"),
    ("matrix", "binary"),
    ("similarity", "sklearn_nn"),
    ("ranker", "item_cf"),
    ("ranker", "user_cf"),
    ("ranker", "popularity"),
    ("splitter", "per_user_holdout"),
    ("splitter", "random_holdout"),
    ("metric", "precision"),
    ("metric", "recall"),
    ("metric", "ndcg"),
    ("metric", "map"),
    ("metric", "hit_rate"),
]


# --------------------------------------------------------------------------- fakes


class FakeDist:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


class FakeEntryPoint:
    """Just what the registry reads of an ``importlib.metadata.EntryPoint``."""

    def __init__(
        self,
        name: str,
        plugin: object = None,
        *,
        error: Exception | None = None,
        package: str | None = None,
        version: str = "1.0.0",
    ) -> None:
        self.name = name
        self.value = f"recframe_{name}"
        self.group = "recframe"
        self.dist = FakeDist(package or f"recframe-{name}", version)
        self._plugin = plugin
        self._error = error
        self.loads = 0

    def load(self) -> object:
        self.loads += 1
        if self._error is not None:
            raise self._error
        return self._plugin


class ReverseIdConfig(ScoringConfig):
    """Parameters of :class:`ReverseIdRanker`."""

    offset: float = 1.0
    """Added to every score."""


class ReverseIdRanker(ScoringRanker):
    """Recommend the items with the highest ids first (a deterministic toy ranker)."""

    name = "reverse_id"
    Config = ReverseIdConfig
    config: ReverseIdConfig
    scores_unknown_users = True

    def prepare(self) -> None:
        pass

    def score_block(self, users):
        assert self.matrix_ is not None
        n_items = self.matrix_.n_items
        return np.tile(np.arange(n_items, dtype=np.float64) + self.config.offset, (len(users), 1))


def plugin_module(name: str, *classes: object, hook: str = "recframe_register_components") -> types.ModuleType:
    """Return a module object that registers `classes`, the way a plugin package does."""
    module = types.ModuleType(name)

    def register():
        return list(classes)

    register.__name__ = hook
    setattr(module, hook, hookimpl(register))
    return module


def install(monkeypatch, *entry_points: FakeEntryPoint) -> None:
    """Make `entry_points` the only installed ``recframe`` plugins."""

    real = importlib.metadata.entry_points

    def fake_entry_points(**params):
        if params != {"group": "recframe"}:  # other libraries look up their own groups
            return real(**params)
        return list(entry_points)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake_entry_points)
    monkeypatch.delenv(DISABLE_ENV, raising=False)


WORKING = "working"
BROKEN_ERROR = "No module named 'recframe_broken_dep'"
BROKEN_WARNING = (
    f"plugin 'broken' (recframe-broken 0.3.0) failed to import and is disabled: ImportError: {BROKEN_ERROR}; "
    "fix or uninstall recframe-broken, or set RECFRAME_DISABLE_PLUGINS=broken to skip it"
)


def working_ep() -> FakeEntryPoint:
    return FakeEntryPoint(WORKING, plugin_module("recframe_working", ReverseIdRanker), version="2.1.0")


def broken_ep() -> FakeEntryPoint:
    return FakeEntryPoint("broken", error=ImportError(BROKEN_ERROR), version="0.3.0")


def run_file(tmp_path: Path, ranker: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(
        "data: {type: synthetic, n_users: 60, n_items: 30}\n"
        f"similarity: {{type: sklearn_nn, k: 5}}\nranker: {ranker}\n",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------- built-ins


@pytest.mark.parametrize(("kind", "name"), BUILTINS)
def test_builtins_are_registered_by_kind_and_name(registry, kind, name):
    entry = registry.entry(kind, name)
    assert (entry.kind, entry.name, entry.cls.kind, entry.cls.name) == (kind, name, kind, name)
    assert entry.plugin.package == "recframe"
    assert entry.plugin.status == "ok"


def test_builtin_plugins_are_the_builtin_modules(registry):
    assert [p.name for p in registry.plugins] == list(BUILTIN_MODULES)
    assert {(e.kind, e.name) for e in registry.components()} >= set(BUILTINS)


def test_names_are_sorted_per_kind(registry):
    assert registry.names("ranker") == ["item_cf", "popularity", "user_cf"]
    assert registry.names("nonsense") == []


def test_describe_names_kind_type_and_package(registry):
    from recframe._version import __version__

    assert registry.describe(registry.get("ranker", "item_cf")) == f"ranker 'item_cf' (recframe {__version__})"


def test_unknown_name_suggests(registry):
    with pytest.raises(
        ConfigError,
        match=r"^unknown metric 'ndgc'; did you mean 'ndcg'\? \(registered: avg_popularity, coverage, f1, gini, "
        r"hit_rate, ild, mae, map, mrr, ndcg, novelty, precision, recall, rmse\)$",
    ):
        registry.get("metric", "ndgc")


def test_registries_are_independent(registry):
    other = PluginRegistry.from_environment(entry_points=False)
    other.register(plugin_module("extra", ReverseIdRanker), name="extra", package="x", version="1")
    assert "reverse_id" in other.names("ranker")
    assert "reverse_id" not in registry.names("ranker")


# --------------------------------------------------------------------------- discovery


def test_an_installed_plugin_is_usable_by_type(monkeypatch, tmp_path):
    ep = working_ep()
    install(monkeypatch, ep)
    registry = PluginRegistry.from_environment()
    entry = registry.entry("ranker", "reverse_id")
    assert (entry.cls, entry.plugin.name, entry.plugin.package, entry.plugin.version) == (
        ReverseIdRanker,
        WORKING,
        "recframe-working",
        "2.1.0",
    )
    assert ep.loads == 1

    run = load_config(run_file(tmp_path, "{type: reverse_id, n: 3, offset: 2.5}"), registry)
    assert (run.ranker.type, run.ranker.params.offset) == ("reverse_id", 2.5)

    rec = Recommender.from_config(
        run_file(tmp_path, "{type: reverse_id, n: 3, exclude_seen: false}"), registry=registry
    )
    lists = rec.fit().recommend([0, 1])
    assert [ids for _, ids, _ in lists] == [[29, 28, 27], [29, 28, 27]]
    assert list(lists.sources) == ["reverse_id", "reverse_id"]


def test_a_plugin_config_is_validated_like_a_builtin(monkeypatch, tmp_path):
    install(monkeypatch, working_ep())
    registry = PluginRegistry.from_environment()
    with pytest.raises(
        ConfigError,
        match=r"run\.yaml:3: ranker\.ofset: unknown key 'ofset' for ranker 'reverse_id'; did you mean 'offset'\?",
    ):
        load_config(run_file(tmp_path, "{type: reverse_id, ofset: 1}"), registry)


def test_entry_points_false_skips_installed_plugins(monkeypatch):
    install(monkeypatch, working_ep())
    assert "reverse_id" not in PluginRegistry.from_environment(entry_points=False).names("ranker")


def test_entry_point_without_distribution(monkeypatch):
    ep = working_ep()
    ep.dist = None
    ep.value = "recframe_working.plugin:hooks"
    install(monkeypatch, ep)
    plugin = PluginRegistry.from_environment().entry("ranker", "reverse_id").plugin
    assert (plugin.package, plugin.version) == ("recframe_working", "unknown")


# --------------------------------------------------------------------------- a broken plugin


def broken_registry(monkeypatch) -> PluginRegistry:
    install(monkeypatch, broken_ep(), working_ep())
    with pytest.warns(PluginLoadWarning) as record:
        registry = PluginRegistry.from_environment()
    assert len(record) == 1
    return registry


def test_a_broken_plugin_warns_once_and_the_rest_works(monkeypatch, tmp_path):
    install(monkeypatch, broken_ep(), working_ep())
    with pytest.warns(PluginLoadWarning) as record:
        registry = PluginRegistry.from_environment()
    assert [str(w.message) for w in record] == [BROKEN_WARNING]
    broken = {p.name: p for p in registry.plugins}["broken"]
    assert (broken.status, broken.package, broken.version) == ("failed", "recframe-broken", "0.3.0")
    assert broken.error == f"ImportError: {BROKEN_ERROR}"
    Recommender.from_config(run_file(tmp_path, "reverse_id"), registry=registry).fit()
    Recommender.from_config(run_file(tmp_path, "item_cf"), registry=registry).fit()


def test_a_plugin_failing_with_any_exception_is_disabled(monkeypatch):
    install(monkeypatch, FakeEntryPoint("odd", error=RuntimeError("boom")))
    with pytest.warns(
        PluginLoadWarning,
        match=r"^plugin 'odd' \(recframe-odd 1\.0\.0\) failed to import and is disabled: RuntimeError: boom; "
        r"fix or uninstall recframe-odd, or set RECFRAME_DISABLE_PLUGINS=odd to skip it$",
    ):
        PluginRegistry.from_environment()


def test_a_config_asking_for_the_broken_plugin_names_the_package(monkeypatch, tmp_path):
    registry = broken_registry(monkeypatch)
    with pytest.raises(ConfigError) as info:
        load_config(run_file(tmp_path, "{type: broken}"), registry)
    assert str(info.value) == (
        f"{tmp_path / 'run.yaml'}:3: ranker.type: 'broken' needs recframe-broken, which failed to import: "
        f"ImportError: {BROKEN_ERROR}; fix or reinstall recframe-broken"
    )


def test_a_type_spelt_unlike_its_entry_point_still_names_the_package(monkeypatch, tmp_path):
    install(monkeypatch, FakeEntryPoint("fancyknn", error=ImportError("no faiss"), package="recframe-fancy-knn"))
    with pytest.warns(PluginLoadWarning):
        registry = PluginRegistry.from_environment()
    with pytest.raises(
        ConfigError, match=r"ranker\.type: 'fancy_knn' needs recframe-fancy-knn, which failed to import"
    ):
        load_config(run_file(tmp_path, "{type: fancy_knn}"), registry)


def test_an_unknown_name_mentions_plugins_that_did_not_load(monkeypatch):
    registry = broken_registry(monkeypatch)
    with pytest.raises(
        ConfigError,
        match=r"^unknown ranker 'als' \(registered: item_cf, popularity, reverse_id, user_cf\); "
        r"not loaded: recframe-broken \(failed\); `recframe plugins` says why each failed$",
    ):
        registry.get("ranker", "als")


def test_cli_plugins_shows_the_failed_plugin(monkeypatch, capsys):
    install(monkeypatch, broken_ep(), working_ep())
    assert main(["plugins"]) == 0
    out, err = capsys.readouterr()
    assert err == f"warning: {BROKEN_WARNING}\n"
    lines = out.splitlines()
    assert lines[0].split() == ["kind", "name", "package", "version", "status"]
    assert next(line.split() for line in lines if "reverse_id" in line) == [
        "ranker",
        "reverse_id",
        "recframe-working",
        "2.1.0",
        "ok",
    ]
    failed = next(line for line in lines if "broken" in line)
    assert failed.split()[:4] == ["broken", "recframe-broken", "0.3.0", "failed"]
    assert failed.endswith(f"(ImportError: {BROKEN_ERROR})")


def test_cli_plugins_json_shows_the_failed_plugin(monkeypatch, capsys):
    install(monkeypatch, broken_ep(), working_ep())
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {
        "kind": "ranker",
        "name": "reverse_id",
        "package": "recframe-working",
        "version": "2.1.0",
        "status": "ok",
        "error": "",
    } in rows
    assert {
        "kind": "",
        "name": "broken",
        "package": "recframe-broken",
        "version": "0.3.0",
        "status": "failed",
        "error": f"ImportError: {BROKEN_ERROR}",
    } in rows
    item_cf = next(r for r in rows if r["name"] == "item_cf")
    assert (item_cf["kind"], item_cf["package"], item_cf["status"]) == ("ranker", "recframe", "ok")


def test_cli_run_with_a_broken_plugin_still_works(monkeypatch, tmp_path, capsys):
    install(monkeypatch, broken_ep())
    assert main(["config", "validate", str(run_file(tmp_path, "item_cf")), "-q"]) == 0
    assert "warning: plugin 'broken'" in capsys.readouterr().err


def test_cli_config_asking_for_the_broken_plugin_exits_2(monkeypatch, tmp_path, capsys):
    install(monkeypatch, broken_ep())
    assert main(["config", "validate", str(run_file(tmp_path, "broken")), "-q"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"error: {tmp_path / 'run.yaml'}:3: ranker.type: 'broken' needs recframe-broken, which failed to import: "
        f"ImportError: {BROKEN_ERROR}; fix or reinstall recframe-broken"
    )


# --------------------------------------------------------------------------- disabling plugins


def test_disable_env_blocks_a_plugin(monkeypatch, tmp_path):
    ep = working_ep()
    install(monkeypatch, ep, broken_ep())
    monkeypatch.setenv(DISABLE_ENV, f" {WORKING} , broken")
    registry = PluginRegistry.from_environment()  # no warning: the broken one is not imported
    assert ep.loads == 0
    assert "reverse_id" not in registry.names("ranker")
    statuses = {p.name: (p.status, p.package) for p in registry.plugins if p.name in (WORKING, "broken")}
    assert statuses == {WORKING: ("blocked", "recframe-working"), "broken": ("blocked", "recframe-broken")}
    with pytest.raises(
        ConfigError,
        match=r"'working' comes from recframe-working, which is disabled by RECFRAME_DISABLE_PLUGINS; "
        r"remove 'working' from it to use 'working'",
    ):
        registry.get("ranker", WORKING)
    with pytest.raises(
        ConfigError,
        match=r"unknown ranker 'reverse_id' .*; not loaded: recframe-broken \(blocked\), "
        r"recframe-working \(blocked\)$",
    ):
        registry.get("ranker", "reverse_id")


def test_disable_by_distribution_name_or_argument(monkeypatch):
    install(monkeypatch, working_ep())
    monkeypatch.setenv(DISABLE_ENV, "recframe-working")
    assert "reverse_id" not in PluginRegistry.from_environment().names("ranker")
    monkeypatch.delenv(DISABLE_ENV)
    assert "reverse_id" not in PluginRegistry.from_environment(disabled=[WORKING]).names("ranker")
    assert "reverse_id" in PluginRegistry.from_environment().names("ranker")


def test_cli_plugins_shows_a_blocked_plugin(monkeypatch, capsys):
    install(monkeypatch, working_ep())
    monkeypatch.setenv(DISABLE_ENV, WORKING)
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {
        "kind": "",
        "name": WORKING,
        "package": "recframe-working",
        "version": "2.1.0",
        "status": "blocked",
        "error": "",
    } in rows
    assert not any(r["name"] == "reverse_id" for r in rows)


# --------------------------------------------------------------------------- registration errors


class NotAComponent:
    name = "nope"


class AbstractRanker(CandidateRanker):
    """Declares a name but implements nothing."""

    name = "abstract"
    Config = RankerConfig


class ItemCFClone(ReverseIdRanker):
    """Claims a built-in's name."""

    name = "item_cf"


class Nameless(ReverseIdRanker):
    """Forgets its name."""

    name = ""


class BadConfig(ReverseIdRanker):
    """Has a Config that is not a ComponentConfig."""

    name = "bad_config"
    Config = dict  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (
            [NotAComponent],
            r"^plugin 'bad' \(recframe-bad 1\.0\) registered <class '.*NotAComponent'>, "
            r"which is not a recframe Component subclass$",
        ),
        ([ReverseIdRanker()], r"registered ReverseIdRanker\(n=10, .*\), which is not a recframe Component subclass$"),
        (
            [AbstractRanker],
            r"^plugin 'bad' \(recframe-bad 1\.0\) registered AbstractRanker, which is abstract; "
            r"implement fit, recommend$",
        ),
        ([Nameless], r"^plugin 'bad' \(recframe-bad 1\.0\) registered Nameless without a `name`$"),
        ([BadConfig], r"registered BadConfig whose Config is not a ComponentConfig subclass$"),
        (
            [ReverseIdRanker, ReverseIdRanker],
            r"^plugin 'bad' \(recframe-bad 1\.0\) registers ranker 'reverse_id' twice$",
        ),
        (
            "ReverseIdRanker",
            r"returned 'ReverseIdRanker' from recframe_register_components; expected a list of classes$",
        ),
    ],
    ids=["not-a-class", "an-instance", "abstract", "nameless", "bad-config", "twice", "a-string"],
)
def test_registering_something_invalid_raises(registry, returned, message):
    module = types.ModuleType("recframe_bad")
    module.recframe_register_components = hookimpl(lambda: returned)  # type: ignore[attr-defined]
    before = registry.components()
    with pytest.raises(PluginError, match=message):
        registry.register(module, name="bad", package="recframe-bad", version="1.0")
    assert registry.components() == before  # nothing half-registered
    assert "bad" not in [p.name for p in registry.plugins]


def test_a_failing_hook_is_a_plugin_error(registry):
    def recframe_register_components():
        raise ModuleNotFoundError("No module named 'faiss'")

    module = types.ModuleType("recframe_faiss")
    module.recframe_register_components = hookimpl(recframe_register_components)  # type: ignore[attr-defined]
    with pytest.raises(
        PluginError,
        match=r"^plugin 'faiss' \(recframe-faiss 0\.1\) failed in recframe_register_components: "
        r"ModuleNotFoundError: No module named 'faiss'$",
    ):
        registry.register(module, name="faiss", package="recframe-faiss", version="0.1")


def test_a_duplicate_of_a_builtin_names_both_packages(registry):
    from recframe._version import __version__

    with pytest.raises(PluginError) as info:
        registry.register(plugin_module("clone", ItemCFClone), name="clone", package="recframe-clone", version="0.2")
    assert str(info.value) == (
        f"ranker 'item_cf' is registered twice: by recframe {__version__} and by recframe-clone 0.2; "
        "rename the plugin's ranker, or uninstall it (recframe's own can't be disabled)"
    )


def test_a_duplicate_between_two_installed_plugins_names_both(monkeypatch):
    first = FakeEntryPoint("alpha", plugin_module("recframe_alpha", ReverseIdRanker), version="1.0")
    second = FakeEntryPoint("beta", plugin_module("recframe_beta", ReverseIdRanker), version="2.0")
    install(monkeypatch, second, first)  # loaded in name order whatever the metadata order
    # the later one is disabled, not fatal (see tests/test_plugin_isolation.py)
    with pytest.warns(
        PluginLoadWarning,
        match=r"^plugin 'beta' \(recframe-beta 2\.0\) failed to register and is disabled: ranker 'reverse_id' "
        r"is registered twice: by recframe-alpha 1\.0 and by recframe-beta 2\.0; uninstall or disable one of "
        r"them \(RECFRAME_DISABLE_PLUGINS=alpha disables recframe-alpha\), or set RECFRAME_DISABLE_PLUGINS=beta "
        r"to skip it$",
    ):
        registry = PluginRegistry.from_environment()
    assert registry.entry("ranker", "reverse_id").plugin.package == "recframe-alpha"
    beta = next(p for p in registry.plugins if p.name == "beta")  # asked for, it says what to do, not "reinstall"
    assert not_loaded_message(beta, "'mine'").endswith("(RECFRAME_DISABLE_PLUGINS=alpha disables recframe-alpha)")


def test_a_misspelt_hook_name_is_a_plugin_error(registry):
    module = plugin_module("recframe_typo", ReverseIdRanker, hook="recframe_register_component")
    with pytest.raises(
        PluginError,
        match=r"^plugin 'typo' \(recframe-typo 1\.0\) can't be registered: "
        r".*unknown hook 'recframe_register_component'",
    ):
        registry.register(module, name="typo", package="recframe-typo", version="1.0")
    # the registry is still usable, and a correct plugin registers after the bad one
    registry.register(plugin_module("recframe_ok", ReverseIdRanker), name="ok", package="recframe-ok", version="1.0")
    assert "reverse_id" in registry.names("ranker")


def test_the_same_plugin_name_twice_is_a_plugin_error(registry):
    registry.register(plugin_module("a", ReverseIdRanker), name="dup", package="recframe-a", version="1")
    with pytest.raises(PluginError, match=r"^plugin 'dup' \(recframe-b 1\) can't be registered: "):
        registry.register(plugin_module("b"), name="dup", package="recframe-b", version="1")


def test_a_plugin_returning_nothing_registers_no_component(registry):
    before = registry.components()
    registry.register(plugin_module("empty"), name="empty", package="recframe-empty", version="1")
    assert registry.components() == before
    assert registry.plugins[-1].name == "empty"


def test_a_package_of_several_plugins_not_loaded_is_listed_once_naming_them(monkeypatch):
    install(
        monkeypatch,
        FakeEntryPoint("odd_a", error=ImportError("a"), package="recframe-odd"),
        FakeEntryPoint("odd_b", error=ImportError("b"), package="recframe-odd"),
    )
    with pytest.warns(PluginLoadWarning):
        registry = PluginRegistry.from_environment()
    said = r"; not loaded: recframe-odd \(failed: odd_a, odd_b\); `recframe plugins` says why each failed$"
    with pytest.raises(ConfigError, match=said):
        registry.get("ranker", "als")


def test_cli_plugins_shows_a_multi_line_error_on_its_row(monkeypatch, capsys):
    # pluggy's message for a hook of the wrong signature spans lines, which broke the table
    error = ImportError("first line\n  second line")
    install(monkeypatch, FakeEntryPoint("multi", error=error, package="recframe-multi"))
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "recframe-multi" in line)
    assert row.endswith("first line second line)") and "second line" not in out.replace(row, "")


def test_a_scoring_ranker_overriding_the_earlier_names_still_works_and_is_told_the_new_ones():
    """_prepare, _prepared_state and _restore_prepared were underscore names a plugin had to override."""
    from recframe.engine import ScoringConfig, ScoringRanker

    with pytest.warns(DeprecationWarning, match=r"Legacy\._prepare is the name of earlier releases; name it prepare"):

        class Legacy(ScoringRanker):
            """Scores every item by its column in the history."""

            name = "legacy_for_test"
            Config = ScoringConfig
            prepared: bool = False

            def _prepare(self) -> None:
                self.prepared = True

            def score_block(self, users):  # type: ignore[no-untyped-def]
                return np.ones((len(users), self.matrix_.n_items))

    from recframe.data import InteractionMatrix, Interactions

    matrix = InteractionMatrix.from_interactions(Interactions([1, 2], [3, 4]), np.ones(2), "last")
    ranker = Legacy(n=2).fit(matrix, None)
    assert ranker.prepared and ranker.prepare.__name__ == "_prepare"
