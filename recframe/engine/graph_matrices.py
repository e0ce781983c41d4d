"""A neighbour graph as a CSR matrix of similarities, its rows sorted in parallel: :func:`graph_matrix`.

A ranker multiplies by its neighbour graph as a sparse matrix (:meth:`NeighbourGraph.to_csr`),
made again at every fit and every update. scipy sorts the rows' columns on one thread (0.03 s for
ML-20M's 26,744 items x 50 neighbours); the compiled kernel of
:mod:`recframe.engine._compiled.graph_rows` writes each row sorted, on every thread (0.018 s).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from recframe.data import index_dtype
from recframe.engine.dispatch import Engine, numba_threads, resolve_engine
from recframe.engine.kernel_inputs import check_threads, read_only_view
from recframe.interfaces import NeighbourGraph

COMPILED_GRAPH = 1 << 18
"""Neighbours from which the compiled kernel sorts the rows (below, scipy takes milliseconds)."""

SORTED_WIDTH = 128
"""The widest graph (``k``) the kernel sorts by insertion; a wider one is sorted by scipy."""


def graph_matrix(graph: NeighbourGraph, *, engine: Engine = "auto", threads: int | None = None) -> sp.csr_array:
    """Return ``graph.to_csr()``: the ``(n_rows, n_targets)`` matrix of similarities, rows sorted by column.

    The same arrays, bit for bit (index types included), sorted by the compiled kernel on every
    thread for a large graph of at most :data:`SORTED_WIDTH` neighbours a row; by
    :meth:`~recframe.interfaces.NeighbourGraph.to_csr` otherwise.

    Parameters
    ----------
    graph : NeighbourGraph
        A well-formed graph (distinct neighbours in each row, ``-1`` padding).
    engine : {"auto", "numba", "scipy"}
        The compiled kernel, or scipy's sort.
    threads : int, optional
        Threads of the compiled kernel; all cores by default.

    Returns
    -------
    csr_array
        The similarities, canonical.

    Raises
    ------
    IndexError
        If a neighbour is outside ``[-1, n_targets)``.
    TypeError, ValueError
        If `threads` is not ``None`` or a whole number ``>= 1``.
    """
    threads = check_threads(threads)
    n_rows, width = graph.indices.shape
    if graph.indices.size and (graph.indices.min() < -1 or graph.indices.max() >= graph.n_targets):
        low, high = int(graph.indices.min()), int(graph.indices.max())
        msg = f"graph holds neighbour {low if low < -1 else high}, outside [-1, {graph.n_targets}) (its n_targets)"
        raise IndexError(msg)
    if resolve_engine(engine) != "numba" or graph.indices.size < COMPILED_GRAPH or width > SORTED_WIDTH:
        return graph.to_csr()
    from recframe.engine._compiled.graph_rows import sorted_rows

    indices = np.ascontiguousarray(graph.indices, dtype=np.int64)
    scores = np.ascontiguousarray(graph.scores)
    counts = np.count_nonzero(indices >= 0, axis=1)
    index_type = index_dtype(int(counts.sum()), graph.n_targets)
    indptr = np.zeros(n_rows + 1, dtype=index_type)
    np.cumsum(counts, out=indptr[1:])
    out_indices = np.empty(int(indptr[-1]), dtype=index_type)
    out_data = np.empty(int(indptr[-1]), dtype=scores.dtype)
    kernel: Any = sorted_rows
    with numba_threads(threads):
        kernel(read_only_view(indices), read_only_view(scores), read_only_view(indptr), out_indices, out_data)
    matrix = sp.csr_array((out_data, out_indices, indptr), shape=(n_rows, graph.n_targets))
    matrix.has_sorted_indices = True
    return matrix
