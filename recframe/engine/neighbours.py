"""Top-n ranking under the per-target rule, without visiting every (user, item, neighbour) slot.

Under the per-target rule a user's score for item ``i`` sums ``sim * h`` over the ``p`` most
similar neighbours *that qualify*: for item-CF the neighbours ``j`` of ``i`` the user has
(``h = h(u, j)``), for user-CF the user's neighbours ``v`` who have ``i`` (``h = h(v, i)``).
Both are enumerated as *terms* ``(user, item, rank of the neighbour, sim * h)``, exactly the
multiply-adds of the ordinary sparse product: item-CF walks each of the user's items ``j`` to
the items that list ``j`` as a neighbour (the graph, reversed); user-CF walks each neighbour
``v`` of the user to ``v``'s items. Sorting the terms of a block of users by (user, item,
rank) and keeping the first ``p`` of each (user, item) gives the scores. Blocks are sized so
that their terms fit the memory budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.kernel_inputs import check_memory
from recframe.engine.topn import top_n_entries
from recframe.interfaces import NeighbourGraph, TopN

_TERM_BYTES = 48
"""Bytes one term takes while a block is aggregated (indices, ranks, values and sort order)."""


def per_target_top_n(
    axis: Literal["items", "users"],
    graph: NeighbourGraph,
    history: sp.csr_array,
    queries: sp.csr_array,
    p: int | None,
    n: int,
    excluded: sp.csr_array | None,
    max_memory_mb: int,
) -> TopN:
    """Return each query's top-`n` items by the per-target rule.

    Parameters
    ----------
    axis : {"items", "users"}
        Item-CF (`graph` holds items' neighbours) or user-CF (users' neighbours).
    graph : NeighbourGraph
        Item-CF: the item graph. User-CF: the queries' own neighbours among the training users
        (one row per query).
    history : csr_array of shape (n_users, n_items)
        User-CF: the training users' interactions (the values ``h``).
    queries : csr_array of shape (n_queries, n_items)
        Item-CF: each query's interactions (the values ``h``); user-CF: unused but for its shape.
    p : int or None
        Neighbours kept per (query, item); all qualifying ones for ``None``.
    n : int
        List length.
    excluded : csr_array of shape (n_queries, n_items), optional
        Items never recommended to each query (seen items, explicit exclusions).
    max_memory_mb : int
        Budget for one block's terms.

    Returns
    -------
    TopN
        ``(n_queries, n)`` items (``-1`` padded) and scores (``nan`` padded), best first.
    """
    max_memory_mb = check_memory(max_memory_mb)
    n_queries, n_items = queries.shape
    fan = _reversed(graph) if axis == "items" else _FanOut(history.indptr, history.indices, history.data, None)
    cumulative = np.cumsum(_term_counts(axis, graph, queries, fan))
    budget = max(1, (max_memory_mb << 20) // _TERM_BYTES)
    out_items = np.full((n_queries, n), -1, dtype=np.int64)
    out_scores = np.full((n_queries, n), np.nan)
    start = 0
    while start < n_queries:
        done = cumulative[start - 1] if start else 0
        stop = min(n_queries, max(start + 1, int(np.searchsorted(cumulative, done + budget, side="right"))))
        rows, columns, scores = _block_scores(axis, graph, queries, fan, start, stop, p)
        if excluded is not None:
            banned = sp.coo_array(sp.csr_array(excluded[start:stop]))
            keep = ~np.isin(rows * n_items + columns, banned.row.astype(np.int64) * n_items + banned.col)
            rows, columns, scores = rows[keep], columns[keep], scores[keep]
        out_items[start:stop], out_scores[start:stop] = top_n_entries(rows, columns, scores, stop - start, n)
        start = stop
    return TopN(out_items, out_scores)


@dataclass(frozen=True, eq=False)
class _FanOut:
    """Where each neighbour leads, CSR-like: row ``nb`` lists ``targets`` (items) with ``values``.

    Item-CF: row ``j`` lists the items ``i`` that have ``j`` as a neighbour, with ``sim(i, j)`` and
    ``j``'s rank in ``i``'s row (``ranks``). User-CF: row ``v`` is ``v``'s items with ``h(v, i)``
    (the rank comes from the query's own row instead).
    """

    indptr: IntArray
    targets: IntArray
    values: FloatArray
    ranks: IntArray | None


def _reversed(graph: NeighbourGraph) -> _FanOut:
    """Return the item graph reversed, keeping each entry's rank in its original row."""
    valid = (graph.indices >= 0) & (graph.scores > 0)
    owner, rank = np.nonzero(valid)
    neighbour = graph.indices[owner, rank]
    order = np.lexsort((owner, neighbour))
    indptr = np.r_[0, np.cumsum(np.bincount(neighbour, minlength=graph.n_targets))].astype(np.int64)
    owners, ranks = owner[order].astype(np.int64), rank[order].astype(np.int64)
    return _FanOut(indptr, owners, graph.scores[owner, rank][order], ranks)


def _term_counts(axis: str, graph: NeighbourGraph, queries: sp.csr_array, fan: _FanOut) -> IntArray:
    """Return how many terms each query generates."""
    fan_out = np.diff(fan.indptr).astype(np.int64)
    if axis == "items":  # each of the query's items j fans out to the items listing j
        owner = np.repeat(np.arange(queries.shape[0]), np.diff(queries.indptr))
        counts = np.bincount(owner, weights=fan_out[queries.indices], minlength=queries.shape[0])
    else:
        valid = (graph.indices >= 0) & (graph.scores > 0)
        counts = np.where(valid, fan_out[np.maximum(graph.indices, 0)], 0).sum(axis=1)
    result: IntArray = np.asarray(counts, dtype=np.int64)
    return result


def _block_scores(
    axis: str, graph: NeighbourGraph, queries: sp.csr_array, fan: _FanOut, start: int, stop: int, p: int | None
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return ``(query rows relative to start, items, scores)`` of the candidates of a block."""
    if axis == "items":  # terms of (query, its item j, h(u, j))
        block = sp.csr_array(queries[start:stop])
        q = np.repeat(np.arange(stop - start), np.diff(block.indptr))
        neighbour, weight = block.indices.astype(np.int64), block.data
        rank_of = np.zeros(len(neighbour), dtype=np.int64)  # ranks come from the reversed graph
    else:  # terms of (query, its neighbour v at rank r, sim(u, v))
        valid = (graph.indices[start:stop] >= 0) & (graph.scores[start:stop] > 0)
        q, rank_of = np.nonzero(valid)
        neighbour, weight = graph.indices[start:stop][q, rank_of], graph.scores[start:stop][q, rank_of]
    counts = np.diff(fan.indptr)[neighbour]
    at = np.repeat(fan.indptr[neighbour] - np.r_[0, np.cumsum(counts)[:-1]], counts) + np.arange(counts.sum())
    item = fan.targets[at]
    contribution = fan.values[at] * np.repeat(weight, counts)
    rank = fan.ranks[at] if fan.ranks is not None else np.repeat(rank_of, counts)
    n_items = queries.shape[1]
    key = np.repeat(q, counts).astype(np.int64) * n_items + item
    order = np.lexsort((rank, key))
    key, contribution = key[order], contribution[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, dtype=bool)
    if p is not None:
        position = np.arange(len(key)) - np.flatnonzero(first)[np.cumsum(first) - 1]
        keep = position < p
        key, contribution, first = key[keep], contribution[keep], first[keep]
    unique = key[first]
    scores = np.bincount(np.cumsum(first) - 1, weights=contribution, minlength=len(unique))
    rows: IntArray = np.asarray(unique // n_items, dtype=np.int64)
    items: IntArray = np.asarray(unique % n_items, dtype=np.int64)
    return rows, items, np.asarray(scores, dtype=np.float64)
