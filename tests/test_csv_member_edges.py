"""``csv`` and ``.zip`` edges: an empty archive, and ``member:`` given for a file that is not an archive."""

from __future__ import annotations

import gzip
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recframe.builtin.data_sources.delimited import CSVDataSource
from recframe.cli import EXIT_CONFIG, EXIT_DATA, main
from recframe.errors import ConfigError, DataError
from recframe.recommender import Recommender

RATINGS = "user,item,rating\n1,10,4\n1,11,3\n2,10,5\n2,12,2\n3,11,4\n3,12,1\n"

RUN = """\
name: member-edges
seed: 0
data: {data}
similarity: {{type: sparse, k: 2}}
ranker: {{type: item_cf, n: 2}}
output: {{report: false}}
"""


@pytest.fixture(autouse=True)
def _only_builtins(monkeypatch):
    monkeypatch.setenv("RECFRAME_DISABLE_PLUGINS", "timedecay")


def _empty_zip(folder: Path, name: str = "empty.zip", folders: tuple[str, ...] = ()) -> Path:
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        for entry in folders:
            archive.writestr(entry, "")  # a name ending in "/" is a folder, not a file
    return path


def _run_file(folder: Path, data: str) -> Path:
    path = folder / "run.yaml"
    path.write_text(textwrap.dedent(RUN.format(data=data)), encoding="utf-8")
    return path


# ------------------------------------------------------------------ an empty archive: a data error


@pytest.mark.parametrize("folders", [(), ("ratings/",)], ids=["no entries", "only a folder"])
def test_an_empty_zip_is_a_data_error_saying_so(tmp_path, folders):
    path = _empty_zip(tmp_path, folders=folders)
    with pytest.raises(DataError, match=r"empty\.zip: the archive is empty, it holds no files \(data\.path\)") as info:
        CSVDataSource(path=path).load(np.random.default_rng(0))
    assert "choose one with data.member" not in str(info.value)
    assert "[]" not in str(info.value)


def test_an_empty_zip_with_a_member_is_still_called_empty(tmp_path):
    path = _empty_zip(tmp_path)
    with pytest.raises(DataError, match=r"the archive is empty"):
        CSVDataSource(path=path, member="ratings.csv").load(np.random.default_rng(0))


def test_an_empty_zip_through_the_recommender_api(tmp_path):
    _empty_zip(tmp_path)
    rec = Recommender.from_config(
        {
            "name": "t",
            "data": {"type": "csv", "path": str(tmp_path / "empty.zip")},
            "similarity": {"type": "sparse", "k": 2},
            "ranker": {"type": "item_cf", "n": 2},
        }
    )
    with pytest.raises(DataError, match=r"empty\.zip: the archive is empty"):
        rec.load_data()


def test_recframe_run_exits_3_for_an_empty_zip(tmp_path, capsys):
    path = _empty_zip(tmp_path)
    run = _run_file(tmp_path, f"{{type: csv, path: {str(path)!r}}}")
    code = main(["run", str(run), "--output", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_DATA == 3
    assert "the archive is empty" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ------------------------------------------------------------------ member: for a plain file: a config error


@pytest.mark.parametrize("name", ["ratings.csv", "ratings.csv.gz", "ratings.tsv"])
def test_member_for_a_file_that_is_not_a_zip_is_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(RATINGS.encode()) if name.endswith(".gz") else RATINGS.encode())
    with pytest.raises(ValidationError, match=r"member applies to \.zip archives only") as info:
        CSVDataSource(path=path, member="ratings.csv")
    assert name in str(info.value)
    assert "member" in {str(e["loc"][0]) for e in info.value.errors()}


def test_member_for_a_plain_file_is_a_config_error_through_the_api(tmp_path):
    (tmp_path / "ratings.csv").write_text(RATINGS, encoding="utf-8")
    config = {
        "name": "t",
        "data": {"type": "csv", "path": str(tmp_path / "ratings.csv"), "member": "inner.csv"},
        "similarity": {"type": "sparse", "k": 2},
        "ranker": {"type": "item_cf", "n": 2},
    }
    with pytest.raises(ConfigError) as info:
        Recommender.from_config(config)
    message = str(info.value)
    assert "data.member" in message
    assert "ratings.csv" in message
    assert "'inner.csv'" in message
    assert "member applies to .zip archives only" in message


@pytest.mark.parametrize("command", ["run", "validate"])
def test_recframe_exits_2_for_member_with_a_plain_file(tmp_path, capsys, monkeypatch, command):
    (tmp_path / "ratings.csv").write_text(RATINGS, encoding="utf-8")
    run = _run_file(tmp_path, f"{{type: csv, path: {str(tmp_path / 'ratings.csv')!r}, member: inner.csv}}")

    def load_data(self):
        raise AssertionError("the command loaded data before refusing")

    monkeypatch.setattr(Recommender, "load_data", load_data)
    argv = (
        ["run", str(run), "--output", str(tmp_path / "out")] if command == "run" else ["config", "validate", str(run)]
    )
    code = main([*argv, "-q"])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG == 2
    assert "run.yaml:3: data.member:" in err
    assert "ratings.csv" in err
    assert "member applies to .zip archives only" in err


# ------------------------------------------------------------------ what still works


def test_member_still_selects_a_file_of_a_zip_with_any_case_suffix(tmp_path):
    plain = CSVDataSource(path=_write(tmp_path / "plain.csv")).load(np.random.default_rng(0))
    with zipfile.ZipFile(tmp_path / "TWO.ZIP", "w") as archive:
        archive.writestr("a.csv", "user,item\n9,9\n")
        archive.writestr("b.csv", RATINGS)
    chosen = CSVDataSource(path=tmp_path / "TWO.ZIP", member="b.csv").load(np.random.default_rng(0))
    assert chosen.fingerprint() == plain.fingerprint()
    assert (
        CSVDataSource(path=tmp_path / "plain.csv", member=None).load(np.random.default_rng(0)).fingerprint()
        == plain.fingerprint()
    )


def _write(path: Path) -> Path:
    path.write_text(RATINGS, encoding="utf-8")
    return path
