"""Scaling of the distributed paths on growing data: neighbour search, batch scoring, evaluation folds.

Each (size, executor, workers) runs in a fresh Python process that loads the cached matrix,
warms up on a twentieth of its users (imports, compiled kernels, and on Ray the worker processes), then times
each path once: the item-item neighbour search of ``fit`` (sparse cosine, k=50), the top-10
lists of every user (``recommend_all``), and a 4-fold evaluation (each fold one task). Executors:
``local`` on W threads (W=1 is the serial baseline: one call; more split the search into blocks
of pairs, each pair computed once as in the serial call) and ``ray`` on a two-node cluster
this script starts on the loopback addresses 127.0.0.2 and 127.0.0.3 with W CPUs in all (one
task per CPU), and stops after. Every process runs the compiled kernels on one thread
(``NUMBA_NUM_THREADS=1``), so W workers use W cores: the time per core is what the cost model
of docs/scaling.md needs. This machine has 2 cores, so W=4 oversubscribes them.

Reported: seconds, the ratio to local with the same W (the executor's overhead), the driver's
peak RSS growth, the Ray worker processes' peak RSS (the sum over workers and the largest; it
counts the object-store pages they map), and the object stores' peak growth (their shared memory
in ``/dev/shm``).

``--cap-study`` measures what the per-user cap (the ``cap_user_events`` filter) does: the same
per-user holdout split, the training part capped at each ``max_events`` (a random sample), then
ndcg@10 and recall@10 of item_cf and the search's work and time.

    python3 -m benchmarks.scaling --sizes 1m,20m --workers 1,2,4
    python3 -m benchmarks.scaling --cap-study --shape ml-20m-real --caps 200,500,1000
    python3 -m benchmarks.scaling --smoke
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.datasets import SHAPES, SkewedShape, cache_dir, describe, load_matrix, skewed_matrix

SIZES = {"smoke": "smoke", "1m": "ml-1m", "20m": "ml-20m-real", "50m": "skewed-50m"}
"""Command-line size names and the shapes of benchmarks/datasets.py they load (or of :data:`LARGER`)."""
LARGER = {"skewed-50m": SkewedShape(350_000, 60_000, 50_000_000, 1.14, 10_000)}
"""Beyond datasets.py: ``ml-20m-real``'s tail (mean 143 events per user, sigma 1.14) at 2.5x its size."""


def matrix_of(name: str) -> sp.csr_array:
    """Return the cached matrix of a shape of datasets.py or of :data:`LARGER` (drawn and cached once)."""
    if name not in LARGER:
        return load_matrix(name)
    path = cache_dir() / f"{name}-{'-'.join(str(v) for v in vars(LARGER[name]).values())}-seed1.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        sp.save_npz(path.with_suffix(".tmp.npz"), sp.csr_matrix(skewed_matrix(LARGER[name], np.random.default_rng(1))))
        path.with_suffix(".tmp.npz").replace(path)
    return sp.csr_array(sp.load_npz(path))


HEAD, SECOND = "127.0.0.2", "127.0.0.3"
K = 50
FOLDS = 4


def interactions_of(matrix: sp.csr_array) -> Any:
    """Return the matrix's entries as interactions (user rows, item columns, ratings)."""
    from recframe import Interactions

    users = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return Interactions(users, matrix.indices.astype(np.int64), matrix.data.astype(np.float64))


def recommender(executor: Any, split: str | None = None) -> Any:
    """Return the recommender every path times: sparse cosine item-item (k=50), item_cf top-10.

    With `split`, it evaluates ndcg@10 with that splitter (``kfold``: 4 folds).
    """
    from recframe import Recommender

    config: dict[str, Any] = {
        "similarity": {"type": "sparse", "measure": "cosine", "k": K},
        "ranker": {"type": "item_cf", "n": 10, "fallback": None},
    }
    if split is not None:
        config["evaluation"] = {"split": {"type": split, "n_folds": FOLDS}, "metrics": ["ndcg@10"]}
    rec = Recommender.from_config(config)
    rec.executor = executor
    return rec


def make_executor(kind: str, workers: int, rows: int, address: str) -> Any:
    """Return the executor of a run: about four blocks per worker."""
    from recframe.registry import PluginRegistry

    block_rows = max(1, math.ceil(rows / (4 * workers)))
    if kind == "local":
        registry = PluginRegistry.from_environment()
        return registry.create("executor", "local", object, workers=workers, block_rows=block_rows)
    from recframe_ray import RayExecutor

    return RayExecutor(address=address, num_cpus=1, block_rows=block_rows, connect_timeout_s=30)


class Sampler:
    """Sample the Ray workers' RSS and the object store's use every 0.25 s while a path runs; keep the peaks."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.worker_sum = self.worker_max = self.store = 0.0
        self.base = object_store_mib()  # what the stores held before the path (also other programs' /dev/shm)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.sample()

    def sample(self) -> None:
        """Take one sample (also at the start and the end, so that a short path has some)."""
        if self.address is None:
            return
        rss = ray_worker_rss()
        self.worker_sum = max(self.worker_sum, sum(rss))
        self.worker_max = max(self.worker_max, max(rss, default=0.0))
        self.store = max(self.store, object_store_mib() - self.base)

    def __enter__(self) -> Sampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def ray_worker_rss() -> list[float]:
    """Return the RSS in MiB of every Ray worker process of this machine (their title starts ``ray::``)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::"):
                found.append(_proc_mib(cmdline.parent / "status", "VmRSS"))
        except OSError:  # the process ended
            continue
    return found


def object_store_mib() -> float:
    """Return the MiB in use in ``/dev/shm``, where the nodes' object stores keep their objects."""
    fs = os.statvfs("/dev/shm")
    return (fs.f_blocks - fs.f_bfree) * fs.f_frsize / 2**20


def _proc_mib(status: Path, field: str) -> float:
    try:
        return int(re.search(rf"{field}:\s+(\d+)", status.read_text())[1]) / 1024  # type: ignore[index]
    except (OSError, TypeError):
        return 0.0


@contextmanager
def driver_peak() -> Iterator[dict[str, float]]:
    """Measure this process's peak RSS growth (MiB) over the block: the kernel's high-water mark, reset first."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _proc_mib(Path("/proc/self/status"), "VmRSS")
    out: dict[str, float] = {}
    yield out
    out["driver_peak_mb"] = _proc_mib(Path("/proc/self/status"), "VmHWM") - before


def timed(run: Callable[[], Any], address: str | None) -> dict[str, float]:
    """Run one path and return its seconds and memory peaks."""
    with driver_peak() as peak, Sampler(address) as sampler:
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        **peak,
        "worker_sum_mb": sampler.worker_sum,
        "worker_max_mb": sampler.worker_max,
        "store_mb": sampler.store,
    }


def one(spec: dict[str, Any]) -> dict[str, Any]:
    """Time every path of one (size, executor, workers) in this process; return the measurements."""
    matrix = matrix_of(SIZES[spec["size"]])
    data = interactions_of(matrix)
    address = spec["address"] if spec["executor"] == "ray" else None
    executor = make_executor(spec["executor"], spec["workers"], matrix.shape[1], spec["address"])
    warm = interactions_of(matrix[: max(50, matrix.shape[0] // 20)])  # the same kernels as the timed call
    warm_executor = make_executor(spec["executor"], spec["workers"], matrix.shape[1], spec["address"])
    recommender(warm_executor).fit(warm).recommend_all(10)  # imports, kernels, Ray workers
    results: dict[str, Any] = {}
    if "search" in spec["paths"] or "batch" in spec["paths"]:
        rec = recommender(executor)
        measured = timed(lambda: rec.fit(data), address)
        measured["seconds"] = rec.timings["neighbours items"]
        results["search"] = measured
        if "batch" in spec["paths"]:
            users = make_executor(spec["executor"], spec["workers"], matrix.shape[0], spec["address"])
            rec.executor = users
            results["batch"] = timed(lambda: rec.recommend_all(10), address)
    if "folds" in spec["paths"]:
        recommender(warm_executor, "kfold").evaluate(warm)
        results["folds"] = timed(lambda: recommender(executor, "kfold").evaluate(data), address)
    executor.close()
    return results


class Cluster:
    """A Ray cluster of two nodes on loopback addresses (one node for one CPU), started and stopped by this script."""

    def __init__(self, cpus: int) -> None:
        self.cpus, self.groups, self.temp = cpus, [], tempfile.mkdtemp(prefix="rfscale-", dir="/tmp")
        self.address = ""

    def __enter__(self) -> Cluster:
        ray = shutil.which("ray") or sys.exit("the ray command is not on PATH: pip install -e plugins/recframe-ray")
        port = _free_port()
        self.address = f"{HEAD}:{port}"
        head_cpus = max(1, self.cpus // 2)
        common = ["--disable-usage-stats", "--object-store-memory=2000000000"]
        head = (
            f"start --head --port={port} --node-ip-address={HEAD} --num-cpus={head_cpus} --include-dashboard=false "
            f"--temp-dir={self.temp} --dashboard-agent-listen-port={_free_port()}"
        )
        self._start([ray, *head.split(), *common])
        if self.cpus > head_cpus:
            second = (
                f"start --address={self.address} --node-ip-address={SECOND} --num-cpus={self.cpus - head_cpus} "
                f"--dashboard-agent-listen-port={_free_port()}"
            )
            self._start([ray, *second.split(), *common])
        return self

    def _start(self, command: list[str]) -> None:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, env=_env()
        )
        self.groups.append(process.pid)
        output, _ = process.communicate(timeout=180)
        if process.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{output[-2000:]}")

    def __exit__(self, *_: object) -> None:
        import signal

        for sig in (signal.SIGTERM, signal.SIGKILL):
            for group in self.groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    continue
            time.sleep(2.0)
        shutil.rmtree(self.temp, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    """The environment of every child and Ray node: one thread per compiled kernel, no usage stats."""
    return {**os.environ, "NUMBA_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(_ROOT)}


_ROOT = Path(__file__).resolve().parents[1]


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run :func:`one` in a fresh process."""
    command = [sys.executable, "-m", "benchmarks.scaling", "--one", json.dumps(spec)]
    proc = subprocess.run(command, cwd=_ROOT, env=_env(), capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        sys.exit(f"{spec} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scaling(sizes: list[str], workers: list[int], executors: list[str], paths: list[str]) -> str:
    """Run every combination and return the markdown table."""
    rows: list[tuple[str, str, str, int, dict[str, float]]] = []
    for kind in executors:
        for w in workers:
            cluster = Cluster(w) if kind == "ray" else None
            with cluster or nullcontext():
                for size in sizes:
                    address = cluster.address if cluster else ""
                    spec = {"size": size, "executor": kind, "workers": w, "paths": paths, "address": address}
                    for path, measured in run_child(spec).items():
                        rows.append((size, path, kind, w, measured))
                        print(f"{size} {path} {kind} x{w}: {measured['seconds']:.2f}s", file=sys.stderr, flush=True)
    local = {(s, p, w): m["seconds"] for s, p, k, w, m in rows if k == "local"}
    serial = {(s, p): m["seconds"] for s, p, k, w, m in rows if k == "local" and w == 1}
    lines = [_shape_line(size) for size in sizes] + [""]
    lines += [
        "| size | path | executor | workers | seconds | x local, same workers | speed-up over serial | "
        "driver peak MB | Ray workers' RSS MB (sum / largest) | object store peak MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size, path, kind, w, m in rows:
        ratio = m["seconds"] / local[(size, path, w)] if (size, path, w) in local else float("nan")
        speed = serial.get((size, path), float("nan")) / m["seconds"]
        workers_mb = f"{m['worker_sum_mb']:.0f} / {m['worker_max_mb']:.0f}" if kind == "ray" else "-"
        store = f"{m['store_mb']:.0f}" if kind == "ray" else "-"
        lines.append(
            f"| {size} | {path} | {kind} | {w} | {m['seconds']:.2f} | {ratio:.2f} | {speed:.2f} | "
            f"{m['driver_peak_mb']:.0f} | {workers_mb} | {store} |"
        )
    return "\n".join(lines) + "\n"


def _shape_line(size: str) -> str:
    d = describe(matrix_of(SIZES[size]))
    return (
        f"- {size} ({SIZES[size]}): {d['users']:,} users x {d['items']:,} items, {d['interactions']:,} "
        f"interactions, largest user {d['max_user_degree']:,}, item-item work (sum of squared user "
        f"degrees) {d['item_item_work']:.3g}"
    )


def cap_study(shape: str, caps: list[int]) -> str:
    """Return the table of accuracy, work and search time with the training part capped at each of `caps`."""
    from recframe import Filter, Metric, Splitter
    from recframe.registry import builtin_registry

    registry = builtin_registry()
    data = interactions_of(matrix_of(shape))
    splitter = registry.create("splitter", "per_user_holdout", Splitter)
    train, test = next(iter(splitter.folds(data, np.random.default_rng(0))))
    recommender(registry.create("executor", "local", object)).fit(interactions_of(load_matrix("smoke")))  # compile
    lines = [
        f"{shape}: per-user holdout, {len(train):,} training and {len(test):,} test interactions; "
        "the training part capped, the test part the same",
        "",
        "| max_events | training events | item-item work | work vs uncapped | search s | ndcg@10 | recall@10 |",
        "|---|---|---|---|---|---|---|",
    ]
    base_work = None
    for cap in [0, *caps]:
        part = train
        if cap:
            part = registry.create("filter", "cap_user_events", Filter, max_events=cap, keep="random").apply(train)
        degree = np.unique(part.users, return_counts=True)[1].astype(np.float64)
        work = float((degree**2).sum())
        base_work = base_work or work
        rec = recommender(registry.create("executor", "local", object))
        rec.metrics = tuple(registry.create("metric", name, Metric, k=10) for name in ("ndcg", "recall"))
        result = rec.evaluate(part, test=test)
        lines.append(
            f"| {cap or 'none'} | {len(part):,} | {work:.3g} | {work / base_work:.2f} | "
            f"{rec.timings['neighbours items']:.1f} | {result.metrics['ndcg@10']:.4f} | "
            f"{result.metrics['recall@10']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,20m", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--executors", default="local,ray")
    parser.add_argument("--paths", default="search,batch,folds")
    parser.add_argument("--cap-study", action="store_true", help="measure the per-user cap's effect instead")
    parser.add_argument("--shape", default="ml-20m-real", choices=sorted(SHAPES), help="of the cap study")
    parser.add_argument("--caps", default="200,500,1000")
    parser.add_argument("--smoke", action="store_true", help="seconds: smoke size, 1-2 workers, and a cap study")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return
    if args.smoke:
        print(scaling(["smoke"], [1, 2], args.executors.split(","), args.paths.split(",")))
        print(cap_study("smoke", [10, 40]))
        return
    if args.cap_study:
        print(cap_study(args.shape, [int(c) for c in args.caps.split(",")]))
        return
    split = args.sizes.split(","), [int(w) for w in args.workers.split(",")]
    print(scaling(split[0], split[1], args.executors.split(","), args.paths.split(",")))


if __name__ == "__main__":
    main()
