"""Data edges: every source converts, bounds and refuses the same way (issue 11, data classes).

One test (or one parametrized group) per class: pyarrow errors, the cache folder, id and value
conversion, bounded messages, ``.npz`` bombs, files that are not regular files, statistics
that can't overflow, SQLite authorizer wording, licence links, runaway queries and downloads.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import sqlite3
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, Recommender, numeric_column
from recframe.builtin.data_sources import (
    ArraysConfig,
    ArraysDataSource,
    CSVConfig,
    CSVDataSource,
    DataFrameDataSource,
    ParquetConfig,
    ParquetDataSource,
    SQLConfig,
    SQLDataSource,
)
from recframe.cli import main
from recframe.data import as_id_array
from recframe.data.summary import describe
from recframe.datasets import DATASETS, DatasetInfo, check_url, fetch
from recframe.datasets import download as datasets_module
from recframe.evaluation.value_text import iso_date

RNG = np.random.default_rng(0)


def sqlite_db(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE r (u INTEGER, i INTEGER, f REAL, b BLOB, t TEXT)")
    connection.executemany(
        "INSERT INTO r VALUES (?, ?, ?, ?, ?)", [(1, 10, 0.5, b"ab", "x"), (2, 20, 1.5, b"cd", "y")]
    )
    connection.commit()
    connection.close()
    return path


def sql(db: Path, query: str, **settings: object) -> Interactions:
    config = SQLConfig(url=f"sqlite:///{db}", query=query, user="u", item="i", **settings)
    return SQLDataSource(config).load(RNG)


# 1. pyarrow: every error is a DataError naming the file and the column


def test_parquet_values_and_mixed_folders_are_data_errors_naming_file_and_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    strings = tmp_path / "ratings.parquet"
    pq.write_table(pa.table({"user": [1, 2], "item": [1, 2], "rating": ["a", "b"]}), strings)
    with pytest.raises(DataError, match=r"ratings\.parquet: column 'rating' \(data\.rating\): row 1 is 'a'"):
        ParquetDataSource(ParquetConfig(path=strings)).load(RNG)
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(pa.table({"user": [1, 2], "item": [1, 2]}), folder / "a.parquet")
    pq.write_table(pa.table({"user": ["x", "y"], "item": [1, 2]}), folder / "b.parquet")
    mixed = r"b\.parquet: column 'user' \(data\.user\) is string, but int64 in .*a\.parquet"
    with pytest.raises(DataError, match=mixed):
        ParquetDataSource(ParquetConfig(path=folder)).load(RNG)
    huge = tmp_path / "huge.parquet"
    pq.write_table(pa.table({"user": [1e20, 2.0], "item": [1, 2]}), huge)
    with pytest.raises(DataError, match=r"huge\.parquet: column 'user' \(data\.user\): id 1e\+20 exceeds the int64"):
        ParquetDataSource(ParquetConfig(path=huge)).load(RNG)


def test_text_numbers_only_python_reads_are_refused_by_every_source(tmp_path):
    """'1_0' and '\u0663' were read as 10 and 3 from Parquet and SQL text, and refused by the CSV reader (a review)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    for column in (["4", "1_0"], np.array(["4", "\u0663"]), np.array(["4", "\uff14.5"], dtype=object), ("4", "2_5")):
        with pytest.raises(DataError, match=r"^ratings\[1\] is '.*'; every entry must be a finite number"):
            numeric_column("ratings", column, 2)
    assert numeric_column("ratings", [" 4 ", "2.5e0", 3], 3).tolist() == [4.0, 2.5, 3.0]  # spaces, exponents, numbers
    path = tmp_path / "ratings.parquet"
    pq.write_table(pa.table({"user": [1, 1, 2], "item": [1, 2, 1], "rating": ["5", "1_0", " 3 "]}), path)
    with pytest.raises(DataError, match=r"ratings\.parquet: column 'rating' \(data\.rating\): row 2 is '1_0'"):
        ParquetDataSource(ParquetConfig(path=path)).load(RNG)
    db = sqlite_db(tmp_path / "r.db")
    with pytest.raises(DataError, match=r"row 2 is '\u0663'"):
        sql(db, "SELECT u, i, CASE u WHEN 1 THEN '4' ELSE '\u0663' END AS r FROM r", rating="r")


# 2. the dataset cache folder: a file or an unwritable place is a usage error naming its origin


def test_a_cache_folder_that_is_a_file_is_a_usage_error_naming_where_it_came_from(tmp_path, monkeypatch, capsys):
    afile = tmp_path / "good.csv"
    afile.write_text("user,item\n1,2\n")
    assert main(["data", "fetch", "movielens-100k", "--folder", str(afile)]) == 2
    assert "--folder: " in capsys.readouterr().err
    monkeypatch.setenv("RECFRAME_DATA", str(afile / "below"))
    assert main(["data", "fetch", "movielens-100k"]) == 2
    err = capsys.readouterr().err
    assert "RECFRAME_DATA: " in err
    assert "is a file" in err
    with pytest.raises(ConfigError, match=r"data\.folder: .*good\.csv' is not a folder"):
        config = {"data": {"type": "dataset", "name": "movielens-100k", "folder": str(afile)}}
        Recommender.from_config(config).load_data()


# 3. id and value conversion: nothing wraps, truncates or collapses silently


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (np.array([1e20, 1.0]), r"id 1e\+20 exceeds the int64 range"),
        ([2**70, 1], r"id 1180591620717411303424 exceeds the int64 range"),
        (np.array([2**64 - 1], dtype=np.uint64), r"exceeds the int64 range"),
        (np.array([b"ab", b"cd"]), r"got bytes \(dtype \|S2"),
        ([0.5, 1.0], r"got the float 0\.5"),
        ([1, "a"], r"got both integers \(e\.g\. 1\) and strings \(e\.g\. 'a'\)"),
        ([np.nan, 1.0], r"got the float nan"),
    ],
)
def test_ids_that_do_not_fit_are_refused(ids, message):
    with pytest.raises(DataError, match=message):
        as_id_array(ids, "ratings.db: column 'u' (data.user)")


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (5, r"^user ids must be a 1-d column of ids; got one int: 5$"),
        ("abc", r"^user ids must be a 1-d column of ids; got one str: 'abc'$"),  # not the ids 'a', 'b', 'c'
        (b"ab", r"got one bytes"),
        (None, r"got one NoneType"),
        (np.array(["a", "b\udc80", "c"]), r"^user ids: id 'b\\udc80' in row 2 holds a lone surrogate"),
        (["a", "b", "\ud800x"], r"id '\\ud800x' in row 3 holds a lone surrogate"),
        (np.array(["ab", "c\udfff"], dtype=">U2"), r"in row 2 holds a lone surrogate"),  # big-endian text
    ],
)
def test_id_columns_that_are_one_value_or_not_utf8_text_are_refused_naming_them(ids, message):
    with pytest.raises(DataError, match=message):
        as_id_array(ids, "user ids")


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_the_surrogate_scan_finds_the_first_one_across_chunks(monkeypatch, chunk):
    from recframe.data import ids as ids_module

    monkeypatch.setattr(ids_module, "_CHUNK_CHARACTERS", chunk)
    rng = np.random.default_rng(chunk)
    alphabet = ["a", "\u00e9", "\ud7ff", "\ue000", "\U0001f600", "\ud800", "\udbff", "\udc00", "\udfff"]
    for _ in range(300):
        column = ["".join(rng.choice(alphabet, rng.integers(1, 4))) for _ in range(rng.integers(1, 6))]
        bad = [row for row, text in enumerate(column) if any(0xD800 <= ord(c) <= 0xDFFF for c in text)]
        if not bad:
            assert as_id_array(np.array(column)).tolist() == column
            continue
        with pytest.raises(DataError, match=f"in row {bad[0] + 1} holds"):
            as_id_array(np.array(column))


def test_a_query_id_holding_a_surrogate_is_an_unknown_id_not_an_error():
    rec = Recommender.from_config({"ranker": {"type": "item_cf", "n": 2}}).fit(
        {"user": ["a", "b", "c", "a"], "item": ["x", "y", "x", "y"], "rating": [1.0, 2.0, 3.0, 4.0]}
    )
    lists = rec.recommend(["a", "b\udc80"])
    assert lists.sources.tolist()[1] == "popularity"  # served by the fallback, as any unknown user
    with pytest.raises(DataError, match="not in the training data"):
        rec.forget(users=["a\udc80"])


@pytest.mark.parametrize(
    "ids", [["a", "b\x00"], np.array(["a", "b\x00\x00"], dtype=object), ("a", "b\x00")], ids=["list", "object", "tuple"]
)
def test_text_ids_ending_in_nul_are_refused_before_numpy_drops_it(ids):
    """numpy's text arrays drop trailing NULs: 'b\\0' would silently become the id 'b'."""
    with pytest.raises(DataError, match=r"^user ids: row 2: id 'b\\x00.*' ends in a NUL character"):
        as_id_array(ids, "user ids")
    assert as_id_array(["a\x00b", "c"]).tolist() == ["a\x00b", "c"]  # a NUL inside an id survives: left alone


def test_a_query_update_or_forget_naming_an_id_ending_in_nul_is_refused_and_changes_nothing():
    """Found by an outside review: forget(users=['a\\0']) forgot 'a', and queries answered for 'a'."""
    rec = Recommender.from_config({"ranker": {"type": "item_cf", "n": 2}}).fit(
        {"user": ["a", "b", "c", "a"], "item": ["x", "y", "x", "y"], "rating": [1.0, 2.0, 3.0, 4.0]}
    )
    before = rec.data_fingerprint
    nul = r"id 'a\\x00' ends in a NUL character"
    for call in (
        lambda: rec.forget(users=["a\x00"]),
        lambda: rec.forget(users=np.array(["b", "a\x00"], dtype=object)),
        lambda: rec.recommend("a\x00"),
        lambda: rec.recommend(["b", "a\x00"]),
        lambda: rec.explain("a\x00", "x"),
        lambda: rec.interaction_matrix.users.rows(["a\x00"]),
        lambda: rec.update({"user": ["a\x00"], "item": ["x"], "rating": [5.0]}),
    ):
        with pytest.raises(DataError, match=nul):
            call()
    with pytest.raises(DataError, match=r"id 'x\\x00' ends in a NUL character"):
        rec.similar_items("x\x00")
    assert rec.data_fingerprint == before and len(rec.lineage) == 1


def test_sql_ids_and_values_are_converted_with_checks_naming_the_column(tmp_path):
    db = sqlite_db(tmp_path / "r.db")
    with pytest.raises(DataError, match=r"r\.db: column 'u' \(data\.user\): id 1e\+20 exceeds the int64 range"):
        sql(db, "SELECT 99999999999999999999 AS u, i FROM r")
    with pytest.raises(DataError, match=r"r\.db: column 'u' \(data\.user\) must be .* got bytes"):
        sql(db, "SELECT b AS u, i FROM r")
    with pytest.raises(DataError, match=r"column 'u' \(data\.user\) must be .* got the float 0\.5"):
        sql(db, "SELECT f AS u, i FROM r")
    with pytest.raises(DataError, match=r"column 'u' \(data\.user\) must be all integers or all strings; got both"):
        sql(db, "SELECT CASE WHEN u > 1 THEN 'x' ELSE u END AS u, i FROM r")
    with pytest.raises(DataError, match=r"column 'i' \(data\.item\) mixes integer and text ids"):
        sql(db, "SELECT u, CASE WHEN u > 1 THEN 'x' ELSE i END AS i FROM r", chunk_rows=1)
    with pytest.raises(DataError, match=r"column 'rating' \(data\.rating\): row 1 is 'x'"):
        sql(db, "SELECT u, i, t AS rating FROM r")
    assert sql(db, "SELECT u, i, f AS rating FROM r").values.tolist() == [0.5, 1.5]


# 4. every echo of user text is bounded


def test_messages_echoing_user_text_stay_short(tmp_path, monkeypatch):
    module = tmp_path / "loud_data.py"
    module.write_text("def frame():\n    raise ValueError('x' * 100_000)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(DataError) as raised:
        DataFrameDataSource(object="loud_data:frame").load(RNG)
    assert len(str(raised.value)) < 600
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column{i}" for i in range(50_000)) + "\n" + ",".join("1" * 50_000) + "\n")
    with pytest.raises(DataError, match=r"no column 'user' for data\.user.*\(50,000 columns\)") as raised:
        CSVDataSource(CSVConfig(path=wide)).load(RNG)
    assert len(str(raised.value)) < 1000
    info = DatasetInfo("t", "t", "http://127.0.0.1:1/t.csv", None, "sha256:" + "0" * 64, "terms", "u", None)
    with pytest.raises(DataError) as raised:
        fetch(info, url="http://127.0.0.1:1/" + "x" * 100_000, folder=tmp_path)
    assert len(str(raised.value)) < 1000
    with pytest.raises(ConfigError) as failed:
        check_url("ftp://" + "y" * 100_000)
    assert len(str(failed.value)) < 600


# 5. .npz decompression bombs are refused from the array headers, before decompressing


def npz_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """Write a tiny .npz whose ``user`` array header claims `shape` (its data is never read)."""
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("user.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(b"\0" * 64)
        archive.writestr("item.npy", b"")
    return path


def test_npz_bombs_are_refused_before_decompressing(tmp_path):
    bomb = npz_claiming(tmp_path / "bomb.npz", (10**10,))
    with pytest.raises(DataError, match=r"bomb\.npz: its arrays would take 80,000,000,\d+ bytes.*decompression bomb"):
        ArraysDataSource(ArraysConfig(path=bomb)).load(RNG)
    with pytest.raises(DataError, match=r"more than data\.max_decompressed_mb \(1 MB\)"):
        ArraysDataSource(ArraysConfig(path=bomb, max_decompressed_mb=1)).load(RNG)
    good = tmp_path / "good.npz"
    np.savez_compressed(good, user=np.zeros(1000, dtype=np.int64), item=np.arange(1000))
    assert len(ArraysDataSource(ArraysConfig(path=good)).load(RNG)) == 1000


# 6. anything but a regular file is refused up front, by every file-reading source


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
@pytest.mark.parametrize("kind", ["csv", "arrays", "sql", "parquet"])
def test_pipes_and_devices_are_refused_by_every_source(tmp_path, kind):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path, what in ((fifo, "a named pipe"), (Path("/dev/zero"), "a character device")):
        if kind == "sql":
            source: object = SQLDataSource(SQLConfig(url=f"sqlite:///{path}", query="SELECT 1"))
            key = "data.url"
        else:
            source = {"csv": CSVDataSource, "arrays": ArraysDataSource, "parquet": ParquetDataSource}[kind](
                {"csv": CSVConfig, "arrays": ArraysConfig, "parquet": ParquetConfig}[kind](path=path)
            )
            key = "data.path"
        with pytest.raises(DataError, match=rf"is {what}.*, not a regular file \({key}\)"):
            source.load(RNG)  # type: ignore[attr-defined]


# 7. statistics never overflow; dates out of range are numbers; the summary is strict JSON


def test_describe_of_extreme_values_is_finite_and_dates_out_of_range_are_numbers():
    n = 40
    huge = Interactions(np.arange(n) % 7, np.arange(n) % 5, np.full(n, 1e307) * (1 + np.arange(n) % 5),
                        np.r_[0.0, np.full(n - 1, 1e300)])
    summary = describe(huge)
    json.dumps(summary, allow_nan=False)  # no inf or nan anywhere
    assert summary["ratings"]["mean"] == pytest.approx(3e307)
    assert np.isfinite(summary["time"]["span_days"])
    assert iso_date(1e300) == "1e+300"
    assert iso_date(0) == "1970-01-01T00:00:00Z"
    wide = Interactions([1, 2, 3], [1, 2, 3], [-1.7e308, 1.7e308, 1.7e308] * 1)
    json.dumps(describe(wide), allow_nan=False)


# 8. messages name what is wrong: pragma functions are reads; a bad --url names --url


def test_sqlite_pragma_functions_are_reads_and_pragma_statements_are_named(tmp_path, capsys):
    db = sqlite_db(tmp_path / "r.db")
    assert len(sql(db, "SELECT u, i FROM r, pragma_table_info('r')")) == 10
    with pytest.raises(DataError, match=r"refused: PRAGMA 'query_only' 'OFF' \(a PRAGMA statement; pragma functions"):
        sql(db, "PRAGMA query_only = OFF")
    assert main(["data", "fetch", "movielens-100k", "--url", "http://[::1"]) == 2
    assert "argument --url: 'http://[::1' is not a valid URL" in capsys.readouterr().err


# 9. each dataset's licence link is its own


def test_each_dataset_links_its_own_terms():
    assert DATASETS["movielens-100k"].licence_url == "https://files.grouplens.org/datasets/movielens/ml-100k-README.txt"
    for info in DATASETS.values():
        stem = info.url.rsplit("/", 1)[-1].removesuffix(".zip")
        if "grouplens" in info.url:
            assert info.licence_url.rsplit("/", 1)[-1].startswith(stem + "-README"), info.name
        else:
            assert info.licence_url.startswith(info.url.split("/raw.githubusercontent.com/")[0]), info.name
            assert "goodbooks-10k" in info.licence_url


# 10. runaway queries and downloads are stopped; password_env is checked with the config


def test_runaway_sqlite_queries_are_stopped(tmp_path):
    db = sqlite_db(tmp_path / "r.db")
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)"
    with pytest.raises(DataError, match=r"more than data\.max_rows \(1,000\) rows"):
        sql(db, f"{endless} SELECT x AS u, x AS i FROM c", max_rows=1000, chunk_rows=100)
    started = time.monotonic()
    with pytest.raises(DataError, match=r"ran longer than data\.timeout_s \(0\.3 s\)"):
        sql(db, f"{endless} SELECT count(*) AS u, 1 AS i FROM c", timeout_s=0.3)
    assert time.monotonic() - started < 20


def test_password_env_is_checked_by_config_validate():
    with pytest.raises(ConfigError, match=r"data\.password_env: 'bad name!' is not an environment variable name"):
        Recommender.from_config(
            {"data": {"type": "sql", "url": "postgresql://h/d", "query": "SELECT 1", "password_env": "bad name!"}}
        )


def test_a_trickling_download_is_stopped(tmp_path, monkeypatch):
    body = b"u\ti\n" * 1000
    stop = threading.Event()

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for byte in body:
                if stop.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.02)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    monkeypatch.setattr(datasets_module, "RATE_WINDOW", 0.3)
    monkeypatch.setattr(datasets_module, "MIN_RATE", 1000)
    url = f"http://127.0.0.1:{server.server_address[1]}/r.csv"
    info = DatasetInfo("slow", "slow", url, len(body), "sha256:" + hashlib.sha256(body).hexdigest(), "t", "u", None)
    try:
        with pytest.raises(DataError, match=r"slower than 1,000 bytes/s"):
            fetch(info, folder=tmp_path)
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("column", ["values", "timestamps"])
def test_complex_numbers_are_refused_not_cut_to_their_real_part(column):
    # numpy's cast dropped the imaginary parts (a ComplexWarning at most), and 5+9j became the rating 5
    numbers = np.array([4.0, 5 + 9j, 3.0])
    with pytest.raises(DataError, match=rf"^{column} are complex numbers \({column}\[1\] is \(5\+9j\); every entry "):
        Interactions(np.array([1, 2, 3]), np.array([1, 2, 3]), **{column: numbers})
