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
from benchmarks.methods import NEIGHBOUR_METHODS, batch_implicit, batch_recframe, graph_for_batch

BATCH_METHODS = {
    "recframe item_cf (numba)": lambda m, g, n: batch_recframe(m, g, n, "numba"),
    "recframe item_cf (scipy engine)": lambda m, g, n: batch_recframe(m, g, n, "scipy"),
    "implicit": batch_implicit,
}


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
            BATCH_METHODS[method](warm, graph_for_batch(warm, 5), 3)
            graph = graph_for_batch(matrix, k)
            baseline = peak_rss_mb()
            start = time.perf_counter()
            items = BATCH_METHODS[method](matrix, graph, 10)
            seconds = time.perf_counter() - start
            np.savez(out, items=np.asarray(items))
        else:
            axis = "items" if task == "item-item" else "users"
            NEIGHBOUR_METHODS[method](warm, axis, 5)
            baseline = peak_rss_mb()
            start = time.perf_counter()
            indices, scores = NEIGHBOUR_METHODS[method](matrix, axis, k)
            seconds = time.perf_counter() - start
            np.savez(out, indices=indices, scores=scores)
    except ImportError as exc:
        print(json.dumps({"error": f"not installed: {exc.name or exc}"}))
        return 3
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "baseline_rss_mb": baseline}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
