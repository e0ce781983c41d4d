"""The id index: :class:`IdIndex` maps external ids (ints or strings) to matrix rows and back.

Rows follow the sort order of the ids; :meth:`IdIndex.encode` builds an index and the row of
every entry of an id column in about linear time (a dense lookup table or hashing, when it can).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from recframe.data.ids import IdArray, IntArray, as_id_array, narrowed, refuse_nul_ended, whole_number
from recframe.errors import DataError

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
        ordered = len(arr) > 1 and bool((arr[1:] > arr[:-1]).all())  # sorted and distinct: one pass, no sort
        unique = arr.copy() if ordered else np.unique(arr)
        if len(unique) != len(arr):
            msg = f"an IdIndex needs unique ids; got {len(arr) - len(unique)} repeated"
            raise DataError(msg)
        unique.setflags(write=False)
        self.ids: IdArray = unique

    @classmethod
    def _of_sorted(cls, unique: IdArray) -> IdIndex:
        """Return the index of `unique`, ids known to be sorted and distinct (not checked), made read-only."""
        index = cls.__new__(cls)
        unique.setflags(write=False)
        index.ids = unique
        return index

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
                return cls._of_sorted(unique), codes
        if ids.dtype.kind in "iuU" and len(ids) >= _HASHED_CODES_MIN:
            grouped = _hashed_codes(ids)
            if grouped is not None:
                unique, codes = grouped
                return cls._of_sorted(unique), codes
        unique, codes = np.unique(ids, return_inverse=True)
        return cls._of_sorted(unique), codes.astype(np.int64).reshape(-1)

    def kept(self, keep: npt.NDArray[np.bool_]) -> IdIndex:
        """Return the index of the ids where `keep` (one flag per row) is true: what a removal leaves.

        Text ids come back in the narrowest type that holds them where an id left out set their
        width (:func:`~recframe.data.ids.narrowed`): the model keeps no trace of the length of a
        forgotten id.
        """
        return self._of_sorted(narrowed(self.ids[keep], self.ids[~keep]))

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
        if isinstance(ids, str | list | tuple) or (isinstance(ids, np.ndarray) and ids.dtype.kind == "O"):
            refuse_nul_ended([ids] if isinstance(ids, str) else list(ids), "ids")  # before numpy drops the NUL
        arr = np.atleast_1d(np.asarray(ids))
        if self.is_str and arr.dtype.kind != "U":
            return arr.astype(str)
        if not self.is_str and arr.dtype.kind in "UO":
            out = np.full(arr.shape, np.iinfo(np.int64).min, dtype=np.int64)
            for i, value in enumerate(arr.tolist()):
                number = whole_number(value) if isinstance(value, str) else value
                if number is None:  # text naming no integer ('1_0', non-ASCII digits): unknown
                    continue
                try:
                    out[i] = int(number)
                except (TypeError, ValueError, OverflowError):  # beyond int64: in no int index
                    continue
            return out
        return arr if arr.dtype.kind == "U" else as_id_array(arr)  # any text is an id to look up, found or not

    def rows(self, ids: Any, *, missing: Literal["raise", "mark"] = "raise", what: str = "id") -> IntArray:
        """Return the row of each id in `ids`.

        Parameters
        ----------
        ids : scalar or array-like
            External ids. Strings are matched against int indexes by value (ASCII digits with an
            optional sign, spaces around them: ``'1_0'`` and non-ASCII digits name no id), and vice versa.
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
