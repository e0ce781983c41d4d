"""The symmetric neighbour kernel against a scatter-add bound, in CPU seconds, in one process.

    python -m benchmarks.kernel_bound --shape ml-20m-real --threads 1 --repeats 2

The bound is a trivial compiled loop doing the kernel's scattered multiply-adds (each pair
``(i, j > i)`` once, into a dense per-thread accumulator) and nothing else: no scan, no heap.
CPU seconds (all threads) are steadier than wall time on a shared machine. Prints the best of
`repeats` runs of each and the multiply-adds per CPU second, i.e. per core (the symmetric half of
``sum_u deg(u)^2``).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import SHAPES, load_matrix
from benchmarks.methods import rows_of


@numba.njit(parallel=True, nogil=True, cache=True)
def scatter_bound(
    x_indptr: np.ndarray,
    x_indices: np.ndarray,
    x_data: np.ndarray,
    positions: np.ndarray,
    t_indptr: np.ndarray,
    t_indices: np.ndarray,
    t_data: np.ndarray,
    n_sets: int,
) -> float:
    """Scatter every pair ``(i, j > i)`` of ``X @ X.T`` into a dense accumulator; return a checksum."""
    n = x_indptr.shape[0] - 1
    total = np.zeros(n_sets)
    for c in numba.prange(n_sets):
        acc = np.zeros(n, dtype=np.float64)
        for i in range(c, n, n_sets):
            for p in range(x_indptr[i], x_indptr[i + 1]):
                u = x_indices[p]
                x = x_data[p]
                for q in range(positions[p] + 1, t_indptr[u + 1]):
                    acc[t_indices[q]] += x * t_data[q]
        total[c] = acc.sum()
    return float(total.sum())


def main(argv: list[str] | None = None) -> int:
    from recframe.engine import row_totals
    from recframe.engine.pairs import _scales, accumulate_pairs, pair_heaps, symmetric_parts

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="ml-1m", choices=list(SHAPES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    x = rows_of(load_matrix(args.shape), "items")  # raw rows: the kernel scales by the inverse norms
    x.sort_indices()
    t = sp.csr_array(x.T)
    t.sort_indices()
    n, threads, k = x.shape[0], args.threads, args.k
    x_parts, t_parts = symmetric_parts(x, t)  # as the search passes them (read-only, 32-bit indices)
    scales = _scales(row_totals(x)[0], n)
    # the bound's own index of each entry's place in X.T (the kernel walks cursors instead):
    # X.T lists the entries by column, then row, which is a stable sort of X's entries by column
    positions = np.empty(x.nnz, dtype=np.int64)
    positions[np.argsort(x.indices, kind="stable")] = np.arange(x.nnz)
    half = float((np.diff(t.indptr).astype(np.int64) ** 2).sum() / 2)
    numba.set_num_threads(threads)

    def kernel() -> None:
        accumulate_pairs(0, n, x_parts, t_parts, scales, pair_heaps(threads, n, k, n, x.shape[1]))

    runs = {"kernel": kernel, "scatter-add bound": lambda: scatter_bound(*x_parts, positions, *t_parts, threads)}
    best = dict.fromkeys(runs, float("inf"))
    for run in runs.values():  # compile (or load from the cache) before timing
        run()
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.process_time()
            run()
            best[name] = min(best[name], time.process_time() - start)
    print(f"{args.shape}: {n:,} rows, {half:.3g} multiply-adds (the symmetric half), {threads} thread(s), k = {k}")
    for name, seconds in best.items():
        print(f"{name}: {seconds:.2f} CPU s, {half / seconds:.2e} multiply-adds per CPU second")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
