"""recframe-ray: the ``ray`` executor, which runs recframe's row-by-row work on a Ray cluster.

``executor: {type: ray, address: 10.0.0.5:6379}`` in a run file (or ``RayExecutor(address=...)``
in Python) sends the blocks of the neighbour search and of the lists of every user, the folds
of an evaluation, the settings of a sweep and the parts of a partitioned Parquet dataset to the
Ray cluster whose head is at ``address``. The fitted backend or ranker is put in Ray's object store
once and read zero-copy by every worker of a node; the results come back in block order, so the
outputs are those of the ``local`` executor. A task whose worker dies is run again (up to
``max_retries`` times); a cluster that can't be reached is an error naming the address, raised
before any work starts, and so is one whose head node stops answering while blocks run.

``ray`` is imported only when the executor first runs work, so that listing plugins or
validating a run file stays fast.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field, NonNegativeInt, field_validator

from recframe import ConfigError, Executor, ExecutorConfig, RecframeError, gather_in_order, hookimpl, progress_bar

if TYPE_CHECKING:
    from types import ModuleType

__version__ = "0.1.0"

P = TypeVar("P")
B = TypeVar("B")
R = TypeVar("R")

logger = logging.getLogger(__name__)

_ADDRESS = re.compile(r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")


class RayExecutorConfig(ExecutorConfig):
    """Parameters of :class:`RayExecutor`."""

    address: str
    """``host:port`` of the running Ray cluster's head node (the GCS port of ``ray start --head
    --port=...``, 6379 by default). Nothing else is ever contacted: no cluster is started and
    none is looked for; a process already connected to Ray (``ray.init`` in your code) uses
    that connection instead."""
    num_cpus: float = Field(1.0, gt=0.0, le=1024.0)
    """CPUs each block's task reserves on its node: a node runs its CPUs divided by this many
    blocks at once."""
    max_retries: NonNegativeInt = 3
    """Times a block is run again when the worker running it dies (killed, out of memory, node
    lost); an error raised by the work itself is not retried, as it would fail again."""
    connect_timeout_s: float = Field(10.0, gt=0.0, le=3600.0)
    """Seconds to wait for the head node to answer before giving up with an error."""

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        """Accept ``host:port`` only: ``auto`` and ``local`` would find or start a cluster nobody named."""
        match = _ADDRESS.fullmatch(value.strip())
        if match is None or not 0 < int(match["port"]) < 65536:
            msg = (
                f"{value!r} is not host:port; give the address of the Ray head node, such as "
                "127.0.0.1:6379 (what `ray start --head --port=6379` listens on)"
            )
            raise ValueError(msg)
        return value.strip()


class RayExecutor(Executor):
    """Run blocks of work as Ray tasks on the cluster at ``address``, results in block order."""

    name = "ray"
    Config = RayExecutorConfig
    config: RayExecutorConfig
    _connected = False
    _sized = False  # whether the cluster's nodes were compared with num_cpus (once)
    """Whether this executor's blocks ran over a connection the ray executors opened (:meth:`close` ends it)."""

    def map_blocks(
        self,
        function: Callable[[P, B], R],
        blocks: Sequence[B],
        payload: P,
        *,
        desc: str,
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """Run ``function(payload, block)`` of every block as a Ray task; return the results in block order.

        The payload is put in the object store once; every task reads it from there (zero-copy
        for the numpy arrays in it, on each node). Arrays in the results may be read-only.

        Raises
        ------
        ConfigError
            If the cluster at ``address`` can't be reached; nothing has run then.
        RecframeError
            If the cluster fails while the blocks run (a block's worker died more than
            ``max_retries`` times, a node or the head was lost).
        """
        ray = _ray()
        _connect(ray, self.config.address, self.config.connect_timeout_s)
        self._connected = True
        if not self._sized:  # once per executor: a fit or a sweep maps blocks many times
            self._sized = True
            _warn_if_no_node_fits(ray, self.config.address, self.config.num_cpus)
        from ray.exceptions import RayError, RayTaskError

        remote = _remote_apply(ray).options(
            num_cpus=self.config.num_cpus, max_retries=self.config.max_retries, retry_exceptions=False
        )
        try:
            shared = ray.put(payload)
            refs = [remote.remote(function, shared, block) for block in blocks]
            sizes = [len(block) if hasattr(block, "__len__") else 1 for block in blocks]
            waited = progress_bar(refs, total=sum(sizes), desc=desc, sizes=sizes)
            address = self.config.address
            return gather_in_order((_result(ray, ref, address) for ref in waited), on_result)
        except RayTaskError as exc:  # the work itself raised: raise that, as the local executor does
            # no ray.cancel: the blocks already sent run to their end and their results are dropped. In
            # Ray a cancel racing with the task's completion fails a RAY_CHECK and aborts this process
            # (this project's CI hit it with Ray 2.60; ray-project/ray#54798 fixed one path of that race)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except (RayError, _ClusterLost) as exc:
            _disconnect()  # the next run connects afresh (a failed cluster's connection is of no use)
            what = str(exc) if isinstance(exc, _ClusterLost) else f"{type(exc).__name__}: {exc}"
            msg = (
                f"ray executor: {desc} failed on the Ray cluster at {self.config.address!r}: {what}; "
                "check the cluster (ray status) and run again"
            )
            raise RecframeError(msg) from exc

    def check(self) -> None:
        """Raise the error :meth:`map_blocks` would if nothing answers at ``address`` (a TCP connection, no Ray call).

        A fit calls it first, also when its data is small enough to need no executor at all. A
        process connected to this cluster already, or to Ray by the user's own ``ray.init``, is
        not checked, as :meth:`map_blocks` would not check it.
        """
        ray = sys.modules.get("ray")
        if ray is not None and ray.is_initialized() and _opened in (None, self.config.address):
            return  # connected to it already (or to the user's own ray.init, which map_blocks uses)
        _check_answers(self.config.address, self.config.connect_timeout_s)

    def close(self) -> None:
        """Disconnect from the cluster if this executor used a connection a ray executor opened.

        An executor that never connected (its cluster could not be reached) leaves another
        executor's connection alone.
        """
        if self._connected:
            self._connected = False
            _disconnect()


def _ray() -> ModuleType:
    """Import ray, or say which package to install."""
    try:
        import ray
    except ImportError as exc:
        msg = f"executor 'ray' needs the ray package, which failed to import ({exc}); pip install 'ray>=2.9'"
        raise ConfigError(msg) from exc
    return ray


_lock = threading.Lock()
_opened: str | None = None
"""The address this process connected to for a ray executor, or ``None`` (not connected by us)."""
_remote: list[Any] = []


def _connect(ray: ModuleType, address: str, timeout: float) -> None:
    """Connect this process to the cluster at `address`, once; check first that it answers at all.

    ``ray.init`` waits a long time for a head node that does not answer, so a plain TCP
    connection, bounded by `timeout`, tells first whether anything listens there.
    """
    global _opened
    with _lock:
        if ray.is_initialized() and (_opened is None or _opened == address):
            return  # our connection, or the user's own ray.init
        _check_answers(address, timeout)  # checked first: a connection to another cluster is kept then
        if ray.is_initialized():  # ours, to another cluster
            ray.shutdown()
            _opened = None
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            msg = f"executor.address: can't connect to the Ray cluster at {address!r}: {type(exc).__name__}: {exc}"
            raise ConfigError(msg) from exc
        _opened = address
        logger.info("connected to the Ray cluster at %s", address)


_HTTP2_START = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""An HTTP/2 client's first bytes: its connection preface, then an empty SETTINGS frame."""

_SETTINGS_FRAME = 0x04
"""The type of the frame an HTTP/2 server must send first (RFC 9113, 3.4)."""


def _check_answers(address: str, timeout: float) -> None:
    """Raise a ConfigError unless a gRPC server (a Ray head node's GCS) answers at `address` within `timeout`.

    A TCP connection alone is not enough: where another service listens (a wrong port),
    ``ray.init`` retries for many minutes whatever the timeout. The head node speaks gRPC, so
    HTTP/2: sent a client's preface, it answers with a SETTINGS frame at once. A cluster with
    TLS on (``RAY_USE_TLS``) gets the TCP check only.
    """
    host, port = _host_port(address)
    refused = _probe(host, port, timeout)
    if refused is not None:
        raise _unreachable(address, timeout, port, refused) from refused
    if os.environ.get("RAY_USE_TLS", "0").strip().lower() in ("1", "true"):
        return  # the head node speaks TLS then: a plain HTTP/2 start would be refused
    why = _not_grpc(host, port, timeout)
    if why is not None:
        msg = (
            f"executor.address: something listens at {address!r}, but not a Ray head node ({why}); "
            f"give the head node's address (ray start --head --port={port} prints it) or fix the port"
        )
        raise ConfigError(msg)


def _not_grpc(host: str, port: int, timeout: float) -> str | None:
    """Return why the server at ``host:port`` is not an HTTP/2 (gRPC) server, or ``None`` if it is."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            connection.sendall(_HTTP2_START)
            head = b""
            while len(head) < 9:  # a frame's header: length (3 bytes), type, flags, stream (4)
                chunk = connection.recv(9 - len(head))
                if not chunk:
                    return "it closed the connection"
                head += chunk
    except TimeoutError:
        return f"it did not answer in HTTP/2 within {timeout:g}s"
    except OSError as exc:
        return _reason(exc)
    return None if head[3] == _SETTINGS_FRAME else "it answered, but not in HTTP/2 (gRPC)"


def _warn_if_no_node_fits(ray: ModuleType, address: str, num_cpus: float) -> None:
    """Warn when no live node of the cluster has `num_cpus` CPUs: Ray then waits, silently, until one joins.

    A warning, not an error: an autoscaling cluster may add such a node.
    """
    try:
        nodes = [node for node in ray.nodes() if node.get("Alive")]
    except Exception as exc:  # a state query of Ray's failing says nothing about the blocks: they run or fail
        logger.debug("ray executor: could not list the cluster's nodes: %s", exc)
        return
    largest = max((float(node.get("Resources", {}).get("CPU", 0.0)) for node in nodes), default=0.0)
    if num_cpus > largest:
        logger.warning(
            "ray executor: each block asks for %g CPUs (executor.num_cpus), but the largest node of the Ray "
            "cluster at %s has %g; the blocks wait until a node that large joins (Ctrl-C to stop): lower "
            "num_cpus, or add such a node",
            num_cpus,
            address,
            largest,
        )


def _unreachable(address: str, timeout: float, port: int, refused: OSError) -> ConfigError:
    """Return the error of a cluster address nothing answers at."""
    return ConfigError(
        f"executor.address: can't reach the Ray cluster at {address!r} within {timeout:g}s "
        f"({_reason(refused)}); start its head node (ray start --head --port={port}) or fix the address"
    )


def _disconnect() -> None:
    """End the connection :func:`_connect` opened, if any (a connection of the user's own is kept)."""
    global _opened
    with _lock:
        if _opened is None:
            return
        import ray

        ray.shutdown()
        _opened = None


class _ClusterLost(Exception):
    """The head node stopped answering while blocks ran."""


_POLL_S = 1.0
"""Seconds between checks that the head node still answers while a block runs."""


def _result(ray: ModuleType, ref: Any, address: str) -> Any:
    """Wait for one block's result, checking every :data:`_POLL_S` seconds that the head node answers.

    When the head node dies, Ray retries the blocks it ran and waits for the lost head (for a
    minute, then ends the whole process), so a plain ``ray.get`` would hang; a refused TCP
    connection to the head's port says at once that the cluster is gone.
    """
    host, port = _host_port(address)
    while True:
        ready, _ = ray.wait([ref], timeout=_POLL_S)
        if ready:
            return ray.get(ref)
        refused = _probe(host, port, _POLL_S)
        if refused is not None:
            msg = f"the head node stopped answering while blocks ran ({_reason(refused)})"
            raise _ClusterLost(msg) from refused


def _probe(host: str, port: int, timeout: float) -> OSError | None:
    """Return why a TCP connection to ``host:port`` failed within `timeout` seconds, or ``None`` if one opened."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc


def _reason(refused: OSError) -> str:
    """Say in a few words why a connection failed."""
    return "no answer" if isinstance(refused, TimeoutError) else refused.strerror or str(refused)


def _host_port(address: str) -> tuple[str, int]:
    """Split a validated ``host:port``."""
    match = _ADDRESS.fullmatch(address)
    assert match is not None, "the config validated the address"
    return match["host"].strip("[]"), int(match["port"])


def _apply(function: Callable[[P, B], R], payload: P, block: B) -> R:
    """Run one block: what each Ray task does (the function travels by reference, the payload from the store)."""
    return function(payload, block)


def _remote_apply(ray: ModuleType) -> Any:
    """Return :func:`_apply` as a Ray remote function, made once (Ray exports it once per connection)."""
    with _lock:
        if not _remote:
            _remote.append(ray.remote(_apply))
        return _remote[0]


@hookimpl
def recframe_register_components() -> list[type[Executor]]:
    """Register the ``ray`` executor."""
    return [RayExecutor]


__all__ = ["RayExecutor", "RayExecutorConfig"]
