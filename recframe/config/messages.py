"""How run-file problems are worded: paths, values spelled as YAML, pydantic's and secrets' messages."""

from __future__ import annotations

import datetime
import difflib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from pydantic_core import ErrorDetails

from recframe.errors import SHOWN_CHARACTERS, short_repr, short_text
from recframe.secrets import redact, secret_kind

PathKey = tuple[str | int, ...]


def dotted(path: PathKey) -> str:
    """Render a path as ``ranker.fallback.type`` or ``evaluation.metrics[1]``, long keys shortened."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{short_text(part)}" if out else short_text(part))
    return out


def dotted_key(path: Sequence[str | int]) -> str:
    """Render a path the way ``--set`` writes it (``evaluation.metrics.0``), long keys shortened."""
    return ".".join(short_text(str(part)) for part in path)


class _Spelled:
    """A value shown in a message as its text, unquoted (``null``, ``true``)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _yaml_spelled(value: object, depth: int = 0) -> object:
    """Return `value` with Python's spellings replaced by YAML's, for :func:`yaml_repr`.

    Only what :func:`~recframe.errors.short_repr` shows is converted: the first entries of a
    few levels of lists and mappings.
    """
    if value is None:
        return _Spelled("null")
    if isinstance(value, bool):
        return _Spelled("true" if value else "false")
    if isinstance(value, float) and not math.isfinite(value):
        return _Spelled(".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf")
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime.date):  # a YAML date or timestamp, spelled as the file does
        return _Spelled(str(value))
    if depth >= 3:
        return value
    if isinstance(value, list | tuple):
        shown = [_yaml_spelled(item, depth + 1) for item in itertools.islice(value, 9)]
        return shown + [_Spelled("...")] * (len(value) > 9)
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str | int) else yaml_repr(key): _yaml_spelled(item, depth + 1)
            for key, item in itertools.islice(value.items(), 9)
        }
    return value


def key_text(key: object) -> str:
    """Return a mapping key of a run file as the file spells it (``null``, ``true``, ``1``)."""
    return key if isinstance(key, str) else yaml_repr(key)


def yaml_repr(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """Return a user's value for an error message as a run file spells it, shortened.

    :func:`~recframe.errors.short_repr`, with YAML's spellings: ``null``, ``true``/``false``,
    ``.inf``/``.nan``, a path as its text, a tuple as a list.

    Examples
    --------
    >>> yaml_repr(None), yaml_repr(True), yaml_repr([1, None, float("inf")])
    ('null', 'true', '[1, null, .inf]')
    """
    return short_repr(_yaml_spelled(value), limit)


_TYPE_WORDS: dict[str, str] = {
    "path_type": "Input should be a path (text)",
    "finite_number": "Input should be a finite number (not .inf or .nan)",
}
"""Pydantic's messages that name a Python type, in the words of a run file."""


_PYTHON_CLASS = re.compile(r"<class '(?:[\w.]*\.)?(\w+)'>")


_PYTHON_WORDS = {
    "None": "null", "True": "true", "False": "false", "NoneType": "null",
    "Path": "a path (text)", "PosixPath": "a path (text)", "PurePath": "a path (text)",
    "str": "text", "int": "an integer", "float": "a number", "bool": "true or false",
    "dict": "a mapping", "list": "a list", "tuple": "a list",
}


def pydantic_message(error: ErrorDetails) -> str:
    """Return what a pydantic error says is wrong, in the words of a run file, without the value.

    Python's names for types and values (``<class 'pathlib.Path'>``, ``None``, ``True``) become
    the run file's (``a path (text)``, ``null``, ``true``).
    """
    if error["type"] in _TYPE_WORDS:
        return _TYPE_WORDS[error["type"]]
    text = str(error["msg"])
    text = _PYTHON_CLASS.sub(lambda m: _PYTHON_WORDS.get(m.group(1), m.group(1)), text)
    text = re.sub(r"\b(None|True|False)\b", lambda m: _PYTHON_WORDS[m.group(1)], text)
    return short_text(text, 4 * SHOWN_CHARACTERS)


def _data_loc(loc: tuple[int | str, ...], raw: object, missing: bool = False) -> tuple[int | str, ...]:
    """Return pydantic's error location `loc` without its union-branch tags (``int``, ``literal['auto']``).

    A part of `loc` that is not a key (or list position) of the input `raw` at that level names
    the branch of a union that was tried; the run file has no such key, so it is left out
    (unless it is the last part of a `missing` key's location).
    """
    out: list[int | str] = []
    node = raw
    for i, part in enumerate(loc):
        in_list = isinstance(node, list | tuple) and isinstance(part, int) and 0 <= part < len(node)
        if in_list or (isinstance(node, Mapping) and part in node):
            node = node[part]  # type: ignore[index]
        elif missing and i == len(loc) - 1:
            pass
        elif out or not isinstance(part, str):  # a union branch's tag, not a key of the file
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def _validator_message(error: ErrorDetails) -> str:
    """Return a validator's own message; a value it ends with (``...; got None``) spelt as YAML."""
    text = str(error["msg"]).removeprefix("Value error, ")
    python = short_repr(error.get("input"))
    if text.endswith(f"got {python}"):
        text = text[: len(text) - len(python)] + yaml_repr(error.get("input"))
    return text


def _secret_message(error: ErrorDetails, field: tuple[int | str, ...]) -> str:
    """Say what is wrong with a secret field's value without showing it."""
    if error["type"] in ("value_error", "secret_value", "assertion_error"):  # a validator's own words
        return short_text(redact(str(error["msg"]).removeprefix("Value error, ")), 4 * SHOWN_CHARACTERS)
    if error["type"] == "missing":
        return "required, but missing"
    value = error.get("input")
    if isinstance(value, str):
        return "is not valid here (the value is not shown: it may hold a password)"
    what = " (a URL)" if str(field[-1]).lower().endswith(("url", "uri", "dsn")) else ""
    return f"must be a string{what}; got {secret_kind(value)}"


def _unknown_key_message(key: str, allowed: Sequence[str], what: str, owner: str = "") -> str:
    msg = f"unknown {what} {yaml_repr(key)}" + (f" for {owner}" if owner else "")
    close = difflib.get_close_matches(key, list(allowed), n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    return msg + (f" (allowed: {', '.join(allowed)})" if allowed else " (it takes no parameters)")
