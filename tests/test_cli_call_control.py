"""Call-time control on the command line: ``--exclude``, ``--candidates``, ``--include-seen``, ``--fill-short``.

Each option must give exactly the Python API's answer (ids, scores, sources and reasons), from
the quickstart run file (fitted by the command) and from a saved model (``--model``); bad values
exit 2 naming the option.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recframe import Recommender
from recframe.cli import main
from recframe.cli.query_output import ranked_rows

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
USER = 42


@pytest.fixture(scope="module")
def fitted() -> Recommender:
    return Recommender.from_config(QUICKSTART).fit()


@pytest.fixture(scope="module")
def saved(fitted: Recommender, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("model") / "model")


def _json_lines(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code = main(["-q", *argv, "--format", "jsonl"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def _expected(lists: Any, key: str) -> list[dict[str, Any]]:
    """The API's lists as the command writes them (JSON round-trips floats exactly)."""
    return json.loads(json.dumps(list(ranked_rows(lists, key, "item"))))


def _seen_items(rec: Recommender, user: int) -> list[int]:
    matrix = rec.interaction_matrix
    row = int(matrix.users.rows([user])[0])
    columns = matrix.matrix.indices[matrix.matrix.indptr[row] : matrix.matrix.indptr[row + 1]]
    return [int(i) for i in matrix.items.ids_of(columns).tolist()]


def _cases(rec: Recommender) -> list[tuple[list[str], Any, str]]:
    """(command line, the API's answer, the query's key) for every option."""
    top = rec.recommend([USER], 10).ids[0].tolist()
    seen = _seen_items(rec, USER)
    few = [*top[:3], *seen[:2]]  # a short candidate list: item_cf can't fill 10 from it
    exclude = ",".join(str(i) for i in [*top[:4], 999_999])  # one unknown id: ignored, counted in the reason
    similar = rec.similar_items([top[0]], 5).ids[0].tolist()
    return [
        (
            ["recommend", "--user", str(USER), "--exclude", exclude],
            rec.recommend([USER], exclude=[*top[:4], 999_999]),
            "user",
        ),
        (
            ["recommend", "--user", str(USER), "--candidates", ",".join(map(str, few))],
            rec.recommend([USER], candidates=few),
            "user",
        ),
        (
            ["recommend", "--user", str(USER), "--candidates", ",".join(map(str, few)), "--fill-short"],
            rec.recommend([USER], candidates=few, fill_short=True),
            "user",
        ),
        (
            ["recommend", "--user", str(USER), "--n", "100", "--fill-short"],  # item_cf has 72 items for the user
            rec.recommend([USER], 100, fill_short=True),
            "user",
        ),
        (
            ["recommend", "--user", str(USER), "--include-seen", "--n", "20"],
            rec.recommend([USER], 20, exclude_seen=False),
            "user",
        ),
        (
            ["recommend", "--user", str(USER), "--exclude-seen", "--n", "20"],
            rec.recommend([USER], 20, exclude_seen=True),
            "user",
        ),
        (
            ["recommend", "--history", ",".join(map(str, seen[:3])), "--exclude", str(top[0])],
            rec.recommend_history(seen[:3], exclude=[top[0]]),
            "new_user",
        ),
        (
            ["recommend", "--history", ",".join(map(str, seen[:3])), "--candidates", ",".join(map(str, top))],
            rec.recommend_history(seen[:3], candidates=top),
            "new_user",
        ),
        (
            ["similar", "--item", str(top[0]), "--n", "5", "--exclude", ",".join(map(str, similar[:2]))],
            rec.similar_items([top[0]], 5, exclude=similar[:2]),
            "item",
        ),
        (
            ["similar", "--item", str(top[0]), "--n", "5", "--candidates", ",".join(map(str, [*similar[2:], 999_999]))],
            rec.similar_items([top[0]], 5, candidates=[*similar[2:], 999_999]),
            "item",
        ),
    ]


def test_each_option_answers_as_the_api_from_a_saved_model(
    fitted: Recommender, saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, lists, key in _cases(fitted):
        got = _json_lines([argv[0], "--model", str(saved), *argv[1:]], capsys)
        assert got == _expected(lists, key), argv


def test_each_option_answers_as_the_api_from_the_run_file(
    fitted: Recommender, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _cases(fitted)
    for argv, lists, key in (cases[0], cases[3], cases[4], cases[7], cases[9]):  # each refits: a sample
        got = _json_lines([argv[0], str(QUICKSTART), *argv[1:]], capsys)
        assert got == _expected(lists, key), argv


def test_the_options_change_the_answers(fitted: Recommender, saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["recommend", "--model", str(saved), "--user", str(USER)]
    plain = _json_lines(base, capsys)[0]
    top = [entry["item"] for entry in plain["items"]]
    excluded = _json_lines([*base, "--exclude", f"{top[0]},{top[1]},999999"], capsys)[0]
    assert top[0] not in [e["item"] for e in excluded["items"]] and len(excluded["items"]) == len(top)
    assert excluded["reason"] == "1 unknown item ids in exclude ignored"
    few = _json_lines([*base, "--candidates", f"{top[0]},{top[1]}"], capsys)[0]
    assert {e["item"] for e in few["items"]} == {top[0], top[1]}
    short = _json_lines([*base, "--n", "100"], capsys)[0]
    filled = _json_lines([*base, "--n", "100", "--fill-short"], capsys)[0]
    assert len(short["items"]) < 100 and len(filled["items"]) == 100
    assert filled["items"][: len(short["items"])] == short["items"]
    assert (
        filled["reason"]
        == f"{len(short['items'])} of 100 from item_cf; filled {100 - len(short['items'])} from popularity"
    )
    seen = set(_seen_items(fitted, USER))
    again = _json_lines([*base, "--include-seen", "--n", "50"], capsys)[0]
    assert seen & {e["item"] for e in again["items"]}
    assert not seen & {e["item"] for e in _json_lines([*base, "--n", "50"], capsys)[0]["items"]}


def test_ids_from_a_file(fitted: Recommender, saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    top = fitted.recommend([USER], 10).ids[0].tolist()
    listed = tmp_path / "exclude.txt"
    listed.write_text("".join(f"{i}\n" for i in top[:3]) + "\n")
    argv = ["recommend", "--model", str(saved), "--user", str(USER)]
    assert _json_lines([*argv, "--exclude", f"@{listed}"], capsys) == _expected(
        fitted.recommend([USER], exclude=top[:3]), "user"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--exclude", ""], "argument --exclude: names no id"),
        (["--candidates", " , "], "argument --candidates: names no id"),
        (["--exclude", "@"], "argument --exclude:"),
        (["--candidates", "@missing.txt"], "argument --candidates: '@missing.txt': can't be read"),
        (["--include-seen", "--exclude-seen"], "argument --exclude-seen: not allowed with argument --include-seen"),
    ],
)
def test_bad_values_exit_2_naming_the_option(
    saved: Path, tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["recommend", "--model", str(saved), "--user", str(USER), *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_empty_file_and_history_only_options(saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    assert main(["similar", "--model", str(saved), "--item", "1", "--exclude", f"@{empty}"]) == 2
    assert f"argument --exclude: '@{empty}': holds no id" in capsys.readouterr().err
    for option in ("--fill-short", "--include-seen", "--exclude-seen"):
        assert main(["recommend", "--model", str(saved), "--history", "1,2", option]) == 2
        assert f"error: {option}: applies to training users" in capsys.readouterr().err
