"""The ``dataset`` source: a public dataset by name, fetched and verified once."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
from pydantic import field_validator

from recframe import ComponentConfig, DataSource, Interactions
from recframe.builtin.data_sources.delimited import CSVConfig, CSVDataSource


class DatasetConfig(ComponentConfig):
    """Parameters of :class:`DatasetDataSource`."""

    name: str
    """A registered dataset: ``movielens-100k``, ``-1m``, ``-10m``, ``-20m``, ``-25m``, ``-32m``,
    ``movielens-latest-small`` or ``goodbooks-10k`` (``recframe data list`` shows them)."""
    url: str | None = None
    """A mirror to download from instead of the registry's URL; the checksum still applies."""
    folder: Path | None = None
    """The cache folder; ``$RECFRAME_DATA`` or ``~/.cache/recframe/datasets`` by default."""

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from recframe.datasets import DATASETS

        if value not in DATASETS:
            close = difflib.get_close_matches(value, list(DATASETS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown dataset {value!r}; {hint}(known: {', '.join(sorted(DATASETS))})"
            raise ValueError(msg)
        return value


class DatasetDataSource(DataSource):
    """A public dataset by name: downloaded once, verified by checksum, cached, then read.

    The first download shows the dataset's licence; an interrupted one resumes; a file with the
    wrong size or checksum is refused. Offline, the error says where to put the archive by hand.
    """

    name = "dataset"
    Config = DatasetConfig
    config: DatasetConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Return the dataset's interactions (fetching the archive first if needed)."""
        from recframe.datasets import dataset_info, extract, fetch

        info = dataset_info(self.config.name)
        archive = fetch(info, url=self.config.url, folder=self.config.folder)
        return CSVDataSource(CSVConfig(path=extract(info, archive), **info.csv)).load(rng)
