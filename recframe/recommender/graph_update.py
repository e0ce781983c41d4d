"""Updating a neighbour graph after the rows changed: the exact result of a new search, done in part.

When every similarity depends only on the two rows it compares (the backend says so, see
:meth:`~recframe.interfaces.SimilarityBackend.update_obstacle`), the graph of the new rows
equals that of a full search if

* every *changed* row (new, or with other entries) is searched again in full, and
* every *unchanged* row keeps its old neighbours that are unchanged too (their similarity is the
  same), loses those that changed or are gone, and gains its best neighbours among the changed
  rows, found by one search of the unchanged rows against the changed rows only.

The merged list of an unchanged row is exact unless it had ``k`` neighbours before and lost
some: then a row that was not among them (its similarity at most the old ``k``-th) might belong
in the list now. The merge proves it does not when the new ``k``-th neighbour still ranks ahead
of the old one, by similarity and then by lower row, as every search orders ties (or the list
holds every other row); the rows it can't prove are searched again in full. So the result
equals a full search, ties at the ``k``-th place included where the backend breaks them by lower
row, and the work is that of the changed rows (twice) plus the rows that can't be settled, not
that of every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray, IntArray
from recframe.interfaces import NeighbourGraph

FULL_SEARCH_FRACTION = 0.25
"""Above this fraction of changed rows, one full search costs less than searching in parts."""

Search = Callable[[IntArray | None, int], NeighbourGraph]
"""``search(rows, width)``: the neighbours of the given new rows (all rows for ``None``)."""

SearchAmong = Callable[[IntArray, IntArray, int], NeighbourGraph]
"""``search_among(queries, targets, width)``: each query row's neighbours among `targets` only,
as positions in `targets`."""


@dataclass(frozen=True)
class GraphUpdate:
    """A neighbour graph brought up to date, and how.

    Attributes
    ----------
    graph : NeighbourGraph
        The graph of the new rows.
    reason : str or None
        Why every row was searched again, or ``None`` if the update was incremental.
    searched : int
        Rows searched in full: the changed rows, and the unchanged rows the merge could not
        settle (all rows when `reason` is set).
    merged : int
        Unchanged rows settled by merging their old neighbours with the changed rows.
    """

    graph: NeighbourGraph
    reason: str | None
    searched: int
    merged: int

    def record(self) -> dict[str, Any]:
        """Return what was done, as JSON values (for the model's lineage)."""
        mode = "full" if self.reason is not None else "incremental"
        record: dict[str, Any] = {"mode": mode, "rows_searched": self.searched, "rows_merged": self.merged}
        if self.reason is not None:
            record["reason"] = self.reason
        return record


def update_graph(
    old: NeighbourGraph,
    changed: npt.NDArray[np.bool_],
    row_map: IntArray,
    k: int,
    search: Search,
    search_among: SearchAmong,
    obstacle: str | None = None,
) -> GraphUpdate:
    """Return the neighbour graph of the new rows, searching only where the update requires.

    Parameters
    ----------
    old : NeighbourGraph
        The graph of the old rows.
    changed : ndarray of bool, shape (n_new,)
        Which new rows are new or changed (see :func:`~recframe.recommender.row_changes.changed_rows`).
    row_map : ndarray of int64, shape (n_old,)
        The new position of each old row, ``-1`` if it is gone.
    k : int
        Neighbours per row the backend is configured for.
    search, search_among : callables
        The backend's searches over the new rows (see :data:`Search`, :data:`SearchAmong`).
    obstacle : str, optional
        Why the rows can't be updated one by one (the backend's answer); everything is then
        searched again.
    """
    n_new = len(changed)
    width = min(k, max(n_new - 1, 0))
    changed_rows = np.flatnonzero(changed)
    if obstacle is None and len(changed_rows) > FULL_SEARCH_FRACTION * n_new:
        obstacle = f"{len(changed_rows)} of {n_new} rows changed, so one full search costs less"
    if obstacle is not None:
        return GraphUpdate(_fit_width(search(None, width), width), obstacle, n_new, 0)
    indices = np.full((n_new, width), -1, dtype=np.int64)
    scores = np.zeros((n_new, width))
    _place(indices, scores, changed_rows, search, width)
    unchanged = np.flatnonzero(~changed)
    new_to_old = np.full(n_new, -1, dtype=np.int64)
    kept = np.flatnonzero(row_map >= 0)
    new_to_old[row_map[kept]] = kept
    if len(changed_rows) and len(unchanged) and width:
        found = _fit_width(search_among(unchanged, changed_rows, width), width)
        positions = np.where(found.indices >= 0, changed_rows[np.maximum(found.indices, 0)], -1)
        among = NeighbourGraph(positions, found.scores, n_new)
    else:  # nothing to merge against: each unchanged row keeps what survives
        among = NeighbourGraph(np.full((len(unchanged), 0), -1, dtype=np.int64), np.zeros((len(unchanged), 0)), 0)
    merged_indices, merged_scores, settled = _merge(old, new_to_old[unchanged], changed, row_map, k, width, among)
    indices[unchanged[settled]] = merged_indices[settled]
    scores[unchanged[settled]] = merged_scores[settled]
    unsettled = unchanged[~settled]
    _place(indices, scores, unsettled, search, width)
    graph = NeighbourGraph(indices, scores, n_new)
    return GraphUpdate(graph, None, len(changed_rows) + len(unsettled), int(settled.sum()))


def _merge(
    old: NeighbourGraph,
    old_rows: IntArray,
    changed: npt.NDArray[np.bool_],
    row_map: IntArray,
    k: int,
    width: int,
    among: NeighbourGraph,
) -> tuple[IntArray, FloatArray, npt.NDArray[np.bool_]]:
    """Merge unchanged rows' surviving old neighbours with their neighbours among the changed rows.

    Returns the merged top-`width` indices and scores of each row of `old_rows`, and whether
    each is settled (provably what a full search returns).
    """
    n_new = len(changed)
    old_indices = old.indices[old_rows]
    old_scores = np.asarray(old.scores[old_rows], dtype=np.float64)
    present = old_indices >= 0
    mapped = np.where(present, row_map[np.where(present, old_indices, 0)], -1)
    survives = (mapped >= 0) & ~changed[np.maximum(mapped, 0)]
    was_full = present.sum(axis=1) >= k
    threshold = old_scores[:, k - 1] if old_scores.shape[1] >= k else np.full(len(old_rows), -np.inf)
    short = max(width - old_indices.shape[1] - among.indices.shape[1], 0)  # at least `width` columns to pick from
    padding = np.full((len(old_rows), short), -1, dtype=np.int64)
    candidates = np.concatenate([np.where(survives, mapped, -1), among.indices, padding], axis=1)
    candidate_scores = np.concatenate(
        [np.where(survives, old_scores, -np.inf), _padded(among), np.full(padding.shape, -np.inf)], axis=1
    )
    order = np.lexsort((candidates, -candidate_scores), axis=-1)[:, :width]  # best first, ties by lower row
    top = np.take_along_axis(candidates, order, axis=1)
    top_scores = np.take_along_axis(candidate_scores, order, axis=1)
    empty = ~np.isfinite(top_scores)
    top[empty] = -1
    top_scores[empty] = 0.0
    count = (~empty).sum(axis=1)
    settled = ~was_full | (count >= n_new - 1)
    if width >= k:
        settled |= (count >= k) & _ahead_of_the_rest(top[:, k - 1], top_scores[:, k - 1], mapped, threshold, k)
    return top, top_scores, settled


def _ahead_of_the_rest(
    kth: IntArray, kth_scores: FloatArray, mapped: IntArray, threshold: FloatArray, k: int
) -> npt.NDArray[np.bool_]:
    """Whether each merged row's new ``k``-th neighbour comes before every row its old list left out.

    A row the old list left out and the update did not change ranks after the old ``k``-th,
    by score and then by lower row: below `threshold`, or equal to it and a higher row. So the
    new ``k``-th is ahead of them all if its score is higher, or equal and its row at most the
    old ``k``-th's (new positions keep the old order; an old ``k``-th that is gone proves
    nothing). Where it is equal and a higher row, a left-out row tied with it may come before
    it, as a full search would order them: the row is searched again.
    """
    old_kth = mapped[:, k - 1] if mapped.shape[1] >= k else np.full(len(kth), -1, dtype=np.int64)
    tied_not_later = (kth_scores == threshold) & (old_kth >= 0) & (kth <= old_kth)
    ahead: npt.NDArray[np.bool_] = (kth_scores > threshold) | tied_not_later
    return ahead


def _padded(graph: NeighbourGraph) -> FloatArray:
    """Return the graph's scores with ``-inf`` where a row has no neighbour (so they sort last)."""
    return np.where(graph.indices >= 0, graph.scores, -np.inf)


def _place(indices: IntArray, scores: FloatArray, rows: IntArray, search: Search, width: int) -> None:
    """Search `rows` in full and write their neighbours into the graph being built."""
    if len(rows) == 0 or width == 0:
        return
    found = _fit_width(search(rows, width), width)
    indices[rows] = found.indices
    scores[rows] = found.scores


def _fit_width(graph: NeighbourGraph, width: int) -> NeighbourGraph:
    """Return `graph` with exactly `width` columns (a backend may pad to more, or return fewer)."""
    have = graph.indices.shape[1]
    if have == width:
        return graph
    if have > width:
        return NeighbourGraph(graph.indices[:, :width], graph.scores[:, :width], graph.n_targets)
    pad = ((0, 0), (0, width - have))
    indices = np.pad(np.asarray(graph.indices, dtype=np.int64), pad, constant_values=-1)
    return NeighbourGraph(indices, np.pad(np.asarray(graph.scores, dtype=np.float64), pad), graph.n_targets)
