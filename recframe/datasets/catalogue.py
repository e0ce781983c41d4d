"""The catalogue of public datasets: each one's address, size, checksum, licence and layout.

Every entry's file has a published or pinned checksum, so that every download is verified;
:func:`dataset_info` looks an entry up by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from recframe.errors import DataError

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
        _movielens(
            "movielens-100k",
            "MovieLens 100K (1998)",
            "ml-100k.zip",
            4_924_029,
            "ml-100k/u.data",
            {"layout": "movielens-100k"},
            "sha256:50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            "ml-100k-README.txt",
        ),
        _movielens(
            "movielens-1m",
            "MovieLens 1M (2003)",
            "ml-1m.zip",
            5_917_549,
            "ml-1m/ratings.dat",
            {"layout": "movielens-1m"},
            "sha256:a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            "ml-1m-README.txt",
        ),
        _movielens(
            "movielens-10m",
            "MovieLens 10M (2009)",
            "ml-10m.zip",
            65_566_137,
            "ml-10M100K/ratings.dat",
            {"layout": "movielens-1m"},
            "sha256:813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862",
            "ml-10m-README.html",
        ),
        _movielens(
            "movielens-20m",
            "MovieLens 20M (2015)",
            "ml-20m.zip",
            198_702_078,
            "ml-20m/ratings.csv",
            _ML_CSV,
            "sha256:96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            "ml-20m-README.html",
        ),
        _movielens(
            "movielens-25m",
            "MovieLens 25M (2019)",
            "ml-25m.zip",
            261_978_986,
            "ml-25m/ratings.csv",
            _ML_CSV,
            "sha256:8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            "ml-25m-README.html",
        ),
        _movielens(
            "movielens-32m",
            "MovieLens 32M (2024)",
            "ml-32m.zip",
            238_950_008,
            "ml-32m/ratings.csv",
            _ML_CSV,
            "md5:d472be332d4daa821edc399621853b57",
            "ml-32m-README.html",
        ),
        _movielens(
            "movielens-latest-small",
            "MovieLens latest, small (2018)",
            "ml-latest-small.zip",
            978_202,
            "ml-latest-small/ratings.csv",
            _ML_CSV,
            "sha256:696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            "ml-latest-small-README.html",
        ),
        DatasetInfo(
            "goodbooks-10k",
            "goodbooks-10k: 6M ratings of 10,000 books (2017)",
            f"https://raw.githubusercontent.com/zygmuntz/goodbooks-10k/{_GOODBOOKS_COMMIT}/ratings.csv",
            None,
            "git-sha1:0d245a10acfe3c89b2e4004cdbc805b99771ac5d",
            "goodbooks-10k by Zygmunt Zajac is licensed under Creative Commons Attribution-ShareAlike 4.0 "
            "(CC BY-SA 4.0): share and adapt with attribution, under the same licence.",
            f"https://github.com/zygmuntz/goodbooks-10k/blob/{_GOODBOOKS_COMMIT}/LICENSE",
            None,
            {"header": True, "user": "user_id", "item": "book_id", "rating": "rating"},
        ),
    )
}
"""The registry: files whose checksum is published or pinned, so that every download is verified.
MovieLens sha256 as pinned by TensorFlow Datasets (10M: with its size, as recorded alongside
GroupLens's md5 ``ce571fd5...``); MovieLens 32M by GroupLens's own md5 (``ml-32m.zip.md5``);
goodbooks-10k by the git object id of ``ratings.csv`` at a pinned commit of its repository."""


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
