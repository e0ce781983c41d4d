"""``recframe run`` writes ``model/``; ``recommend|similar|explain|predict --model`` answer from it, no refit."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from recframe.cli import main

CONFIG = """\
name: tiny
seed: 3
data: {type: synthetic, n_users: 60, n_items: 40}
similarity: {type: sklearn_nn, k: 10}
ranker: {type: item_cf, n: 5}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    config = folder / "tiny.yaml"
    config.write_text(CONFIG)
    assert main(["-q", "run", str(config), "-o", str(folder / "run")]) == 0
    return folder / "run"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_run_folder_holds_the_model(run_dir: Path) -> None:
    listed = json.loads((run_dir / "manifest.json").read_text())["files"]
    assert "model/manifest.json" in listed and any(name.startswith("model/arrays/") for name in listed)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["model"]["folder"] == "model" and record["model"]["trained_on"] == "all the data"


def test_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG)
    code, _, err = _run(["-q", "run", str(config), "-o", str(tmp_path / "run"), "--no-model"], capsys)
    assert code == 0, err
    assert not (tmp_path / "run" / "model").exists()
    for argv in (
        ["recommend", "--model", str(tmp_path / "run"), "--user", "1"],
        ["serve", str(tmp_path / "run")],
        ["update", str(tmp_path / "run"), "--data", str(config)],
        ["forget", str(tmp_path / "run"), "--user", "1"],
    ):  # every command names the cause, not the run's manifest
        code, _, err = _run(argv, capsys)
        assert code == 3 and "this run folder has no model/ (run with --no-model, or a sweep)" in err, argv


def test_overwrite_replaces_the_model(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG.replace("k: 10", "k: 5"))
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    code, _, err = _run(["-q", "run", str(config), "-o", str(copy), "--overwrite"], capsys)
    assert code == 0, err
    manifest = json.loads((copy / "model" / "manifest.json").read_text())
    similarity = next(c for c in manifest["components"] if c["role"] == "similarity")
    assert similarity["config"]["k"] == 5
    code, _, err = _run(["recommend", "--model", str(copy), "--user", "1"], capsys)
    assert code == 0, err


def test_model_answers_as_the_run_file(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = run_dir.parent / "tiny.yaml"
    for argv in (
        ["recommend", "--user", "3", "--n", "4", "--json"],
        ["similar", "--item", "2", "--n", "3", "--json"],
        ["predict", "--user", "3", "--item", "2", "--item", "5", "--json"],
        ["explain", "--user", "3", "--item", "2", "--json"],
    ):
        code, fitted, err = _run([argv[0], str(config), *argv[1:]], capsys)
        assert code == 0, err
        code, saved, err = _run([argv[0], "--model", str(run_dir), *argv[1:]], capsys)
        assert code == 0, err
        assert saved == fitted
        code, direct, err = _run([argv[0], "--model", str(run_dir / "model"), *argv[1:]], capsys)
        assert direct == fitted


def test_users_file_csv_and_jsonl(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n\n2\n999999\n")
    code, out, err = _run(
        ["recommend", "--model", str(run_dir), "--users-file", str(users), "--n", "3", "--format", "csv"], capsys
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["user"] for r in rows] == ["1"] * 3 + ["2"] * 3 + ["999999"] * 3
    assert rows[-1]["source"] == "popularity" and rows[-1]["reason"] == "not in training"
    table = tmp_path / "users.csv"
    table.write_text("name,user\na,1\nb,2\n")
    target = tmp_path / "out" / "lists.jsonl"
    code, out, err = _run(
        [
            "recommend",
            "--model",
            str(run_dir),
            "--users-file",
            str(table),
            "--column",
            "user",
            "--format",
            "jsonl",
            "--output",
            str(target),
        ],
        capsys,
    )
    assert code == 0, err
    assert out == ""
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["user"] for line in lines] == [1, 2] and len(lines[0]["items"]) == 5
    assert [p.name for p in target.parent.iterdir()] == ["lists.jsonl"]  # no temporary file left


def test_errors(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = run_dir.parent / "tiny.yaml"
    code, _, err = _run(["recommend", "--user", "1"], capsys)
    assert code == 2 and "give a run file (CONFIG) or a saved model" in err
    code, _, err = _run(["recommend", str(config), "--model", str(run_dir), "--user", "1"], capsys)
    assert code == 2 and "not both" in err
    for command in (["recommend", "--user", "1"], ["similar", "--item", "1"]):  # the folder where the run file goes
        code, _, err = _run([command[0], str(run_dir), *command[1:]], capsys)
        assert code == 2 and f"give --model {run_dir}" in err
    table = tmp_path / "users.csv"
    table.write_text("name\na\n")
    code, _, err = _run(["recommend", "--model", str(run_dir), "--users-file", str(table), "--column", "user"], capsys)
    assert code == 2 and "not a column" in err
    broken = tmp_path / "broken"
    shutil.copytree(run_dir / "model", broken)
    next((broken / "arrays").iterdir()).write_bytes(b"\x93NUMPY altered")
    code, _, err = _run(["recommend", "--model", str(broken), "--user", "1"], capsys)
    assert code == 3 and "altered" in err
    code, _, err = _run(["recommend", "--model", str(tmp_path / "nowhere"), "--user", "1"], capsys)
    assert code == 2 and "--model " in err and "nowhere': no such folder; give a run folder or a model folder" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["recommend", "--user", "\udcff"],
        ["similar", "--item", "a\udcff"],
        ["predict", "--user", "1", "--item", "\udcfe"],
        ["recommend", "--user", "1", "--exclude", "2,\udcff"],
    ],
)
def test_ids_on_the_command_line_that_are_not_utf8_are_usage_errors(
    run_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Bytes that are not UTF-8 (``$'\\xff'``) reach Python as surrogates, which no output file can hold."""
    code, out, err = _run([*argv[:1], "--model", str(run_dir), *argv[1:]], capsys)
    assert code == 2 and out == "" and "must be UTF-8 text; got the bytes b" in err and "Traceback" not in err


def test_users_file_is_answered_in_chunks(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    users = tmp_path / "users.txt"
    users.write_text("\n".join(str(u) for u in [1, 2, 3, 999999, 5]) + "\n")
    argv = ["recommend", "--model", str(run_dir), "--users-file", str(users), "--n", "3"]
    whole = {fmt: _run([*argv, "--format", fmt], capsys) for fmt in ("csv", "jsonl", "json", "table")}
    from recframe.recommender import Recommender

    calls: list[int] = []
    recommend = Recommender.recommend

    def counted(self: Recommender, users: object, *args: object, **kwargs: object) -> object:
        calls.append(len(users))  # type: ignore[arg-type]
        return recommend(self, users, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("recframe.cli.query.CHUNK_USERS", 2)
    monkeypatch.setattr(Recommender, "recommend", counted)
    for fmt, (code, out, err) in whole.items():
        assert code == 0, err
        assert _run([*argv, "--format", fmt], capsys) == (0, out, err)  # one CSV header, same rows
    assert calls == [2, 2, 1] * 4
    target = tmp_path / "lists.csv"
    code, out, err = _run([*argv, "--format", "csv", "--output", str(target)], capsys)
    assert code == 0 and out == "" and target.read_text() == whole["csv"][1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lists.csv", "users.txt"]  # no temporary file left


def test_similar_csv_columns_are_distinct(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["similar", "--model", str(run_dir), "--item", "3", "--n", "4", "--format", "csv"], capsys)
    assert code == 0, err
    header = out.splitlines()[0].split(",")
    assert header == ["item", "rank", "similar_item", "score", "source", "reason"]
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["item"] for r in rows} == {"3"} and len({r["similar_item"] for r in rows}) == 4


def test_output_never_overwrites_the_model_nor_a_folder(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = run_dir / "model" / "manifest.json"
    before = manifest.read_bytes()
    link = tmp_path / "innocent.csv"
    link.symlink_to(manifest)
    for model in (run_dir, run_dir / "model"):
        for output in (manifest, link, run_dir / "model" / "new.csv"):
            argv = ["recommend", "--model", str(model), "--user", "1", "--output", str(output)]
            code, _, err = _run(argv, capsys)
            assert code == 2 and f"is inside the run folder '{run_dir}' being read" in err, err
    for command in (["similar", "--item", "3"], ["predict", "--user", "1", "--item", "3"]):
        code, _, err = _run([command[0], "--model", str(run_dir), *command[1:], "--output", str(manifest)], capsys)
        assert code == 2 and "being read" in err
    assert manifest.read_bytes() == before and not (run_dir / "model" / "new.csv").exists()
    # nor the run's own files: its recommendations.csv was replaced by the answer's, of other columns
    lists = run_dir / "recommendations.csv"
    before_lists = lists.read_bytes() if lists.exists() else None
    argv = ["recommend", "--model", str(run_dir), "--user", "1", "--format", "csv", "--output", str(lists)]
    code, _, err = _run(argv, capsys)
    assert code == 2 and f"is inside the run folder '{run_dir}' being read" in err, err
    argv = ["recommend", "--model", str(run_dir / "model"), "--user", "1", "--format", "csv", "--output", str(lists)]
    code, _, err = _run(argv, capsys)  # however --model names the run
    assert code == 2 and f"is inside the run folder '{run_dir}' being read" in err, err
    assert (lists.read_bytes() if lists.exists() else None) == before_lists
    # a model folder named model/ beside another program's manifest.json is no run's: its folder is free
    project = tmp_path / "project"
    project.mkdir()
    (project / "manifest.json").write_text('{"name": "webapp", "manifest_version": 3}')
    shutil.copytree(run_dir / "model", project / "model")
    argv = ["recommend", "--model", str(project / "model"), "--user", "1", "--output", str(project / "lists.txt")]
    assert _run(argv, capsys)[0] == 0 and (project / "lists.txt").is_file()


def test_output_never_overwrites_the_run_file_being_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_file = tmp_path / "tiny.yaml"
    run_file.write_text(CONFIG)
    before = run_file.read_bytes()
    code, _, err = _run(["recommend", str(run_file), "--user", "1", "--output", str(run_file)], capsys)
    assert code == 2 and "is the run file being read" in err, err
    assert run_file.read_bytes() == before
    code, _, err = _run(["recommend", "--model", str(run_dir), "--user", "1", "--output", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err


def test_output_file_mode_follows_the_umask(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    previous = os.umask(0o027)
    try:
        target = tmp_path / "lists.json"
        code, _, err = _run(
            ["recommend", "--model", str(run_dir), "--user", "1", "--json", "--output", str(target)], capsys
        )
    finally:
        os.umask(previous)
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_json_of_many_users_is_one_document(tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # jsonl is a line per user; json is one document a JSON reader takes whole: an array of the same objects
    users = tmp_path / "users.txt"
    users.write_text("1\n2\n999999\n")
    argv = ["recommend", "--model", str(run_dir), "--users-file", str(users), "--n", "3", "--format"]
    code, lines, err = _run([*argv, "jsonl"], capsys)
    assert code == 0, err
    code, document, err = _run([*argv, "json"], capsys)
    assert code == 0, err
    assert json.loads(document) == [json.loads(line) for line in lines.splitlines()]
    code, one, err = _run(["recommend", "--model", str(run_dir), "--user", "1", "--n", "3", "--format", "json"], capsys)
    assert code == 0 and json.loads(one) == json.loads(lines.splitlines()[0])  # one user: the object alone


def test_predict_csv_quotes_ids_as_csv_needs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from recframe import Recommender

    users = ["carol,jr", 'quo"te', "carol,jr", "dave", "dave", "erin"]
    items = ["it,em", "x", "x", "it,em", "y", "y"]
    Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit({"user": users, "item": items}).save(
        tmp_path / "model"
    )
    argv = ["predict", "--model", str(tmp_path / "model"), "--user", "carol,jr", "--item", "it,em", "--item", "y"]
    code, out, err = _run([*argv, "--format", "csv"], capsys)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["user", "item", "rating", "source"]
    assert [row[:2] for row in rows[1:]] == [["carol,jr", "it,em"], ["carol,jr", "y"]]


def test_output_that_is_a_link_or_a_pipe_is_refused(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an atomic write replaces the path: a link would be replaced instead of written through, a pipe never written
    target = tmp_path / "target.csv"
    target.write_text("old\n")
    (tmp_path / "link.csv").symlink_to(target)
    os.mkfifo(tmp_path / "pipe")
    argv = ["recommend", "--model", str(run_dir), "--user", "1", "--format", "csv", "--output"]
    code, _, err = _run([*argv, str(tmp_path / "link.csv")], capsys)
    assert code == 2 and "is a symbolic link, which recframe never replaces nor writes through" in err
    assert (tmp_path / "link.csv").is_symlink() and target.read_text() == "old\n"
    code, _, err = _run([*argv, str(tmp_path / "pipe")], capsys)
    assert code == 2 and "is not a regular file (a pipe or a device)" in err
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_standard_output_that_cant_be_written_is_one_error_line(run_dir: Path) -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "recframe", "-q", "recommend", "--model", str(run_dir), "--user", "1"],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "error: standard output can't be written: No space left on device\n"


def test_users_file_dash_reads_standard_input(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    users = tmp_path / "users.txt"
    users.write_text("1\n2\n")
    argv = ["recommend", "--model", str(run_dir), "--n", "3", "--format", "jsonl", "--users-file"]
    from_file = _run([*argv, str(users)], capsys)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"1\n2\n")))
    assert _run([*argv, "-"], capsys) == from_file
    monkeypatch.setattr("recframe.cli.query_output.MAX_IDS_FILE_BYTES", 3)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"1\n2\n")))
    code, _, err = _run([*argv, "-"], capsys)
    assert code == 2 and "--users-file '-': larger than" in err


def test_ids_files_are_read_with_the_line_of_each_id(tmp_path: Path) -> None:
    from recframe.cli.query_output import read_ids, read_numbered_ids

    plain = tmp_path / "ids.txt"
    plain.write_text("\ufeff7\n\n  x 1 \n8\n", encoding="utf-8")  # a BOM, a blank line, spaces around an id
    assert read_numbered_ids(plain, None) == [(1, "7"), (3, "x 1"), (4, "8")]
    table = tmp_path / "ids.csv"
    table.write_text('user,n\n5,1\n,2\n"a\nb",3\n9,4\n', encoding="utf-8")  # an empty id; a quoted id over two lines
    assert read_numbered_ids(table, "user") == [(2, "5"), (5, "a\nb"), (6, "9")]
    assert read_ids(table, "user") == ["5", "a\nb", "9"]


def test_output_never_replaces_a_file_the_command_reads(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an outside review: --output replaced the --users-file, an @FILE of ids, the run file's data."""
    users, exclude = tmp_path / "users.txt", tmp_path / "exclude.txt"
    users.write_text("1\n2\n")
    exclude.write_text("3\n")
    data = tmp_path / "data.csv"
    data.write_text("user,item,rating\n1,2,3\n2,3,4\n3,1,5\n1,3,2\n")
    run_file = tmp_path / "on_data.yaml"
    run_file.write_text(f"data: {{type: csv, path: {data}}}\nsimilarity: {{type: sparse, k: 2}}\n")
    model = ["--model", str(run_dir)]
    for argv, what in [
        ([*model, "--users-file", str(users), "--output", str(users)], "is the --users-file being read"),
        ([*model, "--user", "1", "--exclude", f"@{exclude}", "--output", str(exclude)], "is the --exclude @FILE"),
        ([str(run_file), "--user", "1", "--output", str(data)], "is the data file the run file names being read"),
    ]:
        before = {path: path.read_bytes() for path in (users, exclude, data)}
        code, _, err = _run(["recommend", *argv], capsys)
        assert code == 2 and what in err, err
        assert {path: path.read_bytes() for path in before} == before


def test_output_below_a_file_is_a_usage_error(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was exit 1, 'can't be written: File exists'."""
    (tmp_path / "afile").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    for parent in ("afile", "dangling"):
        code, _, err = _run(
            ["recommend", "--model", str(run_dir), "--user", "1", "--output", str(tmp_path / parent / "x.csv")], capsys
        )
        assert code == 2 and f"{parent}' is not a folder, so no file can be written below it" in err, err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no file can be made")
def test_output_that_cant_be_written_is_a_usage_error_before_any_work(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was exit 1, and from a run file only after fitting the model."""
    from recframe import Recommender

    for target in ("/proc/x.csv", "/proc/no/such/x.csv"):
        code, _, err = _run(["recommend", "--model", str(run_dir), "--user", "1", "--output", target], capsys)
        assert code == 2 and f"--output '{target}': can't be written in '/proc': " in err, err
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG)
    monkeypatch.setattr(Recommender, "fit", lambda *a, **k: pytest.fail("fitted before refusing --output"))
    code, _, err = _run(["similar", str(config), "--item", "1", "--output", "/proc/x.csv"], capsys)
    assert code == 2 and "can't be written in '/proc'" in err, err
    written = tmp_path / "new" / "x.csv"
    code, _, _ = _run(["recommend", "--model", str(run_dir), "--user", "1", "-o", str(written)], capsys)
    assert code == 0 and written.is_file()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["new", "tiny.yaml", "x.csv"]  # the probes left nothing


def test_ids_only_int_reads_are_no_integer_ids(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'0_5' and non-ASCII digits named user 5 and item 3 (Python's int() reads them); found by an outside review."""
    code, out, _ = _run(["-q", "recommend", "--model", str(run_dir), "--user", "0_5", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["reason"] == "not in training"
    code, _, err = _run(["-q", "similar", "--model", str(run_dir), "--item", "\u0663"], capsys)
    assert code == 3 and "unknown item" in err


def test_a_repeated_history_item_adds_up_as_in_the_api(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI kept the last value of a repeated --history item; the API adds them (found by an outside review)."""
    from recframe import Recommender

    rec = Recommender.load(run_dir / "model")
    for extra, history in ((["--history", "3,3"], [3, 3]), (["--history", "3,3", "--ratings", "5,1"], {3: 6.0})):
        code, out, err = _run(
            ["-q", "recommend", "--model", str(run_dir), *extra, "--n", "3", "--format", "json"], capsys
        )
        assert code == 0, err
        expected = rec.recommend_history(history, n=3).to_dict()[0]
        assert [(e["item"], e["score"]) for e in json.loads(out)["items"]] == [(i, s) for i, s in expected]


def test_a_users_file_csv_field_over_the_csv_limit_is_named(
    tmp_path: Path, run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a _csv.Error traceback (exit 1)."""
    users = tmp_path / "long.csv"
    users.write_text("user_id\n" + "9" * 200_000 + "\n")
    code, _, err = _run(
        ["recommend", "--model", str(run_dir), "--users-file", str(users), "--column", "user_id"], capsys
    )
    assert code == 2 and "line 2: can't be read as CSV (field larger than field limit" in err, err


def test_history_reads_an_ids_file_for_ids_that_hold_commas(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--history split 'item, 5' at its comma, and had no @FILE as --exclude has."""
    (tmp_path / "comma.csv").write_text('user,item\n1,"item, 5"\n1,b\n2,"item, 5"\n2,c\n3,b\n3,c\n4,a\n4,b\n')
    config = tmp_path / "comma.yaml"
    config.write_text(f"data: {{type: csv, path: '{tmp_path / 'comma.csv'}'}}\nmatrix: binary\nsimilarity: sparse\n")
    assert main(["-q", "run", str(config), "-o", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    (tmp_path / "history.txt").write_text("item, 5\na\n")
    code, out, err = _run(
        ["recommend", "--model", str(tmp_path / "run"), "--history", f"@{tmp_path / 'history.txt'}", "--json"], capsys
    )
    assert code == 0, err
    assert [entry["item"] for entry in json.loads(out)["items"]] == ["b", "c"], out  # both history items were known
    assert "unknown" not in err
    code, _, err = _run(["recommend", "--model", str(tmp_path / "run"), "--history", ","], capsys)
    assert code == 2 and "argument --history: names no id" in err
