"""Load-test ``recframe serve`` on 127.0.0.1: single-user top-10 latency and batch throughput.

    python -m benchmarks.serve                      # ML-1M-shape item-kNN model
    python -m benchmarks.serve --shape ml-20m       # ML-20M shape (fitting it takes minutes, once)
    python -m benchmarks.serve --shape smoke --requests 500 --batches 5    # seconds

An item-kNN model (``sklearn_nn`` cosine k=50, ``item_cf``) is fitted on the shape's seeded
synthetic data and saved once (cached beside the benchmark data), then served by
``recframe serve`` in a separate process on a free port of 127.0.0.1. The client is a minimal
HTTP/1.1 client on asyncio streams with keep-alive connections (much lighter than an HTTP
library, as it shares the cores with the server): a fixed number of ``GET /recommend/{user}``
requests from 50 concurrent connections, then batches of 1,000 users through ``POST
/recommend``. It prints the machine, the versions and a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

from benchmarks.datasets import cache_dir, load_matrix

ROOT = Path(__file__).resolve().parents[1]


def model_folder(shape: str) -> Path:
    """Return the saved item-kNN model of `shape`, fitting and saving it the first time."""
    folder = cache_dir() / f"serve-model-{shape}"
    if (folder / "manifest.json").is_file():
        return folder
    from recframe import Recommender

    matrix = load_matrix(shape).tocoo()
    rec = Recommender.from_config(
        {"similarity": {"type": "sklearn_nn", "k": 50}, "ranker": {"type": "item_cf", "n": 10}, "name": shape}
    )
    start = time.perf_counter()
    rec.fit({"user": matrix.row.astype(np.int64), "item": matrix.col.astype(np.int64), "rating": matrix.data})
    print(f"fitted the {shape} model in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    rec.save(folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Connection:
    """One keep-alive HTTP/1.1 connection: send a request, read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def load_test(port: int, paths: list[str], concurrency: int, body: list[bytes] | None = None) -> dict[str, float]:
    """Send every request of `paths` over `concurrency` connections; return throughput and latency."""
    latencies: list[float] = []
    errors = 0
    queue = iter(range(len(paths)))

    async def client() -> None:
        nonlocal errors
        conn = await Connection.open(port)
        for i in queue:
            start = time.perf_counter()
            status, _ = await conn.request("POST" if body else "GET", paths[i], body[i] if body else b"")
            latencies.append(time.perf_counter() - start)
            errors += status != 200
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(paths),
        "errors": errors,
        "seconds": elapsed,
        "per_s": len(paths) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def wait_until_up(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"recframe serve exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("recframe serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="ml-1m", choices=["smoke", "ml-1m", "ml-20m"])
    parser.add_argument("--requests", type=int, default=20_000, help="single-user requests (default 20,000)")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent connections (default 50)")
    parser.add_argument("--batches", type=int, default=40, help="batch requests (default 40)")
    parser.add_argument("--batch-size", type=int, default=1000, help="users per batch request (default 1,000)")
    parser.add_argument("--batch-concurrency", type=int, default=2, help="concurrent batch connections (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    folder = model_folder(args.shape)
    port = free_port()
    command = [sys.executable, "-m", "recframe", "-q", "serve", str(folder), "--port", str(port)]
    process = subprocess.Popen([*command, "--workers", str(args.workers)], cwd=ROOT)
    try:
        wait_until_up(port, process)
        rng = np.random.default_rng(0)
        manifest = json.loads((folder / "manifest.json").read_text())
        n_users = int(manifest["data"]["n_users"])
        users = rng.integers(0, n_users, size=max(args.requests, args.batches * args.batch_size))
        warm = [f"/recommend/{u}?n=10" for u in users[:500]]
        asyncio.run(load_test(port, warm, args.concurrency))
        single = asyncio.run(
            load_test(port, [f"/recommend/{u}?n=10" for u in users[: args.requests]], args.concurrency)
        )
        bodies = [
            json.dumps({"users": users[i * args.batch_size : (i + 1) * args.batch_size].tolist(), "n": 10}).encode()
            for i in range(args.batches)
        ]
        batch = asyncio.run(load_test(port, ["/recommend"] * args.batches, args.batch_concurrency, bodies))
    finally:
        process.terminate()
        process.wait(30)
    batch["users_per_s"] = batch["per_s"] * args.batch_size
    versions = {name: version(name) for name in ("recframe", "fastapi", "uvicorn", "numpy", "scipy")}
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"python {platform.python_version()}; " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"model: item_cf on the {args.shape} shape, {n_users:,} users; server workers: {args.workers}\n")
    print("| load | requests | errors | throughput | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| single user, top-10, {args.concurrency} connections | {single['requests']:,} | {single['errors']} "
        f"| {single['per_s']:,.0f} req/s | {single['p50_ms']:.1f} | {single['p99_ms']:.1f} |"
    )
    print(
        f"| batch of {args.batch_size:,} users, top-10, {args.batch_concurrency} connections | {batch['requests']:,} "
        f"| {batch['errors']} | {batch['users_per_s']:,.0f} users/s | {batch['p50_ms']:.1f} | {batch['p99_ms']:.1f} |"
    )
    if args.json:
        print(json.dumps({"single": single, "batch": batch, "versions": versions}))
    if statistics.fmean([single["errors"], batch["errors"]]):
        raise SystemExit("some requests failed")


if __name__ == "__main__":
    main()
