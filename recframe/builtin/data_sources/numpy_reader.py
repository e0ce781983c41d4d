"""The ``numpy`` column reader: ``numpy.loadtxt``, whose parser is C since numpy 1.23."""

from __future__ import annotations

import io
import mmap
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.builtin.data_sources.byte_view import _View
from recframe.builtin.data_sources.id_columns import _ids

if TYPE_CHECKING:
    from recframe.builtin.data_sources.column_request import Request

_ID_WIDTH = 21
"""Bytes kept of an id beside its integer value: one more than the longest int64 ("-9223372036854775808")."""
_TEXT_WIDTH = 64
"""Bytes kept of a text id by the numpy reader; a longer one sends the file to the general reader."""


def _read_numpy(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
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
                    stream,
                    dtype=np.dtype(fields),
                    delimiter=delimiter,
                    skiprows=1 if request.header else 0,
                    usecols=usecols,
                    comments=None,
                    quotechar='"' if quoted else None,
                    ndmin=1,
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
