"""Run-file values spelled as a run file spells them, in YAML's flow style.

How every swept value is shown: in ``sweep.md``, ``sweep.csv``, the report, log lines and the
messages naming a sweep's setting (this module is the config layer's, so that its messages and
the evaluation's tables spell a value alike).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import numpy as np
import yaml

from recframe.secrets import redact


def yaml_text(value: Any, limit: int | None = None) -> str:
    """Return a run-file value as a run file spells it, in YAML's flow style.

    How every swept value is shown (``sweep.md``, ``sweep.csv``, the report, the labels of
    settings in logs and messages): ``null``, ``true``/``false``, ``.inf``/``.nan``, a mapping
    as ``{type: synthetic, n_users: 40}``, a list as ``[3, 4]``, text unquoted where YAML
    reads it back as the same text (``item_cf``) and quoted where it would not (``'3'``,
    ``'null'``). Credentials in text are masked. With `limit`, the text is cut to about
    `limit` characters (ending in ``...``) and only as much of `value` is looked at, so a huge
    value costs little.

    Examples
    --------
    >>> yaml_text({"type": "synthetic", "n_users": 40}), yaml_text([None, True, "3"])
    ('{type: synthetic, n_users: 40}', "[null, true, '3']")
    """
    text = _flow(value, 0, limit)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 3, 1)] + "..."
    return text


_FLOW_DEPTH = 24
"""Nesting shown by :func:`yaml_text` before a value is cut to ``...``."""


def _flow(value: Any, depth: int, limit: int | None) -> str:
    """Return `value` in YAML flow style; with `limit`, about that much of it (see :func:`yaml_text`)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        return repr(value) if math.isfinite(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, date):  # YAML's timestamps (``2020-01-01``)
        return value.isoformat()
    if isinstance(value, set | frozenset):  # YAML's !!set, in a stable order
        value = sorted(value, key=repr)
    if isinstance(value, Mapping | list | tuple):
        if depth >= _FLOW_DEPTH or (limit is not None and depth > limit):
            return "..."
        entries: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
        if limit is not None:  # each entry takes at least 3 characters (`x, `): the rest is never shown
            entries = itertools.islice(entries, limit // 3 + 2)
        if isinstance(value, Mapping):
            pairs = (f"{_flow(k, depth + 1, limit)}: {_flow(v, depth + 1, limit)}" for k, v in entries)
            return "{" + ", ".join(pairs) + "}"
        return "[" + ", ".join(_flow(v, depth + 1, limit) for v in entries) + "]"
    return _flow_text(str(value), limit)


def _flow_text(text: str, limit: int | None) -> str:
    """Return text as a YAML flow scalar: plain if YAML reads it back as this text, else quoted."""
    # with a limit, cut (the caller cuts anyway) after masking a margin that keeps a URL's password and '@' together
    text = redact(text) if limit is None else redact(text[: limit + 1024])[: limit + 1]
    if not text.isprintable():  # line breaks, tabs, control characters: escaped in double quotes
        return json.dumps(text, ensure_ascii=False)
    dumped = yaml.safe_dump([text], default_flow_style=True, width=math.inf, allow_unicode=True).strip()
    return dumped[1:-1] if dumped.startswith("[") and dumped.endswith("]") else json.dumps(text, ensure_ascii=False)
