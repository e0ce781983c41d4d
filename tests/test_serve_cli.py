"""``recframe serve``: the command starts the service on a saved model, and says what is missing."""

from __future__ import annotations

import http.client
import json
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


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_command_answers_on_localhost(tmp_path: Path, workers: int) -> None:
    pytest.importorskip("fastapi")
    rec = Recommender.from_config({"seed": 3, "data": {"type": "synthetic", "n_users": 200, "n_items": 80}}).fit()
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
    finally:
        process.terminate()
        process.wait(30)
        log.close()
