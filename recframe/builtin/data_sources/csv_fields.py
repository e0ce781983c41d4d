"""Fields of the general reader of the ``csv`` source: ids and numbers parsed from text.

Every malformed value is a :class:`~recframe.DataError` naming the file and line, so that the
general reader, which reads every file the fast readers (:mod:`.readers`) step aside from,
names the first bad row.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recframe import DataError, plain_number, short_repr
from recframe.builtin.data_sources.columns import columns_found


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
        if not close and header and all(_is_number(name) for name in header):
            hint = (
                "; its first line looks like data: "
                "the file may have no header (data.header: false, columns by position)"
            )
        msg = f"{path}: no column {short_repr(ref)} for data.{role}; the header has {columns_found(header)}{hint}"
        raise DataError(msg)
    fields = [position + 1 for position, name in enumerate(header) if name == ref]
    if len(fields) > 1:  # reading the first silently could take the wrong column
        shown = ", ".join(map(str, fields))
        msg = (
            f"{path}: the header names {short_repr(ref)} {len(fields)} times (fields {shown}), so data.{role} "
            f"is ambiguous; rename all but one, or give data.{role} as a 0-based position"
        )
        raise DataError(msg)
    return header.index(ref)


def _is_number(text: str) -> bool:
    """Whether `text` reads as a number (a header line of numbers is likely a line of data)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


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
            what = "an integer beyond the 64-bit range of ids" if _INT.fullmatch(values[i]) else "not an integer"
            msg = f"{path}:{lines[i]}: {role} id {short_repr(values[i])} is {what} (data.id_type is 'int')"
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
    joined = "".join(values)  # one check of the column, then the plain float of each value
    convert = float if joined.isascii() and "_" not in joined else plain_number
    try:
        out = np.array([convert(v) for v in values], dtype=np.float64)
    except ValueError:
        i = _first_failure(values, plain_number)
        msg = f"{path}:{lines[i]}: {role} {values[i]!r} is not a number"
        raise DataError(msg) from None
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        msg = f"{path}:{lines[bad[0]]}: {role} {values[bad[0]]!r} is not a finite number"
        raise DataError(msg)
    return out
