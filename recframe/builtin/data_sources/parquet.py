"""The ``parquet`` source (optional pyarrow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from recframe import ComponentConfig, DataError, DataSource, Interactions
from recframe.builtin.data_sources.columns import named_columns


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

        Raises
        ------
        DataError
            If pyarrow is missing, the file can't be read, or a column is missing or has nulls.
        """
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            msg = "the parquet data source needs pyarrow; install it with: pip install 'recframe[parquet]'"
            raise DataError(msg) from exc
        c = self.config
        path = Path(c.path)
        try:
            schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        except (OSError, pa.ArrowException) as exc:
            msg = f"{path}: can't read Parquet: {exc} (data.path)"
            raise DataError(msg) from exc
        found = list(schema.names)
        roles = named_columns(c, found, lambda wanted: f"{path}: no column {wanted}; the file has {found}")
        table = pq.read_table(path, columns=list(dict.fromkeys(roles.values())))
        if table.num_rows == 0:
            msg = f"{path}: no interactions; the file has no rows (data.path)"
            raise DataError(msg)
        columns: dict[str, np.ndarray] = {}
        for role, name in roles.items():
            column = table.column(name)
            if column.null_count:
                msg = f"{path}: column {name!r} (data.{role}) has {column.null_count} nulls"
                raise DataError(msg)
            if pa.types.is_timestamp(column.type):
                column = column.cast(pa.timestamp("us")).cast(pa.int64())
                columns[role] = column.to_numpy() / 1e6
            else:
                columns[role] = column.to_numpy()
        values = columns.get("rating")
        times = columns.get("timestamp")
        return Interactions(
            columns["user"], columns["item"],
            None if values is None else values.astype(np.float64),
            None if times is None else times.astype(np.float64),
        )
