"""Passwords in database URLs are masked wherever a config is shown or written.

The SQL source's ``url`` is a :class:`recframe.secrets.Secret`: whole for connecting, masked in
``str``/``repr``, in JSON/YAML dumps (``config.yaml``, ``run.json``, ``report.html``,
``recframe config validate``) and in error messages. The end-to-end tests plant a password and
look for it in every file and stream a run produces.
"""

from __future__ import annotations

import logging
import socket
import sqlite3

import pytest
import yaml

from recframe import DataError, Recommender
from recframe.builtin.data_sources import SQLConfig, SQLDataSource
from recframe.cli import main
from recframe.secrets import Secret, redact

PLANTED = "hunter2-Planted-Secret"


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql://reader:hunter2@db:5432/ratings?sslmode=require", "postgresql://reader:***@db:5432/ratings?sslmode=require"),
    ("postgresql://reader:p@ss/word@db/ratings", "postgresql://reader:***@db/ratings"),
    ("postgres://db/ratings?user=reader&password=hunter2", "postgres://db/ratings?user=reader&password=***"),
    ("host=db user=reader password='hunter 2' port=5432", "host=db user=reader password=*** port=5432"),
    ("sqlite:///ratings.db?password=hunter2&cache=shared", "sqlite:///ratings.db?password=***&cache=shared"),
    ("https://mirror.example/x.zip?token=abc", "https://mirror.example/x.zip?token=***"),
    ("postgresql://reader@db/ratings", "postgresql://reader@db/ratings"),
])
def test_redact_masks_passwords_in_urls_and_dsns(text, shown):
    assert redact(text) == shown


def test_the_config_keeps_the_password_for_use_and_masks_it_everywhere_else():
    url = f"postgresql://reader:{PLANTED}@db.example/ratings"
    config = SQLConfig(url=url, query="SELECT 1")
    assert config.url.reveal() == url
    shown = [str(config.url), repr(config.url), f"{config.url}", repr(config), str(config),
             repr(SQLDataSource(config)), str(config.model_dump()), config.model_dump_json(),
             yaml.safe_dump(config.model_dump(mode="json"))]
    for text in shown:
        assert PLANTED not in text
        assert "reader:***@db.example" in text
    assert SQLConfig.model_validate(config.model_dump()) == config  # round-trips in Python, password kept
    assert SQLConfig.model_json_schema()["properties"]["url"]["type"] == "string"
    assert Secret(url) == Secret(url) and hash(Secret(url)) == hash(Secret(url))


def test_a_validation_error_in_python_shows_no_password():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as missing:
        SQLConfig(url=f"postgresql://reader:{PLANTED}@db/ratings")  # no query
    with pytest.raises(ValidationError) as unsupported:
        SQLConfig(url=f"mysql://reader:{PLANTED}@db/ratings", query="SELECT 1")
    assert "mysql://reader:***@db/ratings" in str(unsupported.value)
    for caught in (missing, unsupported):
        assert PLANTED not in str(caught.value) and PLANTED not in repr(caught.value)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_failed_postgresql_run_shows_no_password(tmp_path, capsys, caplog):
    url = f"postgresql://reader:{PLANTED}@127.0.0.1:{free_port()}/ratings?password={PLANTED}"
    run = tmp_path / "pg.yaml"
    run.write_text(yaml.safe_dump({"name": "pg", "data": {"type": "sql", "url": url, "query": "SELECT 1"}}))
    with caplog.at_level(logging.DEBUG):
        code = main(["run", str(run), "--output", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    if "needs psycopg" not in err:
        assert "reader:***@127.0.0.1" in err
    assert code == 3
    assert PLANTED not in out + err + caplog.text
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != run]
    assert all(PLANTED not in p.read_text(errors="replace") for p in written)
    assert main(["config", "validate", str(run)]) == 0
    out, err = capsys.readouterr()
    assert PLANTED not in out + err
    assert "reader:***@127.0.0.1" in out and "password=***" in out
    with pytest.raises(Exception) as caught:
        Recommender.from_config(run).load_data()
    assert PLANTED not in str(caught.value) and PLANTED not in repr(caught.value)


def test_a_sqlite_run_writes_the_password_nowhere(tmp_path, capsys, caplog):
    database = tmp_path / "ratings.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE ratings (user INTEGER, item INTEGER, rating REAL, timestamp REAL)")
        rows = [(u, i, 1 + (u * i) % 5, u * 100 + i) for u in range(30) for i in range(20) if (u + i) % 3]
        connection.executemany("INSERT INTO ratings VALUES (?, ?, ?, ?)", rows)
    connection.close()
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({
        "name": "secret", "seed": 1,
        "data": {"type": "sql", "url": f"sqlite:///{database}?password={PLANTED}",
                 "query": "SELECT user, item, rating, timestamp FROM ratings"},
        "similarity": {"type": "sklearn_nn", "k": 5},
        "evaluation": {"split": {"type": "per_user_holdout", "test_fraction": 0.2}, "metrics": ["precision@5"]},
    }))
    output = tmp_path / "out"
    with caplog.at_level(logging.DEBUG):
        code = main(["run", str(run), "--output", str(output)])
    out, err = capsys.readouterr()
    assert code == 0, err
    names = {p.name for p in output.rglob("*")}
    assert {"config.yaml", "run.json", "report.html"} <= names
    for path in output.rglob("*"):
        if path.is_file():
            assert PLANTED not in path.read_bytes().decode("utf-8", errors="replace"), path
    assert PLANTED not in out + err + caplog.text
    assert "password=***" in (output / "config.yaml").read_text()


def test_a_sqlite_error_shows_no_password(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(DataError) as caught:
        SQLDataSource(url=f"sqlite:///{missing}?password={PLANTED}", query="SELECT 1").load(None)
    assert PLANTED not in str(caught.value)
