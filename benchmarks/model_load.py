"""Save and load an item-kNN model of a public data set's shape: times and added resident memory.

    python -m benchmarks.model_load --shape ml-20m
    python -m benchmarks.model_load --shape smoke          # seconds; a smoke test

The model is item-kNN (``item_cf``, ``k=50``) fitted on the seeded matrix of the shape (see
:mod:`benchmarks.datasets`), saved once (timed). Each load then runs in a fresh Python process,
which imports recframe first and then measures: the wall time of ``Recommender.load`` (with
checksums verified, the default, and with ``verify=False``), the resident memory (``VmRSS``)
it added, and the memory and time of the first query (top-10 of one user). Plugin discovery
(``PluginRegistry.from_environment()``, which ``load`` does when given no registry: importing the
built-ins) is timed apart, as a server does it once. The model's files
are in the page cache (they were just written or hashed), as on a server that loads a model
it has used before; a cold disk adds its read time to the checksum pass.

The first query is measured twice: in a process that starts numba with it (its one-time
runtime start, about 0.3 s and 75 MB, included), and after ``recframe.engine.warm_up()`` ran
before the load, as ``recframe serve`` does: then it costs only what the query itself reads.
``--model FOLDER`` measures a model saved before (``--user`` names a user id) instead of fitting.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import SHAPES, load_matrix

PROBE = """
import json, sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
from recframe import Recommender
from recframe.registry import PluginRegistry
start = time.perf_counter()
registry = PluginRegistry.from_environment()
discovery = time.perf_counter() - start
if sys.argv[4] == "1":
    from recframe.engine import warm_up
    warm_up()
before = rss()
start = time.perf_counter()
rec = Recommender.load(sys.argv[1], verify=sys.argv[2] == "1", registry=registry)
loaded = time.perf_counter() - start
after_load = rss()
start = time.perf_counter()
rec.recommend([int(sys.argv[3])], n=10)
query = time.perf_counter() - start
after_query = rss()
start = time.perf_counter()
rec.recommend([int(sys.argv[3])], n=10)
again = time.perf_counter() - start
print(json.dumps({"discovery_s": discovery, "load_s": loaded, "load_mb": after_load - before, "query_s": query,
                  "query_mb": after_query - after_load, "rss_mb": after_query, "again_s": again}))
"""


def _fit(shape: str, similarity: str) -> object:
    from recframe import Interactions, Recommender

    matrix = load_matrix(shape)
    coo = matrix.tocoo()
    interactions = Interactions(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64))
    rec = Recommender.from_config({"similarity": {"type": similarity, "k": 50}, "ranker": {"type": "item_cf", "n": 10}})
    start = time.perf_counter()
    rec.fit(interactions)
    seconds = time.perf_counter() - start
    print(
        f"fitted {shape} ({matrix.shape[0]:,} x {matrix.shape[1]:,}, {matrix.nnz:,}) in {seconds:.1f}s", file=sys.stderr
    )
    return rec


def _probe(folder: Path, verify: bool, user: int, warm: bool = False) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(folder), "1" if verify else "0", str(user), "1" if warm else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-20m")
    parser.add_argument(
        "--similarity",
        choices=("sklearn_nn", "sparse"),
        default="sparse",
        help="the backend fitted (both save the same graph; sparse fits faster)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="fresh-process loads per setting (median shown)")
    parser.add_argument("--folder", type=Path, help="where to save the model (a temporary folder by default)")
    parser.add_argument("--model", type=Path, help="measure this saved model rather than fit and save one")
    parser.add_argument("--user", type=int, default=0, help="the user id queried with --model")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        print(f"| {args.shape} item-kNN (k=50, {args.similarity}) | value |")
        print("|---|---|")
        if args.model:
            folder, user = args.model, args.user
        else:
            rec = _fit(args.shape, args.similarity)
            folder = args.folder or Path(scratch) / "model"
            start = time.perf_counter()
            rec.save(folder)  # type: ignore[attr-defined]
            print(f"| save | {time.perf_counter() - start:.2f} s |")
            user = int(rec.interaction_matrix.users.ids[0])  # type: ignore[attr-defined]
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        print(f"| model size on disk | {size:,.0f} MB |")
        for verify, warm in ((True, False), (False, False), (False, True)):
            runs = [_probe(folder, verify, user, warm) for _ in range(args.repeats)]
            median = {key: float(np.median([r[key] for r in runs])) for key in runs[0]}
            label = "checksums verified" if verify else "verify=False"
            if warm:
                label += ", numba started before (warm_up, as recframe serve)"
            print(f"| load ({label}) | {median['load_s']:.3f} s (+ {median['discovery_s']:.2f} s plugin discovery) |")
            print(f"| added RSS after load ({label}) | {median['load_mb']:.1f} MB |")
            print(f"| first query, top-10 of one user ({label}) | {median['query_s'] * 1000:.1f} ms |")
            print(f"| added RSS by the first query ({label}) | {median['query_mb']:.1f} MB |")
            print(f"| RSS after the first query ({label}) | {median['rss_mb']:.0f} MB |")
            print(f"| second query, same user ({label}) | {median['again_s'] * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
