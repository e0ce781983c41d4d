"""The ``csv`` source: delimited text files (CSV, TSV, MovieLens layouts), plain or compressed."""

from __future__ import annotations

import codecs
import contextlib
import csv
import difflib
import gzip
import io
import logging
import math
import mmap
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Literal, NoReturn

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

from recframe import ComponentConfig, ConfigError, DataError, DataSource, Interactions, short_repr
from recframe.builtin.data_sources import readers
from recframe.builtin.data_sources.columns import columns_found, shared_column
from recframe.builtin.data_sources.files import readable_path

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
_CHUNK = 1 << 20
"""Bytes decompressed at a time."""
_DISK_MARGIN = 256 << 20
"""Free space left in the temporary folder when decompressing."""
MAX_RATIO = 200
"""Expansion beyond which a compressed file is taken for a decompression bomb (interaction
files compress 3- to 20-fold; a bomb 1,000-fold)."""
RATIO_FROM_BYTES = 64 << 20
"""Text size from which :data:`MAX_RATIO` applies (a small file may compress very well)."""
_FALLBACK_LIMIT = 20_000 << 20
"""The size limit when the memory available is unknown."""
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
    parser: Literal["auto", "arrow", "pandas", "numpy", "python"] = "auto"
    """The reader of well-formed files: ``arrow`` (pyarrow's multi-threaded CSV reader; the
    ``parquet`` extra), ``pandas`` (``pandas.read_csv``), ``numpy`` (``numpy.loadtxt``) or
    ``python`` (the general reader, Python's ``csv`` module). ``auto`` picks arrow when pyarrow
    is installed, else numpy (pandas with ``id_type: int``), for files of 256 KiB or more, and
    the general reader below that.
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
                f"{short_repr(value)} given, but {short_repr(str(path))} is not a .zip archive; "
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
            raw=raw, delimiter=c.resolved("delimiter"), columns=columns, header=header is not None,
            id_type=c.id_type, encoding=c.encoding, path=None if path.suffix.lower() in (".gz", ".zip") else path,
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
        """Yield the file's bytes: mapped into memory, or decompressed (``.gz``, ``.zip``) and mapped.

        Mapping a plain file instead of reading it saves copying it into a fresh buffer of its
        size; both readers only look at the bytes. (A file truncated by another process while
        it is read is an error of the operating system, as with any mapping.) A compressed file
        is decompressed in chunks into an anonymous temporary file, which is then mapped: the
        decompressed text never sits in the process's own memory, and a file that expands
        beyond ``max_decompressed_mb`` (a decompression bomb) is refused as soon as it does.
        """
        content: bytes | mmap.mmap
        readable_path(path, "data.path")  # a FIFO or a device would block or read as empty
        try:
            content = self._decompressed(path) if path.suffix.lower() in (".gz", ".zip") else _map(path)
        except FileNotFoundError:
            msg = f"{path}: file not found (data.path)"
            raise DataError(msg) from None
        except IsADirectoryError:
            msg = f"{path}: is a directory, not a file (data.path)"
            raise DataError(msg) from None
        except (NotImplementedError, RuntimeError) as exc:  # zipfile: an encrypted member, an unknown method
            msg = (
                f"{path}: can't read the file: {exc} (data.path); members stored or compressed with "
                "deflate, bzip2 or lzma, without a password, can be read"
            )
            raise DataError(msg) from exc
        except (EOFError, zipfile.BadZipFile, gzip.BadGzipFile, zlib.error) as exc:
            kind = "gzip" if path.suffix.lower() == ".gz" else "zip"
            msg = (
                f"{path}: can't read the file: not a complete {kind} file: {exc} (data.path); "
                "it is truncated or corrupt"
            )
            raise DataError(msg) from exc
        except OSError as exc:
            msg = f"{path}: can't read the file: {getattr(exc, 'strerror', None) or exc} (data.path)"
            raise DataError(msg) from exc
        try:
            yield content
        finally:
            if isinstance(content, mmap.mmap):
                with contextlib.suppress(BufferError):  # a view kept alive by an error's traceback
                    content.close()

    def _decompressed(self, path: Path) -> bytes | mmap.mmap:
        """Decompress a ``.gz`` file or a ``.zip`` member in chunks to a temporary file; return it mapped.

        Memory stays bounded by the chunk size however large the text is; the temporary file
        has no name (it is gone when the mapping is closed, or the process ends). Decompression
        stops as soon as the text passes the size limit (``max_decompressed_mb``, by default the
        memory available), expands more than :data:`MAX_RATIO`-fold past
        :data:`RATIO_FROM_BYTES` (a decompression bomb; unless ``max_decompressed_mb`` is set),
        or would fill the temporary folder.
        """
        c = self.config
        limit = c.max_decompressed_mb * 2**20 if c.max_decompressed_mb is not None else _default_limit()
        folder = tempfile.gettempdir()
        room = shutil.disk_usage(folder).free - _DISK_MARGIN
        with contextlib.ExitStack() as stack:
            source: io.BufferedIOBase | IO[bytes]
            if path.suffix.lower() == ".gz":
                packed = path.stat().st_size
                source = stack.enter_context(gzip.open(path, "rb"))
            else:
                archive = stack.enter_context(zipfile.ZipFile(path))
                member = self._zip_member(path, archive)
                packed = member.compress_size
                if member.file_size > limit:
                    self._too_big(path, f"its {member.filename!r} is {member.file_size:,} bytes", limit)
                source = stack.enter_context(archive.open(member))
            sink = stack.enter_context(tempfile.TemporaryFile(prefix="recframe-"))
            total = 0
            while chunk := source.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    self._too_big(path, f"it expands to more than {limit:,} bytes", limit)
                if c.max_decompressed_mb is None and total > RATIO_FROM_BYTES and total > MAX_RATIO * max(packed, 1):
                    msg = (
                        f"{path}: it expands more than {MAX_RATIO}-fold ({packed:,} bytes to over {total:,}), "
                        "as a decompression bomb does (data.path); set data.max_decompressed_mb to read it anyway"
                    )
                    raise DataError(msg)
                if total > room:
                    msg = (
                        f"{path}: decompressing it would fill the temporary folder {folder!r} "
                        f"(over {max(room, 0):,} bytes free) (data.path); set TMPDIR to a folder with more space"
                    )
                    raise DataError(msg)
                sink.write(chunk)
            sink.flush()
            return _map_open(sink)  # the mapping keeps the data after the file is closed
        raise AssertionError  # pragma: no cover - the with block returns or raises

    def _too_big(self, path: Path, what: str, limit: int) -> NoReturn:
        setting = self.config.max_decompressed_mb
        why = f"data.max_decompressed_mb ({setting:,} MB)" if setting is not None else (
            f"the memory available ({limit // 2**20:,} MB; data.max_decompressed_mb is unset)"
        )
        msg = (
            f"{path}: {what}, beyond {why}; a decompression bomb or a bigger file than expected: "
            "set data.max_decompressed_mb if it is genuine"
        )
        raise DataError(msg)

    def _zip_member(self, path: Path, archive: zipfile.ZipFile) -> zipfile.ZipInfo:
        """Return the archive's member to read: ``data.member``, or its only file."""
        names = [n for n in archive.namelist() if not n.endswith("/")]
        member = self.config.member
        if not names:
            msg = (
                f"{path}: the archive is empty, it holds no files (data.path); "
                "point data.path at an archive holding the data file"
            )
            raise DataError(msg)
        if member is None:
            if len(names) != 1:
                msg = f"{path}: the archive holds {len(names)} files; choose one with data.member: {names[:10]}"
                raise DataError(msg)
            member = names[0]
        if member not in names:
            msg = f"{path}: no {member!r} in the archive (data.member); it holds {names[:10]}"
            raise DataError(msg)
        return archive.getinfo(member)

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


def _check_decoded(path: Path, raw: bytes, text: str, encoding: str) -> None:
    """Raise :class:`DataError` when `text` looks like the file decoded with the wrong encoding.

    Two signs: the bytes hold line breaks but the text has none (a UTF-8 file read as UTF-16
    becomes one line of CJK characters), or the first line holds NUL characters, which text
    never does (a UTF-16 file read as UTF-8 or latin-1 has one after each ASCII character).
    """
    hint = f"the encoding looks wrong (data.encoding is {encoding!r}); set data.encoding to the file's encoding"
    if "\n" not in text and "\r" not in text and (b"\n" in raw or b"\r" in raw) and text.strip():
        msg = f"{path}: decoded as {encoding}, the file has no line breaks although its bytes do; {hint}"
        raise DataError(msg)
    end = min((i for i in (text.find("\n"), text.find("\r")) if i >= 0), default=len(text))
    if "\x00" in text[:end]:
        msg = f"{path}:1: NUL characters in the first line {short_repr(text[:end])}; {hint}"
        raise DataError(msg)


def _default_limit() -> int:
    """Return the default limit of decompressed bytes: the memory available now."""
    from recframe import available_memory

    return available_memory() or _FALLBACK_LIMIT


def _map(path: Path) -> bytes | mmap.mmap:
    """Return a read-only memory map of the file (empty bytes for an empty file)."""
    with path.open("rb") as fh:
        return _map_open(fh)


def _map_open(fh: IO[bytes]) -> bytes | mmap.mmap:
    """Return a read-only memory map of an open file (empty bytes for an empty one)."""
    if os.fstat(fh.fileno()).st_size == 0:
        return b""
    if hasattr(mmap, "MAP_POPULATE"):  # Linux: map every page in one call
        return mmap.mmap(fh.fileno(), 0, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)


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
        msg = f"{path}: no column {short_repr(ref)} for data.{role}; the header has {columns_found(header)}{hint}"
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
    nul = [i for i, v in enumerate(values) if "\x00" in v]
    if nul:  # numpy drops trailing NULs: "ab\0" would become "ab"
        msg = (
            f"{path}:{lines[nul[0]]}: {role} id {short_repr(values[nul[0]])} holds a NUL character; ids are "
            "text without NULs: fix the row, or set data.on_bad_rows to 'skip' (is data.encoding right?)"
        )
        raise DataError(msg)
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
