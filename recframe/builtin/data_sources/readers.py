"""Fast column readers for the ``csv`` source: maintained, C-implemented CSV parsers.

Each reader turns a plain delimited file into one array per role (``user``, ``item``,
``rating``, ``timestamp``), or returns ``None`` when the file is anything it might read
differently from the general reader (a malformed row, a rating that is not a finite number,
an empty id, integer ids not all written as Python prints them); the general reader (Python's
``csv`` module) then reads the file and names the line of the first bad row. The readers never raise
a :class:`~recframe.DataError` themselves, so every error message comes from one place.

- ``arrow``: ``pyarrow.csv.read_csv``, multi-threaded (the ``parquet`` extra installs pyarrow).
- ``pandas``: ``pandas.read_csv`` with its C engine.
- ``numpy``: ``numpy.loadtxt``, whose parser is C since numpy 1.23; always available.

Parsers that need a one-character delimiter read a file with a longer one (MovieLens'
``::``) after it is replaced by a control character that the file does not hold; quotes are
then literal, as in the general reader.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import mmap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ENGINES: dict[str, tuple[str | None, str]] = {
    "arrow": ("pyarrow", "pip install 'recframe[parquet]'"),
    "pandas": ("pandas", "pip install 'recframe[pandas]'"),
    "numpy": (None, ""),
}
"""Each fast reader: the module it needs (``None``: numpy, always there) and how to install it."""

_STAND_IN = b"\x1f"
"""Replaces a delimiter longer than one character (the ASCII unit separator)."""
_ID_WIDTH = 21
"""Bytes kept of an id beside its integer value: one more than the longest int64 ("-9223372036854775808")."""
_TEXT_WIDTH = 64
"""Bytes kept of a text id by the numpy reader; a longer one sends the file to the general reader."""


def available(engine: str) -> bool:
    """Return whether the module `engine` needs is installed."""
    module = ENGINES[engine][0]
    if module is None:
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # blocked, or a stub in sys.modules
        return False


def auto_engine(id_type: str = "auto") -> str:
    """Return the fastest reader installed for ids of `id_type`.

    pandas reads integer ids as fast as numpy or faster, but has no way to tell ``7`` from
    ``007`` short of reading every id as text, which makes it slower than numpy unless ids are
    declared integers (``id_type: int``).
    """
    if available("arrow"):
        return "arrow"
    if id_type == "int" and available("pandas"):
        return "pandas"
    return "numpy"


@dataclass(frozen=True)
class Request:
    """What to read from a file.

    Attributes
    ----------
    raw : bytes or mmap
        The file's bytes, in an ASCII-compatible encoding.
    delimiter : str
        The field separator, one or more ASCII characters.
    columns : dict of str to int
        The 0-based field position of each role, all different.
    header : bool
        Whether the first line is a header (skipped).
    id_type : {"auto", "int", "str"}
        As ``CSVConfig.id_type``.
    encoding : str
        The text encoding (ASCII-compatible).
    path : Path or None
        The file, when `raw` maps it as it is (not decompressed): the numpy reader opens it
        itself, which is faster than streaming `raw` through Python.
    """

    raw: bytes | mmap.mmap
    delimiter: str
    columns: dict[str, int]
    header: bool
    id_type: str
    encoding: str
    path: Path | None = None


def read(engine: str, request: Request) -> dict[str, np.ndarray] | None:
    """Read the columns with `engine`; ``None`` when the general reader must read the file.

    Returns
    -------
    dict of str to ndarray, or None
        ``user`` and ``item`` as int64 or str arrays, ``rating`` and ``timestamp`` as float64.
    """
    if not request.delimiter.isascii():
        return None
    data = _single_delimiter(request)
    if data is None:
        return None
    if data.find(b"\x00") >= 0:  # the general reader refuses a NUL in an id, naming its line
        return None
    start = 3 if bytes(data[:3]) == b"\xef\xbb\xbf" else 0
    delimiter = request.delimiter if len(request.delimiter) == 1 else _STAND_IN.decode()
    quoted = len(request.delimiter) == 1 and data.find(b'"') >= 0
    reader = {"arrow": _read_arrow, "pandas": _read_pandas, "numpy": _read_numpy}[engine]
    rejected: tuple[type[BaseException], ...] = (
        ValueError, TypeError, IndexError, KeyError, NotImplementedError, ArithmeticError, csv.Error,
    )
    if engine == "arrow":
        import pyarrow as pa

        rejected += (pa.ArrowException,)
    try:
        columns = reader(request, data, start, delimiter, quoted)
    except rejected:
        # anything a parser rejects (pyarrow.ArrowInvalid is a ValueError; pandas raises
        # OverflowError for an integer beyond int64): the general reader names the line
        return None
    if columns is None:
        return None
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or lengths == {0}:
        return None
    for role in ("rating", "timestamp"):
        if role in columns and not np.isfinite(columns[role]).all():
            return None  # a nan, an infinity, or an empty field read as a null
    return columns


def _single_delimiter(request: Request) -> bytes | mmap.mmap | None:
    """Return the bytes with a one-character delimiter: as they are, or with the longer one replaced."""
    if len(request.delimiter) == 1:
        return request.raw
    if request.raw.find(_STAND_IN) >= 0:
        return None
    return bytes(request.raw).replace(request.delimiter.encode("ascii"), _STAND_IN)


def _ids(role: str, request: Request, ints: np.ndarray | None, lengths: Any, text: Any) -> np.ndarray | None:
    """Return an id column typed as the general reader types it, or ``None`` to leave it to that reader.

    `ints` with `lengths` (the characters all ids took together) show whether every id is an
    integer written canonically (``id_type: auto``); `lengths` counts ASCII characters, so a
    caller whose ids may hold other characters passes ``None``. `text` is a callable returning the ids
    as a str array (or ``None``), called only when they may be text. Ids that are all integers
    but not all canonical (``007``, ``+7``, ``-0``) go to the general reader, which decides.
    """
    if request.id_type == "int":
        return ints
    if request.id_type == "auto" and ints is not None and lengths is not None and _canonical(ints, int(lengths)):
        return ints
    values = text()
    if values is None:
        return None
    values = _strip(values)
    if (np.char.str_len(values) == 0).any():
        return None  # an empty id: the general reader names its line
    if request.id_type == "auto":
        if not _ascii(values):
            return values  # non-ASCII digits (fullwidth, Arabic-Indic) are text, as the general reader keeps them
        try:
            numbers = values.astype(np.int64)
        except (ValueError, OverflowError):
            return values
        if values.size and _canonical(numbers, int(np.char.str_len(values).sum())):
            return numbers  # spaces around canonical integers
        return None
    return values


def _ascii(values: np.ndarray) -> bool:
    """Return whether every character of the str array is ASCII.

    numpy (as Python's ``int``) parses any Unicode decimal digit (fullwidth, Arabic-Indic) as
    an integer of the same length as its ASCII spelling, which :func:`_canonical` can't tell
    apart: ids holding such digits stay text, as the general reader keeps them.
    """
    return values.size == 0 or values.dtype.itemsize == 0 or int(values.view(np.uint32).max()) < 128


def _strip(values: np.ndarray) -> np.ndarray:
    """Return the str array with whitespace stripped from both ends of each value, as ``str.strip``.

    Most files have none, and looking at each value's first and last character is much cheaper
    than stripping: only characters that might be whitespace (control characters, space, and
    anything from U+0085 on) lead to the full strip.
    """
    if values.size == 0 or values.dtype.itemsize == 0:
        return values
    codes = values.view(np.uint32).reshape(len(values), -1)
    lengths = np.char.str_len(values)
    last = codes[np.arange(len(values)), np.maximum(lengths - 1, 0)]

    def maybe_space(code: np.ndarray) -> np.ndarray:
        return (code <= 32) | (code >= 0x85)

    if maybe_space(codes[:, 0][lengths > 0]).any() or maybe_space(last[lengths > 0]).any():
        return np.char.strip(values)
    return values


def _canonical(ints: np.ndarray, written: int) -> bool:
    """Return whether every integer was written as Python prints it, given the characters all took.

    Each spelling the parsers accept (spaces, ``+``, leading zeros, ``-0``) is longer than the
    canonical one, so every id is canonical exactly when the characters written add up to the
    canonical lengths: digits, plus one per negative id.
    """
    if len(ints) == 0:
        return True
    low, high = int(ints.min()), int(ints.max())
    if low == np.iinfo(np.int64).min:
        return False
    magnitude = np.abs(ints) if low < 0 else ints
    canonical = len(ints) + (int(np.count_nonzero(ints < 0)) if low < 0 else 0)
    power = 10
    while power <= max(-low, high):  # one more digit for each id of at least `power`
        canonical += int(np.count_nonzero(magnitude >= power))
        power *= 10
    return written == canonical


# --------------------------------------------------------------------------- pyarrow


def _read_arrow(request: Request, data: bytes | mmap.mmap, start: int, delimiter: str,
                quoted: bool) -> dict[str, np.ndarray] | None:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    roles = sorted(request.columns, key=request.columns.__getitem__)
    names = {role: f"f{request.columns[role]}" for role in roles}
    types = {
        names[role]: (pa.int64() if request.id_type == "int" else pa.string())
        if role in ("user", "item") else pa.float64()
        for role in roles
    }
    buffer = pa.py_buffer(data)
    if start:
        buffer = buffer.slice(start)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(
            skip_rows=1 if request.header else 0, autogenerate_column_names=True, encoding=_codec(request),
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char='"' if quoted else False, double_quote=True,
            newlines_in_values=quoted,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=types, include_columns=list(types), null_values=[], strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    out: dict[str, np.ndarray] = {}
    for role in roles:
        column = table.column(names[role])
        if role not in ("user", "item"):
            out[role] = column.to_numpy()
            continue
        if request.id_type == "int":
            out[role] = column.to_numpy().astype(np.int64, copy=False)
            continue
        ints = lengths = None
        if request.id_type == "auto":
            try:
                ints = pc.cast(column, pa.int64()).to_numpy()
                lengths = sum(map(_text_bytes, column.chunks))
            except (pa.ArrowInvalid, OverflowError):
                ints = None

        def text(column: Any = column) -> np.ndarray:
            fixed = _fixed_width_text(column)
            return fixed if fixed is not None else np.asarray(column.to_numpy(zero_copy_only=False), dtype=str)

        ids = _ids(role, request, ints, lengths, text)
        if ids is None:
            return None
        out[role] = ids
    return out


def _fixed_width_text(column: Any) -> np.ndarray | None:
    """Return a pyarrow string column as a numpy str array without a Python object per value.

    The bytes are laid into a zero-padded matrix with one row per value (filling a mask in
    row-major order writes them in the order arrow keeps them), viewed as fixed-width bytes and
    decoded from UTF-8; ASCII needs no decoding, each byte being its code point. ``None`` (convert through
    Python objects) when a value holds a NUL byte, which fixed-width bytes would drop, or when
    the matrix would be much larger than the text, as with one very long value among short ones.
    """
    import pyarrow as pa

    try:
        chunk = column.combine_chunks()
    except pa.ArrowInvalid:  # over 2 GiB of text
        return None
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset: chunk.offset + len(chunk) + 1]
    data = chunk.buffers()[2]
    text = np.frombuffer(data, dtype=np.uint8)[offsets[0]: offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = max(int(lengths.max(initial=0)), 1)
    if len(lengths) * width > 4 * len(text) + (64 << 20) or (text == 0).any():
        return None
    matrix = np.zeros((len(lengths), width), dtype=np.uint8)
    matrix[np.arange(width) < lengths[:, None]] = text
    if not len(text) or text.max() < 128:  # a byte is its code point: numpy's UCS-4 layout directly
        return matrix.astype(np.uint32).view(f"U{width}").reshape(-1)
    # pyarrow holds text as UTF-8, whatever the file's encoding
    return np.char.decode(matrix.view(f"S{width}").reshape(-1), "utf-8")


def _text_bytes(chunk: Any) -> int:
    """Return the bytes of text in a pyarrow string array, from its offsets."""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
    return int(offsets[chunk.offset + len(chunk)] - offsets[chunk.offset])


def _codec(request: Request) -> str:
    import codecs

    name = codecs.lookup(request.encoding).name
    return "utf8" if name in ("utf-8", "ascii") else name


# --------------------------------------------------------------------------- pandas


def _read_pandas(request: Request, data: bytes | mmap.mmap, start: int, delimiter: str,
                 quoted: bool) -> dict[str, np.ndarray] | None:
    import pandas as pd

    roles = sorted(request.columns, key=request.columns.__getitem__)
    positions = [request.columns[role] for role in roles]
    dtypes = {
        request.columns[role]: (np.int64 if request.id_type == "int" else str)
        if role in ("user", "item") else np.float64
        for role in roles
    }
    if request.path is not None and data is request.raw and (start == 0 or request.header):
        stream: Any = request.path.open("rb")
    else:
        stream = io.BufferedReader(_View(data, start), buffer_size=1 << 20)
    try:
        with stream:
            frame = pd.read_csv(
                stream, sep=delimiter, header=None, skiprows=1 if request.header else 0, usecols=positions,
                dtype=dtypes, engine="c", quotechar='"', quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                keep_default_na=False, na_values=[], skip_blank_lines=True, encoding=request.encoding,
                skipinitialspace=False, comment=None, on_bad_lines="error", low_memory=False,
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(str(exc)) from exc
    out: dict[str, np.ndarray] = {}
    for role in roles:
        series = frame[request.columns[role]]
        if series.isna().any():
            return None  # a row too short for this column
        if role not in ("user", "item"):
            out[role] = series.to_numpy(dtype=np.float64)
            continue
        if request.id_type == "int":
            out[role] = series.to_numpy(dtype=np.int64)
            continue
        values = np.asarray(series.to_numpy(dtype=object), dtype=str)
        ints = lengths = None
        if request.id_type == "auto" and _ascii(values):  # numpy reads fullwidth "12" as 12
            try:
                ints = values.astype(np.int64)
                lengths = np.char.str_len(values).sum()
            except (ValueError, OverflowError):
                ints = None
        ids = _ids(role, request, ints, lengths, lambda values=values: values)
        if ids is None:
            return None
        out[role] = ids
    return out


# --------------------------------------------------------------------------- numpy


def _read_numpy(request: Request, data: bytes | mmap.mmap, start: int, delimiter: str,
                quoted: bool) -> dict[str, np.ndarray] | None:
    """Read with ``numpy.loadtxt``.

    The text is decoded as latin-1, one character per byte, so that an id kept as bytes
    (``S`` dtype) holds exactly the file's bytes; they are decoded with the file's encoding
    afterwards. An id is read twice, as an integer and as its bytes (which tell whether it
    was written canonically), unless it turns out to be text.
    """
    roles = sorted(request.columns, key=request.columns.__getitem__)
    as_int = request.id_type != "str"
    for attempt in ("ints", "text"):
        fields: list[tuple[str, Any]] = []
        usecols: list[int] = []
        for role in roles:
            position = request.columns[role]
            if role in ("user", "item"):
                if attempt == "ints" and as_int:
                    fields.append((role, np.int64))
                    usecols.append(position)
                    if request.id_type == "int":
                        continue
                    fields.append((f"{role} text", f"S{_ID_WIDTH}"))
                else:
                    fields.append((f"{role} text", f"S{_TEXT_WIDTH}"))
            else:
                fields.append((role, np.float64))
            usecols.append(position)
        if request.path is not None and data is request.raw and (start == 0 or request.header):
            stream = request.path.open(encoding="latin-1")  # a byte-order mark is in the header, skipped
        else:
            stream = io.TextIOWrapper(
                io.BufferedReader(_View(data, start), buffer_size=1 << 20), encoding="latin-1", newline=None
            )
        try:
            with stream:
                table = np.loadtxt(
                    stream, dtype=np.dtype(fields), delimiter=delimiter, skiprows=1 if request.header else 0,
                    usecols=usecols, comments=None, quotechar='"' if quoted else None, ndmin=1,
                )
        except ValueError:
            if attempt == "ints" and as_int and request.id_type == "auto":
                continue  # text ids, probably: read them as bytes
            raise
        break
    out: dict[str, np.ndarray] = {}
    for role in roles:
        if role not in ("user", "item"):
            out[role] = np.ascontiguousarray(table[role])
            continue
        names = table.dtype.names or ()
        ints = np.ascontiguousarray(table[role]) if role in names else None
        if request.id_type == "int":
            out[role] = ints  # type: ignore[assignment]
            continue
        raw_text = table[f"{role} text"]
        width = raw_text.dtype.itemsize
        lengths = np.char.str_len(raw_text)
        if (lengths >= width).any() and ints is None:
            return None  # a text id longer than the bytes kept of it

        def text(
            raw_text: np.ndarray = raw_text, lengths: np.ndarray = lengths, width: int = width
        ) -> np.ndarray | None:
            if (lengths >= width).any():
                return None
            used = max(int(lengths.max(initial=0)), 1)
            matrix = np.ascontiguousarray(raw_text).view(np.uint8).reshape(len(raw_text), width)[:, :used]
            if not matrix.size or matrix.max() < 128:  # ASCII: a byte is its code point
                return np.ascontiguousarray(matrix, dtype=np.uint32).view(f"U{used}").reshape(-1)
            return np.char.decode(np.ascontiguousarray(matrix).view(f"S{used}").reshape(-1), request.encoding)

        ids = _ids(role, request, ints, lengths.sum(), text)
        if ids is None:
            return None
        out[role] = ids
    return out


class _View(io.RawIOBase):
    """A read-only stream over bytes or a memory map, from `start`, without copying them first."""

    def __init__(self, data: bytes | mmap.mmap, start: int = 0) -> None:
        self._data = memoryview(data)
        self._position = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._position: self._position + len(buffer)]
        buffer[: len(chunk)] = chunk
        self._position += len(chunk)
        return len(chunk)

    def close(self) -> None:
        self._data.release()
        super().close()


def unavailable_message(engine: str) -> str:
    """Return the message for ``parser: <engine>`` when the module it needs is not installed."""
    module, install = ENGINES[engine]
    ready = ", ".join(["auto", *(e for e in ENGINES if available(e)), "python"])
    return f"parser {engine!r} needs {module}, which is not installed; {install}, or choose one of {ready}"
