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
    if not isinstance(ids, np.ndarray):
        ids = list(ids)  # type: ignore[arg-type]
        try:
            arr = np.asarray(ids)
        except (ValueError, OverflowError, TypeError):
            arr = np.asarray(ids, dtype=object)
        if arr.dtype.kind in "US" and not all(isinstance(x, str | bytes) for x in ids):
            arr = np.asarray(ids, dtype=object)  # mixed: numpy would have made them all strings
    else:
        arr = ids
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
            if np.isfinite(bad) and bad == round(bad):
                msg = f"{what}: id {bad!r} exceeds the int64 range; store such ids as text"
            else:
                msg = f"{what} must be integers or strings; got the float {bad!r}"
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
        for x in arr:
            if isinstance(x, float | np.floating):
                if not (np.isfinite(x) and x == round(x)):
                    msg = f"{what} must be integers or strings; got the float {float(x)!r}"
                    raise DataError(msg)
                if not -_INT64_LIMIT <= x < _INT64_LIMIT:
                    msg = f"{what}: id {float(x)!r} exceeds the int64 range; store such ids as text"
                    raise DataError(msg)
            elif not low <= int(x) <= high:
                msg = f"{what}: id {short_repr(int(x))} exceeds the int64 range; store such ids as text"
                raise DataError(msg)
        return np.array([int(x) for x in arr], dtype=np.int64)
    if "text" in kinds and "int" in kinds:
        number = next(x for x in arr if not isinstance(x, str))
        text = next(x for x in arr if isinstance(x, str))
        msg = (
            f"{what} must be all integers or all strings; got both integers (e.g. {short_repr(number)}) and "
            f"strings (e.g. {short_repr(text)}); "
            "store every id as one type (text, say)"
        )
        raise DataError(msg)
    odd = next(x for x in arr if not isinstance(x, str | int | float | np.integer | np.floating) or isinstance(
        x, bool | np.bool_))
    msg = f"{what} must be integers or strings; got {type(odd).__name__} {short_repr(odd)}"
    raise DataError(msg)


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
        Event times as numbers (e.g. Unix seconds).

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
        self.timestamps = numeric_column("timestamps", timestamps, n)

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
            return values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)

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
        return cls(
            np.asarray(columns["user"]),
            np.asarray(columns["item"]),
            None if value_column is None else np.asarray(columns[value_column]),
            None if "timestamp" not in columns else np.asarray(columns["timestamp"]),
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
                except (TypeError, ValueError):
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
