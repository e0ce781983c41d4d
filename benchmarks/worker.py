"""Run one benchmark measurement in this (fresh) process and print its result as JSON.

    python -m benchmarks.worker SHAPE TASK METHOD K OUT.npz

Exit code 3 means the method's library is not installed.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

from benchmarks.datasets import load_matrix
from benchmarks.methods import (
    NEIGHBOUR_METHODS,
    batch_implicit,
    batch_implicit_own,
    batch_recframe,
    fit_implicit,
    graph_for_batch,
)

BATCH_METHODS = {
    "recframe item_cf (numba)": lambda m, g, n: batch_recframe(m, g, n, "numba"),
    "recframe item_cf (scipy engine)": lambda m, g, n: batch_recframe(m, g, n, "scipy"),
    "implicit": batch_implicit,
    "implicit (own model)": batch_implicit_own,
}
"""Top-10 for every user; each gets what its ``BATCH_MODELS`` entry builds (untimed)."""

BATCH_MODELS = {"implicit (own model)": fit_implicit}
"""Untimed preparation of a batch method other than recframe's k-neighbour graph: implicit's
own fitted model is its users' call (an injected graph goes through a slower scorer)."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process image (VmHWM).

    Not ``ru_maxrss``: Linux carries that over from the parent across ``exec``, so a worker
    started by a runner holding a large matrix would report the runner's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    shape, task, method, k, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    matrix = load_matrix(shape)
    warm = load_matrix("smoke")[:40, :30]  # imports, thread pools and compiled kernels: untimed
    try:
        if task == "batch":
            prepare = BATCH_MODELS.get(method, graph_for_batch)
            BATCH_METHODS[method](warm, prepare(warm, 5), 3)
            graph = prepare(matrix, k)
            baseline = peak_rss_mb()
            start, cpu = time.perf_counter(), time.process_time()
            items = BATCH_METHODS[method](matrix, graph, 10)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            np.savez(out, items=np.asarray(items))
        else:
            axis = "items" if task == "item-item" else "users"
            NEIGHBOUR_METHODS[method](warm, axis, 5)
            baseline = peak_rss_mb()
            start, cpu = time.perf_counter(), time.process_time()
            indices, scores = NEIGHBOUR_METHODS[method](matrix, axis, k)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            np.savez(out, indices=indices, scores=scores)
    except ImportError as exc:
        print(json.dumps({"error": f"not installed: {exc.name or exc}"}))
        return 3
    record = {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
