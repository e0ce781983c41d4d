"""Read and write the JSON files recframe keeps: one safe reader and one strict writer.

Everything recframe reads back of its own JSON (a run folder's ``manifest.json`` and
``run.json``, a sweep's kept ``result.json``) may have been edited, truncated or replaced by
something hostile, so it goes through :func:`read_json` (or :func:`parse_json` for text at
hand): bounded in size, any nesting depth (``[[[[...`` a hundred thousand deep) or encoding
problem becomes an error naming the file, and the top-level type is checked. What recframe
writes goes through :func:`write_json`, which refuses ``NaN`` and ``Infinity``: they are not
JSON, and other readers reject them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from recframe.errors import DataError, RecframeError, short_repr

MAX_JSON_BYTES = 1 << 30
"""The largest JSON file :func:`read_json` reads by default (1 GiB)."""

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number"}


def parse_json(text: str | bytes, *, what: str, expect: type | tuple[type, ...] | None = dict) -> Any:
    """Return the value of JSON `text`, checked to be of type `expect`.

    Parameters
    ----------
    text : str or bytes
        The document; bytes are decoded as UTF-8.
    what : str
        What the document is, for the message (``"manifest"``, ``"kept sweep result"``).
    expect : type or tuple of types, optional
        The type the top-level value must have (``dict`` by default); ``None`` accepts any.

    Raises
    ------
    ValueError
        If `text` is not UTF-8, not JSON, nested too deeply to read, or not of type `expect`;
        the message says which, with a shortened excerpt of the offending value.
    """
    try:
        value = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)  # recframe writes UTF-8
    except RecursionError:
        msg = f"{what} is nested too deeply to be read"
        raise ValueError(msg) from None
    except UnicodeDecodeError as exc:
        msg = f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ValueError(msg) from None
    except ValueError as exc:  # json.JSONDecodeError, an integer too long to convert
        msg = f"{what} is not valid JSON ({short_repr(str(exc))[1:-1]})"
        raise ValueError(msg) from None
    wrong_bool = isinstance(value, bool) and expect is not None and bool not in _types(expect)
    if expect is not None and (not isinstance(value, expect) or wrong_bool):
        wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in _types(expect))
        msg = f"{what} holds {short_repr(value)}; expected {wanted}"
        raise ValueError(msg)
    return value


def _types(expect: type | tuple[type, ...]) -> tuple[type, ...]:
    return expect if isinstance(expect, tuple) else (expect,)


def read_json(
    path: Path,
    *,
    what: str,
    expect: type | tuple[type, ...] | None = dict,
    max_bytes: int = MAX_JSON_BYTES,
    error: type[RecframeError] = DataError,
    hint: str = "",
) -> Any:
    """Read the JSON file `path`, refusing anything recframe could not have written.

    Parameters
    ----------
    path : Path
        The file.
    what : str
        What the file is, for the message (``"manifest"``, ``"run.json"``).
    expect : type or tuple of types, optional
        The type the top-level value must have (``dict`` by default); ``None`` accepts any.
    max_bytes : int
        The largest file read; a larger one is refused without reading it.
    error : subclass of RecframeError
        The error raised (``DataError`` by default, exit code 3 on the command line).
    hint : str
        What the user can do, appended after ``;``.

    Returns
    -------
    object
        The parsed value, of type `expect`.

    Raises
    ------
    RecframeError
        Of class `error`, naming `path` and the problem: it can't be read, is larger than
        `max_bytes`, is not UTF-8 JSON, is nested too deeply, or is not of type `expect`.

    Examples
    --------
    >>> read_json(Path("runs/quickstart/run.json"), what="run.json")  # doctest: +SKIP
    {'name': 'quickstart', ...}
    """
    suffix = f"; {hint}" if hint else ""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        msg = f"{path}: can't read the {what}: {exc.strerror or exc}{suffix}"
        raise error(msg) from exc
    if len(data) > max_bytes:
        msg = f"{path}: the {what} is larger than {max_bytes:,} bytes, more than recframe writes{suffix}"
        raise error(msg)
    try:
        return parse_json(data, what=f"the {what}", expect=expect)
    except ValueError as exc:
        msg = f"{path}: {exc}{suffix}"
        raise error(msg) from exc


def write_json(data: object, *, what: str = "JSON file") -> str:
    """Return `data` as indented JSON text ending in a newline, refusing non-finite numbers.

    Raises
    ------
    ValueError
        If `data` holds ``NaN`` or an infinity (the message gives its place, e.g.
        ``metrics.ndcg@10``), or a value JSON can't represent.
    """
    try:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError:
        place = _non_finite(data, "")
        where = f" at {place}" if place else ""
        msg = f"{what}: can't write a non-finite number{where} (NaN and infinities are not JSON)"
        raise ValueError(msg) from None


def _non_finite(data: object, place: str) -> str | None:
    """Return the dotted place of the first non-finite float in `data`, or ``None``."""
    if isinstance(data, float):
        return None if math.isfinite(data) else place or "the top level"
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list | tuple):
        items = ((f"[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for key, value in items:
        text = str(key)
        found = _non_finite(value, f"{place}{text}" if text.startswith("[") or not place else f"{place}.{text}")
        if found is not None:
            return found
    return None
