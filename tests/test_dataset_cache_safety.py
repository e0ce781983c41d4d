"""The dataset cache when it is shared, raced, stale, full or oddly shaped.

Two programs fetching one dataset take turns; the extracted ratings file is checked against the
verified archive each time; nothing is written through a link planted in the cache; a full disk
is named as such; credentials in a mirror's URL are sent as Basic auth to that host only.
"""

from __future__ import annotations

import base64
import concurrent.futures
import errno
import hashlib
import http.server
import io
import logging
import threading
import zipfile

import pytest

from recframe import DataError
from recframe.datasets import cache as cache_module
from recframe.datasets import download as download_module
from recframe.datasets import extract, fetch
from tests.test_downloads_hostile import ARCHIVE, Server, honest, info_for, part, send


@pytest.fixture
def server() -> Server:
    running = Server()
    yield running
    running.close()


def archive_of(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-test/u.data", text)
    return buffer.getvalue()


def test_a_stale_or_damaged_extracted_file_is_extracted_again(server, tmp_path, caplog):
    info = info_for(server.url)
    ratings = extract(info, fetch(info, folder=tmp_path))
    first = ratings.read_bytes()
    ratings.write_bytes(b"1\t1\t5\t0\n")  # damaged (or another version's file of the same name)
    with caplog.at_level(logging.WARNING, logger="recframe.datasets"):
        assert extract(info, fetch(info, folder=tmp_path)).read_bytes() == first
    assert "does not match ml-test.zip's ml-test/u.data; extracting it again" in caplog.text
    # the registry pins a new archive under the same name: the old extract is not read
    newer = archive_of("7\t8\t1\t9\n")
    changed = info_for(server.url, size=len(newer), checksum="sha256:" + hashlib.sha256(newer).hexdigest())
    (tmp_path / "ml-test.zip").write_bytes(newer)
    assert extract(changed, fetch(changed, folder=tmp_path)).read_bytes() == b"7\t8\t1\t9\n"


def test_two_programs_fetching_at_once_take_turns(server, tmp_path):
    started = threading.Event()

    def slow(h: http.server.BaseHTTPRequestHandler, start: int) -> None:
        started.set()
        threading.Event().wait(0.3)
        honest(h, start)

    server.reply = slow
    info = info_for(server.url)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # an error in either is raised here
        results = list(pool.map(lambda _: extract(info, fetch(info, folder=tmp_path)).read_bytes(), range(2)))
    assert len(results) == 2 and results[0] == results[1] and isinstance(results[0], bytes)
    assert server.ranges == [""]  # one download; the second waited and found it
    assert not part(tmp_path).exists()


def test_a_malformed_content_length_is_ignored(server, tmp_path):
    server.reply = lambda h, start: send(h, 200, ARCHIVE, Content_Length="\u00b2")  # '²'.isdigit() is True
    assert fetch(info_for(server.url), folder=tmp_path).read_bytes() == ARCHIVE


def test_a_full_disk_is_named_as_such_not_as_the_network(server, tmp_path, monkeypatch):
    class Full(io.BufferedWriter):
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download_module, "open_new", lambda path: Full(io.FileIO(path, "w")))
    with pytest.raises(
        DataError,
        match=r"can't write the download of movielens-test to .*ml-test\.zip\.part: "
        r"No space left on device; free some space or give another cache folder",
    ):
        fetch(info_for(server.url), folder=tmp_path)
    assert server.ranges == [""]  # not retried
    monkeypatch.undo()
    archive = fetch(info_for(server.url), folder=tmp_path)
    monkeypatch.setattr(cache_module, "open_new", lambda path: Full(io.FileIO(path, "w")))
    with pytest.raises(
        DataError,
        match=r"can't extract 'ml-test/u\.data' of movielens-test to .*u\.data\.part': "
        r"No space left on device",
    ):
        extract(info_for(server.url), archive)
    assert list((tmp_path / "movielens-test").iterdir()) == []  # nothing half-written


@pytest.mark.parametrize(
    ("where", "kind"),
    [
        ("ml-test.zip", "movielens-test's download"),
        ("ml-test.zip.part", "the partial download of movielens-test"),
    ],
)
def test_a_folder_in_place_of_a_cache_file_is_named(server, tmp_path, where, kind):
    (tmp_path / where).mkdir()
    with pytest.raises(DataError, match=rf"{where}' is a folder, where recframe keeps {kind}; remove it"):
        fetch(info_for(server.url, size=None), folder=tmp_path)


def test_a_file_in_place_of_the_extraction_folder_is_named(server, tmp_path):
    archive = fetch(info_for(server.url), folder=tmp_path)
    (tmp_path / "movielens-test").write_text("not a folder")
    with pytest.raises(DataError, match=r"movielens-test' is not a folder, where recframe extracts movielens-test"):
        extract(info_for(server.url), archive)


def test_nothing_is_written_through_a_planted_link(server, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "ml-test.zip.part").symlink_to(victim)
    archive = fetch(info_for(server.url), folder=cache)
    (cache / "movielens-test").mkdir()
    (cache / "movielens-test" / "u.data.part").symlink_to(victim)
    extracted = extract(info_for(server.url), archive)
    assert victim.read_text() == "precious"
    assert archive.read_bytes() == ARCHIVE and not archive.is_symlink() and not extracted.is_symlink()


def test_credentials_in_a_mirror_url_are_sent_to_that_host_only(server, tmp_path):
    seen: list[tuple[str, str | None]] = []

    def answer(h: http.server.BaseHTTPRequestHandler, start: int) -> None:
        seen.append((h.path, h.headers.get("Authorization")))
        if h.path.startswith("/files/"):
            send(h, 302, b"", Location="/elsewhere/ml-test.zip", Content_Length="0")
        else:
            honest(h, start)

    server.reply = answer
    mirror = server.url.replace("http://", "http://reader:s%40cret@")
    assert fetch(info_for(server.url), url=mirror, folder=tmp_path).read_bytes() == ARCHIVE
    token = base64.b64encode(b"reader:s@cret").decode()
    assert seen == [("/files/ml-test.zip", f"Basic {token}"), ("/elsewhere/ml-test.zip", None)]


def test_a_cached_file_failing_its_checksum_says_what_to_do(server, tmp_path):
    (tmp_path / "ml-test.zip").write_bytes(bytes([ARCHIVE[0] ^ 1]) + ARCHIVE[1:])
    with pytest.raises(DataError, match=r"was not used; delete it and fetch again"):
        fetch(info_for(server.url), folder=tmp_path)
    assert (tmp_path / "ml-test.zip").exists()  # put there by hand: not deleted


def test_the_licence_is_shown_again_after_a_failed_first_download(server, tmp_path, caplog):
    server.reply = lambda h, start: send(h, 404, b"", Content_Length="0")
    with caplog.at_level(logging.WARNING, logger="recframe.datasets"), pytest.raises(DataError, match="HTTP 404"):
        fetch(info_for(server.url), folder=tmp_path)
    assert "Test terms." in caplog.text
    caplog.clear()
    server.reply = honest
    with caplog.at_level(logging.WARNING, logger="recframe.datasets"):
        fetch(info_for(server.url), folder=tmp_path)
    assert "Test terms." in caplog.text
