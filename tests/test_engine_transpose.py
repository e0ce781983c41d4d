"""recframe.engine.transpose: the transpose of a CSR matrix, compiled or scipy's, marked as checked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.pairs as pairs
import recframe.engine.transposes as transposes
from recframe.engine import check_transpose, column_counts, freeze, transpose
from recframe.engine.kernel_inputs import is_checked

ENGINES = ["numba", "scipy"]


@pytest.fixture
def compiled_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the compiled kernel on every size (it starts at 2^20 entries otherwise)."""
    monkeypatch.setattr(transposes, "COMPILED_TRANSPOSE", 0)


def _same(a: sp.csr_array, b: sp.csr_array) -> bool:
    return (
        a.shape == b.shape
        and np.array_equal(a.indptr, b.indptr)
        and np.array_equal(a.indices, b.indices)
        and np.array_equal(a.data, b.data)
        and a.data.dtype == b.data.dtype
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_made_transpose(engine: str, compiled_always: None) -> None:
    x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0], [5.0, 0.0, 0.0]]))
    t = transpose(x, engine=engine)  # type: ignore[arg-type]
    assert t.indptr.tolist() == [0, 2, 3, 5]
    assert t.indices.tolist() == [0, 2, 1, 0, 1]
    assert t.data.tolist() == [1.0, 5.0, 3.0, 2.0, 4.0]
    assert not t.data.flags.writeable and t.has_canonical_format


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(6))
def test_random_matrices_against_scipy(engine: str, seed: int, compiled_always: None) -> None:
    rng = np.random.default_rng(seed)
    n, m = rng.integers(0, 60, size=2)
    x = sp.random_array((int(n), int(m)), density=float(rng.uniform(0.0, 0.6)), format="csr", rng=rng)
    if seed == 1:  # one float32 case: every dtype compiles a kernel of its own on a cold cache
        x.data = x.data.astype(np.float32)
    expected = sp.csr_array(x.T)
    expected.sort_indices()
    assert _same(transpose(x, engine=engine, threads=3), expected)  # type: ignore[arg-type]


def test_unsorted_rows_give_sorted_rows(compiled_always: None) -> None:
    indices, indptr = np.array([2, 0, 1], dtype=np.int32), np.array([0, 2, 3], dtype=np.int32)  # as scipy makes them
    x = sp.csr_array((np.array([1.0, 2.0, 3.0]), indices, indptr), shape=(2, 3))
    t = transpose(x)
    assert t.indices.tolist() == [0, 1, 0] and t.data.tolist() == [2.0, 3.0, 1.0]
    assert t.has_sorted_indices
    assert np.array_equal(t.toarray(), x.toarray().T)


def test_a_large_matrix_runs_the_kernel_and_matches_scipy() -> None:
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 5000, transposes.COMPILED_TRANSPOSE + 1000)
    columns = (rng.pareto(1.2, len(rows)) * 50).astype(np.int64) % 3000  # skewed columns
    x = sp.csr_array(sp.coo_array((np.ones(len(rows)), (rows, columns)), shape=(5000, 3000)))
    x.sum_duplicates()
    expected = sp.csr_array(x.T)
    expected.sort_indices()
    assert _same(transpose(x, engine="numba"), expected)


def test_a_bad_matrix_is_refused_before_any_kernel(compiled_always: None) -> None:
    x = sp.csr_array(np.eye(3))
    x.indices[1] = 7
    with pytest.raises(IndexError):
        transpose(x)


def test_the_pair_is_known_checked_both_ways(monkeypatch: pytest.MonkeyPatch, compiled_always: None) -> None:
    x = freeze(sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]])))
    t = transpose(x)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("checked again")

    monkeypatch.setattr(pairs, "_check_pair", refuse)
    check_transpose(x, t)
    check_transpose(t, x)
    other = freeze(sp.csr_array(np.array([[1.0, 0.0], [0.0, 3.0], [2.0, 5.0]])))  # not x's transpose: checked
    with pytest.raises(AssertionError, match="checked again"):
        check_transpose(x, other)


def test_a_writable_input_is_not_marked(monkeypatch: pytest.MonkeyPatch) -> None:
    x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    t = transpose(x)
    x.data[0] = 9.0  # the caller may still change x: the pair must be checked, and is wrong now
    with pytest.raises(ValueError, match="not the transpose"):
        check_transpose(x, t)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("seed", range(4))
def test_column_counts_against_bincount(engine: str, seed: int, compiled_always: None) -> None:
    rng = np.random.default_rng(seed)
    x = sp.random_array((40, int(rng.integers(1, 30))), density=0.3, format="csr", rng=rng)
    if seed == 3 and engine == "scipy":  # int64 indices: the kernel's other compiled version is left to big data
        x.indices = x.indices.astype(np.int64)
        x.indptr = x.indptr.astype(np.int64)
    counts = column_counts(x, engine=engine, threads=2)  # type: ignore[arg-type]
    assert counts.dtype == np.int64
    assert counts.tolist() == np.bincount(x.indices, minlength=x.shape[1]).tolist()


def test_column_counts_by_hand() -> None:
    x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    assert column_counts(x).tolist() == [1, 1, 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_transpose_is_marked_checked(engine: str, compiled_always: None) -> None:
    x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]]))
    made = transpose(x, engine=engine)
    assert is_checked(made) and not made.data.flags.writeable
    assert np.array_equal(made.toarray(), x.toarray().T)
