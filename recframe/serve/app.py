"""The HTTP endpoints: a FastAPI application answering from a :class:`ModelHolder`.

:func:`create_app` builds the application around a fitted recommender, a holder, or a model
folder. Query endpoints are plain ``def`` functions, which FastAPI runs in its threadpool: the
recommender is thread-safe, and a request computing a list does not stall the event loop for
the others. The exception is ``GET /recommend/{user}``, one user's list (a fraction of a
millisecond, on the compiled engine's serial few-rows path): it runs on the event loop, since
the hop to a pool thread and back cost more than the answer and, under 50 concurrent
clients, the threads' contention for the GIL made its tail latency (p99 117 ms in the
threadpool, measured by ``benchmarks/serve.py``). Each handler reads ``holder.current`` once,
so a reload never changes the model under a request. Responses are built as JSON bytes
directly (no response-model validation), the one per-request cost worth saving.
``POST /update`` and ``POST /forget`` change the model in the threadpool, one change (or reload)
at a time, through :meth:`ModelHolder.change <recframe.serve.model.ModelHolder.change>`, which
swaps in the changed model's metadata atomically as a reload does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import numpy as np
from fastapi import Body, Depends, FastAPI, Query
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from recframe._version import __version__
from recframe.errors import ConfigError, DataError, NotFittedError, PluginError, RecframeError, ResourceError
from recframe.recommender import Recommender
from recframe.serve import answers
from recframe.serve.errors import (
    ApiError,
    BodyLimit,
    InternalErrors,
    LineBreaksInPaths,
    UnknownQueryError,
    install_error_handlers,
)
from recframe.serve.model import Loader, ModelHolder, ServedModel, UnsavedChangeError
from recframe.serve.requests import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_N,
    ExplainBody,
    ForgetBody,
    PredictBody,
    RecommendBody,
    ReloadBody,
    SimilarItemsBody,
    SimilarUsersBody,
    UpdateBody,
    body_id,
    body_ids,
    text_id,
)

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Recommendations, similar items and users, explanations and rating predictions from a fitted
recframe model. **There is no authentication**: bind it to 127.0.0.1 (the default) and put it
behind a proxy that authenticates, if anything but the local machine must reach it.
"""

_N = Annotated[int | None, Query(ge=1, le=MAX_N, description="list length, 1 to 1000")]
_IDS = Annotated[list[str] | None, Query(max_length=MAX_BATCH)]


def _json(body: Any) -> Response:
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")


async def refuse_unknown_query(request: Request) -> None:
    """Refuse (422) query parameters the endpoint does not declare, or one value given twice, as a body's are.

    A dependency of every endpoint: ``/recommend/3?exclude_sen=true`` is told about its typo
    instead of getting a list that ignores it, and ``/predict?user=0&user=1&item=2`` that it
    names two users where it takes one (FastAPI would keep the last and drop the other).
    Parameters that take a list (``item``, ``exclude``, ``candidates``) are given once per value.

    Raises
    ------
    ApiError
        422 naming the first unknown or repeated parameter (``query.<name>``); ``errors`` lists them all.
    """
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    declared = _query_fields(dependant) if dependant is not None else {}
    given = [name for name, _ in request.query_params.multi_items()]
    unknown = [name for name in dict.fromkeys(given) if name not in declared]
    if unknown:
        takes = ", ".join(sorted(declared)) or "no query parameters"
        message = f"unknown query parameter (this endpoint takes: {takes})"
        raise UnknownQueryError([{"field": f"query.{name}", "message": message} for name in unknown])
    repeated = [name for name in dict.fromkeys(given) if not declared[name] and given.count(name) > 1]
    if repeated:
        message = "given more than once; this parameter takes one value"
        raise UnknownQueryError([{"field": f"query.{name}", "message": message} for name in repeated])


def _query_fields(dependant: Any) -> dict[str, bool]:
    """Return the query parameters of an endpoint's ``Dependant`` (and its dependencies): whether each is a list."""
    fields = {field.alias: _takes_list(field.field_info.annotation) for field in dependant.query_params}
    for sub in dependant.dependencies:
        fields |= _query_fields(sub)
    return fields


def _takes_list(annotation: Any) -> bool:
    """Whether a query parameter's type is a list (``list[str]``, ``list[str] | None``)."""
    if get_origin(annotation) is list:
        return True
    return any(get_origin(member) is list for member in get_args(annotation))


def _named_field(message: str, fields: tuple[str, ...]) -> str | None:
    """Return which of `fields` (``users``, ``ratings``...) a recframe error message is about, if any."""
    found = [(message.find(name[:-1]), name) for name in fields if name[:-1] in message]
    return min(found)[1] if found else None


class _Turns:
    """The :class:`asyncio.Lock` changes take turns on, of the event loop the app is served on.

    An asyncio lock belongs to one loop: an app served again on a new loop (a second server of
    the same app object, a test client opened twice) gets a lock of that loop rather than a
    ``RuntimeError``. Only the latest loop's lock is kept (a lock that was waited on holds its
    loop: one per loop would keep every closed loop alive). Two loops serving at once may then
    each take turns on their own lock; the holder's own lock still runs one change at a time.
    """

    def __init__(self) -> None:
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._lock: asyncio.Lock | None = None

    def lock(self) -> asyncio.Lock:
        """Return the lock of the running loop."""
        loop = asyncio.get_running_loop()
        lock = self._lock
        if lock is None or self._loop is None or self._loop() is not loop:
            lock = asyncio.Lock()
            self._loop, self._lock = weakref.ref(loop), lock
        return lock


def create_app(
    model: Recommender | ModelHolder | str | Path, *, loader: Loader | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    """Return the service's ASGI application.

    Parameters
    ----------
    model : Recommender, ModelHolder, str or Path
        A fitted recommender, a holder, or a run or model folder to load (memory-mapped).
    loader : callable, optional
        ``loader(folder) -> Recommender`` used by ``POST /reload`` (and to load `model` if it is
        a folder); :func:`~recframe.serve.model.load_recommender` by default.
    max_body_bytes : int
        Requests with a larger body get 413.

    Raises
    ------
    NotFittedError
        If `model` is a recommender that is not fitted.
    RecframeError
        If `model` is a folder that can't be loaded.
    """
    if isinstance(model, ModelHolder):
        holder = model
    elif isinstance(model, Recommender):
        holder = ModelHolder(ServedModel.of(model), loader)
    else:
        holder = ModelHolder.from_path(model, loader)
    started = time.monotonic()
    app = FastAPI(
        title="recframe",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(refuse_unknown_query)],
    )
    app.state.holder = holder
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(LineBreaksInPaths)
    app.add_middleware(InternalErrors)  # outermost of ours: a 500 is an ordinary response, the connection stays open

    def options(model: ServedModel, exclude: list[Any] | None, candidates: list[Any] | None, **rest: Any) -> Any:
        items = {"exclude": exclude, "candidates": candidates}
        given = {k: None if v is None else body_ids(v, model.item_str, k) for k, v in items.items()}
        return {**given, **rest}

    # changes and reloads run one at a time (the holder serialises them): those waiting their turn
    # wait here, on the event loop, not in threads of the pool every other request needs; with a
    # thread each, 40 updates waiting for the model folder's lock left no thread to answer anything
    changing = _Turns()

    # liveness and metadata answer on the event loop: never queued behind busy pool threads
    @app.get("/health", summary="liveness: the service answers and has a model")
    async def health() -> Response:
        current = holder.current
        return _json(
            {"status": "ok", "fingerprint": current.metadata["fingerprint"], "uptime_s": time.monotonic() - started}
        )

    @app.head("/health", include_in_schema=False)  # load balancers probe with HEAD: the same answer, no body
    async def health_head() -> Response:
        return await health()

    @app.get("/model", summary="the model's metadata: config, components, fingerprint, versions")
    async def model_info() -> Response:
        return _json(holder.current.metadata)

    @app.get("/recommend/{user:path}", summary="one user's top-n items")
    async def recommend_get(
        user: str,
        n: _N = None,
        exclude: _IDS = None,
        candidates: _IDS = None,
        exclude_seen: bool | None = None,
        fill_short: bool | None = None,
    ) -> Response:
        current = holder.current
        uid = text_id(user, current.user_str, "path.user")
        given = {
            name: None if values is None else [text_id(x, current.item_str, f"query.{name}") for x in values]
            for name, values in (("exclude", exclude), ("candidates", candidates))
        }
        opts = options(current, **given, exclude_seen=exclude_seen, fill_short=fill_short)
        return _json(answers.recommend(current, body_ids([uid], current.user_str, "user"), n, opts, "user")[0])

    @app.post("/recommend", summary="top-n items of one user ('user') or of a batch ('users')")
    def recommend_post(body: Annotated[RecommendBody, Body()]) -> Response:
        current = holder.current
        opts = options(
            current, body.exclude, body.candidates, exclude_seen=body.exclude_seen, fill_short=body.fill_short
        )
        if body.user is not None:
            users = body_ids([body_id(body.user, current.user_str, "user")], current.user_str, "user")
            return _json(answers.recommend(current, users, body.n, opts, "user")[0])
        assert body.users is not None
        users = body_ids(body.users, current.user_str, "users")
        return _json({"results": answers.recommend(current, users, body.n, opts, "users")})

    @app.get("/similar/items/{item:path}", summary="the items most similar to one item")
    def similar_item(item: str, n: Annotated[int, Query(ge=1, le=MAX_N)] = 10) -> Response:
        current = holder.current
        ids = body_ids([text_id(item, current.item_str, "path.item")], current.item_str, "item")
        return _json(answers.similar(current, "items", ids, n, "path.item")[0])

    @app.post("/similar/items", summary="the most similar items of each of a batch of items")
    def similar_items(body: SimilarItemsBody) -> Response:
        current = holder.current
        ids = body_ids(body.items, current.item_str, "items")
        return _json({"results": answers.similar(current, "items", ids, body.n, "items")})

    @app.get("/similar/users/{user:path}", summary="the users most similar to one user")
    def similar_user(user: str, n: Annotated[int, Query(ge=1, le=MAX_N)] = 10) -> Response:
        current = holder.current
        ids = body_ids([text_id(user, current.user_str, "path.user")], current.user_str, "user")
        return _json(answers.similar(current, "users", ids, n, "path.user")[0])

    @app.post("/similar/users", summary="the most similar users of each of a batch of users")
    def similar_users(body: SimilarUsersBody) -> Response:
        current = holder.current
        ids = body_ids(body.users, current.user_str, "users")
        return _json({"results": answers.similar(current, "users", ids, body.n, "users")})

    @app.get("/explain", summary="which neighbours add up to an item's score for a user")
    def explain_get(user: str, item: str) -> Response:
        current = holder.current
        return _json(
            answers.explain(
                current, text_id(user, current.user_str, "query.user"), text_id(item, current.item_str, "query.item")
            )
        )

    @app.post("/explain", summary="which neighbours add up to an item's score for a user")
    def explain_post(body: ExplainBody) -> Response:
        current = holder.current
        user = body_id(body.user, current.user_str, "user")
        return _json(answers.explain(current, user, body_id(body.item, current.item_str, "item")))

    @app.get("/predict", summary="one user's predicted ratings of items")
    def predict_get(user: str, item: Annotated[list[str], Query(max_length=MAX_BATCH)]) -> Response:
        current = holder.current
        uid = text_id(user, current.user_str, "query.user")
        items = [text_id(x, current.item_str, "query.item") for x in item]
        users = body_ids([uid] * len(items), current.user_str, "user")
        return _json({"predictions": answers.predict(current, users, body_ids(items, current.item_str, "item"))})

    @app.post("/predict", summary="predicted ratings of (user, item) pairs")
    def predict_post(body: PredictBody) -> Response:
        current = holder.current
        items = body_ids(body.items, current.item_str, "items")
        if body.user is not None:
            users = body_ids([body_id(body.user, current.user_str, "user")] * len(items), current.user_str, "user")
        else:
            assert body.users is not None
            users = body_ids(body.users, current.user_str, "users")
        return _json({"predictions": answers.predict(current, users, items)})

    @app.post("/reload", summary="load a model and swap it in atomically; requests in flight finish on the old one")
    async def reload(body: Annotated[ReloadBody | None, Body()] = None) -> Response:
        path = None if body is None else body.path
        try:
            async with changing.lock():
                served = await run_in_threadpool(holder.reload, path)
        except RecframeError as exc:
            raise ApiError(422, f"the model was not reloaded: {exc}", "path") from exc
        return _json({"status": "reloaded", "model": served.metadata})

    @app.post("/update", summary="add events to the model (as a refit on all of them would); swapped in atomically")
    async def update(body: UpdateBody) -> Response:
        def apply(current: ServedModel) -> None:
            events: dict[str, Any] = {
                "user": body_ids(body.users, current.user_str, "users"),
                "item": body_ids(body.items, current.item_str, "items"),
            }
            if body.ratings is not None:
                events["rating"] = np.asarray(body.ratings, dtype=np.float64)
            if body.timestamps is not None:
                events["timestamp"] = np.asarray(body.timestamps, dtype=np.float64)
            current.recommender.update(events)

        return await _change(apply, body.save, ("users", "items", "ratings", "timestamps"))

    @app.post("/forget", summary="remove users' and items' events from the model; swapped in atomically")
    async def forget(body: ForgetBody) -> Response:
        def apply(current: ServedModel) -> None:
            users = None if not body.users else body_ids(body.users, current.user_str, "users")
            items = None if not body.items else body_ids(body.items, current.item_str, "items")
            current.recommender.forget(users=users, items=items)

        return await _change(apply, body.save, ("users", "items"))

    async def _change(apply: Callable[[ServedModel], None], save: bool, fields: tuple[str, ...]) -> Response:
        """Apply an update or forget in the threadpool; answer its lineage entry and the new metadata."""
        try:
            async with changing.lock():
                served = await run_in_threadpool(holder.change, apply, save=save)
        except (DataError, ConfigError) as exc:  # bad events or ids; ConfigError: save without a folder
            field = "save" if isinstance(exc, ConfigError) else _named_field(str(exc), fields)
            raise ApiError(422, f"the model was not changed: {exc}", field) from exc
        except NotFittedError as exc:
            raise ApiError(503, str(exc)) from exc
        except UnsavedChangeError as exc:
            raise ApiError(500, str(exc)) from exc
        except ResourceError as exc:  # the machine's memory now, not the request: it may pass later
            logger.warning("a change was refused for its memory: %s", exc)
            raise ApiError(503, f"the model was not changed: {exc}") from exc
        except PluginError:
            raise  # a plugin's fault, not the request's: 500, its traceback logged under a request id
        except RecframeError as exc:  # a model saved without its training data can't be changed
            raise ApiError(409, f"the model was not changed: {exc}") from exc
        return _json({"status": "updated", "update": served.recommender.lineage[-1], "model": served.metadata})

    return app
