"""The sql data source on SQLite files made by the tests: round trip, chunks, errors."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, Recommender
from recframe.builtin.data_sources import CSVDataSource, SQLDataSource
from recframe.testing import random_interactions

DATA = random_interactions(30, 20, seed=3)


def database(tmp_path, rows=None, name="ratings.db"):
    path = tmp_path / name
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE ratings (user_id INTEGER, item_id INTEGER, stars REAL, ts REAL)")
        rows = rows if rows is not None else list(zip(DATA.users.tolist(), DATA.items.tolist(), DATA.values.tolist(),
                                                      DATA.timestamps.tolist(), strict=True))
        connection.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)", rows)
    return path


def source(path, **params):
    defaults = {"url": f"sqlite:///{path}", "query": "SELECT user_id, item_id, stars, ts FROM ratings",
                "user": "user_id", "item": "item_id", "rating": "stars", "timestamp": "ts"}
    return SQLDataSource(**{**defaults, **params})


def test_sqlite_round_trip_equals_csv_and_the_python_data(tmp_path):
    path = database(tmp_path)
    loaded = source(path, chunk_rows=7).load(np.random.default_rng(0))  # several chunks
    assert loaded.fingerprint() == DATA.fingerprint()
    csv_path = tmp_path / "ratings.csv"
    lines = ["user,item,rating,timestamp"] + [
        f"{u},{i},{v!r},{t!r}"
        for u, i, v, t in zip(DATA.users.tolist(), DATA.items.tolist(), DATA.values.tolist(), DATA.timestamps.tolist(),
                              strict=True)
    ]
    csv_path.write_text("\n".join(lines) + "\n")
    assert CSVDataSource(path=csv_path).load(np.random.default_rng(0)).fingerprint() == loaded.fingerprint()


def test_the_sql_source_from_yaml(tmp_path):
    path = database(tmp_path)
    rec = Recommender.from_config({"data": {
        "type": "sql", "url": f"sqlite:///{path}",
        "query": "SELECT user_id AS user, item_id AS item, stars AS rating FROM ratings WHERE stars >= 3",
    }})
    data = rec.load_data()
    assert len(data) == int((DATA.values >= 3).sum()) and data.timestamps is None


def test_errors_name_what_is_wrong(tmp_path):
    path = database(tmp_path)
    with pytest.raises(DataError, match=r"the query returns no column 'user' \(data\.user\); it returns \['user_id'"):
        source(path, user="user").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"the query failed: no such table: nope \(data\.query\)"):
        source(path, query="SELECT * FROM nope").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"no such database file"):
        source(tmp_path / "missing.db").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"the query was refused: INSERT 'ratings' \(data\.query\)"):
        source(path, query="INSERT INTO ratings VALUES (1, 1, 1, 1) RETURNING user_id, item_id, stars, ts").load(
            np.random.default_rng(0)
        )
    nulls = database(tmp_path, rows=[(1, 2, 3.0, 4.0), (None, 3, 4.0, 5.0)], name="nulls.db")
    with pytest.raises(DataError, match=r"data\.user column 'user_id' holds NULLs"):
        source(nulls).load(np.random.default_rng(0))
    empty = database(tmp_path, rows=[], name="empty.db")
    with pytest.raises(DataError, match=r"the query returned no rows"):
        source(empty).load(np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"data\.url: unsupported database URL 'mysql://x'"):
        Recommender.from_config({"data": {"type": "sql", "url": "mysql://x", "query": "SELECT 1"}})


def test_in_memory_objects_for_embedding():
    import scipy.sparse as sp

    matrix = sp.csr_array(np.array([[0, 3.0, 0], [1.0, 0, 2.0]]))
    from_matrix = Interactions.from_any(matrix)
    assert list(zip(from_matrix.users.tolist(), from_matrix.items.tolist(), from_matrix.values.tolist(),
                    strict=True)) == [(0, 1, 3.0), (1, 0, 1.0), (1, 2, 2.0)]
    records = np.array([(1, 7, 4.0)], dtype=[("user", "i8"), ("item", "i8"), ("rating", "f8")])
    assert Interactions.from_any(records).values.tolist() == [4.0]
    rec = Recommender.from_config({"similarity": {"type": "sklearn_nn", "k": 2}}).fit(matrix)
    assert rec.interaction_matrix.n_users == 2


def test_parquet_round_trip_equals_csv_sqlite_and_python(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from recframe.builtin.data_sources import ParquetDataSource

    table = pa.table({"uid": DATA.users, "iid": DATA.items, "rating": DATA.values, "timestamp": DATA.timestamps})
    pq.write_table(table, tmp_path / "ratings.parquet")
    loaded = ParquetDataSource(path=tmp_path / "ratings.parquet", user="uid", item="iid").load(np.random.default_rng(0))
    assert loaded.fingerprint() == DATA.fingerprint()
    assert source(database(tmp_path)).load(np.random.default_rng(0)).fingerprint() == loaded.fingerprint()
    with pytest.raises(DataError, match=r"no column 'user' \(data\.user\), 'item' \(data\.item\); the file has"):
        ParquetDataSource(path=tmp_path / "ratings.parquet").load(np.random.default_rng(0))
    timed = pa.table({"user": [1, 2], "item": [3, 4], "timestamp": pa.array([0, 2_000_000], pa.timestamp("us"))})
    pq.write_table(timed, tmp_path / "timed.parquet")
    timestamps = ParquetDataSource(path=tmp_path / "timed.parquet").load(np.random.default_rng(0)).timestamps
    assert timestamps.tolist() == [0, 2]
    nulls = pa.table({"user": [1, None], "item": [3, 4]})
    pq.write_table(nulls, tmp_path / "nulls.parquet")
    with pytest.raises(DataError, match=r"column 'user' \(data\.user\) has 1 nulls"):
        ParquetDataSource(path=tmp_path / "nulls.parquet").load(np.random.default_rng(0))
    rec = Recommender.from_config({"data": {"type": "parquet", "path": str(tmp_path / "ratings.parquet"),
                                            "user": "uid", "item": "iid"}})
    assert rec.load_data().fingerprint() == DATA.fingerprint()


def test_named_columns_of_a_dataframe_or_mapping():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"customer": [1, 2, 2], "product": ["a", "b", "a"], "qty": [3.0, 1.0, 2.0]})
    data = Interactions.from_columns(frame, user="customer", item="product", rating="qty")
    assert data.users.tolist() == [1, 2, 2] and data.items.tolist() == ["a", "b", "a"]
    assert data.values.tolist() == [3, 1, 2]
    same = Interactions.from_columns({"customer": [1, 2, 2], "product": ["a", "b", "a"], "qty": [3.0, 1.0, 2.0]},
                                     user="customer", item="product", rating="qty")
    assert same.fingerprint() == data.fingerprint()
    with pytest.raises(DataError, match=r"no column 'cust' \(user\), 'item' \(item\); found \['customer', 'product'"):
        Interactions.from_columns(frame, user="cust")
    with pytest.raises(TypeError, match="list has no named columns"):
        Interactions.from_columns([1, 2])


def test_two_result_columns_of_the_configured_name_are_ambiguous(tmp_path):
    # the first was taken silently, as CSV and Parquet refuse to
    path = database(tmp_path)
    query = "SELECT user_id, item_id, stars, ts AS user_id FROM ratings"
    with pytest.raises(DataError, match=r"the query returns 2 columns named 'user_id', so data\.user is ambiguous"):
        source(path, query=query, timestamp=None).load(np.random.default_rng(0))
