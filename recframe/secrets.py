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
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

MASK = "***"
"""What a password is replaced with."""

_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^\s]*@")
"""``scheme://user:password@``: greedy up to the last ``@``, so an unescaped ``@`` in a password is covered."""
_SECRET_KEY = r"[\w.-]*(?:pass|pwd|secret|token|key|auth|credential)[\w.-]*"
_KEY_VALUE = re.compile(
    rf"(?i)(?P<key>(?<![\w.-]){_SECRET_KEY})(?P<eq>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^&;\s]*)"
)
"""``password=...`` in a URL query or a ``key=value`` DSN (quoted values too)."""


def redact(text: str) -> str:
    """Return `text` with the passwords of the URLs and ``key=value`` settings in it masked.

    ``postgresql://user:pw@host/db`` becomes ``postgresql://user:***@host/db``; ``password=pw``
    (also ``sslpassword``, ``passwd``, ``pwd``, and keys naming a secret, token or key) in a URL
    query or a libpq ``key=value`` string becomes ``password=***``. Masking more than needed is
    preferred to leaking.

    Examples
    --------
    >>> redact("postgresql://reader:hunter2@db:5432/ratings?sslmode=require")
    'postgresql://reader:***@db:5432/ratings?sslmode=require'
    >>> redact("host=db user=reader password='hunter 2'")
    'host=db user=reader password=***'
    """
    text = _USERINFO.sub(rf"\g<head>:{MASK}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m['key']}{m['eq']}{MASK}", text)


class Secret:
    """A config value holding a credential: whole for :meth:`reveal`, masked everywhere else.

    Use it as the type of a :class:`~recframe.ComponentConfig` field (``url: Secret``). It
    validates from a string; ``str()``, ``repr()``, f-strings and JSON/YAML dumps of the config
    show :func:`redact`'s masked text, so no writer of configs can leak the password.

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
        return redact(self._value)

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
        from_text = core_schema.no_info_after_validator_function(cls, core_schema.str_schema())
        return core_schema.json_or_python_schema(
            json_schema=from_text,
            python_schema=core_schema.union_schema([core_schema.is_instance_schema(cls), from_text]),
            serialization=core_schema.plain_serializer_function_ser_schema(_dump, info_arg=True),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string"}


def _dump(value: Secret, info: core_schema.SerializationInfo) -> Secret | str:
    """Serialise a secret: masked text for JSON (and so YAML); the object itself in Python mode."""
    return str(value) if info.mode_is_json() else value
