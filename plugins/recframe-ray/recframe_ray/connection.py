"""The connection of a process to a Ray cluster: opened once, checked before, watched while it lasts.

``ray.init`` waits a long time for a head node that does not answer (and many minutes where
another service listens), so the address is checked first with plain sockets. It also changes
the process: it clears the handlers of the ``ray`` logger (with ``configure_logging=False``) and
installs a SIGTERM handler that turns a termination into a ``SystemExit`` inside whatever runs;
both are put back as they were. And while connected, Ray ends the whole process a minute after
the head node stops answering, even a process that only answers queries from a fitted model:
a watcher thread disconnects first (:func:`watch_head`), so the next run connects afresh or
says the cluster is gone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from recframe import ConfigError

if TYPE_CHECKING:
    from types import ModuleType

logger = logging.getLogger("recframe_ray")

ADDRESS = re.compile(r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})")
"""``host:port``, the host a name, an IPv4 address or a bracketed IPv6 address."""

WATCH_S = 5.0
"""Seconds between the watcher's checks that the head node answers while no block runs."""

WATCH_MISSES = 3
"""Checks in a row the head node must miss before the watcher disconnects (Ray ends the process
after 60 s without it; a head restarting within 15 s keeps the connection)."""

_lock = threading.Lock()
_opened: str | None = None
"""The address this process connected to for a ray executor, or ``None`` (not connected by us)."""
_running = 0
"""How many ``map_blocks`` wait for blocks now (they watch the head themselves)."""
_stop_watch: threading.Event | None = None


def opened() -> str | None:
    """Return the address a ray executor connected this process to, or ``None`` (none, or the user's own)."""
    return _opened


def connect(ray: ModuleType, address: str, timeout: float) -> None:
    """Connect this process to the cluster at `address`, once; check first that it answers at all.

    A connection of the user's own (``ray.init`` in their code) is used as it is.

    Raises
    ------
    ConfigError
        If nothing (or not a Ray head node) answers at `address` within `timeout`, or
        ``ray.init`` fails.
    """
    global _opened, _stop_watch
    with _lock:
        if ray.is_initialized() and (_opened is None or _opened == address):
            return  # our connection, or the user's own ray.init
        check_answers(address, timeout)  # checked first: a connection to another cluster is kept then
        if ray.is_initialized():  # ours, to another cluster
            _end(ray)
        try:
            with _process_kept():
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
        except Exception as exc:  # ray raises ConnectionError, RuntimeError, ValueError...
            msg = f"executor.address: can't connect to the Ray cluster at {address!r}: {type(exc).__name__}: {exc}"
            raise ConfigError(msg) from exc
        _opened = address
        if _stop_watch is not None:  # a watcher of a connection ended without disconnect() (ray.shutdown())
            _stop_watch.set()
        _stop_watch = threading.Event()
        threading.Thread(
            target=watch_head, args=(ray, address, _stop_watch), name="recframe-ray-watch", daemon=True
        ).start()
        logger.info("connected to the Ray cluster at %s", address)


def disconnect() -> None:
    """End the connection :func:`connect` opened, if any (a connection of the user's own is kept)."""
    with _lock:
        if _opened is None:
            return
        import ray

        _end(ray)


def _end(ray: ModuleType) -> None:
    """Stop the watcher and shut Ray down in this process (the lock held)."""
    global _opened, _stop_watch
    if _stop_watch is not None:
        _stop_watch.set()
        _stop_watch = None
    ray.shutdown()
    _opened = None


@contextlib.contextmanager
def running() -> Iterator[None]:
    """Mark a ``map_blocks`` waiting for its blocks: it checks the head itself, the watcher leaves it be."""
    global _running
    with _lock:
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1


def watch_head(ray: ModuleType, address: str, stop: threading.Event) -> None:
    """Disconnect when the head node at `address` missed :data:`WATCH_MISSES` checks in a row and no block runs."""
    host, port = host_port(address)
    misses = 0
    while not stop.wait(WATCH_S):
        misses = misses + 1 if probe(host, port, WATCH_S) is not None else 0
        if misses < WATCH_MISSES:
            continue
        with _lock:
            if stop.is_set() or _opened != address:
                return
            if _running:
                continue  # map_blocks notices it and disconnects, with its error
            _end(ray)
        logger.warning(
            "ray executor: the head node at %s stopped answering; disconnected from the cluster before Ray ends "
            "this process (the next run connects afresh)",
            address,
        )
        return


@contextlib.contextmanager
def _process_kept() -> Iterator[None]:
    """Put back what ``ray.init`` changes in the process: the ``ray`` logger's handlers, the SIGTERM handler."""
    ray_logger = logging.getLogger("ray")
    handlers, propagate, level = list(ray_logger.handlers), ray_logger.propagate, ray_logger.level
    main = threading.current_thread() is threading.main_thread()
    on_term = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        ray_logger.handlers[:] = handlers
        ray_logger.propagate, ray_logger.level = propagate, level
        if on_term is not None:  # None: a handler not set from Python, which can't be put back
            signal.signal(signal.SIGTERM, on_term)


_HTTP2_START = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""An HTTP/2 client's first bytes: its connection preface, then an empty SETTINGS frame."""

_SETTINGS_FRAME = 0x04
"""The type of the frame an HTTP/2 server must send first (RFC 9113, 3.4)."""


def check_answers(address: str, timeout: float) -> None:
    """Raise a ConfigError unless a gRPC server (a Ray head node's GCS) answers at `address` within `timeout`.

    A TCP connection alone is not enough: where another service listens (a wrong port),
    ``ray.init`` retries for many minutes whatever the timeout. The head node speaks gRPC, so
    HTTP/2: sent a client's preface, it answers with a SETTINGS frame at once. A cluster with
    TLS on (``RAY_USE_TLS``) gets the TCP check only.
    """
    host, port = host_port(address)
    refused = probe(host, port, timeout)
    if refused is not None:
        msg = (
            f"executor.address: can't reach the Ray cluster at {address!r} within {timeout:g}s "
            f"({reason(refused)}); start its head node (ray start --head --port={port}) or fix the address"
        )
        raise ConfigError(msg) from refused
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
        return reason(exc)
    return None if head[3] == _SETTINGS_FRAME else "it answered, but not in HTTP/2 (gRPC)"


def probe(host: str, port: int, timeout: float) -> OSError | None:
    """Return why a TCP connection to ``host:port`` failed within `timeout` seconds, or ``None`` if one opened."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc


def reason(refused: OSError) -> str:
    """Say in a few words why a connection failed."""
    return "no answer" if isinstance(refused, TimeoutError) else refused.strerror or str(refused)


def host_port(address: str) -> tuple[str, int]:
    """Split a validated ``host:port``."""
    match = ADDRESS.fullmatch(address)
    assert match is not None, "the config validated the address"
    return match["host"].strip("[]"), int(match["port"])
