"""The sql source runs queries read-only, enforced by SQLite itself, not by reading the SQL text.

Each hostile query below would write a file or change the database if the source only opened
the file with ``mode=ro`` (``VACUUM INTO`` and ``ATTACH`` write files even then); the engine's
authorizer and its attach limit refuse them, and nothing on disk changes.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from recframe import ConfigError, DataError, Recommender
from recframe.builtin.data_sources import SQLDataSource

ROWS = [(1, 10, 4.0, 100.0), (1, 11, 3.0, 101.0), (2, 10, 5.0, 102.0)]


def database(folder: Path, name: str = "ratings.db") -> Path:
    path = folder / name
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE ratings (user INTEGER, item INTEGER, rating REAL, ts REAL)")
        connection.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)", ROWS)
    connection.close()
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def load(url: str, query: str) -> object:
    return SQLDataSource(url=url, query=query).load(np.random.default_rng(0))


@pytest.mark.parametrize(("query", "refused"), [
    ("VACUUM INTO '{out}'", r"ATTACH '.*copy\.db'"),
    ("ATTACH DATABASE '{out}' AS other", r"ATTACH '.*copy\.db'"),
    ("INSERT INTO ratings VALUES (9, 9, 1, 1) RETURNING user, item", r"INSERT 'ratings'"),
    ("CREATE TABLE evil AS SELECT * FROM ratings", r"INSERT 'sqlite_master'"),
    ("PRAGMA writable_schema=ON", r"PRAGMA 'writable_schema' 'ON'"),
    ("WITH x AS (SELECT 9 AS u) INSERT INTO ratings SELECT u, u, u, u FROM x RETURNING user, item",
     r"INSERT 'ratings'"),
    ("SELECT load_extension('{out}') AS user, 1 AS item", r"FUNCTION 'load_extension'"),
    ("DELETE FROM ratings RETURNING user, item", r"DELETE 'ratings'"),
    ("UPDATE ratings SET rating = 0 RETURNING user, item", r"UPDATE 'ratings'"),
    ("DROP TABLE ratings", r"DELETE 'sqlite_master'"),
    ("VACUUM", r"ATTACH"),
    ("BEGIN IMMEDIATE", r"TRANSACTION 'BEGIN'"),
])
def test_a_query_that_would_write_is_refused_and_changes_nothing(tmp_path, query, refused):
    path = database(tmp_path)
    out = tmp_path / "copy.db"
    before = snapshot(tmp_path)
    expected = rf"ratings\.db: the query was refused: .*{refused}.* \(data\.query\); the database is read-only"
    with pytest.raises(DataError, match=expected):
        load(f"sqlite:///{path}", query.format(out=out))
    assert not out.exists()
    assert snapshot(tmp_path) == before


def test_reads_still_work_recursive_ctes_and_functions_included(tmp_path):
    path = database(tmp_path)
    query = ("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 2) "
             "SELECT r.user, r.item, abs(r.rating) AS rating FROM ratings r JOIN n ON r.user = n.k")
    data = load(f"sqlite:///{path}", query)
    assert sorted(data.values.tolist()) == [3.0, 4.0, 5.0]


def test_a_file_name_cannot_smuggle_uri_parameters(tmp_path):
    """``?`` and ``#`` in a path are part of the file name, escaped in the URI SQLite is given."""
    path = database(tmp_path, "odd #name%20.db")
    assert len(load(f"sqlite:///{path}", "SELECT user, item FROM ratings")) == 3
    with pytest.raises(ConfigError, match=r"data\.url: .*SQLite mode 'rw' is not allowed; .*read-only \(mode=ro\)"):
        Recommender.from_config({"data": {"type": "sql", "url": f"sqlite:///{path}?mode=rw", "query": "SELECT 1"}})
    # parameters that are not SQLite's (a password a driver would use) are dropped, not passed on
    assert len(load(f"sqlite:///{path}?password=x&cache=private", "SELECT user, item FROM ratings")) == 3


def test_a_hostile_view_in_the_database_file_cannot_load_code(tmp_path):
    """The file itself is untrusted: a view calling load_extension is refused when it is read."""
    path = database(tmp_path)
    with sqlite3.connect(path) as connection:
        connection.execute(f"CREATE VIEW evil AS SELECT load_extension('{tmp_path / 'x.so'}') AS user, 1 AS item")
    connection.close()
    before = snapshot(tmp_path)
    refused = (r"the query (was refused: FUNCTION 'load_extension'|failed: unsafe use of load_extension\(\)) "
               r"\(data\.query\)")
    with pytest.raises(DataError, match=refused):
        load(f"sqlite:///{path}", "SELECT user, item FROM evil")
    assert snapshot(tmp_path) == before
