"""How the service answers what went wrong: JSON errors naming the field, never a traceback.

Every error body is ``{"error": message, "field": name or null}`` (validation errors add
``"errors"``, one entry per problem). Malformed JSON is 400 (so is a body that is not UTF-8), a
body not sent as JSON 415, a wrong type or value 422, an unknown user or item 404, a body over
the size cap 413 (checked before it is parsed, by :class:`BodyLimit`) and so is a batch of
more ids than allowed, a call-time option the model can't apply 400, a query parameter the
endpoint does not take 422 (as an unknown field of a body is). Anything unexpected is 500 with
``"internal error"`` and a request id; the traceback is logged under that id, never sent. That
500 is an ordinary response (:class:`InternalErrors` answers it and does not re-raise), so the
server keeps the client's keep-alive connection open.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from recframe.errors import ConfigError, DataError, NotFittedError, RecframeError, short_repr

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from starlette.responses import Response

logger = logging.getLogger(__name__)

_UNION_TAGS = frozenset({"int", "str", "constrained-str"})
"""Where pydantic names the member of an ``int | str`` id that failed; not part of the field."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiError(Exception):
    """A request the service refuses, with its HTTP status and the field at fault.

    Parameters
    ----------
    status : int
        The HTTP status (4xx).
    message : str
        What is wrong, for people.
    field : str, optional
        The request field at fault (``"n"``, ``"users[3]"``, ``"path.user"``).
    """

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return the JSON body of an error response."""
    return {"error": message, "field": field, **extra}


def _json(status: int, body: dict[str, Any]) -> Response:
    from starlette.responses import Response

    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json")


def from_recframe(exc: RecframeError | TypeError | ValueError, field: str | None) -> ApiError:
    """Translate what a query method raised into the request error it means, or re-raise it.

    ``DataError`` is an unknown user or item (404); ``ConfigError`` is a query the model can't
    answer (400, e.g. ``predict`` on a ranker without ratings); ``NotFittedError`` is 503;
    ``TypeError`` and ``ValueError`` are argument errors (422). Any other ``RecframeError``
    (a ``PluginError``: a plugin that failed or broke its contract; a ``ResourceError``) is not
    the request's fault: it is raised again, so that :class:`InternalErrors` answers 500 with a
    request id and logs the traceback, rather than telling the client to change its request.

    Raises
    ------
    RecframeError
        `exc` itself, when the request is not at fault.
    """
    if isinstance(exc, NotFittedError):
        return ApiError(503, str(exc), None)
    if isinstance(exc, DataError):
        return ApiError(404, str(exc), field)
    if isinstance(exc, ConfigError):
        return ApiError(400, str(exc), field)
    if isinstance(exc, TypeError | ValueError):
        return ApiError(422, str(exc), field)
    raise exc


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """Name a validation error's location: ``n``, ``users[2]``, ``path.user``."""
    parts = list(loc)
    where = parts.pop(0) if parts and parts[0] in ("body", "query", "path") else "body"
    name = ""
    for part in parts:
        if isinstance(part, str) and part in _UNION_TAGS:  # which member of ``int | str`` failed
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    if where != "body":
        return f"{where}.{name}" if name else where
    return name or "body"


UNPARSED_BODY = "There was an error parsing the body"
"""FastAPI's message for a JSON body it could not read at all (not UTF-8, nested too deep)."""


def _is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON as FastAPI reads it: ``application/json`` or ``application/*+json``."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _not_an_object(problem: dict[str, Any]) -> bool:
    """Whether a validation problem says the whole body is not a JSON object."""
    return tuple(problem.get("loc", ())) == ("body",) and problem.get("type") in ("model_attributes_type", "dict_type")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of `app` as JSON naming the field, with no traceback."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        extra = {"errors": exc.details} if isinstance(exc, UnknownQueryError) else {}
        return _json(exc.status, error_body(exc.message, exc.field, **extra))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = list(exc.errors())
        if any(p.get("type") == "json_invalid" for p in problems):
            return _json(400, error_body("the body is not valid JSON", "body"))
        content_type = request.headers.get("content-type", "")
        if not _is_json(content_type) and any(_not_an_object(p) for p in problems):  # a form, say: not read as JSON
            got = f"got {content_type!r}" if content_type else "got none"
            message = f"the body must be JSON, sent with Content-Type: application/json ({got})"
            return _json(415, error_body(message, "body"))
        details: list[dict[str, str]] = []
        # a string id too long fails both kinds of id: say what is wrong with it, not that it is neither
        too_long = {_field(tuple(p.get("loc", ()))) for p in problems if p.get("type") == "string_too_long"}
        for problem in problems:
            loc = tuple(problem.get("loc", ()))
            message = str(problem.get("msg", ""))
            if any(part in _UNION_TAGS for part in loc if isinstance(part, str)):
                if problem.get("type") == "string_too_long":
                    limit = problem.get("ctx", {}).get("max_length")
                    message = f"ids are at most {limit} characters; got one of {len(problem.get('input', ''))}"
                elif _field(loc) in too_long:
                    continue
                elif isinstance(problem.get("input"), str):  # text the str member refused: not valid Unicode
                    message = (
                        f"an id is valid Unicode text; got {short_repr(problem.get('input'))}, which holds a lone "
                        "surrogate (a \\ud800-\\udfff escape without its pair)"
                    )
                else:
                    message = f"an id is a JSON integer or string; got {short_repr(problem.get('input'))}"
            detail = {"field": _field(loc), "message": message}
            if detail not in details:
                details.append(detail)
        first = details[0] if details else {"field": "body", "message": "invalid request"}
        status = 422
        for problem in problems:
            if problem.get("type") == "too_long" and isinstance(problem.get("input"), list):  # a batch over the cap
                status = 413
                first = {"field": _field(tuple(problem.get("loc", ()))), "message": str(problem.get("msg", ""))}
                break
        return _json(status, error_body(f"{first['field']}: {first['message']}", first["field"], errors=details))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 400 and exc.detail == UNPARSED_BODY:  # not UTF-8, nested too deep
            return _json(400, error_body("the body is not valid JSON", "body"))
        text = {404: "no such endpoint", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        response = _json(exc.status_code, error_body(text, None))
        response.headers.update(exc.headers or {})  # 405's Allow: the methods the endpoint takes (RFC 9110)
        return response

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)


class UnknownQueryError(ApiError):
    """Query parameters an endpoint refuses, not taken or given twice (422); ``details`` has one entry per parameter."""

    def __init__(self, details: list[dict[str, str]]) -> None:
        first = details[0]
        super().__init__(422, f"{first['field']}: {first['message']}", first["field"])
        self.details = details


class _Middleware:
    """An ASGI middleware: it wraps the application behind (`app`) and answers some requests itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app


class InternalErrors(_Middleware):
    """ASGI middleware answering an unexpected exception with 500 ``"internal error"`` and a request id.

    Starlette's own last-resort handler re-raises after answering, and uvicorn then drops the
    connection without ``Connection: close``, so a keep-alive client's next request on it fails.
    This answers the 500 as an ordinary response and returns, so the connection stays usable.
    The traceback is logged under the request id, never sent. An exception after the response
    has started can't be answered: it is re-raised (uvicorn closes the connection).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it raises before its response started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            request_id = uuid.uuid4().hex[:16]
            where = f"{scope.get('method', '')} {scope.get('path', '')}"
            logger.error("request %s (%s) failed", request_id, where, exc_info=exc)
            body = json.dumps(error_body("internal error", None, request_id=request_id)).encode()
            await _send_json(send, 500, body)


class BodyLimit:
    """ASGI middleware refusing a request body over `max_bytes` with 413, before anything parses it.

    A declared ``Content-Length`` over the cap is refused at once; a body sent without one
    (chunked) is read up to the cap and refused as soon as it passes it.

    Parameters
    ----------
    app : ASGI application
        The application behind.
    max_bytes : int
        The largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 413 if its body is too big."""
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._too_large(send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        repeated = _repeated_key(body)
        if repeated is not None:  # JSON keeps the last of a repeated key: {"user": 5, "user": 6} asked for 6
            text = f"the body's JSON gives the key {short_repr(repeated)} twice in one object; give it once"
            await _send_json(send, 422, json.dumps(error_body(text, repeated)).encode())
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}]), send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(error_body(f"the body is over {self.max_bytes:,} bytes", "body")).encode()
        await _send_json(send, 413, body)


class LineBreaksInPaths(_Middleware):
    r"""ASGI middleware refusing a URL path holding a line break with 422, before any route matches it.

    A route's ``{user:path}`` matches up to the end of the path, and the end matches before a
    final ``\n`` too: ``/recommend/u1%0A`` answered for ``u1``, and ``/recommend/a%0Ab`` was
    "no such endpoint". No id that needs a line break can go in a URL; a POST body takes it.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer 422 if its decoded path holds a line break."""
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if "\n" in path or "\r" in path:
            message = (
                "the URL's path holds a line break (%0A or %0D), which no id in a URL can hold; "
                "send the id in a POST body"
            )
            await _send_json(send, 422, json.dumps(error_body(message, "path")).encode())
            return
        await self.app(scope, receive, send)


class _Repeated(Exception):
    """A JSON object gave a key twice."""


def _repeated_key(body: bytes) -> str | None:
    """Return a key a JSON object of `body` gives twice, or ``None`` (also for a body that is not JSON)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
        return dict(items)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except _Repeated as repeated:
        return str(repeated.args[0])
    except (ValueError, RecursionError):  # not JSON (or nested too deep): the endpoint's parsing says so
        return None
    return None


async def _send_json(send: Send, status: int, body: bytes) -> None:
    """Send a whole JSON response from ASGI middleware."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message]) -> Receive:
    """Return a ``receive`` giving `messages`, then waiting for the client to disconnect."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return {"type": "http.disconnect"}

    return receive
