"""The GPU check of issue 18: recframe-gpu's speed and exactness on the ML-20M shape, in one script.

    python -m benchmarks.gpu --device cuda --shape ml-20m --out "$OUT"     # on the GPU machine, < 10 min
    python -m benchmarks.gpu --device cpu --shape small                    # seconds: a smoke run anywhere

Needs PyTorch (and Triton for ``kernel: rows``), recframe's dependencies and, for the CPU engine's
best time, numba; nothing needs installing from the checkout: run it with
``PYTHONPATH=.:plugins/recframe-gpu`` (the plugin is registered directly, not by its entry point).

Data: ``ml-20m`` is ``ml-20m-real`` of ``datasets.py`` (138,493 users x
26,744 items, 19.6M ratings, a long tail of user activity with ``sum_u deg(u)^2`` about 1.0e10),
drawn from seed 1; ``small`` the same law at 3,000 x 1,000.

Timed, each after a warm-up run (CUDA context, cuSPARSE handles, numba compilation), median of
``--repeats``, every run from host arrays to host arrays (uploads and downloads included):

- item-item top-``k`` (50): ``similarity: gpu`` fit + neighbours, cosine, with each ``kernel``
  (``spmm``, and ``rows`` on CUDA) and ``precision`` (float64, float32);
- top-``n`` (10) for every user from that graph: ``ranker: gpu_item_cf``, seen items excluded;
- the same two on recframe's CPU engine (``sparse``, ``item_cf``) with all the machine's cores.

Checked: the GPU lists against the CPU engine's (the same neighbours but among ties at the
k-th place, scores within 1e-5: ``recframe.testing.assert_same_neighbours``; identical rows
counted), and two GPU runs bit for bit. Reported: achieved arithmetic rate and modelled memory
traffic as fractions of the H200's peaks (``PEAKS``). A setting that fails is recorded with its
error, and device runs past ``--budget`` seconds are skipped, so one run always reports. Writes
``gpu.json`` and ``gpu.md`` to ``--out`` (default ``$OUT``, else ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import SkewedShape, describe, load_matrix, skewed_matrix
from recframe import CandidateRanker, NeighbourGraph, PluginRegistry, SimilarityBackend
from recframe.engine import default_threads, resolve_engine
from recframe.testing import assert_same_neighbours

SMALL = SkewedShape(3_000, 1_000, 60_000, 1.14, 700)
PEAKS = {"fp64_tflops": 34.0, "fp32_tflops": 67.0, "memory_tb_s": 4.8}
"""H200 SXM peaks from NVIDIA's datasheet: FP64 and FP32 on the CUDA cores (the SpMM uses no
tensor cores), HBM3e bandwidth."""
NAIVE_H100 = {"item-item": 3.7, "top-n": 4.4}
"""The issue's baseline: a naive blocked dense product on one H100, fp32, seconds."""


def timed(run: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    """Run once to warm up, then `repeats` times; return the timed seconds and the last result."""
    result = run()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def compare(got: np.ndarray, got_scores: np.ndarray, want: np.ndarray, want_scores: np.ndarray) -> dict[str, Any]:
    """Return how two top lists agree: identical rows, the tie-aware check, the largest score gap."""
    same_rows = int(np.all(got == want, axis=1).sum())
    both = (got >= 0) & (want >= 0) & (got == want)
    verdicts = {}
    for atol in (1e-5, 1e-4):
        verdicts[atol] = "same lists"
        try:
            assert_same_neighbours(NeighbourGraph(got, got_scores, 0), NeighbourGraph(want, want_scores, 0), atol=atol)
        except AssertionError as exc:
            verdicts[atol] = f"DIFFERENT: {str(exc)[:300]}"
    return {
        "rows": len(got),
        "identical_rows": same_rows,
        "tie_aware_check": verdicts[1e-5],
        "tie_aware_check_1e-4": verdicts[1e-4],
        "max_score_difference": float(np.abs(got_scores - want_scores)[both].max(initial=0.0)),
    }


def rates(seconds: float, multiply_adds: float, bytes_moved: float, precision: str) -> dict[str, float]:
    """Return the achieved FLOP rate and modelled bandwidth as fractions of the peaks."""
    peak = PEAKS["fp64_tflops"] if precision == "float64" else PEAKS["fp32_tflops"]
    return {
        "tflops": 2 * multiply_adds / seconds / 1e12,
        "flop_fraction": 2 * multiply_adds / seconds / 1e12 / peak,
        "tb_s": bytes_moved / seconds / 1e12,
        "bandwidth_fraction": bytes_moved / seconds / 1e12 / PEAKS["memory_tb_s"],
    }


def traffic(n_queries: int, dense_inner: int, n_targets: int, nnz: int, blocks: int, size: int) -> float:
    """Model the device memory traffic of one search or scoring, in bytes.

    Per block the product reads the right factor (``nnz`` values and 32-bit indices); ``spmm``
    writes and reads the dense queries (``dense_inner`` columns; 0 for ``rows``, whose gathers
    stay in cache); the products are written once and the selection reads and writes them about
    eight times.
    """
    return blocks * nnz * (size + 4) + n_queries * (3 * dense_inner * size + 9 * n_targets * size)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--shape", choices=["ml-20m", "small"], default="ml-20m")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-memory-mb", type=int, default=None, help="device block memory (16384 on cuda)")
    parser.add_argument("--precisions", default="float64,float32")
    parser.add_argument("--kernels", default=None, help="spmm,rows on cuda; spmm on cpu")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds; later device runs are skipped")
    parser.add_argument("--skip-cpu", action="store_true", help="don't time recframe's CPU engine")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "benchmarks/results"))
    args = parser.parse_args(argv)
    import recframe_gpu
    import torch

    start = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {message}", flush=True)

    matrix = load_matrix("ml-20m-real") if args.shape == "ml-20m" else skewed_matrix(SMALL, np.random.default_rng(1))
    items = sp.csr_array(matrix.T)
    items.sort_indices()
    shape = describe(matrix)
    log(f"data {shape}")
    registry = PluginRegistry.from_environment(entry_points=False)  # runs from a checkout without installing
    registry.register(recframe_gpu, name="gpu", package="recframe-gpu", version="source")
    memory = args.max_memory_mb or (16384 if args.device == "cuda" else 256)
    kernels = (args.kernels or ("spmm,rows" if args.device == "cuda" else "spmm")).split(",")
    report: dict[str, Any] = {
        "shape": args.shape,
        "data": shape,
        "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__,
        "cpu_threads": default_threads(),
        "cpu_engine": resolve_engine("auto"),
        "k": args.k,
        "n": args.n,
        "max_memory_mb": memory,
        "peaks": PEAKS,
        "results": [],
    }
    users = np.arange(matrix.shape[0])
    n_users, n_items, nnz = matrix.shape[0], matrix.shape[1], int(matrix.nnz)
    interactions = registry_matrix(matrix)
    settings = [(kernel, precision) for kernel in kernels for precision in args.precisions.split(",")]

    def on_device(task: str, kernel: str, precision: str, run: Callable[[], Any], work: float, bytes_moved: float):
        """Time one device setting; record its rates and any error rather than stopping."""
        entry: dict[str, Any] = {"task": task, "method": f"gpu {kernel} {precision}"}
        if time.perf_counter() - start > args.budget:
            entry["error"] = f"skipped: past the {args.budget:.0f} s budget"
            report["results"].append(entry)
            return None
        try:
            seconds, result = timed(run, args.repeats)
            again = run()
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {str(exc)[:500]}"
            report["results"].append(entry)
            log(f"{entry['method']} {task}: {entry['error']}")
            return None
        entry["seconds"] = seconds
        entry.update(rates(statistics.median(seconds), work, bytes_moved, precision))
        entry["bitwise_repeatable"] = all(
            np.array_equal(x, y, equal_nan=True) for x, y in zip(arrays(result), arrays(again), strict=True)
        )
        report["results"].append(entry)
        log(f"{entry['method']} {task}: {statistics.median(seconds):.3f} s")
        return entry, result

    cpu_graph = None
    if not args.skip_cpu:
        sparse = registry.create("similarity", "sparse", SimilarityBackend, k=args.k)
        seconds, cpu_graph = timed(lambda: sparse.fit(items).neighbours(), args.repeats)
        report["results"].append({"task": "item-item", "method": "CPU engine (sparse)", "seconds": seconds})
        log(f"CPU engine item-item top-{args.k}: {statistics.median(seconds):.2f} s")
    graph = cpu_graph
    for kernel, precision in settings:
        size = 8 if precision == "float64" else 4
        dense = n_users if kernel == "spmm" else 0
        blocks = -(-n_items // max(1, (memory << 20) // (dense * size + n_items * 48)))
        backend = registry.create(
            "similarity",
            "gpu",
            SimilarityBackend,
            k=args.k,
            device=args.device,
            precision=precision,
            kernel=kernel,
            max_memory_mb=memory,
        )
        work = nnz * n_items if kernel == "spmm" else shape["item_item_work"]
        done = on_device(
            "item-item",
            kernel,
            precision,
            lambda b=backend: b.fit(items).neighbours(),
            work,
            traffic(n_items, dense, n_items, nnz, blocks, size),
        )
        if done is not None:
            graph = graph or done[1]
            if cpu_graph is not None:
                done[0]["against_cpu"] = compare(done[1].indices, done[1].scores, cpu_graph.indices, cpu_graph.scores)
    if graph is None:
        write(report, args.out)
        return report

    weights = graph.to_csr()
    cpu_lists = None
    if not args.skip_cpu:  # fit + recommend, as on the device (where fit precedes the upload)

        def cpu_top_n() -> Any:
            ranker = registry.create("ranker", "item_cf", CandidateRanker, n=args.n)
            return ranker.fit(interactions, graph).recommend(users)

        seconds, cpu_lists = timed(cpu_top_n, args.repeats)
        report["results"].append({"task": "top-n", "method": "CPU engine (item_cf)", "seconds": seconds})
        log(f"CPU engine top-{args.n} for all users: {statistics.median(seconds):.2f} s")
    for kernel, precision in settings:
        size = 8 if precision == "float64" else 4
        dense = n_items if kernel == "spmm" else 0
        blocks = -(-n_users // max(1, (memory << 20) // (dense * size + n_items * 48)))
        ranker = registry.create(
            "ranker",
            "gpu_item_cf",
            CandidateRanker,
            n=args.n,
            device=args.device,
            precision=precision,
            kernel=kernel,
            max_memory_mb=memory,
        )
        rows_work = float(np.bincount(matrix.indices, minlength=n_items) @ np.diff(weights.indptr))
        done = on_device(
            "top-n",
            kernel,
            precision,
            lambda r=ranker: r.fit(interactions, graph).recommend(users),
            weights.nnz * n_users if kernel == "spmm" else rows_work,
            traffic(n_users, dense, n_items, weights.nnz, blocks, size),
        )
        if done is not None and cpu_lists is not None:
            got, want = done[1], cpu_lists
            done[0]["against_cpu"] = compare(
                got.items, np.nan_to_num(got.scores), want.items, np.nan_to_num(want.scores)
            )
    report["total_seconds"] = time.perf_counter() - start
    write(report, args.out)
    log(f"wrote {args.out / 'gpu.md'} and gpu.json")
    return report


def arrays(result: Any) -> list[np.ndarray]:
    """Return the arrays of a graph or of top-n lists, to compare two runs."""
    if isinstance(result, NeighbourGraph):
        return [result.indices, result.scores]
    return [result.items, result.scores]


def registry_matrix(matrix: sp.csr_array) -> Any:
    """Return `matrix` as an ``InteractionMatrix`` with row numbers as ids (what rankers fit on)."""
    from recframe import IdIndex, InteractionMatrix

    return InteractionMatrix(
        sp.csr_array(matrix, dtype=np.float64), IdIndex(np.arange(matrix.shape[0])), IdIndex(np.arange(matrix.shape[1]))
    )


def write(report: dict[str, Any], folder: Path) -> None:
    """Write ``gpu.json`` and a markdown table ``gpu.md`` into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    lines = [
        f"# recframe-gpu on {report['device']} ({report['shape']}: {report['data']})",
        "",
        f"k = {report['k']}, n = {report['n']}, block memory {report['max_memory_mb']} MB, torch {report['torch']}, "
        f"CPU engine {report['cpu_engine']} on {report['cpu_threads']} threads; peaks {report['peaks']}.",
        "",
        "| task | method | median s (range) | vs naive H100 | TFLOP/s (of peak) | TB/s modelled (of peak) "
        "| against the CPU engine |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['task']} | {r['method']} | {r['error']} | | | | |")
            continue
        median = statistics.median(r["seconds"])
        rate = f"{r['tflops']:.2f} ({r['flop_fraction']:.1%})" if "tflops" in r else ""
        band = f"{r['tb_s']:.2f} ({r['bandwidth_fraction']:.1%})" if "tb_s" in r else ""
        check = r.get("against_cpu", {})
        agree = ""
        if check:
            agree = f"{check['identical_rows']}/{check['rows']} rows identical; {check['tie_aware_check'][:60]}"
            agree += f" (at 1e-4: {check['tie_aware_check_1e-4'][:60]}); "
            agree += f"max score diff {check['max_score_difference']:.1e}"
        naive = f"{NAIVE_H100[r['task']] / median:.1f}x" if report["shape"] == "ml-20m" else "n/a"
        lines.append(
            f"| {r['task']} | {r['method']} | {median:.3f} ({min(r['seconds']):.3f}-{max(r['seconds']):.3f}) | "
            f"{naive} | {rate} | {band} | {agree} |"
        )
    repeatable = [r["method"] + " " + r["task"] for r in report["results"] if r.get("bitwise_repeatable") is False]
    lines += ["", f"Not bit for bit the same in two runs: {', '.join(repeatable) or 'none'}."]
    lines += ["", f"Total time of the script: {report.get('total_seconds', 0.0):.0f} s."]
    (folder / "gpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
