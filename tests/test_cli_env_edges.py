"""The command's output, the run folder's links and the plugin environment, against odd input.

One test (or parametrised group) per class of defect found by the second review of issue 11:
plugin output corrupting ``--json`` and a closed standard output (5), symbolic links in a run
folder (6), ``RECFRAME_DISABLE_PLUGINS`` (10), the runner's Python arguments (11), config
fields named like credentials (12c) and YAML dates in messages (12d).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import sys
import textwrap
import threading
import types
from pathlib import Path

import pytest

from recframe import PluginRegistry, hookimpl
from recframe.builtin.rankers import ItemCFConfig, ItemCFRanker
from recframe.cli import main
from recframe.config import load_config
from recframe.errors import PluginLoadWarning, RecframeWarning
from recframe.registry import DISABLE_ENV
from recframe.runner import MANIFEST, execute

SMALL = """\
name: small
seed: 3
data: {type: synthetic, n_users: 60, n_items: 30}
similarity: {type: sklearn_nn, k: 5}
ranker: {type: item_cf, n: 5}
evaluation:
  split: temporal_global
  metrics: [precision@5]
output: {report: true}
"""


class FakeDist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "0.1"


class FakeEntryPoint:
    """An installed ``recframe`` entry point whose ``load`` runs `load` (a plugin's import)."""

    def __init__(self, name: str, load=None, package: str | None = None) -> None:
        self.name, self.value, self.group = name, f"fake_{name}", "recframe"
        self.dist = FakeDist(package or f"fake-{name}")
        self._load = load or (lambda: plugin_module())

    def load(self) -> object:
        return self._load()


def plugin_module(*classes: object, on_register=None) -> types.ModuleType:
    module = types.ModuleType("fake_plugin")

    @hookimpl
    def recframe_register_components():
        if on_register is not None:
            on_register()
        return list(classes)

    module.recframe_register_components = recframe_register_components
    return module


def install(monkeypatch, *entry_points: FakeEntryPoint, disabled: str | None = None) -> None:
    real = importlib.metadata.entry_points

    def fake(**params):
        return list(entry_points) if params == {"group": "recframe"} else real(**params)

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    if disabled is None:
        monkeypatch.delenv(DISABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(DISABLE_ENV, disabled)


def write(folder: Path, text: str, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- 5: plugins and standard output


def _printing() -> types.ModuleType:
    print("HELLO from a plugin's import")
    return plugin_module(on_register=lambda: print("HELLO from a registration hook"))


def _closing() -> types.ModuleType:
    sys.stdout.close()
    return plugin_module()


@pytest.mark.parametrize("load", [_printing, _closing], ids=["prints", "closes-stdout"])
@pytest.mark.parametrize("command", [["plugins", "--json"], ["config", "schema"]])
def test_what_a_plugin_prints_or_closes_while_loading_never_reaches_the_json(monkeypatch, capsys, load, command):
    install(monkeypatch, FakeEntryPoint("chatty", load))
    assert main(command) == 0
    out, err = capsys.readouterr()
    json.loads(out)  # the whole output is the JSON document
    assert "HELLO" not in out
    if load is _printing:
        assert "HELLO from a plugin's import" in err and "HELLO from a registration hook" in err


def test_discovery_in_a_library_leaves_the_hosts_standard_output_alone(monkeypatch):
    """Threads discovering plugins at once (``from_config``, ``load``) never rebind the process's sys.stdout.

    Each used to swap it for a redirect to stderr and put back what it saw: a thread that saw
    another's redirect put that back last, and the host's prints went to stderr for good.
    """
    install(monkeypatch, FakeEntryPoint("chatty", _printing))
    host = sys.stdout
    seen: list[object] = []
    start = threading.Barrier(4)

    def discover() -> None:
        start.wait()
        for _ in range(10):
            PluginRegistry.from_environment()
            seen.append(sys.stdout)

    threads = [threading.Thread(target=discover) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sys.stdout is host and all(stream is host for stream in seen)


def test_what_a_plugin_prints_while_fitting_never_reaches_the_json(monkeypatch, capsys, tmp_path):
    class Chatty(ItemCFRanker):
        name = "chatty_cf"

        def fit(self, *args, **kwargs):
            print("HELLO from fit")
            return super().fit(*args, **kwargs)

    install(monkeypatch, FakeEntryPoint("chatty", lambda: plugin_module(Chatty)))
    run_file = write(tmp_path, SMALL.replace("type: item_cf", "type: chatty_cf"))
    assert main(["recommend", str(run_file), "--user", "1", "--json", "-q"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["user"] == 1
    assert "HELLO from fit" in err


def test_a_closed_standard_output_is_a_clear_error_not_a_traceback(monkeypatch, capsys):
    install(monkeypatch)
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    assert main(["data", "list"]) == 1
    assert capsys.readouterr().err.startswith("error: standard output is closed, so the result can't be printed")


# --------------------------------------------------------------------------- 6: links in the run folder


@pytest.fixture
def earlier_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "timedecay")
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    mine = tmp_path / "mine.txt"
    mine.write_text("mine", encoding="utf-8")
    return run_file, out, mine


def _listed(out: Path, name: str) -> None:
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"].append(name)
    (out / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize(
    "case",
    ["replaced file (report.html)", "removed file (old.csv)", "folder on the way (sub/)", "manifest.json"],
)
def test_overwrite_refuses_a_link_wherever_it_would_write_or_remove(earlier_run, capsys, monkeypatch, case):
    run_file, out, mine = earlier_run
    if case.startswith("replaced"):
        link = out / "report.html"
        link.unlink()
    elif case.startswith("removed"):
        link = out / "old.csv"
        _listed(out, "old.csv")
    elif case.startswith("folder"):
        link = out / "sub"
        _listed(out, "sub/mine.txt")
    else:
        link = out / MANIFEST
        mine.write_text((out / MANIFEST).read_text(encoding="utf-8"), encoding="utf-8")
        link.unlink()
    link.symlink_to(mine.parent if case.startswith("folder") else mine)
    before = mine.read_text(encoding="utf-8")
    from recframe.recommender import Recommender

    monkeypatch.setattr(Recommender, "load_data", lambda self: pytest.fail("worked before refusing"))
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: {link.name!r} is a symbolic link where this run would write")
    assert "move the link away or choose another --output" in err
    assert link.is_symlink() and mine.read_text(encoding="utf-8") == before


def test_compare_output_refuses_a_link_it_would_replace(earlier_run, capsys):
    _, out, mine = earlier_run
    other = out.parent / "cmp"
    assert main(["compare", str(out), str(out), "-o", str(other), "-q", "--allow-different-data"]) == 0
    (other / "comparison.md").unlink()
    (other / "comparison.md").symlink_to(mine)
    capsys.readouterr()
    assert main(["compare", str(out), str(out), "-o", str(other), "--overwrite", "-q"]) == 2
    assert "'comparison.md' is a symbolic link" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "mine"


# --------------------------------------------------------------------------- 10: RECFRAME_DISABLE_PLUGINS


def _failing() -> types.ModuleType:
    return plugin_module(on_register=lambda: 1 / 0)


@pytest.mark.parametrize(("name", "suggested"), [("d,x", "fake-d"), (" padded", "fake-d"), ("plain", "plain")])
def test_the_warning_suggests_a_name_the_variable_can_hold(monkeypatch, name, suggested):
    install(monkeypatch, FakeEntryPoint(name, _failing, package="fake-d"))
    with pytest.warns(PluginLoadWarning, match=rf"or set {DISABLE_ENV}={suggested} to skip it$"):
        registry = PluginRegistry.from_environment()
    assert [p.status for p in registry.plugins if p.package == "fake-d"] == ["failed"]
    install(monkeypatch, FakeEntryPoint(name, _failing, package="fake-d"), disabled=suggested)
    registry = PluginRegistry.from_environment()  # what the warning said works: no warning
    assert [p.status for p in registry.plugins if p.package == "fake-d"] == ["blocked"]


@pytest.mark.parametrize("given", ["timedecay", "recframe-timedecay", "Recframe_TimeDecay"])
def test_the_message_names_the_entry_of_the_variable_that_disabled_a_plugin(monkeypatch, given):
    install(monkeypatch, FakeEntryPoint("timedecay", package="recframe-timedecay"), disabled=given)
    registry = PluginRegistry.from_environment()
    with pytest.raises(Exception, match=rf"disabled by {DISABLE_ENV}; remove {given!r} from it to use 'time_decay'"):
        registry.get("matrix", "time_decay")


def test_names_matching_no_plugin_are_warned_about_once(monkeypatch):
    install(monkeypatch, FakeEntryPoint("alpha"), disabled="alpha,nothere,also-missing")
    with pytest.warns(RecframeWarning) as caught:
        registry = PluginRegistry.from_environment()
    messages = [str(w.message) for w in caught]
    assert messages == [
        f"{DISABLE_ENV} names no installed plugin: 'nothere', 'also-missing', ignored; give entry-point or "
        "distribution names, comma-separated (installed: alpha)"
    ]
    assert [p.status for p in registry.plugins if p.name == "alpha"] == ["blocked"]


def test_disabled_given_in_python_is_a_name_or_names(monkeypatch):
    install(monkeypatch, FakeEntryPoint("timedecay", package="recframe-timedecay"))
    registry = PluginRegistry.from_environment(disabled="timedecay")  # one name, not its characters
    assert [p.status for p in registry.plugins if p.name == "timedecay"] == ["blocked"]
    for odd in ([None], 3, b"timedecay"):
        with pytest.raises(TypeError, match=r"^disabled: "):
            PluginRegistry.from_environment(disabled=odd)


# --------------------------------------------------------------------------- 11: the runner's Python arguments


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"output_dir": 123}, r"execute: output_dir must be a folder path .*; got int 123"),
        ({"output_dir": b"out"}, r"execute: output_dir must be a folder path .*; got bytes b'out'"),
        ({"output_dir": ""}, r"execute: output_dir must be a folder path"),
        ({"registry": None}, r"execute: registry must be a PluginRegistry .*; got NoneType None"),
        ({"config": {"name": "x"}}, r"execute: config must be a RunConfig .*; got dict"),
        ({"overwrite": "no"}, r"execute: overwrite must be True or False; got str 'no'"),
        ({"resume": 1}, r"execute: resume must be True or False; got int 1"),
    ],
)
def test_execute_refuses_arguments_of_the_wrong_type(tmp_path, registry, change, message):
    config = load_config(write(tmp_path, SMALL), registry)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("mine", encoding="utf-8")
    args = {"config": config, "registry": registry, "output_dir": out, "overwrite": False, "resume": False}
    args.update(change)
    with pytest.raises(TypeError, match=message):
        execute(args.pop("config"), args.pop("registry"), args.pop("output_dir"), **args)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_execute_takes_a_str_output_folder(tmp_path, registry, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(write(tmp_path, SMALL.replace("report: true", "report: false")), registry)
    outcome = execute(config, registry, "out")
    assert (tmp_path / "out" / MANIFEST).is_file() and outcome.output_dir == Path("out")


# --------------------------------------------------------------------------- 12c, 12d: what configs show


class KeyedConfig(ItemCFConfig):
    """Parameters of :class:`KeyedRanker`."""

    api_key: str = ""
    """A credential in a plain str field."""
    clientSecret: str = ""  # the camelCase spelling of some plugin authors
    """Another."""
    max_tokens: int = 3
    """Not a credential."""


class KeyedRanker(ItemCFRanker):
    name = "keyed_cf"
    Config = KeyedConfig


def test_fields_named_like_credentials_are_masked_in_every_dump(monkeypatch, capsys, tmp_path):
    install(monkeypatch, FakeEntryPoint("keyed", lambda: plugin_module(KeyedRanker)))
    text = SMALL.replace("{type: item_cf, n: 5}", "{type: keyed_cf, n: 5, api_key: sk-live-4242, clientSecret: s3cr3t}")
    run_file = write(tmp_path, text)
    assert main(["config", "validate", str(run_file)]) == 0
    shown = capsys.readouterr().out
    assert "api_key: '***'" in shown and "clientSecret: '***'" in shown and "max_tokens: 3" in shown
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"sk-live-4242" not in data and b"s3cr3t" not in data, path
    config = KeyedConfig(api_key="sk-live-4242")
    assert config.model_dump()["api_key"] == "sk-live-4242"  # Python mode: the value itself, for use


def test_a_yaml_date_is_shown_as_the_file_spells_it(tmp_path, capsys):
    run_file = write(tmp_path, SMALL.replace("name: small", "name: 2020-01-01"))
    assert main(["config", "validate", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {run_file}:1: name: must be a non-empty string; got 2020-01-01, which YAML reads as a date: "
        "quote the name\n"
    )
    for spelled, kind in (("on", "a boolean"), ("2024", "a number")):  # a folder name YAML reads as no text
        write(tmp_path, SMALL.replace("name: small", f"name: {spelled}"))
        assert main(["config", "validate", str(run_file)]) == 2
        assert capsys.readouterr().err.endswith(f", which YAML reads as {kind}: quote the name\n")
