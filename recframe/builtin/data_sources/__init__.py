"""Built-in data sources, one module each, registered like any third-party plugin.

``synthetic`` (embedded, offline), ``csv`` (delimited text), ``parquet``, ``sql`` (SQLite and
PostgreSQL), ``dataset`` (public datasets by name), and ``dataframe`` / ``arrays`` (Python
objects, for embedding).
"""

from __future__ import annotations

from recframe import Component, hookimpl
from recframe.builtin.data_sources.dataset import DatasetConfig, DatasetDataSource
from recframe.builtin.data_sources.delimited import LAYOUTS, CSVConfig, CSVDataSource
from recframe.builtin.data_sources.memory import ArraysConfig, ArraysDataSource, DataFrameConfig, DataFrameDataSource
from recframe.builtin.data_sources.parquet import ParquetConfig, ParquetDataSource
from recframe.builtin.data_sources.sql import SQLConfig, SQLDataSource
from recframe.builtin.data_sources.synthetic import SyntheticConfig, SyntheticDataSource

__all__ = [
    "LAYOUTS",
    "ArraysConfig",
    "ArraysDataSource",
    "CSVConfig",
    "CSVDataSource",
    "DataFrameConfig",
    "DataFrameDataSource",
    "DatasetConfig",
    "DatasetDataSource",
    "ParquetConfig",
    "ParquetDataSource",
    "SQLConfig",
    "SQLDataSource",
    "SyntheticConfig",
    "SyntheticDataSource",
]


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in data sources."""
    return [
        SyntheticDataSource, CSVDataSource, ParquetDataSource, SQLDataSource, DatasetDataSource,
        DataFrameDataSource, ArraysDataSource,
    ]
