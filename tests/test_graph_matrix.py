"""recframe.engine.graph_matrix: a neighbour graph's similarity matrix, rows sorted in parallel, equal to to_csr()."""

from __future__ import annotations

import numpy as np
import pytest

import recframe.engine.graph_matrices as graph_matrix_module
from recframe.engine import graph_matrix, numba_available
from recframe.interfaces import NeighbourGraph

ENGINES = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="needs numba"))]


@pytest.fixture
def compiled_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the compiled kernel on every size (it starts at 2^18 neighbours otherwise)."""
    monkeypatch.setattr(graph_matrix_module, "COMPILED_GRAPH", 0)


def _graph(rng: np.random.Generator, n_rows: int, width: int, n_targets: int) -> NeighbourGraph:
    indices = np.full((n_rows, width), -1, dtype=np.int64)
    scores = np.zeros((n_rows, width))
    for row in range(n_rows):
        count = int(rng.integers(0, min(width, n_targets) + 1))  # empty and full rows too
        indices[row, :count] = rng.choice(n_targets, count, replace=False)
        scores[row, :count] = -np.sort(-rng.random(count))
    return NeighbourGraph(indices, scores, n_targets)


def _same(made: object, expected: object) -> None:
    for name in ("indptr", "indices", "data"):
        x, y = getattr(made, name), getattr(expected, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name
    assert made.shape == expected.shape  # type: ignore[attr-defined]


@pytest.mark.parametrize("engine", ENGINES)
def test_random_graphs_equal_to_csr(engine: str, compiled_always: None) -> None:
    rng = np.random.default_rng(5)
    for width in (1, 2, 7, 50, 128, 129):  # 129: wider than the kernel sorts: scipy's sort
        for n_targets in (1, 3, 200):
            graph = _graph(rng, int(rng.integers(0, 40)), width, n_targets)
            made = graph_matrix(graph, engine=engine)  # type: ignore[arg-type]
            _same(made, graph.to_csr())
            assert made.has_sorted_indices


def test_a_hand_made_graph(compiled_always: None) -> None:
    indices = np.array([[3, 0, -1], [-1, -1, -1], [1, 2, 0]])
    scores = np.array([[0.9, 0.5, 0.0], [0.0, 0.0, 0.0], [0.8, 0.7, 0.1]])
    made = graph_matrix(NeighbourGraph(indices, scores, 4))
    assert made.indptr.tolist() == [0, 2, 2, 5]
    assert made.indices.tolist() == [0, 3, 0, 1, 2] and made.data.tolist() == [0.5, 0.9, 0.1, 0.8, 0.7]
