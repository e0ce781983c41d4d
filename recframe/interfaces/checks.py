"""The engine's checks of what plugins return: shapes, dtypes and ranges of the contract result types.

A plugin that breaks its contract is named in the error, so its author (or its user) knows
where to look; the run never goes on with malformed intermediate results. The checks live
beside the contracts they enforce; the checks of plain numbers (metric values, predictions)
are in :mod:`recframe.interfaces.value_checks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from recframe.data import IdIndex, InteractionMatrix, Interactions, check_measurable
from recframe.errors import DataError, PluginError, short_repr, short_text
from recframe.interfaces.rankers import TopN
from recframe.interfaces.similarity import NeighbourGraph
from recframe.interfaces.value_checks import check_finite, number


def _check_array(value: object, who: str, what: str, kinds: str, expected: str) -> np.ndarray:
    """Return `value` if it is a numpy array whose dtype kind is one of `kinds`."""
    if not isinstance(value, np.ndarray):
        msg = f"{who} returned {what} of type {short_text(type(value).__name__)}; expected a numpy array of {expected}"
        raise PluginError(msg)
    if value.dtype.kind not in kinds:
        msg = f"{who} returned {what} of dtype {value.dtype}; expected {expected}"
        raise PluginError(msg)
    return value


CHECK_BLOCK = 1 << 22
"""About the most list entries checked at once, bounding the check's temporary memory."""


def _check_lists(
    rows: np.ndarray,
    scores: np.ndarray,
    who: str,
    entry: str,
    row_name: Callable[[int], str],
    own_rows: np.ndarray | None = None,
) -> None:
    """Check ranked rows (``-1`` padded): padding last, scores non-increasing, no entry twice in a row.

    `rows` are already known to be integers in range; `row_name(i)` names the owner of row `i`
    of the batch in a message (``user row 3``). With `own_rows`, row `i` must not contain
    ``own_rows[i]`` (a query row as its own neighbour). Vectorised over blocks of rows, so the
    temporary arrays stay small for a large graph.
    """
    step = max(1, CHECK_BLOCK // max(1, rows.shape[1]))
    for start in range(0, rows.shape[0], step):
        block = slice(start, start + step)
        own = None if own_rows is None else own_rows[block]
        _check_block(rows[block], scores[block], who, entry, row_name, start, own)


def _check_block(
    rows: np.ndarray,
    scores: np.ndarray,
    who: str,
    entry: str,
    row_name: Callable[[int], str],
    offset: int,
    own_rows: np.ndarray | None,
) -> None:
    """Check one block of rows, the first being row `offset` of the batch, for :func:`_check_lists`."""
    entries = f"{entry}s"
    real = rows >= 0
    early = real[:, 1:] & ~real[:, :-1]
    if np.any(early):
        line = offset + int(np.flatnonzero(early.any(axis=1))[0])
        msg = f"{who} returned padding (-1) before real {entries} for {row_name(line)}; padding comes last"
        raise PluginError(msg)
    rising = real[:, 1:] & real[:, :-1] & (scores[:, 1:] > scores[:, :-1])
    if np.any(rising):
        line = offset + int(np.flatnonzero(rising.any(axis=1))[0])
        msg = f"{who} returned {entries} not sorted by decreasing score for {row_name(line)}; put the best first"
        raise PluginError(msg)
    if rows.shape[1] > 1:
        ordered = np.sort(rows, axis=1)
        twice = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if np.any(twice):
            local = int(np.flatnonzero(twice.any(axis=1))[0])
            twice_row, line = int(ordered[local, 1:][twice[local]][0]), offset + local
            msg = (
                f"{who} returned {entry} row {twice_row} more than once for {row_name(line)}; "
                f"each {entry} appears at most once in a list (only -1 padding repeats)"
            )
            raise PluginError(msg)
    if own_rows is not None and rows.size:
        own = rows == own_rows[:, None]
        if np.any(own):
            line = offset + int(np.flatnonzero(own.any(axis=1))[0])
            msg = (
                f"{who} returned {row_name(line)} as its own {entry}; "
                f"neighbours() must never return the query row itself"
            )
            raise PluginError(msg)


def check_interactions(result: object, who: str) -> Interactions:
    """Return `result` if it is non-empty :class:`Interactions`."""
    if not isinstance(result, Interactions):
        msg = f"{who} returned {type(result).__name__}; expected Interactions"
        raise PluginError(msg)
    if len(result) == 0:
        msg = f"{who} returned no interactions; there is nothing to fit"
        raise DataError(msg)
    return result


@dataclass(frozen=True)
class EntryFacts:
    """What one pass over a CSR matrix's stored entries found, read by :func:`check_matrix` instead of its passes.

    Made by :func:`recframe.engine.entry_facts.entry_facts` (compiled, in parallel); the checks
    then read only the matrix's row offsets. Where a fact shows a problem, the check runs its own
    pass anyway, so its message is the same either way.

    Attributes
    ----------
    nnz : int
        The stored entries the facts are of (checked against the matrix's).
    unordered : int
        Entries whose column is not above the one before it in their row.
    low_index, high_index : int
        The smallest and largest column index (0 and -1 without entries).
    non_finite, zeros : int
        Values that are NaN or infinite, and values that are 0.
    low_value, high_value : float
        The smallest and largest finite value (``inf`` and ``-inf`` without any), or bounds of
        them (at most the smallest, at least the largest) where the facts were derived without
        a pass (an update's merged matrix, :func:`~recframe.engine.merge_cells`): the checks
        read them as bounds.
    """

    nnz: int
    unordered: int
    low_index: int
    high_index: int
    non_finite: int
    zeros: int
    low_value: float
    high_value: float


def check_matrix(
    result: object, who: str, interactions: Interactions | None = None, facts: EntryFacts | None = None
) -> InteractionMatrix:
    """Return `result` if it is a non-empty, finite, canonical ``float64`` CSR :class:`InteractionMatrix`.

    Canonical: each row's column indices strictly increase (sorted, no duplicates) and no entry
    is an explicit zero. Given the `interactions` it was built from, its user and item ids must
    be among theirs (a builder may drop events, never invent ids). Given the `facts` of its
    entries, the checks read them instead of the entries (the same errors either way).
    """
    if not isinstance(result, InteractionMatrix):
        msg = f"{who} returned {type(result).__name__}; expected InteractionMatrix"
        raise PluginError(msg)
    matrix = result.matrix
    if not (sp.issparse(matrix) and matrix.format == "csr"):
        msg = f"{who} returned a {type(matrix).__name__} matrix; expected a scipy CSR matrix"
        raise PluginError(msg)
    if matrix.dtype != np.float64:
        msg = f"{who} returned a matrix of dtype {matrix.dtype}; expected float64"
        raise PluginError(msg)
    if facts is not None and facts.nnz != len(matrix.data):
        msg = f"the entry facts are of {facts.nnz} entries, but {who} returned a matrix of {len(matrix.data)}"
        raise ValueError(msg)
    if (facts.non_finite > 0) if facts is not None else not np.all(np.isfinite(matrix.data)):
        msg = f"{who} returned a matrix with non-finite values"
        raise PluginError(msg)
    if matrix.nnz == 0:
        msg = f"{who} built an empty matrix ({result.n_users} users x {result.n_items} items); nothing to fit"
        raise DataError(msg)
    check_canonical(matrix, who, facts)
    if interactions is not None:
        check_matrix_ids(result, interactions, who)
    check_measurable(result, who, None if facts is None else (facts.low_value, facts.high_value))
    return result


def check_canonical(matrix: sp.csr_array, who: str, facts: EntryFacts | None = None) -> None:
    """Raise :class:`PluginError` naming `who` unless `matrix` is well-formed, canonical CSR.

    Given the `facts` of its entries, only the row offsets are read (and the entries where a
    fact shows a problem, to say where).
    """
    n_rows, n_cols = matrix.shape
    indptr, indices = np.asarray(matrix.indptr), np.asarray(matrix.indices)
    if (
        indptr.shape != (n_rows + 1,)
        or indptr[0] != 0
        or indptr[-1] != len(indices)
        or np.any(np.diff(indptr) < 0)
        or len(matrix.data) != len(indices)
    ):
        msg = f"{who} returned a CSR matrix whose indptr is malformed; build it with scipy.sparse.csr_array"
        raise PluginError(msg)
    low, high = (facts.low_index, facts.high_index) if facts is not None else _index_range(indices)
    if len(indices) and (low < 0 or high >= n_cols):
        msg = f"{who} returned a matrix with column indices outside 0..{n_cols - 1}"
        raise PluginError(msg)
    if facts is None or facts.unordered:
        _check_order(indptr, indices, who)
    zeros = facts.zeros if facts is not None else int(np.count_nonzero(matrix.data == 0))
    if zeros:
        msg = (
            f"{who} returned a matrix storing {zeros} explicit zeros; an InteractionMatrix stores no zero "
            "entries: call eliminate_zeros()"
        )
        raise PluginError(msg)


def _index_range(indices: np.ndarray) -> tuple[int, int]:
    """Return the smallest and largest of the column `indices` (0 and -1 if there are none)."""
    return (int(indices.min()), int(indices.max())) if len(indices) else (0, -1)


def out_of_order(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Return, for each stored entry but the last, whether the next one is in its row without a higher column.

    Compared in the indices' own dtype, without a copy; the first entry of each row is not
    compared with the last of the row before.
    """
    after = indices[1:] <= indices[:-1]  # entry p + 1 must follow entry p in its row
    row_ends = indptr[1:-1]  # the first entry of each next row follows position end - 1
    after[row_ends[(row_ends > 0) & (row_ends < len(indices))] - 1] = False
    return after


def _check_order(indptr: np.ndarray, indices: np.ndarray, who: str) -> None:
    """Raise :class:`PluginError` naming `who` and the first row whose columns do not strictly increase."""
    unordered = np.flatnonzero(out_of_order(indptr, indices))
    if unordered.size:
        first = int(unordered[0])
        row = int(np.searchsorted(indptr, first, side="right")) - 1
        problem = "repeated" if indices[first + 1] == indices[first] else "unsorted"
        msg = (
            f"{who} returned a matrix that is not canonical: {unordered.size} {problem} column indices "
            f"(first in row {row}); an InteractionMatrix needs sorted indices without duplicates: "
            "call sum_duplicates() and sort_indices()"
        )
        raise PluginError(msg)


def check_matrix_ids(result: InteractionMatrix, interactions: Interactions, who: str) -> None:
    """Raise :class:`PluginError` naming `who` unless the matrix's ids are among the interactions' ids."""
    for axis, index, ids in (("user", result.users, interactions.users), ("item", result.items, interactions.items)):
        if index.ids.dtype.kind != ids.dtype.kind:
            msg = (
                f"{who} returned {axis} ids of dtype {index.ids.dtype}, but the interactions' {axis} ids are "
                f"{ids.dtype}; the matrix's ids must be those of the interactions"
            )
            raise PluginError(msg)
        known, _ = IdIndex.encode(ids)
        found = known.rows(index.ids, missing="mark") >= 0
        if not found.all():
            invented = index.ids[~found]
            msg = (
                f"{who} returned a matrix with {invented.size} {axis} ids not in the interactions "
                f"(e.g. {short_repr(invented[:5].tolist())}); its rows and columns must be the interactions' "
                f"{axis}s: build it with InteractionMatrix.from_interactions()"
            )
            raise PluginError(msg)


def check_graph(
    result: object, who: str, n_rows: int, n_targets: int, *, query_rows: np.ndarray | None = None
) -> NeighbourGraph:
    """Return `result` if it is a well-formed neighbour graph of `n_rows` rows over `n_targets`.

    Checked at run time: the type, array types and dtypes (integer indices, float scores), the
    shape, ``n_targets``, the index range ``[-1, n_targets)``, finite scores, padding last,
    scores non-increasing along each row and no neighbour twice in a row. With `query_rows`
    (the fitted row each graph row was asked for, as for ``neighbours()``) no row may be its own
    neighbour; ``query()`` results of new vectors are not checked for that.
    """
    if not isinstance(result, NeighbourGraph):
        msg = f"{who} returned {short_text(type(result).__name__)}; expected NeighbourGraph"
        raise PluginError(msg)
    ind = _check_array(result.indices, who, "neighbour indices", "iu", "an integer dtype (int64)")
    scores = _check_array(result.scores, who, "similarities", "fiu", "a float dtype (float64)")
    if ind.ndim != 2 or ind.shape[0] != n_rows or scores.shape != ind.shape:
        msg = f"{who} returned a graph of shape {ind.shape} (scores {scores.shape}); expected ({n_rows}, k) for both"
        raise PluginError(msg)
    if not isinstance(result.n_targets, int | np.integer) or result.n_targets != n_targets:
        msg = f"{who} returned a graph over {number(result.n_targets)} rows; expected {n_targets}"
        raise PluginError(msg)
    if ind.size and (ind.min() < -1 or ind.max() >= n_targets):
        bad = ind[(ind < -1) | (ind >= n_targets)]
        msg = f"{who} returned neighbour index {int(bad[0])} outside [-1, {n_targets}) (of {n_targets} rows)"
        raise PluginError(msg)

    def row_name(line: int) -> str:
        return f"row {int(query_rows[line]) if query_rows is not None else line}"

    check_finite(scores, who, "similarity", row_name)

    own = None if query_rows is None else np.asarray(query_rows)
    _check_lists(ind, scores, who, "neighbour", row_name, own)
    if ind.dtype.kind == "u":  # in range, so signed 64 bits hold them: what every reader of a graph expects (-1)
        return NeighbourGraph(ind.astype(np.int64), scores, n_targets)
    return result


def check_topn(
    result: object,
    who: str,
    n_users: int,
    n: int,
    n_items: int,
    *,
    users: np.ndarray | None = None,
    hint: Callable[[], str] | None = None,
) -> TopN:
    """Return `result` if it is a well-formed :class:`TopN` of `n_users` lists of length `n`.

    Checked at run time: the type, array types and dtypes (integer items, float scores), the
    shape, the item range ``[-1, n_items)``, a finite score for every real item (no ``nan``,
    no ``inf``), padding last, scores non-increasing and no item twice in one list. `users`
    (the user rows asked for) only name the offending list in messages; `hint()`, called only
    then, adds to the message of a non-finite score where it may come from (``"; ..."``).
    """
    if not isinstance(result, TopN):
        msg = f"{who} returned {short_text(type(result).__name__)}; expected TopN"
        raise PluginError(msg)
    items = _check_array(result.items, who, "item rows", "iu", "an integer dtype (int64)")
    scores = _check_array(result.scores, who, "scores", "fiu", "a float dtype (float64)")
    if items.shape != (n_users, n) or scores.shape != (n_users, n):
        msg = f"{who} returned lists of shape {items.shape} (scores {scores.shape}); expected {(n_users, n)}"
        raise PluginError(msg)
    if items.size and (items.min() < -1 or items.max() >= n_items):
        bad = items[(items < -1) | (items >= n_items)]
        msg = f"{who} returned item row {int(bad[0])} outside [-1, {n_items}) (of {n_items} items)"
        raise PluginError(msg)

    def user_name(line: int) -> str:
        if users is None or users[line] < 0:
            return f"the user at position {line} of the batch"
        return f"user row {int(users[line])}"

    real = items >= 0
    unscored = real & ~np.isfinite(scores)
    if np.any(unscored):
        line = int(np.flatnonzero(unscored.any(axis=1))[0])
        value = number(scores[line][unscored[line]][0])
        msg = (
            f"{who} returned the score {value} for a recommended item for {user_name(line)}; "
            f"scores must be finite numbers (only -1 padding may score nan){hint() if hint else ''}"
        )
        raise PluginError(msg)

    _check_lists(items, scores, who, "item", user_name)
    if items.dtype.kind == "u":  # in range: int64 holds them, as every reader of a list expects (-1 padding)
        return TopN(items.astype(np.int64), scores)
    return result


def check_split(result: object, who: str, n_total: int, *, given: bool = False) -> tuple[Interactions, Interactions]:
    """Return ``(train, test)`` if `result` is two non-empty :class:`Interactions` sharing out all events.

    A `given` split (a predefined test part) only has to have both parts non-empty. An empty
    part is the data's fault as much as the splitter's (too few events to hold any out): a
    :class:`DataError` naming the splitter, as the built-in splitters raise.
    """
    if not (
        isinstance(result, tuple)
        and len(result) == 2
        and isinstance(result[0], Interactions)
        and isinstance(result[1], Interactions)
    ):
        msg = f"{who} returned {type(result).__name__}; expected a (train, test) pair of Interactions"
        raise PluginError(msg)
    train, test = result
    if given:
        for part, events in (("training", train), ("test", test)):
            if len(events) == 0:
                msg = f"the predefined {part} part is empty"
                raise DataError(msg)
        return train, test
    if len(train) + len(test) != n_total:
        msg = f"{who} split {n_total} interactions into {len(train)} + {len(test)}; events were lost or repeated"
        raise PluginError(msg)
    for part, events in (("test", test), ("training", train)):
        if len(events) == 0:  # (the built-in splitters refuse it themselves, saying what to change)
            msg = f"{who} left no {part} interactions out of {n_total}; a split needs events on both sides"
            raise DataError(msg)
    return train, test
