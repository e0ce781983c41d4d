"""The run folder: never deletes what recframe did not write, all or nothing, resumable sweeps, provenance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from recframe import ConfigError, PluginRegistry, __version__
from recframe.cli import main
from recframe.config import load_config
from recframe.recommender import Recommender
from recframe.runner import MANIFEST, execute, partial_dir

SMALL = """\
name: small
seed: 3
data: {type: synthetic, n_users: 120, n_items: 60}
similarity: {type: sparse, k: 10}
ranker: {type: item_cf, n: 5}
evaluation:
  split: temporal_global
  metrics: [precision@5, ndcg@5]
output: {report: false}
"""

SWEEP = {
    "name": "sw",
    "seed": 2,
    "data": {"type": "synthetic", "n_users": 120, "n_items": 60},
    "similarity": {"type": "sklearn_nn", "k": 10},
    "evaluation": {"split": {"type": "kfold", "n_folds": 2}, "metrics": ["ndcg@5", "precision@5"]},
    "sweep": {"similarity.k": [3, 6, 9, 12], "ranker.n": [5]},
}


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


def write(folder: Path, text: str, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def staging_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_a_folder_where_none_can_be_created_is_refused_before_any_work(tmp_path, capsys, monkeypatch):
    # /proc and /sys look writable (to root) but take no folder: it failed after the fit, with exit 1
    run_file = write(tmp_path, SMALL)
    fitted = []
    monkeypatch.setattr(Recommender, "fit", lambda *args, **kwargs: fitted.append(1))

    def refused(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("recframe.runner.folder.tempfile.mkdtemp", refused)
    assert main(["run", str(run_file), "-o", str(tmp_path / "out"), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path}: no folder can be created there (Operation not permitted); recframe writes the output "
        f"folder {tmp_path / 'out'} and stages its files beside it there; choose another --output\n"
    )
    assert fitted == [] and sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="Linux's /proc")
def test_proc_is_refused_before_any_work(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    assert main(["run", str(run_file), "-o", "/proc/recframe-output", "-q"]) == 2
    assert "error: /proc: no folder can be created there" in capsys.readouterr().err


# --------------------------------------------------------------------------- a folder that is not empty


def test_a_folder_that_is_not_empty_is_refused_and_left_alone(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    (out / "charts").mkdir(parents=True)
    (out / "charts" / "mine.png").write_bytes(b"my chart")
    (out / "report.html").write_text("my report")
    before = snapshot(out)
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"error: {out}: the output folder is not empty; pass --overwrite to replace the files an earlier run "
        f"wrote there (only those listed in {MANIFEST}; nothing else is touched), or choose another --output\n"
    ).replace(f"in {MANIFEST}", f"in its {MANIFEST}")
    assert snapshot(out) == before
    assert staging_leftovers(tmp_path) == []


def test_overwrite_never_replaces_a_file_recframe_did_not_write(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("my own metrics")  # no manifest: recframe wrote nothing here
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {out}: holds metrics.json, which recframe did not write (not in its {MANIFEST})")
    assert snapshot(out) == {"metrics.json": b"my own metrics"}
    assert staging_leftovers(tmp_path) == []


def test_overwrite_replaces_only_the_files_of_the_manifest(tmp_path, capsys):
    out = tmp_path / "out"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({**SWEEP, "sweep": {"similarity.k": [3, 6]}}))
    assert main(["run", str(sweep), "-o", str(out), "-q"]) == 0
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert "settings/1/metrics.json" in manifest and "sweep.csv" in manifest and MANIFEST in manifest
    # the user adds files of their own, also inside the folders recframe wrote
    (out / "charts" / "mine.png").write_bytes(b"my chart")
    (out / "settings" / "notes.txt").write_text("my notes")
    (out / "settings" / "1" / "extra.csv").write_text("mine")
    (out / "mine.txt").write_text("mine")
    run_file = write(tmp_path, SMALL)
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 0
    capsys.readouterr()
    files = snapshot(out)
    for name, content in {"charts/mine.png": b"my chart", "settings/notes.txt": b"my notes",
                          "settings/1/extra.csv": b"mine", "mine.txt": b"mine"}.items():
        assert files[name] == content, name
    # the sweep's own files are gone, the run's are there, and the manifest lists exactly those
    assert not (out / "sweep.csv").exists() and not (out / "settings" / "2").exists()
    assert not (out / "settings" / "1" / "metrics.json").exists()
    written = {name for name in json.loads((out / MANIFEST).read_text())["files"] if not name.startswith("model/")}
    assert written == {"config.yaml", "metrics.json", "per_user.csv", "recommendations.csv", "run.json", MANIFEST}
    theirs = {name for name in files if not name.startswith("model/")} - written
    assert theirs == {"charts/mine.png", "settings/notes.txt", "settings/1/extra.csv", "mine.txt"}


def test_overwrite_a_run_with_a_sweep_and_back(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    (out / "mine.txt").write_text("mine")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({**SWEEP, "sweep": {"similarity.k": [3, 6]}}))
    assert main(["run", str(sweep), "-o", str(out), "-q", "--overwrite"]) == 0
    assert (out / "settings" / "2" / "metrics.json").is_file() and not (out / "recommendations.csv").exists()
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 0
    assert not (out / "settings").exists() and (out / "recommendations.csv").is_file()
    assert (out / "mine.txt").read_text() == "mine"


def test_a_file_of_the_user_where_a_folder_goes_is_refused(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    (out / "settings").write_text("my file, not a folder")
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({**SWEEP, "sweep": {"similarity.k": [3, 6]}}))
    before = snapshot(out)
    assert main(["run", str(sweep), "-o", str(out), "-q", "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"error: {out}: holds settings/, which recframe did not write" in err  # found before any work
    assert not os.path.lexists(partial_dir(out))
    assert snapshot(out) == before


@pytest.mark.parametrize(
    ("listed", "problem"),
    [("../victim.txt", "is not a plain relative path"), ("/etc/passwd", "is an absolute path"),
     ("a/./b", "is not a plain relative path")],
)
def test_a_manifest_naming_paths_outside_the_folder_is_refused(tmp_path, capsys, listed, problem):
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / MANIFEST).write_text(json.dumps({"files": [listed, MANIFEST]}))
    assert main(["run", str(write(tmp_path, SMALL)), "-o", str(out), "-q", "--overwrite"]) == 2
    assert capsys.readouterr().err == (
        f"error: {out / MANIFEST}: lists {listed!r}, which {problem}; recframe writes only inside the run "
        f"folder, so this manifest is not its own\n"
    )
    assert victim.read_text() == "keep me"


def test_overwrite_does_not_follow_a_link_out_of_the_folder(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    elsewhere.mkdir()
    (elsewhere / "metrics.json").write_text("not recframe's")
    (out / "sub").symlink_to(elsewhere)
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"].append("sub/metrics.json")  # a manifest edited (or copied) to point through the link
    (out / MANIFEST).write_text(json.dumps(manifest))
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 2  # a link is never touched
    assert "'sub' is a symbolic link" in capsys.readouterr().err
    assert (elsewhere / "metrics.json").read_text() == "not recframe's"


def test_a_failure_while_moving_into_place_restores_the_earlier_run(tmp_path, capsys, monkeypatch):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    (out / "mine.txt").write_text("mine")
    before = snapshot(out)
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if len(calls) == 8:  # the earlier run's files are moved out, some new ones are in
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite", "--set", "ranker.n=2"]) == 1
    assert capsys.readouterr().err == f"error: {out}: can't write the run's files: No space left on device\n"
    assert len(calls) > 8  # the renames were undone
    assert snapshot(out) == before
    assert staging_leftovers(tmp_path) == []


def test_an_interrupt_while_moving_into_place_restores_the_earlier_run(tmp_path, capsys, monkeypatch):
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    before = snapshot(out)
    real_replace = os.replace
    calls = []

    def interrupted_replace(src, dst):
        calls.append(dst)
        if len(calls) == 9:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite", "--set", "ranker.n=2"]) == 130
    assert snapshot(out) == before
    assert staging_leftovers(tmp_path) == []


@pytest.mark.parametrize(("stopping", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_sigterm_while_moving_into_place_restores_the_earlier_run(tmp_path, stopping, status):
    """Found by an outside review: a scheduler's SIGTERM between two renames killed the command outright.

    The earlier run's files were left retired in a hidden folder, the new run's half in place,
    and every later --overwrite refused the folder. The command now stops as a Ctrl-C stops it.
    """
    run_file = write(tmp_path, SMALL)
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    before = snapshot(out)
    code = textwrap.dedent(f"""\
        import os, signal, sys
        from recframe.cli import entry
        real_replace, calls = os.replace, []
        def replace(src, dst):
            real_replace(src, dst)
            calls.append(dst)
            if len(calls) == 9:
                os.kill(os.getpid(), signal.{stopping})
        os.replace = replace
        sys.argv = ["recframe", "run", {str(run_file)!r}, "-o", {str(out)!r}, "-q", "--overwrite",
                    "--set", "ranker.n=2"]
        sys.exit(entry())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == status and f"terminated ({stopping})" in proc.stderr, proc.stderr[-2000:]
    assert snapshot(out) == before
    assert staging_leftovers(tmp_path) == []


def test_the_python_api_refuses_and_overwrites_alike(tmp_path, registry):
    config = load_config(write(tmp_path, SMALL), registry)
    out = tmp_path / "out"
    execute(config, registry, out)
    (out / "mine.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"out: the output folder is not empty; pass --overwrite"):
        execute(config, registry, out)
    outcome = execute(config, registry, out, overwrite=True)
    assert (out / "mine.txt").read_text() == "mine"
    assert {p.relative_to(out).parts[0] for p in outcome.files} == {
        "config.yaml", "metrics.json", "model", "per_user.csv", "recommendations.csv", "run.json"
    }


def test_compare_output_follows_the_same_rules(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(run_file), "-o", str(a), "-q"]) == 0
    assert main(["run", str(run_file), "-o", str(b), "-q", "--set", "ranker.n=3"]) == 0
    target = tmp_path / "cmp"
    target.mkdir()
    (target / "comparison.md").write_text("my notes")
    capsys.readouterr()
    argv = ["compare", str(a), str(b), "--bootstrap", "50", "-q", "--output"]
    assert main([*argv, str(target)]) == 2
    assert capsys.readouterr() == ("", f"error: {target}: the output folder is not empty; pass --overwrite to "
                                   f"replace the files an earlier run wrote there (only those listed in its "
                                   f"{MANIFEST}; nothing else is touched), or choose another --output\n")
    assert main([*argv, str(target), "--overwrite"]) == 2  # comparison.md is the user's
    assert (target / "comparison.md").read_text() == "my notes"
    # into a run folder: the run's files stay, listed, beside the comparison
    before = snapshot(a)
    assert main([*argv, str(a), "--overwrite"]) == 0
    after = snapshot(a)
    assert {k: after[k] for k in before if k != MANIFEST} == {k: v for k, v in before.items() if k != MANIFEST}
    listed = set(json.loads(after[MANIFEST])["files"])
    assert {"comparison.md", "comparison.csv", "comparison.json", "metrics.json", "run.json"} <= listed


# --------------------------------------------------------------------------- run names


@pytest.mark.parametrize(
    ("name", "why"),
    [("..", "it contains '..'"), ("../../x", "it contains a path separator"),
     ("/tmp/abs", "it contains a path separator"), ("a\\\\b", "it contains a path separator"),
     (".hidden", "it starts with '.'"), ("x" * 101, "it is 101 characters long, more than 100"),
     ("a:b", "it contains ':'")],
)
def test_a_run_name_that_is_not_one_folder_name_is_refused(tmp_path, capsys, monkeypatch, name, why):
    monkeypatch.chdir(tmp_path)
    run_file = write(tmp_path, f"seed: 1\nname: {json.dumps(name)}\ndata: {{type: synthetic}}\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert main(["run", str(run_file), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run_file}:2: name: '")
    assert f" can't name a run folder: {why}; a run name is written to runs/<name>" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_run_name_from_set_is_checked_too(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    assert main(["run", str(run_file), "-q", "--set", "name=../up"]) == 2
    assert capsys.readouterr().err.startswith("error: --set name: '../up' can't name a run folder")


@pytest.mark.parametrize(
    ("stem", "folder"), [("v1.0 (final)", "v1.0 _final_"), ("my;run", "my_run"), (".hid", "_hid"), ("a|b", "a_b")]
)
def test_a_run_file_named_what_no_run_name_holds_runs_under_that_name_made_valid(
    tmp_path, capsys, monkeypatch, stem, folder
):
    """Found by an outside review: the default name (the file's stem) was refused as if the file had a name: key."""
    monkeypatch.chdir(tmp_path)
    run_file = tmp_path / f"{stem}.yaml"
    run_file.write_text(SMALL.replace("name: small\n", ""))
    assert main(["run", str(run_file), "-q"]) == 0, capsys.readouterr().err
    assert (tmp_path / "runs" / folder / "run.json").is_file()
    assert json.loads((tmp_path / "runs" / folder / "run.json").read_text())["name"] == folder


# --------------------------------------------------------------------------- resumable sweeps


def interrupt_at(monkeypatch, setting: int, error: BaseException) -> list[int]:
    """Make the `setting`-th evaluation raise `error`; return the list of evaluations made."""
    real = Recommender._evaluate  # what evaluate, a run and a sweep's settings all call
    calls: list[int] = []

    def evaluate(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == setting:
            raise error
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Recommender, "_evaluate", evaluate)
    return calls


TABLES = ("config.yaml", "sweep.csv", "sweep.md", "sweep.json", "report.html")


def test_an_interrupted_sweep_resumes_to_the_same_tables_bit_for_bit(tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(SWEEP))
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    assert main(["run", str(sweep), "-o", str(whole), "-q"]) == 0

    calls = interrupt_at(monkeypatch, 3, KeyboardInterrupt())
    assert main(["run", str(sweep), "-o", str(resumed), "-q"]) == 130
    err = capsys.readouterr().err
    partial = partial_dir(resumed)
    assert f"sweep stopped: 2 of 4 settings are finished and kept in {partial}; run the same command with " in err
    assert "with --resume to continue" in err
    assert err.endswith("interrupted\n")
    assert not resumed.exists()
    assert sorted(p.name for p in (partial / "settings").iterdir()) == ["1", "2"]

    # without --resume the kept settings are neither lost nor silently re-used
    assert main(["run", str(sweep), "-o", str(resumed), "-q"]) == 2
    assert capsys.readouterr().err == (
        f"error: {partial}: an interrupted sweep of this run file, {sweep}, keeps its finished settings there; "
        f"pass --resume to continue it, or remove that folder to start again\n"
    )
    monkeypatch.undo()
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")
    calls = interrupt_at(monkeypatch, 0, KeyboardInterrupt())  # never raises: counts evaluations
    assert main(["run", str(sweep), "-o", str(resumed), "-q", "--resume"]) == 0
    assert len(calls) == 2  # settings 3 and 4 only
    assert not partial.exists()
    a, b = snapshot(whole), snapshot(resumed)
    assert set(a) == set(b)
    for name in a:
        if name != "run.json":  # timings differ
            assert a[name] == b[name], name
    assert all(name in a for name in TABLES)


def test_a_failing_setting_keeps_the_finished_ones(tmp_path, capsys, monkeypatch):
    from recframe import DataError

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 2, DataError("setting 2 broke"))
    assert main(["run", str(sweep), "-o", str(out), "-q"]) == 3
    err = capsys.readouterr().err
    assert "1 of 4 settings are finished and kept" in err
    assert err.endswith("error: sweep setting 2 of 4 (ranker.n=5, similarity.k=6): setting 2 broke\n")
    assert sorted(p.name for p in (partial_dir(out) / "settings").iterdir()) == ["1"]


def test_resume_refuses_a_changed_sweep(tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / "out"
    interrupt_at(monkeypatch, 2, KeyboardInterrupt())
    assert main(["run", str(sweep), "-o", str(out), "-q"]) == 130
    capsys.readouterr()
    assert main(["run", str(sweep), "-o", str(out), "-q", "--resume", "--set", "data.n_items=61"]) == 2
    err = capsys.readouterr().err
    partial = partial_dir(out)
    assert err.startswith(f"error: {partial / 'sweep.yaml'}:")
    assert "the sweep changed since it was interrupted: it was 'n_items: 60', now 'n_items: 61'; undo the change" in err
    assert (partial / "settings" / "1" / "result.json").is_file()


def test_a_sweep_that_fails_before_any_setting_leaves_nothing(tmp_path, capsys, monkeypatch):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump(SWEEP))
    out = tmp_path / "new" / "out"
    interrupt_at(monkeypatch, 1, KeyboardInterrupt())
    assert main(["run", str(sweep), "-o", str(out), "-q"]) == 130
    assert not (tmp_path / "new").exists()


def test_resume_needs_a_sweep(tmp_path, capsys):
    run_file = write(tmp_path, SMALL)
    assert main(["run", str(run_file), "-q", "--resume", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"error: {run_file}: --resume continues an interrupted sweep, and this run file has no sweep section\n"
    )


# --------------------------------------------------------------------------- provenance


def test_run_json_records_every_plugin_with_its_distribution(tmp_path, monkeypatch):
    monkeypatch.delenv("RECFRAME_DISABLE_PLUGINS")
    registry = PluginRegistry.from_environment()
    run_file = write(tmp_path, """\
        name: prov
        data:
          type: synthetic
          n_users: 120
          n_items: 60
          filters: [{type: k_core, min_user_interactions: 2}]
        matrix: {type: time_decay, half_life_days: 10}
        ranker: {type: user_cf, n: 5, fallback: [item_cf, popularity]}
        evaluation:
          split: per_user_holdout
          metrics: [ndcg@5, coverage@5]
        output: {report: false}
        """)
    outcome = execute(load_config(run_file, registry), registry, tmp_path / "out")
    components = json.loads((outcome.output_dir / "run.json").read_text())["components"]
    ours = {"package": "recframe", "version": metadata.version("recframe")}
    assert components == {
        "data": {"type": "synthetic", **ours},
        "data.filters[0]": {"type": "k_core", **ours},
        "matrix": {"type": "time_decay", "package": "recframe-timedecay",
                   "version": metadata.version("recframe-timedecay")},
        "similarity": {"type": "sklearn_nn", **ours},
        "ranker": {"type": "user_cf", **ours},
        "ranker.fallback[0]": {"type": "item_cf", **ours},
        "ranker.fallback[1]": {"type": "popularity", **ours},
        "evaluation.split": {"type": "per_user_holdout", **ours},
        "evaluation.metrics[0]": {"type": "ndcg", **ours},
        "evaluation.metrics[1]": {"type": "coverage", **ours},
        "executor": {"type": "local", **ours},
    }


def test_a_sweep_records_each_plugin_it_swept(tmp_path, registry):
    sweep = {**SWEEP, "sweep": {"ranker.type": ["item_cf", "user_cf"]}}
    run_file = tmp_path / "sweep.yaml"
    run_file.write_text(yaml.safe_dump(sweep))
    outcome = execute(load_config(run_file, registry), registry, tmp_path / "out")
    components = json.loads((outcome.output_dir / "run.json").read_text())["components"]
    assert [c["type"] for c in components["ranker"]] == ["item_cf", "user_cf"]
    assert components["matrix"]["type"] == "ratings"


def test_run_json_records_the_executor_and_the_optional_libraries_used(tmp_path, registry):
    run_file = tmp_path / "run.yaml"
    run_file.write_text("data: {type: synthetic, n_users: 60, n_items: 30}\nexecutor: {type: local, workers: 2}\n")
    outcome = execute(load_config(run_file, registry), registry, tmp_path / "out")
    record = json.loads((outcome.output_dir / "run.json").read_text())
    assert record["components"]["executor"] == {"type": "local", "package": "recframe", "version": __version__}
    libraries = record["libraries"]
    assert list(libraries)[:4] == ["numpy", "scipy", "scikit-learn", "pydantic"]
    for module in ("numba", "pandas", "pyarrow", "ray", "torch"):  # recorded where this process imported them
        assert (module in libraries) == (sys.modules.get(module) is not None), module
    pytest.importorskip("numba")  # imported now: the next run records it, with its version
    again = execute(load_config(run_file, registry), registry, tmp_path / "again")
    assert json.loads((again.output_dir / "run.json").read_text())["libraries"]["numba"] == metadata.version("numba")
