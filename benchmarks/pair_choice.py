"""Plain products against the search by pairs, and which of them the engine picks (issue 14's finding).

    python -m benchmarks.pair_choice                          # the generated shapes, 2 repeats
    python -m benchmarks.pair_choice --datasets ml-20m        # and the ML-20M shape's items
    python -m benchmarks.pair_choice --shape smoke            # seconds: a smoke test

``top_k_neighbours`` computes each pair of rows once (the symmetric kernel) where the rows meet
each pair they meet often enough (``recframe.engine.pairs_met_often``), else every pair twice
(plain products). For each shape this times ``SparseSimilarity(k).neighbours()`` (cosine, the
fit's full search) with each kernel forced, and with the engine's own choice, best of
``--repeats`` after a warm-up, and checks that the two kernels give the same lists. The shapes
are long-tailed (row and column degrees drawn by Zipf-like weights, as in rating data), over all
columns ("random") or within communities of rows and columns ("communities"), which meet their
pairs more often for the same multiply-adds per pair of rows.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import load_matrix
from benchmarks.run import machine, versions
from recframe.builtin.similarity.sparse import SparseConfig, SparseSimilarity
from recframe.engine import pairs_met_often, products


@dataclass(frozen=True)
class Shape:
    """Rows x columns with `entries` draws (duplicates merged), in `groups` communities."""

    rows: int
    columns: int
    entries: int
    groups: int = 1

    def matrix(self, seed: int) -> sp.csr_array:
        """Return the shape's rows, long-tailed, canonical, ratings 1 to 5."""
        rng = np.random.default_rng(seed)
        parts = [self._group(rng) for _ in range(self.groups)]
        return sp.csr_array(sp.block_diag(parts, format="csr")) if len(parts) > 1 else parts[0]

    def _group(self, rng: np.random.Generator) -> sp.csr_array:
        n, m, draws = self.rows // self.groups, self.columns // self.groups, self.entries // self.groups
        row_weights = 1.0 / np.arange(1, n + 1) ** 0.9
        column_weights = 1.0 / np.arange(1, m + 1) ** 0.9
        rows = rng.choice(n, draws, p=row_weights / row_weights.sum())
        columns = rng.choice(m, draws, p=column_weights / column_weights.sum())
        x = sp.csr_array((rng.integers(1, 6, draws).astype(np.float64), (rows, columns)), shape=(n, m))
        x.sum_duplicates()
        x.data = np.minimum(x.data, 5.0)  # a repeated draw is one rating, not their sum
        return x


SHAPES: dict[str, dict[str, Shape]] = {
    "default": {
        "random 20,000 x 5,000": Shape(20_000, 5_000, 400_000),
        "random 30,000 x 8,000": Shape(30_000, 8_000, 600_000),
        "random 15,000 x 2,000": Shape(15_000, 2_000, 900_000),
        "random 15,000 x 1,500": Shape(15_000, 1_500, 1_400_000),
        "communities 24,000 x 2,000 (4)": Shape(24_000, 2_000, 1_200_000, groups=4),
        "communities 60,000 x 4,000 (4)": Shape(60_000, 4_000, 3_000_000, groups=4),
    },
    "smoke": {
        "random 9,000 x 3,000": Shape(9_000, 3_000, 40_000),
        "communities 9,000 x 600 (6)": Shape(9_000, 600, 90_000, groups=6),
    },
}


def met_per_pair(x: sp.csr_array) -> float:
    """Return the multiply-adds per distinct pair met, of 64 evenly spaced rows (the engine's sample)."""
    return products.sampled_work_per_pair(x, np.diff(sp.csc_array(x).indptr).astype(np.float64))


def best_of(search: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Return the best wall time of `repeats` runs after a warm-up, and the last result."""
    result = search()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = search()
        seconds.append(time.perf_counter() - start)
    return min(seconds), result


def measure(name: str, x: sp.csr_array, k: int, repeats: int) -> str:
    """Time both kernels and the engine's choice on `x`; return the table row."""
    backend = SparseSimilarity(SparseConfig(k=k)).fit(x)
    saved = products.SYMMETRIC_MIN_PAIR_WORK
    times, graphs = {}, {}
    try:
        for label, threshold in (("plain", float("inf")), ("by pairs", 0.0), ("chosen", saved)):
            products.SYMMETRIC_MIN_PAIR_WORK = threshold
            times[label], graphs[label] = best_of(backend.neighbours, repeats)
    finally:
        products.SYMMETRIC_MIN_PAIR_WORK = saved
    plain, pairs = graphs["plain"], graphs["by pairs"]
    same = np.array_equal(plain.indices, pairs.indices) and np.allclose(plain.scores, pairs.scores, rtol=1e-12)
    chosen = "by pairs" if pairs_met_often(x) else "plain"
    quicker = "plain" if times["plain"] <= times["by pairs"] else "by pairs"
    return (
        f"| {name} | {x.shape[0]:,} x {x.shape[1]:,} | {x.nnz:,} | {met_per_pair(x):.1f} | {times['plain']:.2f} | "
        f"{times['by pairs']:.2f} | {chosen} ({times['chosen']:.2f}) | {quicker} | {'yes' if same else 'NO'} |"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure every shape; print the table; return 1 if the kernels disagreed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="default", help="the generated shapes")
    parser.add_argument("--datasets", default="", help="comma-separated benchmarks.datasets shapes: their item rows")
    parser.add_argument("--k", type=int, default=51, help="neighbours per row (a fit asks k + update_slack + 1)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    cases = {name: shape.matrix(args.seed) for name, shape in SHAPES[args.shape].items()}
    for dataset in (d.strip() for d in args.datasets.split(",") if d.strip()):
        items = sp.csr_array(load_matrix(dataset).T)
        items.sort_indices()
        cases[f"{dataset} items"] = items
    print(f"{machine()}; {versions()}; k = {args.k}, cosine, best of {args.repeats} after a warm-up\n")
    print(
        "| shape | rows x columns | entries | multiply-adds per pair met | plain s | by pairs s | "
        "chosen (s) | quicker | same lists |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name, x in cases.items():
        rows.append(measure(name, x, args.k, args.repeats))
        print(rows[-1], flush=True)
    return 0 if all(row.endswith("| yes |") for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
