"""The batch paths of ``top_n_product`` (more than FEW_ROWS rows) and ``top_k_by_measure``: slices in a pool of threads.

The compiled kernel runs on slices of the query rows, several per thread; the exclusions are
by position in `rows`, so every slice must read them at its rows' absolute positions. Checked
against the scipy engine on more rows than several slices hold, for one to three threads; an
error in a slice reaches the caller and leaves no thread behind.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import numba_available, row_totals, top_k_by_measure, top_n_product
from recframe.engine.few_rows import FEW_ROWS
from recframe.engine.measures import MeasureSpec
from recframe.engine.slices import SLICE, slices

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")

N_ROWS = 2 * SLICE + 700  # three slices of SLICE rows on one thread, more on several


def _random(rng: np.random.Generator, shape: tuple[int, int], density: float) -> sp.csr_array:
    matrix = sp.csr_array(sp.random_array(shape, density=density, format="csr", random_state=rng))
    matrix.data = np.round(matrix.data * 4) / 4 + 0.25  # many exact ties
    return matrix


@pytest.fixture(scope="module")
def product() -> dict[str, object]:
    rng = np.random.default_rng(7)
    a = _random(rng, (N_ROWS + 50, 60), 0.08)
    b = _random(rng, (60, 90), 0.1)
    rows = rng.integers(0, a.shape[0], N_ROWS)
    rows[rng.random(N_ROWS) < 0.05] = -1  # empty result rows
    return {
        "a": a,
        "b": b,
        "rows": rows,
        "seen": _random(rng, (a.shape[0], 90), 0.05),
        "exclude": _random(rng, (N_ROWS, 90), 0.05),
    }


def test_the_slices_cover_every_row_once_and_keep_each_thread_busy() -> None:
    for n_rows, threads in ((1, 1), (1000, 2), (1000, 16), (N_ROWS, 2), (138_493, 2)):
        for largest in (SLICE, None):
            pieces = slices(n_rows, threads, largest)
            assert [i for start, stop in pieces for i in range(start, stop)] == list(range(n_rows))
            assert len(pieces) >= min(8 * threads, -(-n_rows // 64))  # small batches: slices of 64
    assert slices(1000, 2)[0] == (0, 64) and slices(138_493, 2)[0] == (0, SLICE)
    assert len(slices(138_493, 2, None)) == 16 and slices(138_493, 2, None)[0] == (0, 8656)  # eight a thread


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_many_rows_with_exclusions_by_position_equal_the_scipy_engine(product: dict, threads: int) -> None:
    assert N_ROWS > FEW_ROWS
    kwargs = {"seen": product["seen"], "exclude": product["exclude"]}
    args = (product["a"], product["rows"], product["b"], 5)
    want = top_n_product(*args, **kwargs, engine="scipy")
    got = top_n_product(*args, **kwargs, engine="numba", threads=threads)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)
    assert (got[0][product["rows"] < 0] == -1).all()
    # the exclusions shifted by one position give other lists: the test reads them by position
    shifted = sp.csr_array(sp.vstack([product["exclude"][-1:], product["exclude"][:-1]]))
    other = top_n_product(*args, seen=product["seen"], exclude=shifted, engine="numba", threads=threads)
    assert not np.array_equal(other[0], got[0])


def test_scaled_square_product_without_the_rows_themselves_equals_the_scipy_engine() -> None:
    rng = np.random.default_rng(3)
    x = _random(rng, (N_ROWS, 40), 0.1)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
    args = (x, np.arange(N_ROWS), sp.csr_array(x.T), 4)
    kwargs = {"exclude_self": True, "query_norms": norms, "target_norms": norms}
    want = top_n_product(*args, **kwargs, engine="scipy")
    got = top_n_product(*args, **kwargs, engine="numba", threads=2)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


@pytest.mark.parametrize("measure", ["jaccard", "pearson"])
def test_search_by_a_measure_over_many_slices_equals_the_scipy_engine(measure: str) -> None:
    """The measure search runs on the same slices: the per-position totals are read at absolute positions."""
    rng = np.random.default_rng(11)
    x = _random(rng, (N_ROWS, 40), 0.1)
    rows = rng.permutation(N_ROWS)
    rows[::37] = -1
    args = (x, rows, sp.csr_array(x.T), row_totals(x), MeasureSpec.of(measure), 4)
    want = top_k_by_measure(*args, exclude_self=True, engine="scipy")
    got = top_k_by_measure(*args, exclude_self=True, engine="numba", threads=2)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)


def test_an_error_in_a_slice_reaches_the_caller_and_leaves_no_thread(
    product: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recframe.engine._compiled.products as compiled

    kernel = compiled.rows_top_n

    def failing(start: int, stop: int, *args: object) -> None:
        if start >= SLICE:
            msg = f"slice at {start} failed"
            raise RuntimeError(msg)
        kernel(start, stop, *args)

    monkeypatch.setattr(compiled, "rows_top_n", failing)
    with pytest.raises(RuntimeError, match="slice at"):
        top_n_product(product["a"], product["rows"], product["b"], 5, engine="numba", threads=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("recframe-slices")]


def test_the_batch_kernel_asks_for_rows_ahead() -> None:
    """The light rows' loop calls the prefetch helper (whose compiled code tests/test_prefetch.py reads)."""
    import inspect

    from recframe.engine._compiled.products import AHEAD, rows_top_n

    source = inspect.getsource(rows_top_n.py_func)
    assert "_prefetch_row(b_indptr, b_indices, b_data, a_indices[p + AHEAD])" in source and AHEAD >= 1
