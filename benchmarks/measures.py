"""Time every similarity measure of the ``sparse`` backend, and scikit-surprise's where it has one.

    python -m benchmarks.measures --shape ml-1m --axis items
    python -m benchmarks.measures --shape smoke                   # seconds; what CI runs

One process; each measure is fitted and searched once after a warm-up on a small slice (so
numba's compile time is not counted). scikit-surprise (``pip install scikit-surprise``), when
installed, computes its full dense similarity matrix for ``cosine``, ``pearson`` and ``msd``;
recframe keeps each row's top k (k = 50) of the same similarities (its ``corated_cosine`` is
surprise's ``cosine``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import SHAPES, load_matrix
from recframe.builtin.similarity import SparseSimilarity
from recframe.engine import MEASURES

SURPRISE_NAMES = {"corated_cosine": "cosine", "pearson": "pearson", "msd": "msd"}


def surprise_seconds(matrix: sp.csr_array, axis: str, measure: str) -> float | None:
    """Seconds of surprise's ``compute_similarities`` on the same ratings, or None without surprise."""
    try:
        import surprise
    except ImportError:
        return None
    coo = matrix.tocoo()
    import pandas as pd

    frame = pd.DataFrame({"user": coo.row, "item": coo.col, "rating": coo.data})
    trainset = surprise.Dataset.load_from_df(frame, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    algo = surprise.KNNBasic(sim_options={"name": measure, "user_based": axis == "users"}, verbose=False)
    algo.trainset = trainset
    start = time.perf_counter()
    algo.compute_similarities()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-1m")
    parser.add_argument("--axis", choices=("items", "users"), default="items")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--engines", default="numba", help="comma-separated: numba, scipy")
    parser.add_argument("--no-surprise", action="store_true", help="skip scikit-surprise")
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)

    ratings = load_matrix(args.shape)
    rows = sp.csr_array(ratings.T) if args.axis == "items" else ratings
    lines = [
        f"### similarity measures, {args.axis}, shape {args.shape}, k = {args.k}\n",
        f"{rows.shape[0]:,} rows x {rows.shape[1]:,} columns, {rows.nnz:,} entries; seconds for fit + all "
        "neighbours, one process.\n",
        "| measure | engine | recframe s | scikit-surprise s (full matrix) |",
        "|---|---|---|---|",
    ]
    for engine in args.engines.split(","):
        for measure in MEASURES:
            SparseSimilarity(k=3, measure=measure, engine=engine).fit(rows[:64]).neighbours()  # warm up
            backend = SparseSimilarity(k=args.k, measure=measure, engine=engine)
            start = time.perf_counter()
            graph = backend.fit(rows).neighbours()
            seconds = time.perf_counter() - start
            assert np.all(np.isfinite(graph.scores))
            theirs = None
            if measure in SURPRISE_NAMES and engine == args.engines.split(",")[0] and not args.no_surprise:
                theirs = surprise_seconds(ratings, args.axis, SURPRISE_NAMES[measure])
            lines.append(f"| {measure} | {engine} | {seconds:.2f} | {'' if theirs is None else f'{theirs:.2f}'} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output is not None:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
