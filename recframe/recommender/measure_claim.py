"""A spot check of a similarity backend's ``update_measure()`` before an update relies on it.

A backend that answers ``"cosine"`` or ``"dot"`` promises that its similarities are those of
its rows, so that an update may derive each pair's new similarity from its old one and the
change of their dot product (:mod:`~recframe.recommender.graph_delta`). A backend whose
similarities are something else (a plugin's cosine with shrinkage that kept the default
answer, say) would get neighbours a refit does not give, with nothing said (found by an outside
review). :func:`broken_claim` recomputes the measure for the first neighbour of up to
:data:`CLAIM_PAIRS` rows spread over the graph, from the rows the backend was fitted on: a few
sparse dot products, where an update's work is millions.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.interfaces import NeighbourGraph

CLAIM_PAIRS = 64
"""Rows whose first neighbour's similarity is recomputed."""

CLAIM_TOLERANCE = 1e-9
"""Difference allowed, relative to the similarity where it is above 1 (dot), between the backend's and the measure's."""


def broken_claim(graph: NeighbourGraph, rows: sp.csr_array, measure: str) -> str | None:
    """Return how `graph`'s similarities differ from `measure` (``"cosine"`` or ``"dot"``) of `rows`, or ``None``."""
    listed = np.flatnonzero(graph.indices[:, 0] >= 0) if graph.indices.shape[1] else np.zeros(0, dtype=np.int64)
    if len(listed) == 0:
        return None
    picked = listed[np.unique(np.linspace(0, len(listed) - 1, min(CLAIM_PAIRS, len(listed))).astype(np.int64))]
    for row in picked.tolist():
        other = int(graph.indices[row, 0])
        score = float(graph.scores[row, 0])
        a, b = _row(rows, row), _row(rows, other)
        value = _similarity(a, b, measure)
        if not abs(value - score) <= CLAIM_TOLERANCE * max(1.0, abs(value)):
            return (
                f"its update_measure() says its similarities are {measure!r}, but row {row}'s neighbour {other} "
                f"scores {score:.10g} where {measure} gives {value:.10g}"
            )
    return None


def _row(rows: sp.csr_array, row: int) -> tuple[np.ndarray, np.ndarray]:
    """Return one row's columns and values."""
    start, stop = int(rows.indptr[row]), int(rows.indptr[row + 1])
    return rows.indices[start:stop], rows.data[start:stop]


def _similarity(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], measure: str) -> float:
    """Return the dot product or the cosine of two rows given as (columns, values), columns ascending.

    The shorter row's columns are looked up in the longer's: a binary search each, no sort.
    """
    short, long = (a, b) if len(a[0]) <= len(b[0]) else (b, a)
    at = np.minimum(np.searchsorted(long[0], short[0]), max(len(long[0]) - 1, 0))
    shared = long[0][at] == short[0] if len(long[0]) else np.zeros(len(short[0]), dtype=bool)
    dot = float(short[1][shared] @ long[1][at[shared]])
    if measure == "dot":
        return dot
    lengths = float(np.linalg.norm(a[1])) * float(np.linalg.norm(b[1]))
    return dot / lengths if lengths > 0 else 0.0
