"""Parts of the compiled delta kernel against plain computations: the k-th best and the sparse scatter.

Both are faster forms of what the kernel did before (a heap; a scatter over every entry): they
must give the very same numbers, in the same order, on every input, not only on the kernel's.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

# one pytest-xdist worker runs them all: on a cold cache their kernels compile once, not on both workers
pytestmark = pytest.mark.xdist_group("delta_kernel_parts")


def kth_best(values: np.ndarray, rank: int, floor: float, capacity: int) -> tuple[float, np.ndarray]:
    """Call the kernel's ``_kth_best`` with scratch heaps of `capacity`; return its value and the scratch values."""
    from recframe.engine._compiled.delta_steps import _kth_best

    heap_v, heap_j = np.full(capacity, np.nan), np.empty(capacity, dtype=np.int64)
    columns = np.arange(len(values), dtype=np.int64)
    return _kth_best(values, columns, len(values), rank, floor, heap_v, heap_j), heap_v


def expected_kth(values: np.ndarray, rank: int, floor: float) -> float:
    """The `rank`-th highest of `values`, or `floor` where that is higher or they are fewer (0 for none)."""
    if rank <= 0 or len(values) < rank:
        return max(floor, 0.0)
    return max(floor, float(np.sort(values)[::-1][rank - 1]))


def test_kth_best_hand_example() -> None:
    """Nearly in order, with a tie at the second place: the k-th value, ties counted, floor on top."""
    values = np.array([0.9, 0.7, 0.8, 0.7, 0.2, 0.5])
    assert kth_best(values, 1, 0.0, 8)[0] == 0.9
    assert kth_best(values, 3, 0.0, 8)[0] == 0.7
    assert kth_best(values, 4, 0.0, 8)[0] == 0.7
    assert kth_best(values, 5, 0.0, 8)[0] == 0.5
    assert kth_best(values, 5, 0.6, 8)[0] == 0.6  # the floor is higher
    assert kth_best(values, 7, 0.1, 8)[0] == 0.1  # fewer candidates than the rank: the floor
    assert kth_best(values, 7, -1.0, 8)[0] == 0.0
    assert kth_best(values, 0, 0.3, 8)[0] == 0.3


@pytest.mark.parametrize("seed", range(30))
def test_kth_best_equals_a_sort(seed: int) -> None:
    """Nearly sorted (the sort), far out of order (the sort gives way) or more than fit (the heap): the same value."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 150))
    kind = seed % 3
    if kind == 0:  # a listed row after an update: best first, moved a little
        values = np.sort(rng.random(n))[::-1] + rng.normal(0, 0.01, n)
    elif kind == 1:  # worst first: past the sort's budget
        values = np.sort(rng.integers(1, 20, n) / 19.0)
    else:
        values = rng.integers(1, 6, n) / 5.0  # many ties, in no order
    floor = float(rng.choice([0.0, np.median(values)]))
    room = int(rng.choice([n, n + 1, n // 2]))  # below n: too many for the sort's room, so the heap
    for rank in sorted({1, n, int(rng.integers(1, n + 1)), n + 1}):
        capacity = max(room, rank)  # the kernel's heaps hold at least the rank
        got, scratch = kth_best(values, rank, floor, capacity)
        assert got == expected_kth(values, rank, floor), (rank, floor, capacity)
        if kind == 0 and capacity >= n and rank <= n:  # the sort took them: they lie sorted in the scratch
            assert np.array_equal(scratch[:n], np.sort(values)[::-1])


def scatter_both(a: sp.csr_array, b: sp.csr_array) -> tuple[list[tuple[np.ndarray, np.ndarray]], ...]:
    """Scatter every row of ``A @ B`` with the plain and the sparse-rows scatter; return each row's sums and list.

    Each row is scattered after the previous row's plain scatter into the same accumulator (as
    the kernel scatters ``X_i D^T`` after ``D_i X'^T``): the list goes on from that one's. The
    sparse scatter's buffers hold exactly the longest row, and a sentinel just past them must
    stay untouched.
    """
    from recframe.engine._compiled.scatter import _scatter_row, _scatter_sparse_rows

    n = b.shape[1]
    results: tuple[list[tuple[np.ndarray, np.ndarray]], ...] = ([], [])
    longest = int(np.diff(a.indptr).max(initial=0))
    room_start, room_stop = np.full(longest + 1, -7, dtype=np.int64), np.full(longest + 1, -7, dtype=np.int64)
    room_x = np.full(longest + 1, -7.0)
    live_start, live_stop, live_x = room_start[:longest], room_stop[:longest], room_x[:longest]
    indptr, b_indptr = a.indptr.astype(np.int64), b.indptr.astype(np.int64)
    for sparse, out in zip((False, True), results, strict=True):
        for row in range(a.shape[0]):
            acc, mark, touched = np.zeros(n), np.zeros(n, dtype=np.bool_), np.empty(n + 1, dtype=np.int64)
            before = max(row - 1, 0)  # the previous row first, plainly: the sums and the list go on from it
            count = _scatter_row(
                indptr[before], indptr[before + 1], a.indices, a.data, b_indptr, b.indices, b.data, acc, mark,
                touched, 0,
            )  # fmt: skip
            start, stop = indptr[row], indptr[row + 1]
            args = (start, stop, a.indices, a.data, b_indptr, b.indices, b.data, acc, mark, touched, count)
            count = _scatter_sparse_rows(*args, live_start, live_stop, live_x) if sparse else _scatter_row(*args)
            assert np.flatnonzero(mark).tolist() == sorted(touched[:count].tolist())  # marked: the columns listed
            out.append((acc.copy(), touched[:count].copy()))
    assert room_start[longest] == -7 and room_stop[longest] == -7 and room_x[longest] == -7.0  # nothing past
    return results


@pytest.mark.parametrize("seed", range(12))
def test_sparse_rows_scatter_equals_the_plain_one(seed: int) -> None:
    """``A @ B`` with some, most, none or all rows of ``B`` empty: the same sums, bit for bit, the same list order."""
    rng = np.random.default_rng(seed)
    n_a, n_b, n_cols = int(rng.integers(1, 30)), int(rng.integers(1, 200)), int(rng.integers(1, 40))
    a = sp.random_array((n_a, n_b), density=float(rng.uniform(0.05, 0.6)), format="csr", rng=rng)
    b = sp.random_array((n_b, n_cols), density=float(rng.uniform(0.01, 0.3)), format="csr", rng=rng)
    filled_share = (0.3, 0.0, 1.0, 0.7)[seed % 4]  # every row filled: the buffers fill to their end
    b = sp.csr_array(b.multiply(rng.random((n_b, 1)) < filled_share))
    if filled_share == 1.0:
        b = sp.csr_array(b + sp.csr_array((np.ones(n_b), (np.arange(n_b), rng.integers(0, n_cols, n_b))), b.shape))
        assert (np.diff(b.indptr) > 0).all()
    b.eliminate_zeros()
    a.data = rng.normal(size=a.nnz)
    a = sp.csr_array(a)
    plain, sparse = scatter_both(a, b)
    for (acc_p, list_p), (acc_s, list_s) in zip(plain, sparse, strict=True):
        assert np.array_equal(acc_p, acc_s)
        assert np.array_equal(list_p, list_s)
    dense = a.toarray() @ b.toarray()
    for row, (acc, listed) in enumerate(sparse):
        before = max(row - 1, 0)
        np.testing.assert_allclose(acc, dense[before] + dense[row], atol=1e-12)
        rows_reached = np.r_[
            a.indices[a.indptr[before] : a.indptr[before + 1]], a.indices[a.indptr[row] : a.indptr[row + 1]]
        ]
        reached = {int(c) for r in rows_reached for c in b.indices[b.indptr[r] : b.indptr[r + 1]]}
        assert sorted(listed.tolist()) == sorted(reached)  # each column reached listed once


def test_sparse_rows_scatter_hand_example() -> None:
    """Row 0 of ``A`` reaches rows 0 (empty), 1 and 2 of ``B``: their sums, columns listed as first reached."""
    a = sp.csr_array(np.array([[2.0, 3.0, 0.5]]))
    b = sp.csr_array(np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 4.0], [1.0, 2.0, 0.0]]))
    (plain,), (sparse,) = scatter_both(a, b)  # row 0 is scattered twice: after itself (see scatter_both)
    np.testing.assert_array_equal(sparse[0], [1.0, 8.0, 24.0])  # twice 3*[0,1,4] + 0.5*[1,2,0]
    np.testing.assert_array_equal(sparse[1], [1, 2, 0])
    np.testing.assert_array_equal(plain[1], sparse[1])
