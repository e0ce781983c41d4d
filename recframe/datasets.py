"""Public datasets by name: a registry with verified checksums, and a resumable, verifying downloader.

``fetch("movielens-100k")`` downloads the archive once into the cache (``$RECFRAME_DATA``, by
default ``~/.cache/recframe/datasets``), shows the dataset's licence on the first download,
resumes an interrupted download, and refuses a file whose size or checksum is wrong. Without a
network it says where to put the archive by hand. ``extract`` pulls the ratings file out of the
archive once. The ``dataset`` data source (``{type: dataset, name: movielens-1m}``) and
``recframe data fetch NAME`` use both.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
_GROUPLENS_LICENCE = (
    "MovieLens data are distributed by GroupLens Research (University of Minnesota) for research use; "
    "they may not be redistributed, used commercially or used to identify users without permission, "
    "and publications using them must cite F. Maxwell Harper and Joseph A. Konstan, 'The MovieLens "
    "Datasets: History and Context', ACM TiiS 5(4), 2015."
)


CHECKSUMS = ("sha256", "md5", "git-sha1")
"""How a registry entry's file is verified: sha256 where it is published, md5 where only the
publisher's md5 is, and ``git-sha1`` (the id of the git object: SHA-1 of ``blob <size>\\0`` and
the bytes) for a file served from a pinned commit of a git repository."""


@dataclass(frozen=True)
class DatasetInfo:
    """One downloadable dataset.

    Attributes
    ----------
    name : str
        Its registry name (``movielens-100k``).
    title : str
        For people.
    url : str
        Where the file is downloaded from.
    size : int or None
        Size of the file in bytes, where published (else the checksum alone verifies it).
    checksum : str
        ``algorithm:hex digest`` of the file, the algorithm one of :data:`CHECKSUMS`.
    licence : str
        The terms, shown on the first download.
    licence_url : str
        Where the full terms are.
    member : str or None
        Path of the ratings file inside the archive; ``None`` when the download is the ratings file.
    csv : dict
        Parameters of the ``csv`` data source that reads it.

    Raises
    ------
    ValueError
        If the checksum is missing or malformed: an entry that can't be verified is refused.
    """

    name: str
    title: str
    url: str
    size: int | None
    checksum: str
    licence: str
    licence_url: str
    member: str | None
    csv: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse an entry without a usable checksum."""
        algorithm, _, digest = self.checksum.partition(":")
        lengths = {"sha256": 64, "md5": 32, "git-sha1": 40}
        if algorithm not in lengths or len(digest) != lengths[algorithm] or digest.strip("0123456789abcdef"):
            msg = f"dataset {self.name!r}: checksum must be 'sha256:<hex>', 'md5:<hex>' or 'git-sha1:<hex>'"
            raise ValueError(msg)

    @property
    def filename(self) -> str:
        """The file's name in the cache: an archive's own name, or ``<name>-<file>`` for a bare file."""
        published = self.url.rstrip("/").rsplit("/", 1)[-1]
        return published if self.member is not None else f"{self.name}-{published}"


def _movielens(
    name: str, title: str, archive: str, size: int, member: str, csv: dict[str, Any], checksum: str, readme: str
) -> DatasetInfo:
    """Return a MovieLens entry; `readme` is the README holding that dataset's own terms of use."""
    base = "https://files.grouplens.org/datasets/movielens/"
    return DatasetInfo(name, title, base + archive, size, checksum, _GROUPLENS_LICENCE, base + readme, member, csv)


_ML_CSV = {"layout": "movielens-csv"}
_GOODBOOKS_COMMIT = "6dd165b555a7b47b2dd36743a425776e641ff50c"
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _movielens("movielens-100k", "MovieLens 100K (1998)", "ml-100k.zip", 4_924_029, "ml-100k/u.data",
                   {"layout": "movielens-100k"},
                   "sha256:50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229", "ml-100k-README.txt"),
        _movielens("movielens-1m", "MovieLens 1M (2003)", "ml-1m.zip", 5_917_549, "ml-1m/ratings.dat",
                   {"layout": "movielens-1m"},
                   "sha256:a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20", "ml-1m-README.txt"),
        _movielens("movielens-10m", "MovieLens 10M (2009)", "ml-10m.zip", 65_566_137, "ml-10M100K/ratings.dat",
                   {"layout": "movielens-1m"},
                   "sha256:813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862", "ml-10m-README.html"),
        _movielens("movielens-20m", "MovieLens 20M (2015)", "ml-20m.zip", 198_702_078, "ml-20m/ratings.csv", _ML_CSV,
                   "sha256:96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3", "ml-20m-README.html"),
        _movielens("movielens-25m", "MovieLens 25M (2019)", "ml-25m.zip", 261_978_986, "ml-25m/ratings.csv", _ML_CSV,
                   "sha256:8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa", "ml-25m-README.html"),
        _movielens("movielens-32m", "MovieLens 32M (2024)", "ml-32m.zip", 238_950_008, "ml-32m/ratings.csv", _ML_CSV,
                   "md5:d472be332d4daa821edc399621853b57", "ml-32m-README.html"),
        _movielens("movielens-latest-small", "MovieLens latest, small (2018)", "ml-latest-small.zip", 978_202,
                   "ml-latest-small/ratings.csv", _ML_CSV,
                   "sha256:696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
                   "ml-latest-small-README.html"),
        DatasetInfo(
            "goodbooks-10k", "goodbooks-10k: 6M ratings of 10,000 books (2017)",
            f"https://raw.githubusercontent.com/zygmuntz/goodbooks-10k/{_GOODBOOKS_COMMIT}/ratings.csv",
            None, "git-sha1:0d245a10acfe3c89b2e4004cdbc805b99771ac5d",
            "goodbooks-10k by Zygmunt Zajac is licensed under Creative Commons Attribution-ShareAlike 4.0 "
            "(CC BY-SA 4.0): share and adapt with attribution, under the same licence.",
            f"https://github.com/zygmuntz/goodbooks-10k/blob/{_GOODBOOKS_COMMIT}/LICENSE", None,
            {"header": True, "user": "user_id", "item": "book_id", "rating": "rating"},
        ),
    )
}
"""The registry: files whose checksum is published or pinned, so that every download is verified.
MovieLens sha256 as pinned by TensorFlow Datasets (10M: with its size, as recorded alongside
GroupLens's md5 ``ce571fd5...``); MovieLens 32M by GroupLens's own md5 (``ml-32m.zip.md5``);
goodbooks-10k by the git object id of ``ratings.csv`` at a pinned commit of its repository."""


def data_dir() -> Path:
    """Return the cache folder: ``$RECFRAME_DATA``, else ``$XDG_CACHE_HOME/recframe/datasets``."""
    if os.environ.get("RECFRAME_DATA"):
        return Path(os.environ["RECFRAME_DATA"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "recframe" / "datasets"


def dataset_info(name: str) -> DatasetInfo:
    """Return the registry entry of `name`.

    Raises
    ------
    DataError
        For an unknown name (the message lists the known ones).
    """
    if name not in DATASETS:
        msg = f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}"
        raise DataError(msg)
    return DATASETS[name]


def fetch(
    info: DatasetInfo | str, *, url: str | None = None, folder: Path | None = None, folder_key: str = "--folder"
) -> Path:
    """Return the path of the dataset's verified archive, downloading it first if needed.

    Parameters
    ----------
    info : DatasetInfo or str
        The dataset, or its registry name.
    url : str, optional
        A mirror to download from instead of the registry's URL (the checksum still applies).
    folder : Path, optional
        The cache folder; :func:`data_dir` by default.
    folder_key : str
        How the user gave `folder` (``--folder``, ``data.folder``), named in errors about it.

    Raises
    ------
    ConfigError
        If `url` is not an ``https://`` or ``http://`` address, or the cache folder is a file
        or can't be created or written.
    DataError
        If the download fails (the message says where to put the file by hand), is incomplete
        (run again to resume), is refused (a web page instead of the file, a size other than
        the registered one, more bytes than expected), or has the wrong size or checksum (the
        file is removed).
    """
    info = dataset_info(info) if isinstance(info, str) else info
    if url is not None:
        check_url(url)
    cache = cache_folder(folder, folder_key)
    target = cache / info.filename
    if target.exists():
        _verify(info, target)
        return target
    _show_licence(info, target.parent)
    partial = target.with_name(target.name + ".part")
    _download(info, url or info.url, partial, target)
    try:
        _verify(info, partial)
    except DataError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    logger.info("downloaded %s to %s", info.name, target)
    return target


def cache_folder(folder: Path | None, key: str = "--folder") -> Path:
    """Return the cache folder (`folder`, else :func:`data_dir`), created and checked to be writable.

    Raises
    ------
    ConfigError
        If the path is a file, or the folder can't be created or written; the message names
        where it came from: `key` for a given `folder`, else ``RECFRAME_DATA`` or the default.
    """
    if folder is not None:
        path, where = Path(folder), key
    else:
        path = data_dir()
        where = "RECFRAME_DATA" if os.environ.get("RECFRAME_DATA") else "the default cache folder"
    shown = short_repr(str(path))
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "" if blocker == path else f" (its parent {short_repr(str(blocker))} is a file)"
        msg = f"{where}: {shown} is not a folder{what}; give a folder for the dataset cache"
        raise ConfigError(msg)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"{where}: can't create the cache folder {shown}: {exc.strerror or exc}; give a folder you can write"
        raise ConfigError(msg) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        msg = f"{where}: the cache folder {shown} is not writable; give a folder you can write"
        raise ConfigError(msg)
    return path


def extract(info: DatasetInfo | str, archive: Path) -> Path:
    """Return the ratings file of a verified download, extracting it beside an archive once."""
    info = dataset_info(info) if isinstance(info, str) else info
    if info.member is None:  # the download is the ratings file
        return archive
    target = archive.parent / info.name / Path(info.member).name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".part")
    try:
        with zipfile.ZipFile(archive) as opened, opened.open(info.member) as source, temporary.open("wb") as sink:
            shutil.copyfileobj(source, sink, _CHUNK)
    except (KeyError, zipfile.BadZipFile) as exc:
        temporary.unlink(missing_ok=True)
        msg = f"{archive}: can't read {info.member!r} from the archive: {short_text(str(exc))}"
        raise DataError(msg) from exc
    temporary.replace(target)
    return target


def _show_licence(info: DatasetInfo, folder: Path) -> None:
    """Log the licence before the first download of a dataset into `folder`."""
    marker = folder / f".{info.name}.licence-shown"
    if marker.exists():
        return
    logger.warning("%s: %s Full terms: %s", info.title, info.licence, info.licence_url)
    marker.write_text(info.licence_url + "\n", encoding="utf-8")


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

    def http_error_302(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any
    ) -> Any:
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


def _opener() -> urllib.request.OpenerDirector:
    """Return an opener for web addresses only, following redirects only to web addresses."""
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(), urllib.request.HTTPHandler(), urllib.request.HTTPSHandler(),
        urllib.request.HTTPDefaultErrorHandler(), _WebRedirects(), urllib.request.HTTPErrorProcessor(),
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
        logger.info("the download of %s was interrupted; resuming (attempt %d of %d)", info.name, attempts + 1,
                    ATTEMPTS)


def _attempt(info: DatasetInfo, url: str, partial: Path, limit: int, opener: urllib.request.OpenerDirector) -> bool:
    """Make one request, appending what it brings to `partial`; return whether the file is complete."""
    done = partial.stat().st_size if partial.exists() else 0
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={done}-"} if done else {})}
    with opener.open(urllib.request.Request(url, headers=headers), timeout=60) as response:
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
        with partial.open("r+b" if done else "wb") as sink:
            sink.seek(done)
            sink.truncate()
            expected = length if length is not None else None if info.size is None else info.size - done
            for chunk in progress(_chunks(response), total=expected,
                                  desc=f"downloading {info.name}", unit="bytes", sizes=_sizes(response)):
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
                sink.write(chunk)
    size = done + received
    if info.size is not None:
        return size == info.size
    return length is None or received == length


def _discard_unusable(info: DatasetInfo, partial: Path, limit: int) -> None:
    """Delete a ``.part`` file that can't be the start of the right file, instead of resuming it."""
    if not partial.exists():
        return
    with partial.open("rb") as source:
        head = source.read(512)
    problem = f"it holds {partial.stat().st_size:,} bytes, more than {limit:,}" if partial.stat().st_size > limit else (
        _not_a_start(info, head) if head else None
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
    """Return a header's value as a non-negative int; ``None`` when absent or malformed."""
    return int(value) if value is not None and value.strip().isdigit() else None


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


def _verify(info: DatasetInfo, path: Path) -> None:
    """Raise unless `path` has the registered size (where known) and checksum."""
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        msg = f"{path}: {size:,} bytes, but {info.name} is {info.size:,}; delete it and fetch again"
        raise DataError(msg)
    algorithm, _, expected = info.checksum.partition(":")
    digest = hashlib.new("sha1" if algorithm == "git-sha1" else algorithm)
    if algorithm == "git-sha1":
        digest.update(b"blob %d\0" % size)
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        msg = (
            f"{path}: {algorithm} {digest.hexdigest()} does not match {info.name}'s {expected}; "
            "the file is corrupt or not the published one, and was not used"
        )
        raise DataError(msg)
