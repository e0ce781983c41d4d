"""The ``recframe`` command line: closed pipes, options anywhere, and exit 2 for every command-line mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from recframe.cli import EXIT_BROKEN_PIPE, main

SMALL = """\
name: small
seed: 3
data: {type: synthetic, n_users: 120, n_items: 60}
similarity: {type: sklearn_nn, k: 10}
ranker: {type: item_cf, n: 5}
evaluation:
  split: temporal_global
  metrics: [precision@5, ndcg@5]
output: {report: false}
"""


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- a closed pipe


@pytest.mark.parametrize("argv", [["plugins", "--json"], ["config", "schema"]])
def test_a_reader_that_goes_away_gets_no_traceback(argv):
    """``recframe plugins --json | head -c 10``: the reader closes the pipe before recframe writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "recframe", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == EXIT_BROKEN_PIPE == 141
    assert err == ""


@pytest.mark.parametrize("stopping", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_signal_after_the_command_finished_does_not_turn_its_success_into_an_interruption(stopping):
    """Found by outside reviews: a Ctrl-C after a run had written its files killed the exiting process (status 130).

    And a SIGTERM right after ``recframe update`` had printed "saved to" ended it with 143, the
    status that says the change was not saved, though it was. The command's entry point ignores
    these signals once :func:`main` has returned; the signal here comes just then, as the
    interpreter shuts down.
    """
    code = (
        "import os, signal, sys\nfrom recframe.cli import entry\n"
        "sys.argv = ['recframe', '--version']\nstatus = entry()\n"
        f"os.kill(os.getpid(), signal.{stopping})\nsys.exit(status)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "recframe" in proc.stdout and "KeyboardInterrupt" not in proc.stderr, proc


def test_a_reader_leaving_during_a_large_write_is_seen():
    """``recframe recommend --users-file ... | head -1``: one print of a 750 KB chunk, its reader gone midway.

    One write of it raised nothing (the part written before the reader left was reported, the
    rest vanished): the command exited 0 with its output cut. Written in pieces, it exits 141.
    """
    code = (
        "import sys\nfrom recframe.cli.common import _print\n"
        "try:\n    _print(('x' * 100 + '\\n') * 7500, end='')\n    sys.stdout.flush()\n"
        "except BrokenPipeError:\n    sys.exit(141)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"x" * 100 + b"\n"
    proc.stdout.close()
    assert proc.wait(timeout=120) == 141


def test_head_reads_the_start_and_nothing_else_is_printed(small):
    result = subprocess.run(
        f"{sys.executable} -m recframe -q config schema | head -c 10",
        shell=True, capture_output=True, text=True, timeout=120, check=False,
    )
    assert len(result.stdout) == 10 and result.stdout.startswith('{\n  "$')
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr


# --------------------------------------------------------------------------- -q and -v anywhere


@pytest.mark.parametrize(
    "argv",
    [["-q", "run", "{config}", "-o", "{out}"], ["run", "-q", "{config}", "-o", "{out}"],
     ["run", "{config}", "-o", "{out}", "--quiet"], ["--quiet", "run", "{config}", "-o", "{out}"]],
    ids=["before", "after-command", "at-end", "long-before"],
)
def test_quiet_works_before_or_after_the_command(small, tmp_path, capsys, argv):
    args = [a.format(config=small, out=tmp_path / "out") for a in argv]
    assert main(args) == 0
    assert capsys.readouterr().err == ""


def test_quiet_before_a_command_group(small, capsys):
    assert main(["data", "-q", "describe", str(small)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["-q", "data", "describe", str(small)]) == 0
    assert capsys.readouterr().err == ""
    assert main(["data", "describe", str(small)]) == 0
    assert "loaded " in capsys.readouterr().err


def test_verbose_before_the_command(small, tmp_path, capsys):
    assert main(["-v", "run", str(small), "-o", str(tmp_path / "out")]) == 0
    verbose = capsys.readouterr().err
    assert main(["run", str(small), "-o", str(tmp_path / "out2")]) == 0
    assert len(verbose) >= len(capsys.readouterr().err) > 0


def test_help_lists_every_exit_code_and_the_new_options(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for line in ("0  success", "1  any other failure", "2  the config or the command line is wrong",
                 "3  the data can't be used", "130  interrupted", "141  standard output was closed early"):
        assert line in out
    assert main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--overwrite" in out and "--resume" in out and "manifest.json" in out


# --------------------------------------------------------------------------- command-line mistakes exit 2


def _two_runs(small: Path, folder: Path) -> tuple[Path, Path]:
    a, b = folder / "a", folder / "b"
    assert main(["run", str(small), "-o", str(a), "-q"]) == 0
    assert main(["run", str(small), "-o", str(b), "-q", "--set", "ranker.n=3"]) == 0
    return a, b


@pytest.fixture
def run_dirs(small, tmp_path) -> tuple[Path, Path]:
    return _two_runs(small, tmp_path)


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The small config and its two runs, once for the tests that only read them (0.25 s a test otherwise)."""
    folder = tmp_path_factory.mktemp("shared")
    small = folder / "small.yaml"
    small.write_text(SMALL, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")
        return (small, *_two_runs(small, folder))


USAGE = [
    # (argv, the start of the message after "error: " or after "usage: ... error: ")
    (["compare", "{tmp}/nope1", "{tmp}/nope2"], "argument RUN_DIR: '{tmp}/nope1': no such run folder"),
    (["compare", "{small}", "{a}"], "argument RUN_DIR: '{small}': is not a folder"),
    (["compare", "{tmp}", "{a}"], "argument RUN_DIR: '{tmp}': has no per_user.csv"),
    (["compare", "{a}"], "compare needs at least two run folders (RUN_DIR); got 1"),
    (["compare", "{a}", "{b}", "--alpha", "2"], "--alpha must be between 0 and 1; got 2.0"),
    (["compare", "{a}", "{b}", "--alpha", "x"], "argument --alpha: invalid float value: 'x'"),
    (["compare", "{a}", "{b}", "--bootstrap", "0"], "argument --bootstrap: must be from 1 to 100,000; got '0'"),
    (["compare", "{a}", "{b}", "--seed", "-1"], "argument --seed: must be 0 or more; got -1"),
    (["compare", "{a}", "{b}", "--test", "z"], "argument --test: invalid choice: 'z'"),
    (["compare", "{a}", "{b}", "--output", "{small}"], "{small}: exists and is not a folder; choose another --output"),
    (["compare", "{a}", "{b}", "--output", "{a}"], "{a}: the output folder is not empty; pass --overwrite"),
    (["compare"], "the following arguments are required: RUN_DIR"),
    (["run", "{tmp}/nope.yaml"], "{tmp}/nope.yaml: no such config file"),
    (["run", "{small}", "-o", "{a}"], "{a}: the output folder is not empty; pass --overwrite"),
    (["run", "{small}", "-o", "{small}"], "{small}: exists and is not a folder; choose another --output"),
    (["run", "{small}", "--resume", "-o", "{tmp}/new"], "{small}: --resume continues an interrupted sweep"),
    (["recommend", "{small}", "--user", "1", "--n", "0"], "argument --n: must be from 1 to 10,000; got '0'"),
    (["recommend", "{small}", "--user", "1", "--ratings", "5"], "--ratings '5': gives the values of --history items"),
    (["recommend", "{small}", "--history", "1,2", "--ratings", "x,1"], "--ratings 'x,1': values must be numbers"),
    (["recommend", "{small}", "--history", "1,2", "--ratings", "1"], "--ratings has 1 values for 2 items of --history"),
    (["similar", "{small}", "--item", "1", "--n", "-3"], "argument --n: must be from 1 to 10,000; got '-3'"),
    (["data", "fetch", "movielens-1ook"],
     "argument name: unknown dataset 'movielens-1ook'; did you mean 'movielens-100k'?"),
    (["data", "fetch", "movielens-100k", "--url", "notaurl"], "argument --url: 'notaurl' is not a web address"),
    (["data", "describe", "{tmp}/nope.yaml"], "{tmp}/nope.yaml: no such config file"),
    (["config", "validate", "{tmp}"], "{tmp}: can't read the config file"),
    (["-q"], "the following arguments are required: COMMAND"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE, ids=[" ".join(a)[:60] for a, _ in USAGE])
def test_command_line_mistakes_exit_2(shared_runs, tmp_path, capsys, argv, message):
    small, a, b = shared_runs
    names = {"tmp": tmp_path, "small": small, "a": a, "b": b}
    capsys.readouterr()
    assert main([arg.format(**names) for arg in argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"error: {message.format(**names)}" in err


def test_data_problems_still_exit_3(run_dirs, tmp_path, capsys):
    a, b = run_dirs
    (b / "per_user.csv").write_text("fold,user,ndcg@5\n0,1,five\n", encoding="utf-8")
    assert main(["compare", str(a), str(b), "-q"]) == 3
    assert capsys.readouterr().err.startswith(f"error: {b / 'per_user.csv'}:2")
    missing = tmp_path / "missing.csv"
    config = tmp_path / "csv.yaml"
    config.write_text(f"data: {{type: csv, path: {str(missing)!r}}}\n", encoding="utf-8")
    assert main(["run", str(config), "-q", "-o", str(tmp_path / "out")]) == 3
