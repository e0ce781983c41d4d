"""The HTTP service over real HTTP: every endpoint, bad requests, and a reload under load."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from live_server import Server

from recframe import Recommender
from recframe.serve import ModelHolder, create_app, load_recommender


def _fit(seed: int, fallback: bool = False) -> Recommender:
    config: dict[str, Any] = {
        "seed": seed,
        "data": {"type": "synthetic", "n_users": 300, "n_items": 120},
        "similarity": {"type": "sklearn_nn", "k": 20},
        "ranker": {"type": "item_cf", "n": 10},
    }
    if not fallback:
        config["ranker"]["fallback"] = None
    return Recommender.from_config(config).fit()


@pytest.fixture(scope="module")
def rec() -> Recommender:
    return _fit(1)


@pytest.fixture(scope="module")
def server(rec: Recommender) -> Any:
    with Server(create_app(rec)) as running:
        yield running


def _lists(lists: Any, query: str, entries: str) -> list[dict[str, Any]]:
    return [{query: q, entries: ids, "scores": scores} for q, ids, scores in lists]


def _strip(answers: list[dict[str, Any]], query: str, entries: str) -> list[dict[str, Any]]:
    return [{query: a[query], entries: a[entries], "scores": a["scores"]} for a in answers]


def test_health_model_and_openapi(server: Server, rec: Recommender) -> None:
    status, body = server.call("GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["fingerprint"] == rec.data_fingerprint
    status, body = server.call("GET", "/model")
    assert status == 200
    assert body["fingerprint"] == rec.data_fingerprint and body["n_users"] == 300 and body["user_ids"] == "int"
    assert {c["role"] for c in body["components"]} >= {"matrix", "similarity", "ranker"}
    assert body["config"]["ranker"]["type"] == "item_cf" and body["recframe_version"]
    status, body = server.call("GET", "/openapi.json")
    assert status == 200
    assert {"/recommend/{user}", "/recommend", "/similar/items", "/explain", "/predict", "/reload"} <= set(
        body["paths"]
    )


def test_recommend_one_and_batch(server: Server, rec: Recommender) -> None:
    status, body = server.call("GET", "/recommend/3?n=5")
    assert status == 200
    assert _strip([body], "user", "items") == _lists(rec.recommend([3], 5), "user", "items")
    assert body["source"] == "item_cf"
    status, same = server.call("POST", "/recommend", {"user": 3, "n": 5})
    assert status == 200 and same == body
    users = list(range(0, 300, 7))
    status, body = server.call("POST", "/recommend", {"users": users})
    assert status == 200
    assert _strip(body["results"], "user", "items") == _lists(rec.recommend(users), "user", "items")


def test_call_time_options_pass_through(server: Server, rec: Recommender) -> None:
    first = rec.recommend([3], 5).ids[0].tolist()
    status, body = server.call("POST", "/recommend", {"user": 3, "n": 5, "exclude": first[:2]})
    assert status == 200
    assert body["items"] == rec.recommend([3], 5, exclude=first[:2]).ids[0].tolist()
    assert not set(first[:2]) & set(body["items"])
    status, body = server.call("GET", f"/recommend/3?n=3&candidates={first[4]}&candidates={first[3]}")
    assert status == 200 and set(body["items"]) <= {first[3], first[4]}
    status, body = server.call("POST", "/recommend", {"users": [3], "n": 5, "exclude_seen": False})
    assert status == 200
    assert body["results"][0]["items"] == rec.recommend([3], 5, exclude_seen=False).ids[0].tolist()


def test_similar_items_and_users(server: Server, rec: Recommender) -> None:
    status, body = server.call("GET", "/similar/items/4?n=6")
    assert status == 200 and _strip([body], "item", "items") == _lists(rec.similar_items([4], 6), "item", "items")
    status, body = server.call("POST", "/similar/items", {"items": [4, 5], "n": 3})
    assert status == 200
    assert _strip(body["results"], "item", "items") == _lists(rec.similar_items([4, 5], 3), "item", "items")
    status, body = server.call("GET", "/similar/users/8")
    assert status == 200 and _strip([body], "user", "users") == _lists(rec.similar_users([8], 10), "user", "users")
    status, body = server.call("POST", "/similar/users", {"users": [8, 9]})
    assert status == 200
    assert _strip(body["results"], "user", "users") == _lists(rec.similar_users([8, 9], 10), "user", "users")


def test_explain_and_predict(server: Server, rec: Recommender) -> None:
    item = int(rec.recommend([3], 1).ids[0, 0])
    expected = rec.explain(3, item).to_dict()
    status, body = server.call("GET", f"/explain?user=3&item={item}")
    assert status == 200 and body.keys() == expected.keys()
    assert body["contributions"] == expected["contributions"]  # JSON keeps every float exactly
    assert {k: v for k, v in body.items() if k != "contributions"} == pytest.approx(
        {k: v for k, v in expected.items() if k != "contributions"}
    )
    status, same = server.call("POST", "/explain", {"user": 3, "item": item})
    assert status == 200 and same == body
    predictions = rec.predict([3, 3], [item, 7])
    status, body = server.call("GET", f"/predict?user=3&item={item}&item=7")
    assert status == 200
    assert [p["rating"] for p in body["predictions"]] == pytest.approx(predictions.values.tolist())
    status, same = server.call("POST", "/predict", {"user": 3, "items": [item, 7]})
    assert status == 200 and same == body
    status, pairs = server.call("POST", "/predict", {"users": [3, 3], "items": [item, 7]})
    assert status == 200 and pairs == body


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("GET", "/recommend/3?n=0", None, 422, "query.n"),
        ("GET", "/recommend/3?n=1001", None, 422, "query.n"),
        ("GET", "/recommend/abc", None, 422, "path.user"),
        # an integer is digits alone: these were served as user 1
        ("GET", "/recommend/%201", None, 422, "path.user"),
        ("GET", "/recommend/+1", None, 422, "path.user"),
        ("GET", "/explain?user=+3&item=1", None, 422, "query.user"),  # a query's + is a space
        ("GET", "/recommend/%FF", None, 422, "path.user"),  # no UTF-8: every such id was the same
        ("GET", "/recommend/99999999999999999999", None, 422, "path.user"),
        ("GET", "/recommend/99999", None, 404, "user"),
        ("POST", "/recommend", {"user": "3"}, 422, "user"),
        ("POST", "/recommend", {"users": [1, "2"]}, 422, "users[1]"),
        ("POST", "/recommend", {"users": [1, 2.5]}, 422, "users[1]"),
        ("POST", "/recommend", {"user": 3, "n": "10"}, 422, "n"),
        ("POST", "/recommend", {"user": 3, "n": 0}, 422, "n"),
        ("POST", "/recommend", {"user": 3, "colour": 1}, 422, "colour"),
        ("POST", "/recommend", {}, 422, "body"),
        ("POST", "/recommend", {"users": list(range(10_001))}, 413, "users"),
        ("POST", "/recommend", {"users": [1, 99999]}, 404, "users"),
        ("POST", "/similar/items", {"items": [99999]}, 404, "items"),
        ("GET", "/similar/users/99999", None, 404, "path.user"),
        ("GET", "/explain?user=3&item=99999", None, 404, "item"),
        ("POST", "/predict", {"users": [1], "items": [1, 2]}, 422, "body"),
        ("POST", "/reload", {"path": 5}, 422, "path"),
        ("POST", "/reload", {}, 422, "path"),
        ("GET", "/recommend/3?bogus=1", None, 422, "query.bogus"),
        ("GET", "/recommend/3?n=2&exclude_sen=true", None, 422, "query.exclude_sen"),
        ("GET", "/similar/items/3?k=2", None, 422, "query.k"),
        ("GET", "/health?x=1", None, 422, "query.x"),
        ("POST", "/recommend?bogus=1", {"user": 3}, 422, "query.bogus"),
        ("GET", "/recommend/3?fill_short=maybe", None, 422, "query.fill_short"),
        ("GET", "/predict?user=0&user=1&item=1&item=2", None, 422, "query.user"),  # one user: not the last of two
        ("GET", "/explain?user=3&item=1&item=2", None, 422, "query.item"),
        ("GET", "/recommend/3?n=2&n=5", None, 422, "query.n"),
        ("GET", "/recommend/3?exclude_seen=false&exclude_seen=true", None, 422, "query.exclude_seen"),
        ("GET", "/similar/items/3?n=1&n=1", None, 422, "query.n"),
        ("POST", "/recommend", {"user": 3, "fill_short": "yes"}, 422, "fill_short"),
    ],
)
def test_bad_requests_name_the_field(
    server: Server, method: str, path: str, body: Any, status: int, field: str
) -> None:
    got, answer = server.call(method, path, body)
    assert (got, answer["field"]) == (status, field), answer
    assert answer["error"]


def test_an_id_that_is_no_valid_unicode_is_told_so(server: Server) -> None:
    """It said 'an id is a JSON integer or string' of a string, found by an outside review."""
    status, body = server.call("POST", "/recommend", {"user": "\ud800"})
    assert status == 422 and body["field"] == "user" and "lone surrogate" in body["error"], body


def test_an_integer_beyond_int64_in_a_url_is_told_so_whatever_its_sign(server: Server) -> None:
    for user in ("99999999999999999999", "-99999999999999999999", "9223372036854775808"):
        status, body = server.call("GET", f"/recommend/{user}")
        assert status == 422 and body["error"] == f"path.user: {user} is beyond the 64-bit integer range of ids", body
    status, body = server.call("GET", "/recommend/00000000000000000003")  # zeros in front add nothing, as in "03"
    assert status == 200 and body["user"] == 3, body
    status, body = server.call("GET", "/recommend/" + "0" * 4400 + "3")  # past Python's 4,300-digit int(): 500
    assert status == 200 and body["user"] == 3, body


def test_an_id_too_long_is_told_by_its_length_in_a_body_as_in_a_url(server: Server) -> None:
    status, body = server.call("POST", "/recommend", {"users": [1, "x" * 1001]})
    assert (status, body["field"]) == (422, "users[1]"), body
    assert body["error"] == "users[1]: ids are at most 1000 characters; got one of 1001"
    assert body["errors"] == [{"field": "users[1]", "message": "ids are at most 1000 characters; got one of 1001"}]
    status, body = server.call("POST", "/recommend", {"users": [1, 2.5]})  # neither kind: said so
    assert body["error"] == "users[1]: an id is a JSON integer or string; got 2.5"


def test_malformed_oversized_and_unknown_paths(server: Server) -> None:
    status, body = server.call("POST", "/recommend", raw=b'{"users": [1, 2')
    assert status == 400 and body["field"] == "body"
    status, body = server.call("POST", "/recommend", raw=b"x" * (3 << 20))
    assert status == 413 and body["field"] == "body"
    status, body = server.call("GET", "/nowhere")
    assert status == 404 and body["error"] == "no such endpoint"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:  # a method the endpoint doesn't take: 405 says which it does (the Allow header was dropped)
        conn.request("DELETE", "/recommend")
        response = conn.getresponse()
        assert response.status == 405 and json.loads(response.read())["error"] == "method not allowed"
        assert response.getheader("allow") == "POST"
    finally:
        conn.close()
    for raw in (b'{"users": [1], "x": "\xe9"}', b"[" * 100_000 + b"]" * 100_000):  # not UTF-8; nested too deep
        status, body = server.call("POST", "/recommend", raw=raw)
        assert (status, body) == (400, {"error": "the body is not valid JSON", "field": "body"})


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "text/x+json"])
def test_a_body_not_sent_as_json_names_the_content_type(server: Server, content_type: str) -> None:
    # curl -d sends a form's content type unless told otherwise: the body itself is fine
    status, body = server.call("POST", "/recommend", raw=b'{"users": [1]}', headers={"Content-Type": content_type})
    assert status == 415 and body["field"] == "body", body
    assert "Content-Type: application/json" in body["error"] and repr(content_type) in body["error"]
    json_with_charset = {"Content-Type": "application/json; charset=utf-8"}
    status, body = server.call("POST", "/recommend", {"users": [1]}, headers=json_with_charset)
    assert status == 200, body


def test_internal_errors_say_only_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    rec = _fit(1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail")

    rec.recommend = broken  # type: ignore[method-assign]
    with Server(create_app(rec)) as running, caplog.at_level("ERROR", logger="recframe.serve"):
        status, body = running.call("GET", "/recommend/3")
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        try:  # one keep-alive connection: the 500 leaves it open and usable
            conn.request("GET", "/recommend/3")
            first = conn.getresponse()
            assert first.status == 500 and first.getheader("connection") != "close"
            first.read()
            conn.request("GET", "/health")
            then = conn.getresponse()
            assert then.status == 200 and json.loads(then.read())["status"] == "ok"
        finally:
            conn.close()
    assert status == 500 and body["error"] == "internal error" and "secret" not in json.dumps(body)
    assert body["request_id"] in caplog.text and "secret detail" in caplog.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("recommend", "/recommend/3"), ("similar_items", "/similar/items/3"), ("similar_users", "/similar/users/3")],
)
def test_a_plugin_failing_during_a_query_is_a_500_not_the_clients_fault(
    caplog: pytest.LogCaptureFixture, method: str, path: str
) -> None:
    """A PluginError (a plugin raising, or breaking its contract) was answered 400 naming the client's field."""
    from recframe import PluginError

    rec = _fit(1)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise PluginError("ranker 'branker' (recframe-broken 0.2.0) raised ValueError in recommend(): nan score")

    setattr(rec, method, broken)
    with Server(create_app(rec)) as running, caplog.at_level("ERROR", logger="recframe.serve"):
        status, body = running.call("GET", path)
    assert status == 500 and body["error"] == "internal error" and body["field"] is None, body
    assert body["request_id"] in caplog.text and "raised ValueError in recommend()" in caplog.text


def test_unknown_query_parameters_are_named() -> None:
    with Server(create_app(_fit(1))) as running:
        status, body = running.call("GET", "/recommend/3?n=2&bogus=1&other=2")
    assert status == 422 and body["field"] == "query.bogus"
    assert [e["field"] for e in body["errors"]] == ["query.bogus", "query.other"]
    assert "fill_short" in body["error"] and "exclude_seen" in body["error"]


def test_fill_short_passes_through() -> None:
    rec = _fit(1, fallback=True)
    expected = rec.recommend([3], 1000, fill_short=True)
    unfilled = rec.recommend([3], 1000)
    assert expected.lengths[0] > unfilled.lengths[0]  # item_cf's list is short; popularity fills it
    with Server(create_app(rec)) as running:
        status, got = running.call("GET", "/recommend/3?n=1000&fill_short=true")
        assert status == 200 and got["items"] == expected.ids[0][: expected.lengths[0]].tolist()
        assert got["reason"] == str(expected.reasons[0]) and "filled" in got["reason"]
        status, posted = running.call("POST", "/recommend", {"user": 3, "n": 1000, "fill_short": True})
        assert status == 200 and posted == got
        status, short = running.call("POST", "/recommend", {"users": [3], "n": 1000, "fill_short": False})
        assert status == 200 and len(short["results"][0]["items"]) == unfilled.lengths[0]


def test_unknown_user_with_a_fallback_gets_its_list() -> None:
    rec = _fit(1, fallback=True)
    with Server(create_app(rec)) as running:
        status, body = running.call("GET", "/recommend/99999?n=4")
    assert status == 200 and body["source"] == "popularity" and body["reason"] == "not in training"
    assert len(body["items"]) == 4


def test_reload_under_load_answers_from_one_model_or_the_other(tmp_path: Path) -> None:
    models = {tmp_path / "a": _fit(1), tmp_path / "b": _fit(2)}
    for folder, model in models.items():
        model.save(folder)
    users = list(range(40))
    expected = {folder: {u: ids for u, ids, _ in rec.recommend(users, 10)} for folder, rec in models.items()}

    def loader(folder: Path) -> Recommender:
        time.sleep(0.02)  # a load that takes a while, so requests run during it
        return load_recommender(folder)

    a, b = models
    holder = ModelHolder.from_path(a, loader)
    failures: list[str] = []
    answered = [0]
    stop = threading.Event()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        i = 0
        while not stop.is_set():
            user = users[i % len(users)]
            i += 1
            conn.request("GET", f"/recommend/{user}")
            response = conn.getresponse()
            body = json.loads(response.read())
            if response.status != 200:
                failures.append(f"{response.status} {body}")
            elif body["items"] not in (expected[a][user], expected[b][user]):
                failures.append(f"user {user}: {body['items']} is from neither model")
            answered[0] += 1
        conn.close()

    with Server(create_app(holder, loader=loader)) as running:
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for folder in (b, a, b, a, b):
            status, body = running.call("POST", "/reload", {"path": str(folder)})
            assert status == 200 and body["model"]["path"] == str(folder)
        status, body = running.call("POST", "/reload")  # again from the current folder
        assert status == 200 and body["model"]["path"] == str(b)
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:5]
    assert answered[0] > 20
    assert holder.current.path == b and holder.current.metadata["fingerprint"] == models[b].data_fingerprint


def test_saved_model_folder_and_run_folder(tmp_path: Path, rec: Recommender) -> None:
    rec.save(tmp_path / "run" / "model")
    with Server(create_app(tmp_path / "run")) as running:  # a run folder serves its model/
        status, body = running.call("GET", "/recommend/3?n=5")
        assert status == 200 and body["items"] == rec.recommend([3], 5).ids[0].tolist()
        status, meta = running.call("GET", "/model")
        assert meta["saved_at"] and meta["path"] == str(tmp_path / "run" / "model")
        assert meta["fingerprint"] == rec.data_fingerprint
        status, body = running.call("POST", "/reload", {"path": str(tmp_path / "missing")})
        assert status == 422 and body["field"] == "path"
        status, body = running.call("GET", "/health")
        assert status == 200


def test_string_ids_holding_a_slash_are_reached_by_get_too() -> None:
    # a URL's %2F arrives decoded: without a path converter such an id matched no endpoint (404)
    from urllib.parse import quote

    users = ["dave/x", "dave/x", "erin", "erin", "fay", "fay/"]
    items = ["it/em", "b", "it/em", "c", "b", "c"]
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit({"user": users, "item": items})
    with Server(create_app(rec)) as server:
        status, body = server.call("GET", f"/recommend/{quote('dave/x', safe='')}?n=2")
        assert status == 200 and body["user"] == "dave/x", body
        assert body == server.call("POST", "/recommend", {"user": "dave/x", "n": 2})[1]
        status, body = server.call("GET", f"/similar/items/{quote('it/em', safe='')}")
        assert status == 200 and body["item"] == "it/em", body
        status, body = server.call("GET", f"/similar/users/{quote('fay/', safe='')}")
        assert status == 200 and body["user"] == "fay/", body
        status, body = server.call("GET", f"/recommend/{quote('nobody/here', safe='')}")  # the fallback's, named
        assert status == 200 and body["user"] == "nobody/here" and body["reason"] == "not in training", body
        for path in ("/recommend/%FF", "/explain?user=%C3%28&item=b", "/similar/items/%80"):  # no UTF-8
            status, body = server.call("GET", path)
            assert status == 422 and "holds U+FFFD, what percent-escapes of bytes" in body["error"], (path, body)


def test_health_answers_head_as_load_balancers_probe(server: Server) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("HEAD", "/health")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"")
    finally:
        conn.close()
