"""The ``csv`` source: delimited text files (CSV, TSV, MovieLens layouts), plain or compressed.

This module holds the config and the general reader (Python's ``csv`` module), which reads any
file and names the line of the first bad row. Large well-formed files go to the fast column
readers (:mod:`.readers`) first; the file's bytes come from :mod:`.text_files` (mapped, or
decompressed), and the general reader's field parsing from :mod:`.csv_fields`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import math
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from recframe import (
    ComponentConfig,
    ConfigError,
    DataError,
    DataSource,
    Interactions,
    path_repr,
    plain_number,
    short_repr,
)
from recframe.builtin.data_sources import readers
from recframe.builtin.data_sources.columns import shared_column
from recframe.builtin.data_sources.csv_fields import (
    _INT,
    _check_decoded,
    _column_position,
    _parse_ids,
    _parse_numbers,
)
from recframe.builtin.data_sources.text_files import opened

logger = logging.getLogger(__name__)


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
FAST_MIN_BYTES = 256 << 10
"""``parser: auto`` reads files from this size on with a fast reader. Below it the general
reader (about 4 MB/s) is done before pyarrow has been imported (0.1-0.2 s)."""
_ASCII_COMPATIBLE = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252"})
"""Encodings in which digits, signs, points and ASCII delimiters are single bytes as in ASCII."""
_NOT_FILE_ENCODINGS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})
"""Python text codecs that encode something else than a file's characters (host names, escapes)."""


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
    max_decompressed_mb: PositiveInt | None = None
    """For a ``.gz`` or ``.zip`` file: the most megabytes (MiB) it may expand to. Decompression
    streams to a temporary file (``$TMPDIR``) and stops with an error past this size, so a
    decompression bomb can fill neither memory nor the disk. Unset, the limit is the memory
    available (the parsed interactions need about as much as the text), and a file expanding
    more than 200-fold beyond 64 MiB is refused as a bomb; setting it lifts that check."""
    parser: Literal["auto", "arrow", "pandas", "scipy", "numpy", "python"] = "auto"
    """The reader of well-formed files: ``arrow`` (pyarrow's multi-threaded CSV reader; the
    ``parquet`` extra), ``pandas`` (``pandas.read_csv``), ``scipy`` (scipy's multi-threaded
    parser, for files of numbers only; others go to numpy's), ``numpy`` (``numpy.loadtxt``) or
    ``python`` (the general reader, Python's ``csv`` module). ``auto`` picks arrow when pyarrow
    is installed, else pandas when pandas is, else scipy, else numpy (numpy for ``id_type: str``),
    for files of 256 KiB or more, and the general reader below that.
    A file a fast reader can't read exactly as the general reader would (a malformed row, an
    id spelled ``007``, ``comment:``) is read by the general reader, which names the bad line.
    All give the same interactions."""

    @field_validator("parser")
    @classmethod
    def _installed(cls, value: str) -> str:
        if value in readers.ENGINES and not readers.available(value):
            raise ValueError(readers.unavailable_message(value))
        return value

    @field_validator("member")
    @classmethod
    def _member_of_a_zip(cls, value: str | None, info: ValidationInfo) -> str | None:
        path = info.data.get("path")
        if value is not None and path is not None and Path(path).suffix.lower() != ".zip":
            msg = (
                f"{short_repr(value)} given, but {path_repr(path)} is not a .zip archive; "
                "member applies to .zip archives only: remove it, or set data.path to the archive"
            )
            raise ValueError(msg)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            info = codecs.lookup(value)
        except LookupError:
            msg = f"unknown text encoding {short_repr(value)}; e.g. utf-8, latin-1, cp1252"
            raise ValueError(msg) from None
        hint = "a character encoding of text files, e.g. utf-8, latin-1, cp1252, utf-16"
        # rot13, base64, zlib...: codecs between str and str or bytes and bytes, not file encodings
        if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_FILE_ENCODINGS:
            msg = f"{short_repr(value)} is not a text encoding of files; {hint}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _one_column_per_role(self) -> CSVConfig:
        roles = {role: self.resolved(role) for role in ("user", "item", "rating", "timestamp")}
        message = shared_column(roles)
        if message is not None:
            raise ValueError(message)
        return self

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
        with self._open(path) as raw:  # opened once, for both readers
            fast_reader = c.parser not in ("auto", "python") or (c.parser == "auto" and len(raw) >= FAST_MIN_BYTES)
            fast = self._fast_load(path, raw) if fast_reader else None
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
        columns = self._columns(path, header)  # first: a lone line of data read as the header lacks the columns
        if not rows:
            msg = f"{path}: no interactions; the file has no data rows"
            raise DataError(msg)
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
        times = _parse_numbers(path, "timestamp", column("timestamp"), line_numbers) if "timestamp" in columns else None
        return Interactions(users, items, values, times)

    def _columns(self, path: Path, header: list[str] | None) -> dict[str, int]:
        """Return the field position of each role the file provides."""
        c = self.config
        columns: dict[str, int] = {}
        for role in ("user", "item", "rating", "timestamp"):
            ref = c.resolved(role)
            if ref is None and header is not None and role in header and c.layout is None:
                if header.index(role) in columns.values():
                    continue  # the column named "rating" was chosen as the user or item column
                ref = role
            if ref is not None:
                columns[role] = _column_position(path, role, ref, header)
        shared = shared_column(columns, header)  # e.g. user: 0 and item: user
        if shared is not None:
            msg = f"{path}: {shared}"
            raise ConfigError(msg)
        return columns

    def _fast_load(self, path: Path, raw: bytes | mmap.mmap) -> Interactions | None:
        """Read the file with a fast reader (:mod:`.readers`), or return ``None`` to use the general reader."""
        c = self.config
        if c.comment is not None or codecs.lookup(c.encoding).name not in _ASCII_COMPATIBLE:
            return None
        header = None
        if c.resolved("header"):
            end = raw.find(b"\n")
            end = end if end >= 0 else len(raw)
            cr = raw.find(b"\r", 0, end)  # a file with old Mac line endings (CR only)
            first = raw[: cr if cr >= 0 else end].decode(c.encoding, errors="replace").lstrip("\ufeff")
            delimiter: str = c.resolved("delimiter")
            if first.count('"') % 2:  # a quoted name spanning lines: the general reader
                return None
            try:
                split = len(delimiter) == 1
                names = next(csv.reader([first], delimiter=delimiter)) if split else first.split(delimiter)
            except (csv.Error, StopIteration):  # the general reader splits it, or names the line
                return None
            header = [h.strip() for h in names]
            if not any(header):  # leading blank lines: the general reader finds the header
                return None
        try:
            columns = self._columns(path, header)
        except DataError:  # the general reader reports it, with the same message
            return None
        except ConfigError:  # the same column for two roles: the general reader reports it too
            return None
        if len(set(columns.values())) != len(columns):  # one field read twice
            return None
        engine = readers.auto_engine(c.id_type) if c.parser == "auto" else c.parser
        request = readers.Request(
            raw=raw,
            delimiter=c.resolved("delimiter"),
            columns=columns,
            header=header is not None,
            id_type=c.id_type,
            encoding=c.encoding,
            path=None if path.suffix.lower() in (".gz", ".zip") else path,
        )
        parsed = readers.read(engine, request)
        if parsed is None:
            logger.debug("%s: the %s reader stepped aside; the general reader reads the file", path, engine)
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
                if not text or "\x00" in text or (c.id_type == "int" and not _INT.fullmatch(text)):
                    return False
            for role in ("rating", "timestamp"):
                if role in columns:
                    try:
                        if not math.isfinite(plain_number(fields[columns[role]])):
                            return False
                    except ValueError:
                        return False
            return True

        keep = [good(fields) for fields in rows]
        self.skipped_lines_ = [line for line, ok in zip(lines, keep, strict=True) if not ok]
        if self.skipped_lines_:
            first = ", ".join(map(str, self.skipped_lines_[:5]))
            logger.warning(
                "%s: skipped %d malformed rows (data.on_bad_rows is 'skip'), first at lines %s",
                path,
                len(self.skipped_lines_),
                first,
            )
        return [r for r, ok in zip(rows, keep, strict=True) if ok], [n for n, ok in zip(lines, keep, strict=True) if ok]

    def _read_text(self, path: Path, raw: bytes | mmap.mmap) -> str:
        """Return the file's bytes (decompressed) decoded."""
        c = self.config
        raw = raw if isinstance(raw, bytes) else raw[:]
        # "utf-8-sig" reads plain UTF-8 too, and drops the byte-order mark spreadsheets write
        encoding = "utf-8-sig" if codecs.lookup(c.encoding).name == "utf-8" else c.encoding
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            msg = f"{path}:{line}: not valid {c.encoding} text; set data.encoding"
            raise DataError(msg) from exc
        except UnicodeError as exc:  # a codec that reports no position
            msg = f"{path}: not valid {c.encoding} text: {short_repr(str(exc))}; set data.encoding"
            raise DataError(msg) from exc
        _check_decoded(path, raw, text, c.encoding)
        return text

    @contextlib.contextmanager
    def _open(self, path: Path) -> Iterator[bytes | mmap.mmap]:
        """Yield the file's bytes, mapped (see :func:`.text_files.opened`)."""
        with opened(path, self.config) as content:
            yield content

    def _read_rows(self, path: Path, raw: bytes | mmap.mmap) -> tuple[list[list[str]], list[int]]:
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
