"""The ``sql`` source: a query against SQLite (standard library) or PostgreSQL (optional psycopg).

The query runs read-only, enforced by the database engine rather than by reading the SQL:
SQLite opens the file with ``mode=ro``, attaches nothing (``VACUUM INTO`` and ``ATTACH``
would write files) and runs the query under an authorizer that allows reading and nothing
else; PostgreSQL runs it in a session whose transactions are ``READ ONLY`` at the server.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import numpy as np
from pydantic import ConfigDict, Field, PositiveInt, field_validator, model_validator

from recframe import (
    SECRET_MASK,
    ComponentConfig,
    DataError,
    DataSource,
    Interactions,
    Secret,
    as_id_array,
    numeric_column,
    redact,
    short_repr,
    short_text,
    timestamp_column,
)
from recframe.builtin.data_sources.columns import columns_found, interactions_of, named_columns
from recframe.builtin.data_sources.files import readable_path

_SQLITE_READS = ("SQLITE_SELECT", "SQLITE_READ", "SQLITE_RECURSIVE")
"""Authorizer actions a read-only query needs: a SELECT (CTEs included), reading a column, a
recursive CTE. Functions are allowed apart from :data:`_SQLITE_REFUSED_FUNCTIONS`."""
_SQLITE_REFUSED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "writefile", "edit"})
"""Functions that load code or write outside the query's result."""
_SQLITE_ACTIONS = (
    "SQLITE_CREATE_INDEX", "SQLITE_CREATE_TABLE", "SQLITE_CREATE_TEMP_INDEX", "SQLITE_CREATE_TEMP_TABLE",
    "SQLITE_CREATE_TEMP_TRIGGER", "SQLITE_CREATE_TEMP_VIEW", "SQLITE_CREATE_TRIGGER", "SQLITE_CREATE_VIEW",
    "SQLITE_DELETE", "SQLITE_DROP_INDEX", "SQLITE_DROP_TABLE", "SQLITE_DROP_TEMP_INDEX", "SQLITE_DROP_TEMP_TABLE",
    "SQLITE_DROP_TEMP_TRIGGER", "SQLITE_DROP_TEMP_VIEW", "SQLITE_DROP_TRIGGER", "SQLITE_DROP_VIEW", "SQLITE_INSERT",
    "SQLITE_PRAGMA", "SQLITE_READ", "SQLITE_SELECT", "SQLITE_TRANSACTION", "SQLITE_UPDATE", "SQLITE_ATTACH",
    "SQLITE_DETACH", "SQLITE_ALTER_TABLE", "SQLITE_REINDEX", "SQLITE_ANALYZE", "SQLITE_CREATE_VTABLE",
    "SQLITE_DROP_VTABLE", "SQLITE_FUNCTION", "SQLITE_SAVEPOINT", "SQLITE_RECURSIVE",
)
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What an environment variable's name looks like (POSIX, portable)."""
_PROGRESS_STEPS = 100_000
"""SQLite virtual-machine steps between two checks of ``timeout_s``."""
_SQLITE_URI_PARAMETERS = frozenset({"cache", "immutable", "nolock", "vfs"})
"""SQLite URI parameters passed on from ``data.url``; ``mode`` is always ``ro``, and other
parameters (a ``password=`` a driver would use, say) are not SQLite's and are dropped."""


class SQLConfig(ComponentConfig):
    """Parameters of :class:`SQLDataSource`."""

    model_config = ConfigDict(hide_input_in_errors=True)  # a validation error must not print the URL

    url: Secret
    """The database: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, or
    ``postgresql://user:password@host:port/database`` (needs ``pip install 'recframe[postgres]'``).
    Its password is masked (``***``) wherever the config is shown or written; better still,
    leave it out and set ``password_env``."""
    password_env: str | None = None
    """PostgreSQL: the environment variable holding the password (e.g. ``PGPASSWORD``), so that
    the run file holds no password."""
    query: str
    """A query returning one row per interaction, e.g. ``SELECT user_id, item_id, rating FROM
    ratings``. It is run read-only: the database refuses anything that would write."""
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
    max_rows: PositiveInt | None = 100_000_000
    """The most rows the query may return; a query returning more (a recursive CTE without an
    end, a join gone wrong) is stopped with an error. ``null`` lifts the limit."""
    timeout_s: float | None = Field(3600.0, ge=0.001, le=2_147_483.0)
    """The longest the query may run, in seconds, fetching included (SQLite: checked as the
    query runs; PostgreSQL: the session's ``statement_timeout``, in whole milliseconds, up to
    PostgreSQL's largest, about 24.8 days). ``null`` lifts the limit."""

    @field_validator("password_env")
    @classmethod
    def _environment_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENVIRONMENT_NAME.fullmatch(value):
            msg = (
                f"{short_repr(value)} is not an environment variable name; use letters, digits and "
                "underscores, not starting with a digit (e.g. PGPASSWORD)"
            )
            raise ValueError(msg)
        return value

    @field_validator("url")
    @classmethod
    def _supported(cls, value: Secret) -> Secret:
        url = value.reveal()
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            msg = f"unsupported database URL {str(value)!r}; use sqlite:///path/to/file.db or postgresql://host/database"
            raise ValueError(msg)
        if url.startswith("sqlite:///"):
            mode = dict(parse_qsl(url.partition("?")[2])).get("mode", "ro")
            if mode != "ro":
                msg = f"SQLite mode {mode!r} is not allowed; the database is always opened read-only (mode=ro)"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _password_env_for_postgres(self) -> SQLConfig:
        if self.password_env is not None and self.url.reveal().startswith("sqlite:"):
            msg = "data.password_env is for PostgreSQL; a SQLite database has no password"
            raise ValueError(msg)
        return self


class SQLDataSource(DataSource):
    """Read interactions with a SQL query, in chunks: SQLite (standard library) or PostgreSQL (psycopg).

    The database is opened read-only and the engine refuses any statement that would write
    (files included); missing result columns are an error listing the columns the query
    returned; ids come back as the database stores them (integers or text).
    """

    name = "sql"
    Config = SQLConfig
    config: SQLConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Run the query and return its rows as interactions.

        Raises
        ------
        DataError
            If the database can't be opened, the query fails or would write, returns no rows,
            lacks a column or holds NULL ids (the message names the database and the setting
            to fix, never the password).
        """
        if self.config.url.reveal().startswith("sqlite:///"):
            return self._sqlite()
        return self._postgres()

    def _sqlite(self) -> Interactions:
        import sqlite3

        location, _, query = self.config.url.reveal().removeprefix("sqlite:///").partition("?")
        path = readable_path(Path(location), "data.url", missing="no such database file")
        parameters = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k in _SQLITE_URI_PARAMETERS]
        if _wal_without_readers_files(path) and not any(k == "immutable" for k, _ in parameters):
            parameters.append(("immutable", "1"))
        uri = f"{path.resolve().as_uri()}?{urlencode([*parameters, ('mode', 'ro')])}"  # the path %-escaped
        try:
            connection = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            msg = f"{path}: can't open the database: {_first_line(exc)} (data.url)"
            raise DataError(msg) from exc
        refused: list[str] = []
        deadline = None if self.config.timeout_s is None else time.monotonic() + self.config.timeout_s
        timed_out: list[bool] = []

        def progress() -> int:
            if deadline is not None and time.monotonic() > deadline:
                timed_out.append(True)
                return 1  # SQLite stops the query: OperationalError "interrupted"
            return 0

        try:
            _read_only_sqlite(connection, refused)
            connection.set_progress_handler(progress, _PROGRESS_STEPS)
            return self._read(connection.execute(self.config.query), str(path))
        except sqlite3.Error as exc:
            if timed_out:
                msg = (
                    f"{path}: the query ran longer than data.timeout_s ({self.config.timeout_s:g} s) and was "
                    "stopped (data.query); check it ends (a recursive CTE needs a stop condition), or raise "
                    "data.timeout_s"
                )
            elif refused:
                denied = ", ".join(dict.fromkeys(refused))
                msg = (
                    f"{path}: the query was refused: {denied} (data.query); the database is read-only, "
                    "so only reading queries (SELECT, WITH ... SELECT) run"
                )
            elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):  # opened at the first read
                msg = f"{path}: not an SQLite database ({_first_line(exc)}) (data.url)"
            else:
                msg = f"{path}: the query failed: {_first_line(exc)} (data.query)"
            raise DataError(msg) from exc
        finally:
            connection.close()

    def _postgres(self) -> Interactions:
        try:
            import psycopg
        except ImportError as exc:
            msg = "a postgresql:// URL needs psycopg; install it with: pip install 'recframe[postgres]'"
            raise DataError(msg) from exc
        where = str(self.config.url)  # the password masked
        extra: dict[str, Any] = {}
        if self.config.password_env is not None:
            name = self.config.password_env
            if name not in os.environ:
                msg = f"{where}: data.password_env names {name!r}, but no such environment variable is set"
                raise DataError(msg)
            extra["password"] = os.environ[name]
        elif _has_masked_password(self.config.url.reveal()):
            msg = (
                f"{where}: the password in data.url is {SECRET_MASK!r}, as written in a saved config; "
                "give the real one, or set data.password_env to the environment variable holding it"
            )
            raise DataError(msg)
        try:
            connection = psycopg.connect(self.config.url.reveal(), connect_timeout=10, **extra)
        except psycopg.Error as exc:
            msg = f"{where}: can't connect: {_first_line(exc)} (data.url)"
            raise DataError(msg) from exc
        try:
            # READ ONLY for the whole session, at the server: every write (INSERT, CREATE, COPY
            # TO a file, nextval) fails there, whatever the query text looks like
            connection.autocommit = True
            connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            if self.config.timeout_s is not None:
                # at least 1 ms: 0 would lift the limit
                connection.execute(f"SET statement_timeout = {max(1, round(self.config.timeout_s * 1000))}")
            connection.autocommit = False
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
        """Fetch the query's rows in chunks and turn the configured columns into interactions.

        Each chunk is converted as it comes (ids to ``int64`` or text, numbers to ``float64``,
        every conversion checked), and the chunks must agree on the type of the ids.
        """
        c = self.config
        first = cursor.fetchmany(c.chunk_rows)  # a server-side cursor describes its result once fetched
        found = [d[0] for d in cursor.description or ()]
        roles = named_columns(
            c, found, lambda wanted: f"the query returns no column {wanted}; it returns {columns_found(found)}"
        )
        for role, name in roles.items():
            if found.count(name) > 1:  # reading the first silently could take the wrong column
                msg = (
                    f"{where}: the query returns {found.count(name)} columns named {short_repr(name)}, so data.{role} "
                    f"is ambiguous; give all but one another name (AS) in the query"
                )
                raise DataError(msg)
        positions = {role: found.index(name) for role, name in roles.items()}
        parts: dict[str, list[np.ndarray]] = {role: [] for role in roles}
        rows = first
        total = 0
        while rows:
            total += len(rows)
            if c.max_rows is not None and total > c.max_rows:
                msg = (
                    f"{where}: the query returns more than data.max_rows ({c.max_rows:,}) rows and was stopped "
                    "(data.query); check it ends (a recursive CTE needs a stop condition), or raise data.max_rows"
                )
                raise DataError(msg)
            for role, position in positions.items():
                values = [row[position] for row in rows]
                what = f"{where}: column {short_repr(roles[role])} (data.{role})"
                if any(v is None for v in values):
                    msg = f"{where}: data.{role} column {short_repr(roles[role])} holds NULLs (data.query)"
                    raise DataError(msg)
                with _rows_of_the_result(total - len(rows)):
                    parts[role].append(_converted(role, values, what))
            rows = cursor.fetchmany(c.chunk_rows)
        if not parts["user"]:
            msg = f"{where}: the query returned no rows (data.query)"
            raise DataError(msg)
        for role in ("user", "item"):
            kinds = {chunk.dtype.kind for chunk in parts[role]}
            if len(kinds) > 1:
                msg = (
                    f"{where}: column {short_repr(roles[role])} (data.{role}) mixes integer and text ids; "
                    "store every id as one type (CAST(... AS TEXT), say)"
                )
                raise DataError(msg)
        columns = {role: np.concatenate(chunks) for role, chunks in parts.items()}
        return interactions_of(columns, roles, where)


def _converted(role: str, values: list[Any], what: str) -> np.ndarray:
    """Return one chunk of a column as ids, timestamps (date-times become Unix seconds) or numbers."""
    if role in ("user", "item"):
        return as_id_array(values, what)
    if role == "timestamp":
        converted = timestamp_column(what, values, len(values))
        assert converted is not None
        return converted
    numbers = numeric_column(what, values, len(values))
    assert numbers is not None
    return numbers


_ROW_NUMBER = re.compile(r"\b(rows?) (\d+)(?: and (\d+))?")


@contextlib.contextmanager
def _rows_of_the_result(before: int) -> Iterator[None]:
    """Renumber the rows a chunk's error names as rows of the whole result (`before` rows came first)."""
    try:
        yield
    except DataError as exc:
        if not before or type(exc) is not DataError:
            raise

        def shifted(match: re.Match[str]) -> str:
            numbers = [str(int(n) + before) for n in match.groups()[1:] if n is not None]
            return f"{match[1]} {' and '.join(numbers)}"

        raise DataError(_ROW_NUMBER.sub(shifted, str(exc))) from exc.__cause__


def _wal_without_readers_files(path: Path) -> bool:
    """Whether the SQLite file at `path` is in WAL mode with no ``-wal``/``-shm`` files beside it.

    Reading such a database, even with ``mode=ro``, makes SQLite create ``-wal`` and ``-shm``
    files next to it (and leave them behind in a read-only directory's absence of a writer).
    No ``-wal`` file means no connection is writing it and everything is in the main file, so
    it is opened ``immutable=1`` instead: nothing is created beside it. A ``-wal`` file
    holding changes not yet in the main file, without its ``-shm``, can't be read without
    writing; that is refused rather than read stale.

    Raises
    ------
    DataError
        For a non-empty ``-wal`` file without a ``-shm`` file.
    """
    try:
        with path.open("rb") as file:
            header = file.read(100)
    except OSError:
        return False  # opening it reports the problem
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00") or header[18] != 2:
        return False
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if not wal.exists():
        return True
    if not shm.exists():
        if wal.stat().st_size == 0:
            return True
        msg = (
            f"{path}: the database is in WAL mode and {wal.name} holds changes, but {shm.name} is missing; "
            "reading it would write beside it (data.url): open it once with sqlite3 (or checkpoint it) first"
        )
        raise DataError(msg)
    return False


def _read_only_sqlite(connection: Any, refused: list[str]) -> None:
    """Let `connection` read and nothing else, recording in `refused` what the engine denied.

    No database can be attached (``ATTACH``, and ``VACUUM INTO``, which attaches its target),
    the connection is ``query_only`` with an untrusted schema, and an authorizer, consulted by
    SQLite as it compiles each statement, allows only reads.
    """
    import sqlite3

    if hasattr(connection, "setlimit"):  # Python 3.11+
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    # no change to any database file on this connection; functions named in the file's own
    # schema (a hostile view) may not have side effects
    connection.execute("PRAGMA query_only = ON")
    connection.execute("PRAGMA trusted_schema = OFF")
    names = {getattr(sqlite3, name): name.removeprefix("SQLITE_") for name in _SQLITE_ACTIONS if hasattr(sqlite3, name)}
    reads = {getattr(sqlite3, name) for name in _SQLITE_READS if hasattr(sqlite3, name)}
    function = sqlite3.SQLITE_FUNCTION
    first: list[int] = []  # the statement's first action: SELECT for a query

    def authorize(action: int, arg1: str | None, arg2: str | None, database: str | None, trigger: str | None) -> int:
        if not first:
            first.append(action)
        if action in reads or (action == function and (arg2 or "").lower() not in _SQLITE_REFUSED_FUNCTIONS):
            return int(sqlite3.SQLITE_OK)
        if first[0] == sqlite3.SQLITE_SELECT and _pragma_function_step(action, arg1):
            return int(sqlite3.SQLITE_OK)
        what = " ".join(short_repr(a, 200) for a in (arg1, arg2) if a)
        hint = " (a PRAGMA statement; pragma functions such as pragma_table_info() can be read in a SELECT)" if (
            action == sqlite3.SQLITE_PRAGMA
        ) else ""
        refused.append(f"{names.get(action, f'action {action}')}{' ' + what if what else ''}{hint}")
        return int(sqlite3.SQLITE_DENY)

    connection.set_authorizer(authorize)


def _pragma_function_step(action: int, table: str | None) -> bool:
    """Whether a SELECT's action is part of reading a table-valued pragma function (``pragma_table_info``).

    SQLite has such functions only for pragmas without side effects; compiling one asks for
    the pragma, and for the internal schema bookkeeping of ``sqlite_master`` (an UPDATE that a
    SELECT can't itself contain, and that the read-only connection could not run anyway).
    """
    import sqlite3

    return action == sqlite3.SQLITE_PRAGMA or (action == sqlite3.SQLITE_UPDATE and table == "sqlite_master")


def _has_masked_password(url: str) -> bool:
    """Whether `url` carries the mask (``***``) where its password was: a config written by a run."""
    return f":{SECRET_MASK}@" in url or f"password={SECRET_MASK}" in url


def _first_line(exc: Exception) -> str:
    """Return the first line of a database error (PostgreSQL adds context lines), passwords masked."""
    text = redact(str(exc)).strip()
    return short_text(text.splitlines()[0]) if text else type(exc).__name__
