"""External ids: converting id columns and query ids to the two id types recframe supports.

Every id column a data source hands over goes through :func:`as_id_array` (``int64`` or
unicode, checked, never wrapped or truncated), and every id a query names goes through
:func:`as_query_ids`, so all models accept and refuse the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.errors import DataError, short_repr

IdArray = npt.NDArray[Any]
"""A 1-d array of external ids: ``int64`` or a numpy unicode string dtype."""

IntArray = npt.NDArray[np.int64]

_INT64_LIMIT = 2.0**63
"""Floats from this magnitude on don't fit in ``int64`` (``-2**63`` itself does)."""


def as_id_array(ids: Iterable[Any] | npt.ArrayLike, what: str = "ids") -> IdArray:
    """Return `ids` as a 1-d ``int64`` or unicode array, the two id types recframe supports.

    Every conversion is checked, never wrapped or truncated: an integer beyond the ``int64``
    range, a fractional or non-finite float, bytes (a SQL ``BLOB``) and booleans are refused.
    A column mixing integers and strings is refused too: whether ``1`` and ``'1'`` are one id
    would be a guess, so the source is asked to store one type.

    Parameters
    ----------
    ids : array-like
        External ids: integers, or strings. Integral floats (``1.0``) are accepted as ints.
    what : str
        Name used in error messages, e.g. ``"user ids"`` or ``"ratings.db: column 'u' (data.user)"``.

    Raises
    ------
    DataError
        If the ids are neither all integers nor all strings, don't fit ``int64``, or are not 1-d.
    """
    if hasattr(ids, "to_numpy") and not isinstance(ids, np.ndarray):  # pandas, polars: one typed column
        ids = ids.to_numpy()
    if isinstance(ids, str | bytes) or not (isinstance(ids, np.ndarray) or hasattr(ids, "__iter__")):
        # one value, not a column (a string would be taken for a column of its characters)
        msg = f"{what} must be a 1-d column of ids; got one {type(ids).__name__}: {short_repr(ids)}"
        raise DataError(msg)
    if isinstance(ids, np.ndarray):
        arr = ids
    else:
        given = list(ids)  # type: ignore[arg-type]
        arr = _list_array(given)
        if arr.dtype.kind == "U":  # all text: numpy has dropped what ended in NULs (an object array keeps them)
            refuse_nul_ended(given, what)
    if arr.ndim != 1:
        msg = f"{what} must be 1-d; got an array of shape {arr.shape}"
        raise DataError(msg)
    kind = arr.dtype.kind
    if kind == "O":
        arr = _object_ids(arr, what)  # int64, or text checked below
        kind = arr.dtype.kind
    if kind in "iu":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            msg = f"{what}: id {arr.max().item()!r} exceeds the int64 range; use string ids"
            raise DataError(msg)
        return arr.astype(np.int64, copy=False)
    if kind == "U":
        _check_no_surrogates(arr, what)
        _refuse_empty(arr, what)
        return arr
    if kind == "f":
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(arr) & (arr == np.round(arr)) & (arr >= -_INT64_LIMIT) & (arr < _INT64_LIMIT)
        if arr.size and not np.all(ok):
            bad = arr[~ok][0].item()
            row = int(np.flatnonzero(~ok)[0]) + 1
            if np.isfinite(bad) and bad == round(bad):
                msg = f"{what}: id {bad!r} exceeds the int64 range; store such ids as text"
            else:
                missing = " (a missing id: drop or fill those rows)" if np.isnan(bad) else ""
                msg = f"{what} must be integers or strings; got the float {bad!r} in row {row}{missing}"
            raise DataError(msg)
        return arr.astype(np.int64)
    if kind == "S":
        first = arr[0].item() if arr.size else b""
        msg = (
            f"{what} must be integers or strings; got bytes (dtype {arr.dtype.str}, e.g. {short_repr(first)}); "
            "store or cast them as text"
        )
        raise DataError(msg)
    if kind == "b":
        msg = f"{what} must be integers or strings; got booleans"
        raise DataError(msg)
    msg = f"{what} must be all integers or all strings; got dtype {arr.dtype}"
    raise DataError(msg)


_SURROGATES = (0xD800, 0x800)
"""The code points of lone surrogates (start, count): Python strings may hold them, UTF-8 can't."""
_CHUNK_CHARACTERS = 1 << 20
"""Characters compared at a time when looking for a surrogate, which bounds the temporary mask."""


def _check_no_surrogates(arr: npt.NDArray[np.str_], what: str) -> None:
    r"""Refuse text ids holding a lone surrogate, which no file, fingerprint or saved model can encode.

    Strings decoded with ``errors="surrogateescape"`` carry undecodable bytes as surrogates
    (``"b\udc80"``); left in, they fail far from their cause, as a ``UnicodeEncodeError`` in a
    fingerprint or a save. Surrogates lie below every character outside the basic plane, so ids
    whose largest code point is below them (ASCII, most scripts) are cleared by one ``max``.
    """
    if arr.size == 0 or arr.dtype.itemsize == 0:
        return
    codes = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("=")).view(np.uint32)
    if int(codes.max()) < _SURROGATES[0]:
        return
    for start in range(0, codes.size, _CHUNK_CHARACTERS):
        found = np.flatnonzero(codes[start : start + _CHUNK_CHARACTERS] - np.uint32(_SURROGATES[0]) < _SURROGATES[1])
        if len(found):
            row = (start + int(found[0])) // (arr.dtype.itemsize // 4)
            msg = (
                f"{what}: id {short_repr(arr[row].item())} in row {row + 1} holds a lone surrogate, which is not "
                "text UTF-8 can store (was it decoded with errors='surrogateescape'?); decode the ids strictly"
            )
            raise DataError(msg)


def _refuse_empty(arr: npt.NDArray[np.str_], what: str) -> None:
    """Refuse an empty text id, as the CSV readers do: it is a missing id, not a name."""
    empty = np.flatnonzero(arr == "") if arr.size else np.zeros(0, dtype=np.intp)
    if len(empty):
        msg = f"{_entry(what, int(empty[0]))} is an empty id; every id must be set: drop or fill those rows"
        raise DataError(msg)


def whole_number(text: str) -> int | None:
    """Return `text` (ASCII digits with an optional sign, spaces around) as an int, else ``None``.

    What text names an integer id: not ``int()``'s rule, which also reads ``'1_0'`` and
    non-ASCII digits (``'\u0667'``).
    """
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in "+-" else stripped
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(stripped)


def refuse_nul_ended(values: list[Any] | npt.NDArray[Any], what: str) -> None:
    r"""Refuse a text id that ends in a NUL character, before numpy makes it another id.

    numpy's text arrays pad with NULs and drop them when read, so ``"alice\0"`` would become
    ``"alice"``: a query, an update or a forget naming an id no model holds would reach a real
    one (``forget(users=["alice\0"])`` would forget alice). A NUL elsewhere in an id survives and
    is left alone. One join and a search clear the usual column (no NUL anywhere); only a column
    holding one is looked through.

    Raises
    ------
    DataError
        Naming the first such id and its row.
    """
    strings = values.tolist() if isinstance(values, np.ndarray) else values
    try:
        clear = "\x00" not in "".join(strings)
    except TypeError:  # not all text: looked through below
        clear = False
    if clear:
        return
    for row, value in enumerate(strings):
        if isinstance(value, str) and value.endswith("\x00"):
            msg = (
                f"{_entry(what, row)}: id {short_repr(value)} ends in a NUL character, which an id can't hold "
                "(text arrays drop it, so it would be another id); remove it"
            )
            raise DataError(msg)


def narrowed(kept: npt.NDArray[Any], dropped: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return the text ids `kept` in the narrowest string type that holds them, where one of `dropped` set their width.

    numpy stores text ids at the width of the longest, and ids taken out of an array keep it.
    Left so after a ``forget``, the model (and a model saved afterwards) would keep the width
    of a forgotten id, telling its length (``<U28`` where a refit on what is left has ``<U2``).
    The width changes only where a dropped id was as long as it (other ids, or the type the
    data came in, set it otherwise, as they set a refit's); integer ids come back as they are.
    """
    if kept.dtype.kind != "U" or dropped.dtype.kind != "U" or not len(dropped):
        return kept
    width = kept.dtype.itemsize // 4
    if int(np.char.str_len(dropped).max()) < width:
        return kept
    longest = max(int(np.char.str_len(kept).max()) if len(kept) else 0, 1)
    return kept.astype(np.dtype((np.str_, longest))) if longest < width else kept


_EXACT_IN_FLOAT = 2**53
"""The largest integer magnitude below which every integer is a float64 exactly."""


def _scalar_kind(x: object) -> str:
    """Name the kind of one id for :func:`_list_array`: text, bytes, bool, number, big or other.

    ``big`` is an integer a float64 can't hold exactly (beyond 2**53): beside any other number,
    numpy would make it a float (``[2**53 + 1, 2.0]`` another id).
    """
    if isinstance(x, str):
        return "text"
    if isinstance(x, bytes):
        return "bytes"
    if isinstance(x, bool | np.bool_):
        return "bool"
    if isinstance(x, int | np.integer):
        return "big" if abs(int(x)) > _EXACT_IN_FLOAT else "number"
    if isinstance(x, float | np.floating):
        return "number"
    return "other"


def _list_array(values: list[Any]) -> npt.NDArray[Any]:
    """Return a list of ids (or of values) as an array without merging types.

    numpy turns ``[1, "1"]`` into the strings ``["1", "1"]``, ``[True, 2]`` into the integers
    ``[1, 2]`` and ``[2**53 + 1, 2.0]`` into floats (another id); a list mixing kinds becomes an
    object array instead, so the checks that follow see each entry as it was given.
    """
    try:
        arr = np.asarray(values)
    except (ValueError, OverflowError, TypeError):
        return np.asarray(values, dtype=object) if all(np.ndim(x) == 0 for x in values) else np.asarray(values)
    if arr.dtype.kind != "O" and arr.ndim == 1 and len({_scalar_kind(x) for x in values}) > 1:
        return np.asarray(values, dtype=object)
    return arr


def _object_ids(arr: npt.NDArray[Any], what: str) -> IdArray:
    """Return an object array of ids as ``int64`` or text, checking each entry."""
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    kinds = {
        "text"
        if isinstance(x, str)
        else "int"
        if isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)
        else "float"
        if isinstance(x, float | np.floating)
        else "other"
        for x in arr
    }
    if kinds == {"text"}:
        refuse_nul_ended(arr, what)
        return arr.astype(str)
    if kinds <= {"int", "float"}:
        low, high = np.iinfo(np.int64).min, np.iinfo(np.int64).max
        for i, x in enumerate(arr):
            if isinstance(x, float | np.floating):
                if not (np.isfinite(x) and x == round(x)):
                    msg = f"{what} must be integers or strings; got the float {float(x)!r} in row {i + 1}"
                    raise DataError(msg)
                if not -_INT64_LIMIT <= x < _INT64_LIMIT:
                    msg = f"{what}: id {float(x)!r} exceeds the int64 range; store such ids as text"
                    raise DataError(msg)
            elif not low <= int(x) <= high:
                msg = f"{what}: id {short_repr(int(x))} exceeds the int64 range; store such ids as text"
                raise DataError(msg)
        return np.array([int(x) for x in arr], dtype=np.int64)
    for i, x in enumerate(arr.tolist()):
        if x is None or _is_nan(x):
            msg = f"{_entry(what, i)} is missing ({short_repr(x)}); every id must be set: drop or fill those rows"
            raise DataError(msg)
        if not isinstance(x, str | int | float | np.integer | np.floating) or isinstance(x, bool | np.bool_):
            msg = f"{_entry(what, i)} is {type(x).__name__} {short_repr(x)}; ids must be integers or strings"
            raise DataError(msg)
    number = next(i for i, x in enumerate(arr.tolist()) if not isinstance(x, str))
    text = next(i for i, x in enumerate(arr.tolist()) if isinstance(x, str))
    msg = (
        f"{what} must be all integers or all strings; got both integers (e.g. {short_repr(arr[number])}) and "
        f"strings (e.g. {short_repr(arr[text])}), in rows {number + 1} and {text + 1}; "
        "store every id as one type (text, say)"
    )
    raise DataError(msg)


def as_query_ids(ids: object, what: str = "user") -> IdArray:
    """Return the ids a query names (one id, or a 1-d list or array of ids), checked the same for every model.

    An id is an integer or a string; which of them a model knows is left to its
    :class:`IdIndex` (strings match integer ids by value, and vice versa). Integers beyond
    ``int64`` are kept (as objects): they are simply unknown to an integer model.

    Raises
    ------
    TypeError
        For anything else: booleans, floats, ``None``, sets, generators, mappings, bytes.
    DataError
        If an array of ids is not 1-d.
    """
    if isinstance(ids, str | int | np.integer) and not isinstance(ids, bool | np.bool_):
        return _query_array([ids], what)
    if isinstance(ids, np.ndarray):
        arr = ids
    elif isinstance(ids, list | tuple | range):
        arr = _query_array(list(ids), what)
    elif hasattr(ids, "to_numpy") and hasattr(ids, "__len__"):  # pandas Series / Index, polars Series
        arr = np.asarray(ids.to_numpy())
    else:
        msg = (
            f"{what} ids must be an id (an int or a str) or a list or 1-d array of ids; "
            f"got {type(ids).__name__} {short_repr(ids)}"
        )
        raise TypeError(msg)
    if arr.ndim != 1:
        msg = f"{what} ids must be 1-d; got an array of shape {arr.shape}"
        raise DataError(msg)
    if arr.dtype.kind in "iuU" or (arr.size == 0 and arr.dtype.kind != "O"):
        return arr if arr.size else np.zeros(0, dtype=np.int64)
    if arr.dtype.kind == "O":
        for i, x in enumerate(arr.tolist()):
            if not isinstance(x, str | int | np.integer) or isinstance(x, bool | np.bool_):
                msg = f"{what} ids must be ints or strs; id {i} is {type(x).__name__} {short_repr(x)}"
                raise TypeError(msg)
        refuse_nul_ended(arr, f"{what} ids")
        return arr
    first = arr[0].item()
    msg = f"{what} ids must be ints or strs; got {arr.dtype} ids (e.g. {short_repr(first)})"
    raise TypeError(msg)


def plain_id(value: Any) -> Any:
    """Return one id of a query array as a plain Python int or str.

    A numpy scalar gives its value; an integer beyond int64, kept as a Python int in an object
    array by :func:`as_query_ids`, is one already (``.item()`` would fail on it).
    """
    return value.item() if isinstance(value, np.generic) else value


def _query_array(values: list[Any], what: str) -> npt.NDArray[Any]:
    """Return a list of query ids as an array: object where numpy would merge kinds or overflow."""
    if all(isinstance(x, str) for x in values) or not values:
        refuse_nul_ended(values, f"{what} ids")
        return np.asarray(values, dtype=str) if values else np.zeros(0, dtype=np.int64)
    if all(isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_) for x in values):
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass
    if all(np.ndim(x) == 0 for x in values):
        return np.asarray(values, dtype=object)
    return np.asarray(values) if len({np.shape(x) for x in values}) == 1 else np.asarray(values, dtype=object)


def _is_nan(x: object) -> bool:
    """Whether `x` is a missing value that equals nothing (``nan``, pandas ``NaT``)."""
    try:
        return bool(x != x)
    except Exception:  # pandas NA refuses to be a bool; an odd object's comparison may fail
        return type(x).__name__ in ("NAType", "NaTType")


def _entry(name: str, i: int) -> str:
    """Name entry `i` of a column: ``values[3]``, or ``ratings.db: column 'r' (data.rating): row 4``."""
    return f"{name}[{i}]" if name.isidentifier() else f"{name}: row {i + 1}"
