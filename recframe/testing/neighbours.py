"""Comparing neighbour graphs the way exact methods may differ: only among ties at the ``k``-th place.

Two exact searches (two engines, an update and a refit) give every row the same similarities
to rounding, but when several rows tie with the ``k``-th neighbour, which of them fill the last
places may differ. :func:`assert_same_neighbours` accepts exactly that and nothing more.
"""

from __future__ import annotations

import numpy as np

from recframe.interfaces import NeighbourGraph


def same_neighbour_sets(
    actual: NeighbourGraph, expected: NeighbourGraph, *, atol: float = 1e-9, rtol: float = 0.0
) -> bool:
    """Return whether both graphs list the very same neighbours in the same order with scores within tolerance.

    Scores agree within ``atol + rtol * |expected score|``.
    """
    return bool(
        actual.indices.shape == expected.indices.shape
        and np.array_equal(actual.indices, expected.indices)
        and np.allclose(actual.scores, expected.scores, rtol=rtol, atol=atol)
    )


def assert_same_neighbours(
    actual: NeighbourGraph, expected: NeighbourGraph, *, atol: float = 1e-9, rtol: float = 0.0
) -> None:
    """Assert two graphs agree: equal scores row by row, and the same neighbours but among ties at the ``k``-th.

    For each row, the sorted scores must agree within the tolerance, ``atol + rtol * |expected
    score|``; every neighbour scoring more than the row's last score plus the tolerance must be
    in both rows; a neighbour in both rows must have the same score in both, within it. `rtol`
    is for scores without a bound, such as ``dot`` similarities above 1, which carry the rounding
    of their size (an update's equal a refit's to 1e-9 of it).

    Raises
    ------
    AssertionError
        Naming the first row that differs and how.
    """
    if actual.n_targets != expected.n_targets or actual.indices.shape != expected.indices.shape:
        msg = (
            f"graphs differ in shape: {actual.indices.shape} over {actual.n_targets} rows, "
            f"expected {expected.indices.shape} over {expected.n_targets}"
        )
        raise AssertionError(msg)
    for row in range(actual.indices.shape[0]):
        got, want = _entries(actual, row), _entries(expected, row)
        got_scores, want_scores = np.array(sorted(got.values())), np.array(sorted(want.values()))
        if len(got) != len(want) or not np.allclose(got_scores, want_scores, rtol=rtol, atol=atol):
            msg = f"row {row}: neighbours {got}, expected {want} (the scores differ)"
            raise AssertionError(msg)
        if not want:
            continue
        last = float(min(want.values()))
        cut = last + atol + rtol * abs(last)
        above = {j for j, s in want.items() if s > cut} | {j for j, s in got.items() if s > cut}
        missing = above - (set(got) & set(want))
        if missing:
            msg = f"row {row}: neighbours {got}, expected {want} (differ above the last score: {sorted(missing)})"
            raise AssertionError(msg)
        for j in set(got) & set(want):
            if abs(got[j] - want[j]) > atol + rtol * abs(want[j]):
                msg = f"row {row}: neighbour {j} scores {got[j]}, expected {want[j]}"
                raise AssertionError(msg)


def _entries(graph: NeighbourGraph, row: int) -> dict[int, float]:
    """Return a row's neighbours and their scores."""
    present = graph.indices[row] >= 0
    return dict(zip(graph.indices[row][present].tolist(), graph.scores[row][present].tolist(), strict=True))
