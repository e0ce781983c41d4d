"""The ``parquet`` source (optional pyarrow): one file, or a folder of files read in one go or in parts.

A folder (a partitioned dataset) is read row group by row group on the run's executor when it
runs blocks side by side (:class:`recframe.SupportsPartitions`); either way the interactions
are the same, ids converted once over every part.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recframe import ComponentConfig, DataError, DataSource, Interactions, path_text, short_repr
from recframe.builtin.data_sources.columns import columns_found, interactions_of, named_columns
from recframe.builtin.data_sources.files import readable_path


class ParquetConfig(ComponentConfig):
    """Parameters of :class:`ParquetDataSource`."""

    path: Path
    """The Parquet file (or a folder of Parquet files forming one dataset)."""
    user: str = "user"
    """Column of the user ids."""
    item: str = "item"
    """Column of the item ids."""
    rating: str | None = None
    """Column of the ratings, optional (``rating`` is used if the file has it)."""
    timestamp: str | None = None
    """Column of the timestamps, optional (``timestamp`` is used if present); timestamp types
    become Unix seconds."""


class ParquetDataSource(DataSource):
    """Read interactions from Parquet (needs ``pip install 'recframe[parquet]'``, i.e. pyarrow).

    Only the needed columns are read. A missing column is an error listing the file's columns.
    """

    name = "parquet"
    Config = ParquetConfig
    config: ParquetConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Read the columns and return them as interactions.

        Every pyarrow error is caught and named: a file that can't be read, a folder whose files
        disagree on a column's type (the message names both files), ids or ratings that can't
        be converted (the message names the column).

        Raises
        ------
        DataError
            If pyarrow is missing, the file can't be read, or a column is missing, has nulls or
            holds values of the wrong type.
        """
        pa, pq = _pyarrow()
        plan = self._plan()
        try:
            table = pq.read_table(plan.path, columns=list(plan.columns))
        except (OSError, pa.ArrowException) as exc:
            wanted = columns_found(list(plan.columns))
            msg = f"{plan.path}: can't read the columns {wanted}: {path_text(exc)} (data.path)"
            raise DataError(msg) from exc
        return self.combine([_arrays(pa, table, plan.roles, plan.path)])

    def partitions(self) -> list[_Part]:
        """Return one part per row group of each file, in the order :meth:`load` reads them.

        A run whose executor runs blocks side by side reads the parts as blocks (see
        :class:`recframe.SupportsPartitions`): the same interactions, read in parallel.

        Raises
        ------
        DataError
            If pyarrow is missing, a file can't be read or lacks a column, or the files disagree
            on a column's type.
        """
        pa, pq = _pyarrow()
        plan = self._plan()
        parts = []
        for file in plan.files:
            try:
                groups = pq.ParquetFile(file).num_row_groups
            except (OSError, pa.ArrowException) as exc:
                msg = f"{file}: can't read Parquet: {path_text(exc)} (data.path)"
                raise DataError(msg) from exc
            parts += [_Part(file, group, plan.columns, plan.roles, plan.path) for group in range(groups)]
        return parts

    def load_partition(self, partition: object) -> _Columns:
        """Read the columns of one row group (a part of :meth:`partitions`).

        Raises
        ------
        DataError
            If the row group can't be read, or a column has nulls or can't be read as numbers;
            the message names the file and the row group.
        """
        if not isinstance(partition, _Part):
            msg = f"a parquet part must come from partitions(); got {type(partition).__name__}"
            raise TypeError(msg)
        pa, pq = _pyarrow()
        where = f"{partition.file} (row group {partition.group})"
        try:
            table = pq.ParquetFile(partition.file).read_row_group(partition.group, columns=list(partition.columns))
        except (OSError, pa.ArrowException) as exc:
            msg = f"{where}: can't read the columns {columns_found(list(partition.columns))}: {path_text(exc)}"
            raise DataError(msg) from exc
        return _arrays(pa, table, partition.roles, where, partition.path)

    def combine(self, loaded: list[object]) -> Interactions:
        """Return the interactions of the parts' columns, concatenated in order, ids converted once.

        Raises
        ------
        DataError
            If there is no row, or an id or a value can't be converted (naming the column).
        """
        parts = [part for part in loaded if isinstance(part, _Columns)]
        if not parts or len(parts) != len(loaded):
            msg = "parquet parts must come from load_partition(); got " + ", ".join(type(p).__name__ for p in loaded)
            raise TypeError(msg)
        path, roles = parts[0].path, parts[0].roles
        if sum(part.rows for part in parts) == 0:
            msg = f"{path}: no interactions; the file has no rows (data.path)"
            raise DataError(msg)
        columns = {role: np.concatenate([part.columns[role] for part in parts]) for role in roles}
        return interactions_of(columns, roles, path)

    def _plan(self) -> _Plan:
        """Find the files, check that they have the columns needed, with the same types."""
        pa, pq = _pyarrow()
        c = self.config
        path = readable_path(Path(c.path), "data.path", folders=True)
        try:
            if path.is_dir():
                files = list(pq.ParquetDataset(path).files)
                if not files:
                    msg = f"{path}: the folder holds no Parquet files (data.path)"
                    raise DataError(msg)
            else:
                files = [str(path)]
            schema = pq.read_schema(files[0])
        except (OSError, pa.ArrowException) as exc:
            msg = f"{path}: can't read Parquet: {path_text(exc)} (data.path)"
            raise DataError(msg) from exc
        roles = _roles(c, files[0], schema)
        wanted = tuple(dict.fromkeys(roles.values()))
        _same_types(pq, pa, files, schema, list(wanted), roles, c)
        return _Plan(str(path), files, wanted, roles)


@dataclass(frozen=True)
class _Plan:
    """What to read: the dataset's path, its files in reading order, the columns and their roles."""

    path: str
    files: list[str]
    columns: tuple[str, ...]
    roles: dict[str, str]


@dataclass(frozen=True)
class _Part:
    """One row group of one file of a dataset, and the columns to read from it."""

    file: str
    group: int
    columns: tuple[str, ...]
    roles: dict[str, str]
    path: str


@dataclass(frozen=True, eq=False)
class _Columns:
    """The raw columns of a table or a row group, by role, and the dataset they belong to."""

    path: str
    roles: dict[str, str]
    columns: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        """Rows read."""
        return len(self.columns["user"])


def _pyarrow() -> tuple[Any, Any]:
    """Import pyarrow and its parquet module, or say how to install them."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        msg = "the parquet data source needs pyarrow; install it with: pip install 'recframe[parquet]'"
        raise DataError(msg) from exc
    return pa, pq


_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
"""Ticks of each Arrow timestamp unit in a second: a timestamp becomes Unix seconds from its own unit,
so nanoseconds are not cut to microseconds (a cast that would refuse the digits it drops)."""


def _arrays(pa: Any, table: Any, roles: dict[str, str], where: str, path: str | None = None) -> _Columns:
    """Return the columns of `table` by role as numpy arrays (timestamps as Unix seconds), refusing nulls."""
    columns: dict[str, np.ndarray] = {}
    for role, name in roles.items():
        column = table.column(name)
        if column.null_count:
            msg = f"{where}: column {short_repr(name)} (data.{role}) has {column.null_count} nulls"
            raise DataError(msg)
        try:
            if pa.types.is_date(column.type):  # whole days: seconds hold them exactly
                column = column.cast(pa.timestamp("s"))
            if pa.types.is_timestamp(column.type):  # ticks of its own unit (UTC), as a datetime64 column's
                ticks = column.cast(pa.int64()).to_numpy()
                per_second = _TICKS_PER_SECOND[column.type.unit]
                columns[role] = ticks / per_second if per_second > 1 else ticks.astype(np.float64)
            elif pa.types.is_dictionary(column.type):
                columns[role] = column.combine_chunks().dictionary_decode().to_numpy(zero_copy_only=False)
            else:
                columns[role] = column.to_numpy()
        except (pa.ArrowException, ValueError, TypeError) as exc:
            reason = path_text(exc)
            if _invalid_text(pa, column):  # Arrow's own words: "Unknown error: Wrapping ... failed"
                reason = "it holds text that is not valid UTF-8 (decode the ids strictly when writing the file)"
            msg = (
                f"{where}: column {short_repr(name)} (data.{role}) of type {column.type} can't be read as "
                f"{'ids' if role in ('user', 'item') else 'numbers'}: {reason}"
            )
            raise DataError(msg) from exc
    return _Columns(where if path is None else path, roles, columns)


def _invalid_text(pa: Any, column: Any) -> bool:
    """Whether a text column holds bytes that are not UTF-8 (which Arrow can't hand to Python)."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return False
    try:
        for chunk in column.chunks:
            chunk.validate(full=True)  # a full validation checks the text is UTF-8
    except pa.ArrowInvalid as exc:
        return "utf8" in str(exc).lower()
    return False


def _roles(config: Any, file: str, schema: Any) -> dict[str, str]:
    """Return the column of each role in one file (``rating`` and ``timestamp`` by name when not set)."""
    found = list(schema.names)
    return named_columns(
        config, found, lambda wanted: f"{file}: no column {wanted}; the file has {columns_found(found)}"
    )


def _same_types(
    pq: Any, pa: Any, files: list[str], first: Any, wanted: list[str], roles: dict[str, str], config: Any
) -> None:
    """Raise :class:`DataError` if the files of a folder disagree on the columns read or their types."""
    for other in files[1:]:
        try:
            schema = pq.read_schema(other)
        except (OSError, pa.ArrowException) as exc:
            msg = f"{other}: can't read Parquet: {path_text(exc)} (data.path)"
            raise DataError(msg) from exc
        extra = sorted(set(_roles(config, other, schema)) - set(roles))
        if extra:  # a rating or timestamp column the first file lacks: it would be dropped for every file
            names = ", ".join(f"{short_repr(role)} (data.{role})" for role in extra)
            msg = (
                f"{other}: has the column {names}, which {files[0]} lacks; "
                "the files of a folder must have the same columns"
            )
            raise DataError(msg)
        for name in wanted:
            role = next(r for r, n in roles.items() if n == name)
            if name not in schema.names:
                msg = f"{other}: no column {short_repr(name)} (data.{role}), which {files[0]} has (data.path)"
                raise DataError(msg)
            if schema.field(name).type != first.field(name).type:
                msg = (
                    f"{other}: column {short_repr(name)} (data.{role}) is {schema.field(name).type}, but "
                    f"{first.field(name).type} in {files[0]}; the files of a folder must agree on each column's type"
                )
                raise DataError(msg)
