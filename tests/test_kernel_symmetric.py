"""The compiled symmetric neighbour kernel on skewed data: brute force, thread counts, input checks."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import numba_available, top_k_neighbours
from recframe.engine.kernel_inputs import read_only_view
from recframe.engine.pairs import symmetric_parts

# one pytest-xdist worker runs them all: on a cold cache their kernels compile once, not on both workers
pytestmark = [
    pytest.mark.skipif(not numba_available(), reason="needs numba"),
    pytest.mark.xdist_group("kernel_symmetric"),
]


@pytest.fixture(autouse=True)
def _always_symmetric(monkeypatch):
    """Run the symmetric kernel at any size (it starts at thousands of rows by default)."""
    from recframe.engine import products

    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)


def skewed_rows(rng, n_rows=240, n_columns=160, dtype=np.float64):
    """Rows with log-normal lengths over power-law popular columns, values in quarters (many ties)."""
    lengths = np.clip(rng.lognormal(1.5, 1.2, n_rows).astype(int), 0, n_columns)
    weights = 1.0 / (np.arange(n_columns) + 3.0)
    rows, columns = [], []
    for i, length in enumerate(lengths):
        picked = rng.choice(n_columns, length, replace=False, p=weights / weights.sum())
        rows.append(np.full(length, i))
        columns.append(picked)
    rows_, columns_ = np.concatenate(rows), np.concatenate(columns)
    values = (rng.integers(1, 5, len(rows_)) / 4).astype(dtype)
    return sp.csr_array(sp.coo_array((values, (rows_, columns_)), shape=(n_rows, n_columns)).tocsr())


def brute_force(x, k):
    """Per row, the k largest positive entries of X @ X.T off the diagonal, ties by lower column."""
    dense = x.astype(np.float64).toarray()
    gram = dense @ dense.T
    np.fill_diagonal(gram, 0.0)
    columns = np.full((len(gram), k), -1)
    scores = np.zeros((len(gram), k))
    for i, row in enumerate(gram):
        order = np.lexsort((np.arange(len(row)), -row))  # by score, then lower column
        best = [j for j in order[:k] if row[j] > 0]
        columns[i, : len(best)] = best
        scores[i, : len(best)] = row[best]
    return columns, scores


@pytest.mark.parametrize("k", [1, 7, 300])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_symmetric_kernel_equals_brute_force_at_any_thread_count(rng, k, dtype):
    x = skewed_rows(rng, dtype=dtype)
    want_columns, want_scores = brute_force(x, k)
    results = [top_k_neighbours(x, k, engine="numba", threads=threads) for threads in (1, 2)]
    for columns, scores in results:
        np.testing.assert_array_equal(columns, want_columns)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-12)
    # the same bits whatever the number of threads: each pair is summed in one order
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_ties_go_to_the_lower_row(rng):
    x = sp.csr_array(np.ones((20, 3)))  # every pair ties
    columns, scores = top_k_neighbours(x, 4, engine="numba", threads=2)
    expected = [[j for j in range(20) if j != i][:4] for i in range(20)]
    np.testing.assert_array_equal(columns, expected)
    assert np.all(scores == 3.0)


def test_non_canonical_rows_are_summed_first(rng):
    x = skewed_rows(rng, 80, 50)
    indices, data = [], []
    for i in range(x.shape[0]):  # each entry stored twice, halved, in reversed order
        row = slice(x.indptr[i], x.indptr[i + 1])
        indices.append(np.tile(x.indices[row][::-1], 2))
        data.append(np.tile(x.data[row][::-1] / 2, 2))
    doubled = sp.csr_array((np.concatenate(data), np.concatenate(indices), 2 * x.indptr), shape=x.shape)
    assert not doubled.has_canonical_format
    columns, scores = top_k_neighbours(doubled, 5, engine="numba")
    want_columns, want_scores = brute_force(x, 5)
    np.testing.assert_array_equal(columns, want_columns)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-12)


@pytest.mark.parametrize("defect", ["missing entry", "unsorted", "other matrix", "other values"])
def test_a_transposed_that_does_not_match_is_refused(rng, defect):
    x = skewed_rows(rng, 60, 40)
    transposed = sp.csr_array(x.T)
    transposed.sort_indices()
    if defect == "missing entry":
        transposed = sp.csr_array(transposed.toarray() * (rng.random(transposed.shape) < 0.9))
    elif defect == "unsorted":
        longest = int(np.argmax(np.diff(transposed.indptr)))
        lo, hi = transposed.indptr[longest], transposed.indptr[longest + 1]
        transposed.indices[lo:hi] = transposed.indices[lo:hi][::-1].copy()
        transposed.data[lo:hi] = transposed.data[lo:hi][::-1].copy()
    elif defect == "other matrix":
        transposed = sp.csr_array(skewed_rows(rng, 60, 40).T)
        transposed.sort_indices()
    else:  # the same entries, one value changed: the kernel would read it as X's
        transposed.data[len(transposed.data) // 2] *= 3.0
    with pytest.raises(ValueError, match="transposed is not the transpose of x"):
        top_k_neighbours(x, 3, engine="numba", transposed=transposed)


def test_transpose_places_point_at_each_entry_in_any_batches(rng):
    from recframe.engine._compiled.symmetric import transpose_places

    x = skewed_rows(rng, 50, 30)
    t = sp.csr_array(x.T)
    t.sort_indices()
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    t_rows = np.repeat(np.arange(t.shape[0]), np.diff(t.indptr))
    (indptr, indices, _), (t_indptr, t_indices, _) = symmetric_parts(x, t)  # the types the search passes
    for edges in ([50, 0], [50, 31, 30, 7, 0], [40, 12]):  # decreasing batches, from the end or not
        cursor = np.full(t.shape[0], -1, dtype=np.int64)
        for stop, start in itertools.pairwise(edges):
            places = np.empty(indptr[stop] - indptr[start], dtype=np.int32)
            parts = np.array([0, 5, 6, t.shape[0]] if stop < 50 else [0, t.shape[0]], dtype=np.int64)
            for r in range(len(parts) - 1):  # one task a range of X.T's rows
                transpose_places(r, start, stop, indptr, indices, t_indptr, t_indices, parts, cursor, places)
            entries = slice(indptr[start], indptr[stop])
            np.testing.assert_array_equal(t.indices[places], rows[entries])  # entry (i, u) of X is (u, i) of X.T
            np.testing.assert_array_equal(t_rows[places], x.indices[entries])


def test_skewed_shape_has_the_asked_degrees():
    from benchmarks.datasets import SkewedShape, skewed_matrix

    shape = SkewedShape(2_000, 300, 60_000, 1.1, 250)
    matrix = skewed_matrix(shape, np.random.default_rng(3))
    degrees = np.diff(matrix.indptr)
    assert matrix.shape == (2_000, 300) and matrix.has_canonical_format  # no item twice for a user
    assert degrees.max() == 250 and degrees.min() >= 20
    assert abs(matrix.nnz - 60_000) < 60_000 * 0.01
    popularity = np.sort(np.bincount(matrix.indices, minlength=300))[::-1]
    assert popularity[0] > 5 * popularity[-1]  # power-law popularity, not uniform


@pytest.mark.parametrize("n_parts", [1, 2, 3, 7])
def test_the_transpose_check_is_the_same_in_any_ranges(rng, n_parts):
    from recframe.engine._compiled.symmetric import check_transpose_part

    def check_transpose(*arguments):
        """Whether every range's task finds its entries (as the search runs them, side by side)."""
        *arrays, check_values, work, parts = arguments
        return all(check_transpose_part(r, parts, *arrays, check_values, work) for r in range(len(parts) - 1))

    x = skewed_rows(rng, 80, 50)
    t = sp.csr_array(x.T)
    t.sort_indices()
    parts = np.unique(np.r_[0, np.sort(rng.choice(np.arange(1, 50), n_parts - 1, replace=False)), 50]).astype(np.int64)
    arrays = (*symmetric_parts(x, t)[0], *symmetric_parts(x, t)[1])  # the types the search passes
    work = np.zeros((len(parts) - 1, 80), dtype=np.int64)
    assert check_transpose(*arrays, True, work, parts)
    # entry (i, u) meets the entries of row u of X.T after i: the brute-force count
    dense = x.toarray() != 0
    want = [sum(int(dense[i + 1 :, u].sum()) for u in np.flatnonzero(dense[i])) for i in range(80)]
    np.testing.assert_array_equal(work.sum(axis=0), want)
    for u in (int(np.flatnonzero(np.diff(t.indptr))[0]), int(np.flatnonzero(np.diff(t.indptr))[-1])):
        changed = t.data.copy()
        changed[t.indptr[u]] += 1.0  # a value in the first and the last filled row of X.T: some range has it
        bad = (*arrays[:5], read_only_view(changed))
        assert not check_transpose(*bad, True, np.zeros((0, 0), dtype=np.int64), parts)
        assert check_transpose(*bad, False, np.zeros((0, 0), dtype=np.int64), parts)  # the entries agree
        missing = arrays[4].copy()
        missing[t.indptr[u]] = (missing[t.indptr[u]] + 1) % 80  # another row there
        moved = (*arrays[:4], read_only_view(missing), arrays[5])
        assert not check_transpose(*moved, False, np.zeros((0, 0), dtype=np.int64), parts)
