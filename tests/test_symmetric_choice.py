"""When ``top_k_neighbours`` computes each pair once (the symmetric kernel) and when twice.

The symmetric kernel halves the multiply-adds but offers every pair it meets to two heaps: it
pays only where the rows meet each pair they meet many times over (``SYMMETRIC_MIN_PAIR_WORK``
multiply-adds per distinct pair met, counted on a sample of rows). Its estimate follows the same
choice.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import estimate_neighbours, pairs_met_often, products, top_k_neighbours

pytest.importorskip("numba")


def _met_per_pair(x: sp.csr_array) -> float:
    """Brute force: multiply-adds of ``X @ X.T`` off the diagonal over its distinct pairs."""
    pattern = sp.csr_array((np.ones(x.nnz), x.indices, x.indptr), shape=x.shape)
    counts = (pattern @ pattern.T).toarray()
    np.fill_diagonal(counts, 0.0)
    return float(counts.sum() / max(np.count_nonzero(counts), 1))


def _rows(n_rows: int, n_columns: int, per_row: int, seed: int = 5, blocks: int = 1) -> sp.csr_array:
    """`per_row` random columns a row; with `blocks`, each row's columns within its own block of columns."""
    rng = np.random.default_rng(seed)
    width = n_columns // blocks
    columns = np.concatenate(
        [(i * blocks // n_rows) * width + rng.choice(width, per_row, replace=False) for i in range(n_rows)]
    )
    rows = np.repeat(np.arange(n_rows), per_row)
    x = sp.csr_array((rng.integers(1, 6, len(rows)).astype(np.float64), (rows, columns)), shape=(n_rows, n_columns))
    x.sum_duplicates()
    return x


def test_every_row_sampled_counts_the_pairs_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _rows(50, 60, 6)  # 50 rows: every one sampled
    met = _met_per_pair(x)
    assert 1.0 < met < 2.0
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", met - 1e-9)
    assert pairs_met_often(x) and pairs_met_often(x, sp.csr_array(x.T))
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", met + 1e-9)
    assert not pairs_met_often(x) and not pairs_met_often(x, sp.csr_array(x.T))
    assert not pairs_met_often(sp.csr_array((50, 60)))  # no pair met at all


def test_rows_in_communities_meet_their_pairs_often() -> None:
    # the same row lengths, spread over all columns or kept within one of 40 blocks of 20 of them:
    # a row's partners are then its block's 19 rows, met 7.2 times each on average
    spread, grouped = _rows(800, 800, 12), _rows(800, 800, 12, blocks=40)
    assert _met_per_pair(spread) < 2.0 < products.SYMMETRIC_MIN_PAIR_WORK < _met_per_pair(grouped)
    assert not pairs_met_often(spread)
    assert pairs_met_often(grouped)


@pytest.mark.parametrize(("blocks", "by_pairs"), [(1, False), (40, True)])
def test_the_kernel_and_its_estimate_follow_the_choice(
    monkeypatch: pytest.MonkeyPatch, blocks: int, by_pairs: bool
) -> None:
    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)
    x = _rows(800, 800, 12, blocks=blocks)
    ran = []
    symmetric = products._symmetric_neighbours
    monkeypatch.setattr(products, "_symmetric_neighbours", lambda *a, **kw: ran.append(1) or symmetric(*a, **kw))
    columns, scores = top_k_neighbours(x, 5, engine="numba")
    assert bool(ran) == by_pairs
    full = estimate_neighbours(x, 5, engine="numba")
    plain = estimate_neighbours(x, 5, engine="scipy")
    assert full.multiply_adds == (plain.multiply_adds // 2 if by_pairs else plain.multiply_adds)
    dense = (x @ x.T).toarray()  # either way, the brute-force lists
    np.fill_diagonal(dense, 0.0)
    want = -np.sort(-dense, axis=1)[:, :5]
    np.testing.assert_allclose(np.where(columns >= 0, scores, 0.0), np.where(want > 0, want, 0.0), rtol=1e-12)


def test_too_few_rows_never_search_by_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _rows(800, 800, 12, blocks=40)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 801)
    assert pairs_met_often(x) and not products._by_pairs(x, np.diff(sp.csc_array(x).indptr), None)


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_sampled_partners_are_counted_alike_by_both_engines(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(products, "_MASK_ENTRIES", 64)  # numpy: many blocks of entries
    x = _rows(700, 90, 5, seed=2)
    x = sp.csr_array(sp.vstack([x[:300], sp.csr_array((4, 90)), x[300:]]))  # empty rows too
    rows = np.unique(np.linspace(0, x.shape[0] - 1, 64).astype(np.int64))
    pattern = sp.csr_array((np.ones(x.nnz), x.indices, x.indptr), shape=x.shape)
    want = int(np.count_nonzero((pattern @ pattern[rows].T).toarray()))  # itself included
    assert products._sampled_partners(x, rows, engine) == want


def test_fewer_than_two_rows_meet_no_pair() -> None:
    for empty in (sp.csr_array((0, 10)), sp.csr_array((0, 0)), sp.csr_array(np.ones((1, 5)))):
        assert not pairs_met_often(empty)


def test_the_estimate_decides_on_the_rows_the_search_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # every entry stored twice, each with half the value: the search sums them first, and so
    # must the estimate's choice (counting each twice would double the multiply-adds it sees)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_ROWS", 0)
    x = _rows(800, 800, 12, blocks=40)
    met = _met_per_pair(x)
    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", met * 1.5)  # below twice the figure
    doubled = sp.csr_array((np.repeat(x.data / 2, 2), np.repeat(x.indices, 2), x.indptr * 2), shape=x.shape)
    assert not doubled.has_canonical_format
    assert not pairs_met_often(x)
    full = estimate_neighbours(doubled, 5, engine="numba")
    plain = estimate_neighbours(doubled, 5, engine="scipy")
    assert full.multiply_adds == plain.multiply_adds  # plain products, as top_k_neighbours runs
