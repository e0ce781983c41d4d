"""``recframe update`` and ``recframe forget``: a saved model changed as a refit would, or not at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import Recommender
from recframe.cli import main

CONFIG: dict[str, Any] = {
    "seed": 4,
    "similarity": {"type": "sklearn_nn", "k": 8},
    "ranker": {"type": "item_cf", "n": 5, "fallback": None},
}


def _events(text_ids: bool = False) -> dict[str, np.ndarray]:
    """Return 400 rated events: the first 300 are the training data, the rest (new users and items too) the update."""
    rng = np.random.default_rng(11)
    users = np.concatenate([rng.integers(0, 40, 300), rng.integers(0, 45, 100)])
    items = np.concatenate([rng.integers(0, 30, 300), rng.integers(0, 33, 100)])
    ratings = rng.integers(1, 6, 400).astype(np.float64)
    if text_ids:
        return {
            "user": np.char.add("u", users.astype(str)),
            "item": np.char.add("i", items.astype(str)),
            "rating": ratings,
        }
    return {"user": users, "item": items, "rating": ratings}


def _part(events: dict[str, np.ndarray], rows: Any) -> dict[str, np.ndarray]:
    return {name: column[rows] for name, column in events.items()}


def _write_csv(path: Path, events: dict[str, np.ndarray], delimiter: str = ",") -> Path:
    lines = [delimiter.join(events)]
    lines += [delimiter.join(str(v) for v in row) for row in zip(*events.values(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _same_lists(a: Recommender, b: Recommender) -> None:
    users = b.interaction_matrix.users.ids
    assert a.interaction_matrix.n_users == b.interaction_matrix.n_users
    assert a.interaction_matrix.n_items == b.interaction_matrix.n_items
    la, lb = a.recommend(users), b.recommend(users)
    assert np.array_equal(la.ids, lb.ids)
    np.testing.assert_allclose(la.scores, lb.scores, rtol=1e-9, equal_nan=True)


def _saved(tmp_path_factory: pytest.TempPathFactory, config: dict[str, Any]) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    Recommender.from_config(config).fit(_part(_events(), slice(0, 300))).save(folder / "model")
    return folder / "model"


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved(tmp_path_factory, CONFIG)


@pytest.fixture(scope="module")
def saved_sparse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model of :data:`CONFIG` with sparse cosine: a command in a new process imports no scikit-learn."""
    return _saved(tmp_path_factory, {**CONFIG, "similarity": {"type": "sparse", "k": 8}})


@pytest.fixture
def model(tmp_path: Path, saved: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    return copy


@pytest.fixture
def sparse_model(tmp_path: Path, saved_sparse: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(saved_sparse, copy)
    return copy


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_update_from_a_csv_file_in_place(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _events()
    data = _write_csv(tmp_path / "new.csv", _part(events, slice(300, 400)))
    code, out, err = _run(["update", str(model), "--data", str(data)], capsys)
    assert code == 0, err
    assert out.startswith("added 100 events (users +") and "item neighbours:" in out and f"saved to {model}" in out
    assert "neighbours" not in err  # the summary says it once; the log's record of it is for -v
    updated = Recommender.load(model)
    _same_lists(updated, Recommender.from_config(CONFIG).fit(events))
    assert [entry["kind"] for entry in updated.lineage] == ["fit", "update"]
    assert updated.lineage[-1]["users_added"] == len(set(events["user"][300:]) - set(events["user"][:300]))


def test_update_from_a_yaml_source_into_output(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _events()
    _write_csv(tmp_path / "new.txt", _part(events, slice(300, 400)), delimiter=";")
    source = tmp_path / "source.yaml"
    source.write_text(f"type: csv\npath: {tmp_path / 'new.txt'}\ndelimiter: ';'\n")
    before = _snapshot(model)
    code, out, err = _run(["update", str(model), "--data", str(source), "-o", str(tmp_path / "new"), "--json"], capsys)
    assert code == 0, err
    entry = json.loads(out)
    assert entry["kind"] == "update" and entry["events"] == 100 and set(entry["neighbours"]) == {"items"}
    assert _snapshot(model) == before  # --output leaves the model folder alone
    updated = Recommender.load(tmp_path / "new")
    assert updated.lineage[-1] == entry
    _same_lists(updated, Recommender.from_config(CONFIG).fit(events))


def test_quiet_prints_nothing_and_a_run_folder_changes_its_model(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    model.rename(run / "model")
    events = _events()
    data = _write_csv(tmp_path / "new.csv", _part(events, slice(300, 400)))
    code, out, err = _run(["-q", "update", str(run), "--data", str(data)], capsys)
    assert code == 0, err
    assert out == ""
    _same_lists(Recommender.load(run / "model"), Recommender.from_config(CONFIG).fit(events))


def test_text_ids_from_a_tsv_file_and_forget(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _events(text_ids=True)
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    data = _write_csv(tmp_path / "new.tsv", _part(events, slice(300, 400)), delimiter="\t")
    code, _, err = _run(["-q", "update", str(tmp_path / "model"), "--data", str(data)], capsys)
    assert code == 0, err
    code, out, err = _run(["forget", str(tmp_path / "model"), "--user", "u3", "--item", "i2"], capsys)
    assert code == 0, err
    assert out.startswith("forgot 1 user and 1 item:")
    keep = (events["user"] != "u3") & (events["item"] != "i2")
    _same_lists(Recommender.load(tmp_path / "model"), Recommender.from_config(CONFIG).fit(_part(events, keep)))


def test_text_users_spelled_as_numbers_beside_integer_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model of text user ids ("1", "007") and integer item ids: a file's users stay text as spelled."""
    events = _events()
    events["user"] = np.array([f"{u:03d}" if u % 7 == 0 else str(u) for u in events["user"]])
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    new = _part(events, slice(300, 400))
    new["user"] = np.array([str(int(u)) for u in new["user"]])  # plain numbers only: the source reads integers
    data = _write_csv(tmp_path / "new.csv", new)
    code, _, err = _run(["-q", "update", str(tmp_path / "model"), "--data", str(data)], capsys)
    assert code == 0, err
    joined = {name: np.concatenate([_part(events, slice(0, 300))[name], new[name]]) for name in events}
    updated = Recommender.load(tmp_path / "model")
    assert set(new["user"]) <= set(updated.interaction_matrix.users.ids.tolist())
    _same_lists(updated, Recommender.from_config(CONFIG).fit(joined))


def test_text_users_and_integer_items_keep_each_column_as_spelled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Beside integer items, ``-0`` and ``07`` are new text users (not ``"0"`` and ``"7"``); item ``005`` is item 5."""
    events = _events()
    events["user"] = events["user"].astype(str)
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    new = _part(events, slice(300, 400))
    new["user"][:3] = ["-0", "07", "+7"]
    spelled = new["item"].astype(str).astype(object)
    spelled[3:6] = [f"00{new['item'][3]}", f"+{new['item'][4]}", f" {new['item'][5]} "]
    data = _write_csv(tmp_path / "new.csv", {**new, "item": spelled})
    code, _, err = _run(["-q", "update", str(tmp_path / "model"), "--data", str(data)], capsys)
    assert code == 0, err
    updated = Recommender.load(tmp_path / "model")
    assert {"-0", "07", "+7"} <= set(updated.interaction_matrix.users.ids.tolist())
    joined = {name: np.concatenate([_part(events, slice(0, 300))[name], new[name]]) for name in events}
    _same_lists(updated, Recommender.from_config(CONFIG).fit(joined))


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("x5", "item id 'x5' (row 3 of the data) is not a whole number, but this model's item ids are integers"),
        ("1" * 20, f"item id '{'1' * 20}' (row 3 of the data) is a whole number beyond the 64-bit range"),
    ],
)
def test_an_integer_axis_id_that_is_no_integer_is_refused_by_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, message: str
) -> None:
    events = _events()
    events["user"] = events["user"].astype(str)
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    before = _snapshot(tmp_path / "model")
    data = tmp_path / "new.csv"
    data.write_text(f"user,item,rating\n1,2,3\n2,5,4\n3,{item},1\n4,{item},2\n")
    code, _, err = _run(["-q", "update", str(tmp_path / "model"), "--data", str(data)], capsys)
    assert code == 3 and f"--data {str(data)!r}: {message}" in err
    assert _snapshot(tmp_path / "model") == before


@pytest.mark.parametrize("id_type", [None, "str", "int"])
def test_a_yaml_csv_source_reads_ids_as_the_model_has_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], id_type: str | None
) -> None:
    """Text ids spelled as numbers stay text in a YAML file's csv source too, unless it says ``id_type`` itself."""
    events = {name: (column.astype(str) if name in ("user", "item") else column) for name, column in _events().items()}
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    data = _write_csv(tmp_path / "new.csv", _part(events, slice(300, 400)))
    source = tmp_path / "source.yaml"
    source.write_text(f"type: csv\npath: {data}\n" + (f"id_type: {id_type}\n" if id_type else ""))
    code, _, err = _run(["-q", "update", str(tmp_path / "model"), "--data", str(source)], capsys)
    if id_type == "int":  # the section's own choice: integers, which this model's text ids refuse
        assert code == 3 and "give user ids of the same kind" in err
        return
    assert code == 0, err
    _same_lists(Recommender.load(tmp_path / "model"), Recommender.from_config(CONFIG).fit(events))


def test_forget_integer_ids_from_options_and_a_file(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "users.txt").write_text("5\n\n7\n")
    argv = ["forget", str(model), "--user", "3", "--users-file", str(tmp_path / "users.txt"), "--item", "2"]
    code, out, err = _run([*argv, "-o", str(tmp_path / "forgot"), "--json"], capsys)
    assert code == 0, err
    entry = json.loads(out)
    assert entry["kind"] == "forget" and entry["users"] == 3 and entry["items"] == 1
    events = _part(_events(), slice(0, 300))
    keep = ~np.isin(events["user"], [3, 5, 7]) & (events["item"] != 2)
    forgot = Recommender.load(tmp_path / "forgot")
    _same_lists(forgot, Recommender.from_config(CONFIG).fit(_part(events, keep)))
    assert 3 not in forgot.interaction_matrix.users.ids.tolist()


def test_data_describe_of_a_model_counts_its_events_after_a_forget(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a data-protection check reads: the model's events, without the forgotten user's."""
    code, _, err = _run(["forget", str(model), "--user", "3", "-o", str(tmp_path / "forgot")], capsys)
    assert code == 0, err
    code, out, err = _run(["data", "describe", "--model", str(tmp_path / "forgot"), "--json"], capsys)
    assert code == 0, err
    described = json.loads(out)
    events = _part(_events(), slice(0, 300))
    kept = events["user"] != 3
    assert described["data"]["interactions"] == int(kept.sum()) and described["filters"] == []
    assert described["data"]["users"] == len(np.unique(events["user"][kept]))
    code, out, err = _run(["data", "describe", "--model", str(tmp_path / "forgot")], capsys)
    assert code == 0 and out.startswith(f"{int(kept.sum()):,} interactions"), err
    code, _, err = _run(["data", "describe", str(tmp_path / "forgot")], capsys)
    assert code == 2 and f"give --model {tmp_path / 'forgot'}" in err
    code, _, err = _run(["data", "describe"], capsys)
    assert code == 2 and "recframe data describe: give a run file (CONFIG) or a saved model" in err


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--user", "999"], 3, "1 user not in the training data: [999]; nothing was forgotten"),
        (["--user", "3", "--item", "x7"], 3, "item 'x7' is not a whole number, but this model's item ids are integers"),
        ([], 2, "give the ids to forget"),
    ],
)
def test_forget_refused_leaves_the_folder_untouched(
    model: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    before = _snapshot(model)
    got, _, err = _run(["forget", str(model), *argv], capsys)
    assert got == code and message in err
    assert _snapshot(model) == before


def test_an_id_of_the_wrong_kind_in_an_ids_file_is_named_with_its_file_and_line(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(model)
    (tmp_path / "users.txt").write_text("5\n\nabc\n7\n")  # line 3 (the blank line counts)
    (tmp_path / "items.txt").write_text("2\nx1\nx2\n")
    for argv, message in [
        (["--users-file", str(tmp_path / "users.txt")], f"--users-file {str(tmp_path / 'users.txt')!r}, line 3: "
         "user 'abc' is not a whole number"),
        (["--user", "3", "--items-file", str(tmp_path / "items.txt")], f"--items-file {str(tmp_path / 'items.txt')!r}, "
         "line 2: item 'x1' is not a whole number, but this model's item ids are integers (2 such ids)"),
    ]:  # fmt: skip
        code, _, err = _run(["forget", str(model), *argv], capsys)
        assert code == 3 and message in err, err
    assert _snapshot(model) == before


def test_an_unknown_id_in_an_ids_file_is_named_with_its_file_and_line(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(model)
    users, items = tmp_path / "users.txt", tmp_path / "items.txt"
    users.write_text("5\n\n99999\n7\n88888\n")  # line 3 (the blank line counts)
    items.write_text("2\n123456\n")
    for argv, message in [
        (["--users-file", str(users)], "2 users not in the training data: [88888, 99999]; nothing was forgotten "
         f"(the first from a file: --users-file {str(users)!r}, line 3)"),
        (["--user", "424242", "--users-file", str(users)],
         f"(the first from a file: --users-file {str(users)!r}, line 3)"),
        (["--user", "3", "--items-file", str(items)], "1 item not in the training data: [123456]; nothing was "
         f"forgotten (the first from a file: --items-file {str(items)!r}, line 2)"),
    ]:  # fmt: skip
        code, _, err = _run(["forget", str(model), *argv], capsys)
        assert code == 3 and message in err, err
    code, _, err = _run(["forget", str(model), "--user", "424242"], capsys)  # on the command line: no file to name
    assert code == 3 and err.rstrip().endswith("not in the training data: [424242]; nothing was forgotten"), err
    assert _snapshot(model) == before


def test_a_data_file_whose_fix_is_a_setting_is_told_how_to_set_it(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(model)
    (tmp_path / "semicolons.csv").write_text("user;item;rating\n5;1;4\n")  # needs data.delimiter
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "semicolons.csv")], capsys)
    assert code == 3 and "no column 'user' for data.user" in err and "describe the source in a .yaml file" in err
    (tmp_path / "data.csv").write_text("user,item,rating\n5,1,x\n")  # a bad value: no setting helps
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "data.csv")], capsys)
    assert code == 3 and "rating 'x' is not a number" in err and ".yaml" not in err
    assert _snapshot(model) == before


def test_a_yaml_file_of_a_run_s_sections_is_told_what_data_takes(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(model)
    (tmp_path / "run.yaml").write_text("data:\n  type: csv\n  path: new.csv\nfilters:\n  - {type: min_count}\n")
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "run.yaml")], capsys)
    assert code == 2 and "missing 'type'" in err and "this looks like a run file" in err
    (tmp_path / "filtered.yaml").write_text("type: csv\npath: new.csv\nfilters:\n  - {type: min_count}\n")
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "filtered.yaml")], capsys)
    assert code == 2 and "filtered.yaml:3: filters: unknown key" in err and "not applied to updates" in err
    assert _snapshot(model) == before


def test_update_refused_leaves_the_folder_untouched(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(model)
    events = _part(_events(), slice(300, 400))
    unrated = _write_csv(tmp_path / "unrated.csv", {"user": events["user"], "item": events["item"]})
    code, _, err = _run(["update", str(model), "--data", str(unrated)], capsys)
    assert code == 3 and "has ratings but the update has none" in err and "--data" in err and "unrated.csv" in err
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "missing.csv")], capsys)
    assert code == 2 and "missing.csv'" in err and "no such file" in err
    (tmp_path / "folder.csv").mkdir()
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "folder.csv")], capsys)
    assert code == 2 and "folder.csv'" in err and "is a folder, not a file" in err
    code, _, err = _run(["update", str(model), "--data", "/dev/null"], capsys)
    assert code == 2 and "is not a regular file" in err
    (tmp_path / "new.txt").write_text("user,item\n1,2\n")
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "new.txt")], capsys)
    assert code == 2 and "give a .csv, .tsv" in err
    for packed, message in [
        ("new.zip", "(new.csv.zip or new.tsv.zip)"),
        ("new.gz", "(new.csv.gz or new.tsv.gz)"),
        ("New.ZIP", "(New.csv.zip or New.tsv.zip)"),
        ("new.zip.gz", "(new.csv.gz or new.tsv.gz)"),  # not compressed twice
    ]:
        (tmp_path / packed).write_bytes(b"PK")  # not read: the name alone is refused
        code, _, err = _run(["update", str(model), "--data", str(tmp_path / packed)], capsys)
        assert code == 2 and "the name of a compressed file must say what it holds " + message in err, err
        assert f"{{type: csv, path: {tmp_path / packed}}}" in err  # the path as given: a YAML file reads it so
    (tmp_path / "new.parquet.gz").write_bytes(b"")
    code, _, err = _run(["update", str(model), "--data", str(tmp_path / "new.parquet.gz")], capsys)
    assert code == 2 and "give a .csv, .tsv" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.md").write_text("mine")
    data = _write_csv(tmp_path / "new.csv", events)
    code, _, err = _run(["update", str(model), "--data", str(data), "-o", str(tmp_path / "other")], capsys)
    assert code == 2 and "is a folder of other files" in err
    code, _, err = _run(["update", str(model), "--data", str(data), "-o", str(model / "v2")], capsys)
    assert code == 2 and "is inside the model folder" in err  # it would add files to the model it reads
    code, _, err = _run(["update", str(model), "--data", str(data), "-o", str(data / "v2")], capsys)
    assert code == 2 and "is a file, so no folder can be made there" in err
    (tmp_path / "link").symlink_to(model)
    for command in (
        ["update", str(tmp_path / "link"), "--data", str(data)],
        ["forget", str(tmp_path / "link"), "--user", "1"],
    ):
        code, _, err = _run(command, capsys)
        assert code == 2 and "is a symbolic link" in err and str(model.resolve()) in err
    code, _, err = _run(["forget", str(model), "--user", "1", "-o", str(tmp_path / "link")], capsys)
    assert code == 2 and f"--output {str(tmp_path / 'link')!r}: is a symbolic link" in err
    assert _snapshot(model) == before
    assert (tmp_path / "other" / "notes.md").read_text() == "mine"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
@pytest.mark.parametrize("command", ["update", "forget"])
def test_an_output_no_folder_can_be_made_in_is_refused_before_any_work(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Exit 2 before the model is loaded, as a run's ``--output`` is: permissions alone don't show it (root)."""
    from recframe.cli import update

    def no_load(*args: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(update, "_load", no_load)
    data = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 400)))
    what = ["--data", str(data)] if command == "update" else ["--user", "1"]
    code, _, err = _run([command, str(model), *what, "-o", "/proc/recframe-model"], capsys)
    assert code == 2 and "/proc: no folder can be created there" in err


@pytest.mark.parametrize("command", ["update", "forget"])
@pytest.mark.parametrize("where", ["in place", "--output"])
def test_a_read_only_model_folder_is_refused_before_any_work(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str,
    where: str,
) -> None:
    """Swapped out by a rename, a read-only old model could not be removed: it stayed, forgotten events and all."""
    import os

    from recframe.cli import update

    def no_load(*args: object) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(update, "_load", no_load)
    target = model if where == "in place" else tmp_path / "other"
    if where == "--output":
        shutil.copytree(model, target)
    (target / "arrays").chmod(0o555)  # as a user other than root sees it: root may write anywhere
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real(path, mode) and Path(path) != target / "arrays")
    before = _snapshot(target)
    data = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 400)))
    what = ["--data", str(data)] if command == "update" else ["--user", "1"]
    code, _, err = _run([command, str(model), *what, *(["-o", str(target)] if where == "--output" else [])], capsys)
    (target / "arrays").chmod(0o755)
    assert code == 2 and f"{target}: holds the read-only folder {target / 'arrays'}, so the model" in err
    assert _snapshot(target) == before
    assert sorted(p.name for p in target.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type: csvv\npath: x.csv\n", r"source.yaml:1: type: unknown data 'csvv'; did you mean 'csv'?"),
        ("type: csv\npath: x.csv\ndelimeter: ';'\n", "source.yaml:3: delimeter:"),
        ("type: csv\n", "source.yaml:1: path:"),
        ("type: csv\npath: [x.csv\n", "source.yaml"),
        ("- csv\n", "source.yaml:1: must be a mapping with 'type' and the data component"),
    ],
)
def test_bad_yaml_source_names_the_file(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(text)
    before = _snapshot(model)
    code, _, err = _run(["update", str(model), "--data", str(source)], capsys)
    assert code == 2, err
    assert message in err
    assert _snapshot(model) == before


def test_a_data_file_a_yaml_source_names_that_is_missing_names_both(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source.yaml"
    source.write_text(f"type: csv\npath: {tmp_path / 'gone.csv'}\n")
    before = _snapshot(model)
    code, _, err = _run(["update", str(model), "--data", str(source)], capsys)
    assert code == 3, err  # bad data, as a run's missing data file is
    assert f"--data {str(source)!r}: " in err and "gone.csv: file not found" in err
    assert _snapshot(model) == before


def test_a_model_saved_without_training_data_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = _events()
    Recommender.from_config(CONFIG).fit(_part(events, slice(0, 300))).save(tmp_path / "model", training_data=False)
    before = _snapshot(tmp_path / "model")
    data = _write_csv(tmp_path / "new.csv", _part(events, slice(300, 400)))
    for argv in (["update", "--data", str(data)], ["forget", "--user", "3"]):
        code, _, err = _run([argv[0], str(tmp_path / "model"), *argv[1:]], capsys)
        assert code == 1 and "saved without its training data" in err
    assert _snapshot(tmp_path / "model") == before


def test_overwriting_a_run_after_its_model_changed_replaces_the_model_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # an update saved into a run's model/ writes other arrays than the run did (suspects, numbered
    # anew); rerunning over it must not leave them behind, nor the events they hold
    events = _events()
    train = _write_csv(tmp_path / "train.csv", _part(events, slice(0, 300)))
    data = _write_csv(tmp_path / "new.csv", _part(events, slice(300, 400)))
    config = {
        "seed": 4,
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": 5, "update_slack": 3},
        "ranker": {"type": "item_cf", "n": 5},
    }
    run_file = tmp_path / "run.yaml"  # JSON is YAML
    run_file.write_text(json.dumps({**config, "data": {"type": "csv", "path": str(train)}}))
    run = tmp_path / "run"
    assert _run(["-q", "run", str(run_file), "--output", str(run)], capsys)[0] == 0
    before = set(json.loads((run / "model" / "manifest.json").read_text())["files"])
    assert _run(["-q", "update", str(run), "--data", str(data)], capsys)[0] == 0
    updated = set(json.loads((run / "model" / "manifest.json").read_text())["files"])
    assert updated - before  # the update wrote arrays the run's manifest does not list
    code, _, err = _run(["-q", "run", str(run_file), "--output", str(run), "--overwrite"], capsys)
    assert code == 0, err
    listed = set(json.loads((run / "model" / "manifest.json").read_text())["files"])
    on_disk = {p.relative_to(run / "model").as_posix() for p in (run / "model").rglob("*") if p.is_file()}
    assert on_disk == listed | {"manifest.json"}
    run_listed = set(json.loads((run / "manifest.json").read_text())["files"])
    assert {f"model/{name}" for name in on_disk} <= run_listed
    code, _, err = _run(["-q", "update", str(run), "--data", str(data)], capsys)  # no leftover in the way
    assert code == 0, err
    _same_lists(Recommender.load(run / "model"), Recommender.from_config(config).fit(events))


@pytest.mark.parametrize(("stopping", "during"), [("SIGTERM", "_remove_replaced"), ("SIGINT", "exchange")])
def test_a_signal_once_the_updated_model_is_in_place_does_not_say_undone(
    sparse_model: Path, tmp_path: Path, stopping: str, during: str
) -> None:
    """Found by an outside review: a SIGTERM while the replaced model was removed exited 143 ("undone").

    The update was saved by then, so a script retrying on 143 applied the same events twice.
    """
    import subprocess
    import sys
    import textwrap

    model = sparse_model
    events = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 340)))
    code = textwrap.dedent(f"""\
        import os, signal, sys
        import recframe.artifacts.model_files as files
        from recframe.cli import entry
        real = getattr(files, {during!r})
        def interrupted(*args):
            os.kill(os.getpid(), signal.{stopping})  # held back until the model is in place
            return real(*args)
        setattr(files, {during!r}, interrupted)
        sys.argv = ["recframe", "update", {str(model)!r}, "--data", {str(events)!r}, "-q"]
        sys.exit(entry())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    name = "Ctrl-C" if stopping == "SIGINT" else stopping
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{name} came after the changed model was saved to {model}: the change is applied" in proc.stderr
    assert [entry["kind"] for entry in Recommender.load(model).lineage][-1] == "update"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "new.csv"]  # no half-removed old model


@pytest.mark.parametrize(
    ("stopping", "module", "during", "command"),
    [
        ("SIGTERM", "recframe.recommender.persistence", "write_folder", "update"),  # the save's own bookkeeping
        ("SIGTERM", "recframe.cli.update", "_report", "update"),  # its report (a full stdout pipe, say)
        ("SIGHUP", "recframe.cli.update", "_report", "forget"),
        ("SIGINT", "recframe.cli.update", "_report", "forget"),
    ],
)
def test_a_signal_after_the_save_returned_does_not_say_undone(
    sparse_model: Path, tmp_path: Path, stopping: str, module: str, during: str, command: str
) -> None:
    """Found by an outside review: a signal while the report was printed (stdout blocked) exited 143.

    Only a signal during the swap was answered as "applied"; the rest of the command (the save's
    last step, the report, the lock let go) still said undone.
    """
    import subprocess
    import sys
    import textwrap

    model = sparse_model
    events = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 340)))
    argv = ["--data", str(events)] if command == "update" else ["--user", "1"]
    code = textwrap.dedent(f"""\
        import importlib, os, signal, sys
        from recframe.cli import entry
        where = importlib.import_module({module!r})
        real = getattr(where, {during!r})
        def then_stopped(*args):
            result = real(*args)
            os.kill(os.getpid(), signal.{stopping})
            return result
        setattr(where, {during!r}, then_stopped)
        sys.argv = ["recframe", {command!r}, {str(model)!r}, *{argv!r}, "-q"]
        sys.exit(entry())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    name = "Ctrl-C" if stopping == "SIGINT" else stopping
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"{name} came after the changed model was saved to {model}: the change is applied" in proc.stderr
    assert [entry["kind"] for entry in Recommender.load(model).lineage][-1] == command


def test_a_signal_as_the_command_starts_is_a_stop_not_a_traceback() -> None:
    """Found by an outside review: SIGTERM while the parser was built gave a traceback and exit 1 ("can't")."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""\
        import os, signal, sys
        import recframe.cli.app as app
        real = app.build_parser
        def stopped():
            os.kill(os.getpid(), signal.SIGTERM)
            return real()
        app.build_parser = stopped
        sys.argv = ["recframe", "plugins"]
        sys.exit(app.entry())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 143, proc.stderr[-2000:]
    assert proc.stderr.strip() == "terminated (SIGTERM)"


def test_update_of_the_working_folder_named_dot(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by an outside review: ``recframe update .`` inside the model folder did the work, then failed."""
    data = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 340)))
    monkeypatch.chdir(model)
    code, _, err = _run(["-q", "update", ".", "--data", str(data)], capsys)
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    assert [entry["kind"] for entry in Recommender.load(model).lineage][-1] == "update"
    assert sorted(p.name for p in model.parent.iterdir() if p.name.startswith(".")) == []  # no work folder left


def test_an_interrupt_held_during_a_swap_comes_after_it() -> None:
    import os
    import signal

    from recframe.artifacts.commit_signals import interrupts_held, saved_before

    steps = []
    with pytest.raises(KeyboardInterrupt) as info, interrupts_held():
        os.kill(os.getpid(), signal.SIGINT)
        steps.append("after the signal")  # not interrupted
    assert steps == ["after the signal"] and saved_before(info.value) is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


@pytest.mark.parametrize("command", ["update", "forget"])
def test_a_model_folder_in_an_unwritable_folder_says_to_give_output(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """Found by an outside review: in place, where the changed model can't be staged, it said "choose another --output".

    No ``--output`` was given: the fix is to give one.
    """
    import os

    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: real(path, mode) and Path(path) != model.parent)
    before = _snapshot(model)
    data = _write_csv(tmp_path / "new.csv", _part(_events(), slice(300, 400)))
    what = ["--data", str(data)] if command == "update" else ["--user", "1"]
    code, _, err = _run([command, str(model), *what], capsys)
    assert code == 2 and err == (
        f"error: {model.parent}: not writable (permission denied); recframe writes the output folder {model} and "
        "stages its files beside it there; give --output to save the changed model elsewhere\n"
    )
    assert _snapshot(model) == before
