"""Sweep edges (issue 11): any value a run file can hold can be swept, tables spell values as YAML,
kept settings are checked before a resume re-uses them, and a kept sweep says whose it is."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from recframe.cli import main
from recframe.config import validate_run
from recframe.config.flow_text import yaml_text
from recframe.evaluation.report_charts import _sweep_chart, plotting_available
from recframe.recommender import Recommender
from recframe.runner import partial_dir
from recframe.runner.sweep import describe, run_sweep
from recframe.runner.sweep_resume import kept_result_problem, result_from_json, result_to_json

BASE = {
    "name": "edges",
    "seed": 3,
    "data": {"type": "synthetic", "n_users": 30, "n_items": 20},
    "similarity": {"type": "sparse", "k": 4},
    "ranker": {"type": "item_cf", "n": 3},
    "evaluation": {"split": {"type": "temporal_global", "quantile": 0.8}, "metrics": ["ndcg@3", "hit_rate@3"]},
}


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


def write_run(folder: Path, sweep: dict, file_name: str = "run.yaml", **changes: object) -> Path:
    path = folder / file_name
    path.write_text(yaml.safe_dump({**BASE, **changes, "sweep": sweep}, sort_keys=False))
    return path


def interrupt_at(monkeypatch, setting: int) -> list[int]:
    """Make the `setting`-th evaluation raise KeyboardInterrupt (0: never); return the evaluations made."""
    real = Recommender._evaluate  # what evaluate, a run and a sweep's settings all call
    calls: list[int] = []

    def evaluate(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == setting:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "_evaluate", evaluate)
    return calls


# ------------------------------------------------------- 1. lists, mappings and null in any swept key

FIRST = {
    "scalar": ("ranker.n", [3, 4]),
    "list": ("data.filters", [[], [{"type": "k_core", "min_user_interactions": 2}]]),
    "mapping": ("matrix", [{"type": "ratings"}, {"type": "binary"}]),
    "null": ("ranker.fallback", [None, "popularity"]),
}
LATER = {
    "scalar": [("similarity.k", [3, 5])],
    "list": [
        ("ranker.fallback", [["popularity"], []]),
        ("data.filters", [[], [{"type": "k_core", "min_item_interactions": 2}]]),
    ],
    "mapping": [("similarity", [{"type": "sparse", "k": 4}, {"type": "sklearn_nn", "k": 4}])],
    "null": [("ranker.prediction_k", [None, 3])],
}


@pytest.mark.parametrize("later", list(LATER))
@pytest.mark.parametrize("first", list(FIRST))
def test_any_kind_of_value_in_any_swept_key_gives_tables_and_a_report(tmp_path, capsys, first, later):
    first_key, first_values = FIRST[first]
    later_key, later_values = next((k, v) for k, v in LATER[later] if k != first_key)
    run_file = write_run(tmp_path, {first_key: first_values, later_key: later_values})
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0, capsys.readouterr().err
    assert (out / "report.html").is_file()
    if plotting_available():
        assert sorted(p.name for p in (out / "charts").iterdir()) == ["sweep_hit_rate_at_3.png", "sweep_ndcg_at_3.png"]
    rows = list(csv.reader((out / "sweep.csv").read_text().splitlines()))
    expected = [[yaml_text(a), yaml_text(b)] for a in first_values for b in later_values]
    assert [row[1:3] for row in rows[1:]] == expected
    assert not partial_dir(out).exists()


@pytest.mark.skipif(not plotting_available(), reason="charts need matplotlib")
def test_the_chart_tells_apart_values_python_thinks_equal():
    """``True == 1`` and ``hash(True) == hash(1)``: grouped by their text, they are two lines."""
    result = SimpleNamespace(metrics={"m": 0.5}, metrics_std={"m": 0.0})
    rows = [
        SimpleNamespace(number=i, values=values, result=result)
        for i, values in enumerate([(3, 1), (3, True), (4, 1), (4, True), (5, {"a": [1]}), (5, None)], start=1)
    ]
    sweep = SimpleNamespace(params=["k", "x"], rows=rows, metrics=["m"], best={"m": 1})
    figure = _sweep_chart(sweep, "m")
    labels = figure.axes[0].get_legend_handles_labels()[1]
    assert labels == ["x=1", "x=yes", "x=a=1", "x=-"]


# ------------------------------------------------------------------- 9. values spelled as YAML


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (0.25, "0.25"),
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
        ("item_cf", "item_cf"),
        ("3", "'3'"),
        ("null", "'null'"),
        ("yes", "'yes'"),
        ("a, b", "'a, b'"),
        ("", "''"),
        ("two\nlines", '"two\\nlines"'),
        ([], "[]"),
        ({}, "{}"),
        ((1, None), "[1, null]"),
        ({"type": "synthetic", "n_users": 40}, "{type: synthetic, n_users: 40}"),
        ([{"type": "k_core", "min_user_interactions": 2}], "[{type: k_core, min_user_interactions: 2}]"),
        ({"a": {"b": [True, None]}}, "{a: {b: [true, null]}}"),
        (np.int64(7), "7"),
        (np.bool_(False), "false"),
        ("postgresql://u:hunter2@db/x", "'postgresql://u:***@db/x'"),
    ],
)
def test_values_are_spelled_as_a_run_file_spells_them(value, text):
    assert yaml_text(value) == text


def test_a_shortened_value_costs_little_whatever_its_size():
    huge = {"filters": [{"type": "k_core", "name": "x" * 1_000_000}] * 100_000}
    start = time.perf_counter()
    text = yaml_text(huge, limit=40)
    assert time.perf_counter() - start < 0.5
    assert text == "{filters: [{type: k_core, name: xxxxx..." and len(text) == 40
    nested: list = []
    for _ in range(10_000):
        nested = [nested]
    assert yaml_text(nested, limit=20).endswith("...")
    assert describe(["a", "b"], [None, {"type": "x"}]) == "a=null, b={type: x}"


def test_sweep_tables_labels_and_messages_spell_values_as_yaml(tmp_path, capsys):
    data = {"type": "synthetic", "n_users": 30, "n_items": 20}
    sweep = {"ranker.fallback": ["popularity", None], "ranker.exclude_seen": [True], "data": [data]}
    run_file = write_run(tmp_path, sweep)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out)]) == 0
    printed, err = capsys.readouterr()
    table = (out / "sweep.md").read_text()
    assert printed.startswith(table)  # the terminal table is sweep.md
    assert "| 1 | popularity | true | {type: synthetic, n_users: 30, n_items: 20} |" in table
    assert "| 2 | null | true | {type: synthetic, n_users: 30, n_items: 20} |" in table
    assert "(ranker.fallback=popularity, ranker.exclude_seen=true, data={type: synthetic, n_users: 30, n_items: 20})" \
        in table
    rows = list(csv.reader((out / "sweep.csv").read_text().splitlines()))
    assert rows[2][:4] == ["2", "null", "true", "{type: synthetic, n_users: 30, n_items: 20}"]
    logged = [line for line in err.splitlines() if line.startswith("sweep setting 2 of 2")]
    assert logged == ["sweep setting 2 of 2: ranker.fallback=null, ranker.exclude_seen=true, data={type: synthetic, "
                      "n_users: 30, n_items: 20}"]
    for text in (table, (out / "sweep.csv").read_text(), *logged):
        for python in ("None", "True", "False", "{'", "'type'"):
            assert python not in text


def test_a_failing_setting_is_named_in_yaml_spelling(tmp_path, capsys):
    sweep = {"ranker.exclude_seen": [False], "matrix": [{"type": "binary", "threshold": 1e9}]}
    run_file = write_run(tmp_path, sweep)
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err
    label = "ranker.exclude_seen=false, matrix={type: binary, threshold: 1000000000.0}"
    assert f"error: sweep setting 1 of 1 ({label}): " in err


# --------------------------------------------------------- 7. kept settings are checked before re-use


@pytest.fixture(scope="module")
def kept_result() -> tuple[str, list]:
    """A kept result.json of a real setting, and the metric objects of its run."""
    from recframe.registry import PluginRegistry

    registry = PluginRegistry.from_environment(entry_points=False)
    config = validate_run({**BASE, "sweep": {"ranker.n": [3]}}, registry)
    result = run_sweep(config, registry).rows[0].result
    assert config.evaluation is not None
    return result_to_json(result), [spec.build(registry) for spec in config.evaluation.metrics]


def _edit(text: str, change) -> str:
    document = json.loads(text)
    change(document, document["folds"][0])
    return json.dumps(document).replace("Infinity", "1e999")  # as a person would write it; read as inf


def _set(mapping: dict, key: str, value: object) -> None:
    mapping[key] = value


UNREADABLE = {
    "infinite per-user value (1e999)": (
        lambda d, f: f["per_user"]["ndcg@3"]["values"].__setitem__(0, 1e999), r"per_user 'ndcg@3' holds inf"),
    "nan metric": (lambda d, f: _set(f["metrics"], "ndcg@3", math.nan), r"metric 'ndcg@3' is nan; expected a finite"),
    "text metric": (lambda d, f: _set(f["metrics"], "ndcg@3", "0.5"), r"metric 'ndcg@3' is '0.5'"),
    "boolean metric": (lambda d, f: _set(f["metrics"], "ndcg@3", True), r"metric 'ndcg@3' is True"),
    "short per-user array": (
        lambda d, f: f["per_user"]["ndcg@3"]["values"].pop(), r"per_user 'ndcg@3' has \d+ values for \d+ users"),
    "object per-user array": (
        lambda d, f: _set(f["per_user"]["ndcg@3"], "dtype", "|O"), r"per_user 'ndcg@3' has dtype '\|O'"),
    "text per-user array": (
        lambda d, f: _set(f["per_user"]["ndcg@3"], "dtype", "<U5"), r"per_user 'ndcg@3' has dtype '<U5'"),
    "two-dimensional array": (
        lambda d, f: _set(f["per_user"]["ndcg@3"], "values", [[v] for v in f["per_user"]["ndcg@3"]["values"]]),
        r"per_user 'ndcg@3' holds \["),
    "numbers as text ids": (lambda d, f: _set(f["users"], "dtype", "<U1"), r"users holds \d+; expected text"),
    "ids cut short by their dtype": (
        lambda d, f: f.__setitem__("users", {"dtype": "<U2", "values": [f"u{u}00" for u in f["users"]["values"]]}),
        r"users: dtype '<U2' does not hold"),
    "ids of a huge dtype": (
        lambda d, f: _set(f["users"], "dtype", "<U100000000"), r"users holds \d+; expected text \(dtype <U100000000\)"),
    "unknown dtype": (lambda d, f: _set(f["users"], "dtype", "nonsense"), r"data type 'nonsense' not understood"),
    "negative count": (lambda d, f: _set(f["counts"], "n_test", -1), r"count 'n_test' is -1; expected a non-negative"),
    "missing entry": (lambda d, f: f.pop("counts"), r"fold 1 has the entries \['metrics', 'per_user', 'users'\]"),
    "extra entry": (lambda d, f: _set(f, "extra", 1), r"fold 1 has the entries"),
    "no folds": (lambda d, f: _set(d, "folds", []), r"no folds"),
    "a fold that is a list": (lambda d, f: d["folds"].append([]), r"fold 2 is \[\]; expected a mapping"),
    "warnings not text": (lambda d, f: _set(d, "warnings", [1]), r"warnings: 1 is not text"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_a_damaged_kept_result_is_not_read(kept_result, case):
    text, _ = kept_result
    change, message = UNREADABLE[case]
    with pytest.raises(ValueError, match=r"^not an evaluation result written by recframe: .*" + message):
        result_from_json(_edit(text, change))


def test_kept_text_ids_are_read_at_their_own_width(kept_result):
    """A fold's users need not hold the data's longest id: the width written (the data's) is not theirs."""
    text, _ = kept_result

    def as_text(d: dict, f: dict) -> None:
        f["users"] = {"dtype": "<U100000000", "values": [f"user-{u}" for u in f["users"]["values"]]}

    users = result_from_json(_edit(text, as_text)).folds[0].users
    assert users.dtype == np.dtype(f"<U{max(len(u) for u in users.tolist())}")


def test_a_metric_not_averaged_as_a_plain_mean_is_kept():
    """Micro averaging (or users without relevant items counted as 0) makes the run's value other than the mean."""
    from recframe.registry import PluginRegistry

    registry = PluginRegistry.from_environment(entry_points=False)
    config = validate_run({**BASE, "evaluation": {**BASE["evaluation"], "metrics": [
        {"recall@3": {"averaging": "micro"}}, "hit_rate@3"]}, "sweep": {"ranker.n": [3]}}, registry)
    assert config.evaluation is not None
    micro = [spec.build(registry) for spec in config.evaluation.metrics]
    result = run_sweep(config, registry).rows[0].result
    label = str(micro[0].label)
    assert result.folds[0].metrics[label] != float(np.mean(result.folds[0].per_user[label]))
    assert kept_result_problem(result_from_json(result_to_json(result)), micro) is None


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


UNFITTING = {
    "renamed metric": (
        lambda d, f: _rename(f["metrics"], "ndcg@3", "evil"), r"fold 1 has the metrics \['hit_rate@3', 'evil'\]"),
    "metrics in another order": (
        lambda d, f: _rename(f["metrics"], "ndcg@3", "ndcg@3"), r"this run computes \['ndcg@3', 'hit_rate@3'\]"),
    "renamed per-user metric": (
        lambda d, f: _rename(f["per_user"], "ndcg@3", "evil"),
        r"fold 1 has per-user values of \['hit_rate@3', 'evil'\]"),
    "value out of bounds": (
        lambda d, f: f["per_user"]["ndcg@3"]["values"].__setitem__(0, 7.0), r"'ndcg@3' has values outside its bounds"),
    "mean not the users' mean": (
        lambda d, f: _set(f["metrics"], "ndcg@3", f["metrics"]["ndcg@3"] / 2 + 0.01), r"not the mean of its users'"),
    "evaluated users miscounted": (lambda d, f: _set(f["counts"], "n_evaluated", 1), r"counts 1 evaluated users"),
}


@pytest.mark.parametrize("case", list(UNFITTING))
def test_a_kept_result_that_does_not_fit_the_run_is_named(kept_result, case):
    text, metrics = kept_result
    assert kept_result_problem(result_from_json(text), metrics) is None
    change, message = UNFITTING[case]
    problem = kept_result_problem(result_from_json(_edit(text, change)), metrics)
    assert problem is not None
    assert __import__("re").search(message, problem), problem


@pytest.mark.parametrize("case", ["infinite per-user value (1e999)", "renamed metric", "mean not the users' mean"])
def test_resume_evaluates_a_damaged_kept_setting_again(tmp_path, capsys, monkeypatch, case):
    sweep = {"ranker.n": [3, 4, 5]}
    run_file = write_run(tmp_path, sweep)
    whole, out = tmp_path / "whole", tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(whole), "-q"]) == 0
    interrupt_at(monkeypatch, 3)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 130
    kept = partial_dir(out) / "settings" / "2" / "result.json"
    change = {**UNREADABLE, **UNFITTING}[case][0]
    kept.write_text(_edit(kept.read_text(), change))
    monkeypatch.undo()
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")
    calls = interrupt_at(monkeypatch, 0)
    capsys.readouterr()
    assert main(["run", str(run_file), "-o", str(out), "-q", "--resume"]) == 0
    err = capsys.readouterr().err
    assert len(calls) == 2  # setting 2 again, and the last one as always
    assert "evaluating it again" in err
    assert ("settings/2: can't read the kept setting" in err) or ("sweep setting 2 of 3: the result kept" in err)
    for name in ("sweep.csv", "sweep.md", "sweep.json", "settings/2/per_user.csv", "settings/2/metrics.json"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert "inf" not in (out / "settings" / "2" / "per_user.csv").read_text()


def test_run_sweep_keeps_a_setting_evaluated_again(registry, kept_result):
    config = validate_run({**BASE, "sweep": {"ranker.n": [3, 4]}}, registry)
    good = result_from_json(kept_result[0])
    bad = result_from_json(_edit(kept_result[0], UNFITTING["renamed metric"][0]))
    kept: list[int] = []
    result = run_sweep(config, registry, done={1: bad}, on_result=lambda row: kept.append(row.number))
    assert kept == [1, 2]
    assert result.rows[0].result.metrics == good.metrics
    assert {row.result.data_fingerprint for row in result.rows} == {good.data_fingerprint}
    kept.clear()
    run_sweep(config, registry, done={1: good}, on_result=lambda row: kept.append(row.number))
    assert kept == [2]


@pytest.mark.parametrize("fingerprint", ["", "0" * 64], ids=["not recorded", "other data"])
def test_a_setting_kept_for_other_data_is_evaluated_again(registry, kept_result, fingerprint, caplog):
    """Data changed between an interruption and --resume: the setting's kept result is of other data."""
    config = validate_run({**BASE, "sweep": {"ranker.n": [3, 4]}}, registry)
    kept: list[int] = []
    with caplog.at_level("WARNING", logger="recframe.runner.sweep"):
        done = {1: dataclasses.replace(result_from_json(kept_result[0]), data_fingerprint=fingerprint)}
        run_sweep(config, registry, done=done, on_result=lambda row: kept.append(row.number))
    assert kept == [1, 2]
    why = "does not record the data" if not fingerprint else "the data changed since: sha256 000000000000... then"
    assert "sweep setting 1 of 2: the result kept from before does not fit this run" in caplog.text
    assert why in caplog.text


# --------------------------------------------------------------- 12e. whose interrupted sweep it is


def test_a_kept_sweep_names_the_run_file_it_belongs_to(tmp_path, capsys, monkeypatch):
    mine = write_run(tmp_path, {"ranker.n": [3, 4, 5]}, "mine.yaml")
    theirs = write_run(tmp_path, {"ranker.n": [3, 4, 6]}, "theirs.yaml", name="theirs")
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 2)
    assert main(["run", str(theirs), "-o", str(out), "-q"]) == 130
    partial = partial_dir(out)
    assert json.loads((partial / "origin.json").read_text())["path"] == str(theirs.resolve())
    capsys.readouterr()

    assert main(["run", str(mine), "-o", str(out), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"error: {partial}: an interrupted sweep of another run file, {theirs.resolve()}, keeps its finished "
        f"settings there, as it also writes to {out}; finish it with --resume on that run file, give "
        f"{mine.resolve()} another --output, or remove that folder to start again\n"
    )
    assert main(["run", str(mine), "-o", str(out), "-q", "--resume"]) == 2
    assert capsys.readouterr().err == (
        f"error: {partial}: the interrupted sweep kept there is of another run file, {theirs.resolve()}, that "
        f"writes to the same output folder; finish it with --resume on that run file, give {mine} another "
        f"--output, or remove that folder to start again\n"
    )
    assert main(["run", str(theirs), "-o", str(out), "-q"]) == 2
    assert f"an interrupted sweep of this run file, {theirs.resolve()}, keeps" in capsys.readouterr().err

    # a copy of the same sweep resumes it; afterwards nothing of the progress folder is left
    copy = tmp_path / "copy.yaml"
    shutil.copy(theirs, copy)
    monkeypatch.undo()
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")
    assert main(["run", str(copy), "-o", str(out), "-q", "--resume"]) == 0
    assert not partial.exists()


@pytest.mark.parametrize("origin", [None, "not json", '{"path": 3}'])
def test_a_kept_sweep_without_a_readable_origin_says_so(tmp_path, capsys, monkeypatch, origin):
    run_file = write_run(tmp_path, {"ranker.n": [3, 4]})
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 2)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 130
    partial = partial_dir(out)
    if origin is None:
        (partial / "origin.json").unlink()  # as kept by an earlier recframe
    else:
        (partial / "origin.json").write_text(origin)
    capsys.readouterr()
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"error: {partial}: an interrupted sweep writing to {out} keeps its finished settings there (of a run file "
        f"recframe did not record); pass --resume to continue it if it is {run_file.resolve()}'s, or remove that "
        f"folder to start again\n"
    )


def test_resume_evaluates_a_kept_setting_that_is_a_link_again_leaving_its_target(tmp_path, capsys, monkeypatch):
    run_file = write_run(tmp_path, {"ranker.n": [3, 4, 5]})
    whole, out = tmp_path / "whole", tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(whole), "-q"]) == 0
    interrupt_at(monkeypatch, 3)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 130
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(partial_dir(out) / "settings" / "2", elsewhere)
    shutil.rmtree(partial_dir(out) / "settings" / "2")
    (partial_dir(out) / "settings" / "2").symlink_to(elsewhere, target_is_directory=True)
    monkeypatch.undo()
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")
    capsys.readouterr()
    assert main(["run", str(run_file), "-o", str(out), "-q", "--resume"]) == 0
    assert "settings/2: is a link, not a setting recframe kept; evaluating it again" in capsys.readouterr().err
    assert sorted(p.name for p in elsewhere.iterdir()) == ["config.yaml", "result.json"]
    assert (out / "sweep.csv").read_bytes() == (whole / "sweep.csv").read_bytes()


def test_resume_after_the_data_changed_evaluates_every_setting_on_the_new_data(tmp_path, capsys, monkeypatch):
    """Interrupted, the data file edited, resumed: no setting of the old data is mixed into the tables."""
    rng = np.random.default_rng(4)
    data = tmp_path / "events.csv"

    def write_events(n: int) -> None:
        users, items = rng.integers(0, 40, n), rng.integers(0, 25, n)
        rows = (f"{u},{i},{t}\n" for t, (u, i) in enumerate(zip(users, items, strict=True)))
        data.write_text("user,item,timestamp\n" + "".join(rows))

    write_events(600)
    run_file = write_run(tmp_path, {"ranker.n": [3, 4, 5]}, data={"type": "csv", "path": str(data)})
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 3)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 130
    write_events(400)
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["run", str(run_file), "-o", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "sweep setting 1 of 3: the result kept from before does not fit this run (the data changed since" in err
    trained = {json.loads((out / "settings" / str(n) / "metrics.json").read_text())["n_train"] for n in (1, 2, 3)}
    assert len(trained) == 1 and trained.pop() < 400
    now = Recommender.from_config({"data": {"type": "csv", "path": str(data)}}).load_data().fingerprint()
    assert json.loads((out / "run.json").read_text())["data_fingerprint"] == f"sha256:{now}"


def test_resume_after_a_predefined_test_part_changed_evaluates_every_setting_on_it(tmp_path, capsys, monkeypatch):
    """The test part of a predefined split is read from its own source: editing it is a change of data too."""
    rng = np.random.default_rng(5)

    def write_events(path: Path, n: int) -> None:
        users, items = rng.integers(0, 30, n), rng.integers(0, 20, n)
        path.write_text("user,item\n" + "".join(f"{u},{i}\n" for u, i in zip(users, items, strict=True)))

    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    write_events(train, 500)
    write_events(test, 120)
    evaluation = {"split": "predefined", "test_data": {"type": "csv", "path": str(test)}, "metrics": ["hit_rate@3"]}
    run_file = write_run(tmp_path, {"ranker.n": [3, 4, 5]}, data={"type": "csv", "path": str(train)},
                         evaluation=evaluation)
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 3)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 130
    write_events(test, 60)
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["run", str(run_file), "-o", str(out), "--resume"]) == 0
    assert "sweep setting 1 of 3: the result kept from before does not fit this run (the data changed since" in (
        capsys.readouterr().err
    )
    tested = {json.loads((out / "settings" / str(n) / "metrics.json").read_text())["n_test"] for n in (1, 2, 3)}
    assert tested == {60}


def test_a_setting_whose_metrics_it_cant_compute_fails_the_sweep_before_any_setting_runs(tmp_path, capsys, monkeypatch):
    """rmse of a setting whose ranker can't predict is known before anything is fitted: no setting is evaluated."""
    run_file = write_run(tmp_path, {"ranker.n": [3, 4], "ranker.type": ["item_cf", "popularity"]})
    document = yaml.safe_load(run_file.read_text())
    document["evaluation"]["metrics"] = ["ndcg@3", "rmse"]
    run_file.write_text(yaml.safe_dump(document, sort_keys=False))
    calls = interrupt_at(monkeypatch, 0)
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "sweep setting 2 of 4 (ranker.n=3, ranker.type=popularity): rmse needs rating predictions" in err
    assert calls == [] and not partial_dir(tmp_path / "out").exists() and not (tmp_path / "out").exists()


def test_a_sweep_of_splits_shows_each_settings_spread(tmp_path, capsys):
    """The table took the fold count of setting 1 for all: a kfold setting lost its ± std, or one split gained ± 0."""
    splits = [{"type": "temporal_global", "quantile": 0.8}, {"type": "kfold", "n_folds": 3}]
    run = {**BASE, "evaluation": {"metrics": ["ndcg@3"]}, "sweep": {"evaluation.split": splits}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    assert main(["run", str(tmp_path / "run.yaml"), "-o", str(tmp_path / "out")]) == 0
    table = (tmp_path / "out" / "sweep.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert "±" not in rows[0] and "±" in rows[1], table
    assert "over each setting's folds" in table
    assert "mean ± std over the setting" in (tmp_path / "out" / "report.html").read_text()


def test_a_sweep_refuses_evaluation_compare(tmp_path, capsys):
    """A sweep wrote no comparison and said nothing, even of a folder that does not exist."""
    run = {**BASE, "evaluation": {**BASE["evaluation"], "compare": ["no_such_folder"]}, "sweep": {"ranker.n": [2, 3]}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    assert main(["run", str(tmp_path / "run.yaml"), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert "evaluation.compare: a sweep compares its own settings" in capsys.readouterr().err


def test_a_set_of_a_swept_key_is_refused(tmp_path, capsys):
    """Each setting took the sweep's value while the run's config.yaml showed the --set one."""
    run_file = write_run(tmp_path, {"ranker.n": [2, 3]})
    for key in ("ranker.n=7", "ranker={type: item_cf, n: 7}"):
        assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q", "--set", key]) == 2
        assert "the sweep varies ranker.n, so no setting would use this value" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------- a grid written wrong, or twice over


def test_a_sweep_key_given_nested_or_by_a_dotted_set_says_how_to_write_it(tmp_path, capsys):
    """`--set sweep.similarity.k=[5, 0]` said "must be a non-empty list of values" of a non-empty list."""
    run_file = write_run(tmp_path, {"ranker.n": [3, 4]})
    assert main(["config", "validate", str(run_file), "-q", "--set", "sweep.similarity.k=[5, 0]"]) == 2
    assert capsys.readouterr().err.strip().endswith(
        "sweep.similarity: must be a list of values; a sweep names each key whole and dotted, as similarity.k: "
        "[5, 0] (on the command line: --set 'sweep={similarity.k: [5, 0]}')"
    )


@pytest.mark.parametrize("values", [[5, 5], [5, 5.0], [{"type": "sparse"}, {"type": "sparse"}]])
def test_a_value_swept_twice_is_refused_not_run_twice(tmp_path, capsys, values):
    key = "similarity" if isinstance(values[0], dict) else "similarity.k"
    run_file = write_run(tmp_path, {key: values})
    assert main(["config", "validate", str(run_file), "-q"]) == 2
    assert "twice: each setting would run twice; list it once" in capsys.readouterr().err
    assert main(["config", "validate", str(run_file), "-q", "--set", "sweep={ranker.n: [3, 4]}"]) == 0
