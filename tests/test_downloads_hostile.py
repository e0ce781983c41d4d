"""The downloader against servers that lie: every response is checked before a byte is kept.

A local HTTP server on 127.0.0.1 plays a captive portal (HTML with 200), lies about the length,
ignores or garbles ranges, sends more than the file, fails with 5xx, and redirects to file://.
Nothing that can't be the start of the right file is kept as a ``.part`` to be "resumed".
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from recframe import ConfigError, DataError, Recommender
from recframe.cli import main
from recframe.datasets import DATASETS, DatasetInfo, fetch
from recframe.datasets import download as registry_module


def archive_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-test/u.data", "".join(f"{u}\t{u % 7}\t3\t{u}\n" for u in range(400)))
    return buffer.getvalue()


ARCHIVE = archive_bytes()
PORTAL = b"<!DOCTYPE html><html><body>Please log in to the hotel Wi-Fi</body></html>"

Reply = Callable[[http.server.BaseHTTPRequestHandler, int], None]


class Server:
    """Answers every GET with ``self.reply(handler, range_start)``; records the Range headers."""

    def __init__(self) -> None:
        self.ranges: list[str] = []
        self.reply: Reply = honest
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                asked = self.headers.get("Range", "")
                owner.ranges.append(asked)
                owner.reply(self, int(asked.split("=")[1].rstrip("-")) if asked else 0)

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


def send(handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def honest(handler: http.server.BaseHTTPRequestHandler, start: int) -> None:
    body = ARCHIVE[start:]
    extra = {"Content_Range": f"bytes {start}-{len(ARCHIVE) - 1}/{len(ARCHIVE)}"} if start else {}
    send(handler, 206 if start else 200, body, Content_Length=str(len(body)),
         Content_Type="application/zip", **extra)


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    yield running
    running.close()


def info_for(url: str, **changes: object) -> DatasetInfo:
    base = DatasetInfo(
        "movielens-test", "MovieLens test", url, len(ARCHIVE), "sha256:" + hashlib.sha256(ARCHIVE).hexdigest(),
        "Test terms.", "https://example.invalid/terms", "ml-test/u.data", {"layout": "movielens-100k"},
    )
    return replace(base, **changes)


def part(folder: Path) -> Path:
    return folder / "ml-test.zip.part"


def test_a_captive_portal_page_is_refused_and_never_resumed(server, tmp_path):
    server.reply = lambda h, start: send(h, 200, PORTAL, Content_Type="text/html; charset=utf-8",
                                         Content_Length=str(len(PORTAL)))
    for _ in range(2):  # the same answer each time: no .part growing run after run
        with pytest.raises(DataError, match=r"can't download movielens-test from http://127\.0\.0\.1:\d+/files/"
                                            r"ml-test\.zip: the server sent a web page \(text/html\), not the file"):
            fetch(info_for(server.url), folder=tmp_path)
        assert not part(tmp_path).exists() and not (tmp_path / "ml-test.zip").exists()
    assert server.ranges == ["", ""]


def test_html_under_another_content_type_is_recognised_by_its_first_bytes(server, tmp_path):
    server.reply = lambda h, start: send(h, 200, PORTAL, Content_Type="application/octet-stream")
    with pytest.raises(DataError, match=r"the server sent a web page \(HTML\), not the file"):
        fetch(info_for(server.url, size=None), folder=tmp_path)
    assert not part(tmp_path).exists()
    server.reply = lambda h, start: send(h, 200, b"garbage" * 50, Content_Type="application/zip")
    with pytest.raises(DataError, match=r"not a zip archive \(it starts b'garbagegarbageg"):
        fetch(info_for(server.url, size=None), folder=tmp_path)
    assert not part(tmp_path).exists()


def test_a_content_length_other_than_the_registered_size_is_refused(server, tmp_path):
    server.reply = lambda h, start: send(h, 200, ARCHIVE[:100], Content_Length="100")
    with pytest.raises(DataError, match=rf"the server announces 100 bytes, but movielens-test is {len(ARCHIVE):,}"):
        fetch(info_for(server.url), folder=tmp_path)
    assert not part(tmp_path).exists()


def test_a_body_longer_than_the_file_is_cut_off_and_deleted(server, tmp_path):
    server.reply = lambda h, start: send(h, 200, ARCHIVE + b"\0" * 100_000)  # no Content-Length: sent until closed
    with pytest.raises(DataError, match=rf"the server sent more than the expected {len(ARCHIVE):,} bytes "
                                        r"\(the partial file was deleted\)"):
        fetch(info_for(server.url), folder=tmp_path)
    assert not part(tmp_path).exists()


def test_an_unpublished_size_is_capped_too(server, tmp_path, monkeypatch):
    monkeypatch.setattr(registry_module, "MAX_UNKNOWN_SIZE", 10_000)
    server.reply = lambda h, start: send(h, 200, ARCHIVE + b"\0" * 50_000)
    with pytest.raises(DataError, match=r"the server sent more than the expected 10,000 bytes"):
        fetch(info_for(server.url, size=None), folder=tmp_path)
    assert not part(tmp_path).exists()


def test_a_server_that_ignores_range_starts_the_file_over(server, tmp_path):
    part(tmp_path).write_bytes(ARCHIVE[:700])
    server.reply = lambda h, start: send(h, 200, ARCHIVE, Content_Length=str(len(ARCHIVE)))  # Range ignored
    assert fetch(info_for(server.url), folder=tmp_path).read_bytes() == ARCHIVE
    assert server.ranges == ["bytes=700-"]


def test_a_range_that_does_not_continue_the_part_deletes_it(server, tmp_path):
    part(tmp_path).write_bytes(ARCHIVE[:700])

    def wrong_range(h: http.server.BaseHTTPRequestHandler, start: int) -> None:
        send(h, 206, ARCHIVE[100:], Content_Range=f"bytes 100-{len(ARCHIVE) - 1}/{len(ARCHIVE)}",
             Content_Length=str(len(ARCHIVE) - 100))

    server.reply = wrong_range
    with pytest.raises(DataError, match=r"asked for bytes 700 on, the server sent the range 'bytes 100-\d+/\d+', "
                                        r"which does not continue them"):
        fetch(info_for(server.url), folder=tmp_path)
    assert not part(tmp_path).exists()
    server.reply = lambda h, start: send(h, 206, ARCHIVE[start:], Content_Length=str(len(ARCHIVE) - start))
    part(tmp_path).write_bytes(ARCHIVE[:700])
    with pytest.raises(DataError, match=r"the server sent no Content-Range, which does not continue them"):
        fetch(info_for(server.url), folder=tmp_path)


@pytest.mark.parametrize(("content", "why"), [
    (PORTAL, "the server sent a web page"),
    (ARCHIVE + b"extra", "more than"),
    (b"NOTAZIP" * 10, "not a zip archive"),
], ids=["web-page", "longer-than-the-file", "not-a-zip"])
def test_a_part_file_that_cannot_be_a_prefix_is_deleted_not_resumed(server, tmp_path, caplog, content, why):
    part(tmp_path).write_bytes(content)
    assert fetch(info_for(server.url), folder=tmp_path).read_bytes() == ARCHIVE
    assert server.ranges == [""]  # downloaded from the start
    assert why in caplog.text and "deleted, as it can't be the start of movielens-test" in caplog.text


def test_server_errors_are_retried_a_bounded_number_of_times(server, tmp_path):
    server.reply = lambda h, start: send(h, 503, b"busy", Content_Length="4")
    with pytest.raises(DataError, match=r"HTTP 503 Service Unavailable; download .* by hand"):
        fetch(info_for(server.url), folder=tmp_path)
    assert len(server.ranges) == registry_module.ATTEMPTS
    answers = iter([lambda h, s: send(h, 503, b"", Content_Length="0"), honest])
    server.ranges.clear()
    server.reply = lambda h, start: next(answers)(h, start)
    assert fetch(info_for(server.url), folder=tmp_path).read_bytes() == ARCHIVE
    assert len(server.ranges) == 2
    server.reply = lambda h, start: send(h, 404, b"", Content_Length="0")
    server.ranges.clear()
    with pytest.raises(DataError, match=r"HTTP 404"):
        fetch(info_for(server.url), folder=tmp_path / "other")
    assert len(server.ranges) == 1  # a client error is not retried


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/ml-test.zip"])
def test_a_redirect_off_the_web_is_refused(server, tmp_path, target):
    server.reply = lambda h, start: send(h, 302, b"", Location=target, Content_Length="0")
    with pytest.raises(DataError, match=rf"the server redirected to '{target}'; "
                                        r"only https:// and http:// are followed"):
        fetch(info_for(server.url), folder=tmp_path)
    assert not part(tmp_path).exists() and not (tmp_path / "ml-test.zip").exists()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/ml.zip", "data:,hello", "https:///nohost"])
def test_only_web_addresses_are_downloaded_from(tmp_path, monkeypatch, capsys, url):
    with pytest.raises(ConfigError, match=r"--url: unsupported download URL .*; give an https:// \(or http://\)"):
        fetch(info_for("https://files.invalid/ml-test.zip"), url=url, folder=tmp_path)
    with pytest.raises(ConfigError, match=r"data\.url: unsupported download URL"):
        Recommender.from_config({"data": {"type": "dataset", "name": "movielens-100k", "url": url}})
    monkeypatch.setitem(DATASETS, "movielens-test", info_for("https://files.invalid/ml-test.zip"))
    assert main(["data", "fetch", "movielens-test", "--url", url, "--folder", str(tmp_path)]) == 2
    assert "not a web address" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_mirror_token_is_masked_in_written_configs(tmp_path):
    url = "https://mirror.example/ml.zip?token=SECRET-TOKEN-123"
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"data": {"type": "dataset", "name": "movielens-100k", "url": url}}))
    from recframe import load_config
    from recframe.registry import PluginRegistry

    written = load_config(run, PluginRegistry.from_environment()).to_yaml()
    assert "SECRET-TOKEN-123" not in written and "token=***" in written
