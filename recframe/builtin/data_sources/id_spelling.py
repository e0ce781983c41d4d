r"""Cheap checks on a file's bytes that let a fast reader parse integer ids directly as int64.

With ``id_type: auto`` the general reader keeps ids as integers only when every id, stripped of
whitespace, is written as Python prints it (``7``, ``-7``, ``0``, ``-0``; not ``007``, ``+7``).
Reading the ids as text to see how they were written costs the ``arrow`` and ``pandas`` readers
more than parsing the whole file, so they parse ids as int64 and prove the spelling canonical
with one pass over the bytes (:func:`may_hold_padded_ints`). A hit only sends the file to the
slower text path, so the check may be loose; a miss would merge ``007`` with ``7``, so it is exact.

Why the check is exact. The parsers accept as an int64 (tested for every short spelling in
``tests/test_csv_id_spelling.py``):

- ``pyarrow.csv``: ``[ \t]* -? ([0-9]+ | 0[xX][0-9a-fA-F]+) [ \t]*``, no ``+``;
- ``pandas.read_csv`` (C engine, dtype inferred): ``\s* [+-]? [0-9]+ \s*`` with ASCII whitespace
  (``\t \n \x0b \x0c \r`` and space);

each after removing the quotes of a quoted field. Take a field one of them reads as an integer
and whose stripped text is not canonical. Without ``+`` (pandas only: the check looks for any
``+`` in the file), the stripped text is ``-?D`` with ``D`` digits or hexadecimal, and it fails
``-?(0|[1-9][0-9]*)`` only when ``D`` starts with ``0`` followed by a digit, ``x`` or ``X``.
The byte before that ``0`` is the field's start (the delimiter, ``\n``, ``\r``, an opening
quote, or the start of the text), a ``-``, or whitespace: all bytes up to ``0x2D`` (``-``), or
the delimiter. So a file holds a non-canonical integer only if it holds a byte up to ``0x2D``
or the delimiter, then ``0``, then a digit, ``x`` or ``X``, or starts with ``0`` and one of
those: exactly what :func:`may_hold_padded_ints` looks for. The header and the columns the
source does not use are searched too, which only costs the text path when they hit.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator

import numpy as np

__all__ = ["may_hold_hex_ints", "may_hold_padded_ints"]

_CHUNK_BYTES = 1 << 18
"""Bytes compared at a time: small enough for the CPU cache, large enough for few numpy calls."""
_ZERO = ord("0")
_LAST_PREFIX = ord("-")
"""Every byte from 0 to ``-`` (0x2D) may stand before a leading zero: whitespace, quote, sign."""
_AFTER_ZERO = np.zeros(256, dtype=bool)
_AFTER_ZERO[list(b"0123456789xX")] = True
"""The bytes after a ``0`` that make it a leading zero: a digit, or hexadecimal's ``x``."""


def may_hold_padded_ints(data: bytes | mmap.mmap, start: int, delimiter: str, *, plus_sign: bool) -> bool:
    """Return whether the text may hold an integer that is not written as Python prints it.

    Parameters
    ----------
    data : bytes or mmap
        The file's bytes, with a one-character ASCII delimiter.
    start : int
        Where the text starts (after a byte-order mark).
    delimiter : str
        The one-character field separator.
    plus_sign : bool
        Whether the parser accepts ``+7`` as an integer (pandas does, pyarrow does not).

    Returns
    -------
    bool
        ``False`` only when no field the parser reads as an integer has a leading zero
        (``007``, ``-00``, ``0x1F``, `` 007``) or, with `plus_sign`, a ``+`` (module docstring).
    """
    if plus_sign and data.find(b"+", start) >= 0:
        return True
    head = bytes(data[start : start + 2])
    if len(head) == 2 and head[0] == _ZERO and _AFTER_ZERO[head[1]]:  # the text starts with a padded number
        return True
    separator = ord(delimiter)
    for chunk, view in _pairs(data, start):
        # a pair (p, 0) as a little-endian uint16 is p + 0x3000: p <= 0x2D is one subtraction away
        hits = np.subtract(view, _ZERO << 8, dtype=np.uint16) <= _LAST_PREFIX
        if separator > _LAST_PREFIX:
            hits |= view == (separator | _ZERO << 8)
        if hits.any() and _followed_by_digit(data, chunk + 2 * np.flatnonzero(hits) + 2):
            return True
    return False


def may_hold_hex_ints(data: bytes | mmap.mmap, start: int) -> bool:
    """Return whether the text holds ``0x`` or ``0X``, which pyarrow reads as a hexadecimal integer.

    ``id_type: int`` accepts ``007`` and ``+7`` as the general reader does, but not ``0x1F``.
    """
    lower, upper = _ZERO | ord("x") << 8, _ZERO | ord("X") << 8
    return any(((view == lower) | (view == upper)).any() for _, view in _pairs(data, start))


def _pairs(data: bytes | mmap.mmap, start: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield every pair of neighbouring bytes from `start` on, as uint16 arrays with their first offset.

    Each chunk is viewed twice, from an even and from an odd offset, so every pair is in a
    view; chunks overlap by one byte so that no pair is split between two of them.
    """
    size = len(data)
    for begin in range(start, size - 1, _CHUNK_BYTES):
        end = min(begin + _CHUNK_BYTES + 1, size)
        for offset in (begin, begin + 1):
            count = (end - offset) // 2
            if count > 0:
                yield offset, np.frombuffer(data, dtype=np.uint16, count=count, offset=offset)


def _followed_by_digit(data: bytes | mmap.mmap, positions: np.ndarray) -> bool:
    """Return whether the byte at any of `positions` (those inside the text) is a digit, ``x`` or ``X``."""
    positions = positions[positions < len(data)]
    if not len(positions):
        return False
    following = np.frombuffer(data, dtype=np.uint8)[positions]
    return bool(_AFTER_ZERO[following].any())
