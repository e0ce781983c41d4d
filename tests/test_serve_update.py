"""``POST /update`` and ``POST /forget``: the served model changes as a refit would, swapped in atomically."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from live_server import Server

from recframe import Recommender
from recframe.serve import create_app

CONFIG: dict[str, Any] = {
    "seed": 2,
    "similarity": {"type": "sklearn_nn", "k": 8},
    "ranker": {"type": "item_cf", "n": 5, "fallback": None},
}


def _events() -> dict[str, np.ndarray]:
    """Return 400 rated events: the first 300 are the training data, the rest (new users and items too) the update."""
    rng = np.random.default_rng(5)
    return {
        "user": np.concatenate([rng.integers(0, 40, 300), rng.integers(0, 45, 100)]),
        "item": np.concatenate([rng.integers(0, 30, 300), rng.integers(0, 33, 100)]),
        "rating": rng.integers(1, 6, 400).astype(np.float64),
    }


def _part(events: dict[str, np.ndarray], rows: Any) -> dict[str, np.ndarray]:
    return {name: column[rows] for name, column in events.items()}


def _fit(events: dict[str, np.ndarray]) -> Recommender:
    return Recommender.from_config(CONFIG).fit(events)


def _update_body(events: dict[str, np.ndarray], **extra: Any) -> dict[str, Any]:
    return {
        "users": events["user"].tolist(),
        "items": events["item"].tolist(),
        "ratings": events["rating"].tolist(),
    } | extra


def _served_lists(server: Server, users: list[int]) -> list[dict[str, Any]]:
    status, body = server.call("POST", "/recommend", {"users": users})
    assert status == 200, body
    return [{"user": r["user"], "items": r["items"], "scores": r["scores"]} for r in body["results"]]


def _lists(rec: Recommender, users: list[int]) -> list[dict[str, Any]]:
    return [{"user": u, "items": list(ids), "scores": list(s)} for u, ids, s in rec.recommend(users)]


def _same(served: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [r["items"] for r in served] == [r["items"] for r in expected]
    for a, b in zip(served, expected, strict=True):
        np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-9)


def test_update_answers_as_a_refit() -> None:
    events = _events()
    with Server(create_app(_fit(_part(events, slice(0, 300))))) as server:
        status, body = server.call("POST", "/update", _update_body(_part(events, slice(300, 400))))
        assert status == 200, body
        assert body["status"] == "updated" and body["update"]["kind"] == "update" and body["update"]["events"] == 100
        refit = _fit(events)
        assert body["model"]["n_users"] == refit.interaction_matrix.n_users and body["model"]["updates"] == 1
        assert body["model"]["last_update"] == body["update"]
        status, info = server.call("GET", "/model")
        assert (
            info["fingerprint"] == body["model"]["fingerprint"] and info["n_items"] == refit.interaction_matrix.n_items
        )
        users = refit.interaction_matrix.users.ids.tolist()
        _same(_served_lists(server, users), _lists(refit, users))


def test_forget_answers_as_a_refit_without_them() -> None:
    events = _part(_events(), slice(0, 300))
    with Server(create_app(_fit(events))) as server:
        status, body = server.call("POST", "/forget", {"users": [3, 5], "items": [2]})
        assert status == 200, body
        assert body["update"]["kind"] == "forget" and body["update"]["users"] == 2 and body["update"]["items"] == 1
        keep = ~np.isin(events["user"], [3, 5]) & (events["item"] != 2)
        refit = _fit(_part(events, keep))
        users = refit.interaction_matrix.users.ids.tolist()
        _same(_served_lists(server, users), _lists(refit, users))
        status, body = server.call("GET", "/recommend/3")
        assert status == 404 and body["field"] == "user"


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/update", {"users": ["1"], "items": [2], "ratings": [3.0]}, 422, "users[0]"),
        ("/update", {"users": [1, 2], "items": [2], "ratings": [3.0, 4.0]}, 422, "body"),
        ("/update", {"users": [1], "items": [2]}, 422, "ratings"),
        ("/update", {"users": [1], "items": [2], "ratings": ["five"]}, 422, "ratings[0]"),
        ("/update", {"users": [], "items": [], "ratings": []}, 422, "users"),
        ("/update", {"users": [1], "items": [2], "ratings": [3.0], "save": True}, 422, "save"),
        ("/update", {"users": [1], "items": [2], "ratings": [3.0], "sav": True}, 422, "sav"),
        ("/forget", {"users": [999]}, 422, "users"),
        ("/forget", {"items": ["x"]}, 422, "items[0]"),
        ("/forget", {}, 422, "body"),
    ],
)
def test_bad_bodies_name_the_field_and_change_nothing(path: str, body: Any, status: int, field: str) -> None:
    rec = _fit(_part(_events(), slice(0, 300)))
    fingerprint = rec.data_fingerprint
    with Server(create_app(rec)) as server:
        got, answer = server.call("POST", path, body)
        assert got == status, answer
        assert answer["field"] == field, answer
        assert server.call("GET", "/model")[1]["fingerprint"] == fingerprint
    assert rec.data_fingerprint == fingerprint and len(rec.lineage) == 1


def test_an_id_ending_in_nul_is_refused_not_taken_for_another() -> None:
    """Found by an outside review: POST /forget of 'u1\\0' forgot 'u1' (numpy's text arrays drop trailing NULs)."""
    events = _part(_events(), slice(0, 300))
    rec = _fit({**events, "user": np.array([f"u{u}" for u in events["user"]])})
    fingerprint = rec.data_fingerprint
    with Server(create_app(rec)) as server:
        status, body = server.call("POST", "/forget", {"users": ["u1\x00"]})
        assert status == 422 and "ends in a NUL character" in body["error"], body
        status, body = server.call("GET", "/recommend/u1%00")
        assert status == 422 and body["field"] == "path.user" and "ends in a NUL character" in body["error"], body
        status, body = server.call("POST", "/recommend", {"users": ["u2", "u1\x00"]})
        assert status == 422 and body["field"] == "users[1]", body
        assert server.call("GET", "/model")[1]["fingerprint"] == fingerprint
        assert server.call("GET", "/recommend/u1")[0] == 200


def test_save_writes_the_model_folder(tmp_path: Path) -> None:
    events = _events()
    _fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    with Server(create_app(tmp_path / "model")) as server:
        status, body = server.call("POST", "/update", _update_body(_part(events, slice(300, 400)), save=True))
        assert status == 200, body
        assert body["model"]["path"] == str(tmp_path / "model")
        saved = Recommender.load(tmp_path / "model")
        assert saved.data_fingerprint == body["model"]["fingerprint"] and saved.lineage[-1] == body["update"]
        refit = _fit(events)
        users = refit.interaction_matrix.users.ids.tolist()
        _same(_lists(saved, users), _lists(refit, users))
        status, body = server.call("POST", "/reload")  # a reload serves what was saved
        assert status == 200 and body["model"]["fingerprint"] == saved.data_fingerprint
        _same(_served_lists(server, users), _lists(refit, users))
        status, body = server.call("POST", "/forget", {"users": [users[0]], "save": True})
        assert status == 200, body
        assert Recommender.load(tmp_path / "model").lineage[-1]["kind"] == "forget"


def test_a_model_saved_without_training_data_is_refused(tmp_path: Path) -> None:
    _fit(_part(_events(), slice(0, 300))).save(tmp_path / "model", training_data=False)
    before = (tmp_path / "model" / "manifest.json").read_bytes()
    with Server(create_app(tmp_path / "model")) as server:
        status, body = server.call("POST", "/forget", {"users": [3], "save": True})
        assert status == 409 and "saved without its training data" in body["error"]
    assert (tmp_path / "model" / "manifest.json").read_bytes() == before


def test_a_plugin_failing_in_an_update_is_an_internal_error_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from recframe.builtin.similarity.sklearn_nn import SklearnNNSimilarity

    def broken(self: SklearnNNSimilarity) -> None:
        raise ValueError("boom in the plugin")

    events = _events()
    rec = _fit(_part(events, slice(0, 300)))
    users = rec.interaction_matrix.users.ids.tolist()
    before = _lists(rec, users)
    monkeypatch.setattr(SklearnNNSimilarity, "update_measure", broken)
    with Server(create_app(rec)) as server, caplog.at_level("ERROR", logger="recframe.serve"):
        status, body = server.call("POST", "/update", _update_body(_part(events, slice(300, 400))))
        # the server's fault, not the request's: not a 409 the client could resolve
        assert status == 500 and body["error"] == "internal error", body
        _same(_served_lists(server, users), before)
        status, model = server.call("GET", "/model")
        assert model["updates"] == 0
    assert body["request_id"] in caplog.text and "boom in the plugin" in caplog.text


def test_a_change_refused_for_memory_is_503_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    from recframe.errors import ResourceError
    from recframe.recommender.updating import UpdateMethods

    def too_big(*args: Any, **kwargs: Any) -> None:
        raise ResourceError("the item neighbours would need about 9 GB; raise similarity.memory_limit_mb")

    events = _events()
    rec = _fit(_part(events, slice(0, 300)))
    monkeypatch.setattr(UpdateMethods, "_updated_state", too_big)
    with Server(create_app(rec)) as server:
        status, body = server.call("POST", "/forget", {"users": [int(events["user"][0])]})
        # the machine's memory now, not a bug: the client is told why, and may try again later
        assert status == 503 and "not changed" in body["error"] and "memory_limit_mb" in body["error"], body
        status, model = server.call("GET", "/model")
        assert model["updates"] == 0


def test_updates_waiting_for_the_folder_leave_every_other_request_answered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # each waiting update held one of the 40 threads of the pool every handler runs in: 45 of them,
    # waiting for a `recframe update` on the folder, left /health and every query unanswered
    import http.client
    import json
    import threading

    from recframe.artifacts import model_lock

    events = _events()
    _fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    body = _update_body(_part(events, slice(300, 310)), save=True)

    def quick(server: Server, method: str, path: str, payload: Any = None) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)  # a load balancer's patience
        try:
            data = None if payload is None else json.dumps(payload).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
            return conn.getresponse().status
        finally:
            conn.close()

    statuses: list[int] = []
    with Server(create_app(tmp_path / "model")) as server, caplog.at_level("ERROR", logger="recframe.serve"):
        with model_lock(tmp_path / "model"):  # another process changes the folder meanwhile
            waiting = [
                threading.Thread(target=lambda: statuses.append(server.call("POST", "/update", body)[0]))
                for _ in range(45)
            ]
            for thread in waiting:
                thread.start()
            time.sleep(1.0)  # they queue up
            assert quick(server, "GET", "/health") == 200
            assert quick(server, "HEAD", "/health") == 200
            assert quick(server, "GET", "/model") == 200
            assert quick(server, "POST", "/recommend", {"users": [0, 1]}) == 200
            assert quick(server, "GET", "/similar/items/0") == 200
        for thread in waiting:
            thread.join(60)
    # the first waited for the folder, then saved; the others saved in turn
    assert statuses == [200] * 45, statuses
    assert Recommender.load(tmp_path / "model").lineage[-1]["kind"] == "update"


def test_a_change_served_but_not_saved_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # the client got its 500, but the server's log said only "changed the model"
    events = _events()
    _fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    with Server(create_app(tmp_path / "model")) as server, caplog.at_level("INFO", logger="recframe.serve"):
        other = Recommender.load(tmp_path / "model")
        other.forget(users=[int(events["user"][0])])
        other.save(tmp_path / "model")  # another process saves another model into the folder
        status, body = server.call("POST", "/update", _update_body(_part(events, slice(300, 310)), save=True))
        assert status == 500 and "was not saved" in body["error"], body
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and f"it was not saved in {tmp_path / 'model'}" in errors[0].getMessage()


def test_one_app_served_on_a_second_event_loop_still_takes_changes_in_turn(tmp_path: Path) -> None:
    # the turn's asyncio lock belonged to the first loop: changes overlapping on the second failed (500)
    import threading

    from recframe.artifacts import model_lock

    events = _events()
    _fit(_part(events, slice(0, 300))).save(tmp_path / "model")
    app = create_app(tmp_path / "model")
    for served in range(2):
        statuses: list[int] = []
        bodies = [
            _update_body(_part(events, slice(300 + 3 * served + i, 301 + 3 * served + i)), save=True) for i in range(3)
        ]
        with Server(app) as server:
            with model_lock(tmp_path / "model"):  # so that the changes overlap: they wait for the folder
                waiting = [
                    threading.Thread(
                        target=lambda b=b, got=statuses: got.append(server.call("POST", "/update", b)[0])
                    )
                    for b in bodies
                ]
                for thread in waiting:
                    thread.start()
                time.sleep(0.5)
            for thread in waiting:
                thread.join(60)
        assert statuses == [200, 200, 200], (served, statuses)


def test_the_turns_keep_no_closed_event_loop_alive() -> None:
    # one lock per loop, each waited on, held every loop it had served on: closed loops piled up
    import asyncio
    import gc
    import weakref

    from recframe.serve.app import _Turns

    turns = _Turns()

    async def overlapping() -> None:
        async def hold() -> None:
            async with turns.lock():
                await asyncio.sleep(0.01)

        await asyncio.gather(hold(), hold())  # the second waits on the lock

    loops = []
    for _ in range(5):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(overlapping())
        loop.close()
        loops.append(weakref.ref(loop))
        del loop
    gc.collect()
    assert sum(ref() is not None for ref in loops) <= 1
