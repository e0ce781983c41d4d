"""Run benchmark methods side by side, in fresh processes, and write a Markdown table.

    python -m benchmarks.run --shape ml-20m --task item-item --k 50 --repeats 3
    python -m benchmarks.run --shape ml-1m --task batch --k 50
    python -m benchmarks.run --shape smoke --repeats 1          # seconds; what CI runs

Each (method, repeat) is one new Python process, so caches and memory peaks don't leak between
measurements. The table gives the median and min-max wall time of the timed call, the median
CPU time of its process (all threads; steadier than wall time on a loaded machine, though a
library whose idle threads spin counts their spinning), the peak RSS of the process (data
loading included), its growth during the timed call over the warmed-up process, the ratio to
implicit,
and whether each exact method's neighbours agree with scikit-learn's (scores within 1e-6; sets
equal except among entries tied with the k-th).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.datasets import SHAPES, describe, load_matrix
from benchmarks.methods import NEIGHBOUR_METHODS
from benchmarks.worker import BATCH_METHODS

ROOT = Path(__file__).resolve().parents[1]


def measure(shape: str, task: str, method: str, k: int, out: Path) -> dict[str, float | str]:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", shape, task, method, str(k), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}"}
    return json.loads(lines[-1])


def agreement(reference: Path, other: Path, k: int, task: str) -> str:
    """Compare two neighbour results (or two batch results) row by row."""
    a, b = dict(np.load(reference)), dict(np.load(other))  # read each array once
    if task == "batch":
        same = np.mean(np.all(a["items"] == b["items"], axis=1))
        return f"{same:.2%} lists identical"
    worst, differing = 0.0, 0
    for i in range(a["indices"].shape[0]):
        sa, ja = _clean(a, i, k)
        sb, jb = _clean(b, i, k)
        if len(sa) != len(sb):
            differing += 1
            continue
        worst = max(worst, float(np.max(np.abs(sa - sb), initial=0.0)))
        if len(sa):
            cut = sa[-1] + 1e-6
            if {j for j, s in zip(ja, sa, strict=True) if s > cut} != {
                j for j, s in zip(jb, sb, strict=True) if s > cut
            }:
                differing += 1
    return "yes" if worst <= 1e-6 and differing == 0 else f"no: max score diff {worst:.1e}, {differing} rows differ"


def _clean(result: dict[str, np.ndarray], i: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    ind, val = result["indices"][i], result["scores"][i]
    keep = (ind >= 0) & (ind != i) & (val > 1e-12)
    order = np.argsort(-val[keep], kind="stable")[:k]
    return val[keep][order], ind[keep][order]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="smoke", choices=list(SHAPES))
    parser.add_argument("--task", default="item-item", choices=["item-item", "user-user", "batch"])
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="all", help="comma-separated method names, or all")
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)

    catalogue = BATCH_METHODS if args.task == "batch" else NEIGHBOUR_METHODS
    methods = list(catalogue) if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
    methods = list(dict.fromkeys(methods))  # a method named twice runs once a round
    facts = describe(load_matrix(args.shape))  # generate (and cache) the data once, untimed
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, Path] = {}
        runs: dict[str, list[dict[str, Any]]] = {method: [] for method in methods}
        # rounds: every method once per round, so a change of the machine's load meanwhile
        # (it moves a method's time by up to 1.5x on a shared 2-core VM) hits all methods alike
        for repeat in range(args.repeats):
            for number, method in enumerate(methods):
                if runs[method] and "error" in runs[method][-1]:
                    continue
                out = Path(tmp) / f"{number}-{repeat}.npz"
                runs[method].append(measure(args.shape, args.task, method, args.k, out))
                print(f"{method}: {runs[method][-1]}", file=sys.stderr, flush=True)
                if "error" not in runs[method][-1]:
                    results.setdefault(method, out)
        rows.extend(runs.items())
        preferred = [m for m in ("scikit-learn raw", "recframe sklearn_nn", "implicit") if m in results]
        reference = results[(preferred or list(results))[0]] if results else None
        table = render(args, facts, rows, results, reference)
    print(table)
    if args.output:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0


def machine() -> str:
    """Return the CPU model, the cores this process may use and the Python version."""
    model = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores, Python {platform.python_version()}"


def versions() -> str:
    """Return the versions of the installed libraries the methods use."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("recframe", "numpy", "scipy", "numba", "scikit-learn", "implicit", "sparse-dot-topn", "similaripy"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            continue
    return ", ".join(found)


def render(args, facts, rows, results, reference) -> str:
    implicit_runs = _succeeded(dict(rows).get("implicit", []))
    implicit_median = statistics.median(r["seconds"] for r in implicit_runs) if implicit_runs else None
    work = facts["item_item_work"] if args.task != "user-user" else facts["user_user_work"]
    lines = [
        f"### {args.task}, k = {args.k}, shape {args.shape}",
        "",
        f"{facts['users']:,} users x {facts['items']:,} items, {facts['interactions']:,} interactions, "
        f"user degrees up to {facts['max_user_degree']:,}; "
        f"Gram work {work:.2e} multiply-adds; {args.repeats} fresh processes per method, in rounds of one each; "
        f"{machine()}; {versions()}.",
        "",
        "| method | median s | min-max s | CPU s | peak RSS MB | RSS growth MB | x implicit | agrees with reference |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, all_runs in rows:
        runs = _succeeded(all_runs)
        if not runs:
            lines.append(f"| {method} | {all_runs[0]['error']} | | | | | | |")
            continue
        failed = len(all_runs) - len(runs)  # a later run that failed: its error is in the log above
        times = [r["seconds"] for r in runs]
        median = statistics.median(times)
        ratio = f"{median / implicit_median:.2f}" if implicit_median else "n/a"
        agrees = (
            "reference"
            if results.get(method) == reference
            else agreement(reference, results[method], args.k, args.task)
            if reference
            else "n/a"
        )
        name = f"{method} ({failed} of {len(all_runs)} runs failed)" if failed else method
        lines.append(
            f"| {name} | {median:.2f} | {min(times):.2f}-{max(times):.2f} | "
            f"{statistics.median(r.get('cpu_seconds', float('nan')) for r in runs):.1f} | "
            f"{max(r['peak_rss_mb'] for r in runs):.0f} | "
            f"{max(r['peak_rss_mb'] - r['baseline_rss_mb'] for r in runs):.0f} | {ratio} | {agrees} |"
        )
    return "\n".join(lines) + "\n"


def _succeeded(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the runs that measured something (a run that failed has an ``error`` instead)."""
    return [run for run in runs if "error" not in run]


if __name__ == "__main__":
    raise SystemExit(main())
