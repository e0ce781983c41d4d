"""A real two-node Ray cluster on this machine, started once for the session and stopped after it.

The head node's address is 127.0.0.2 at a free port, with one CPU; a second node, 127.0.0.3,
joins it with one more. Both are loopback addresses (all of 127.0.0.0/8 is the loopback
interface), so every connection of the test stays on this machine. They are not 127.0.0.1
because Ray 2.x replaces that address by the machine's network address whenever more than one
node may join (``resolve_ip_for_localhost``), and only allows a single node otherwise; for the
same reason its GCS and raylets accept connections on every interface while the cluster runs
(for the few seconds of the tests, on ports picked at random). Each ``ray start`` runs in its
own process group, and teardown ends exactly those groups (never ``ray stop``, which would end
every Ray process of the machine). The fault test kills the head node's process group; a test
asking for ``ray_address`` after it gets a cluster started afresh. Once the next test of the
worker needs no cluster, its processes are ended on a thread (about 5 s) while the tests go on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from one_worker import claim  # tests/one_worker.py (the suite's pythonpath)

HEAD, SECOND = "127.0.0.2", "127.0.0.3"
"""The loopback addresses of the two nodes."""

pytest.importorskip("ray", reason="the ray executor's tests need ray: pip install -e plugins/recframe-ray")


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(command: list[str], groups: list[int]) -> None:
    """Run one ``ray start`` in a process group of its own, recorded in `groups` for teardown."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, env=env, text=True
    )
    groups.append(process.pid)
    output, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        msg = f"{' '.join(command)} failed:\n{output[-3000:]}"
        raise RuntimeError(msg)


def _stop(groups: list[int]) -> None:
    """End the process groups the fixture started: SIGTERM, then SIGKILL what is left after a while."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        for group in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            alive = []
            for group in groups:
                try:
                    os.killpg(group, 0)
                    alive.append(group)
                except ProcessLookupError:
                    pass
            if not alive:
                return
            time.sleep(0.2)


@pytest.fixture
def unused_address() -> Iterator[str]:
    """Yield ``127.0.0.1:<port>`` where nothing listens: a cluster that can't be reached.

    The port stays bound (not listening) for the test, so a connection is refused and no other
    process (a Ray node of the session's cluster, say) can take the port meanwhile and answer.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{held.getsockname()[1]}"


class Cluster:
    """The two-node cluster of the session: started, stopped, and started again after a test killed its head."""

    def __init__(self) -> None:
        self.address = ""
        self.head_group = 0
        self.groups: list[int] = []
        self.temp = ""
        self.ending: list[threading.Thread] = []

    def start(self) -> None:
        """Start a head node and a second node (one CPU each) on the loopback addresses."""
        executable = shutil.which("ray")
        if executable is None:
            pytest.skip("the ray command is not on PATH")
        port = free_port()
        self.address = f"{HEAD}:{port}"
        self.temp = tempfile.mkdtemp(prefix="rfray-", dir="/tmp")  # Ray's socket paths must stay short
        common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats"]
        agent = f"--dashboard-agent-listen-port={free_port()}"
        head = [executable, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={self.temp}"]
        _start([*head, agent, f"--node-ip-address={HEAD}", *common], self.groups)
        self.head_group = self.groups[-1]
        second = [executable, "start", f"--address={self.address}", f"--dashboard-agent-listen-port={free_port()}"]
        _start([*second, f"--node-ip-address={SECOND}", *common], self.groups)

    def kill_head(self) -> None:
        """Kill every process of the head node at once (its GCS, raylet, workers): the cluster dies."""
        os.killpg(self.head_group, signal.SIGKILL)

    @property
    def alive(self) -> bool:
        """Whether the head node's processes still run (never after :meth:`stop`)."""
        if not self.groups:
            return False
        try:
            os.killpg(self.head_group, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, wait: bool = True) -> None:
        """Disconnect this process, then end the groups started and remove the temporary folder.

        Without `wait` the ending (SIGTERM, SIGKILL after 3 s) runs on a thread; a later
        :meth:`stop` (the session's, or a restart's) waits for it.
        """
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self.groups:  # once: the groups and the folder are forgotten here, ended on the thread
            ending = threading.Thread(target=_end, args=(list(self.groups), self.temp), name="ray-cluster-stop")
            ending.start()
            self.ending.append(ending)
            self.groups.clear()
            self.temp = ""
        if wait:
            for thread in self.ending:
                thread.join()
            self.ending.clear()


def _end(groups: list[int], temp: str) -> None:
    """End the process groups of a cluster and remove its temporary folder."""
    _stop(groups)
    if temp:
        shutil.rmtree(temp, ignore_errors=True)


_SESSION: list[Cluster] = []
"""The session's cluster once started, for :func:`pytest_runtest_teardown`."""


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Cluster]:
    """The session's cluster, started once and stopped after the last test that needs it."""
    with claim("Ray cluster"):  # one worker of a pytest-xdist run starts it (tests/one_worker.py)
        cluster = Cluster()
        _SESSION.append(cluster)
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.stop()
            _SESSION.clear()


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last test of this folder in a row, stop the cluster in the background.

    The Ray tests run one after another on one worker (their ``xdist_group``); the session's
    teardown would wait for the cluster's end after the worker's last test, whatever it is.
    A later test that needs a cluster again gets one started afresh (``ray_address``).
    """
    here = Path(__file__).parent
    if _SESSION and _SESSION[0].groups and (nextitem is None or nextitem.path.parent != here):
        _SESSION[0].stop(wait=False)


@pytest.fixture
def ray_address(ray_cluster: Cluster) -> str:
    """Return the head node's ``host:port``, starting the cluster again if a test killed it."""
    if not ray_cluster.alive:
        ray_cluster.stop()
        ray_cluster.start()
    return ray_cluster.address
