"""Load a MovieLens-20M-layout CSV with recframe's csv source and with pandas.read_csv, side by side.

    python -m benchmarks.csv_load --shape ml-20m --repeats 3
    python -m benchmarks.csv_load --shape smoke --repeats 1        # seconds; what CI runs

The file (``userId,movieId,rating,timestamp``, one line per interaction of the seeded data
shape, timestamps spread over 20 years) is generated once into ``$RECFRAME_BENCH_CACHE``.

Protocol: the file is read once untimed (so it is in the page cache for every reader), then
``--repeats`` rounds run every reader once each, in an order that rotates from round to round,
so a drift of the machine's speed during the run falls on all readers alike. The table gives
each reader's median and range and the median over rounds of its time divided by pandas' time
in the same round; it checks that the readers return the same numbers. "+ id mapping" adds
mapping user and item ids to rows (``IdIndex.encode``), which a matrix needs and pandas' frame
does not have. The baseline is ``pandas.read_csv(path, dtype=...)`` (the file holds just these
columns; naming them with ``usecols`` is slower in pandas 3, and shown too). With pyarrow
installed, ``pandas.read_csv(engine="pyarrow")`` (multi-threaded) is shown for reference.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.datasets import SHAPES, cache_dir, load_matrix
from recframe.builtin.data_sources import CSVDataSource
from recframe.data import IdIndex


def csv_file(shape: str, *, quoted: bool = False) -> Path:
    """Return the cached CSV of a data shape, writing it once.

    `quoted`: user ids as text (``u123``) and every field in double quotes, as many exports write.
    """
    path = cache_dir() / f"{shape}-ratings{'-quoted' if quoted else ''}.csv"
    if path.exists():
        return path
    import pandas as pd

    matrix = load_matrix(shape).tocoo()
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "userId": matrix.row + 1, "movieId": matrix.col + 1, "rating": matrix.data / 1.0,
        "timestamp": rng.integers(946_684_800, 1_577_836_800, size=matrix.nnz),
    })
    if quoted:
        frame["userId"] = "u" + frame["userId"].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.to_csv(temporary, index=False, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL)
    temporary.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-20m")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quoted", action="store_true", help="text user ids, every field quoted")
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)
    import pandas as pd

    path = csv_file(args.shape, quoted=args.quoted)
    source = CSVDataSource(path=path, layout="movielens-csv")

    def ours() -> tuple[np.ndarray, np.ndarray]:
        data = source.load(np.random.default_rng(0))
        IdIndex.encode(data.users)
        IdIndex.encode(data.items)
        return data.values, data.timestamps

    def ours_parse_only() -> tuple[np.ndarray, np.ndarray]:
        data = source.load(np.random.default_rng(0))
        return data.values, data.timestamps

    dtypes = {
        "userId": "str" if args.quoted else "int64", "movieId": "int64", "rating": "float64", "timestamp": "int64",
    }

    def theirs(**options: Any) -> tuple[np.ndarray, np.ndarray]:
        frame = pd.read_csv(path, dtype=dtypes, **options)
        return frame["rating"].to_numpy(), frame["timestamp"].to_numpy()

    readers: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
        "recframe csv": ours_parse_only,
        "recframe csv + id mapping": ours,
        "pandas.read_csv": theirs,
        "pandas.read_csv(usecols=the four columns)": lambda: theirs(usecols=list(dtypes)),
    }
    if importlib.util.find_spec("pyarrow") is not None:
        readers["pandas.read_csv(engine='pyarrow')"] = lambda: theirs(engine="pyarrow")
    for reader in readers.values():  # compile, import, and bring the file into the page cache
        reader()
    times: dict[str, list[float]] = {label: [] for label in readers}
    results = {}
    labels = list(readers)
    for round_ in range(args.repeats):
        for label in labels[round_ % len(labels):] + labels[: round_ % len(labels)]:
            start = time.perf_counter()
            results[label] = readers[label]()
            times[label].append(time.perf_counter() - start)
            gc.collect()
    ours_result, theirs_result = results["recframe csv"], results["pandas.read_csv"]
    same = all(np.array_equal(a, b) for a, b in zip(ours_result, theirs_result, strict=True))
    size = path.stat().st_size
    lines = [
        f"### CSV load, shape {args.shape}{', quoted, text user ids' if args.quoted else ''}\n",
        f"{path.name}: {size / 1e6:,.0f} MB, {len(ours_result[0]):,} rows; {args.repeats} rounds in one process, "
        f"reader order rotating; same numbers: {'yes' if same else 'NO'}.\n",
        "| reader | median s | min-max s | median of per-round x pandas |",
        "|---|---|---|---|",
    ]
    pandas_times = times["pandas.read_csv"]
    for label, spent in times.items():
        ratio = statistics.median(t / p for t, p in zip(spent, pandas_times, strict=True))
        lines.append(f"| {label} | {statistics.median(spent):.2f} | {min(spent):.2f}-{max(spent):.2f} | {ratio:.2f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output is not None:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
