"""Optional numeric and timestamp columns of interactions, checked and converted to ``float64``.

:func:`numeric_column` checks values (ratings, counts) and :func:`timestamp_column` turns event
times of any type (numbers, numpy, pandas and Python date-times) into Unix seconds; every data
path converts its columns here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data.ids import _entry, _is_nan
from recframe.errors import DataError, short_repr

FloatArray = npt.NDArray[np.float64]


def plain_number(text: str) -> float:
    """Return `text` as a float; raise ``ValueError`` unless it is a number as files write them.

    Python's ``float`` also reads spellings no CSV writer produces and no fast CSV reader
    accepts: digits grouped by underscores (``1_000``) and non-ASCII digits (``\u0663``,
    ``\uff13``). Those are refused here, so that every data source gives the same numbers or
    an error. Spaces around the number, ``inf`` and ``nan`` parse (callers refuse the last two
    as not finite).
    """
    if not _plain_text(text):
        msg = f"not a plain number: {text!r}"
        raise ValueError(msg)
    return float(text)


def _plain_text(text: str) -> bool:
    """Whether `text`, white space around it aside (``float`` strips it), has no ``_`` and only ASCII."""
    return "_" not in text and text.strip().isascii()


def _first_odd_text(column: Any) -> int | None:
    """Return the position of the first text entry of `column` that ``float`` reads but :func:`plain_number` refuses."""
    if isinstance(column, np.ndarray):
        if column.dtype.kind not in "UO":
            return None
        values = column.reshape(-1).tolist()
    elif isinstance(column, list | tuple):
        values = list(column)
    else:
        return None
    try:
        joined = "".join(values)  # text only (most text columns): one check of all of it
    except TypeError:
        joined = "".join(value for value in values if isinstance(value, str))
    if joined.isascii() and "_" not in joined:
        return None
    return next((i for i, value in enumerate(values) if isinstance(value, str) and not _plain_text(value)), None)


def numeric_column(name: str, column: npt.ArrayLike | None, n: int) -> FloatArray | None:
    """Return an optional numeric column as finite ``float64`` of length `n`.

    Numbers given as text are read as :func:`plain_number` reads them (``"1_000"`` and
    non-ASCII digits are not numbers).

    Raises
    ------
    DataError
        Naming `name` and the first entry that is not a finite number (shortened).
    """
    if column is None:
        return None
    odd = _first_odd_text(column)
    if odd is not None:
        value = np.asarray(column, dtype=object).reshape(-1)[odd]
        msg = f"{_entry(name, odd)} is {short_repr(value)}; every entry must be a finite number (ASCII digits, no '_')"
        raise DataError(msg)
    if np.iscomplexobj(column):  # numpy would drop the imaginary parts, with a warning at most
        raw = np.asarray(column).reshape(-1)
        at = int(np.argmax(raw.imag != 0)) if raw.size else 0
        shown = f"{_entry(name, at)} is {short_repr(complex(raw[at]))}; " if raw.size else ""
        msg = f"{name} are complex numbers ({shown}every entry must be a real number)"
        raise DataError(msg)
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
