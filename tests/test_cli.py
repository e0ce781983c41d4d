"""The ``recframe`` command: outputs, exit codes, messages, and nothing half-written."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from recframe import __version__
from recframe.cli import main

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
RUN_FILES = {
    "charts", "config.yaml", "manifest.json", "metrics.json", "model", "per_user.csv", "recommendations.csv",
    "report.html", "run.json",
}

SMALL = """\
name: small
seed: 3
data: {type: synthetic, n_users: 200, n_items: 100}
similarity: {type: sklearn_nn, k: 20}
ranker: {type: item_cf, n: 5}
evaluation:
  split: temporal_global
  metrics: [precision@5, ndcg@5]
"""


def write(tmp_path: Path, text: str, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    """Keep installed third-party plugins out of these tests' plugin listings."""
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write(tmp_path, SMALL)


def run_ok(argv: list[str], capsys) -> tuple[str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out, err


def leftovers(folder: Path) -> list[str]:
    """Names of staging folders left in `folder`."""
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- recframe run


def test_run_quickstart_writes_its_files_and_is_deterministic(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    out, err = run_ok(["run", str(QUICKSTART), "--output", str(first), "--quiet"], capsys)
    assert err == ""
    assert sorted(p.name for p in first.iterdir()) == sorted(RUN_FILES)

    lines = out.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert [line.split()[0] for line in lines[1:6]] == ["precision@10", "recall@10", "ndcg@10", "map@10", "hit_rate@10"]
    metrics = json.loads((first / "metrics.json").read_text())
    for line in lines[1:6]:
        label, value = line.split()
        assert float(value) == pytest.approx(metrics["metrics"][label], abs=5e-5)
    assert lines[6].startswith(f"evaluated {metrics['n_users']} users on {metrics['n_test']} held-out interactions")
    written = "config.yaml, recommendations.csv, metrics.json, per_user.csv, report.html, charts, model, run.json"
    assert lines[7].startswith(f"wrote {written} to {first} in ")

    with (first / "recommendations.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["user", "item", "rank", "score"]
    assert len(rows) == 1 + 2000 * 10
    assert rows[1][2] == "1" and rows[10][2] == "10"

    run = json.loads((first / "run.json").read_text())
    assert run["recframe_version"] == __version__
    assert run["seed"] == 42
    assert run["data_fingerprint"].startswith("sha256:") and len(run["data_fingerprint"]) == 7 + 64
    assert run["timings_s"]["total"] > 0
    assert run["components"]["ranker"] == {"type": "item_cf", "package": "recframe", "version": __version__}

    resolved = yaml.safe_load((first / "config.yaml").read_text())
    assert resolved["similarity"] == {
        "type": "sklearn_nn",
        "k": 50,
        **{k: v for k, v in resolved["similarity"].items() if k not in ("type", "k")},
    }
    assert resolved["ranker"]["fallback"]["type"] == "popularity"

    run_ok(["run", str(QUICKSTART), "--output", str(second), "--quiet"], capsys)
    charts = sorted(p.relative_to(first).as_posix() for p in (first / "charts").iterdir())
    per_user = [f"charts/per_user_{m}_at_10.png" for m in ("hit_rate", "map", "ndcg", "precision", "recall")]
    assert charts == ["charts/long_tail.png", *per_user]
    for name in ("recommendations.csv", "metrics.json", "config.yaml", "per_user.csv", "report.html", *charts):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_run_twice_on_a_small_config_is_byte_identical(small, tmp_path, capsys):
    run_ok(["run", str(small), "-o", str(tmp_path / "a"), "-q"], capsys)
    run_ok(["run", str(small), "-o", str(tmp_path / "b"), "-q"], capsys)
    for name in ("recommendations.csv", "metrics.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    a, b = (json.loads((tmp_path / d / "run.json").read_text()) for d in "ab")
    assert a["data_fingerprint"] == b["data_fingerprint"]


def test_set_takes_effect_and_is_written_to_the_resolved_config(small, tmp_path, capsys):
    out_dir = tmp_path / "k10"
    run_ok(["run", str(small), "--set", "similarity.k=10", "--set", "ranker.n=3", "-o", str(out_dir), "-q"], capsys)
    resolved = yaml.safe_load((out_dir / "config.yaml").read_text())
    assert resolved["similarity"]["k"] == 10
    assert resolved["ranker"]["n"] == 3
    with (out_dir / "recommendations.csv").open(newline="") as fh:
        ranks = {row["rank"] for row in csv.DictReader(fh)}
    assert ranks == {"1", "2", "3"}


def test_run_without_evaluation_writes_no_metrics_and_replaces_an_earlier_run(small, tmp_path, capsys):
    out_dir = tmp_path / "out"
    run_ok(["run", str(small), "-o", str(out_dir), "-q"], capsys)
    (out_dir / "notes.txt").write_text("mine")
    plain = write(tmp_path, "data: {type: synthetic, n_users: 200, n_items: 100}\noutput: {n: 2}\n", "plain.yaml")
    out, _ = run_ok(["run", str(plain), "-o", str(out_dir), "-q", "--overwrite"], capsys)
    assert "metric" not in out
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "config.yaml", "manifest.json", "model", "notes.txt", "recommendations.csv", "run.json"
    ]
    assert leftovers(tmp_path) == []


def test_output_dir_from_the_config_or_runs_name(small, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_ok(["run", str(small), "-q"], capsys)
    assert sorted(p.name for p in (tmp_path / "runs" / "small").iterdir()) == sorted(RUN_FILES)
    run_ok(["run", str(small), "-q", "--set", "output.dir=elsewhere", "--set", "output.recommendations=false"], capsys)
    written = sorted(p.name for p in (tmp_path / "elsewhere").iterdir())
    assert written == [
        "charts", "config.yaml", "manifest.json", "metrics.json", "model", "per_user.csv", "report.html", "run.json"
    ]


def test_quiet_prints_no_log_lines_but_normal_mode_does(small, tmp_path, capsys):
    _, err = run_ok(["run", str(small), "-o", str(tmp_path / "a")], capsys)
    assert "loaded " in err and "interactions from data 'synthetic'" in err
    _, err = run_ok(["run", str(small), "-o", str(tmp_path / "b"), "--quiet"], capsys)
    assert err == ""


# --------------------------------------------------------------------------- exit codes and failures


def assert_nothing_written(out_dir: Path) -> None:
    assert not out_dir.exists()
    assert leftovers(out_dir.parent) == []


def test_a_bad_config_exits_2_naming_file_and_line(tmp_path, capsys):
    path = write(tmp_path, SMALL.replace("k: 20", "k: 0"))
    out_dir = tmp_path / "out"
    assert main(["run", str(path), "-o", str(out_dir)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {path}:4: similarity.k: Input should be greater than 0; got 0\n"
    assert_nothing_written(out_dir)


def test_several_config_errors_are_printed_together(tmp_path, capsys):
    path = write(tmp_path, SMALL.replace("k: 20", "k: 0").replace("item_cf", "itemcf"))
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {path}:4: similarity.k: Input should be greater than 0; got 0"
    assert err[1].startswith(f"       {path}:5: ranker.type: unknown ranker 'itemcf'; did you mean 'item_cf'")


def test_a_bad_override_exits_2(small, tmp_path, capsys):
    assert main(["run", str(small), "--set", "similarity.k=-1", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == "error: --set similarity.k: Input should be greater than 0; got -1\n"
    assert main(["run", str(small), "--set", "similarity.k"]) == 2
    assert capsys.readouterr().err.startswith("error: --set 'similarity.k': expected KEY=VALUE")
    assert_nothing_written(tmp_path / "out")


def test_invalid_yaml_exits_2(tmp_path, capsys):
    path = write(tmp_path, "data: {type: synthetic\nseed: 1\n")
    assert main(["run", str(path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {path}:2: not valid YAML: ")


def test_a_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["config", "validate", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.yaml'}: no such config file\n"


def test_run_needs_a_data_section(tmp_path, capsys):
    path = write(tmp_path, "ranker: item_cf\n")
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    assert (
        capsys.readouterr().err == f"error: {path}: data: required for recframe run; e.g. data: {{type: synthetic}}\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["run"],
        ["run", "x.yaml", "--bogus"],
        ["recommend", "x.yaml"],
        ["recommend", "x.yaml", "--user", "1", "--n", "three"],
        ["config"],
    ],
    ids=["no-command", "unknown-command", "no-config", "unknown-option", "no-user", "bad-n", "no-action"],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("usage: recframe")
    assert "error: " in err


def test_help_and_version_exit_0(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    for line in (
        "0  success",
        "1  any other failure",
        "2  the config or the command line is wrong",
        "3  the data can't be used",
    ):
        assert line in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"recframe {__version__}\n"


def csv_config(tmp_path: Path, data_path: Path, fallback: str = "") -> Path:
    return write(
        tmp_path,
        f"name: csvrun\ndata: {{type: csv, path: {json.dumps(str(data_path))}}}\n"
        f"similarity: {{type: sklearn_nn, k: 3}}\nranker: {{type: item_cf, n: 3{fallback}}}\n",
        "csv.yaml",
    )


def test_a_missing_data_file_exits_3_and_writes_nothing(tmp_path, capsys):
    missing = tmp_path / "missing.csv"
    out_dir = tmp_path / "out"
    assert main(["run", str(csv_config(tmp_path, missing)), "-o", str(out_dir), "-q"]) == 3
    assert capsys.readouterr().err == f"error: {missing}: file not found (data.path)\n"
    assert_nothing_written(out_dir)


def test_a_malformed_row_exits_3_naming_file_and_line(tmp_path, capsys):
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\na,x,5\nb,y,4\nc,z,five\n", encoding="utf-8")
    out_dir = tmp_path / "nested" / "out"
    assert main(["run", str(csv_config(tmp_path, data)), "-o", str(out_dir), "-q"]) == 3
    assert capsys.readouterr().err == f"error: {data}:4: rating 'five' is not a number\n"
    assert not out_dir.parent.exists()


def test_a_failure_while_writing_leaves_nothing_behind(small, tmp_path, capsys, monkeypatch):
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    out_dir = tmp_path / "new" / "out"
    assert main(["run", str(small), "-o", str(out_dir), "-q"]) == 1
    assert capsys.readouterr().err == f"error: {out_dir}: can't write the run's files: No space left on device\n"
    assert len(calls) == 3
    assert not out_dir.parent.exists()
    assert leftovers(tmp_path) == []


def test_an_output_path_that_is_a_file_exits_2(small, tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("")
    assert main(["run", str(small), "-o", str(target), "-q"]) == 2
    assert capsys.readouterr().err == f"error: {target}: exists and is not a folder; choose another --output\n"
    assert leftovers(tmp_path) == []


# --------------------------------------------------------------------------- recommend and similar


def test_recommend_prints_a_table(small, capsys):
    out, _ = run_ok(["recommend", str(small), "--user", "3", "--n", "3", "-q"], capsys)
    lines = out.splitlines()
    assert lines[0] == "user 3 (item_cf):"
    assert lines[1].split() == ["rank", "item", "score"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3"]
    scores = [float(line.split()[2]) for line in lines[2:]]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_recommend_json_agrees_with_the_table(small, capsys):
    table, _ = run_ok(["recommend", str(small), "--user", "3", "--n", "3", "-q"], capsys)
    out, _ = run_ok(["recommend", str(small), "--user", "3", "--n", "3", "--json", "-q"], capsys)
    result = json.loads(out)
    assert result["user"] == 3 and result["source"] == "item_cf"
    assert [entry["item"] for entry in result["items"]] == [int(line.split()[1]) for line in table.splitlines()[2:]]
    assert all(isinstance(entry["score"], float) for entry in result["items"])


def test_recommend_an_unknown_user_falls_back_to_popularity(small, capsys):
    out, _ = run_ok(["recommend", str(small), "--user", "nobody", "--json", "-q"], capsys)
    result = json.loads(out)
    assert (result["user"], result["source"], len(result["items"])) == ("nobody", "popularity", 5)


def test_recommend_an_unknown_user_without_fallback_exits_3(tmp_path, capsys):
    path = write(tmp_path, SMALL.replace("{type: item_cf, n: 5}", "{type: item_cf, fallback: null}"))
    assert main(["recommend", str(path), "--user", "9999", "-q"]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "error: unknown user 9999; not in the training data\n"


def test_recommend_with_string_ids_from_a_csv(tmp_path, capsys):
    data = tmp_path / "likes.csv"
    data.write_text("user,item\nann,a\nann,b\nbob,a\nbob,c\ncy,b\ncy,c\ndee,a\n", encoding="utf-8")
    out, _ = run_ok(["recommend", str(csv_config(tmp_path, data)), "--user", "dee", "--json", "-q"], capsys)
    result = json.loads(out)
    assert result["user"] == "dee" and result["source"] == "item_cf"
    assert [entry["item"] for entry in result["items"]] == ["b", "c"]


def test_recommend_n_must_be_positive(small, capsys):
    assert main(["recommend", str(small), "--user", "3", "--n", "0", "-q"]) == 2
    assert capsys.readouterr().err.endswith("error: argument --n: must be from 1 to 10,000; got '0'\n")


def test_similar_prints_the_nearest_items(small, capsys):
    out, _ = run_ok(["similar", str(small), "--item", "7", "--n", "4", "-q"], capsys)
    lines = out.splitlines()
    assert lines[0] == "item 7 (sklearn_nn):"
    assert len(lines) == 2 + 4
    items = [line.split()[1] for line in lines[2:]]
    assert "7" not in items
    out, _ = run_ok(["similar", str(small), "--item", "7", "--n", "4", "--json", "-q"], capsys)
    result = json.loads(out)
    assert result["item"] == 7 and [str(entry["item"]) for entry in result["items"]] == items


def test_similar_an_unknown_item_exits_3(small, capsys):
    assert main(["similar", str(small), "--item", "700", "-q"]) == 3
    assert capsys.readouterr().err == "error: unknown item 700; not in the training data\n"


# --------------------------------------------------------------------------- plugins and config


def test_plugins_lists_the_builtins(capsys):
    out, _ = run_ok(["plugins"], capsys)
    lines = out.splitlines()
    assert lines[0].split() == ["kind", "name", "package", "version", "status"]
    assert ["ranker", "item_cf", "recframe", __version__, "ok"] in [line.split() for line in lines]


def test_plugins_json(capsys):
    out, _ = run_ok(["plugins", "--json"], capsys)
    rows = json.loads(out)
    assert {
        "kind": "similarity",
        "name": "sklearn_nn",
        "package": "recframe",
        "version": __version__,
        "status": "ok",
        "error": "",
    } in rows
    assert {row["kind"] for row in rows} >= {"data", "matrix", "similarity", "ranker", "splitter", "metric"}


def test_config_validate_prints_the_resolved_config(small, capsys):
    out, _ = run_ok(["config", "validate", str(small), "--set", "similarity.k=10"], capsys)
    first, _, rest = out.partition("\n")
    assert first == f"# {small}: valid"
    resolved = yaml.safe_load(rest)
    assert resolved["similarity"]["k"] == 10
    assert resolved["ranker"]["fallback"]["type"] == "popularity"


def test_config_schema_is_json_schema(capsys):
    out, _ = run_ok(["config", "schema"], capsys)
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(QUICKSTART.read_text()), schema)


def test_config_reference_is_markdown(capsys):
    out, _ = run_ok(["config", "reference"], capsys)
    assert out.startswith("# Configuration reference")
    assert "### `item_cf`" in out and "### `csv`" in out


def test_python_dash_m_recframe():
    result = subprocess.run(
        [sys.executable, "-m", "recframe", "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, f"recframe {__version__}\n", "")


def test_a_failed_rerun_leaves_the_earlier_run_as_it_was(small, tmp_path, capsys, monkeypatch):
    out_dir = tmp_path / "out"
    run_ok(["run", str(small), "-o", str(out_dir), "-q"], capsys)
    before = {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()}

    def failing_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert main(["run", str(small), "-o", str(out_dir), "-q", "--set", "ranker.n=2", "--overwrite"]) == 1
    assert capsys.readouterr().err == f"error: {out_dir}: can't write the run's files: Input/output error\n"
    assert {p.relative_to(out_dir): p.read_bytes() for p in out_dir.rglob("*") if p.is_file()} == before
    assert leftovers(tmp_path) == []


def test_an_unknown_option_without_a_command_is_named(capsys):
    """`recframe --bogus` said only that COMMAND was missing."""
    assert main(["--bogus"]) == 2
    assert "unrecognized arguments: --bogus (options of a command follow the command)" in capsys.readouterr().err
    assert main(["-q", "--output=x"]) == 2
    assert "unrecognized arguments: --output=x" in capsys.readouterr().err
    assert main(["-q"]) == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
