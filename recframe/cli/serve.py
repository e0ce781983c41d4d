"""``recframe serve``: the HTTP service of a saved model (needs the extra ``recframe[serve]``).

Without FastAPI and uvicorn installed the command exits with 2 (the command line asks for
something this installation can't do) and says ``pip install 'recframe[serve]'``; a model
folder that can't be loaded exits as its error says (3 for a broken or incompatible model).
"""

from __future__ import annotations

import argparse
import importlib.util

from recframe.cli.args import _bounded_int, _path_arg
from recframe.cli.common import EXIT_OK
from recframe.cli.query_output import check_model_folder
from recframe.cli.stopping import stop_by_default
from recframe.errors import ConfigError, path_repr

DESCRIPTION = (
    "Serve the model saved in RUN_OR_MODEL_DIR (a run folder's model/, or a folder written by "
    "Recommender.save) as JSON over HTTP: recommend, similar items and users, explain, predict, "
    "health, model metadata and reload, and update and forget (POST /update, /forget: the model "
    "changed without refitting, swapped in atomically; see docs/updating.md); the OpenAPI document is "
    "at /openapi.json. The service has "
    "no authentication: it binds to 127.0.0.1 by default; put it behind a proxy that authenticates "
    "before exposing it. Needs the serve extra: pip install 'recframe[serve]'."
)


def add_serve_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:  # type: ignore[type-arg]
    """Add the ``serve`` command to the subcommands `sub`."""
    serve = sub.add_parser(
        "serve", parents=[common], help="serve a saved model over HTTP (recframe[serve])", description=DESCRIPTION
    )
    serve.add_argument("model", type=_path_arg, metavar="RUN_OR_MODEL_DIR", help="a run folder or a model folder")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; there is no authentication)"
    )
    serve.add_argument("--port", type=_bounded_int(0, 65535), default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--workers",
        type=_bounded_int(1, 256),
        default=1,
        help="worker processes, each mapping the same model files (default 1)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request (costs throughput)")


def _serve(args: argparse.Namespace) -> int:
    missing = [name for name in ("fastapi", "uvicorn") if importlib.util.find_spec(name) is None]
    if missing:
        msg = f"recframe serve needs {' and '.join(missing)}; install them with: pip install 'recframe[serve]'"
        raise ConfigError(msg)
    check_model_folder(args.model, path_repr(args.model))
    from recframe.serve.server import serve

    level = "warning" if getattr(args, "quiet", False) else "debug" if getattr(args, "verbose", False) else "info"
    stop_by_default()  # the server stops gracefully on SIGTERM, then ends by it (143), as uvicorn does
    serve(args.model, host=args.host, port=args.port, workers=args.workers, access_log=args.access_log, log_level=level)
    return EXIT_OK
