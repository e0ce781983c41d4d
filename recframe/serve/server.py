"""Running the service with uvicorn: one process, or several workers sharing one mapped model.

With ``workers=1`` the model is loaded once and the application object handed to uvicorn.
With more, uvicorn starts that many processes; each builds its application with
:func:`app_from_environment` and loads the model folder memory-mapped (``mmap=True``), so the
arrays' pages live once in the operating system's page cache, shared by all workers, rather
than once per worker.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from recframe.errors import ConfigError
from recframe.serve.model import ModelHolder, model_folder

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

MODEL_ENV = "RECFRAME_SERVE_MODEL"
"""The environment variable that tells each worker process which model folder to load."""


def app_from_environment() -> FastAPI:
    """Build a worker's application from the model folder named by ``RECFRAME_SERVE_MODEL``."""
    from recframe.serve.app import create_app

    return create_app(ModelHolder.from_path(os.environ[MODEL_ENV]))


def serve(
    path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    access_log: bool = False,
    log_level: str = "info",
) -> None:
    """Serve the model of a run or model folder over HTTP until interrupted.

    Parameters
    ----------
    path : str or Path
        A run folder (its ``model/`` is served) or a model folder written by ``Recommender.save``.
    host : str
        The address to bind; ``127.0.0.1`` by default. The service has no authentication.
    port : int
        The port to bind.
    workers : int
        Worker processes; each maps the same model files.
    access_log : bool
        Log every request (off by default: it costs throughput).
    log_level : str
        uvicorn's log level.

    Raises
    ------
    RecframeError
        If the model can't be loaded (checked once in this process before any worker starts).
    """
    import uvicorn

    from recframe.serve.app import create_app

    folder = model_folder(path)
    holder = ModelHolder.from_path(folder)  # fail here, once, rather than in every worker
    check_address(host, port)
    logger.info("serving %s on http://%s:%d with %d worker(s)", folder, host, port, workers)
    if workers == 1:
        uvicorn.run(create_app(holder), host=host, port=port, access_log=access_log, log_level=log_level)
        return
    del holder
    os.environ[MODEL_ENV] = str(folder.absolute())  # links kept: a reload reads what the path names then
    uvicorn.run(
        "recframe.serve.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level=log_level,
    )


def check_address(host: str, port: int) -> None:
    """Refuse an address the service can't listen on (in use, not this machine's, a port needing root).

    uvicorn reports it only by exiting with its own code 3, which ``recframe`` means as bad
    data, and no line naming the option; the socket is bound once here and closed (port 0: any
    free port, nothing to check).

    Raises
    ------
    ConfigError
        Naming ``--port`` or ``--host`` and the system's reason.
    """
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        msg = f"--host {host!r}: can't be resolved ({exc.strerror or exc}); give an address of this machine"
        raise ConfigError(msg) from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = f"--port {port}: {host}:{port} is already in use (another service listens there); give another"
            elif exc.errno == errno.EACCES:
                msg = f"--port {port}: binding it needs privileges this process lacks; give a port above 1023"
            else:
                msg = f"--host {host!r} --port {port}: can't listen there ({exc.strerror or exc})"
            raise ConfigError(msg) from exc
