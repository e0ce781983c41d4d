"""The resumable, verifying HTTP downloader behind :func:`recframe.datasets.fetch`.

Downloads come from ``https://`` and ``http://`` addresses only. Every response is checked
before its bytes are kept (status, ``Content-Range``, size, content type, first bytes), a
dropped connection is resumed, and a server trickling bytes is given up on.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from recframe.datasets.cache_files import check_regular, open_new, open_partial
from recframe.datasets.catalogue import DatasetInfo
from recframe.errors import ConfigError, DataError, short_repr, short_text
from recframe.progress import progress
from recframe.secrets import redact

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SCHEMES = ("https", "http")
_PAGES = frozenset({"text/html", "application/xhtml+xml"})
"""Content types of web pages: what a captive portal or a login wall sends instead of the file."""
ATTEMPTS = 3
"""Requests one fetch makes in all, resuming after a dropped connection."""
MAX_UNKNOWN_SIZE = 4 << 30
"""The most bytes downloaded for a dataset whose size is not published (the checksum still applies)."""
MIN_RATE = 10 << 10
"""The slowest download kept going, in bytes per second, averaged over :data:`RATE_WINDOW`
seconds: a server trickling bytes would otherwise hold a download open for ever (the socket's
timeout only catches a server sending nothing at all). What arrived is kept, to resume."""
RATE_WINDOW = 60.0
"""Seconds over which the download rate is measured against :data:`MIN_RATE`."""


def check_url(url: str, field: str = "--url") -> str:
    """Return `url` if it is an ``https://`` or ``http://`` address; raise otherwise.

    Downloads come from web servers only: ``file://``, ``ftp://``, ``data:`` and the like are
    refused (a file already on disk goes into the cache folder by hand, where it is verified).

    Raises
    ------
    ConfigError
        For another scheme or a URL without a host, naming `field`.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # "Invalid IPv6 URL", a port that is not a number
        msg = f"{field}: {short_repr(redact(url))} is not a valid URL: {exc}; give an https:// (or http://) address"
        raise ConfigError(msg) from exc
    if parts.scheme.lower() not in _SCHEMES or not host:
        msg = (
            f"{field}: unsupported download URL {short_repr(redact(url))}; give an https:// (or http://) address "
            "(a file already on disk goes into the cache folder by hand: recframe checks its checksum)"
        )
        raise ConfigError(msg)
    return url


class _WebRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects to ``https://`` and ``http://`` only (never to ``file://`` or ``ftp://``)."""

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            if urllib.parse.urlsplit(target).scheme.lower() not in _SCHEMES:
                fp.close()
                msg = f"the server redirected to {short_repr(redact(target))}; only https:// and http:// are followed"
                raise _Refused(msg)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class _Refused(Exception):
    """A response that can't be (a part of) the file: not retried; its message says why."""


class _NotWritten(Exception):
    """The partial file could not be written (a full disk, a quota): not the network's fault, not retried."""


def _opener() -> urllib.request.OpenerDirector:
    """Return an opener for web addresses only, following redirects only to web addresses."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        _WebRedirects(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _download(info: DatasetInfo, url: str, partial: Path, target: Path) -> None:
    """Download `url` into `partial`, resuming from what it holds if the server allows.

    Every response is checked before its bytes are kept: the HTTP status (``206`` with a
    ``Content-Range`` that continues `partial`, or ``200`` for the whole file), the
    ``Content-Length`` against the registered size, the content type (an HTML page is
    refused), and the first bytes (an archive must look like one). The body is cut off at the
    expected size. A dropped connection is resumed up to :data:`ATTEMPTS` times in all; a
    `partial` that can't be the start of the file is deleted rather than resumed.
    """
    check_url(url)
    where = short_text(redact(url))
    limit = info.size if info.size is not None else MAX_UNKNOWN_SIZE
    _discard_unusable(info, partial, limit)
    if info.size is not None and partial.exists() and partial.stat().st_size == info.size:
        return  # complete: the checksum decides
    opener = _opener()
    attempts = 0
    while True:
        attempts += 1
        try:
            if _attempt(info, url, partial, limit, opener):
                break
        except _Refused as exc:
            msg = f"can't download {info.name} from {where}: {exc}; download {info.url} by hand and put it at {target}"
            raise DataError(msg) from None
        except _NotWritten as exc:
            cause = exc.__cause__
            reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
            msg = (
                f"can't write the download of {info.name} to {partial}: {reason}; free some space or give "
                "another cache folder (--folder, data.folder or RECFRAME_DATA); run again to resume"
            )
            raise DataError(msg) from cause
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and partial.exists():  # the range is past the end: the .part is not a prefix
                partial.unlink()
            elif exc.code < 500 or attempts >= ATTEMPTS:
                msg = (
                    f"can't download {info.name} from {where}: HTTP {exc.code} {short_text(str(exc.reason))}; download "
                    f"{info.url} by hand and put it at {target} (recframe checks its checksum)"
                )
                raise DataError(msg) from exc
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            if attempts >= ATTEMPTS or not partial.exists():
                reason = short_text(redact(str(getattr(exc, "reason", exc))), 200)
                msg = (
                    f"can't download {info.name} from {where}: {reason}; download {info.url} by hand and put it "
                    f"at {target} (recframe checks its checksum)"
                )
                raise DataError(msg) from exc
        if attempts >= ATTEMPTS:
            size = partial.stat().st_size if partial.exists() else 0
            of = f" of {info.size:,}" if info.size is not None else ""
            msg = (
                f"the download of {info.name} stopped at {size:,}{of} bytes after {attempts} attempts; run again "
                f"to resume (the partial file is {partial})"
            )
            raise DataError(msg)
        logger.info(
            "the download of %s was interrupted; resuming (attempt %d of %d)", info.name, attempts + 1, ATTEMPTS
        )


def _attempt(info: DatasetInfo, url: str, partial: Path, limit: int, opener: urllib.request.OpenerDirector) -> bool:
    """Make one request, appending what it brings to `partial`; return whether the file is complete."""
    done = partial.stat().st_size if partial.exists() else 0
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={done}-"} if done else {})}
    with opener.open(_request(url, headers), timeout=60) as response:
        kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if kind in _PAGES:
            msg = f"the server sent a web page ({kind}), not the file (a login or captive-portal page?)"
            raise _Refused(msg)
        length = _int_header(response.headers.get("Content-Length"))
        if response.status == 206 and done:
            first, total = _content_range(response.headers.get("Content-Range"))
            if first != done or (info.size is not None and total not in (None, info.size)):
                partial.unlink()  # a range that does not continue the .part: keep nothing of either
                sent = response.headers.get("Content-Range")
                what = f"the range {short_repr(sent)}" if sent else "no Content-Range"
                msg = (
                    f"asked for bytes {done:,} on, the server sent {what}, which does not continue them "
                    "(the partial file was deleted; run again to start over)"
                )
                raise _Refused(msg)
            if total is not None:
                limit = min(limit, total)
        elif response.status in (200, 206):  # 200: the whole file (a server ignoring Range: start over)
            done = 0
            if info.size is not None and length is not None and length != info.size:
                msg = f"the server announces {length:,} bytes, but {info.name} is {info.size:,}"
                raise _Refused(msg)
        else:
            msg = f"unexpected HTTP status {response.status} {short_text(str(response.reason))}"
            raise _Refused(msg)
        if length is not None and done + length > limit:
            msg = f"the server announces {done + length:,} bytes in all, more than the expected {limit:,}"
            raise _Refused(msg)
        received = 0
        with _writable(partial, done) as sink:
            expected = length if length is not None else None if info.size is None else info.size - done
            for chunk in progress(
                _chunks(response), total=expected, desc=f"downloading {info.name}", unit="bytes", sizes=_sizes(response)
            ):
                if done == 0 and received == 0 and (problem := _not_a_start(info, chunk)):
                    sink.close()
                    partial.unlink()
                    raise _Refused(problem)
                received += len(chunk)
                if done + received > limit:
                    sink.close()
                    partial.unlink()
                    msg = f"the server sent more than the expected {limit:,} bytes (the partial file was deleted)"
                    raise _Refused(msg)
                try:
                    sink.write(chunk)
                except OSError as exc:
                    raise _NotWritten from exc
    size = done + received
    if info.size is not None:
        return size == info.size
    return length is None or received == length


@contextlib.contextmanager
def _writable(partial: Path, done: int) -> Iterator[BinaryIO]:
    """Open `partial` to write from byte `done` on: continued past what it holds, or new when `done` is 0.

    Raises
    ------
    _NotWritten
        If it can't be opened, cut or closed (a full disk: the buffered bytes are written on close).
    """
    try:
        sink = open_partial(partial) if done else open_new(partial)
        sink.seek(done)
        sink.truncate()
    except OSError as exc:
        raise _NotWritten from exc
    try:
        yield sink
    except BaseException:  # the network's errors, a refusal, Ctrl-C: theirs to report
        with contextlib.suppress(OSError):
            sink.close()
        raise
    try:
        sink.close()
    except OSError as exc:
        raise _NotWritten from exc


def _request(url: str, headers: dict[str, str]) -> urllib.request.Request:
    """Return the request for `url`; credentials in its user part (``user:token@host``) go as Basic auth.

    ``urllib`` would take them for part of the host name. They are sent to that host only: a
    header added unredirected is not passed on to where a redirect leads.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return urllib.request.Request(url, headers=headers)
    host = parts.netloc.rpartition("@")[2]
    request = urllib.request.Request(urllib.parse.urlunsplit(parts._replace(netloc=host)), headers=headers)
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    request.add_unredirected_header("Authorization", f"Basic {token}")
    return request


def _discard_unusable(info: DatasetInfo, partial: Path, limit: int) -> None:
    """Delete a ``.part`` file that can't be the start of the right file, instead of resuming it.

    A link in its place is removed (never the file it points to), so nothing is written through it.

    Raises
    ------
    DataError
        If a folder (or another kind of file) is in its place.
    """
    if partial.is_symlink():
        logger.warning("%s: a link, not a partial download recframe wrote; removed", partial)
        partial.unlink()
        return
    if not check_regular(partial, f"the partial download of {info.name}"):
        return
    with partial.open("rb") as source:
        head = source.read(512)
    problem = (
        f"it holds {partial.stat().st_size:,} bytes, more than {limit:,}"
        if partial.stat().st_size > limit
        else (_not_a_start(info, head) if head else None)
    )
    if problem:
        logger.warning("%s: deleted, as it can't be the start of %s: %s", partial, info.name, problem)
        partial.unlink()


def _not_a_start(info: DatasetInfo, head: bytes) -> str | None:
    """Say why `head` can't be the first bytes of the dataset's file; ``None`` if it can."""
    text = head.lstrip()[:16].lower()
    if text.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml")):
        return "the server sent a web page (HTML), not the file (a login or captive-portal page?)"
    if info.filename.endswith(".zip") and not head.startswith(b"PK\x03\x04"[: len(head)]):
        return f"the server sent something that is not a zip archive (it starts {head[:16]!r})"
    return None


def _int_header(value: str | None) -> int | None:
    """Return a header's value as a non-negative int; ``None`` when absent or malformed (``²`` included)."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """Return the first byte and the total size of ``Content-Range: bytes first-last/total``."""
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if match is None:
        return None, None
    return int(match[1]), None if match[3] == "*" else int(match[3])


def _chunks(response: Any) -> Iterator[bytes]:
    """Yield the body as it arrives, refusing a server slower than :data:`MIN_RATE` over :data:`RATE_WINDOW`.

    ``read1`` returns what one receive brings, so a trickling server is measured while it trickles.
    """
    read = getattr(response, "read1", response.read)
    window_start, window_bytes = time.monotonic(), 0
    while chunk := read(_CHUNK):
        yield chunk
        window_bytes += len(chunk)
        elapsed = time.monotonic() - window_start
        if elapsed >= RATE_WINDOW:
            if window_bytes < MIN_RATE * elapsed:
                msg = (
                    f"the server sent {window_bytes:,} bytes in the last {elapsed:.0f} s, slower than "
                    f"{MIN_RATE:,} bytes/s; try again later or another mirror with --url or data.url "
                    "(what arrived is kept, and the next fetch resumes it)"
                )
                raise _Refused(msg)
            window_start, window_bytes = time.monotonic(), 0


def _sizes(response: Any) -> Iterator[int]:
    """Bytes per chunk for the progress bar (the last chunk may be shorter; the bar only estimates)."""
    while True:
        yield _CHUNK
