"""How reports and tables spell values: table cells and ISO dates.

:func:`show` is what a report's cell shows (never ``None``, ``nan`` or ``True``);
:func:`iso_date` shows Unix seconds as a UTC date. Neither depends on the clock or the locale,
so the same run gives the same text. Swept values are spelled by
:func:`recframe.config.flow_text.yaml_text`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

MISSING = "-"
"""What a cell shows for a value that is not there (``None``) or not a number (``nan``)."""


def show(value: Any, digits: int = 4) -> str:
    """Return how a report shows a value: no ``None``, ``nan`` or ``True`` ever reaches the page.

    ``None`` and ``nan`` show as a dash, booleans as ``yes``/``no``, floats with `digits`
    decimals (infinities as ``∞``), anything else as its text.
    """
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.{digits}f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    return str(value)


def iso_date(seconds: Any) -> str:
    """Return Unix seconds as an ISO 8601 UTC date and time (``2020-01-01T00:00:00Z``)."""
    try:
        moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # beyond the years 1 to 9999: shown as a number
        return f"{seconds:.6g}" if isinstance(seconds, float | int) and not isinstance(seconds, bool) else show(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
