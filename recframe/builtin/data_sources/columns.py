"""Which named columns a source reads: shared by the sources of tables (Parquet, SQL, data frames)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recframe import DataError


def named_columns(config: Any, found: list[str], message: Callable[[str], str]) -> dict[str, str]:
    """Return the column name of each role the source reads.

    ``rating`` and ``timestamp`` are read when set, or when a column has their own name; a
    missing column raises :class:`DataError` with ``message(the missing columns)``.
    """
    roles = {"user": config.user, "item": config.item}
    for role in ("rating", "timestamp"):
        chosen = getattr(config, role)
        if chosen is not None or role in found:
            roles[role] = chosen or role
    missing = {role: name for role, name in roles.items() if name not in found}
    if missing:
        msg = message(", ".join(f"{name!r} (data.{role})" for role, name in missing.items()))
        raise DataError(msg)
    return roles
