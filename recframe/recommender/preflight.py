"""Preflight checks: estimate a step's memory before it runs, and refuse what can't fit.

Being refused with a message that says what to change beats being killed by the operating
system halfway through.
"""

from __future__ import annotations

import contextlib
import logging
import os

from recframe.errors import ResourceError
from recframe.interfaces import ResourceEstimate

logger = logging.getLogger(__name__)

MULTIPLY_ADDS_PER_SECOND = 1e7
"""Slowest rate of the neighbour searches' multiply-adds on one core, measured (see docs/performance.md).

The time model is an upper estimate: the slowest built-in path (the scipy engine, and
scikit-learn) sets each rate, so that a preflight never promises a search done sooner than it is.
"""
ROW_PAIRS_PER_SECOND = 1.5e7
"""Slowest rate of the per-row-pair work (accumulators, top-k selection) on one core, measured."""
FIXED_SECONDS = 0.05
"""Start-up cost of a search (preparing rows, allocating the graph)."""


def capped_k(k: int, n_rows: int) -> int:
    """Return the neighbours a search of `n_rows` rows can keep: `k`, at most ``n_rows - 1`` (and at least 1).

    Estimates use it, so that a huge ``k`` on a small catalogue is estimated at the graph that
    will be built, not at the one ``k`` asks for.
    """
    return max(1, min(int(k), int(n_rows) - 1))


def estimate_seconds(estimate: ResourceEstimate, rows: int | None = None) -> float:
    """Return an upper estimate of the core-seconds of a step, from its multiply-adds and rows."""
    pairs = float(rows) ** 2 if rows is not None else 0.0
    return FIXED_SECONDS + estimate.multiply_adds / MULTIPLY_ADDS_PER_SECOND + pairs / ROW_PAIRS_PER_SECOND


def human_seconds(seconds: float) -> str:
    """Render an upper estimate of core-seconds: ``under 1 core-second``, ``up to ~12 core-seconds``...

    Never ``~0 core-seconds``: below one second it says so.
    """
    if seconds < 1:
        return "under 1 core-second"
    if seconds < 90:
        return f"up to ~{seconds:.0f} core-second{'s' if round(seconds) != 1 else ''}"
    if seconds < 5400:
        return f"up to ~{seconds / 60:.0f} core-minutes"
    return f"up to ~{seconds / 3600:.1f} core-hours"


def available_memory() -> int | None:
    """Return the bytes of memory available to new allocations, or ``None`` if unknown."""
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def human_bytes(n: float) -> str:
    """Render a byte count as ``512 MB`` or ``3.2 GB``."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


def preflight(
    estimate: ResourceEstimate, limit_mb: int | None, who: str, what: str, *, rows: int | None = None
) -> None:
    """Log `estimate` and raise :class:`ResourceError` if it exceeds the memory limit.

    Parameters
    ----------
    estimate : ResourceEstimate
        The step's estimated work and memory.
    limit_mb : int, optional
        The configured limit; by default 80% of the memory available now.
    who : str
        The component, as errors name it.
    what : str
        The step, e.g. ``"item neighbours"``.
    rows : int, optional
        Rows searched, for the time estimate's per-pair term.
    """
    logger.info(
        "%s: %s need about %.2g multiply-adds (%s) and %s (graph %s, working %s)",
        who,
        what,
        estimate.multiply_adds,
        human_seconds(estimate_seconds(estimate, rows)),
        human_bytes(estimate.total_bytes),
        human_bytes(estimate.output_bytes),
        human_bytes(estimate.working_bytes),
    )
    if limit_mb is not None:
        limit, source = limit_mb << 20, "similarity.memory_limit_mb"
    else:
        available = available_memory()
        if available is None:
            return
        limit, source = int(available * 0.8), "80% of the available memory"
    if estimate.total_bytes > limit:
        msg = (
            f"{who}: {what} would need about {human_bytes(estimate.total_bytes)} "
            f"(graph {human_bytes(estimate.output_bytes)}, working {human_bytes(estimate.working_bytes)}), "
            f"over the limit of {human_bytes(limit)} ({source}); use a smaller similarity.k (or "
            "similarity.update_slack, which adds to the neighbours kept), "
            "the sparse backend (similarity.type: sparse), a lower similarity.max_memory_mb, "
            "filter out rare users or items, or raise similarity.memory_limit_mb on a larger machine"
        )
        raise ResourceError(msg)
