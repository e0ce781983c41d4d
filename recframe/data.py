"""The data that flows between components: interactions, id indexes and the interaction matrix.

:class:`Interactions` is what a data source returns: columnar numpy arrays, one entry per event.
:class:`IdIndex` maps external ids (ints or strings) to matrix rows and back, and
:class:`InteractionMatrix` is the users x items CSR matrix a matrix builder produces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.errors import DataError, short_repr

IdArray = npt.NDArray[Any]
"""A 1-d array of external ids: ``int64`` or a numpy unicode string dtype."""

IntArray = npt.NDArray[np.int64]
DuplicatePolicy = Literal["last", "first", "mean", "sum", "max", "error"]
"""How repeated (user, item) pairs combine into one matrix entry."""
FloatArray = npt.NDArray[np.float64]


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
    arr = ids if isinstance(ids, np.ndarray) else _list_array(list(ids))  # type: ignore[arg-type]
    if arr.ndim != 1:
        msg = f"{what} must be 1-d; got an array of shape {arr.shape}"
        raise DataError(msg)
    kind = arr.dtype.kind
    if kind in "iu":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            msg = f"{what}: id {arr.max().item()!r} exceeds the int64 range; use string ids"
            raise DataError(msg)
        return arr.astype(np.int64, copy=False)
    if kind == "U":
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
    if kind == "O":
        return _object_ids(arr, what)
    if kind == "b":
        msg = f"{what} must be integers or strings; got booleans"
        raise DataError(msg)
    msg = f"{what} must be all integers or all strings; got dtype {arr.dtype}"
    raise DataError(msg)


def _scalar_kind(x: object) -> str:
    """Name the kind of one id for :func:`_list_array`: text, bytes, bool, number or other."""
    if isinstance(x, str):
        return "text"
    if isinstance(x, bytes):
        return "bytes"
    if isinstance(x, bool | np.bool_):
        return "bool"
    if isinstance(x, int | float | np.integer | np.floating):
        return "number"
    return "other"


def _list_array(values: list[Any]) -> npt.NDArray[Any]:
    """Return a list of ids (or of values) as an array without merging types.

    numpy turns ``[1, "1"]`` into the strings ``["1", "1"]`` and ``[True, 2]`` into the
    integers ``[1, 2]``; a list mixing kinds becomes an object array instead, so the checks
    that follow see each entry as it was given.
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
    kinds = {"text" if isinstance(x, str) else "int" if isinstance(x, int | np.integer) and not isinstance(
        x, bool | np.bool_) else "float" if isinstance(x, float | np.floating) else "other" for x in arr}
    if kinds == {"text"}:
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
        return arr
    first = arr[0].item()
    msg = f"{what} ids must be ints or strs; got {arr.dtype} ids (e.g. {short_repr(first)})"
    raise TypeError(msg)


def _query_array(values: list[Any], what: str) -> npt.NDArray[Any]:
    """Return a list of query ids as an array: object where numpy would merge kinds or overflow."""
    if all(isinstance(x, str) for x in values) or not values:
        return np.asarray(values, dtype=str) if values else np.zeros(0, dtype=np.int64)
    if all(isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_) for x in values):
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            pass
    if all(np.ndim(x) == 0 for x in values):
        return np.asarray(values, dtype=object)
    return np.asarray(values) if len({np.shape(x) for x in values}) == 1 else np.asarray(values, dtype=object)


def numeric_column(name: str, column: npt.ArrayLike | None, n: int) -> FloatArray | None:
    """Return an optional numeric column as finite ``float64`` of length `n`.

    Raises
    ------
    DataError
        Naming `name` and the first entry that is not a finite number (shortened).
    """
    if column is None:
        return None
    try:
        with np.errstate(over="ignore"):
            arr = np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:
        raw = np.asarray(column, dtype=object).reshape(-1)
        for i, value in enumerate(raw.tolist()):
            try:
                float(value)
            except (TypeError, ValueError, OverflowError):
                msg = f"{_entry(name, i)} is {short_repr(value)}; every entry must be a finite number"
                raise DataError(msg) from exc
        msg = f"{name} must be numbers"
        raise DataError(msg) from exc
    if arr.shape != (n,):
        msg = f"{name} has shape {arr.shape}; expected ({n},) like the ids"
        raise DataError(msg)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raw_value = np.asarray(column).reshape(-1)[bad[0]]
        shown = raw_value.item() if hasattr(raw_value, "item") else raw_value
        msg = f"{_entry(name, int(bad[0]))} is {short_repr(shown)}; every entry must be a finite number"
        raise DataError(msg)
    return arr




_SECONDS_PER_UNIT = {"W": 604800, "D": 86400, "h": 3600, "m": 60, "s": 1}
"""Seconds in one tick of a ``datetime64`` unit of a second or longer."""
_TICKS_PER_SECOND = {"ms": 10**3, "us": 10**6, "ns": 10**9, "ps": 10**12, "fs": 10**15, "as": 10**18}
"""Ticks in one second of a sub-second ``datetime64`` unit."""


def timestamp_column(name: str, column: npt.ArrayLike | None, n: int) -> FloatArray | None:
    """Return an optional timestamp column as Unix seconds (finite ``float64``) of length `n`.

    Numbers are taken as they are (Unix seconds, say). Points in time become Unix seconds,
    whatever their unit: numpy ``datetime64`` (``[D]``, ``[ms]``, ``[ns]`` ...), pandas and
    Python date-times (a naive one is read as UTC, as numpy does; a time-zone aware one is
    converted) and dates. Every data path converts timestamps here.

    Raises
    ------
    DataError
        Naming `name` and the row: for a missing date-time (``NaT``, ``None`` among date-times),
        for durations (``timedelta64``, pandas ``Timedelta``: a timestamp must be a point in
        time) and for anything :func:`numeric_column` refuses.
    """
    if column is None:
        return None
    if hasattr(column, "to_numpy") and not isinstance(column, np.ndarray):
        column = column.to_numpy()  # pandas, polars
    try:
        arr = np.asarray(column)
    except (TypeError, ValueError, OverflowError):
        return numeric_column(name, column, n)
    if arr.dtype.kind == "O" and arr.ndim == 1:
        arr = _object_times(name, arr)
    if arr.dtype.kind == "m":
        msg = (
            f"{name} holds durations (dtype {arr.dtype}); a timestamp must be a point in time: "
            "a date-time, or a number such as Unix seconds"
        )
        raise DataError(msg)
    if arr.dtype.kind == "M":
        return numeric_column(name, _datetimes_as_seconds(name, arr), n)
    return numeric_column(name, column if arr.dtype.kind == "O" else arr, n)


def _datetimes_as_seconds(name: str, arr: npt.NDArray[Any]) -> FloatArray:
    """Return ``datetime64`` values of any unit as Unix seconds, refusing ``NaT``."""
    missing = np.flatnonzero(np.isnat(arr).reshape(-1))
    if missing.size:
        msg = (
            f"{_entry(name, int(missing[0]))} is NaT, a missing date-time ({missing.size:,} in all); "
            "every timestamp must be set: drop or fill those rows"
        )
        raise DataError(msg)
    unit, count = np.datetime_data(arr.dtype)
    if unit in ("Y", "M"):  # calendar units: months differ in length
        arr, unit, count = arr.astype("datetime64[D]"), "D", 1
    ticks = arr.astype(np.int64)
    if unit in _SECONDS_PER_UNIT:
        return ticks.astype(np.float64) * float(_SECONDS_PER_UNIT[unit] * count)
    return (ticks.astype(np.float64) * count) / float(_TICKS_PER_SECOND[unit])


def _object_times(name: str, arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return an object column of date-times (Python, pandas, numpy) as Unix seconds; other columns unchanged."""
    import datetime as dt

    def is_time(x: object) -> bool:
        return isinstance(x, dt.date | dt.timedelta | np.datetime64 | np.timedelta64) or _is_period(x)

    if not any(is_time(x) for x in arr.tolist() if x is not None):
        return arr
    out = np.empty(len(arr), dtype=np.float64)
    for i, x in enumerate(arr.tolist()):
        if isinstance(x, dt.timedelta | np.timedelta64):
            msg = (
                f"{_entry(name, i)} is the duration {short_repr(x)}; a timestamp must be a point in time: "
                "a date-time, or a number such as Unix seconds"
            )
            raise DataError(msg)
        if _is_period(x):
            x = x.to_timestamp()  # a span of time: its start
        if isinstance(x, np.datetime64):
            if np.isnat(x):
                x = None
            else:
                out[i] = _datetimes_as_seconds(name, np.asarray([x]))[0]
                continue
        if isinstance(x, dt.datetime):
            if x != x:  # pandas NaT is a datetime subclass that equals nothing
                x = None
            else:
                out[i] = (x.replace(tzinfo=dt.timezone.utc) if x.tzinfo is None else x).timestamp()
                continue
        elif isinstance(x, dt.date):
            out[i] = dt.datetime(x.year, x.month, x.day, tzinfo=dt.timezone.utc).timestamp()
            continue
        if x is None or _is_nan(x):
            msg = (
                f"{_entry(name, i)} is missing ({short_repr(arr[i])}) among date-times; "
                "every timestamp must be set: drop or fill those rows"
            )
            raise DataError(msg)
        msg = (
            f"{_entry(name, i)} is {type(x).__name__} {short_repr(x)} among date-times; "
            "a timestamp column must be all date-times or all numbers"
        )
        raise DataError(msg)
    return out


def _is_period(x: object) -> bool:
    """Whether `x` is a pandas ``Period`` (a span of time, read as its start)."""
    return type(x).__name__ == "Period" and hasattr(x, "to_timestamp")


def _is_nan(x: object) -> bool:
    """Whether `x` is a missing value that equals nothing (``nan``, pandas ``NaT``)."""
    try:
        return bool(x != x)
    except Exception:  # pandas NA refuses to be a bool; an odd object's comparison may fail
        return type(x).__name__ in ("NAType", "NaTType")


def _entry(name: str, i: int) -> str:
    """Name entry `i` of a column: ``values[3]``, or ``ratings.db: column 'r' (data.rating): row 4``."""
    return f"{name}[{i}]" if name.isidentifier() else f"{name}: row {i + 1}"


class Interactions:
    """User-item events as columnar arrays, the output of every data source.

    Parameters
    ----------
    users, items : array-like of shape (n,)
        External ids, ints or strings.
    values : array-like of shape (n,), optional
        Ratings, counts or other strengths; ``None`` for implicit feedback.
    timestamps : array-like of shape (n,), optional
        Event times: numbers (e.g. Unix seconds), or date-times of any unit, which become
        Unix seconds (see :func:`timestamp_column`).

    Raises
    ------
    DataError
        If the columns differ in length, ids are of an unsupported type, or a value or
        timestamp is not finite.
    """

    __slots__ = ("items", "timestamps", "users", "values")

    users: IdArray
    items: IdArray
    values: FloatArray | None
    timestamps: FloatArray | None

    def __init__(
        self,
        users: npt.ArrayLike,
        items: npt.ArrayLike,
        values: npt.ArrayLike | None = None,
        timestamps: npt.ArrayLike | None = None,
    ) -> None:
        self.users = as_id_array(users, "user ids")
        self.items = as_id_array(items, "item ids")
        n = len(self.users)
        if len(self.items) != n:
            msg = f"user ids and item ids differ in length: {n} != {len(self.items)}"
            raise DataError(msg)
        self.values = numeric_column("values", values, n)
        self.timestamps = timestamp_column("timestamps", timestamps, n)

    def __repr__(self) -> str:
        """Summarise the events."""
        return (
            f"Interactions({len(self)} events, values={self.values is not None}, "
            f"timestamps={self.timestamps is not None})"
        )

    def __len__(self) -> int:
        """Return the number of events."""
        return len(self.users)

    def take(self, rows: npt.NDArray[Any]) -> Interactions:
        """Return the events selected by an index array or boolean mask, in that order."""
        return Interactions(
            self.users[rows],
            self.items[rows],
            None if self.values is None else self.values[rows],
            None if self.timestamps is None else self.timestamps[rows],
        )

    def fingerprint(self) -> str:
        """Return a sha256 hex digest of the events, stable across machines and runs."""
        digest = hashlib.sha256()
        for name in ("users", "items", "values", "timestamps"):
            column = getattr(self, name)
            digest.update(name.encode())
            if column is None:
                digest.update(b"none")
            elif column.dtype.kind == "U":
                digest.update(b"str")
                digest.update("\x00".join(column.tolist()).encode("utf-8"))
            else:
                digest.update(column.dtype.str.encode())
                digest.update(np.ascontiguousarray(column).astype(column.dtype.newbyteorder("<")).tobytes())
        return digest.hexdigest()

    @classmethod
    def from_columns(
        cls,
        data: object,
        *,
        user: str = "user",
        item: str = "item",
        rating: str | None = None,
        timestamp: str | None = None,
    ) -> Interactions:
        """Return interactions from named columns of a DataFrame (pandas, polars), mapping or structured array.

        Raises
        ------
        DataError
            If a named column is missing (the message lists the columns found).
        TypeError
            If `data` has no named columns.
        """
        if isinstance(data, Mapping):
            names = list(data)
        elif isinstance(data, np.ndarray) and data.dtype.names is not None:
            names = list(data.dtype.names)
        elif hasattr(data, "columns"):
            names = [str(c) for c in data.columns]
        else:
            msg = f"{type(data).__name__} has no named columns; pass a DataFrame, a mapping or a structured array"
            raise TypeError(msg)
        wanted = {"user": user, "item": item, "rating": rating, "timestamp": timestamp}
        missing = [
            f"{short_repr(name)} ({role})" for role, name in wanted.items() if name is not None and name not in names
        ]
        if missing:
            msg = f"no column {', '.join(missing)}; found {short_repr(names, 400)}"
            raise DataError(msg)

        def column(name: str | None) -> Any:
            if name is None:
                return None
            values: Any = data[name]  # type: ignore[index]
            return values.to_numpy() if hasattr(values, "to_numpy") else values

        return cls(column(user), column(item), column(rating), column(timestamp))

    @classmethod
    def from_any(cls, data: object) -> Interactions:
        """Return `data` as :class:`Interactions`.

        Accepts an :class:`Interactions`, a tuple of arrays ``(users, items[, values[,
        timestamps]])``, a mapping of columns (``user``, ``item`` and optionally
        ``rating``/``value`` and ``timestamp``), a pandas or polars DataFrame or a numpy
        structured array with those columns, or a scipy sparse users x items matrix (row and
        column positions become the ids, stored entries the values).

        Raises
        ------
        TypeError
            If `data` is none of those.
        DataError
            If a required column is missing.
        """
        if isinstance(data, Interactions):
            return data
        if isinstance(data, tuple) and 2 <= len(data) <= 4:
            return cls(*data)
        if sp.issparse(data):
            matrix = sp.coo_array(data)
            matrix.sum_duplicates()
            return cls(matrix.row.astype(np.int64), matrix.col.astype(np.int64), matrix.data.astype(np.float64))
        columns: Mapping[str, Any]
        if isinstance(data, Mapping):
            columns = data
        elif isinstance(data, np.ndarray) and data.dtype.names is not None:
            columns = {name: data[name] for name in data.dtype.names}
        elif hasattr(data, "columns") and hasattr(data, "to_numpy"):
            frame: Any = data
            columns = {str(c): frame[c].to_numpy() for c in frame.columns}
        else:
            msg = (
                f"cannot make interactions from {type(data).__name__}; pass Interactions, a tuple "
                "(users, items[, values[, timestamps]]), a mapping of columns, a pandas or polars DataFrame, "
                "a numpy structured array or a scipy sparse matrix"
            )
            raise TypeError(msg)
        missing = [c for c in ("user", "item") if c not in columns]
        if missing:
            msg = f"interaction data lacks the column(s) {missing}; found {short_repr(sorted(map(str, columns)), 400)}"
            raise DataError(msg)
        value_column = next((c for c in ("rating", "value") if c in columns), None)
        return cls(  # lists go in as they are: np.asarray would merge [1, "1"] into strings
            columns["user"],
            columns["item"],
            None if value_column is None else columns[value_column],
            columns.get("timestamp"),
        )


_HASHED_CODES_MIN = 1 << 16
"""From this many ids on, ids that are not a compact integer range are grouped by hashing
(``pandas.factorize``, else pyarrow's ``dictionary_encode``, when installed) and only the
distinct ones sorted; below it, or without either, ``numpy.unique`` sorts them all. On 20
million ids hashing takes 0.8 s (integers) and 0.3 s per million (text) against 7 s and 1.7 s
per million for sorting."""


def _dense_codes(ids: IntArray, low: int, n_slots: int) -> tuple[npt.NDArray[np.bool_], IntArray]:
    """Return which of the values ``low .. low + n_slots - 1`` occur in `ids`, and each id's rank among them."""
    present = np.zeros(n_slots, dtype=bool)
    shifted = ids - low
    present[shifted] = True
    rows = np.cumsum(present, dtype=np.int64) - 1
    return present, rows[shifted]


def _hashed_codes(ids: IdArray) -> tuple[IdArray, IntArray] | None:
    """Return the sorted distinct ids of `ids` and each entry's rank, or ``None`` without pandas or pyarrow.

    Equal ids are grouped by a hash table in one pass; then only the distinct ids are sorted.
    Both libraries order strings by code point, as numpy does.
    """
    import importlib.util

    if importlib.util.find_spec("pandas") is not None:
        import pandas as pd

        codes, distinct = pd.factorize(ids, sort=True, use_na_sentinel=False)
        return np.asarray(distinct, dtype=ids.dtype), np.asarray(codes, dtype=np.int64)
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow as pa

        array = pa.array(ids)
        if not isinstance(array, pa.Array):  # chunked: over 2 GiB of text
            return None
        encoded = array.dictionary_encode()
        unsorted = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=ids.dtype)
        order = np.argsort(unsorted, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return unsorted[order], rank[encoded.indices.to_numpy()]
    return None


class IdIndex:
    """A sorted set of external ids, mapping each id to a row and back.

    Rows follow the sort order of the ids, so ordering by row is ordering by id; rankers rely
    on this to break ties by id.

    Parameters
    ----------
    ids : array-like
        Unique ids; they are sorted.

    Raises
    ------
    DataError
        If the ids repeat.
    """

    __slots__ = ("ids",)

    def __init__(self, ids: npt.ArrayLike) -> None:
        arr = as_id_array(ids)
        unique = np.unique(arr)
        if len(unique) != len(arr):
            msg = f"an IdIndex needs unique ids; got {len(arr) - len(unique)} repeated"
            raise DataError(msg)
        unique.setflags(write=False)
        self.ids: IdArray = unique

    @classmethod
    def encode(cls, ids: IdArray) -> tuple[IdIndex, IntArray]:
        """Return the index of the distinct ids in `ids` and the row of each entry.

        Integer ids spanning a range not much larger than their number are mapped with a dense
        lookup table (linear time); many other ids are grouped by hashing and only the distinct
        ones sorted (with pandas or pyarrow installed); others are sorted (``numpy.unique``). All
        give what ``numpy.unique(ids, return_inverse=True)`` gives.
        """
        if ids.dtype.kind in "iu" and len(ids):
            low, high = int(ids.min()), int(ids.max())
            if high - low < max(4 * len(ids), 1 << 20):
                present, codes = _dense_codes(ids, low, high - low + 1)
                unique = (np.flatnonzero(present) + low).astype(ids.dtype)
                index = cls.__new__(cls)
                unique.setflags(write=False)
                index.ids = unique
                return index, codes
        if ids.dtype.kind in "iuU" and len(ids) >= _HASHED_CODES_MIN:
            grouped = _hashed_codes(ids)
            if grouped is not None:
                unique, codes = grouped
                index = cls.__new__(cls)
                unique.setflags(write=False)
                index.ids = unique
                return index, codes
        unique, codes = np.unique(ids, return_inverse=True)
        index = cls.__new__(cls)
        unique.setflags(write=False)
        index.ids = unique
        return index, codes.astype(np.int64).reshape(-1)

    def __len__(self) -> int:
        """Return the number of ids."""
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        """Return whether both indexes hold the same ids."""
        return isinstance(other, IdIndex) and np.array_equal(self.ids, other.ids)

    __hash__ = None  # type: ignore[assignment]

    @property
    def is_str(self) -> bool:
        """Whether the ids are strings."""
        return self.ids.dtype.kind == "U"

    def _coerce(self, ids: Any) -> IdArray:
        """Convert query ids to this index's id type where it can be done losslessly."""
        arr = np.atleast_1d(np.asarray(ids))
        if self.is_str and arr.dtype.kind != "U":
            return arr.astype(str)
        if not self.is_str and arr.dtype.kind in "UO":
            out = np.full(arr.shape, np.iinfo(np.int64).min, dtype=np.int64)
            for i, value in enumerate(arr.tolist()):
                try:
                    out[i] = int(value)
                except (TypeError, ValueError, OverflowError):  # beyond int64: in no int index
                    continue
            return out
        return as_id_array(arr)

    def rows(self, ids: Any, *, missing: Literal["raise", "mark"] = "raise", what: str = "id") -> IntArray:
        """Return the row of each id in `ids`.

        Parameters
        ----------
        ids : scalar or array-like
            External ids. Strings are matched against int indexes by value, and vice versa.
        missing : {"raise", "mark"}
            Raise for ids not in the index, or return ``-1`` for them.
        what : str
            Name used in the error, e.g. ``"user"``.

        Raises
        ------
        DataError
            If ``missing="raise"`` and an id is unknown; the message shows the first few.
        """
        query = self._coerce(ids)
        if len(self.ids) == 0:
            pos = np.zeros(len(query), dtype=np.int64)
            found = np.zeros(len(query), dtype=bool)
        else:
            pos = np.searchsorted(self.ids, query).astype(np.int64)
            clipped = np.minimum(pos, len(self.ids) - 1)
            found = self.ids[clipped] == query
            pos = clipped
        if missing == "raise" and not found.all():
            unknown = np.atleast_1d(np.asarray(ids))[~found]
            shown = ", ".join(repr(x) for x in unknown[:5].tolist())
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            msg = f"unknown {what} {shown}{more}; not in the training data"
            raise DataError(msg)
        return np.where(found, pos, -1)

    def ids_of(self, rows: npt.ArrayLike) -> IdArray:
        """Return the external ids of `rows`."""
        return self.ids[np.asarray(rows, dtype=np.int64)]


@dataclass(frozen=True, eq=False)
class InteractionMatrix:
    """The users x items matrix a matrix builder produces, with the ids of both axes.

    Attributes
    ----------
    matrix : scipy.sparse.csr_array of shape (n_users, n_items)
        ``float64`` weights, canonical (sorted indices, no duplicates, no explicit zeros).
    users, items : IdIndex
        The external ids of the rows and of the columns.
    """

    matrix: sp.csr_array
    users: IdIndex
    items: IdIndex

    def __post_init__(self) -> None:
        shape = (len(self.users), len(self.items))
        if self.matrix.shape != shape:
            msg = f"matrix has shape {self.matrix.shape}; the id indexes say {shape}"
            raise DataError(msg)

    @property
    def n_users(self) -> int:
        """Number of users (rows)."""
        return len(self.users)

    @property
    def n_items(self) -> int:
        """Number of items (columns)."""
        return len(self.items)

    @property
    def nnz(self) -> int:
        """Number of stored user-item entries."""
        return int(self.matrix.nnz)

    def item_major(self) -> sp.csr_array:
        """Return the items x users CSR matrix (the transpose), the input of item-item similarity."""
        return sp.csr_array(self.matrix.T)

    @classmethod
    def from_interactions(
        cls, interactions: Interactions, values: npt.ArrayLike, duplicates: DuplicatePolicy = "last"
    ) -> InteractionMatrix:
        """Build the users x items matrix of `values`, combining repeated (user, item) pairs.

        ``first`` and ``last`` follow timestamp order when there are timestamps, file order
        otherwise (ties keep file order). ``error`` raises on the first repeated pair.

        Parameters
        ----------
        interactions : Interactions
            The events; their ids define the matrix axes.
        values : ndarray of shape (len(interactions),)
            The weight of each event.
        duplicates : {"last", "first", "mean", "sum", "max", "error"}
            How to combine the weights of a repeated pair.

        Raises
        ------
        DataError
            If there are no events, or a pair repeats under ``duplicates="error"``.
        """
        if len(interactions) == 0:
            msg = "no interactions to build a matrix from"
            raise DataError(msg)
        weights = np.asarray(values, dtype=np.float64)
        if weights.shape != (len(interactions),):
            msg = f"values has shape {weights.shape}; expected ({len(interactions)},), one per interaction"
            raise DataError(msg)
        users, user_rows = IdIndex.encode(interactions.users)
        items, item_cols = IdIndex.encode(interactions.items)
        keys = user_rows * len(items) + item_cols
        time = interactions.timestamps if interactions.timestamps is not None else np.zeros(len(keys))
        order = np.lexsort((np.arange(len(keys)), time, keys))  # by pair, then time, then file order
        keys, weights = keys[order], weights[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        if duplicates == "error" and len(starts) < len(keys):
            dup = order[np.flatnonzero(keys[1:] == keys[:-1])[0]]
            msg = (
                f"user {interactions.users[dup].item()!r} and item {interactions.items[dup].item()!r} occur "
                f"more than once ({len(keys) - len(starts)} repeated pairs in all); set matrix.duplicates to "
                "last, first, mean, sum or max"
            )
            raise DataError(msg)
        if duplicates in ("first", "error"):
            combined = weights[starts]
        elif duplicates == "last":
            combined = weights[np.r_[starts[1:], len(keys)] - 1]
        elif duplicates == "sum":
            combined = np.add.reduceat(weights, starts)
        elif duplicates == "mean":
            combined = np.add.reduceat(weights, starts) / np.diff(np.r_[starts, len(keys)])
        else:
            combined = np.maximum.reduceat(weights, starts)
        unique_keys = keys[starts]
        rows, cols = np.divmod(unique_keys, len(items))
        matrix = sp.csr_array(
            sp.coo_array((combined.astype(np.float64), (rows, cols)), shape=(len(users), len(items)))
        )
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return cls(matrix, users, items)
