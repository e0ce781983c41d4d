"""Id columns of the fast column readers: typed exactly as the general reader types them.

A fast reader parses an id column as integers and, unless ``id_type`` settles it, also
looks at how the ids were written: ``auto`` keeps integers only when every id is written as
Python prints it (``7``, not ``007``), as the general reader does. Shared by the
``arrow``, ``pandas`` and ``numpy`` readers (:mod:`.readers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from recframe.builtin.data_sources.column_request import Request


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
