"""Tests of the ``ray`` executor on a real two-node Ray cluster (see conftest.py): the same results as local.

Run from the repository root after ``pip install -e plugins/recframe-ray``::

    python3 -m pytest plugins/recframe-ray -q
"""

from __future__ import annotations

import operator
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import recframe_ray
from pydantic import ValidationError
from recframe_ray import RayExecutor

from recframe import ConfigError, PluginError, PluginRegistry, RecframeError, Recommender, hookimpl, row_blocks
from recframe.config import load_config
from recframe.runner import execute
from recframe.testing import ExecutorContract, random_interactions

if TYPE_CHECKING:
    from conftest import Cluster

pytestmark = pytest.mark.xdist_group("ray")  # one worker of pytest-xdist runs them all: one cluster

RUN = """\
name: ray-equal
seed: 5
data: {type: synthetic, n_users: 120, n_items: 60}
similarity: {type: sparse, measure: cosine, k: 10}
ranker: {type: user_cf, n: 5}
evaluation: {split: {type: per_user_holdout}, metrics: [precision@5, ndcg@5]}
output: {report: false}
"""


@pytest.fixture
def registry() -> PluginRegistry:
    """The built-ins and the installed plugins (this one among them)."""
    return PluginRegistry.from_environment()


def test_config_names_what_is_wrong(tmp_path: Path, registry: PluginRegistry):
    for address in ("auto", "local", "127.0.0.1", "host:99999", "ray://x"):
        with pytest.raises(ValidationError, match="is not host:port; give the address of the Ray head node"):
            RayExecutor(address=address)
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\nexecutor:\n  type: ray\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml:2: executor\.address: required, but missing"):
        load_config(path, registry)
    path.write_text("data: {type: synthetic}\nexecutor: {type: rey}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"executor\.type: unknown executor 'rey'; did you mean 'ray'"):
        load_config(path, registry)


def test_blocks_come_back_in_order_from_two_nodes(ray_address: str):
    import ray

    executor = RayExecutor(address=ray_address, block_rows=3)
    blocks = row_blocks(np.arange(40)[::-1], 3)
    got = executor.map_blocks(operator.mul, blocks, np.int64(3), desc="test")
    assert [g.tolist() for g in got] == [(b * 3).tolist() for b in blocks]
    assert ray.cluster_resources()["CPU"] == 2
    assert len([node for node in ray.nodes() if node["Alive"]]) == 2


class TestRayExecutorContract(ExecutorContract):
    """recframe.testing's executor contract, on the two-node cluster."""

    component = RayExecutor

    @pytest.fixture(autouse=True)
    def _on_the_cluster(self, ray_address: str) -> None:
        self.configs = ({"address": ray_address, "block_rows": 7},)


@pytest.mark.parametrize(
    ("similarity", "ranker"),
    [({"type": "sparse", "measure": "cosine", "k": 8}, "item_cf"), ({"type": "sklearn_nn", "k": 6}, "user_cf")],
)
def test_search_and_lists_equal_local(ray_address: str, similarity: dict[str, object], ranker: str):
    data = random_interactions(n_users=70, n_items=45, density=0.12, seed=4)
    config = {"similarity": similarity, "ranker": {"type": ranker, "n": 6}}
    local = Recommender.from_config(config).fit(data)
    distributed = Recommender.from_config(config)
    distributed.executor = RayExecutor(address=ray_address, block_rows=16)
    distributed.fit(data)
    axis = local.fitted_ranker.neighbour_axis
    assert axis is not None
    one, many = local._state().graphs[axis], distributed._state().graphs[axis]
    np.testing.assert_array_equal(many.indices, one.indices)
    np.testing.assert_allclose(many.scores, one.scores, rtol=0, atol=1e-12)
    a, b = local.recommend_all(), distributed.recommend_all()
    np.testing.assert_array_equal(b.ids, a.ids)
    np.testing.assert_allclose(b.scores, a.scores, rtol=0, atol=1e-12)


def test_a_run_from_yaml_writes_the_files_of_a_local_run(ray_address: str, tmp_path: Path, registry: PluginRegistry):
    path = tmp_path / "run.yaml"
    path.write_text(RUN, encoding="utf-8")
    local = execute(load_config(path, registry), registry, tmp_path / "local")
    overrides = ["executor.type=ray", f"executor.address={ray_address}", "executor.block_rows=25"]
    distributed = execute(load_config(path, registry, overrides), registry, tmp_path / "ray")
    assert isinstance(distributed.recommender.executor, RayExecutor)
    names = sorted(str(p.relative_to(tmp_path / "local")) for p in local.files)
    assert names == sorted(str(p.relative_to(tmp_path / "ray")) for p in distributed.files)
    for name in names:
        if name not in {"config.yaml", "run.json", "manifest.json", "model/manifest.json"}:
            assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    assert "recommendations.csv" in names
    written = load_config(tmp_path / "ray" / "config.yaml", registry).to_dict()["executor"]
    assert written["type"] == "ray"
    assert written["address"] == ray_address


def test_folds_and_sweep_settings_as_tasks_write_the_files_of_a_local_run(
    ray_address: str, tmp_path: Path, registry: PluginRegistry
):
    text = RUN.replace("{type: per_user_holdout}", "{type: kfold, n_folds: 3}") + "sweep: {similarity.k: [4, 9]}\n"
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    local = execute(load_config(path, registry), registry, tmp_path / "local")
    overrides = ["executor.type=ray", f"executor.address={ray_address}"]
    distributed = execute(load_config(path, registry, overrides), registry, tmp_path / "ray")
    names = sorted(str(p.relative_to(tmp_path / "local")) for p in local.files)
    assert names == sorted(str(p.relative_to(tmp_path / "ray")) for p in distributed.files)
    assert {"sweep.csv", "settings/2/per_user.csv", "settings/2/metrics.json"} <= set(names)
    for name in names:
        if not name.endswith(("config.yaml", "run.json", "manifest.json")):
            assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    # one setting alone: its three folds are the tasks (3 folds on 2 CPUs: a task never waits for a nested one)
    single = Recommender.from_config(path, overrides=[*overrides, "sweep=null"], registry=registry)
    result = single.evaluate()
    alone = Recommender.from_config(path, overrides=["sweep=null"], registry=registry)
    expected = alone.evaluate()
    assert [f.metrics for f in result.folds] == [f.metrics for f in expected.folds]
    for a, b in zip(result.folds, expected.folds, strict=True):
        np.testing.assert_array_equal(a.per_user["ndcg@5"], b.per_user["ndcg@5"])
    np.testing.assert_array_equal(single.recommend_all().ids, alone.recommend_all().ids)


def test_a_partitioned_parquet_dataset_is_read_in_parts_on_the_cluster(ray_address: str, tmp_path: Path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    data = random_interactions(n_users=50, n_items=30, density=0.2, seed=2)
    rng = np.random.default_rng(2)
    table = pa.table(
        {
            "user": [f"u{u}" for u in data.users],  # string ids: converted once over every part
            "item": data.items,
            "rating": rng.integers(1, 6, len(data)).astype(np.float64),
            "at": pa.array(rng.integers(1_600_000_000, 1_700_000_000, len(data)) * 1_000_000, pa.timestamp("us")),
            "day": np.arange(len(data)) % 3,
        }
    )
    pq.write_to_dataset(table, tmp_path / "events", partition_cols=["day"], row_group_size=40)
    config = {"data": {"type": "parquet", "path": str(tmp_path / "events"), "timestamp": "at"}}
    whole = Recommender.from_config(config).load_data()
    distributed = Recommender.from_config(config)
    distributed.executor = RayExecutor(address=ray_address)
    parts = distributed.load_data()
    assert len(parts) == len(data)
    for name in ("users", "items", "values", "timestamps"):  # every column, with its dtype
        a, b = getattr(parts, name), getattr(whole, name)
        assert a is not None and b is not None, name
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert parts.fingerprint() == whole.fingerprint()


def test_a_worker_killed_mid_task_is_retried(ray_address: str, tmp_path: Path):
    marker = tmp_path / "killed-once"
    base = type(Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).similarity)

    class DiesOnce(base):  # type: ignore[misc, valid-type]
        """Kills its worker process the first time it searches a block (defined here: sent by value)."""

        name = "dies_once"
        path = str(marker)

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            if rows is not None and not os.path.exists(self.path):
                Path(self.path).write_text(str(os.getpid()), encoding="utf-8")
                os._exit(1)
            return super().neighbours(rows, k)

    data = random_interactions(n_users=60, n_items=40, density=0.15, seed=9)
    config = {"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "user_cf", "n": 5}}
    local = Recommender.from_config(config).fit(data)
    distributed = Recommender.from_config(config)
    distributed.similarity = DiesOnce(distributed.similarity.config)
    distributed.executor = RayExecutor(address=ray_address, block_rows=20, max_retries=2)
    distributed.fit(data)
    assert marker.exists()
    assert int(marker.read_text(encoding="utf-8")) != os.getpid()  # it was a worker that died
    np.testing.assert_array_equal(distributed._state().graphs["users"].indices, local._state().graphs["users"].indices)
    a, b = local.recommend_all(), distributed.recommend_all()
    np.testing.assert_array_equal(b.ids, a.ids)
    np.testing.assert_allclose(b.scores, a.scores, rtol=0, atol=1e-12)


def test_an_error_in_a_block_names_the_component(ray_address: str, monkeypatch: pytest.MonkeyPatch):
    import ray

    cancelled: list[object] = []  # none: a cancel racing with a finishing task aborts this process
    monkeypatch.setattr(ray, "cancel", lambda ref, **kwargs: cancelled.append(ref))
    base = type(Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).similarity)

    class Broken(base):  # type: ignore[misc, valid-type]
        name = "broken_sparse"

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            if rows is not None and 30 in rows:
                msg = "row 30 is cursed"
                raise ValueError(msg)
            return super().neighbours(rows, k)

    rec = Recommender.from_config({"ranker": "user_cf"})
    rec.similarity = Broken(k=4)
    rec.executor = RayExecutor(address=ray_address, block_rows=20)
    with pytest.raises(PluginError, match=r"similarity 'broken_sparse' .*raised ValueError in neighbours\(\): row 30"):
        rec.fit(random_interactions(n_users=50, n_items=30, density=0.2, seed=1))
    assert cancelled == []


@pytest.mark.parametrize("block_rows", [10, 10_000])  # 10,000: more than the data's rows, no block to send
def test_an_unreachable_cluster_fails_fast_and_writes_nothing(
    tmp_path: Path, registry: PluginRegistry, unused_address: str, block_rows: int
):
    path = tmp_path / "run.yaml"
    path.write_text(RUN, encoding="utf-8")
    address = unused_address
    overrides = ["executor.type=ray", f"executor.address={address}", f"executor.block_rows={block_rows}"]
    config = load_config(path, registry, overrides)
    start = time.monotonic()
    with pytest.raises(ConfigError, match=rf"executor\.address: can't reach the Ray cluster at '{address}' within"):
        execute(config, registry, tmp_path / "out")
    assert time.monotonic() - start < 10
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_another_service_at_the_address_fails_fast_not_after_minutes_of_ray_init(monkeypatch: pytest.MonkeyPatch):
    """A listener that accepts and says nothing (a wrong port): ray.init would retry for about 14 minutes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(10)
    held: list[socket.socket] = []

    def take() -> None:  # the three connections the checks open (TCP, HTTP/2; TCP): each kept to close
        for _ in range(3):
            held.append(listener.accept()[0])

    taking = threading.Thread(target=take, daemon=True)
    taking.start()
    address = f"127.0.0.1:{listener.getsockname()[1]}"
    try:
        start = time.monotonic()
        wanted = rf"something listens at '{address}', but not a Ray head node \(it did not answer in HTTP/2 within 1s\)"
        with pytest.raises(ConfigError, match=wanted):
            RayExecutor(address=address, connect_timeout_s=1).check()
        assert time.monotonic() - start < 5
        monkeypatch.setenv("RAY_USE_TLS", "1")  # a head node with TLS on would refuse a plain HTTP/2 start
        RayExecutor(address=address, connect_timeout_s=1).check()  # the TCP check alone
    finally:
        taking.join(timeout=10)
        listener.close()
        for connection in held:
            connection.close()


def test_blocks_asking_more_cpus_than_any_node_has_say_so(ray_address: str, caplog: pytest.LogCaptureFixture):
    """Ray would wait, silently, for a node that large: the wait is told (a warning: an autoscaler may add one)."""
    executor = RayExecutor(address=ray_address, num_cpus=1)
    blocks = row_blocks(np.arange(4), 2)
    with caplog.at_level("WARNING", logger="recframe_ray"):
        executor.map_blocks(operator.mul, blocks, np.int64(2), desc="test")
    assert "CPUs" not in caplog.text  # every node has one: nothing to say
    import ray

    with caplog.at_level("WARNING", logger="recframe_ray"):
        recframe_ray._warn_if_no_node_fits(ray, ray_address, 3)
    told = f"asks for 3 CPUs (executor.num_cpus), but the largest node of the Ray cluster at {ray_address} has 1"
    assert told in caplog.text


def test_an_unreachable_address_leaves_the_connection_to_another_cluster(ray_address: str, unused_address: str):
    """A run whose cluster can't be reached neither ends nor replaces the connection another executor opened."""
    import ray

    working = RayExecutor(address=ray_address)
    blocks = row_blocks(np.arange(6), 2)
    assert [b.tolist() for b in working.map_blocks(operator.sub, blocks, np.int64(0), desc="test")] == [
        [0, -1],
        [-2, -3],
        [-4, -5],
    ]
    unreachable = RayExecutor(address=unused_address, connect_timeout_s=1)
    with pytest.raises(ConfigError, match="can't reach the Ray cluster"):
        unreachable.map_blocks(operator.sub, blocks, np.int64(0), desc="test")
    unreachable.close()  # it never connected: nothing of its own to end
    assert ray.is_initialized()
    assert len(working.map_blocks(operator.sub, blocks, np.int64(0), desc="test")) == 3  # the same connection


def test_a_cluster_dying_mid_run_is_a_clear_error_and_writes_nothing(
    ray_cluster: Cluster, ray_address: str, tmp_path: Path, registry: PluginRegistry
):
    """Kill the head node's processes while blocks run (kept last: a later test would start a new cluster)."""
    import ray

    started = tmp_path / "started"
    base = type(Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).similarity)

    class Slow(base):  # type: ignore[misc, valid-type]
        """Says when its first block starts, then takes a while over each (defined here: sent by value)."""

        name = "slow_sparse"
        path = str(started)

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            if rows is not None:
                Path(self.path).touch()
                time.sleep(0.4)
            return super().neighbours(rows, k)

    class SlowPlugin:
        @staticmethod
        @hookimpl
        def recframe_register_components() -> list[type]:
            return [Slow]

    registry.register(SlowPlugin, name="slow", package="slow-test", version="0")
    path = tmp_path / "run.yaml"
    path.write_text(RUN.replace("type: sparse, measure: cosine", "type: slow_sparse"), encoding="utf-8")
    config = load_config(
        path, registry, ["executor.type=ray", f"executor.address={ray_address}", "executor.block_rows=8"]
    )

    def kill_once_started() -> None:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        ray_cluster.kill_head()

    killer = threading.Thread(target=kill_once_started)
    killer.start()
    start = time.monotonic()
    try:
        lost = rf"failed on the Ray cluster at '{ray_address}': (the head node stopped answering|NodeDiedError)"
        with pytest.raises(RecframeError, match=lost) as caught:
            execute(config, registry, tmp_path / "out")
    finally:
        killer.join()
    assert time.monotonic() - start < 30
    assert str(caught.value).endswith("; check the cluster (ray status) and run again")
    assert not ray_cluster.alive
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no partial outputs
    assert not ray.is_initialized()  # the connection to the dead cluster was closed
