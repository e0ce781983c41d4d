"""What the sources of tables share: the columns they read, how they are listed, how they convert.

Parquet, SQL, data frames and arrays read named columns and turn them into ids or numbers here;
CSV lists its header with :func:`columns_found` too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from recframe import (
    ConfigError,
    DataError,
    Interactions,
    as_id_array,
    numeric_column,
    short_repr,
    timestamp_column,
)

SHOWN_COLUMNS = 12
"""The most column names a message lists (a file may have thousands)."""


def named_columns(config: Any, found: list[str], message: Callable[[str], str]) -> dict[str, str]:
    """Return the column name of each role the source reads.

    ``rating`` and ``timestamp`` are read when set, or when a column has their own name; a
    missing column raises :class:`DataError` with ``message(the missing columns)``.
    """
    roles = {"user": config.user, "item": config.item}
    for role in ("rating", "timestamp"):
        chosen = getattr(config, role)
        if chosen is not None or (role in found and role not in roles.values()):
            roles[role] = chosen or role
    check_distinct(roles)
    missing = {role: name for role, name in roles.items() if name not in found}
    if missing:
        msg = message(", ".join(f"{short_repr(name)} (data.{role})" for role, name in missing.items()))
        raise DataError(msg)
    return roles


def shared_column(roles: Mapping[str, object], names: Sequence[object] | None = None) -> str | None:
    """Return a message when two roles read one column, else ``None``.

    `roles` maps each role (``user``, ``item``, ``rating``, ``timestamp``) to its column, a
    name or a position; `names`, when given, are the columns found, naming a position in the message.
    """
    seen: dict[object, str] = {}
    for role, column in roles.items():
        if column is None:
            continue
        if column in seen:
            shown = short_repr(column)
            if names is not None and isinstance(column, int) and 0 <= column < len(names):
                shown = f"{column} ({short_repr(names[column])})"
            return (
                f"data.{seen[column]} and data.{role} both read column {shown}; "
                "each role needs a column of its own"
            )
        seen[column] = role
    return None


def check_distinct(roles: Mapping[str, object], names: Sequence[object] | None = None) -> None:
    """Raise :class:`ConfigError` when two roles read one column (see :func:`shared_column`)."""
    message = shared_column(roles, names)
    if message is not None:
        raise ConfigError(message)


def columns_found(names: Sequence[object]) -> str:
    """Return the column names `names` for a message: the first :data:`SHOWN_COLUMNS`, each shortened.

    Examples
    --------
    >>> columns_found(["user", "item"])
    "['user', 'item']"
    >>> columns_found([f"c{i}" for i in range(50_000)])[-30:]
    "'c11', ... (50,000 columns)]"
    """
    shown = ", ".join(short_repr(name, 40) for name in list(names[:SHOWN_COLUMNS]))
    more = f", ... ({len(names):,} columns)" if len(names) > SHOWN_COLUMNS else ""
    return f"[{shown}{more}]"


def interactions_of(
    columns: dict[str, Any], roles: dict[str, str], where: str
) -> Interactions:
    """Return the columns read for each role as :class:`Interactions`, checking each one.

    Every conversion (ids to ``int64`` or text, ratings and timestamps to finite ``float64``)
    is checked here, so that an id beyond the int64 range, a fractional or bytes id, or a
    rating that is not a number is a :class:`DataError` naming `where` (the file, the query),
    the column and the setting, whatever the source.
    """
    converted: dict[str, Any] = {}
    for role, values in columns.items():
        what = f"{where}: column {short_repr(roles[role])} (data.{role})"
        if role in ("user", "item"):
            converted[role] = as_id_array(values, what)
        elif role == "timestamp":
            converted[role] = timestamp_column(what, values, len(values))
        else:
            converted[role] = numeric_column(what, values, len(np.asarray(values)))
    return Interactions(converted["user"], converted["item"], converted.get("rating"), converted.get("timestamp"))
