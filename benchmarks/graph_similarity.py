"""P3alpha and RP3beta: their accuracy beside cosine item-kNN, their speed and parity beside similaripy's.

    python -m benchmarks.graph_similarity --shape ml-1m
    python -m benchmarks.graph_similarity --shape smoke            # seconds; what CI runs

Accuracy: on a seeded long-tailed data shape (see ``datasets.py``), 20% of each user's
interactions are held out at random (``per_user_holdout``, seed 0); item-CF with k = 100 is
fitted on the rest by ``cosine``, ``p3alpha`` and ``rp3beta`` of the ``sparse`` backend and
scored by recframe's own evaluation (ndcg@10, recall@10). Speed: the item-item neighbours of
the whole shape (fit + search, k = 100, median of ``--repeats`` after a warm-up that compiles
numba's kernels), recframe against similaripy 0.7 (``pip install similaripy``) on the same
matrix with the same threads; similaripy keeps a row as its own neighbour, so it is timed
with k + 1. Parity: similaripy's every similarity (k = all rows, untimed), its diagonal
dropped, against each score recframe kept, and against each row's sorted top-k scores (max
abs difference).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import SHAPES, describe, load_matrix
from recframe import Interactions, Recommender
from recframe.builtin.similarity import SparseSimilarity

K = 100
METHODS: dict[str, dict[str, Any]] = {
    "cosine item-kNN": {"measure": "cosine"},
    "p3alpha (alpha 1)": {"measure": "p3alpha", "alpha": 1.0},
    "p3alpha (alpha 0.8, l1)": {"measure": "p3alpha", "alpha": 0.8, "normalise": "l1"},
    "rp3beta (alpha 1, beta 0.5)": {"measure": "rp3beta", "alpha": 1.0, "beta": 0.5},
    "rp3beta (alpha 0.8, beta 0.6, l1)": {"measure": "rp3beta", "alpha": 0.8, "beta": 0.6, "normalise": "l1"},
}
"""Accuracy rows: the ``sparse`` settings of each."""
SPEED: dict[str, dict[str, float]] = {"p3alpha": {"alpha": 0.8}, "rp3beta": {"alpha": 0.8, "beta": 0.6}}
"""Speed and parity rows: the parameters both libraries get."""


def accuracy(matrix: sp.csr_array, k: int) -> list[str]:
    """Return table rows of ndcg@10 and recall@10 of every method, by recframe's evaluation."""
    users = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    data = Interactions(users, matrix.indices.astype(np.int64), matrix.data.astype(np.float64))
    rows = []
    for label, settings in METHODS.items():
        config = {
            "seed": 0,
            "similarity": {"type": "sparse", "k": k, **settings},
            "ranker": {"type": "item_cf", "n": 10},
            "evaluation": {
                "split": {"type": "per_user_holdout", "test_fraction": 0.2},
                "metrics": ["ndcg@10", "recall@10"],
            },
        }
        start = time.perf_counter()
        result = Recommender.from_config(config).evaluate(data).metrics
        seconds = time.perf_counter() - start
        rows.append(f"| {label} | {result['ndcg@10']:.4f} | {result['recall@10']:.4f} | {seconds:.1f} |")
    return rows


def timed(run: Any, repeats: int) -> tuple[float, Any]:
    """Return the median seconds of `repeats` calls of `run` and its last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def speed(rows: sp.csr_array, k: int, repeats: int, threads: int) -> list[str]:
    """Return table rows of recframe's and similaripy's seconds per measure, with the parity of their scores."""
    try:
        import similaripy
    except ImportError:
        similaripy = None
    out = []
    for measure, params in SPEED.items():
        backend = SparseSimilarity(k=k, measure=measure, threads=threads, **params)
        backend.fit(rows[:200]).neighbours()  # compile numba's kernels outside the timing
        ours_s, graph = timed(lambda b=backend: b.fit(rows).neighbours(), repeats)
        if similaripy is None:
            out.append(f"| {measure} | {ours_s:.2f} | not installed | | |")
            continue
        fn = getattr(similaripy, measure)

        def theirs(fn: Any = fn, params: dict[str, float] = params) -> sp.csr_array:
            return fn(rows, k=k + 1, verbose=False, format_output="csr", num_threads=threads, **params)

        theirs_s, _ = timed(theirs, repeats)
        # parity against similaripy's every similarity (k = all rows; not timed), its diagonal dropped
        reference = sp.csr_array(
            fn(rows, k=rows.shape[0], verbose=False, format_output="csr", num_threads=threads, **params),
            dtype=np.float64,
        )
        reference.setdiag(0.0)
        reference.eliminate_zeros()
        ours = graph.to_csr()
        kept = float(np.abs(ours - ours.sign() * reference).max()) if ours.nnz else 0.0
        best = np.zeros((rows.shape[0], k))
        for r in range(rows.shape[0]):  # each row's sorted top-k scores (ties may pick other rows)
            values = np.sort(reference.data[reference.indptr[r] : reference.indptr[r + 1]])[::-1][:k]
            best[r, : len(values)] = values
        sorted_diff = float(np.abs(graph.scores - best).max())
        out.append(f"| {measure} | {ours_s:.2f} | {theirs_s:.2f} | {kept:.1e} | {sorted_diff:.1e} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-1m")
    parser.add_argument("--k", type=int, default=K)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--output", type=Path, help="append the Markdown tables to this file")
    args = parser.parse_args(argv)

    matrix = load_matrix(args.shape)
    sizes = describe(matrix)
    try:
        from importlib.metadata import version

        theirs = f"similaripy {version('similaripy')}"
    except Exception:  # not installed: say so
        theirs = "similaripy not installed"
    lines = [
        f"### P3alpha / RP3beta, shape {args.shape} ({sizes['users']} users, {sizes['items']} items, "
        f"{sizes['interactions']} interactions), k = {args.k}\n",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
        f"Python {platform.python_version()}, numpy {np.__version__}, {theirs}\n",
    ]
    if not args.skip_accuracy:
        lines += ["| item-CF similarity | ndcg@10 | recall@10 | seconds (fit + evaluate) |", "|---|---|---|---|"]
        lines += accuracy(matrix, args.k)
        lines.append("")
    lines += [
        "| measure (item-item) | recframe s | similaripy s | max abs diff, kept scores | max abs diff, sorted top-k |",
        "|---|---|---|---|---|",
    ]
    lines += speed(sp.csr_array(matrix.T), args.k, args.repeats, args.threads)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with args.output.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
