"""recframe.testing's comparison of neighbour graphs: only ties at the k-th place may differ.

Hand examples of what it accepts and refuses, absolute and relative tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from recframe.interfaces import NeighbourGraph
from recframe.testing import assert_same_neighbours, same_neighbour_sets


def graph(indices: list[list[int]], scores: list[list[float]], n_targets: int = 5) -> NeighbourGraph:
    return NeighbourGraph(np.array(indices), np.array(scores), n_targets)


def test_a_tie_at_the_last_place_may_be_another_row():
    want = graph([[1, 2]], [[0.9, 0.5]])
    tied = graph([[1, 3]], [[0.9, 0.5]])  # row 3 ties with row 2 at the last place
    assert_same_neighbours(tied, want)
    assert not same_neighbour_sets(tied, want)
    assert same_neighbour_sets(want, want)


def test_a_neighbour_above_the_last_place_must_be_in_both():
    want = graph([[1, 2]], [[0.9, 0.5]])
    with pytest.raises(AssertionError, match=r"differ above the last score: \[1, 4\]"):
        assert_same_neighbours(graph([[4, 2]], [[0.9, 0.5]]), want)
    with pytest.raises(AssertionError, match="the scores differ"):
        assert_same_neighbours(graph([[1, 2]], [[0.9, 0.4]]), want)
    with pytest.raises(AssertionError, match="the scores differ"):
        assert_same_neighbours(graph([[1, -1]], [[0.9, 0.0]]), want)  # one neighbour fewer


def test_relative_tolerance_for_scores_of_any_size():
    """dot similarities of 1e68 differ from a refit's in their last bit: 1e52, far above any atol."""
    want = graph([[1, 2]], [[1.5085030994862495e68, 4.602977237686885e64]])
    last_bit = graph([[1, 2]], [[1.5085030994862495e68, 4.6029772376868855e64]])
    with pytest.raises(AssertionError, match="the scores differ"):
        assert_same_neighbours(last_bit, want)
    assert_same_neighbours(last_bit, want, rtol=1e-9)
    assert same_neighbour_sets(last_bit, want, rtol=1e-9) and not same_neighbour_sets(last_bit, want)
    with pytest.raises(AssertionError, match="the scores differ"):
        assert_same_neighbours(graph([[1, 2]], [[1.5085030994862495e68, 4.61e64]]), want, rtol=1e-9)
