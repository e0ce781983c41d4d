"""The ``parquet`` source (optional pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recframe import ComponentConfig, DataError, DataSource, Interactions, short_repr, short_text
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
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            msg = "the parquet data source needs pyarrow; install it with: pip install 'recframe[parquet]'"
            raise DataError(msg) from exc
        c = self.config
        path = readable_path(Path(c.path), "data.path", folders=True)
        try:
            if path.is_dir():
                files = sorted(str(f) for f in pq.ParquetDataset(path).files)
                if not files:
                    msg = f"{path}: the folder holds no Parquet files (data.path)"
                    raise DataError(msg)
            else:
                files = [str(path)]
            schema = pq.read_schema(files[0])
        except (OSError, pa.ArrowException) as exc:
            msg = f"{path}: can't read Parquet: {short_text(str(exc))} (data.path)"
            raise DataError(msg) from exc
        found = list(schema.names)
        roles = named_columns(
            c, found, lambda wanted: f"{path}: no column {wanted}; the file has {columns_found(found)}"
        )
        wanted = list(dict.fromkeys(roles.values()))
        _same_types(pq, pa, files, schema, wanted, roles)
        try:
            table = pq.read_table(path, columns=wanted)
        except (OSError, pa.ArrowException) as exc:
            msg = f"{path}: can't read the columns {columns_found(wanted)}: {short_text(str(exc))} (data.path)"
            raise DataError(msg) from exc
        if table.num_rows == 0:
            msg = f"{path}: no interactions; the file has no rows (data.path)"
            raise DataError(msg)
        columns: dict[str, np.ndarray] = {}
        for role, name in roles.items():
            column = table.column(name)
            if column.null_count:
                msg = f"{path}: column {short_repr(name)} (data.{role}) has {column.null_count} nulls"
                raise DataError(msg)
            try:
                if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
                    column = column.cast(pa.timestamp("us")).cast(pa.int64())
                    columns[role] = column.to_numpy() / 1e6
                elif pa.types.is_dictionary(column.type):
                    columns[role] = column.combine_chunks().dictionary_decode().to_numpy(zero_copy_only=False)
                else:
                    columns[role] = column.to_numpy()
            except (pa.ArrowException, ValueError, TypeError) as exc:
                msg = (
                    f"{path}: column {short_repr(name)} (data.{role}) of type {column.type} can't be read as "
                    f"{'ids' if role in ('user', 'item') else 'numbers'}: {short_text(str(exc))}"
                )
                raise DataError(msg) from exc
        return interactions_of(columns, roles, str(path))


def _same_types(pq: Any, pa: Any, files: list[str], first: Any, wanted: list[str], roles: dict[str, str]) -> None:
    """Raise :class:`DataError` if the files of a folder disagree on the type of a column read."""
    for other in files[1:]:
        try:
            schema = pq.read_schema(other)
        except (OSError, pa.ArrowException) as exc:
            msg = f"{other}: can't read Parquet: {short_text(str(exc))} (data.path)"
            raise DataError(msg) from exc
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
