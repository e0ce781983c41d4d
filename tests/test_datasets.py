"""Public datasets: the downloader against a local HTTP server (success, resume, bad checksum, offline)."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import threading
import zipfile
from dataclasses import replace

import pytest

from recframe import DataError, Recommender
from recframe import datasets as registry_module
from recframe.cli import main
from recframe.datasets import DATASETS, DatasetInfo, extract, fetch

RATINGS = "".join(
    f"{u}\t{i}\t{(u * i) % 5 + 1}\t{1000 + u * 10 + i}\n" for u in range(1, 21) for i in range(1, 16) if (u + i) % 3
)


def archive_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-test/u.data", RATINGS)
        archive.writestr("ml-test/README", "generated for the tests\n")
    return buffer.getvalue()


ARCHIVE = archive_bytes()


class Server:
    """A local HTTP server on 127.0.0.1 serving the archive whole, truncated, or from a byte range."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.truncate_at: int | None = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
                if not self.path.endswith("/ml-test.zip"):
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
                body = ARCHIVE[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if owner.truncate_at is not None:
                    body = body[: owner.truncate_at]
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/ml-test.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.close()


def info_for(url: str, **changes) -> DatasetInfo:
    base = DatasetInfo(
        "movielens-test", "MovieLens test", url, len(ARCHIVE), hashlib.sha256(ARCHIVE).hexdigest(), None,
        "Test terms: for the tests only.", "https://example.invalid/terms", "ml-test/u.data",
        {"layout": "movielens-100k"},
    )
    return replace(base, **changes)


def test_download_verifies_caches_and_shows_the_licence_once(server, tmp_path, caplog):
    info = info_for(server.url)
    with caplog.at_level(logging.WARNING, logger="recframe.datasets"):
        path = fetch(info, folder=tmp_path)
    assert path.read_bytes() == ARCHIVE and path.name == "ml-test.zip"
    assert "Test terms: for the tests only." in caplog.text
    caplog.clear()
    assert fetch(info, folder=tmp_path) == path  # cached: no second request, no second licence
    assert len(server.requests) == 1 and "Test terms" not in caplog.text
    ratings = extract(info, path)
    assert ratings.read_text() == RATINGS


def test_an_interrupted_download_resumes_where_it_stopped(server, tmp_path):
    info = info_for(server.url)
    server.truncate_at = 1000
    with pytest.raises(DataError, match=r"stopped at 1,000 of [\d,]+ bytes; run again to resume"):
        fetch(info, folder=tmp_path)
    assert (tmp_path / "ml-test.zip.part").stat().st_size == 1000
    server.truncate_at = None
    path = fetch(info, folder=tmp_path)
    assert path.read_bytes() == ARCHIVE
    assert server.requests[-1]["range"] == "bytes=1000-"  # only the rest was asked for
    assert not (tmp_path / "ml-test.zip.part").exists()


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(server, tmp_path):
    info = info_for(server.url, sha256="0" * 64)
    with pytest.raises(DataError, match=r"sha256 [0-9a-f]{64} does not match movielens-test's 0{64}"):
        fetch(info, folder=tmp_path)
    assert list(tmp_path.glob("ml-test.zip*")) == []


def test_offline_says_where_to_put_the_file(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    info = info_for(f"http://127.0.0.1:{port}/ml-test.zip")
    with pytest.raises(DataError, match=rf"download .* by hand and put it at {tmp_path / 'ml-test.zip'}"):
        fetch(info, folder=tmp_path)
    # put there by hand, it is verified and used
    (tmp_path / "ml-test.zip").write_bytes(ARCHIVE)
    assert fetch(info, folder=tmp_path).read_bytes() == ARCHIVE


def test_the_dataset_source_from_yaml_and_the_cli(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(DATASETS, "movielens-test", info_for("https://files.invalid/ml-test.zip"))
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path))
    config = {"data": {"type": "dataset", "name": "movielens-test", "url": server.url}}
    interactions = Recommender.from_config(config).load_data()
    assert len(interactions) == RATINGS.count("\n")
    assert main(["data", "fetch", "movielens-test", "-q"]) == 0  # cached now: no download
    assert "verified" in capsys.readouterr().out
    assert main(["data", "list", "-q"]) == 0
    assert "movielens-test" in capsys.readouterr().out


def test_unknown_dataset_names_are_config_errors():
    from recframe import ConfigError

    with pytest.raises(ConfigError, match=r"data\.name: unknown dataset 'movielens-100'; did you mean 'movielens-100k"):
        Recommender.from_config({"data": {"type": "dataset", "name": "movielens-100"}})


def test_registry_entries_are_complete_and_the_cache_folder_is_configurable(monkeypatch, tmp_path):
    for info in DATASETS.values():
        assert info.url.startswith("https://") and info.size > 0 and info.sha256 and len(info.sha256) == 64
        assert info.member and info.csv and info.licence
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path))
    assert registry_module.data_dir() == tmp_path
    monkeypatch.delenv("RECFRAME_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert registry_module.data_dir() == tmp_path / "cache" / "recframe" / "datasets"
