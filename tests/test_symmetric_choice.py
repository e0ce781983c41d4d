"""When ``top_k_neighbours`` computes each pair once (the symmetric kernel) and when twice.

The symmetric kernel halves the multiply-adds but offers every pair it meets to two heaps: it
pays only where the rows meet each pair many times over (``SYMMETRIC_MIN_PAIR_WORK``
multiply-adds per pair of rows). Its estimate follows the same choice.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import estimate_neighbours, products, top_k_neighbours

pytest.importorskip("numba")


def test_the_choice_counts_multiply_adds_per_pair_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 100)
    # 100 rows; one column held by 60 rows and one by 40: 3,600 + 1,600 = 5,200 multiply-adds
    counts = np.array([60, 40])
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.52)  # 5,200 / 100**2
    assert products._by_pairs(100, counts)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.53)
    assert not products._by_pairs(100, counts)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)
    assert not products._by_pairs(99, counts)  # too few rows, however dense


def _rows(n_rows: int, n_columns: int, per_row: int, seed: int = 5) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    columns = np.concatenate([rng.choice(n_columns, per_row, replace=False) for _ in range(n_rows)])
    rows = np.repeat(np.arange(n_rows), per_row)
    x = sp.csr_array((rng.integers(1, 6, len(rows)).astype(np.float64), (rows, columns)), shape=(n_rows, n_columns))
    x.sum_duplicates()
    return x


@pytest.mark.parametrize(("n_columns", "by_pairs"), [(400, False), (20, True)])
def test_sparse_pairs_are_computed_twice_and_dense_ones_once(
    monkeypatch: pytest.MonkeyPatch, n_columns: int, by_pairs: bool
) -> None:
    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)
    x = _rows(300, n_columns, 8)  # 400 columns: about 0.16 multiply-adds per pair; 20 columns: 3.2
    work = float((np.diff(sp.csc_array(x).indptr).astype(float) ** 2).sum()) / 300**2
    assert (work >= products.SYMMETRIC_MIN_PAIR_WORK) == by_pairs
    ran = []
    symmetric = products._symmetric_neighbours
    monkeypatch.setattr(products, "_symmetric_neighbours", lambda *a, **kw: ran.append(1) or symmetric(*a, **kw))
    columns, scores = top_k_neighbours(x, 5, engine="numba")
    assert bool(ran) == by_pairs
    full = estimate_neighbours(x, 5, engine="numba")
    plain = estimate_neighbours(x, 5, engine="scipy")
    assert full.multiply_adds == (plain.multiply_adds // 2 if by_pairs else plain.multiply_adds)
    # either way, the brute-force lists
    dense = (x @ x.T).toarray()
    np.fill_diagonal(dense, 0.0)
    want = -np.sort(-dense, axis=1)[:, :5]
    np.testing.assert_allclose(np.where(columns >= 0, scores, 0.0), np.where(want > 0, want, 0.0), rtol=1e-12)
