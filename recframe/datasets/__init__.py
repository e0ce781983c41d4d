"""Public datasets by name: a registry with verified checksums, and a resumable, verifying downloader.

``fetch("movielens-100k")`` downloads the archive once into the cache (``$RECFRAME_DATA``, by
default ``~/.cache/recframe/datasets``), shows the dataset's licence on the first download,
resumes an interrupted download, and refuses a file whose size or checksum is wrong. Without a
network it says where to put the archive by hand. ``extract`` pulls the ratings file out of the
archive once. The ``dataset`` data source (``{type: dataset, name: movielens-1m}``) and
``recframe data fetch NAME`` use both.

One concern a module: :mod:`~recframe.datasets.catalogue` (the datasets and their checksums),
:mod:`~recframe.datasets.download` (the resumable, verifying downloader),
:mod:`~recframe.datasets.cache` (the cache folder, fetching into it and extracting) and
:mod:`~recframe.datasets.cache_files` (the cache's lock, and writing its files without
following links).
"""

from __future__ import annotations

from recframe.datasets.cache import cache_folder, data_dir, extract, fetch
from recframe.datasets.catalogue import CHECKSUMS, DATASETS, DatasetInfo, dataset_info
from recframe.datasets.download import ATTEMPTS, MAX_UNKNOWN_SIZE, MIN_RATE, RATE_WINDOW, check_url

__all__ = [
    "ATTEMPTS",
    "CHECKSUMS",
    "DATASETS",
    "MAX_UNKNOWN_SIZE",
    "MIN_RATE",
    "RATE_WINDOW",
    "DatasetInfo",
    "cache_folder",
    "check_url",
    "data_dir",
    "dataset_info",
    "extract",
    "fetch",
]
