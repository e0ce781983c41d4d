"""Every data source on the same awkward data: huge integer ids, unicode ids, and no rows at all."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recframe import DataError, DataSource, Interactions
from recframe.builtin.data_sources import (
    ArraysDataSource,
    CSVDataSource,
    DataFrameDataSource,
    ParquetDataSource,
    SQLDataSource,
)

HUGE = [2**63 - 1, -(2**63), 0, 2**53 + 1, 2**63 - 1]
UNICODE = ["ö", "日本", "🙂", "a b", "ö"]
RATINGS = [1.0, 2.5, 3.0, 4.0, 5.0]


def write_csv(path: Path, frame: pd.DataFrame) -> DataSource:
    frame.to_csv(path.with_suffix(".csv"), index=False)
    return CSVDataSource(path=path.with_suffix(".csv"), rating="rating")


def write_parquet(path: Path, frame: pd.DataFrame) -> DataSource:
    pytest.importorskip("pyarrow")
    frame.to_parquet(path.with_suffix(".parquet"), index=False)
    return ParquetDataSource(path=path.with_suffix(".parquet"))


def write_sqlite(path: Path, frame: pd.DataFrame) -> DataSource:
    database = path.with_suffix(".db")
    with sqlite3.connect(database) as connection:
        frame.to_sql("ratings", connection, index=False)
    return SQLDataSource(url=f"sqlite:///{database}", query="SELECT user, item, rating FROM ratings")


def in_a_dataframe(path: Path, frame: pd.DataFrame) -> DataSource:
    return DataFrameDataSource.of(frame)


def in_a_npz_file(path: Path, frame: pd.DataFrame) -> DataSource:
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    np.savez(path.with_suffix(".npz"), **{n: c.astype(str) if c.dtype == object else c for n, c in columns.items()})
    return ArraysDataSource(path=path.with_suffix(".npz"))


WRITERS: list[Callable[[Path, pd.DataFrame], DataSource]] = [
    write_csv, write_parquet, write_sqlite, in_a_dataframe, in_a_npz_file,
]


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_huge_integer_ids_and_unicode_ids_arrive_intact(tmp_path, writer):
    frame = pd.DataFrame({"user": np.array(HUGE, dtype=np.int64), "item": np.array(UNICODE), "rating": RATINGS})
    loaded = writer(tmp_path / "data", frame).load(np.random.default_rng(0))
    expected = Interactions(np.array(HUGE, dtype=np.int64), np.array(UNICODE), RATINGS)
    assert loaded.users.tolist() == HUGE and loaded.items.tolist() == UNICODE
    assert loaded.fingerprint() == expected.fingerprint()


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.__name__)
def test_no_rows_is_an_error_naming_the_source(tmp_path, writer):
    frame = pd.DataFrame({"user": np.zeros(0, dtype=np.int64), "item": np.zeros(0, dtype=np.int64),
                          "rating": np.zeros(0)})
    with pytest.raises(DataError, match=r"no (interactions|rows)"):
        writer(tmp_path / "data", frame).load(np.random.default_rng(0))
