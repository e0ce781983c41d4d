"""A seconds-long run of the benchmark suite: the scripts work and the exact methods agree.

Each benchmark runs in fresh processes that compile the kernels they meet on a cold cache, so
these runs take one to three minutes on one core, by the machine: they are `.ci/run`'s own step
(``RECFRAME_BENCH_SMOKE=1``, on both cores with the ranx conformance check), not part of the
README's test command, which must stay under 4 minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    not os.environ.get("RECFRAME_BENCH_SMOKE"),
    reason="benchmark smoke runs are .ci/run's own step; set RECFRAME_BENCH_SMOKE=1 to run them",
)


def run_benchmark(tmp_path: Path, *args: str) -> str:
    env = {**os.environ, "RECFRAME_BENCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--shape", "smoke", "--repeats", "1", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_neighbour_benchmark_smoke(tmp_path):
    table = run_benchmark(
        tmp_path,
        "--task",
        "item-item",
        "--k",
        "10",
        "--methods",
        "recframe sparse,recframe sparse (scipy engine),recframe sklearn_nn,scikit-learn raw",
    )
    rows = [line for line in table.splitlines() if line.startswith("| recframe") or line.startswith("| scikit")]
    assert len(rows) == 4
    assert all(row.rstrip().endswith(("| yes |", "| reference |")) for row in rows), table


def test_batch_benchmark_smoke(tmp_path):
    table = run_benchmark(
        tmp_path,
        "--task",
        "batch",
        "--k",
        "10",
        "--methods",
        "recframe item_cf (numba),recframe item_cf (scipy engine)",
    )
    rows = [line for line in table.splitlines() if line.startswith("| recframe")]
    assert rows[0].rstrip().endswith("| reference |"), table
    assert rows[1].rstrip().endswith("| 100.00% lists identical |"), table


def run_module(tmp_path: Path, module: str, *args: str) -> str:
    """Run a benchmark script on the smoke shape; return its output."""
    env = {**os.environ, "RECFRAME_BENCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--shape", "smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_evaluation_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.evaluation", "--repeats", "1")
    assert "| per-user Python loop: matching + the same 6 accuracy metrics |" in out
    assert "| all 12 metrics |" in out


def test_measures_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.measures", "--k", "5", "--engines", "numba,scipy")
    assert out.count("| numba |") == 14 and out.count("| scipy |") == 14


def test_graph_similarity_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.graph_similarity", "--repeats", "1")
    assert out.count("| p3alpha (") == 2 and out.count("| rp3beta (") == 2 and "| cosine item-kNN |" in out


def test_csv_load_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.csv_load", "--repeats", "1")
    assert "same numbers: yes" in out and "| pandas.read_csv |" in out


def test_delta_kernel_benchmark_smoke(tmp_path):
    """The kernel's inputs captured from a real update, saved, read back: the same outputs' digest."""
    saved = tmp_path / "inputs.pkl"
    first = run_module(tmp_path, "benchmarks.delta_kernel", "--threads", "1", "--save-inputs", str(saved))
    again = run_module(tmp_path, "benchmarks.delta_kernel", "--inputs", str(saved), "--repeats", "2")  # numba's threads
    digests = [line for out in (first, again) for line in out.splitlines() if line.startswith("Outputs' digest: ")]
    assert len(digests) == 2 and digests[0] == digests[1], (first, again)
    rows = [line.split("|") for out in (first, again) for line in out.splitlines() if line.startswith("| ")]
    assert [row[4].strip() for row in rows if row[1].strip().isdigit()] == ["7", "2"], (first, again)


def test_update_benchmark_smoke(tmp_path):
    out = run_module(
        tmp_path,
        "benchmarks.update",
        "--rankers",
        "item_cf,user_cf",
        "--fractions",
        "0.01,0.1",
        "--forget",
        "10",
        "--again",
        "1",
        "--chain",
        "2",
    )
    lines = [line for line in out.splitlines() if line.startswith(("| 0.", "| forget"))]
    rows = [line for line in lines if line.count("|") > 8]
    assert len(rows) == 6, out
    assert all(row.split("|")[14].strip() == "yes" and row.rstrip().endswith("% |") for row in rows), out
    assert any("| full" not in row for row in rows), out  # some graph was updated, not searched again
    same = [line for line in out.splitlines() if line.startswith("Every add row's refit fits the same events: 2 fits")]
    assert len(same) == 2 and all("0.01: " in line and "0.1: " in line for line in same), out  # one per ranker
    chains = [line.split("|") for line in lines if line.count("|") == 8]  # two updates in a row per fraction
    assert len(chains) == 4 and all(len(c[2].split(" / ")) == 2 and c[7].strip() == "yes" for c in chains), out


def test_scaling_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.scaling", "--smoke", "--executors", "local")
    rows = [line for line in out.splitlines() if line.startswith("| smoke |")]
    assert len(rows) == 6, out  # search, batch and folds on 1 and 2 workers
    assert "| none |" in out and "| 10 |" in out and "| 40 |" in out  # the cap study


def test_pair_choice_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.pair_choice", "--repeats", "1")
    rows = [line for line in out.splitlines() if line.startswith(("| random", "| communities"))]
    assert len(rows) == 2 and all(row.endswith("| yes |") for row in rows), out  # the kernels' lists agree


def test_kernel_bound_benchmark_smoke(tmp_path):
    out = run_module(tmp_path, "benchmarks.kernel_bound", "--repeats", "1", "--k", "5")
    assert "kernel:" in out and "scatter-add bound:" in out
