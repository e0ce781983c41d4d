"""Edges of the command line and the run folder: hostile JSON, unbounded counts, odd values, unknown ids.

Each test guards a class of defect found by a bad-input corpus (issue 11): recframe's own JSON read
back safely, every count flag bounded, history values checked, one rule for ids not in the training
data, the failing sweep setting named, and output-folder problems found before any work.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from pathlib import Path

import pytest

from recframe.cli import main
from recframe.errors import ConfigError, DataError
from recframe.jsonio import parse_json, read_json, write_json
from recframe.recommender import Recommender

SMALL = """\
name: small
seed: 3
data: {type: synthetic, n_users: 80, n_items: 40}
similarity: {type: sparse, k: 10}
ranker: {type: item_cf, n: 5}
evaluation:
  split: temporal_global
  metrics: [ndcg@5]
output: {report: false}
"""

FAILING_SWEEP = """\
name: sw
seed: 1
data: {type: synthetic, n_users: 80, n_items: 40}
similarity: {type: sparse, k: 5}
evaluation: {split: {type: temporal_global, quantile: 0.8}, metrics: [ndcg@5]}
output: {report: false}
sweep:
  matrix: [ratings, {type: binary, threshold: 1000000000}]
"""

DEEP = "[" * 100_000


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


def write(folder: Path, text: str, name: str = "run.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return write(tmp_path, SMALL)


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command loads data: its problem must be found before any work."""

    def load_data(self):
        raise AssertionError("the command loaded data before refusing")

    monkeypatch.setattr(Recommender, "load_data", load_data)


def code_and_err(argv: list[str], capsys) -> tuple[int, str]:
    code = main([*argv, "-q"])
    return code, capsys.readouterr().err


# ------------------------------------------------------------------ recframe's own JSON, read back safely


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DEEP, "nested too deeply to be read"),
        (b"\xff\xfe{}", r"not UTF-8 text \(invalid start byte at byte 0\)"),
        ("{", "not valid JSON"),
        ("[1, 2]", "expected an object"),
        ("1" * 5000, "not valid JSON"),  # an integer too long to convert
    ],
)
def test_parse_json_turns_every_malformed_document_into_value_error(text, problem):
    with pytest.raises(ValueError, match=problem):
        parse_json(text, what="the manifest")


def test_read_json_names_the_file_and_caps_the_size(tmp_path):
    path = tmp_path / "run.json"
    path.write_text('{"a": "' + "x" * 200 + '"}', encoding="utf-8")
    with pytest.raises(DataError, match=r"run\.json: the run\.json is larger than 100 bytes"):
        read_json(path, what="run.json", max_bytes=100)
    with pytest.raises(ConfigError, match=r"nope\.json: can't read the manifest: No such file or directory; move it"):
        read_json(tmp_path / "nope.json", what="manifest", error=ConfigError, hint="move it")
    assert read_json(path, what="run.json") == {"a": "x" * 200}


def test_write_json_refuses_non_finite_numbers_naming_the_place():
    with pytest.raises(ValueError, match=r"run\.json: can't write a non-finite number at metrics\.ndcg@5"):
        write_json({"metrics": {"p@5": 0.5, "ndcg@5": math.inf}}, what="run.json")
    with pytest.raises(ValueError, match=r"at folds\[1\]"):
        write_json({"folds": [1.0, math.nan]})
    assert json.loads(write_json({"a": [1.5, None]})) == {"a": [1.5, None]}


@pytest.mark.parametrize("content", [DEEP, '{"files": ' + "[" * 5000 + "]" * 5000 + "}", "\ufeff{}", "[]"])
def test_a_hostile_manifest_is_a_config_error_not_a_crash(small, tmp_path, capsys, content, no_work):
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_text(content, encoding="utf-8")
    code, err = code_and_err(["run", str(small), "-o", str(out), "--overwrite"], capsys)
    assert code == 2, err
    assert err.startswith(f"error: {out / 'manifest.json'}: ")
    assert "Traceback" not in err and len(err) < 400


def test_a_hostile_kept_sweep_result_is_evaluated_again(tmp_path, capsys):
    sweep = write(tmp_path, FAILING_SWEEP)
    out = tmp_path / "sw"
    code, err = code_and_err(["run", str(sweep), "-o", str(out)], capsys)
    assert code == 3, err
    kept = tmp_path / ".sw.partial" / "settings" / "1" / "result.json"
    kept.write_text(DEEP, encoding="utf-8")
    code, err = code_and_err(["run", str(sweep), "-o", str(out), "--resume"], capsys)
    assert code == 3, err  # the second setting still fails on its data, no RecursionError (exit 1)
    assert f"{kept}: the kept result is nested too deeply to be read); evaluating it again" in err


# ------------------------------------------------------------------ the failing sweep setting is named


def test_a_failing_sweep_setting_is_named_with_its_values(tmp_path, capsys):
    sweep = write(tmp_path, FAILING_SWEEP)
    code, err = code_and_err(["run", str(sweep), "-o", str(tmp_path / "sw")], capsys)
    assert code == 3
    assert (
        "error: sweep setting 2 of 2 (matrix={type: binary, threshold: 1000000000}): no interactions have "
        "a value of at least matrix.threshold="
    ) in err
    assert "sweep stopped: 1 of 2 settings are finished" in err


# ------------------------------------------------------------------ every count has an upper bound


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["recommend", "{small}", "--user", "1", "--n", "99999999999"],
         "argument --n: must be from 1 to 10,000; got '99999999999'"),
        (["recommend", "{small}", "--user", "1", "--n", "1.5"], "argument --n: must be a whole number from 1"),
        (["similar", "{small}", "--item", "1", "--n", "10001"], "argument --n: must be from 1 to 10,000; got '10001'"),
        (["similar", "{small}", "--item", "1", "--n", "9" * 5000], "argument --n: must be a whole number from 1"),
        (["compare", "{tmp}", "{tmp}", "--bootstrap", "1000000000"],
         "argument --bootstrap: must be from 1 to 100,000; got '1000000000'"),
    ],
)
def test_count_flags_are_bounded(small, tmp_path, capsys, argv, message, no_work):
    (tmp_path / "per_user.csv").write_text("fold,user,ndcg@5\n0,1,0.5\n", encoding="utf-8")
    code, err = code_and_err([a.format(small=small, tmp=tmp_path) for a in argv], capsys)
    assert code == 2
    assert f"error: {message}" in err
    assert len(err) < 1000


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Recommender:
    return Recommender.from_config(write(tmp_path_factory.mktemp("api"), SMALL)).fit()


@pytest.mark.parametrize(
    ("n", "error", "message"),
    [
        (1.5, TypeError, r"n must be a whole number \(an int\); got 1\.5 of type float"),
        (True, TypeError, r"got True of type bool"),
        ("3", TypeError, r"got '3' of type str"),
        (0, ValueError, r"n must be from 1 to 10,000, as a ranker's n; got 0"),
        (99_999_999_999, ValueError, r"got 99999999999"),
    ],
)
def test_query_methods_validate_n(fitted, n, error, message):
    user = fitted.interaction_matrix.users.ids[0].item()
    item = fitted.interaction_matrix.items.ids[0].item()
    for query in (
        lambda: fitted.recommend([user], n=n),
        lambda: fitted.recommend_all(n),
        lambda: fitted.recommend_history([item], n),
        lambda: fitted.similar_items([item], n),
        lambda: fitted.similar_users([user], n),
    ):
        with pytest.raises(error, match=message):
            query()


# ------------------------------------------------------------------ history values are finite, of sane size


@pytest.mark.parametrize(
    ("ratings", "shown"),
    [("nan,inf", "'nan'"), ("1,-inf", "'-inf'"), ("1e308,1e308", "'1e308'"), ("3,1e101", "'1e101'")],
)
def test_non_finite_or_huge_ratings_are_a_usage_error(small, capsys, ratings, shown, no_work):
    code, err = code_and_err(["recommend", str(small), "--history", "1,2", f"--ratings={ratings}"], capsys)
    assert code == 2
    assert err == (
        f"error: --ratings {shown}: values must be finite numbers of magnitude at most 1e+100, on the scale of "
        f"the training data's values\n"
    )


@pytest.mark.parametrize(("value", "problem"), [(math.nan, "finite"), (1e308, "finite"), ("x", "number")])
def test_history_values_are_checked_in_the_api(fitted, value, problem):
    item = fitted.interaction_matrix.items.ids[0].item()
    with pytest.raises(ValueError, match=rf"history value of item {item} is .*; expected a {problem}"):
        fitted.recommend_history({item: value})


# ------------------------------------------------------------------ one rule for ids not in the training data


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["predict", "{small}", "--user", "1", "--item", "99999"], "unknown item 99999; not in the training data"),
        (["predict", "{small}", "--user", "1", "--item", "1", "--item", "x"], "unknown item 'x'"),
        (["similar", "{small}", "--item", "99999"], "unknown item 99999; not in the training data"),
        (["explain", "{small}", "--user", "1", "--item", "99999"], "unknown item 99999; not in the training data"),
        (["recommend", "{small}", "--history", "99998,99999"],
         "--history: no item is in the training data (unknown item 99998, 99999)"),
        # without a fallback ranker an unknown user is an error for every command
        (["recommend", "{small}", "--user", "99999", "--set", "ranker.fallback=null"], "unknown user 99999"),
        (["predict", "{small}", "--user", "99999", "--item", "1", "--set", "ranker.fallback=null"],
         "unknown user 99999"),
        (["explain", "{small}", "--user", "99999", "--item", "1", "--set", "ranker.fallback=null"],
         "unknown user 99999"),
    ],
)
def test_unknown_ids_exit_3_naming_them(small, capsys, argv, message):
    code, err = code_and_err([a.format(small=small) for a in argv], capsys)
    assert code == 3, err
    assert err.startswith(f"error: {message}")


def test_a_history_with_some_unknown_items_warns_and_recommends(small, capsys):
    code = main(["recommend", str(small), "--history", "1,99999", "--json", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == "warning: --history: 1 of 2 items are not in the training data and are ignored: 99999\n"
    assert json.loads(out)["items"]


def test_an_unknown_user_is_served_by_the_fallback(small, capsys):
    code = main(["predict", str(small), "--user", "99999", "--item", "1", "--json", "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["predictions"][0]["source"] == "global_mean"


# ------------------------------------------------------------------ output folder problems, before any work


def test_an_output_folder_inside_a_file_is_refused_before_fitting(small, tmp_path, capsys, no_work):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    out = tmp_path / "afile" / "sub" / "run"
    code, err = code_and_err(["run", str(small), "-o", str(out)], capsys)
    assert code == 2
    assert err == (
        f"error: {tmp_path / 'afile'}: is a file, not a folder, so the output folder {out} can't be created "
        f"inside it; choose another --output\n"
    )


def test_an_unwritable_output_parent_is_refused_before_fitting(small, tmp_path, capsys, monkeypatch, no_work):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != tmp_path and real_access(path, mode))
    code, err = code_and_err(["run", str(small), "-o", str(tmp_path / "new" / "run")], capsys)
    assert code == 2
    assert err.startswith(f"error: {tmp_path}: not writable (permission denied); recframe writes the output folder")


def test_an_overlong_output_name_is_refused_before_fitting(small, tmp_path, capsys, no_work):
    code, err = code_and_err(["run", str(small), "-o", str(tmp_path / ("x" * 300))], capsys)
    assert code == 2
    assert "is longer than 255 bytes, more than file systems allow; choose another --output" in err
    assert len(err.replace(str(tmp_path), "TMP")) < 600  # the folder is named whole (300 characters), once


@pytest.mark.parametrize("kind", ["link", "file"])
def test_what_overwrite_would_refuse_is_refused_before_fitting(small, tmp_path, capsys, monkeypatch, kind):
    out = tmp_path / "out"
    assert main(["run", str(small), "-o", str(out), "-q"]) == 0
    capsys.readouterr()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if kind == "link":
        (out / "charts").symlink_to(elsewhere)
    else:
        (out / "charts").write_text("mine", encoding="utf-8")
    monkeypatch.setattr(Recommender, "load_data", lambda self: pytest.fail("loaded data before refusing"))
    code, err = code_and_err(
        ["run", str(small), "-o", str(out), "--overwrite", "--set", "output.report=true"], capsys
    )
    assert code == 2
    assert err.startswith(f"error: {out}: holds charts/, which recframe did not write")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("kind", ["file", "link"])
def test_a_partial_that_is_not_a_folder_is_named_for_what_it_is(tmp_path, capsys, kind, no_work):
    sweep = write(tmp_path, FAILING_SWEEP)
    partial = tmp_path / ".sw.partial"
    if kind == "file":
        partial.write_text("mine", encoding="utf-8")
    else:
        partial.symlink_to(tmp_path)
    for extra in ([], ["--resume"]):
        code, err = code_and_err(["run", str(sweep), "-o", str(tmp_path / "sw"), *extra], capsys)
        assert code == 2
        assert err.startswith(
            f"error: {partial}: is a {kind}, not the folder where recframe keeps the finished settings of an "
            f"interrupted sweep"
        )
    assert partial.is_symlink() or partial.read_text(encoding="utf-8") == "mine"
