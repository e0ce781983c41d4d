"""Each row's neighbours beyond ``k`` and the floor under every other row: what updates maintain.

A model whose backend is updated from dot products (cosine, dot) keeps, for each searched axis,
:class:`NeighbourLists`: up to ``k + update_slack`` neighbours per row and a floor, so that
:mod:`recframe.recommender.graph_delta` can tell which rows an update leaves settled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recframe.data import FloatArray
from recframe.interfaces import NeighbourGraph


@dataclass(frozen=True)
class NeighbourLists:
    """Each row's best neighbours, possibly more than ``k``, and the floor under every other row.

    Attributes
    ----------
    graph : NeighbourGraph
        Up to ``k + slack`` neighbours per row, best first (ties by lower row).
    floors : ndarray of shape (n_rows,), float64
        No row outside a row's list has a similarity above its floor; 0 when the list holds
        every row of positive similarity.
    """

    graph: NeighbourGraph
    floors: FloatArray

    @classmethod
    def of(cls, graph: NeighbourGraph, width: int) -> NeighbourLists:
        """Return the lists of a full search that asked for `width` neighbours per row."""
        count = (graph.indices >= 0).sum(axis=1)
        full = count >= width if width > 0 else np.zeros(len(count), dtype=bool)
        floors = np.zeros(len(count))
        if full.any():  # a row holds `width` neighbours: the graph is at least that wide
            floors[full] = graph.scores[full, width - 1]
        return cls(graph, floors)

    def served(self, k: int) -> NeighbourGraph:
        """Return the ``k`` best neighbours of each row (the graph rankers use)."""
        if self.graph.indices.shape[1] <= k:
            return self.graph
        indices = np.ascontiguousarray(self.graph.indices[:, :k])
        return NeighbourGraph(indices, np.ascontiguousarray(self.graph.scores[:, :k]), self.graph.n_targets)
