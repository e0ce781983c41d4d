"""What a Ray task takes of the driver, and what connecting leaves of the driver's process.

A task runs in the driver's working folder and its log records come back to the driver; the
saved model is the local run's, file for file; connecting puts back the ``ray`` logger's
handlers and the SIGTERM handler; the head of a connection is watched only where this plugin
made it, and a head lost while the process idles ends the connection, not the process.
"""

from __future__ import annotations

import logging
import operator
import signal
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from recframe_ray import RayExecutor, connection

from recframe import ConfigError, MatrixBuilder, PluginRegistry, hookimpl, row_blocks
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.config import load_config
from recframe.runner import execute

pytestmark = pytest.mark.xdist_group("ray")  # one worker of pytest-xdist runs them all: one cluster

TRAIN = "".join(f"{u},{i},{1 + (u * i) % 5}\n" for u in range(40) for i in range(30) if (u + 2 * i) % 4 == 0)
TEST = "".join(f"{u},{i},3\n" for u in range(40) for i in range(30) if (u + 2 * i) % 4 == 1 and i % 5 == 0)


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry.from_environment()


def test_relative_paths_name_the_drivers_files_in_every_task(
    ray_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: PluginRegistry
) -> None:
    """A sweep setting's task reads ``data/test.csv`` where the run was started, not where ``ray start`` ran."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("user,item,rating\n" + TRAIN, encoding="utf-8")
    (tmp_path / "data" / "test.csv").write_text("user,item,rating\n" + TEST, encoding="utf-8")
    (tmp_path / "run.yaml").write_text(
        "data: {type: csv, path: data/train.csv}\n"
        "similarity: {type: sparse, k: 5}\n"
        "ranker: {type: item_cf, n: 3}\n"
        "evaluation:\n"
        "  split: {type: predefined}\n"
        "  test_data: {type: csv, path: data/test.csv}\n"
        "  metrics: [ndcg@3]\n"
        "sweep: {similarity.k: [3, 6]}\n"
        "output: {report: false}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    local = execute(load_config(Path("run.yaml"), registry), registry, tmp_path / "local")
    overrides = ["executor.type=ray", f"executor.address={ray_address}"]
    distributed = execute(load_config(Path("run.yaml"), registry, overrides), registry, tmp_path / "ray")
    assert (tmp_path / "ray" / "sweep.csv").read_bytes() == (tmp_path / "local" / "sweep.csv").read_bytes()
    assert len(distributed.files) == len(local.files)


def test_what_a_task_logs_reaches_the_driver(
    ray_address: str, tmp_path: Path, registry: PluginRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """A fold's task logs on its worker; the driver logs it again, as a local run would have."""

    class Noisy(RatingsMatrixBuilder):  # defined here: sent to the workers by value
        name = "noisy_ratings"

        def build(self, interactions):  # type: ignore[no-untyped-def]
            logging.getLogger("recframe.test_noisy").warning("noisy build of %d events", len(interactions))
            return super().build(interactions)

    class NoisyPlugin:
        @staticmethod
        @hookimpl
        def recframe_register_components() -> list[type[MatrixBuilder]]:
            return [Noisy]

    registry.register(NoisyPlugin, name="noisy", package="noisy-test", version="0")
    (tmp_path / "run.yaml").write_text(
        "data: {type: synthetic, n_users: 60, n_items: 30}\n"
        "matrix: {type: noisy_ratings}\n"
        "similarity: {type: sparse, k: 5}\n"
        "ranker: {type: item_cf, n: 3}\n"
        "evaluation: {split: {type: kfold, n_folds: 3}, metrics: [ndcg@3]}\n"
        "output: {report: false}\n",
        encoding="utf-8",
    )
    overrides = ["executor.type=ray", f"executor.address={ray_address}"]
    with caplog.at_level(logging.WARNING):
        execute(load_config(tmp_path / "run.yaml", registry, overrides), registry, tmp_path / "ray")
    told = [r.getMessage() for r in caplog.records if r.name == "recframe.test_noisy"]
    assert len(told) == 3 and all(m.startswith("noisy build of ") for m in told)  # each fold's, in its task


def test_a_kfold_model_saved_from_tasks_is_the_local_ones_file_for_file(
    ray_address: str, tmp_path: Path, registry: PluginRegistry
) -> None:
    """The last fold's model comes back from a task as copies: an array two components share is still written once."""
    (tmp_path / "run.yaml").write_text(
        "data: {type: synthetic, n_users: 80, n_items: 40}\n"
        "similarity: {type: sparse, measure: pearson, k: 5}\n"
        "ranker: {type: user_cf, n: 3}\n"
        "evaluation: {split: {type: kfold, n_folds: 2}, metrics: [ndcg@3]}\n"
        "output: {report: false}\n",
        encoding="utf-8",
    )
    execute(load_config(tmp_path / "run.yaml", registry), registry, tmp_path / "local")
    overrides = ["executor.type=ray", f"executor.address={ray_address}"]
    execute(load_config(tmp_path / "run.yaml", registry, overrides), registry, tmp_path / "ray")
    local = sorted(p.name for p in (tmp_path / "local" / "model" / "arrays").iterdir())
    assert local == sorted(p.name for p in (tmp_path / "ray" / "model" / "arrays").iterdir())
    for name in local:
        assert (tmp_path / "ray" / "model" / "arrays" / name).read_bytes() == (
            tmp_path / "local" / "model" / "arrays" / name
        ).read_bytes()


def test_connecting_leaves_the_process_as_it_was(ray_address: str) -> None:
    """``ray.init`` clears the ``ray`` logger's handlers and installs a SIGTERM handler of its own: both put back."""
    connection.disconnect()
    own = logging.NullHandler()
    logging.getLogger("ray").addHandler(own)
    before = signal.getsignal(signal.SIGTERM)
    try:
        executor = RayExecutor(address=ray_address)
        executor.map_blocks(operator.mul, row_blocks(np.arange(4), 2), np.int64(2), desc="test")
        assert own in logging.getLogger("ray").handlers
        assert signal.getsignal(signal.SIGTERM) is before
        executor.close()
    finally:
        logging.getLogger("ray").removeHandler(own)


def test_the_users_own_connection_is_not_watched_at_the_executors_address(
    ray_address: str, unused_address: str
) -> None:
    """The user's ``ray.init`` is used as it is; nothing answering at ``address`` does not fail its blocks."""
    import ray

    connection.disconnect()
    ray.init(address=ray_address, log_to_driver=False)
    try:

        def slow(payload: int, block: np.ndarray) -> np.ndarray:
            time.sleep(2.5)  # longer than the executor's checks of the head (every second)
            return block * payload

        got = RayExecutor(address=unused_address).map_blocks(slow, [np.arange(3)], 2, desc="test")
        assert got[0].tolist() == [0, 2, 4]
    finally:
        ray.shutdown()


def test_the_watcher_disconnects_when_the_head_stops_answering(monkeypatch: pytest.MonkeyPatch) -> None:
    """While no block runs, a lost head ends the connection (Ray would end the process after a minute)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    address = f"127.0.0.1:{listener.getsockname()[1]}"

    class FakeRay:
        shut = 0

        def shutdown(self) -> None:
            self.shut += 1

    fake = FakeRay()
    stop = threading.Event()
    monkeypatch.setattr(connection, "WATCH_S", 0.05)
    monkeypatch.setattr(connection, "_opened", address)
    monkeypatch.setattr(connection, "_stop_watch", stop)
    monkeypatch.setattr(connection, "_running", 1)  # a map_blocks waits: it checks the head itself
    watcher = threading.Thread(target=connection.watch_head, args=(fake, address, stop))
    watcher.start()
    time.sleep(0.3)
    assert fake.shut == 0 and connection.opened() == address  # the head answers
    listener.close()
    time.sleep(0.4)
    assert fake.shut == 0  # lost, but a map_blocks runs
    monkeypatch.setattr(connection, "_running", 0)
    watcher.join(timeout=5)
    assert fake.shut == 1 and connection.opened() is None and stop.is_set()


@pytest.mark.parametrize(
    ("override", "why"),
    [("executor.num_cpus=0.00001", "finer than Ray counts CPUs"), ("executor.max_retries=1000000000000", "10000")],
)
def test_settings_ray_refuses_only_at_run_time_are_refused_at_load(
    tmp_path: Path, registry: PluginRegistry, override: str, why: str
) -> None:
    (tmp_path / "run.yaml").write_text("data: {type: synthetic}\nexecutor: {type: ray, address: 127.0.0.1:1}\n")
    with pytest.raises(ConfigError, match=why):
        load_config(tmp_path / "run.yaml", registry, [override])
