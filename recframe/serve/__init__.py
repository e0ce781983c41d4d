"""The HTTP service (the optional extra ``recframe[serve]``): a fitted model behind JSON endpoints.

- :mod:`~recframe.serve.model`: the served model and the holder that reloads it atomically;
- :mod:`~recframe.serve.requests`: request bodies, limits, and ids mapped to the model's types;
- :mod:`~recframe.serve.answers`: the queries behind the endpoints, shaped as JSON values;
- :mod:`~recframe.serve.errors`: JSON errors naming the field, the body-size cap, request ids;
- :mod:`~recframe.serve.app`: the FastAPI application (:func:`create_app`);
- :mod:`~recframe.serve.server`: running it with uvicorn (:func:`serve`).

Only :mod:`~recframe.serve.app` and :mod:`~recframe.serve.server` need FastAPI and uvicorn,
and they are imported on first use of :func:`create_app` or :func:`serve`; nothing outside
this package imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recframe.serve.model import ModelHolder, ServedModel, load_recommender, model_folder

if TYPE_CHECKING:
    from recframe.serve.app import create_app
    from recframe.serve.server import serve

__all__ = ["ModelHolder", "ServedModel", "create_app", "load_recommender", "model_folder", "serve"]


def __getattr__(name: str) -> Any:
    """Import :func:`create_app` and :func:`serve` (and so FastAPI) on first use."""
    if name == "create_app":
        from recframe.serve.app import create_app

        return create_app
    if name == "serve":
        from recframe.serve.server import serve

        return serve
    msg = f"module 'recframe.serve' has no attribute {name!r}"
    raise AttributeError(msg)
