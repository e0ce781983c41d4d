"""The events a data source returns: :class:`Interactions`, columnar numpy arrays, one entry per event."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data.columns import FloatArray, numeric_column, timestamp_column
from recframe.data.ids import IdArray, as_id_array
from recframe.errors import DataError, short_repr


def _select(column: np.ndarray, rows: npt.NDArray[Any]) -> np.ndarray:
    picked: np.ndarray = column[rows]
    return picked


def _join(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.concatenate([first, second])


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

    COLUMNS: ClassVar[tuple[str, ...]] = ("users", "items", "values", "timestamps")
    """The columns, in the order ``_unchecked`` takes them (``values`` and ``timestamps`` may be ``None``)."""

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

    def column_range(self, name: str) -> tuple[float, float] | None:
        """Return the smallest and the largest entry of the column `name` (``values`` or ``timestamps``).

        ``None`` if the events have no such column or no events. NaN, where a column has one,
        is returned as numpy's ``min`` and ``max`` return it. An updated model's events (joined
        only when read) answer from their parts without joining them, which is why a matrix
        builder's ``update`` should ask this rather than read ``change.before``'s column.

        Raises
        ------
        ValueError
            If `name` is not ``values`` or ``timestamps``.
        """
        if name not in ("values", "timestamps"):
            msg = f"column_range takes 'values' or 'timestamps', not {name!r}"
            raise ValueError(msg)
        column = getattr(self, name)
        if column is None or not len(column):
            return None
        return float(column.min()), float(column.max())

    def take(
        self, rows: npt.NDArray[Any], pick: Callable[[np.ndarray, npt.NDArray[Any]], np.ndarray] | None = None
    ) -> Interactions:
        """Return the events selected by an index array or boolean mask, in that order.

        They are not checked again (a selection of checked events). `pick(column, rows)` selects
        from one column (``column[rows]`` by default; a caller may pass a parallel copy).
        """
        selected = pick or _select
        return self._unchecked(
            selected(self.users, rows),
            selected(self.items, rows),
            None if self.values is None else selected(self.values, rows),
            None if self.timestamps is None else selected(self.timestamps, rows),
        )

    @classmethod
    def concat(
        cls,
        first: Interactions,
        second: Interactions,
        join: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    ) -> Interactions:
        """Return the events of `first` followed by those of `second`, without checking them again.

        Both must have the same columns and ids of the same kind (both text or both integers):
        callers check that first (an update names what differs). `join(a, b)` joins one column
        (``np.concatenate`` by default; a caller may pass a parallel copy).
        """
        joined = join or _join

        def both(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else joined(a, b)

        return cls._unchecked(
            joined(first.users, second.users),
            joined(first.items, second.items),
            both(first.values, second.values),
            both(first.timestamps, second.timestamps),
        )

    @classmethod
    def _unchecked(
        cls, users: IdArray, items: IdArray, values: FloatArray | None, timestamps: FloatArray | None
    ) -> Interactions:
        """Return events of columns that are already checked (a selection or a join of checked events)."""
        events = cls.__new__(cls)
        events.users, events.items, events.values, events.timestamps = users, items, values, timestamps
        return events

    def fingerprint(self) -> str:
        """Return a sha256 hex digest of the events, stable across machines and runs."""
        digest = hashlib.sha256()
        for name in self.COLUMNS:
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
