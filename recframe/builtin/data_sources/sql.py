"""The ``sql`` source: a query against SQLite (standard library) or PostgreSQL (optional psycopg)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import PositiveInt, field_validator

from recframe import ComponentConfig, DataError, DataSource, Interactions
from recframe.builtin.data_sources.columns import named_columns


class SQLConfig(ComponentConfig):
    """Parameters of :class:`SQLDataSource`."""

    url: str
    """The database: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, or
    ``postgresql://user:password@host:port/database`` (needs ``pip install 'recframe[postgres]'``)."""
    query: str
    """A query returning one row per interaction, e.g. ``SELECT user_id, item_id, rating FROM
    ratings``. It is run read-only."""
    user: str = "user"
    """Result column of the user ids."""
    item: str = "item"
    """Result column of the item ids."""
    rating: str | None = None
    """Result column of the ratings, optional (``rating`` is used if the result has it)."""
    timestamp: str | None = None
    """Result column of the timestamps, optional (``timestamp`` is used if present)."""
    chunk_rows: PositiveInt = 100_000
    """Rows fetched at a time (PostgreSQL: through a server-side cursor), so the whole result
    is never held as Python rows at once."""

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            msg = f"unsupported database URL {value!r}; use sqlite:///path/to/file.db or postgresql://host/database"
            raise ValueError(msg)
        return value


class SQLDataSource(DataSource):
    """Read interactions with a SQL query, in chunks: SQLite (standard library) or PostgreSQL (psycopg).

    The database is opened read-only; missing result columns are an error listing the columns
    the query returned; ids come back as the database stores them (integers or text).
    """

    name = "sql"
    Config = SQLConfig
    config: SQLConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Run the query and return its rows as interactions.

        Raises
        ------
        DataError
            If the database can't be opened, the query fails, returns no rows, lacks a column or
            holds NULL ids (the message names the database and the setting to fix).
        """
        c = self.config
        if c.url.startswith("sqlite:///"):
            return self._sqlite()
        return self._postgres()

    def _sqlite(self) -> Interactions:
        import sqlite3

        path = Path(self.config.url.removeprefix("sqlite:///"))
        if not path.is_file():
            msg = f"{path}: no such database file (data.url)"
            raise DataError(msg)
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            msg = f"{path}: can't open the database: {exc} (data.url)"
            raise DataError(msg) from exc
        try:
            return self._read(connection.execute(self.config.query), str(path))
        except sqlite3.Error as exc:
            msg = f"{path}: the query failed: {exc} (data.query)"
            raise DataError(msg) from exc
        finally:
            connection.close()

    def _postgres(self) -> Interactions:
        try:
            import psycopg
        except ImportError as exc:
            msg = "a postgresql:// URL needs psycopg; install it with: pip install 'recframe[postgres]'"
            raise DataError(msg) from exc
        where = _without_password(self.config.url)
        try:
            connection = psycopg.connect(self.config.url, connect_timeout=10)
        except psycopg.Error as exc:
            msg = f"{where}: can't connect: {_first_line(exc)} (data.url)"
            raise DataError(msg) from exc
        try:
            connection.read_only = True
            with connection.cursor(name="recframe_interactions") as cursor:  # server side: streams
                cursor.execute(self.config.query)
                return self._read(cursor, where)
        except psycopg.Error as exc:
            msg = f"{where}: the query failed: {_first_line(exc)} (data.query)"
            raise DataError(msg) from exc
        finally:
            connection.close()

    def _read(self, cursor: Any, where: str) -> Interactions:
        """Fetch the query's rows in chunks and turn the configured columns into interactions."""
        c = self.config
        first = cursor.fetchmany(c.chunk_rows)  # a server-side cursor describes its result once fetched
        found = [d[0] for d in cursor.description or ()]
        roles = named_columns(c, found, lambda wanted: f"the query returns no column {wanted}; it returns {found}")
        positions = {role: found.index(name) for role, name in roles.items()}
        parts: dict[str, list[np.ndarray]] = {role: [] for role in roles}
        rows = first
        while rows:
            for role, position in positions.items():
                parts[role].append(np.asarray([row[position] for row in rows]))
            rows = cursor.fetchmany(c.chunk_rows)
        if not parts["user"]:
            msg = f"{where}: the query returned no rows (data.query)"
            raise DataError(msg)
        columns = {role: np.concatenate(chunks) for role, chunks in parts.items()}
        for role, values in columns.items():
            if values.dtype == object and any(v is None for v in values):
                msg = f"{where}: data.{role} column {roles[role]!r} holds NULLs (data.query)"
                raise DataError(msg)
        for role in ("rating", "timestamp"):
            if role in columns:
                try:
                    columns[role] = columns[role].astype(np.float64)
                except (TypeError, ValueError) as exc:
                    msg = f"{where}: data.{role} column {roles[role]!r} holds values that are not numbers ({exc})"
                    raise DataError(msg) from exc
        return Interactions(columns["user"], columns["item"], columns.get("rating"), columns.get("timestamp"))


def _first_line(exc: Exception) -> str:
    """Return the first line of a database error (PostgreSQL adds context lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _without_password(url: str) -> str:
    """Return a database URL safe to show: without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)
