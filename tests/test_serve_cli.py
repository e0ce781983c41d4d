"""``recframe serve``: the command starts the service on a saved model, and says what is missing."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recframe import Recommender
from recframe.cli import main


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        "recframe.cli.serve.importlib.util.find_spec", lambda name: None if name == "fastapi" else real(name)
    )
    assert main(["serve", str(tmp_path)]) == 2
    assert "pip install 'recframe[serve]'" in capsys.readouterr().err


def test_serve_a_missing_folder_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", str(tmp_path / "nothing")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "ratings.csv").write_text("user,item\n1,2\n")  # a file: said so, not "no such folder"
    assert main(["serve", str(tmp_path / "ratings.csv")]) == 2
    assert "ratings.csv': is a file, not a folder; give a run folder or a model folder" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_command_answers_on_localhost(tmp_path: Path, workers: int) -> None:
    pytest.importorskip("fastapi")
    data = {"type": "synthetic", "n_users": 200, "n_items": 80}
    # sparse, not the default scikit-learn: nothing of scikit-learn to import in each process that serves
    rec = Recommender.from_config({"seed": 3, "data": data, "similarity": {"type": "sparse", "k": 20}}).fit()
    rec.save(tmp_path / "run" / "model")
    port = _free_port()
    command = [sys.executable, "-m", "recframe", "-q", "serve", str(tmp_path / "run"), "--port", str(port)]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([*command, "--workers", str(workers)], stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/recommend/5?n=3")
                response = conn.getresponse()
                body = json.loads(response.read())
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "recframe serve did not start"
                time.sleep(0.1)
            finally:
                conn.close()
        assert response.status == 200
        assert body["items"] == rec.recommend([5], 3).ids[0].tolist()
        process.terminate()  # a process manager's stop: graceful, then ended by the signal (143 to a shell)
        ended = -signal.SIGTERM if workers == 1 else 0  # uvicorn's supervisor of workers exits 0
        assert process.wait(30) == ended, (tmp_path / "serve.log").read_text()
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_a_port_in_use_is_a_usage_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn alone exits with its code 3 (bad data, for recframe) and no line naming the option
    Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit(
        {"user": [1, 1, 2, 2], "item": [1, 2, 1, 3]}
    ).save(tmp_path / "model")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(tmp_path / "model"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"error: --port {port}: 127.0.0.1:{port} is already in use" in err


def test_workers_read_the_model_path_as_given_links_and_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a reload reads what the path names then: a link switched to another model is followed, as by one worker
    import uvicorn

    from recframe.serve import server

    Recommender.from_config({"similarity": {"type": "sparse", "k": 3}}).fit(
        {"user": [1, 1, 2, 2], "item": [1, 2, 1, 3]}
    ).save(tmp_path / "v1")
    (tmp_path / "current").symlink_to("v1")
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setenv(server.MODEL_ENV, "")  # restored (to none) after the test: serve sets it for its workers
    server.serve(tmp_path / "current", port=0, workers=2)
    assert server.os.environ[server.MODEL_ENV] == str((tmp_path / "current").absolute())
