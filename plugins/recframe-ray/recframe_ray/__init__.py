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
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field, NonNegativeInt, field_validator

from recframe import ConfigError, Executor, ExecutorConfig, RecframeError, gather_in_order, hookimpl, progress_bar
from recframe_ray.connection import (
    ADDRESS,
    check_answers,
    connect,
    disconnect,
    host_port,
    opened,
    probe,
    reason,
    running,
)
from recframe_ray.tasks import TaskContext, apply_in_context, log_again

if TYPE_CHECKING:
    from types import ModuleType

__version__ = "0.1.0"

P = TypeVar("P")
B = TypeVar("B")
R = TypeVar("R")

logger = logging.getLogger(__name__)


class RayExecutorConfig(ExecutorConfig):
    """Parameters of :class:`RayExecutor`."""

    address: str
    """``host:port`` of the running Ray cluster's head node (the GCS port of ``ray start --head
    --port=...``, 6379 by default). Nothing else is ever contacted: no cluster is started and
    none is looked for; a process already connected to Ray (``ray.init`` in your code) uses
    that connection instead."""
    num_cpus: float = Field(1.0, gt=0.0, le=1024.0)
    """CPUs each block's task reserves on its node: a node runs its CPUs divided by this many
    blocks at once (in steps of 0.0001, as Ray counts them)."""
    max_retries: NonNegativeInt = Field(3, le=10_000)
    """Times a block is run again when the worker running it dies (killed, out of memory, node
    lost); an error raised by the work itself is not retried, as it would fail again."""
    connect_timeout_s: float = Field(10.0, gt=0.0, le=3600.0)
    """Seconds to wait for the head node to answer before giving up with an error."""

    @field_validator("num_cpus")
    @classmethod
    def _ray_steps(cls, value: float) -> float:
        """Refuse what Ray would refuse only once blocks run: a fraction of a CPU finer than 0.0001."""
        if abs(value * 10_000 - round(value * 10_000)) > 1e-6:
            near = max(round(value, 4), 0.0001)
            msg = f"{value!r} is finer than Ray counts CPUs (steps of 0.0001); give, say, {near}"
            raise ValueError(msg)
        return value

    @field_validator("address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        """Accept ``host:port`` only: ``auto`` and ``local`` would find or start a cluster nobody named."""
        match = ADDRESS.fullmatch(value.strip())
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
        connect(ray, self.config.address, self.config.connect_timeout_s)
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
            context = TaskContext.of_driver()
            refs = [remote.remote(function, shared, block, context) for block in blocks]
            sizes = [len(block) if hasattr(block, "__len__") else 1 for block in blocks]
            waited = progress_bar(refs, total=sum(sizes), desc=desc, sizes=sizes)
            # the head is watched where this executor connected; the user's own ray.init is theirs to watch
            watched = self.config.address if opened() == self.config.address else None
            with running():
                return gather_in_order((_result(ray, ref, watched) for ref in waited), on_result)
        except RayTaskError as exc:  # the work itself raised: raise that, as the local executor does
            # no ray.cancel: the blocks already sent run to their end and their results are dropped. In
            # Ray a cancel racing with the task's completion fails a RAY_CHECK and aborts this process
            # (this project's CI hit it with Ray 2.60; ray-project/ray#54798 fixed one path of that race)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except (RayError, _ClusterLost) as exc:
            disconnect()  # the next run connects afresh (a failed cluster's connection is of no use)
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
        if ray is not None and ray.is_initialized() and opened() in (None, self.config.address):
            return  # connected to it already (or to the user's own ray.init, which map_blocks uses)
        check_answers(self.config.address, self.config.connect_timeout_s)

    def close(self) -> None:
        """Disconnect from the cluster if this executor used a connection a ray executor opened.

        An executor that never connected (its cluster could not be reached) leaves another
        executor's connection alone.
        """
        if self._connected:
            self._connected = False
            disconnect()


def _ray() -> ModuleType:
    """Import ray, or say which package to install."""
    try:
        import ray
    except ImportError as exc:
        msg = f"executor 'ray' needs the ray package, which failed to import ({exc}); pip install 'ray>=2.9'"
        raise ConfigError(msg) from exc
    return ray


_remote: list[Any] = []
"""The remote function of the tasks, made once per process."""
_remote_lock = threading.Lock()


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


class _ClusterLost(Exception):
    """The head node stopped answering while blocks ran."""


_POLL_S = 1.0
"""Seconds between checks that the head node still answers while a block runs."""


def _result(ray: ModuleType, ref: Any, address: str | None) -> Any:
    """Wait for one block's result and log what its task logged; check every :data:`_POLL_S` s that the head answers.

    When the head node dies, Ray retries the blocks it ran and waits for the lost head (for a
    minute, then ends the whole process), so a plain ``ray.get`` would hang; a refused TCP
    connection to the head's port says at once that the cluster is gone. `address` ``None``:
    a connection of the user's own, whose head is not known here, is not checked.
    """
    while True:
        ready, _ = ray.wait([ref], timeout=_POLL_S)
        if ready:
            result, records = ray.get(ref)
            log_again(records)
            return result
        if address is None:
            continue
        host, port = host_port(address)
        refused = probe(host, port, _POLL_S)
        if refused is not None:
            msg = f"the head node stopped answering while blocks ran ({reason(refused)})"
            raise _ClusterLost(msg) from refused


def _remote_apply(ray: ModuleType) -> Any:
    """Return :func:`~recframe_ray.tasks.apply_in_context` as a Ray remote function, made once per process."""
    with _remote_lock:
        if not _remote:
            _remote.append(ray.remote(apply_in_context))
        return _remote[0]


@hookimpl
def recframe_register_components() -> list[type[Executor]]:
    """Register the ``ray`` executor."""
    return [RayExecutor]


__all__ = ["RayExecutor", "RayExecutorConfig"]
