"""Time the update's delta kernel alone, on the inputs of one real update, for A/B runs of its code.

    python -m benchmarks.delta_kernel --shape ml-20m --threads 1,2 --repeats 7
    python -m benchmarks.delta_kernel --shape ml-20m --save-inputs /tmp/ml20m-add.pkl   # at one commit
    python -m benchmarks.delta_kernel --inputs /tmp/ml20m-add.pkl --threads 1 --repeats 7  # at each commit
    python -m benchmarks.delta_kernel --shape smoke --repeats 1                              # seconds

An update's time on the 2-core machine varies by a third from run to run, more than most changes
to the kernel save. This fits ``item_cf`` (sparse cosine, ``k = 50``, ``update_slack`` as given)
on the shape's base for the fraction (split as :mod:`benchmarks.update` splits it), runs the
update once while keeping the arguments it hands
:func:`recframe.engine._compiled.delta.delta_lists` (on every slice of the rows, side by side in
a pool of threads), and then runs the kernel alone on them, on all rows as the update does,
``--repeats`` times for each thread count, interleaved. It prints the minimum and median of each,
and a digest of the kernel's outputs: two versions of the kernel that give the same digest on
the same inputs gave the same lists, floors and suspects bit for bit. ``--save-inputs`` keeps
the arguments (a pickle of about 0.8 GB for ML-20M, outside the repository), ``--inputs`` reads
them instead of fitting: the same inputs for every commit compared.
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from benchmarks.datasets import SHAPES
from benchmarks.update import all_events, config, machine_facts, split, timed_fit, warm

OUTPUTS = ("out_j", "out_v", "out_floor", "out_count", "out_suspects", "out_suspect_bounds")
"""The kernel's output arguments, by name: what the digest covers."""


def captured_inputs(shape: str, fraction: float, slack: int, seed: int) -> tuple[Any, ...]:
    """Return the arguments one ``update`` of `fraction` of the shape's events hands the delta kernel's slices."""
    import recframe.recommender.delta_rows as delta_rows
    from recframe.engine import slices

    warm("item_cf", 50)
    events = all_events(shape)
    base, part = split(events, fraction, np.random.default_rng(seed))
    rec, _ = timed_fit(config("item_cf", 50, slack), base)
    run, kept = slices.run_in_slices, []

    def keeping(kernel: Any, arguments: tuple[Any, ...], *args: Any, **kwargs: Any) -> None:
        kept.append(arguments)
        run(kernel, arguments, *args, **kwargs)

    delta_rows.run_in_slices = keeping  # type: ignore[attr-defined]
    try:
        rec.update(part)
    finally:
        delta_rows.run_in_slices = run  # type: ignore[attr-defined]
    if not kept:
        raise SystemExit("the update did not run the delta kernel (a full search was cheaper?): try a smaller fraction")
    return tuple(kept[0])


def _names() -> list[str]:
    """Return the names of the kernel's arguments after ``start, stop``: those of the kept inputs."""
    from recframe.engine._compiled.delta import delta_lists

    code = delta_lists.py_func.__code__
    return list(code.co_varnames[2 : code.co_argcount])


def digest(args: tuple[Any, ...]) -> str:
    """Return a short hash of the kernel's output arguments."""
    names = _names()
    hashed = hashlib.sha256()
    for name in OUTPUTS:
        hashed.update(np.ascontiguousarray(args[names.index(name)]).tobytes())
    return hashed.hexdigest()[:16]


def timed(args: tuple[Any, ...], threads: list[int], repeats: int) -> dict[int, list[float]]:
    """Run the kernel on all rows of `args` `repeats` times for each thread count, interleaved; return the seconds."""
    from recframe.engine._compiled.delta import delta_lists
    from recframe.engine.slices import run_in_slices
    from recframe.progress import show_progress

    rows = args[_names().index("lists")].shape[0]

    def run(count: int) -> None:
        with show_progress(False):  # no bar inside the timings
            run_in_slices(delta_lists, args, rows, count, "", largest=None)

    run(threads[0])  # compiled (or loaded from the cache) before any timing
    times: dict[int, list[float]] = {count: [] for count in threads}
    for _ in range(repeats):
        for count in threads:
            start = time.perf_counter()
            run(count)
            times[count].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-20m")
    parser.add_argument("--fraction", type=float, default=0.01, help="share of the events the update adds")
    parser.add_argument("--slack", type=int, default=50, help="similarity.update_slack of the fit")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--threads", default="", help="thread counts, comma-separated (default: numba's)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inputs", type=Path, help="read the kernel's arguments from this pickle instead of fitting")
    parser.add_argument("--save-inputs", type=Path, help="write the kernel's arguments to this pickle")
    args = parser.parse_args(argv)
    if args.repeats < 1 or not 0 < args.fraction < 1:
        parser.error("--repeats must be at least 1 and --fraction between 0 and 1")
    threads = [int(count) for count in args.threads.split(",") if count] or [numba.get_num_threads()]
    if any(count < 1 or count > numba.config.NUMBA_NUM_THREADS for count in threads):
        parser.error(f"--threads must be between 1 and {numba.config.NUMBA_NUM_THREADS}")
    if args.inputs:
        with args.inputs.open("rb") as handle:
            inputs = pickle.load(handle)  # a file this script wrote: a pickle runs code, so only read your own
        source = f"inputs {args.inputs}"
    else:
        inputs = captured_inputs(args.shape, args.fraction, args.slack, args.seed)
        source = f"shape {args.shape}, adding {args.fraction:g}, update_slack {args.slack}, seed {args.seed}"
        if args.save_inputs:
            with args.save_inputs.open("wb") as handle:
                pickle.dump(inputs, handle, protocol=pickle.HIGHEST_PROTOCOL)
    times = timed(inputs, threads, args.repeats)
    print(f"### The delta kernel alone: {source}\n\n{machine_facts()}\n")
    print(f"Outputs' digest: {digest(inputs)}\n")
    print("| threads | min s | median s | runs |\n|---|---|---|---|")
    for count, seconds in times.items():
        print(f"| {count} | {min(seconds):.3f} | {statistics.median(seconds):.3f} | {len(seconds)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
