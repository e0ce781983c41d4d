"""Compare reads run folders anyone may have edited: malformed artifacts are data errors, echoes are bounded.

Each test guards a class found by the bad-input corpus of issue 11: ``run.json``, ``config.yaml``
and ``per_user.csv`` that can't be read (nesting, encoding, CSV limits) exit 3 naming the file;
every value shown in a message is shortened; a (fold, user) entry spelt twice is refused on
every path; a ``run.json`` that ``recframe run`` could not have written is refused rather than
treated as an unrecorded sweep setting; a broken ``config.yaml`` is one line naming file and line.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recframe.cli import main
from recframe.errors import DataError
from recframe.evaluation.compare import compare, compare_run_dirs
from recframe.evaluation.run_scores import RunScores

PER_USER = "fold,user,ndcg@5\n" + "".join(f"0,{u},{(u % 7) / 7}\n" for u in range(30))
RECORD = {
    "name": "r", "seed": 1, "recframe_version": "0.1.0", "data_fingerprint": "sha256:ab",
    "n_interactions": 300,
}
CONFIG = "name: r\nseed: 1\nevaluation:\n  split: {type: temporal_global}\n  metrics: [ndcg@5]\n"


def run_folder(folder: Path, *, per_user: str | bytes = PER_USER, record: object = RECORD,
               config: str | bytes = CONFIG) -> Path:
    """Write a run folder as recframe run does, with any file replaced."""
    folder.mkdir()
    for name, content in (("per_user.csv", per_user), ("config.yaml", config)):
        data = content if isinstance(content, bytes) else content.encode()
        (folder / name).write_bytes(data)
    raw = record if isinstance(record, str | bytes) else json.dumps(record)
    (folder / "run.json").write_bytes(raw if isinstance(raw, bytes) else raw.encode())
    return folder


def compare_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], **bad: object) -> tuple[int, str, Path]:
    """Compare a good run with one whose files are `bad`; return the exit code, stderr and the bad folder."""
    good = run_folder(tmp_path / "good")
    broken = run_folder(tmp_path / "bad", **bad)  # type: ignore[arg-type]
    capsys.readouterr()
    code = main(["compare", str(good), str(broken), "-q", "--bootstrap", "20"])
    return code, capsys.readouterr().err, broken


# ------------------------------------------------------------ unreadable artifacts: exit 3, naming the file


@pytest.mark.parametrize(
    ("bad", "file", "message"),
    [
        ({"record": "[" * 100_000 + "]" * 100_000}, "run.json", "nested too deeply"),
        ({"record": b'{"seed": "\xff"}'}, "run.json", "not UTF-8"),
        ({"per_user": b"fold,user,ndcg@5\n0,1,0.5\n0,2,\xff\xfe\n"}, "per_user.csv:3", "is not UTF-8 text"),
        ({"per_user": "fold,user,ndcg@5\n0,1," + "9" * 200_000 + "\n"}, "per_user.csv:2", "not valid CSV"),
        ({"per_user": "fold,user,ndcg@5\nfirst,1,0.5\n"}, "per_user.csv:2", "fold 'first' is not a fold number"),
        ({"config": b"name: \xff\n"}, "config.yaml:1", "is not UTF-8 text"),
        ({"config": "a: &a [*a]\n"}, "config.yaml", "contains it"),
    ],
)
def test_unreadable_artifacts_exit_3_naming_the_file(tmp_path, capsys, bad, file, message):
    code, err, broken = compare_cli(tmp_path, capsys, **bad)
    assert code == 3, err
    assert err.startswith(f"error: {broken / file}")
    assert message in err and "Traceback" not in err


# ------------------------------------------------------------ every echoed value is shortened


@pytest.mark.parametrize(
    "bad",
    [
        {"record": {**RECORD, "data_fingerprint": ["x"] * 100_000}},
        {"record": {**RECORD, "n_interactions": "9" * 100_000}},
        {"per_user": "fold,user,ndcg@5\n0,1," + "9" * 10_000 + "\n"},
        {"per_user": "fold,user,ndcg@5\n0,1,x" + "y" * 10_000 + "\n"},
        {"per_user": "fold,user," + "m" * 10_000 + "," + "m" * 10_000 + "\n0,1,0.5,0.5\n"},
        {"per_user": "fold,user,ndcg@5\n0," + "u" * 10_000 + ",0.5\n0," + "u" * 10_000 + ",0.5\n"},
        {"per_user": "fold,user,ndcg@5\n" + "7" * 10_000 + ",1,0.5\n"},
        {"per_user": "fold," + "h" * 10_000 + ",ndcg@5\n0,1,0.5\n"},
        {"config": "name: r\n" + "x" * 10_000 + ": [\n"},
    ],
)
def test_messages_echo_bounded_values(tmp_path, capsys, bad):
    code, err, _ = compare_cli(tmp_path, capsys, **bad)
    assert code == 3, err[:500]
    assert len(err) < 600, err[:600]


def test_differing_provenance_values_are_shortened(tmp_path, capsys):
    good = run_folder(tmp_path / "good")
    other = run_folder(tmp_path / "other", record={**RECORD, "data_fingerprint": "sha256:" + "f" * 100_000},
                       config=CONFIG.replace("{type: temporal_global}", "{type: temporal_global, quantile: 0.5, "
                                             + ", ".join(f"k{i}: {'v' * 1000}" for i in range(50)) + "}"))
    capsys.readouterr()
    assert main(["compare", str(good), str(other), "-q"]) == 2
    err = capsys.readouterr().err
    assert "differ in data_fingerprint" in err and "differ in split" in err
    assert len(err) < 1500


# ------------------------------------------------------------ one (fold, user) entry, however spelt, once


@pytest.mark.parametrize(
    ("row", "shown"),
    [("0,3,0.5", "fold '0', user '3'"), ("0, 3,0.5", "fold '0', user ' 3'"),
     ("00,3,0.5", "fold '00', user '3'"), (" 0,3 ,0.5", "fold ' 0', user '3 '")],
)
def test_a_repeated_entry_is_refused_with_file_and_line_on_every_path(tmp_path, capsys, row, shown):
    code, err, broken = compare_cli(tmp_path, capsys, per_user=PER_USER + row + "\n")
    assert code == 3
    assert f"error: {broken / 'per_user.csv'}:32: {shown} repeats line 5" in err
    with pytest.raises(DataError, match=r"per_user\.csv:32: .* repeats line 5"):
        compare_run_dirs([tmp_path / "good", broken])
    with pytest.raises(DataError, match=r"per_user\.csv:32: .* repeats line 5"):  # evaluation.compare reads the same
        RunScores.from_run_dir(broken)
    twice = RunScores("t", np.array(["0\t3", "0\t3"]), {"ndcg@5": np.zeros(2)})
    with pytest.raises(DataError, match=r"run 't' has a \(fold, user\) entry more than once: fold '0', user '3'"):
        compare([twice, twice])


# ------------------------------------------------------------ run.json must be what recframe run writes


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([], "the run.json holds []; expected an object"),
        (None, "the run.json holds None; expected an object"),
        (42, "the run.json holds 42; expected an object"),
        ({**RECORD, "data_fingerprint": None}, "has no data_fingerprint, which recframe run always records"),
        ({k: v for k, v in RECORD.items() if k != "n_interactions"}, "has no n_interactions"),
        ({k: v for k, v in RECORD.items() if k != "seed"}, "has no seed"),
        ({**RECORD, "n_interactions": True}, "n_interactions is True; expected an integer >= 0"),
        ({**RECORD, "n_interactions": -4}, "n_interactions is -4; expected an integer >= 0"),
        ({**RECORD, "data_fingerprint": 7}, "data_fingerprint is 7; expected a string"),
        ({**RECORD, "split": 5}, "split is 5; expected a split's settings"),
    ],
)
def test_a_run_json_recframe_could_not_have_written_is_refused(tmp_path, capsys, record, message):
    code, err, broken = compare_cli(tmp_path, capsys, record=json.dumps(record) if record is not None else "null")
    assert code == 3, err
    assert err.startswith(f"error: {broken / 'run.json'}: ") and message in err
    assert "none recorded" not in err


def test_sweep_settings_without_run_json_are_still_compared(tmp_path, capsys):
    a, b = run_folder(tmp_path / "a"), run_folder(tmp_path / "b")
    for folder in (a, b):
        (folder / "run.json").unlink()
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "-q", "--bootstrap", "20"]) == 0


# ------------------------------------------------------------ a broken config.yaml: one line, file and line


@pytest.mark.parametrize(
    ("config", "where", "message"),
    [
        ("name: r\nevaluation: [1, 2\nseed: {\n", "config.yaml:3", "not valid YAML: "),
        ("name: r\n\tseed: 1\n", "config.yaml:2", "not valid YAML: "),
        ("- 1\n- 2\n", "config.yaml", "holds [1, 2]; expected the run's settings (a mapping)"),
        ("", "config.yaml", "holds None; expected the run's settings"),
        pytest.param("[" * 500 + "]" * 500 + "\n", "config.yaml:1", "nest more than", id="deep"),
    ],
)
def test_a_broken_config_yaml_is_one_line_naming_file_and_line(tmp_path, capsys, config, where, message):
    code, err, broken = compare_cli(tmp_path, capsys, config=config)
    assert code == 3
    assert err.startswith(f"error: {broken / where}") and message in err
    assert err.count("\n") == 1 and "<unicode string>" not in err
