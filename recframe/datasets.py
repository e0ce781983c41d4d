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
import logging
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recframe.errors import DataError
from recframe.progress import progress

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_GROUPLENS_LICENCE = (
    "MovieLens data are distributed by GroupLens Research (University of Minnesota) for research use; "
    "they may not be redistributed, used commercially or used to identify users without permission, "
    "and publications using them must cite F. Maxwell Harper and Joseph A. Konstan, 'The MovieLens "
    "Datasets: History and Context', ACM TiiS 5(4), 2015."
)


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
        Where the archive is downloaded from.
    size : int
        Size of the archive in bytes.
    sha256, md5 : str or None
        Checksum of the archive (sha256 where known; md5 where only the publisher's md5 is).
    licence : str
        The terms, shown on the first download.
    licence_url : str
        Where the full terms are.
    member : str
        Path of the ratings file inside the archive.
    csv : dict
        Parameters of the ``csv`` data source that reads it.
    """

    name: str
    title: str
    url: str
    size: int
    sha256: str | None
    md5: str | None
    licence: str
    licence_url: str
    member: str
    csv: dict[str, Any] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        """The archive's file name."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


def _movielens(name: str, title: str, archive: str, size: int, member: str, csv: dict[str, Any], *,
               sha256: str | None = None, md5: str | None = None) -> DatasetInfo:
    return DatasetInfo(
        name, title, f"https://files.grouplens.org/datasets/movielens/{archive}", size, sha256, md5,
        _GROUPLENS_LICENCE, "https://files.grouplens.org/datasets/movielens/ml-latest-small-README.html", member, csv,
    )


_ML_CSV = {"layout": "movielens-csv"}
DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _movielens("movielens-100k", "MovieLens 100K (1998)", "ml-100k.zip", 4_924_029, "ml-100k/u.data",
                   {"layout": "movielens-100k"},
                   sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
        _movielens("movielens-1m", "MovieLens 1M (2003)", "ml-1m.zip", 5_917_549, "ml-1m/ratings.dat",
                   {"layout": "movielens-1m"},
                   sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
        _movielens("movielens-20m", "MovieLens 20M (2015)", "ml-20m.zip", 198_702_078, "ml-20m/ratings.csv", _ML_CSV,
                   sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"),
        _movielens("movielens-25m", "MovieLens 25M (2019)", "ml-25m.zip", 261_978_986, "ml-25m/ratings.csv", _ML_CSV,
                   sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"),
        _movielens("movielens-latest-small", "MovieLens latest, small (2018)", "ml-latest-small.zip", 978_202,
                   "ml-latest-small/ratings.csv", _ML_CSV,
                   sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"),
    )
}
"""The registry: archives whose size and sha256 checksum are published (as pinned by TensorFlow
Datasets), so that every download can be verified."""


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


def fetch(info: DatasetInfo | str, *, url: str | None = None, folder: Path | None = None) -> Path:
    """Return the path of the dataset's verified archive, downloading it first if needed.

    Parameters
    ----------
    info : DatasetInfo or str
        The dataset, or its registry name.
    url : str, optional
        A mirror to download from instead of the registry's URL (the checksum still applies).
    folder : Path, optional
        The cache folder; :func:`data_dir` by default.

    Raises
    ------
    DataError
        If the download fails (the message says where to put the file by hand), is incomplete
        (run again to resume), or has the wrong size or checksum (the file is removed).
    """
    info = dataset_info(info) if isinstance(info, str) else info
    target = (folder or data_dir()) / info.filename
    if target.exists():
        _verify(info, target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
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


def extract(info: DatasetInfo | str, archive: Path) -> Path:
    """Return the ratings file of a verified archive, extracting it beside the archive once."""
    info = dataset_info(info) if isinstance(info, str) else info
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
        msg = f"{archive}: can't read {info.member!r} from the archive: {exc}"
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


def _download(info: DatasetInfo, url: str, partial: Path, target: Path) -> None:
    """Download `url` into `partial`, resuming from its current size if the server allows."""
    done = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            if done and response.status != 206:  # the server ignored the range: start over
                done = 0
            mode = "ab" if done else "wb"
            with partial.open(mode) as sink:
                for chunk in progress(_chunks(response), total=info.size - done, desc=f"downloading {info.name}",
                                      unit="bytes", sizes=_sizes(response)):
                    sink.write(chunk)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = (
            f"can't download {info.name} from {url}: {reason}; download {info.url} by hand and put it at "
            f"{target} (recframe checks its checksum)"
        )
        raise DataError(msg) from exc
    size = partial.stat().st_size
    if size < info.size:
        msg = (
            f"the download of {info.name} stopped at {size:,} of {info.size:,} bytes; run again to resume "
            f"(the partial file is {partial})"
        )
        raise DataError(msg)


def _chunks(response: Any) -> Iterator[bytes]:
    while chunk := response.read(_CHUNK):
        yield chunk


def _sizes(response: Any) -> Iterator[int]:
    """Bytes per chunk for the progress bar (the last chunk may be shorter; the bar only estimates)."""
    while True:
        yield _CHUNK


def _verify(info: DatasetInfo, path: Path) -> None:
    """Raise unless `path` has the registered size and checksum."""
    size = path.stat().st_size
    if size != info.size:
        msg = f"{path}: {size:,} bytes, but {info.name} is {info.size:,}; delete it and fetch again"
        raise DataError(msg)
    algorithm, expected = ("sha256", info.sha256) if info.sha256 else ("md5", info.md5)
    if expected is None:
        return
    digest = hashlib.new(algorithm)
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            digest.update(chunk)
    if digest.hexdigest() != expected:
        msg = (
            f"{path}: {algorithm} {digest.hexdigest()} does not match {info.name}'s {expected}; "
            "the file is corrupt or not the published one, and was not used"
        )
        raise DataError(msg)

