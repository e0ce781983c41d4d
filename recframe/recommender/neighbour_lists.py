"""Each row's neighbours beyond ``k`` and the floor under every other row: what updates maintain.

A model whose backend is updated from dot products (cosine, dot) keeps, for each searched axis,
:class:`NeighbourLists`: up to ``k + update_slack`` neighbours per row and a floor, so that
:mod:`recframe.recommender.graph_delta` can tell which rows an update leaves settled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recframe.data import FloatArray, IntArray
from recframe.interfaces import NeighbourGraph


@dataclass(frozen=True)
class Suspects:
    """Each row's suspects: rows an update could neither rule out nor afford to compute, with bounds.

    Attributes
    ----------
    rows : ndarray of shape (n_rows, width), int64
        The suspected rows, distinct, none the row itself nor one it lists, in no particular
        order; ``-1`` pads.
    bounds : ndarray of shape (n_rows, width), float64
        A bound on each one's similarity, above the row's floor; ``0.0`` where ``rows`` is ``-1``.
    """

    rows: IntArray
    bounds: FloatArray

    def highest(self) -> FloatArray:
        """Return each row's highest bound (0 for a row without suspects)."""
        if self.rows.shape[1] == 0:
            return np.zeros(self.rows.shape[0])
        return np.asarray(np.where(self.rows >= 0, self.bounds, 0.0).max(axis=1))


@dataclass(frozen=True)
class NeighbourLists:
    """Each row's best neighbours, possibly more than ``k``, and the floor under every other row.

    Attributes
    ----------
    graph : NeighbourGraph
        Up to ``k + slack`` neighbours per row, best first (ties by lower row).
    floors : ndarray of shape (n_rows,), float64
        No row outside a row's list and its suspects has a similarity above its floor; 0 when
        they hold every row of positive similarity.
    suspects : Suspects or None
        Rows an update could neither rule out nor afford to compute, each with a bound on its
        similarity: above the floor, and above only listed neighbours that are not among the
        best ``k`` (their similarities are exact, their rank is not).
        Keeping them, rather than raising the floor to the highest, leaves the floor low for
        every other row, so that the next update settles the row (see
        :mod:`recframe.recommender.graph_delta`). ``None`` (after a full search): none.
    """

    graph: NeighbourGraph
    floors: FloatArray
    suspects: Suspects | None = None

    def folded_floors(self) -> FloatArray:
        """Return the floors raised to each row's highest suspect bound: a floor under every row not listed."""
        if self.suspects is None:
            return self.floors
        return np.maximum(self.floors, self.suspects.highest())

    @classmethod
    def of(cls, graph: NeighbourGraph, width: int) -> NeighbourLists:
        """Return the `width`-wide lists of a full search that asked for ``width + 1`` neighbours per row.

        The neighbour after the `width` kept is the best of the others: its similarity is the
        row's floor, below every listed one but a tie. A floor equal to the last listed
        similarity (what a search of `width` alone tells) would leave that neighbour uncertain,
        so that after any update the row would hold one certain neighbour too few and be
        searched again: with ``update_slack: 0`` (``width = k``) nearly every row was, whatever
        the update (a 3-event add searched 1,046 of 1,200 rows).

        A row that lists fewer neighbours than the graph has columns holds every row of positive
        similarity, and so does every row of a graph with a column for each other row: their
        floor is 0. A graph of at most `width` columns (a backend that gave fewer than asked, or
        all there are) bounds the rest of a full row by its last listed similarity; one narrower
        than `width` and than the other rows is padded to the lesser of the two (``-1``, score
        0), as wide as an update keeps its lists (a plugin may leave out columns of padding only).
        """
        columns = graph.indices.shape[1]
        count = (graph.indices >= 0).sum(axis=1)
        floors = np.zeros(len(count))
        if columns > width:
            beyond = count > width
            floors[beyond] = graph.scores[beyond, width]
            return cls(_columns(graph, width), floors)
        if 0 < columns < graph.n_targets - 1:  # a full row may have more neighbours than it lists
            full = count == columns
            floors[full] = graph.scores[full, columns - 1]
        kept = min(width, max(graph.n_targets - 1, 0))  # what a row can hold: an update keeps as many
        if columns < kept:
            graph = _columns(graph, kept)
        return cls(graph, floors)

    def served(self, k: int) -> NeighbourGraph:
        """Return the ``k`` best neighbours of each row (the graph rankers use)."""
        if self.graph.indices.shape[1] <= k:
            return self.graph
        indices = np.ascontiguousarray(self.graph.indices[:, :k])
        return NeighbourGraph(indices, np.ascontiguousarray(self.graph.scores[:, :k]), self.graph.n_targets)


def _columns(graph: NeighbourGraph, width: int) -> NeighbourGraph:
    """Return `graph` with exactly `width` columns: cut on the right, or padded with ``-1`` and score 0."""
    indices, scores = graph.indices[:, :width], graph.scores[:, :width]
    pad = ((0, 0), (0, width - indices.shape[1]))
    if pad[1][1]:
        indices = np.pad(indices, pad, constant_values=-1)
        scores = np.pad(scores, pad, constant_values=0.0)
    return NeighbourGraph(np.ascontiguousarray(indices), np.ascontiguousarray(scores), graph.n_targets)
