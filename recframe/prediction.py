"""Rating prediction from a neighbour graph: the weighted average of the neighbours' ratings.

For a pair ``(u, i)`` and the ``k`` nearest neighbours of one side (items of ``i`` for
item-CF, users of ``u`` for user-CF), the prediction is

    r̂(u, i) = sum_n sim(n) * r(n) / sum_n |sim(n)|

over the neighbours ``n`` that have a rating on the other side (``r(u, j)`` for a neighbour
item ``j``; ``r(v, i)`` for a neighbour user ``v``). When none has, or the user or item is not
in the training data, a documented fallback answers instead: the user's mean rating, the item's
mean rating or the global mean (the global mean where the user's or item's mean is asked for
and that user or item is not in training). Every
pair is computed with vectorised lookups, in chunks of bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.interfaces import NeighbourGraph

Fallback = Literal["user_mean", "item_mean", "global_mean"]
SOURCES = ("neighbours", "user_mean", "item_mean", "global_mean")
"""What answered each prediction, by code (the index in this tuple)."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predicted ratings of (user, item) pairs.

    Attributes
    ----------
    values : ndarray of shape (n_pairs,), float64
        The predictions.
    source : ndarray of shape (n_pairs,), int8
        What answered each pair: an index into :data:`SOURCES` (0: the neighbours).
    """

    values: FloatArray
    source: np.ndarray

    @property
    def n_fallback(self) -> int:
        """Number of pairs a fallback answered."""
        return int(np.count_nonzero(self.source))

    def source_names(self) -> np.ndarray:
        """Return each pair's source as a name (``"neighbours"``, ``"user_mean"``, ...)."""
        names: np.ndarray = np.asarray(SOURCES)[self.source]
        return names


def neighbour_average(
    ratings: sp.csr_array,
    graph: NeighbourGraph,
    users: IntArray,
    items: IntArray,
    *,
    axis: Literal["items", "users"],
    fallback: Fallback,
    chunk_pairs: int = 65_536,
) -> Predictions:
    """Predict ``r(u, i)`` for each pair from the neighbours of ``i`` (`axis` items) or of ``u``.

    Parameters
    ----------
    ratings : csr_array of shape (n_users, n_items)
        The training ratings, canonical (sorted, no duplicates).
    graph : NeighbourGraph
        Item neighbours of items (``axis="items"``) or user neighbours of users.
    users, items : ndarray of shape (n_pairs,), int64
        Rows and columns of the pairs; ``-1`` for a user or item not in training.
    axis : {"items", "users"}
        Which side's neighbours average.
    fallback : {"user_mean", "item_mean", "global_mean"}
        What answers a pair no neighbour can.
    chunk_pairs : int
        Pairs per chunk (memory grows with ``chunk_pairs * k``).
    """
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    n_users, n_items = ratings.shape
    values = np.zeros(len(users))
    answered = np.zeros(len(users), dtype=bool)
    rows = np.repeat(np.arange(n_users, dtype=np.int64), np.diff(ratings.indptr))
    keys = rows * n_items + ratings.indices  # sorted: CSR rows in order, columns sorted
    known = (users >= 0) & (items >= 0)
    for start in range(0, len(users), chunk_pairs):
        part = slice(start, start + chunk_pairs)
        u, i, ok = users[part], items[part], known[part]
        target = np.where(ok, i if axis == "items" else u, 0)
        neighbours = graph.indices[target]
        sims = np.where(ok[:, None] & (neighbours >= 0), graph.scores[target], 0.0)
        # item-CF looks up r(u, j) for each neighbour item j of i; user-CF r(v, i) for each neighbour v of u
        lookup = u[:, None] * n_items + neighbours if axis == "items" else neighbours * n_items + i[:, None]
        at = np.clip(np.searchsorted(keys, lookup), 0, max(len(keys) - 1, 0))
        rated = (sims != 0) & (neighbours >= 0) & (keys[at] == lookup) if len(keys) else np.zeros_like(sims, bool)
        weights = np.where(rated, sims, 0.0)
        found = ratings.data[at] if len(keys) else np.zeros_like(sims)
        denominator = np.abs(weights).sum(axis=1)
        has = denominator > 0
        values[part] = np.divide((weights * found).sum(axis=1), denominator, out=np.zeros(len(u)), where=has)
        answered[part] = has
    source = np.zeros(len(users), dtype=np.int8)
    missing = ~answered
    if missing.any():
        fill, used = _fallback_values(ratings, users[missing], items[missing], fallback)
        values[missing] = fill
        source[missing] = used
    return Predictions(values, source)


def _fallback_values(
    ratings: sp.csr_array, users: IntArray, items: IntArray, fallback: Fallback
) -> tuple[FloatArray, np.ndarray]:
    """Return the fallback prediction of each pair and the code of what gave it."""
    global_mean = float(ratings.data.mean()) if ratings.nnz else 0.0
    values = np.full(len(users), global_mean)
    used = np.full(len(users), SOURCES.index("global_mean"), dtype=np.int8)
    if fallback == "global_mean":
        return values, used
    matrix = ratings if fallback == "user_mean" else sp.csr_array(ratings.T)
    rows = users if fallback == "user_mean" else items
    counts = np.diff(matrix.indptr)
    sums = np.bincount(np.repeat(np.arange(len(counts)), counts), weights=matrix.data, minlength=len(counts))
    means = np.divide(sums, counts, out=np.full(len(counts), global_mean), where=counts > 0)
    ok = rows >= 0
    has = np.zeros(len(rows), dtype=bool)
    has[ok] = counts[rows[ok]] > 0
    values[has] = means[rows[has]]
    used[has] = SOURCES.index(fallback)
    return values, used
