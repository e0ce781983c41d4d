"""Load a MovieLens-20M-layout CSV with recframe's csv source and with pandas.read_csv, side by side.

    python -m benchmarks.csv_load --shape ml-20m --repeats 3
    python -m benchmarks.csv_load --shape smoke --repeats 1        # seconds; what CI runs

The file (``userId,movieId,rating,timestamp``, one line per interaction of the seeded data
shape, timestamps spread over 20 years) is generated once into ``$RECFRAME_BENCH_CACHE``. Each
reader runs ``--repeats`` times in this process; the table gives the median and range, and
checks that both read the same numbers. recframe's time includes mapping user and item ids to
rows (``IdIndex.encode``), which pandas' does not.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.datasets import SHAPES, cache_dir, load_matrix
from recframe.builtin.data_sources import CSVDataSource
from recframe.data import IdIndex


def csv_file(shape: str) -> Path:
    """Return the cached CSV of a data shape, writing it once."""
    path = cache_dir() / f"{shape}-ratings.csv"
    if path.exists():
        return path
    import pandas as pd

    matrix = load_matrix(shape).tocoo()
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "userId": matrix.row + 1, "movieId": matrix.col + 1, "rating": matrix.data / 1.0,
        "timestamp": rng.integers(946_684_800, 1_577_836_800, size=matrix.nnz),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.to_csv(temporary, index=False)
    temporary.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-20m")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)
    import pandas as pd

    path = csv_file(args.shape)
    source = CSVDataSource(path=path, layout="movielens-csv")

    def ours() -> tuple[np.ndarray, np.ndarray]:
        data = source.load(np.random.default_rng(0))
        IdIndex.encode(data.users)
        IdIndex.encode(data.items)
        return data.values, data.timestamps

    def ours_parse_only() -> tuple[np.ndarray, np.ndarray]:
        data = source.load(np.random.default_rng(0))
        return data.values, data.timestamps

    def theirs() -> tuple[np.ndarray, np.ndarray]:
        frame = pd.read_csv(path, usecols=["userId", "movieId", "rating", "timestamp"],
                            dtype={"userId": "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64"})
        return frame["rating"].to_numpy(), frame["timestamp"].to_numpy()

    CSVDataSource(path=csv_file("smoke"), layout="movielens-csv").load(np.random.default_rng(0))  # compile
    rows = []
    results = {}
    readers = (("recframe csv", ours_parse_only), ("recframe csv + id mapping", ours), ("pandas.read_csv", theirs))
    for label, reader in readers:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            results[label] = reader()
            times.append(time.perf_counter() - start)
        rows.append((label, times))
    (our_values, our_times), _, (their_values, their_times) = results.values()
    same = np.array_equal(our_values, their_values) and np.array_equal(our_times, their_times)
    size = path.stat().st_size
    pandas_median = statistics.median(rows[-1][1])
    lines = [
        f"### CSV load, shape {args.shape}\n",
        f"{path.name}: {size / 1e6:,.0f} MB, {len(our_values):,} rows; {args.repeats} repeats in one process; "
        f"same numbers: {'yes' if same else 'NO'}.\n",
        "| reader | median s | min-max s | x pandas |",
        "|---|---|---|---|",
    ]
    for label, times in rows:
        median = statistics.median(times)
        lines.append(f"| {label} | {median:.2f} | {min(times):.2f}-{max(times):.2f} | {median / pandas_median:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output is not None:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
