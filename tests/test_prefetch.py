"""The kernels' software prefetch: a hint in the compiled code that never faults and never changes a result."""

from __future__ import annotations

import numpy as np
import pytest

from recframe.engine import numba_available

pytestmark = pytest.mark.skipif(not numba_available(), reason="needs numba")


def _compiled_prefetcher():  # type: ignore[no-untyped-def]
    import numba

    from recframe.engine._compiled.prefetch import _prefetch_row

    @numba.njit
    def prefetch_rows(indptr, indices, data, rows):  # type: ignore[no-untyped-def]
        total = 0.0
        for row in rows:
            _prefetch_row(indptr, indices, data, row)
            for q in range(indptr[row], indptr[row + 1]):
                total += data[q] * indices[q]
        return total

    return prefetch_rows


def test_prefetching_rows_up_to_and_past_the_end_reads_nothing_wrong() -> None:
    prefetch_rows = _compiled_prefetcher()
    indptr = np.array([0, 2, 3, 3], dtype=np.int64)
    indices = np.array([1, 4, 2], dtype=np.int32)
    data = np.array([0.5, 2.0, 3.0])
    # row 2 is empty and starts at the arrays' end: its lines lie past them, which a prefetch may ask for
    assert prefetch_rows(indptr, indices, data, np.array([0, 1, 2, 2, 1])) == pytest.approx(0.5 + 8.0 + 6.0 + 6.0)


def test_the_compiled_code_asks_for_the_lines() -> None:
    prefetch_rows = _compiled_prefetcher()
    indptr = np.array([0, 1], dtype=np.int64)
    prefetch_rows(indptr, np.zeros(1, dtype=np.int32), np.ones(1), np.zeros(1, dtype=np.int64))
    (llvm,) = prefetch_rows.inspect_llvm().values()
    assert llvm.count("call void @llvm.prefetch") >= 1


def test_the_prefetch_helpers_count_no_array_in_and_out_of_use() -> None:
    """A helper inlined by numba copied its array arguments, each counted in and out of use (two
    atomic operations) at every call: in the symmetric kernel's loop that cost about what the
    prefetch gains (ML-20M shape, one thread, the offers already out of line: 12.0 CPU s
    against 10.1-10.7 s)."""
    import numba

    from recframe.engine._compiled.prefetch import _prefetch_entries, _prefetch_row

    @numba.njit
    def ask(indptr, indices, data, rows):  # type: ignore[no-untyped-def]
        for row in rows:
            _prefetch_row(indptr, indices, data, row)
            _prefetch_entries(indices, data, indptr[row])

    ask(np.array([0, 1], dtype=np.int64), np.zeros(1, dtype=np.int32), np.ones(1), np.zeros(3, dtype=np.int64))
    (llvm,) = ask.inspect_llvm().values()
    body = llvm[llvm.index("define") : llvm.index("define", llvm.index("define") + 1)]  # the kernel, not its wrapper
    assert "call void @llvm.prefetch" in body
    assert "NRT_incref" not in body
