"""Built-in data sources: ``synthetic`` (embedded, offline) and ``csv`` (delimited text files)."""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import logging
import math
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator

from recframe import Component, ComponentConfig, DataError, DataSource, Interactions, hookimpl

logger = logging.getLogger(__name__)


class SyntheticConfig(ComponentConfig):
    """Parameters of :class:`SyntheticDataSource`."""

    n_users: PositiveInt = 2000
    """Number of users generated."""
    n_items: PositiveInt = 800
    """Number of items generated."""
    n_groups: PositiveInt = 10
    """Number of latent taste groups; each user and each item belongs to one."""
    mean_interactions: PositiveFloat = 40.0
    """Median number of interactions drawn per user (activity is log-normal around it)."""
    activity_sigma: float = Field(0.8, ge=0.0)
    """Spread of the log-normal user activity; 0 gives every user the same activity."""
    min_interactions: PositiveInt = 5
    """Fewest interactions drawn for any user."""
    popularity_exponent: float = Field(1.0, ge=0.0)
    """Zipf exponent of item popularity: item of popularity rank r is drawn with weight r^-exponent."""
    group_affinity: float = Field(0.7, ge=0.0, le=1.0)
    """Probability that an interaction is drawn from the user's own taste group."""
    start_time: NonNegativeInt = 1_577_836_800
    """Earliest timestamp, in Unix seconds (default 2020-01-01)."""
    time_span_days: PositiveFloat = 365.0
    """Timestamps fall uniformly within this many days after ``start_time``."""
    seed: int | None = None
    """Seed of the generator; by default the run's ``seed``."""


class SyntheticDataSource(DataSource):
    """Generate realistic explicit-feedback interactions, seeded and offline.

    Item popularity follows a power law, user activity is log-normal, and users and items fall
    into latent taste groups: a user draws most items from their own group, so collaborative
    filtering measurably beats popularity. Ratings are 1-5 (higher within the user's group) and
    timestamps are spread over ``time_span_days``. The same seed gives the same data on every
    machine.
    """

    name = "synthetic"
    Config = SyntheticConfig
    config: SyntheticConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Generate the interactions."""
        c = self.config
        if c.seed is not None:
            rng = np.random.default_rng(c.seed)
        n_groups = min(c.n_groups, c.n_items)
        user_group = rng.integers(n_groups, size=c.n_users)
        item_group = rng.permutation(np.arange(c.n_items) % n_groups)
        popularity = (rng.permutation(c.n_items) + 1.0) ** -c.popularity_exponent

        activity = rng.lognormal(math.log(c.mean_interactions), c.activity_sigma, size=c.n_users)
        counts = np.clip(np.rint(activity), c.min_interactions, max(c.min_interactions, c.n_items // 2))
        draw_user = np.repeat(np.arange(c.n_users), counts.astype(np.int64))
        n_draws = len(draw_user)

        global_cdf = np.cumsum(popularity) / popularity.sum()
        global_cdf[-1] = 1.0
        global_pick = np.searchsorted(global_cdf, rng.random(n_draws), side="right")
        group_pick = _draw_within_groups(item_group, popularity, user_group[draw_user], rng)
        in_group = rng.random(n_draws) < c.group_affinity
        draw_item = np.where(in_group, group_pick, np.minimum(global_pick, c.n_items - 1))

        # keep each (user, item) pair once, at its first draw
        _, first = np.unique(draw_user * c.n_items + draw_item, return_index=True)
        first.sort()
        users, items = draw_user[first], draw_item[first]

        user_bias = rng.normal(0.0, 0.4, size=c.n_users)
        item_quality = rng.normal(0.0, 0.4, size=c.n_items)
        liked = item_group[items] == user_group[users]
        noise = rng.normal(0.0, 0.6, size=len(users))
        raw = 2.7 + 1.3 * liked + user_bias[users] + item_quality[items] + noise
        ratings = np.clip(np.rint(raw), 1, 5)
        span = c.time_span_days * 86_400.0
        timestamps = c.start_time + np.floor(rng.random(len(users)) * span)

        order = np.lexsort((items, timestamps, users))
        return Interactions(users[order], items[order], ratings[order], timestamps[order])


def _draw_within_groups(
    item_group: np.ndarray, popularity: np.ndarray, groups: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one item per entry of `groups`, from that group's items, weighted by popularity.

    Items are laid out group by group with the key ``group + within-group CDF``, so a single
    ``searchsorted`` of ``group + uniform`` samples every draw at once.
    """
    order = np.argsort(item_group, kind="stable")
    sorted_groups = item_group[order]
    weights = popularity[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    totals = np.add.reduceat(weights, starts)
    cumulative = np.cumsum(weights)
    before = np.repeat(cumulative[starts] - weights[starts], np.diff(np.r_[starts, len(weights)]))
    within = (cumulative - before) / np.repeat(totals, np.diff(np.r_[starts, len(weights)]))
    ends = np.r_[starts[1:], len(weights)] - 1
    within[ends] = 1.0
    keys = sorted_groups + within
    picks = np.searchsorted(keys, groups + rng.random(len(groups)), side="right")
    return np.asarray(order[np.minimum(picks, len(order) - 1)])


def _column_ref(value: object) -> object:
    """Check a column reference before pydantic's union does, so a bad one gets one clear error."""
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        msg = f"must be a column name or a 0-based column position; got {value!r}"
        raise ValueError(msg)  # pydantic reports a ValueError as a validation error of the field
    if isinstance(value, int) and value < 0:
        msg = f"column position {value} must be 0 or more"
        raise ValueError(msg)
    return value


ColumnRef = Annotated[str | NonNegativeInt | None, BeforeValidator(_column_ref)]
"""A column: a header name or a 0-based position."""

LAYOUTS: dict[str, dict[str, Any]] = {
    "movielens-100k": {"delimiter": "\t", "header": False, "user": 0, "item": 1, "rating": 2, "timestamp": 3},
    "movielens-1m": {"delimiter": "::", "header": False, "user": 0, "item": 1, "rating": 2, "timestamp": 3},
    "movielens-csv": {
        "delimiter": ",",
        "header": True,
        "user": "userId",
        "item": "movieId",
        "rating": "rating",
        "timestamp": "timestamp",
    },
}
GENERIC: dict[str, Any] = {"delimiter": ",", "header": True, "user": "user", "item": "item"}
_ASCII_COMPATIBLE = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252"})
"""Encodings in which digits, signs, points and ASCII delimiters are single bytes as in ASCII."""


class CSVConfig(ComponentConfig):
    """Parameters of :class:`CSVDataSource`. Unset fields come from ``layout``, if given."""

    path: Path
    """The file to read; a relative path is taken from the current directory."""
    layout: Literal["movielens-100k", "movielens-1m", "movielens-csv"] | None = None
    """A known file layout that presets the fields below: MovieLens ``u.data`` (tab-separated),
    ``ratings.dat`` (``::``-separated) or ``ratings.csv`` (with a header)."""
    delimiter: str | None = Field(None, min_length=1)
    """Field separator, one or more characters (``","``, ``"\\t"``, ``"::"``); default ``","``."""
    header: bool | None = None
    """Whether the first line names the columns; default true."""
    user: ColumnRef = None
    """User column: a header name or a 0-based position; default ``"user"``."""
    item: ColumnRef = None
    """Item column: a header name or a 0-based position; default ``"item"``."""
    rating: ColumnRef = None
    """Rating column, optional; with a header, a column named ``rating`` is used if present."""
    timestamp: ColumnRef = None
    """Timestamp column (numbers), optional; with a header, ``timestamp`` is used if present."""
    id_type: Literal["auto", "int", "str"] = "auto"
    """Type of user and item ids: ints, strings, or ints when every id parses as one."""
    encoding: str = "utf-8"
    """Text encoding of the file; a UTF-8 byte-order mark is skipped."""
    comment: str | None = Field(None, min_length=1)
    """Lines starting with this (e.g. ``"#"``) are skipped."""
    on_bad_rows: Literal["error", "skip"] = "error"
    """A malformed row (too few fields, a rating or timestamp that is not a number, an empty id,
    a non-integer id with ``id_type: int``): stop with an error naming its line, or skip it; the
    number of skipped rows and their first line numbers are logged."""
    member: str | None = None
    """For a ``.zip`` file: the file inside it to read (the only one by default). Files ending
    in ``.gz`` are decompressed too."""
    parser: Literal["auto", "python"] = "auto"
    """``auto`` reads plain files (no quotes; numeric ratings and timestamps; numeric or text
    ids) with a compiled parallel parser when numba is installed, and everything else with the
    general reader; ``python`` always uses the general reader. Both give the same interactions."""

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            msg = f"unknown text encoding {value!r}; e.g. utf-8, latin-1, cp1252"
            raise ValueError(msg) from None
        return value

    def resolved(self, field: str) -> Any:
        """Return a field's value: as set, else the layout's, else the generic default."""
        if field in self.model_fields_set and getattr(self, field) is not None:
            return getattr(self, field)
        if self.layout is not None and field in LAYOUTS[self.layout]:
            return LAYOUTS[self.layout][field]
        return GENERIC.get(field)


class CSVDataSource(DataSource):
    """Read interactions from a delimited text file (CSV, TSV, MovieLens layouts).

    Every malformed row is an error naming the file and line; blank lines are skipped.
    """

    name = "csv"
    Config = CSVConfig
    config: CSVConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        """Read the file."""
        c = self.config
        path = Path(c.path)
        self.skipped_lines_: list[int] = []
        raw = self._read_bytes(path)  # read once, for both readers
        fast = self._fast_load(path, raw) if c.parser == "auto" else None
        if fast is not None:
            return fast
        rows, line_numbers = self._read_rows(path, raw)
        header: list[str] | None = None
        if c.resolved("header"):
            if not rows:
                msg = f"{path}: the file is empty; expected a header line"
                raise DataError(msg)
            header = [h.strip() for h in rows[0]]
            rows, line_numbers = rows[1:], line_numbers[1:]
        if not rows:
            msg = f"{path}: no interactions; the file has no data rows"
            raise DataError(msg)

        columns = self._columns(path, header)
        width = max(columns.values()) + 1
        if c.on_bad_rows == "skip":
            rows, line_numbers = self._skip_bad_rows(path, rows, line_numbers, columns, width)
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        short = np.flatnonzero(lengths < width)
        if short.size:
            i = short[0]
            msg = (
                f"{path}:{line_numbers[i]}: expected at least {width} fields separated by "
                f"{c.resolved('delimiter')!r}; got {lengths[i]}"
            )
            raise DataError(msg)

        def column(role: str) -> list[str]:
            return [r[columns[role]].strip() for r in rows]

        users = _parse_ids(path, "user", column("user"), line_numbers, c.id_type)
        items = _parse_ids(path, "item", column("item"), line_numbers, c.id_type)
        values = _parse_numbers(path, "rating", column("rating"), line_numbers) if "rating" in columns else None
        times = (
            _parse_numbers(path, "timestamp", column("timestamp"), line_numbers)
            if "timestamp" in columns
            else None
        )
        return Interactions(users, items, values, times)

    def _columns(self, path: Path, header: list[str] | None) -> dict[str, int]:
        """Return the field position of each role the file provides."""
        c = self.config
        columns: dict[str, int] = {}
        for role in ("user", "item", "rating", "timestamp"):
            ref = c.resolved(role)
            if ref is None and header is not None and role in header and c.layout is None:
                ref = role
            if ref is not None:
                columns[role] = _column_position(path, role, ref, header)
        return columns

    def _fast_load(self, path: Path, raw: bytes) -> Interactions | None:
        """Read a plain numeric file with the compiled parser, or return ``None`` to use the general reader."""
        from recframe.fast_csv import parse_plain

        c = self.config
        if c.comment is not None or codecs.lookup(c.encoding).name not in _ASCII_COMPATIBLE:
            return None
        header = None
        if c.resolved("header"):
            first = raw.split(b"\n", 1)[0].decode(c.encoding, errors="replace").lstrip("\ufeff").rstrip("\r")
            header = [h.strip() for h in first.split(c.resolved("delimiter"))]
            if not any(header):  # leading blank lines: the general reader finds the header
                return None
        try:
            columns = self._columns(path, header)
        except DataError:  # the general reader reports it, with the same message
            return None
        if len(set(columns.values())) != len(columns):  # one field read twice
            return None
        parsed = parse_plain(
            raw, c.resolved("delimiter"), columns, skip_lines=1 if header is not None else 0,
            integer_ids_only=c.id_type == "int", text_ids=c.id_type == "str", encoding=c.encoding,
        )
        if parsed is None or len(parsed["user"]) == 0:
            return None
        return Interactions(parsed["user"], parsed["item"], parsed.get("rating"), parsed.get("timestamp"))

    def _skip_bad_rows(
        self, path: Path, rows: list[list[str]], lines: list[int], columns: dict[str, int], width: int
    ) -> tuple[list[list[str]], list[int]]:
        """Drop the malformed rows (``on_bad_rows: skip``), logging how many and where."""
        c = self.config

        def good(fields: list[str]) -> bool:
            if len(fields) < width:
                return False
            for role in ("user", "item"):
                text = fields[columns[role]].strip()
                if not text or (c.id_type == "int" and not _INT.fullmatch(text)):
                    return False
            for role in ("rating", "timestamp"):
                if role in columns:
                    try:
                        if not math.isfinite(float(fields[columns[role]])):
                            return False
                    except ValueError:
                        return False
            return True

        keep = [good(fields) for fields in rows]
        self.skipped_lines_ = [line for line, ok in zip(lines, keep, strict=True) if not ok]
        if self.skipped_lines_:
            first = ", ".join(map(str, self.skipped_lines_[:5]))
            logger.warning("%s: skipped %d malformed rows (data.on_bad_rows is 'skip'), first at lines %s",
                           path, len(self.skipped_lines_), first)
        return [r for r, ok in zip(rows, keep, strict=True) if ok], [n for n, ok in zip(lines, keep, strict=True) if ok]

    def _read_text(self, path: Path, raw: bytes) -> str:
        """Return the file's bytes (decompressed) decoded."""
        c = self.config
        # "utf-8-sig" reads plain UTF-8 too, and drops the byte-order mark spreadsheets write
        encoding = "utf-8-sig" if codecs.lookup(c.encoding).name == "utf-8" else c.encoding
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            msg = f"{path}:{line}: not valid {c.encoding} text; set data.encoding"
            raise DataError(msg) from exc

    def _read_bytes(self, path: Path) -> bytes:
        """Return the file's bytes, decompressed (``.gz``, ``.zip``)."""
        try:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                raw = gzip.decompress(raw)
            elif path.suffix == ".zip":
                raw = self._zip_member(path)
        except FileNotFoundError:
            msg = f"{path}: file not found (data.path)"
            raise DataError(msg) from None
        except IsADirectoryError:
            msg = f"{path}: is a directory, not a file (data.path)"
            raise DataError(msg) from None
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            msg = f"{path}: can't read the file: {getattr(exc, 'strerror', None) or exc} (data.path)"
            raise DataError(msg) from exc
        return raw

    def _zip_member(self, path: Path) -> bytes:
        """Return the bytes of the archive's member to read: ``data.member``, or its only file."""
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            member = self.config.member
            if member is None:
                if len(names) != 1:
                    msg = f"{path}: the archive holds {len(names)} files; choose one with data.member: {names[:10]}"
                    raise DataError(msg)
                member = names[0]
            if member not in names:
                msg = f"{path}: no {member!r} in the archive (data.member); it holds {names[:10]}"
                raise DataError(msg)
            return archive.read(member)

    def _read_rows(self, path: Path, raw: bytes) -> tuple[list[list[str]], list[int]]:
        """Return the non-blank, non-comment rows of the file split into fields, with their line numbers."""
        c = self.config
        text = self._read_text(path, raw)
        comment = c.comment
        if comment is not None:  # blank out comment lines, keeping the line numbers
            text = "\n".join("" if line.lstrip().startswith(comment) else line for line in text.split("\n"))
        delimiter: str = c.resolved("delimiter")
        rows: list[list[str]] = []
        numbers: list[int] = []
        if len(delimiter) == 1:
            # read_text has turned every line ending into "\n", and the reader counts physical
            # lines, so a quoted field spanning lines doesn't shift the numbers of later lines
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            start = 1
            try:
                for fields in reader:
                    if any(x.strip() for x in fields):
                        rows.append(fields)
                        numbers.append(start)
                    start = reader.line_num + 1
            except csv.Error as exc:
                msg = f"{path}:{reader.line_num}: can't split the line into fields: {exc}"
                raise DataError(msg) from exc
        else:
            for number, text_line in enumerate(text.split("\n"), start=1):
                fields = text_line.split(delimiter)
                if any(x.strip() for x in fields):
                    rows.append(fields)
                    numbers.append(number)
        return rows, numbers


def _column_position(path: Path, role: str, ref: str | int, header: list[str] | None) -> int:
    """Return the 0-based position of a column given by name or position."""
    if isinstance(ref, int):
        if ref < 0:
            msg = f"data.{role}: column position {ref} must be 0 or more"
            raise DataError(msg)
        return ref
    if header is None:
        msg = (
            f"{path}: data.{role}: column {ref!r} is a name, but the file has no header "
            "(data.header is false); give a 0-based position"
        )
        raise DataError(msg)
    if ref not in header:
        close = difflib.get_close_matches(ref, header, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        msg = f"{path}: no column {ref!r} for data.{role}; the header has {header}{hint}"
        raise DataError(msg)
    return header.index(ref)


def _first_failure(values: list[str], convert: Callable[[str], object]) -> int:
    """Return the position of the first value `convert` rejects."""
    for i, value in enumerate(values):
        try:
            convert(value)
        except ValueError:
            return i
    return -1


_INT = re.compile(r"[+-]?[0-9]+")
_CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_INT64 = (-(2**63), 2**63 - 1)


def _int_id(text: str) -> int:
    """Return `text` as an int64 id; raise ``ValueError`` unless it is ASCII digits in range."""
    if not _INT.fullmatch(text):
        msg = f"not an integer: {text!r}"
        raise ValueError(msg)
    value = int(text)
    if not _INT64[0] <= value <= _INT64[1]:
        msg = f"out of the int64 range: {text!r}"
        raise ValueError(msg)
    return value


def _parse_ids(path: Path, role: str, values: list[str], lines: list[int], id_type: str) -> np.ndarray:
    """Parse an id column as ints or strings.

    ``int`` requires integers. ``auto`` reads the column as ints only when every id is written
    the way that int prints (``"7"``, not ``"007"`` or ``"+7"``), so no two distinct ids merge;
    otherwise the ids stay strings.
    """
    if id_type == "int":
        i = _first_failure(values, _int_id)
        if i >= 0:
            msg = f"{path}:{lines[i]}: {role} id {values[i]!r} is not an integer (data.id_type is 'int')"
            raise DataError(msg)
        return np.array([int(v) for v in values], dtype=np.int64)
    if id_type == "auto" and all(_CANONICAL_INT.fullmatch(v) for v in values):
        try:
            return np.array([_int_id(v) for v in values], dtype=np.int64)
        except ValueError:
            pass  # beyond int64: keep them as strings
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        msg = f"{path}:{lines[empty[0]]}: empty {role} id"
        raise DataError(msg)
    return np.array(values, dtype=str)


def _parse_numbers(path: Path, role: str, values: list[str], lines: list[int]) -> np.ndarray:
    """Parse a numeric column, naming the line of the first value that is not a finite number."""
    try:
        out = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        i = _first_failure(values, float)
        msg = f"{path}:{lines[i]}: {role} {values[i]!r} is not a number"
        raise DataError(msg) from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        msg = f"{path}:{lines[bad[0]]}: {role} {values[bad[0]]!r} is not a finite number"
        raise DataError(msg)
    return out


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
        roles = _named_columns(c, found, lambda wanted: f"{path}: no column {wanted}; the file has {found}")
        table = pq.read_table(path, columns=list(dict.fromkeys(roles.values())))
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
        roles = _named_columns(c, found, lambda wanted: f"the query returns no column {wanted}; it returns {found}")
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


def _named_columns(config: Any, found: list[str], message: Callable[[str], str]) -> dict[str, str]:
    """Return the column name of each role the source reads.

    ``rating`` and ``timestamp`` are read when set, or when a column has their own name; a
    missing column raises :class:`DataError` with ``message(the missing columns)``.
    """
    roles = {"user": config.user, "item": config.item}
    for role in ("rating", "timestamp"):
        chosen = getattr(config, role)
        if chosen is not None or role in found:
            roles[role] = chosen or role
    missing = {role: name for role, name in roles.items() if name not in found}
    if missing:
        msg = message(", ".join(f"{name!r} (data.{role})" for role, name in missing.items()))
        raise DataError(msg)
    return roles


def _first_line(exc: Exception) -> str:
    """Return the first line of a database error (PostgreSQL adds context lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _without_password(url: str) -> str:
    """Return a database URL safe to show: without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


class DatasetConfig(ComponentConfig):
    """Parameters of :class:`DatasetDataSource`."""

    name: str
    """A registered dataset: ``movielens-100k``, ``movielens-1m``, ``movielens-20m``,
    ``movielens-25m`` or ``movielens-latest-small`` (``recframe data list`` shows them)."""
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


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in data sources."""
    return [SyntheticDataSource, CSVDataSource, ParquetDataSource, SQLDataSource, DatasetDataSource]
