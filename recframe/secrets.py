"""Config values that hold credentials: kept whole for use, masked wherever they are shown or written.

A database URL such as ``postgresql://reader:hunter2@db/ratings`` is needed whole to connect,
but must never reach ``config.yaml``, ``run.json``, ``report.html``, a log line or an error
message. A config field typed :class:`Secret` holds the real text (``reveal()``) while every
way of showing it - ``str``, ``repr``, ``model_dump(mode="json")`` (hence every file a run
writes) - gives :func:`redact`'s masked form. ``model_dump()`` in Python mode returns the
:class:`Secret` itself, so a config still round-trips without its password being printed.
"""

from __future__ import annotations

import re
import typing
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

MASK = "***"
"""What a password, token or signature is replaced with."""

HARMLESS_QUERY_PARAMETERS = frozenset({
    "alt", "application_name", "branch", "cache", "charset", "client_encoding", "connect_timeout", "dbname",
    "dl", "download", "encoding", "format", "immutable", "mode", "nolock", "raw", "ref", "revision", "sslmode",
    "target_session_attrs", "user", "version", "vfs",
})
"""Query parameters of a URL whose values :func:`redact` shows; every other value is masked.

A URL can carry a credential under any name (``sig``, ``X-Amz-Signature``, ``X-Goog-Credential``,
an Azure SAS ``sig``/``se``/``skoid``, a vendor's ``key``), so the list names what is known to
be harmless (connection settings and download switches) rather than guessing what is secret."""

_DATABASE_SCHEMES = frozenset({"postgresql", "postgres", "mysql", "mariadb", "sqlite", "mongodb", "redis"})
"""Schemes whose bare user name (``postgresql://reader@db``) is a role, shown; elsewhere it may be a token."""

_URL = re.compile(r"\b(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>[^\s'\"<>`]*)")
"""A URL in free text: up to a space or a quote, so one inside a message or a repr is found."""
_TRAILING = ".,:;)]}!"
"""Punctuation ending a sentence around a URL, kept outside the part that is masked."""
_SECRET_KEY = r"(?:[\w.-]*(?:pass|pwd|secret|token|key|auth(?!or)|credential|signature)[\w.-]*|sig)"
_KEY_VALUE = re.compile(
    rf"(?i)(?P<key>(?<![\w.-]){_SECRET_KEY})(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^&;\s]*)"
)
"""``password=...`` in a libpq ``key=value`` DSN or other text outside a URL (quoted values too)."""


def redact(text: str) -> str:
    """Return `text` with the credentials of the URLs and ``key=value`` settings in it masked.

    In each URL (``scheme://...``) in `text`:

    - the password of the user information is masked, everything up to the *last* ``@`` (so an
      unencoded ``@``, ``/``, ``?`` or ``#`` in a password is covered): ``user:***@host``; a
      user name alone is masked too (it can be a token, ``https://***@host``), except for
      database schemes where it names a role (``postgresql://reader@db``);
    - the value of every query parameter is masked except those in
      :data:`HARMLESS_QUERY_PARAMETERS` (``sslmode``, ``user``, ``cache``, ...): presigned-URL
      signatures, SAS tokens and API keys are covered whatever they are called;
    - the fragment is masked (``#access_token=...`` becomes ``#***``).

    Outside URLs, ``password=pw`` (also ``sslpassword``, ``passwd``, ``pwd`` and keys naming a
    secret, token, key or signature) in a libpq ``key=value`` string becomes ``password=***``.
    Masking more than needed is preferred to leaking; redacting twice changes nothing.

    Examples
    --------
    >>> redact("postgresql://reader:hunter2@db:5432/ratings?sslmode=require")
    'postgresql://reader:***@db:5432/ratings?sslmode=require'
    >>> redact("https://bucket.example/x.zip?X-Amz-Signature=abc&dl=1#token=x")
    'https://bucket.example/x.zip?X-Amz-Signature=***&dl=1#***'
    >>> redact("host=db user=reader password='hunter 2'")
    'host=db user=reader password=***'
    """
    parts, start = [], 0
    for match in _URL.finditer(text):  # key=value settings between the URLs; each URL on its own
        parts += [_redact_settings(text[start : match.start()]), _redact_url(match)]
        start = match.end()
    return "".join([*parts, _redact_settings(text[start:])])


def _redact_settings(text: str) -> str:
    return _KEY_VALUE.sub(_redact_setting, text)


def _redact_setting(match: re.Match[str]) -> str:
    if re.fullmatch(r"[A-Z_]+", match["key"]) and re.fullmatch(r"[A-Z_]+", match["value"]):
        return match[0]  # a placeholder in prose (``expected KEY=VALUE``), not a setting
    return f"{match['key']}{match['eq']}{MASK}"


def _redact_url(match: re.Match[str]) -> str:
    scheme, rest = match["scheme"], match["rest"]
    kept = len(rest) - len(rest.rstrip(_TRAILING))
    rest, tail = (rest[:-kept], rest[-kept:]) if kept else (rest, "")
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        if colon and not any(c in user for c in "/?#"):
            rest = f"{user}:{MASK}{rest[at:]}"  # user:password@ (the password may hold @ / ? #)
        elif not colon and not any(c in rest[:at] for c in "/?#") and scheme.lower() not in _DATABASE_SCHEMES:
            rest = f"{MASK}{rest[at:]}"  # a bare user name of a web URL: often a token
    rest, hash_, fragment = rest.partition("#")
    head, question, query = rest.partition("?")
    if question:
        query = "&".join(_redact_parameter(p) for p in query.split("&"))
    return f"{scheme}://{head}{question}{query}{hash_}{MASK if fragment else ''}{tail}"


def _redact_parameter(parameter: str) -> str:
    key, equals, value = parameter.partition("=")
    if not equals:
        return MASK if key else key  # a bare value (``?abc123``) can be a token
    name = urllib.parse.unquote_plus(key).strip().lower()
    return parameter if name in HARMLESS_QUERY_PARAMETERS or not value else f"{key}={MASK}"


def userinfo_problem(url: str) -> str | None:
    """Return why `url`'s user information can't be read safely, or ``None`` if it can.

    A password holding an unencoded ``@``, ``/``, ``?`` or ``#`` (``postgresql://bob:S3c@ret@db/x``)
    is cut there by database drivers and URL parsers, which then report the rest of the password
    as the host name (or port) in their error messages. Such a URL is refused before anything
    connects; :class:`Secret` fields do so when a config is validated.

    Examples
    --------
    >>> userinfo_problem("postgresql://bob:S3c%40ret@db/x") is None
    True
    >>> userinfo_problem("postgresql://bob:S3c@ret@db/x")  # doctest: +ELLIPSIS
    "the user name or password holds an unencoded '@', ...; encode it (@ as %40, / as %2F, ? as %3F, # as %23)"
    """
    scheme, sep, rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return None
    at = rest.rfind("@")
    user, colon, password = rest[: max(at, 0)].partition(":")
    if at < 0 or any(c in user for c in "/?#@"):
        return None  # no user information (an @ in a path or query)
    if not colon:
        password = user  # a user name alone
    elif scheme.lower() not in _DATABASE_SCHEMES and password.partition("/")[0].isdigit():
        return None  # host:port/path@...: a web address with an @ in its path
    odd = [c for c in "@/?#" if c in password]
    if not odd:
        return None
    return (
        f"the user name or password holds an unencoded {odd[0]!r}, which cuts the URL short there; "
        "encode it (@ as %40, / as %2F, ? as %3F, # as %23)"
    )


class Secret:
    """A config value holding a credential: whole for :meth:`reveal`, masked everywhere else.

    Use it as the type of a :class:`~recframe.ComponentConfig` field (``url: Secret``). It
    validates from a string; ``str()``, ``repr()``, f-strings and JSON/YAML dumps of the config
    show :func:`redact`'s masked text of a URL or ``key=value`` DSN, and ``***`` for any other
    text (a bare token or password), so no writer of configs can leak the password. Validation
    errors never show the input, and a URL whose password holds an unencoded ``@``, ``/``,
    ``?`` or ``#`` is refused (:func:`userinfo_problem`).

    Parameters
    ----------
    value : str
        The full text, password included.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            msg = f"Secret holds a str; got {type(value).__name__}"
            raise TypeError(msg)
        self._value = value

    def reveal(self) -> str:
        """Return the full text, password included: only for the code that connects."""
        return self._value

    def __str__(self) -> str:
        if "://" in self._value or "=" in self._value:  # a URL or a key=value DSN: only its credentials
            return redact(self._value)
        return MASK if self._value else ""  # a bare token or password: all of it

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._value,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[Any], handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(_dump, info_arg=True),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string"}


SECRET_NAME = re.compile(
    r"(?:^|_)(?:password|passwd|passphrase|pwd|secret|token|api_?key|access_?key|private_?key|secret_?key"
    r"|credentials?|auth_?token|signature)(?:$|_)"
)
"""Field names that suggest a credential (``password``, ``api_key``, ``client_secret``, ``auth_token``), matched
on the snake_case spelling of the name (``apiKey`` is ``api_key``)."""


def is_secret_name(name: str) -> bool:
    """Whether a config field called `name` is taken to hold a credential (:data:`SECRET_NAME`).

    A plain ``str`` field so named is masked in every dump like a :class:`Secret` field: a
    safety net for plugin authors who did not type it :class:`Secret`.

    Examples
    --------
    >>> is_secret_name("api_key"), is_secret_name("apiKey"), is_secret_name("max_tokens")
    (True, True, False)
    """
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").lower()
    return SECRET_NAME.search(snake) is not None


def mask_secret_names(data: dict[str, Any]) -> dict[str, Any]:
    """Return a dumped config with the text of every field named like a credential masked (:func:`is_secret_name`).

    Text that is a URL or ``key=value`` DSN keeps what :func:`redact` shows; any other text
    becomes ``***``, as a :class:`Secret` is shown.
    """
    return {
        key: str(Secret(value)) if isinstance(key, str) and isinstance(value, str) and is_secret_name(key) else value
        for key, value in data.items()
    }


def is_secret_path(model: type[BaseModel], loc: Sequence[int | str]) -> bool:
    """Whether the field at `loc` (a pydantic error location) in `model` holds a credential.

    That is a field typed :class:`Secret` or named like one (:func:`is_secret_name`). The field
    counts if its annotation mentions ``Secret`` anywhere (``Secret | None``,
    ``list[Secret]``); nested models are followed. Error messages never show the input of such
    a field, whatever the error.
    """
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            return False
        annotation = fields[part].annotation
        if _mentions_secret(annotation) or is_secret_name(part):
            return True
        models = [a for a in _walk(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not models:
            return False
        model = models[0]
    return False


def _walk(annotation: object, depth: int = 0) -> Iterator[object]:
    yield annotation
    if depth < 8:
        for argument in typing.get_args(annotation):
            yield from _walk(argument, depth + 1)


def _mentions_secret(annotation: object) -> bool:
    return any(isinstance(a, type) and issubclass(a, Secret) for a in _walk(annotation))


def secret_kind(value: object) -> str:
    """Name the kind of a value given where a string was expected, without showing the value.

    Examples
    --------
    >>> secret_kind(["postgresql://bob:pw@db/x"])
    'a list'
    """
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return f"a {type(value).__name__}"


def _validate(value: object) -> Secret:
    """Validate a :class:`Secret` field: one error, never echoing the value (pydantic adds the input)."""
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        error, msg = "secret_type", "must be a string; got {kind}"
        raise PydanticCustomError(error, msg, {"kind": secret_kind(value)})
    problem = userinfo_problem(value)
    if problem is not None:
        error = "secret_value"
        raise PydanticCustomError(error, problem)
    return Secret(value)


def _dump(value: Secret, info: core_schema.SerializationInfo) -> Secret | str:
    """Serialise a secret: masked text for JSON (and so YAML); the object itself in Python mode."""
    return str(value) if info.mode_is_json() else value
