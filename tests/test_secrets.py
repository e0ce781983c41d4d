"""Passwords in database URLs are masked wherever a config is shown or written.

The SQL source's ``url`` is a :class:`recframe.secrets.Secret`: whole for connecting, masked in
``str``/``repr``, in JSON/YAML dumps (``config.yaml``, ``run.json``, ``report.html``,
``recframe config validate``) and in error messages. The end-to-end tests plant a password and
look for it in every file and stream a run produces.
"""

from __future__ import annotations

import logging
import re
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


# Signed URLs, fragments and user names: every query value but a few harmless ones is masked

TOKENS = ("TokD4", "TokE5", "TokF6", "TokG7")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1/x.zip?sig=TokD4&X-Amz-Signature=TokE5",
    "https://bucket.s3.example/x.zip?X-Amz-Credential=TokD4&X-Amz-Security-Token=TokE5&X-Amz-Date=TokF6",
    "https://storage.example/b/x.zip?X-Goog-Signature=TokD4&X-Goog-Credential=TokE5",
    "https://acct.blob.example/c/x.zip?sv=TokD4&se=TokE5&sp=r&skoid=TokF6&sig=TokG7",
    "https://cdn.example/x.zip?Expires=1&Policy=TokD4&Key-Pair-Id=TokE5&Signature=TokF6",
    "https://mirror.example/x.zip?vendor_thing=TokD4#access_token=TokE5",
    "https://mirror.example/x.zip?TokD4",
    "https://TokD4@github.example/x.zip",
    "https://user:TokD4@mirror.example/x.zip?dl=1",
])
def test_redact_masks_every_credential_a_url_can_carry(url):
    shown = redact(url)
    assert not any(token in shown for token in TOKENS), shown
    assert redact(shown) == shown  # idempotent
    assert redact(f"from {url}: failed") == f"from {shown}: failed"  # found in a sentence, punctuation kept


@pytest.mark.parametrize(("text", "shown"), [
    ("https://h/x.zip?dl=1&raw=true&token=abc", "https://h/x.zip?dl=1&raw=true&token=***"),
    ("postgresql://reader@db/r?sslmode=require&connect_timeout=5", "postgresql://reader@db/r?sslmode=require&connect_timeout=5"),
    ("https://medium.example/@someone/data.csv", "https://medium.example/@someone/data.csv"),
    ("https://h/x#readme", "https://h/x#***"),
    ("postgresql://bob:S3c@retH@127.0.0.1:1/db", "postgresql://bob:***@127.0.0.1:1/db"),
    ("'postgresql://bob:pa?ss@h/db'", "'postgresql://bob:***@h/db'"),
])
def test_redact_keeps_only_what_is_known_to_be_harmless(text, shown):
    assert redact(text) == shown


def test_a_signed_dataset_url_shows_no_token_in_validate_or_in_the_fetch_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path / "cache"))
    url = f"http://127.0.0.1:{free_port()}/x?sig=TokD4&X-Amz-Signature=TokE5#access_token=TokF6"
    run = tmp_path / "r.yaml"
    run.write_text(yaml.safe_dump({"name": "r", "data": {"type": "dataset", "name": "movielens-100k", "url": url}}))
    assert main(["config", "validate", "-v", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "sig=***&X-Amz-Signature=***#***" in out
    assert not any(token in out + err for token in TOKENS)
    assert main(["run", str(run), "--output", str(tmp_path / "out")]) == 3
    out, err = capsys.readouterr()
    assert "can't download movielens-100k from http://127.0.0.1:" in err and "sig=***" in err
    assert not any(token in out + err for token in TOKENS)


# A secret field given the wrong type: one message, the kind of value, never the value

@pytest.mark.parametrize("value", [
    [f"postgresql://bob:{PLANTED}@h/db"], {"dsn": f"postgresql://bob:{PLANTED}@h/db"}, 12345,
])
def test_a_secret_field_of_the_wrong_type_is_one_message_without_the_value(tmp_path, capsys, value):
    run = tmp_path / "r.yaml"
    run.write_text(yaml.safe_dump({"name": "r", "data": {"type": "sql", "url": value, "query": "SELECT 1"}}))
    kind = {list: "a list", dict: "a mapping", int: "a number"}[type(value)]
    for argv in (["config", "validate", str(run)], ["run", str(run), "--output", str(tmp_path / "o")]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        expected = rf"error: {re.escape(str(run))}:\d+: data\.url: must be a string \(a URL\); got {kind}"
        assert re.fullmatch(expected, err.strip())
        assert PLANTED not in out + err and "12345" not in err


def test_a_secret_given_by_set_is_masked_too(tmp_path, capsys):
    run = tmp_path / "r.yaml"
    run.write_text(yaml.safe_dump({"name": "r", "data": {"type": "sql", "url": "sqlite:///x.db", "query": "SELECT 1"}}))
    assert main(["config", "validate", str(run), "--set", f"data.url=[postgresql://bob:{PLANTED}@h/db]"]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == "error: --set data.url: must be a string (a URL); got a list"
    assert main(["config", "validate", str(run), "--set", f"data.url=postgresql://bob:{PLANTED}@h/db",
                 "--set", "data.url.x=1"]) == 2
    _, err = capsys.readouterr()
    assert PLANTED not in err and "bob:***@h/db" in err  # an echoed value is masked by short_repr


def test_any_plugin_field_typed_secret_is_never_echoed(registry):
    from recframe import ComponentConfig, ConfigError, DataSource, Interactions, hookimpl
    from recframe import Secret as PublicSecret
    from recframe import redact as public_redact
    from recframe.config import validate_run

    assert PublicSecret is Secret and public_redact is redact

    class TokenConfig(ComponentConfig):
        api_token: PublicSecret
        mirrors: list[PublicSecret] = []

    class TokenSource(DataSource):
        name = "token_source"
        Config = TokenConfig

        def load(self, rng) -> Interactions:
            raise NotImplementedError

    class Plugin:
        @hookimpl
        def recframe_register_components(self):
            return [TokenSource]

    registry.register(Plugin(), name="tokens", package="recframe-tokens", version="0.1")
    base = {"name": "r", "matrix": "ratings", "similarity": "sklearn_nn", "ranker": "item_cf"}
    raw = {**base, "data": {"type": "token_source", "api_token": [PLANTED], "mirrors": [f"https://u:{PLANTED}@h", 7]}}
    with pytest.raises(ConfigError) as caught:
        validate_run(raw, registry, source="r.yaml")
    text = str(caught.value)
    assert "data.api_token: must be a string; got a list" in text
    assert "data.mirrors" in text and "got a number" in text
    assert PLANTED not in text and "is-instance" not in text and "function-after" not in text
    spec = validate_run({**base, "data": {"type": "token_source", "api_token": PLANTED}}, registry).data
    assert spec.params.api_token.reveal() == PLANTED and PLANTED not in str(spec.to_dict())


# A password with an unencoded '@' (or '/', '?', '#'): refused before a driver can show part of it

@pytest.mark.parametrize("url", [
    f"postgresql://bob:{PLANTED}@retH@127.0.0.1:1/db",
    f"postgresql://bob:{PLANTED}/retH@127.0.0.1:1/db",
    f"postgresql://bob:{PLANTED}?retH@127.0.0.1:1/db",
    f"postgresql://bob:{PLANTED}#retH@127.0.0.1:1/db",
])
def test_a_password_with_an_unencoded_separator_is_refused(tmp_path, capsys, url):
    run = tmp_path / "r.yaml"
    run.write_text(yaml.safe_dump({"name": "r", "data": {"type": "sql", "url": url, "query": "SELECT 1"}}))
    assert main(["run", str(run), "--output", str(tmp_path / "o")]) == 2
    out, err = capsys.readouterr()
    assert re.search(rf"{re.escape(str(run))}:\d+: data\.url: the user name or password holds an unencoded", err)
    assert "encode it (@ as %40" in err
    assert PLANTED not in out + err and "retH" not in out + err
    encoded = url.replace("@retH", "%40retH").replace("/retH", "%2FretH").replace("?retH", "%3FretH")
    SQLConfig(url=encoded.replace("#retH", "%23retH"), query="SELECT 1")  # encoded: accepted


def test_a_database_error_that_echoes_the_url_is_masked(tmp_path, capsys, monkeypatch):
    psycopg = pytest.importorskip("psycopg")
    url = f"postgresql://reader:{PLANTED}@db.example/ratings?sslmode=disable&password={PLANTED}"

    def connect(dsn, **kwargs):
        message = f'connection to "{dsn}" failed\nDETAIL: {dsn}'
        raise psycopg.OperationalError(message)

    monkeypatch.setattr(psycopg, "connect", connect)
    with pytest.raises(DataError) as caught:
        SQLDataSource(url=url, query="SELECT 1").load(None)
    assert PLANTED not in str(caught.value)
    assert "reader:***@db.example/ratings?sslmode=disable&password=***" in str(caught.value)


def test_the_command_line_masks_every_error_warning_and_log_line(tmp_path, capsys, monkeypatch):
    import warnings

    from recframe import RecframeWarning

    def dispatch(args):
        logging.getLogger("recframe.test").warning("connecting to https://h/x?api=%s", PLANTED)
        warnings.warn(f"slow mirror https://u:{PLANTED}@h/x", RecframeWarning, stacklevel=1)
        raise DataError(f"driver said: postgresql://u:{PLANTED}@h/db")

    monkeypatch.setattr("recframe.cli.app._dispatch", dispatch)
    assert main(["plugins"]) == 3
    out, err = capsys.readouterr()
    assert PLANTED not in out + err
    assert "https://h/x?api=***" in err and "https://u:***@h/x" in err and "postgresql://u:***@h/db" in err
