"""The local dataset cache: where archives are kept, and fetching, verifying and extracting them.

``fetch`` downloads a dataset's file once into the cache (``$RECFRAME_DATA``, by default
``~/.cache/recframe/datasets``), shows its licence on the first download and verifies its size
and checksum every time it is used; ``extract`` pulls the ratings file out of an archive once,
and checks it against the archive every time. Both take the dataset's lock in the cache, so
two programs fetching one dataset take turns.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from recframe.datasets.cache_files import cache_lock, check_regular, open_new
from recframe.datasets.catalogue import DatasetInfo, dataset_info
from recframe.datasets.download import _CHUNK, _download, check_url
from recframe.errors import ConfigError, DataError, path_repr, short_text

logger = logging.getLogger(__name__)


def data_dir() -> Path:
    """Return the cache folder: ``$RECFRAME_DATA``, else ``$XDG_CACHE_HOME/recframe/datasets``."""
    if os.environ.get("RECFRAME_DATA"):
        return Path(os.environ["RECFRAME_DATA"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "recframe" / "datasets"


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
    with cache_lock(cache, info.name):  # another program fetching it: wait, then find its file
        if check_regular(target, f"{info.name}'s download"):
            _verify(info, target, "delete it and fetch again")
            return target
        marker = _show_licence(info, target.parent)
        partial = target.with_name(target.name + ".part")
        _download(info, url or info.url, partial, target)
        try:
            _verify(info, partial, "it was deleted; fetch again")
        except DataError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        _licence_shown(info, marker)
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
    shown = path_repr(path)
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        what = "" if blocker == path else f" (its parent {path_repr(blocker)} is a file)"
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
    """Return the ratings file of a verified download, extracted beside the archive.

    The extracted file is checked against the archive each time (its size and CRC-32, as the
    archive records them): a stale copy (the registry now pins another file of that name) or a
    damaged one is extracted again, with a warning.

    Raises
    ------
    DataError
        If the archive lacks the file or is not a zip archive, or the file can't be written
        (the message names it and the system's reason; nothing half-written is left).
    """
    info = dataset_info(info) if isinstance(info, str) else info
    if info.member is None:  # the download is the ratings file
        return archive
    folder = archive.parent / info.name
    target = folder / Path(info.member).name
    with cache_lock(archive.parent, info.name), _opened_archive(archive, info.member) as (opened, member):
        if folder.is_dir() and check_regular(target, f"the ratings file extracted from {archive.name}"):
            if _matches(target, member):
                return target
            logger.warning("%s: does not match %s's %s; extracting it again", target, archive.name, info.member)
        elif os.path.lexists(folder) and not folder.is_dir():
            msg = f"{path_repr(folder)} is not a folder, where recframe extracts {info.name}; remove it and fetch again"
            raise DataError(msg)
        temporary = target.with_name(target.name + ".part")
        try:
            folder.mkdir(exist_ok=True)
            with opened.open(member) as source, open_new(temporary) as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
            msg = (
                f"can't extract {info.member!r} of {info.name} to {path_repr(temporary)}: {exc.strerror or exc}; "
                "free some space or give another cache folder (--folder, data.folder or RECFRAME_DATA)"
            )
            raise DataError(msg) from exc
        except zipfile.BadZipFile:
            temporary.unlink(missing_ok=True)  # a bad CRC at the member's end: the archive's error, below
            raise
        temporary.replace(target)
    return target


@contextlib.contextmanager
def _opened_archive(archive: Path, member: str) -> Iterator[tuple[zipfile.ZipFile, zipfile.ZipInfo]]:
    """Yield the open archive and its record of `member` (its size and CRC-32), for one read of the archive.

    Raises
    ------
    DataError
        If the archive is not a zip archive, lacks `member`, or fails reading it.
    """
    try:
        with zipfile.ZipFile(archive) as opened:
            yield opened, opened.getinfo(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        msg = f"{archive}: can't read {member!r} from the archive: {short_text(str(exc))}"
        raise DataError(msg) from exc


def _matches(path: Path, member: zipfile.ZipInfo) -> bool:
    """Return whether the file `path` has the size and CRC-32 the archive records for `member`."""
    if path.stat().st_size != member.file_size:
        return False
    crc = 0
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            crc = zlib.crc32(chunk, crc)
    return crc == member.CRC


def _show_licence(info: DatasetInfo, folder: Path) -> Path:
    """Log the licence before the first download of a dataset into `folder`; return the marker that it was."""
    marker = folder / f".{info.name}.licence-shown"
    if not marker.is_file():
        logger.warning("%s: %s Full terms: %s", info.title, info.licence, info.licence_url)
    return marker


def _licence_shown(info: DatasetInfo, marker: Path) -> None:
    """Mark the licence shown, once its download succeeded (a failed first download shows it again)."""
    if marker.is_file():
        return
    try:
        with open_new(marker) as sink:
            sink.write((info.licence_url + "\n").encode("utf-8"))
    except OSError as exc:  # the dataset is fetched; the licence is shown again next time
        logger.debug("can't write %s: %s", marker, exc)


def _verify(info: DatasetInfo, path: Path, advice: str) -> None:
    """Raise unless `path` has the registered size (where known) and checksum; the message ends with `advice`."""
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        msg = f"{path}: {size:,} bytes, but {info.name} is {info.size:,}; {advice}"
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
            f"the file is corrupt or not the published one, and was not used; {advice}"
        )
        raise DataError(msg)
