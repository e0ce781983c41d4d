"""The few-rows (serial) path of top_n_product and the once-only checks of read-only matrices."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.products as products
from recframe.engine import freeze, freeze_checked, numba_available, top_n_product
from recframe.engine.kernel_inputs import check_csr, is_checked

pytestmark = pytest.mark.skipif(not numba_available(), reason="the few-rows path is numba's")


def _random(rows: int, cols: int, seed: int) -> sp.csr_array:
    matrix = sp.csr_array(sp.random_array((rows, cols), density=0.3, format="csr", random_state=seed))
    matrix.data = np.round(matrix.data * 4) / 4 + 0.25  # coarse values: many tied sums
    return matrix


def test_few_rows_path_gives_the_parallel_kernels_lists_ties_included(monkeypatch):
    a, b = _random(300, 40, 1), _random(40, 60, 2)
    exclude = _random(300, 60, 3)
    rows = np.r_[np.arange(300), -1]
    monkeypatch.setattr(products, "FEW_ROWS", 0)
    want = top_n_product(a, rows, b, 7, seen=a @ _random(40, 60, 4), exclude=sp.vstack([exclude, exclude[:1]]))
    monkeypatch.setattr(products, "FEW_ROWS", 10**6)
    got = top_n_product(a, rows, b, 7, seen=a @ _random(40, 60, 4), exclude=sp.vstack([exclude, exclude[:1]]))
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_read_only_matrices_are_checked_whole_once():
    matrix = freeze_checked(_random(20, 10, 5))
    assert is_checked(matrix)
    writable = _random(20, 10, 5)
    check_csr(writable, "m")
    assert not is_checked(writable)  # anyone may still write to it: checked on every call


def test_few_rows_path_refuses_a_malformed_row_it_reads_of_a_read_only_matrix():
    a, b = _random(6, 4, 1), _random(4, 7, 2)
    broken = b.copy()
    broken.indices[broken.indptr[a.indices[a.indptr[0]]]] = 99  # a row that row 0 of a reaches
    freeze(broken)
    with pytest.raises(IndexError, match=r"b has column index 99 outside \[0, 7\)"):
        top_n_product(a, np.array([0]), broken, 3)


def test_few_rows_path_never_reads_a_read_only_matrix_whole():
    a, b = _random(6, 4, 1), _random(4, 7, 2)
    freeze(a)
    freeze(b)
    top_n_product(a, np.array([0, 1]), b, 3)
    assert not is_checked(a) and not is_checked(b)  # lazily checked, row by row, by the kernel


def test_checks_without_columns_read_the_offsets_only():
    """For kernels that read offsets and values only (row totals): a bad column passes, a bad offset does not."""
    matrix = _random(20, 10, 6)
    matrix.indices[3] = 99  # a column outside the matrix
    assert check_csr(matrix, "m", columns=False) is matrix
    with pytest.raises(IndexError, match="column index 99"):
        check_csr(matrix, "m")
    freeze(matrix)
    check_csr(matrix, "m", columns=False)
    assert not is_checked(matrix)  # its columns were not read: not marked
    decreasing = _random(20, 10, 7)
    decreasing.indptr[5] = decreasing.indptr[6] + 1
    with pytest.raises(ValueError, match="decreasing row offsets"):
        check_csr(decreasing, "m", columns=False)


def test_unsigned_offsets_that_decrease_are_refused():
    """np.diff of unsigned offsets wraps around: [0, 100, 6] would pass and a kernel read past the values."""
    matrix = sp.csr_array((np.ones(6), np.zeros(6, dtype=np.int32), np.array([0, 3, 6])), shape=(2, 1))
    matrix.indptr = np.array([0, 100, 6], dtype=np.uint32)
    with pytest.raises(ValueError, match="decreasing row offsets"):
        check_csr(matrix, "m", columns=False)
