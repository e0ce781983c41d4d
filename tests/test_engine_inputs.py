"""The public engine's primitives on inputs an outside review found them mishandling.

A ``seen`` entry stored as 0 is seen on both engines; a list length of 0 is empty and a negative
one refused; an engine name, a measure and its modifiers outside their values are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import MeasureSpec, resolve_engine, select_top_n, top_n_product


@pytest.mark.parametrize("rows", [1, 300], ids=["few rows", "batch"])
def test_a_seen_entry_stored_as_zero_is_seen_on_both_engines(rows: int) -> None:
    """scipy's product dropped stored zeros: column 0 came back on scipy, not on numba."""
    a = sp.csr_array(np.ones((rows, 1)))
    b = sp.csr_array(np.array([[3.0, 2.0, 1.0]]))
    seen = sp.csr_array(
        (np.tile([0.0, 1.0], rows), np.tile([0, 2], rows), np.arange(0, 2 * rows + 1, 2)), shape=(rows, 3)
    )
    for engine in ("numba", "scipy"):
        found = top_n_product(a, np.arange(rows), b, 3, seen=seen, engine=engine)
        np.testing.assert_array_equal(found[0], np.tile([1, -1, -1], (rows, 1)), err_msg=engine)


def test_select_top_n_of_zero_is_empty_and_of_a_negative_count_refused() -> None:
    scores = np.array([[0.2, 0.9, 0.9, -1.0]])
    assert select_top_n(scores.copy(), 0).items.shape == (1, 0)  # was every column
    assert select_top_n(scores.copy(), 2).items.tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="n must be 0 or more; got -3"):
        select_top_n(scores.copy(), -3)
    with pytest.raises(TypeError, match="n must be a whole number"):
        select_top_n(scores.copy(), 2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["cuda", "Numba", ""])
def test_an_engine_that_is_none_of_the_three_is_refused(name: str) -> None:
    """Every primitive tested ``== "numba"``: any other name ran scipy without a word."""
    with pytest.raises(ValueError, match="engine must be 'auto', 'numba' or 'scipy'"):
        resolve_engine(name)  # type: ignore[arg-type]


def test_a_measure_and_modifiers_outside_their_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"measure must be one of cosine, .*; got 'cosinus'"):
        MeasureSpec.of("cosinus")
    for bad in ({"shrinkage": -1.0}, {"min_support": 0}, {"min_similarity": float("nan")}):
        with pytest.raises(ValueError, match="shrinkage must be 0 or more"):
            MeasureSpec.of("jaccard", **bad)  # type: ignore[arg-type]
    assert MeasureSpec.of("jaccard", shrinkage=2.0).name == "jaccard"


def test_top_n_entries_refuses_rows_outside_the_result() -> None:
    """A row of -1 was written into the last row by negative indexing."""
    from recframe.engine import top_n_entries

    columns, _ = top_n_entries(np.array([0, 1, 1]), np.array([4, 2, 3]), np.array([1.0, 2.0, 2.0]), 2, 2)
    assert columns.tolist() == [[4, -1], [2, 3]]
    with pytest.raises(IndexError, match=r"rows must lie in 0 \.\. 1; got -1"):
        top_n_entries(np.array([-1, 0]), np.array([1, 2]), np.array([1.0, 2.0]), 2, 2)
    with pytest.raises(IndexError, match=r"got 2"):
        top_n_entries(np.array([2]), np.array([1]), np.array([1.0]), 2, 2)
    with pytest.raises(ValueError, match="as long"):
        top_n_entries(np.array([0, 1]), np.array([1]), np.array([1.0]), 2, 2)
