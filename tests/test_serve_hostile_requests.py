"""The HTTP service against requests an outside review sent: each answered as it must be, or refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from live_server import Server

from recframe import Recommender
from recframe.builtin.rankers import ItemCFRanker
from recframe.serve import create_app


@pytest.fixture(scope="module")
def rec() -> Recommender:
    config = {
        "seed": 2,
        "data": {"type": "synthetic", "n_users": 300, "n_items": 120},
        "similarity": {"type": "sparse", "k": 20},
        "ranker": {"type": "item_cf", "n": 10},
    }
    return Recommender.from_config(config).fit()


@pytest.fixture(scope="module")
def server(rec: Recommender) -> Any:
    with Server(create_app(rec)) as running:
        yield running


@pytest.mark.parametrize(
    "path", ["/recommend/5%0A?n=2", "/similar/items/5%0A", "/similar/users/5%0D", "/recommend/a%0Ab"]
)
def test_a_line_break_in_a_url_path_is_refused(server: Server, path: str) -> None:
    """A route matching to the path's end also matched before a final newline: /recommend/5%0A answered for 5."""
    status, body = server.call("GET", path)
    assert status == 422 and body["field"] == "path" and "line break" in body["error"], body


def test_a_key_given_twice_in_a_body_is_refused(server: Server) -> None:
    status, body = server.call("POST", "/recommend", raw=b'{"user": 5, "user": 6, "n": 2}')
    assert status == 422 and body["field"] == "user" and "twice" in body["error"], body
    status, body = server.call("POST", "/similar/items", raw=b'{"items": [1, 2], "n": 3, "n": 4}')
    assert status == 422 and body["field"] == "n", body


def test_an_answer_of_more_than_a_million_ids_is_refused(server: Server) -> None:
    """10,000 users x 1,000 wrote 240 MB of JSON holding the interpreter's lock: /health waited seconds."""
    status, body = server.call("POST", "/similar/users", {"users": list(range(300)) * 4, "n": 1000})
    assert status == 413 and "1,200,000 ids" in body["error"] and body["field"] == "users", body
    status, body = server.call("POST", "/recommend", {"users": list(range(2000)), "n": 501})
    assert status == 413, body
    status, body = server.call("POST", "/recommend", {"users": list(range(300)), "n": 1000})
    assert status == 200 and len(body["results"]) == 300


def test_an_id_beyond_int64_is_shown_short(server: Server) -> None:
    status, body = server.call("POST", "/recommend", raw=b'{"user": ' + b"9" * 4000 + b"}")
    assert status == 422 and len(body["error"]) < 200, body


def test_the_default_n_is_the_fitted_rankers(rec: Recommender, tmp_path: Path) -> None:
    """A template set after the fit (for the next fit) changed the service's default n, not the API's."""
    model = Recommender.load(rec.save(tmp_path / "m"))
    model.ranker = ItemCFRanker(n=3)
    with Server(create_app(model)) as running:
        status, body = running.call("GET", "/recommend/5")
    assert status == 200 and len(body["items"]) == len(model.recommend([5]).ids[0]) == 10
