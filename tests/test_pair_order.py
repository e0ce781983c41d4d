"""recframe.data.pair_order: pairs by row, then column, then position, as np.lexsort orders them."""

from __future__ import annotations

import numpy as np

from recframe.data import pair_order


def test_pair_order_is_lexsorts_order() -> None:
    rng = np.random.default_rng(3)
    for _ in range(100):
        n_rows, n_columns = int(rng.integers(1, 50)), int(rng.integers(1, 50))
        n = int(rng.integers(0, 300))
        rows, columns = rng.integers(0, n_rows, n), rng.integers(0, n_columns, n)  # repeated pairs too
        expected = np.lexsort((columns, rows)).tolist()
        assert pair_order(rows, columns, n_rows, n_columns).tolist() == expected
    huge = 2**40  # row * n_columns would overflow: the lexsort itself
    rows, columns = np.array([3, 1, 3, 1]), np.array([huge - 1, 5, 0, 5])
    assert pair_order(rows, columns, huge, huge).tolist() == [1, 3, 2, 0]
