"""The sql data source against a real PostgreSQL server, started on 127.0.0.1 for these tests and stopped after.

The server comes from the pgserver wheel (PostgreSQL binaries, part of the test extra); it runs
as its own system user, listens on 127.0.0.1 only, on a free port, in a temporary data folder.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from one_worker import claim

from recframe import DataError, Recommender
from recframe.builtin.data_sources import SQLDataSource
from recframe.testing import random_interactions

with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    pgserver = pytest.importorskip("pgserver")
    psycopg = pytest.importorskip("psycopg")

pytestmark = [pytest.mark.filterwarnings("ignore:XDG_RUNTIME_DIR"), pytest.mark.xdist_group("postgres")]

DATA = random_interactions(30, 20, seed=8, string_ids=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def one_server() -> Iterator[None]:
    """This worker's claim to start the run's PostgreSQL server (see tests/one_worker.py)."""
    with claim("PostgreSQL server"):
        yield


@pytest.fixture(scope="module")
def postgres(one_server: None) -> Iterator[str]:
    """Start PostgreSQL on 127.0.0.1 (initdb through pgserver), load a ratings table, stop it after.

    Its folder is not under pytest's temporary root: pgserver opens the folders above its data to
    its own system user (running as root), and pytest makes that root private again when another
    worker first asks for a temporary folder, after which the server's user could not reach its
    data to stop it (a teardown error, now and then, depending on the workers' timing).
    """
    top = Path(tempfile.mkdtemp(prefix="recframe-postgres-"))
    data = top / "data"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data, cleanup_mode=None)  # initialises, starts on a Unix socket
        user = server.system_user
        pgserver.pg_ctl(["-w", "stop"], pgdata=data, user=user)
        port = free_port()
        pgserver.pg_ctl(["-w", "-o", "-h 127.0.0.1", "-o", f"-p {port}", "-o", f"-k {data}",
                         "-l", str(data / "server.log"), "start"], pgdata=data, user=user)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        with psycopg.connect(url) as connection:
            connection.execute("CREATE TABLE ratings (user_id TEXT, item_id TEXT, stars REAL, ts DOUBLE PRECISION)")
            connection.execute("CREATE SEQUENCE counter")
            rows = zip(DATA.users.tolist(), DATA.items.tolist(), DATA.values.tolist(), DATA.timestamps.tolist(),
                       strict=True)
            with connection.cursor() as cursor:
                cursor.executemany("INSERT INTO ratings VALUES (%s, %s, %s, %s)", list(rows))
        yield url
    finally:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user)
        finally:
            shutil.rmtree(top, ignore_errors=True)


def source(url: str, **params: object) -> SQLDataSource:
    defaults = {"url": url, "query": "SELECT user_id, item_id, stars, ts FROM ratings ORDER BY user_id, item_id",
                "user": "user_id", "item": "item_id", "rating": "stars", "timestamp": "ts"}
    return SQLDataSource(**{**defaults, **params})


def test_round_trip_through_postgresql_equals_the_data(postgres):
    loaded = source(postgres, chunk_rows=7).load(np.random.default_rng(0))  # streamed in chunks
    ordered = DATA.take(np.lexsort((DATA.items, DATA.users)))
    assert loaded.fingerprint() == ordered.fingerprint()


def test_postgresql_from_yaml(postgres):
    rec = Recommender.from_config({"data": {
        "type": "sql", "url": postgres,
        "query": "SELECT user_id AS user, item_id AS item, stars AS rating FROM ratings WHERE stars >= 3",
    }})
    assert len(rec.load_data()) == int((DATA.values >= 3).sum())


def test_postgresql_errors(postgres):
    with pytest.raises(DataError, match=r"the query returns no column 'user' \(data\.user\); it returns \['user_id'"):
        source(postgres, user="user").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"the query failed: .*nope.* \(data\.query\)"):
        source(postgres, query="SELECT * FROM nope").load(np.random.default_rng(0))
    writing = "SELECT user_id, item_id, nextval('counter') AS stars, ts FROM ratings"  # nextval writes
    with pytest.raises(DataError, match=r"the query failed: .*read-only transaction"):
        source(postgres, query=writing).load(np.random.default_rng(0))
    closed = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(DataError, match=r"postgres:\*\*\*@127\.0\.0\.1:\d+/postgres: can't connect") as caught:
        source(closed).load(np.random.default_rng(0))
    assert "secret" not in str(caught.value)


def test_postgresql_session_is_read_only_at_the_server(postgres):
    """Writes hidden in functions fail at the server (the session is READ ONLY), not by reading the SQL."""
    with psycopg.connect(postgres, autocommit=True) as admin:
        admin.execute("CREATE OR REPLACE FUNCTION sneaky_insert() RETURNS int LANGUAGE sql VOLATILE AS "
                      "$$ INSERT INTO ratings VALUES ('x', 'y', 1, 1) RETURNING 1 $$")
        admin.execute("CREATE OR REPLACE FUNCTION sneaky_create() RETURNS int LANGUAGE plpgsql VOLATILE AS "
                      "$$ BEGIN CREATE TABLE sneaky (a int); RETURN 1; END $$")
        count = admin.execute("SELECT count(*) FROM ratings").fetchone()
    for call in ("sneaky_insert()", "sneaky_create()",
                 "length(set_config('transaction_read_only', 'off', false)) + sneaky_insert()"):
        query = f"SELECT user_id, item_id, {call} AS stars FROM ratings"
        refused = r"the query failed: .*(read-only transaction|read-write mode).* \(data\.query\)"
        with pytest.raises(DataError, match=refused):
            source(postgres, query=query, timestamp=None).load(np.random.default_rng(0))
    for query in ("INSERT INTO ratings VALUES ('x', 'y', 1, 1) RETURNING user_id, item_id",
                  "CREATE TABLE sneaky AS SELECT * FROM ratings"):
        with pytest.raises(DataError, match=r"the query failed: .* \(data\.query\)"):
            source(postgres, query=query, rating=None, timestamp=None).load(np.random.default_rng(0))
    with psycopg.connect(postgres) as admin:
        assert admin.execute("SELECT count(*) FROM ratings").fetchone() == count
        assert admin.execute("SELECT to_regclass('sneaky')").fetchone() == (None,)


def test_postgresql_password_from_the_environment(postgres, monkeypatch):
    monkeypatch.setenv("RECFRAME_TEST_PG_PASSWORD", "not-needed-on-trust")
    assert len(source(postgres, password_env="RECFRAME_TEST_PG_PASSWORD").load(np.random.default_rng(0))) == len(DATA)
    with pytest.raises(DataError, match=r"data\.password_env names 'RECFRAME_UNSET_VARIABLE', but no such"):
        source(postgres, password_env="RECFRAME_UNSET_VARIABLE").load(np.random.default_rng(0))
    masked = postgres.replace("postgres@", "postgres:***@")  # a URL copied from a written config.yaml
    with pytest.raises(DataError, match=r"the password in data\.url is '\*\*\*', as written in a saved config; "):
        source(masked).load(np.random.default_rng(0))


def test_postgresql_date_times_become_unix_seconds(postgres):
    """timestamptz, timestamp and date columns read as the DataFrame source reads the same values."""
    query = (
        "SELECT user_id, item_id, stars, "
        "TIMESTAMPTZ '2024-01-01 08:00:00.123456+01' + (row_number() OVER (ORDER BY user_id, item_id)) * "
        "INTERVAL '1 second' AS ts FROM ratings ORDER BY user_id, item_id"
    )
    loaded = source(postgres, query=query, chunk_rows=7).load(np.random.default_rng(0))
    first = 1704092400.123456 + 1  # 07:00:00.123456 UTC, then a second a row
    np.testing.assert_allclose(loaded.timestamps, first + np.arange(len(DATA)), rtol=0, atol=1e-6)
    for cast, expected in (("TIMESTAMP '2024-01-02 00:00:00'", 1704153600.0), ("DATE '2024-01-02'", 1704153600.0)):
        dated = source(postgres, query=f"SELECT user_id, item_id, stars, {cast} AS ts FROM ratings")
        assert set(dated.load(np.random.default_rng(0)).timestamps.tolist()) == {expected}


def test_postgresql_timeouts_postgresql_cant_take_are_refused_at_load():
    for seconds in (0.0004, 2_592_000):  # 0 ms lifts PostgreSQL's limit; 30 days overflows it
        with pytest.raises(ValueError, match="timeout_s"):
            source("postgresql://x@127.0.0.1/db", timeout_s=seconds)
