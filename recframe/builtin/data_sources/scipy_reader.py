"""The ``scipy`` column reader: numeric delimited files parsed by scipy's multi-threaded C++ parser.

scipy (1.12 on) reads Matrix Market files with fast_matrix_market, a C++ parser that splits
its input over all cores. A delimited file of ``k`` numeric columns in which every delimiter
is turned into a line break is the body of a Matrix Market *array* file of shape
``(k, n_rows)`` (array files are column-major, one value per line). This reader streams the
file to that parser in chunks, replacing the delimiter chunk by chunk, so that a default
install (no pandas, no pyarrow) reads large numeric files with every core and nothing to compile.

The Matrix Market parser is lenient where the general reader is not: it skips blank lines,
ignores what follows a number on its line (``3.0x``, ``1.2.3``) and reads ``007`` as 7.
So the reader only answers for files it has checked to be read exactly as the general reader
reads them, and returns ``None`` (the next reader, then the general one, decides) on any doubt:

- every line holds exactly ``k`` fields made of the characters ``0-9 . -`` only (no spaces,
  signs ``+``, exponents, quotes, words such as ``nan``), with one line ending throughout;
- no field holds two points, a ``-`` anywhere but at its start, or ``-0``;
- id columns hold integers below 2**53 in magnitude (exact as float64) and no point; with
  ``id_type: auto``, none written with a leading zero (``007``, which the general reader keeps
  apart from ``7``); ``id_type: str`` is left to the other readers.

The checks work on the chunks' bytes with ``bytes.translate`` and ``bytes.find`` (C loops over
memory, not Python loops over rows), and :mod:`.id_spelling`'s scan for leading zeros, cheap
next to the parse itself. The parser asks its stream for 1 KiB at a time; a C buffer in between
answers those calls, so that Python code runs once per chunk, not half a million times a file.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import mmap
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.builtin.data_sources.id_spelling import may_hold_padded_ints

if TYPE_CHECKING:
    from recframe.builtin.data_sources.column_request import Request

CHUNK_BYTES = 16 << 20
"""Bytes of the file checked and handed to the parser at a time (whole lines)."""
_NUMBER_BYTES = b"0123456789.-"
"""The characters a field may hold."""
_EXACT = 2.0**53
"""Integers below this magnitude are exact in float64."""
_MAX_PATTERNS = 256
"""The most byte patterns looked for to find a point in an id column; more columns: no answer."""


def available() -> bool:
    """Return whether scipy has the C++ Matrix Market reader (scipy 1.12 or later)."""
    try:
        return importlib.util.find_spec("scipy.io._fast_matrix_market") is not None
    except (ImportError, ValueError):  # blocked, or a stub in sys.modules
        return False


def read_scipy(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
    """Read the columns with ``scipy.io.mmread``, or return ``None`` if the file is not plainly numeric.

    Parameters
    ----------
    request : Request
        What to read.
    data : bytes or mmap
        The file's bytes, with a one-character delimiter.
    start : int
        Where the text starts (after a byte-order mark).
    delimiter : str
        The one-character field separator.
    quoted : bool
        Whether the file holds a double quote (then this reader does not answer).

    Returns
    -------
    dict of str to ndarray, or None
        ``user`` and ``item`` as int64, ``rating`` and ``timestamp`` as float64.
    """
    separator = delimiter.encode("ascii")
    if quoted or request.id_type == "str" or separator in _NUMBER_BYTES or separator in b"\r\n":
        return None
    layout = _layout(data, start, separator, request.header)
    if layout is None:
        return None
    body, width, end_of_line = layout
    if max(request.columns.values()) >= width:
        return None  # a column the file doesn't have: the general reader names it
    ids = [position for role, position in request.columns.items() if role in ("user", "item")]
    if request.id_type == "auto" and may_hold_padded_ints(data, body, delimiter, plus_sign=False):
        return None  # an id such as 007, which the general reader keeps apart from 7
    rows = _count_checked_rows(data, body, separator, width, end_of_line, ids)
    if rows is None:
        return None
    from scipy.io import mmread

    header = b"%%%%MatrixMarket matrix array real general\n%d %d\n" % (width, rows)
    # the parser reads 1 KiB at a time: buffered in C, not by a Python call each
    stream = io.BufferedReader(_Body(header, data, body, separator, end_of_line), buffer_size=CHUNK_BYTES)
    try:
        table = mmread(stream)
    except (ValueError, OverflowError, RuntimeError):
        return None  # the parser refused a value
    out: dict[str, np.ndarray] = {}
    for role, position in request.columns.items():
        column = table[position]
        if role in ("user", "item"):
            if len(column) and max(float(column.max()), -float(column.min())) >= _EXACT:
                return None  # beyond float64's integers: the other readers keep every digit
            ints = column.view(np.int64)  # converted in place: no new memory to fault in
            np.copyto(ints, column, casting="unsafe")
            column = ints
        out[role] = column
    return out


def _layout(data: bytes | mmap.mmap, start: int, separator: bytes, header: bool) -> tuple[int, int, bytes] | None:
    """Return where the rows start, how many fields the first row has, and its line ending."""
    body = start
    if header:
        newline = data.find(b"\n", start)
        if newline < 0:
            return None
        body = newline + 1
    newline = data.find(b"\n", body)
    first = bytes(data[body : newline if newline >= 0 else len(data)])
    if not first.strip():
        return None  # no rows, or a blank line first: the general reader decides
    end_of_line = b"\r\n" if first.endswith(b"\r") else b"\n"
    return body, first.count(separator) + 1, end_of_line


def _chunks(data: bytes | mmap.mmap, body: int, end_of_line: bytes) -> Iterator[bytes]:
    """Yield the text from `body` in whole lines of about :data:`CHUNK_BYTES`, the last one ended too."""
    position = body
    size = len(data)
    while position < size:
        end = min(position + CHUNK_BYTES, size)
        if end < size:
            newline = data.rfind(b"\n", position, end)
            end = newline + 1 if newline >= 0 else data.find(b"\n", end) + 1 or size
        chunk = data[position:end]
        if not chunk.endswith(b"\n"):
            chunk += end_of_line  # a last line without a line break
        yield chunk
        position = end


def _count_checked_rows(
    data: bytes | mmap.mmap, body: int, separator: bytes, width: int, end_of_line: bytes, ids: list[int]
) -> int | None:
    """Return the number of rows if every chunk passes the checks of the module docstring, else ``None``."""
    row = separator * (width - 1) + end_of_line
    points_in_ids = _points_in_columns(separator, width, ids)
    if points_in_ids is None:
        return None
    rows = 0
    for chunk in _chunks(data, body, end_of_line):
        marks = chunk.translate(None, b"0123456789-")  # separators and points
        separators = marks.translate(None, b".")
        count = len(separators) // len(row)
        if separators != row * count:  # another character, a blank line, a row of other width
            return None
        rows += count
        first = marks[: marks.find(b"\n") + 1]
        if marks != first * count and not _points_fit(marks, points_in_ids):
            return None
        if not _points_fit(first, points_in_ids):  # every row is laid out as the first one
            return None
        if chunk.find(b"-") >= 0 and not _minus_signs_lead(chunk, separator):
            return None
    return rows


def _points_fit(marks: bytes, points_in_ids: list[bytes]) -> bool:
    """Return whether no field holds two points and no id field one, given the separators and points."""
    if b".." in marks:
        return False
    if points_in_ids and b"." in marks:
        lines = b"\n" + marks
        return not any(p in lines for p in points_in_ids)
    return True


def _points_in_columns(separator: bytes, width: int, columns: list[int]) -> list[bytes] | None:
    """Return the patterns of separators and points that show a point in one of `columns`.

    In a chunk stripped of digits and ``-``, a field of column ``j`` holding a point shows as a
    line break, then ``j`` separators each possibly after a point of its field, then the point.
    """
    patterns: list[bytes] = []
    for column in columns:
        if 2**column > _MAX_PATTERNS:
            return None
        for points in itertools.product((b"", b"."), repeat=column):
            patterns.append(b"\n" + b"".join(p + separator for p in points) + b".")
    return patterns


def _minus_signs_lead(chunk: bytes, separator: bytes) -> bool:
    """Return whether every ``-`` starts a field and none starts ``-0`` (``-0``, ``-0.5``, ``-007``)."""
    starts = (separator, b"\n")
    leading = sum(chunk.count(s + b"-") for s in starts) + chunk.startswith(b"-")
    if leading != chunk.count(b"-"):
        return False
    return not chunk.startswith(b"-0") and not any(s + b"-0" in chunk for s in starts)


class _Body(io.RawIOBase):
    """The Matrix Market text: a header, then the file's rows with every delimiter a line break.

    Each chunk is translated when the parser asks for it, so no copy of the whole file is made.
    """

    def __init__(
        self,
        header: bytes,
        data: bytes | mmap.mmap,
        body: int,
        separator: bytes,
        end_of_line: bytes,
    ) -> None:
        self._chunks = _chunks(data, body, end_of_line)
        self._table = bytes.maketrans(separator, b"\n")
        self._pending = memoryview(header)
        self._offset = 0

    def readable(self) -> bool:
        """Return true: the stream is read-only."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill `buffer` with the next bytes; return how many (0 at the end)."""
        while self._offset >= len(self._pending):
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk.translate(self._table))
            self._offset = 0
        size = min(len(buffer), len(self._pending) - self._offset)
        buffer[:size] = self._pending[self._offset : self._offset + size]
        self._offset += size
        return size
