"""What every data source reads the same way: exact big ids beside floats, timestamps to the nanosecond,
empty ids refused, errors numbered by rows of the whole result, and the first repeat in data order."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recframe import DataError, Interactions, Recommender, as_id_array
from recframe.builtin.filters import DuplicatesFilter


def load(data: dict[str, object]) -> Interactions:
    return Recommender.from_config({"data": data}).load_data()


def test_an_integer_past_two_to_the_53_beside_a_float_keeps_its_value(tmp_path: Path) -> None:
    """float64 can't hold 2**53 + 1: a list mixing it with 2.0 became 9007199254740992, another id."""
    assert as_id_array([2**53 + 1, 2.0]).tolist() == [2**53 + 1, 2]
    assert as_id_array([2**63 - 1, 2.0]).tolist() == [2**63 - 1, 2]  # was refused as beyond int64
    database = tmp_path / "t.db"
    with sqlite3.connect(database) as connection:  # untyped columns: an integer and a real side by side
        connection.execute("CREATE TABLE t(user, item)")
        connection.executemany("INSERT INTO t VALUES (?, ?)", [(2**53 + 1, 1), (2.0, 2)])
    for chunk_rows in (1, 100):
        found = load(
            {
                "type": "sql",
                "url": f"sqlite:///{database}",
                "query": "SELECT user, item FROM t",
                "chunk_rows": chunk_rows,
            }
        )
        assert found.users.tolist() == [2**53 + 1, 2]


def test_parquet_timestamps_keep_their_own_unit(tmp_path: Path) -> None:
    """Nanoseconds were cast to microseconds, which Arrow refuses where digits would be lost."""
    stamps = pd.to_datetime(np.array([1.7e9 + 0.1234567, 1.6e9 + 3.000000001]), unit="s")
    for unit in ("ns", "us", "ms", "s"):
        frame = pd.DataFrame({"user": [1, 2], "item": [3, 4], "timestamp": stamps.astype(f"datetime64[{unit}]")})
        frame.to_parquet(tmp_path / f"{unit}.parquet")
        read = load({"type": "parquet", "path": str(tmp_path / f"{unit}.parquet")})
        assert read.timestamps.tolist() == Interactions.from_any(frame).timestamps.tolist(), unit
    assert load({"type": "parquet", "path": str(tmp_path / "ns.parquet")}).timestamps[0] == 1700000000.1234567


def test_an_empty_text_id_is_refused_by_every_source(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": ["a", ""], "item": ["x", "y"]})
    with pytest.raises(DataError, match=r"row 2 is an empty id; every id must be set"):
        Interactions.from_any(frame)
    frame.to_parquet(tmp_path / "e.parquet")
    with pytest.raises(DataError, match=r"row 2 is an empty id"):
        load({"type": "parquet", "path": str(tmp_path / "e.parquet")})
    (tmp_path / "e.csv").write_text("user,item\na,x\n,y\n")
    with pytest.raises(DataError, match=r"empty user id"):
        load({"type": "csv", "path": str(tmp_path / "e.csv")})


def test_sql_errors_name_rows_of_the_whole_result(tmp_path: Path) -> None:
    database = tmp_path / "r.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE r(user, item, rating)")
        connection.executemany("INSERT INTO r VALUES (?, ?, ?)", [(u, u, 1.0) for u in range(6)] + [(7, 7, "x")])
        connection.execute("CREATE TABLE f(user, item)")
        connection.executemany("INSERT INTO f VALUES (?, ?)", [(u, u) for u in range(4)] + [(2.5, 1)])
    base = {"type": "sql", "url": f"sqlite:///{database}", "chunk_rows": 3}
    with pytest.raises(DataError, match=r"row 7 is 'x'"):
        load({**base, "query": "SELECT user, item, rating FROM r"})
    with pytest.raises(DataError, match=r"got the float 2\.5 in row 5"):
        load({**base, "query": "SELECT user, item FROM f"})


def test_a_file_that_is_not_a_database_names_the_url(tmp_path: Path) -> None:
    (tmp_path / "notdb.db").write_bytes(b"this is no database" * 100)
    with pytest.raises(DataError, match=r"notdb\.db: not an SQLite database \(.*\) \(data\.url\)"):
        load({"type": "sql", "url": f"sqlite:///{tmp_path / 'notdb.db'}", "query": "SELECT user, item FROM t"})


def test_keep_error_names_the_first_repeated_pair_of_the_data() -> None:
    with pytest.raises(DataError, match=r"^user 9 and item 5 occur more than once"):
        DuplicatesFilter(keep="error").apply(Interactions([9, 9, 1, 1], [5, 5, 7, 7]))


def test_parquet_text_that_is_not_utf8_is_named_so(tmp_path: Path) -> None:
    """Arrow's own message was 'Unknown error: Wrapping \\xff\\xfe failed'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    users = pa.array([b"ok", b"\xff\xfe"], type=pa.binary()).cast(pa.string(), safe=False)
    pq.write_table(pa.table({"user": users, "item": ["a", "b"]}), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=r"column 'user' \(data\.user\) .* holds text that is not valid UTF-8"):
        load({"type": "parquet", "path": str(tmp_path / "bad.parquet")})
