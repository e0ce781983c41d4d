"""Public datasets: the downloader against a local HTTP server (success, resume, bad checksum, offline)."""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import shutil
import socket
import subprocess
import threading
import zipfile
from dataclasses import replace

import pytest

from recframe import DataError, Recommender
from recframe import datasets as registry_module
from recframe.builtin.data_sources import CSVConfig
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
        self.files = {"/files/ml-test.zip": ARCHIVE}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append({"path": self.path, "range": self.headers.get("Range", "")})
                if self.path not in owner.files:
                    self.send_error(404)
                    return
                start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
                body = owner.files[self.path][start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(owner.files[self.path]) - 1}/"
                                                      f"{len(owner.files[self.path])}")
                self.end_headers()
                if owner.truncate_at is not None:
                    body = body[: owner.truncate_at]
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files/ml-test.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
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
        "movielens-test", "MovieLens test", url, len(ARCHIVE), "sha256:" + hashlib.sha256(ARCHIVE).hexdigest(),
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
    server.truncate_at = 500  # every response breaks off after 500 bytes: resumed, ATTEMPTS times in all
    with pytest.raises(DataError, match=r"stopped at 1,500 of [\d,]+ bytes after 3 attempts; run again to resume"):
        fetch(info, folder=tmp_path)
    assert (tmp_path / "ml-test.zip.part").stat().st_size == 1500
    assert [r["range"] for r in server.requests] == ["", "bytes=500-", "bytes=1000-"]
    server.truncate_at = None
    path = fetch(info, folder=tmp_path)
    assert path.read_bytes() == ARCHIVE
    assert server.requests[-1]["range"] == "bytes=1500-"  # only the rest was asked for
    assert not (tmp_path / "ml-test.zip.part").exists()


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(server, tmp_path):
    info = info_for(server.url, checksum="sha256:" + "0" * 64)
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
        assert info.url.startswith("https://") and (info.size is None or info.size > 0)
        assert info.checksum.partition(":")[0] in ("sha256", "md5", "git-sha1") and info.csv and info.licence
        CSVConfig(path="ratings", **info.csv)  # the layout is one the csv source takes
    assert {"movielens-10m", "movielens-32m", "goodbooks-10k"} <= set(DATASETS)
    with pytest.raises(ValueError, match="checksum must be"):
        replace(DATASETS["movielens-1m"], checksum="")  # an entry that can't be verified is refused
    monkeypatch.setenv("RECFRAME_DATA", str(tmp_path))
    assert registry_module.data_dir() == tmp_path
    monkeypatch.delenv("RECFRAME_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert registry_module.data_dir() == tmp_path / "cache" / "recframe" / "datasets"


def test_a_bare_file_verified_by_its_git_object_id(server, tmp_path):
    """A file served from a pinned git commit (goodbooks-10k's way): no archive, no published size."""
    ratings = "user_id,book_id,rating\n" + "".join(f"{u},{(u * 7) % 11 + 1},{u % 5 + 1}\n" for u in range(1, 60))
    body = ratings.encode()
    server.files["/files/ratings.csv"] = body
    blob_id = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
    if shutil.which("git"):  # the formula is git's own
        (tmp_path / "probe.csv").write_bytes(body)
        assert subprocess.run(["git", "hash-object", str(tmp_path / "probe.csv")], capture_output=True, text=True,
                              check=True).stdout.strip() == blob_id
    info = replace(
        info_for(server.url.replace("ml-test.zip", "ratings.csv"), name="books-test", size=None,
                 checksum=f"git-sha1:{blob_id}", member=None),
        csv={"header": True, "user": "user_id", "item": "book_id", "rating": "rating"},
    )
    path = fetch(info, folder=tmp_path / "cache")
    assert path.name == "books-test-ratings.csv" and extract(info, path) == path
    assert path.read_bytes() == body
    wrong = replace(info, checksum="git-sha1:" + "1" * 40)
    path.unlink()
    with pytest.raises(DataError, match=r"git-sha1 [0-9a-f]{40} does not match books-test's 1{40}"):
        fetch(wrong, folder=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("books-test-ratings.csv*"))
