"""Load a MovieLens-20M-layout CSV with recframe's csv source and with pandas and pyarrow, side by side.

    python -m benchmarks.csv_load --shape ml-20m --repeats 3
    python -m benchmarks.csv_load --shape smoke --repeats 1        # seconds; what CI runs

The file (``userId,movieId,rating,timestamp``, one line per interaction of the seeded data
shape, timestamps spread over 20 years) is generated once into ``$RECFRAME_BENCH_CACHE``.

Protocol: every reader runs once untimed (imports, and the file in the page cache), then
``--repeats`` rounds run every reader once each, in an order that rotates from round to round,
so a drift of the machine's speed during the run falls on all readers alike. The table gives
each reader's median and range and the median over rounds of its time divided by pandas' time
in the same round; it checks that the readers return the same numbers (each load's fingerprint
is taken in its untimed run: hashing 18 million rows takes about a second, which the timed runs
must not include, as the fresh-process row does not). Rows:

- ``recframe csv, parser: X``: the csv source with each fast reader installed here
  (``auto`` is arrow when pyarrow is installed); "+ id mapping" adds mapping user and item ids
  to rows (``IdIndex.encode``), which a matrix needs and a data frame does not have.
- ``recframe csv, parser: scipy``: scipy's multi-threaded C++ Matrix Market parser (scipy 1.12 on)
  fed the rows with every delimiter made a line break, after exact checks of the text.
- ``default install``: ``parser: auto`` in a fresh Python process in which pandas, pyarrow and
  numba can't be imported (what ``pip install recframe`` gives: the scipy reader, numpy's with
  scipy older than 1.12, and no compiled code to wait for); timed from the call to ``load``, so
  its first use (with the import of ``scipy.io``) is what is shown.
- ``pandas.read_csv(path, dtype=...)``, the baseline (the file holds just these columns), and
  with pyarrow installed ``pyarrow.csv.read_csv`` (multi-threaded, the same four typed columns)
  and ``pandas.read_csv(engine="pyarrow")``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.datasets import SHAPES, cache_dir, load_matrix
from recframe.builtin.data_sources import CSVDataSource, readers
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
    frame = pd.DataFrame(
        {
            "userId": matrix.row + 1,
            "movieId": matrix.col + 1,
            "rating": matrix.data / 1.0,
            "timestamp": rng.integers(946_684_800, 1_577_836_800, size=matrix.nnz),
        }
    )
    if quoted:
        frame["userId"] = "u" + frame["userId"].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    frame.to_csv(temporary, index=False, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL)
    temporary.replace(path)
    return path


BLOCKED = ("pandas", "pyarrow", "numba")
"""What the default install lacks."""

_DEFAULT_INSTALL = """
import importlib.abc, json, sys, time
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: the default install)", name=name)
        return None
sys.meta_path.insert(0, Block())
import numpy as np
from recframe.builtin.data_sources import CSVDataSource, readers
start = time.perf_counter()
data = CSVDataSource(path={path!r}, layout="movielens-csv", parser="auto").load(np.random.default_rng(0))
spent = time.perf_counter() - start
print(json.dumps({{"seconds": spent, "fingerprint": data.fingerprint(),
                  "blocked": [m for m in {blocked!r} if m in sys.modules]}}))
"""


def default_install(path: Path) -> tuple[float, str]:
    """Return the seconds ``parser: auto`` takes on its first call in a process without pandas, pyarrow or numba."""
    code = _DEFAULT_INSTALL.format(blocked=BLOCKED, path=str(path))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["blocked"], f"imported in the default-install process: {result['blocked']}"
    return result["seconds"], result["fingerprint"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-20m")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quoted", action="store_true", help="text user ids, every field quoted")
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)
    import pandas as pd

    path = csv_file(args.shape, quoted=args.quoted)
    engines = ["auto", *(e for e in readers.ENGINES if readers.available(e))]

    def ours(engine: str, *, mapping: bool = False) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
        source = CSVDataSource(path=path, layout="movielens-csv", parser=engine)

        def run() -> tuple[np.ndarray, np.ndarray]:
            data = source.load(np.random.default_rng(0))
            if f"parser: {engine}" not in fingerprints:  # in the untimed first run: hashing takes ~1 s
                fingerprints[f"parser: {engine}"] = data.fingerprint()
            if mapping:
                IdIndex.encode(data.users)
                IdIndex.encode(data.items)
            return data.values, data.timestamps

        return run

    dtypes = {
        "userId": "str" if args.quoted else "int64",
        "movieId": "int64",
        "rating": "float64",
        "timestamp": "int64",
    }

    def theirs(**options: Any) -> tuple[np.ndarray, np.ndarray]:
        frame = pd.read_csv(path, dtype=dtypes, **options)
        return frame["rating"].to_numpy(), frame["timestamp"].to_numpy()

    fingerprints: dict[str, str] = {}
    readers_: dict[str, Callable[[], Any]] = {}
    auto = readers.auto_engine()
    for engine in engines:
        label = f"recframe csv, parser: {engine}" + (f" ({auto})" if engine == "auto" else "")
        readers_[label] = ours(engine)
    readers_[f"recframe csv, parser: auto ({auto}) + id mapping"] = ours("auto", mapping=True)

    def default() -> None:
        seconds, fingerprints["default install"] = default_install(path)
        return seconds  # type: ignore[return-value]

    picked = "scipy" if readers.available("scipy") else "numpy"
    readers_[f"default install: parser: auto ({picked}), fresh process"] = default
    readers_["pandas.read_csv"] = theirs
    if importlib.util.find_spec("pyarrow") is not None:
        import pyarrow as pa
        from pyarrow import csv as pacsv

        types = {
            "userId": pa.string() if args.quoted else pa.int64(),
            "movieId": pa.int64(),
            "rating": pa.float64(),
            "timestamp": pa.int64(),
        }

        def arrow() -> tuple[np.ndarray, np.ndarray]:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
            return table.column("rating").to_numpy(), table.column("timestamp").to_numpy()

        readers_["pyarrow.csv.read_csv"] = arrow
        readers_["pandas.read_csv(engine='pyarrow')"] = lambda: theirs(engine="pyarrow")
    results: dict[str, Any] = {}
    for label, reader in readers_.items():  # import, and bring the file into the page cache
        results[label] = reader()
    times: dict[str, list[float]] = {label: [] for label in readers_}
    labels = list(readers_)
    for round_ in range(args.repeats):
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            start = time.perf_counter()
            results[label] = readers_[label]()
            spent = time.perf_counter() - start
            times[label].append(results[label] if label.startswith("default install") else spent)
            gc.collect()
    reference = results["pandas.read_csv"]
    same = (
        all(
            all(np.array_equal(a, b) for a, b in zip(result, reference, strict=True))
            for label, result in results.items()
            if isinstance(result, tuple)
        )
        and len(set(fingerprints.values())) == 1
    )
    size = path.stat().st_size
    lines = [
        f"### CSV load, shape {args.shape}{', quoted, text user ids' if args.quoted else ''}\n",
        f"{path.name}: {size / 1e6:,.0f} MB, {len(reference[0]):,} rows; {args.repeats} rounds, reader order "
        f"rotating; {os.cpu_count()} cores; same numbers: {'yes' if same else 'NO'}.\n",
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
