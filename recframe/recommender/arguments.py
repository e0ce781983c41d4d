"""The arguments of the query methods, checked: list lengths, switches, one id, history values, query ids.

Errors here are the caller's: each message names the argument, shows the value and says what
is allowed.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from recframe.data import IdIndex
from recframe.errors import short_repr
from recframe.interfaces import MAX_LIST_LENGTH

MAX_HISTORY_VALUE = 1e100
"""The largest magnitude of a value in a history given at query time (as similarity math needs)."""


def _list_length(n: object, default: int) -> int:
    """Return the list length `n` of a query (`default` for ``None``), checked to be an int in range.

    Raises
    ------
    TypeError
        If `n` is not a whole number (a float such as ``1.5``, a bool, a string).
    ValueError
        If `n` is below 1 or above ``MAX_LIST_LENGTH``, as a ranker's ``n`` may be.
    """
    if n is None:
        return default
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        msg = f"n must be a whole number (an int); got {short_repr(n)} of type {type(n).__name__}"
        raise TypeError(msg)
    if not 1 <= int(n) <= MAX_LIST_LENGTH:
        msg = f"n must be from 1 to {MAX_LIST_LENGTH:,}, as a ranker's n; got {short_repr(int(n))}"
        raise ValueError(msg)
    return int(n)


def _history_value(item: object, value: object) -> float:
    """Return the value of `item` in a history given at query time, checked to be a usable number.

    Raises
    ------
    ValueError
        If `value` is not a number, not finite, or larger in magnitude than ``MAX_HISTORY_VALUE``.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        msg = f"history value of item {short_repr(item)} is {short_repr(value)}; expected a number"
        raise ValueError(msg) from None
    if not abs(number) <= MAX_HISTORY_VALUE:  # also NaN
        msg = (
            f"history value of item {short_repr(item)} is {short_repr(value)}; expected a finite number of "
            f"magnitude at most {MAX_HISTORY_VALUE:g} (on the training matrix's scale)"
        )
        raise ValueError(msg)
    return number


def _flag(value: object, name: str, *, optional: bool = False) -> bool | None:
    """Return `value` if it is a bool (or ``None`` where `optional`), for a query's switches.

    Raises
    ------
    TypeError
        For anything else (``"false"``, ``0``): a truthy string must not switch a policy on.
    """
    if isinstance(value, bool | np.bool_) or (optional and value is None):
        return None if value is None else bool(value)
    allowed = "True, False or None" if optional else "True or False"
    msg = f"{name} must be {allowed}; got {type(value).__name__} {short_repr(value)}"
    raise TypeError(msg)


def _one_id(value: object, what: str, method: str) -> Any:
    """Return `value` if it is one id (an int or a str); `method` takes one, not a list."""
    if isinstance(value, str | int | np.integer) and not isinstance(value, bool | np.bool_):
        return value
    msg = f"{method} takes one {what} id (an int or a str); got {type(value).__name__} {short_repr(value)}"
    raise TypeError(msg)


def _join(first: str, second: str) -> str:
    """Join two reasons with ``; `` (either may be empty)."""
    return f"{first}; {second}" if first else second


def _matched(queries: np.ndarray, rows: np.ndarray, index: IdIndex) -> np.ndarray:
    """Return the queries as the index spells them (``"3"`` asked of int ids is ``3``), if all are known."""
    return index.ids_of(rows) if np.all(rows >= 0) else queries
