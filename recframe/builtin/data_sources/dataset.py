"""The ``dataset`` source: a public dataset by name, fetched and verified once."""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
from pydantic import ConfigDict, field_validator

from recframe import (
    DATASETS,
    ComponentConfig,
    ConfigError,
    DataSource,
    Interactions,
    Secret,
    check_url,
    dataset_info,
    extract_dataset,
    fetch_dataset,
)
from recframe.builtin.data_sources.delimited import CSVConfig, CSVDataSource


class DatasetConfig(ComponentConfig):
    """Parameters of :class:`DatasetDataSource`."""

    model_config = ConfigDict(hide_input_in_errors=True)  # a validation error must not print a token in url

    name: str
    """A registered dataset: ``movielens-100k``, ``-1m``, ``-10m``, ``-20m``, ``-25m``, ``-32m``,
    ``movielens-latest-small`` or ``goodbooks-10k`` (``recframe data list`` shows them)."""
    url: Secret | None = None
    """A mirror to download from instead of the registry's URL (``https://`` or ``http://``);
    the checksum still applies. A password or token in it is masked wherever the config is
    shown or written."""
    folder: Path | None = None
    """The cache folder; ``$RECFRAME_DATA`` or ``~/.cache/recframe/datasets`` by default."""

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in DATASETS:
            close = difflib.get_close_matches(value, list(DATASETS), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            msg = f"unknown dataset {value!r}; {hint}(known: {', '.join(sorted(DATASETS))})"
            raise ValueError(msg)
        return value

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: Secret | None) -> Secret | None:
        if value is not None:
            try:
                check_url(value.reveal(), "data.url")
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("data.url: ")) from None
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
        info = dataset_info(self.config.name)
        url = None if self.config.url is None else self.config.url.reveal()
        archive = fetch_dataset(info, url=url, folder=self.config.folder, folder_key="data.folder")
        return CSVDataSource(CSVConfig(path=extract_dataset(info, archive), **info.csv)).load(rng)
