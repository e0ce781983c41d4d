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

MULTIPLY_ADDS_PER_SECOND = 3e8
"""Rough rate of a sparse scatter-add on one core of a current machine, for time estimates."""


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


def preflight(estimate: ResourceEstimate, limit_mb: int | None, who: str, what: str) -> None:
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
    """
    seconds = estimate.multiply_adds / MULTIPLY_ADDS_PER_SECOND
    logger.info(
        "%s: %s need about %.2g multiply-adds (~%.0f core-seconds) and %s (graph %s, working %s)",
        who, what, estimate.multiply_adds, seconds, human_bytes(estimate.total_bytes),
        human_bytes(estimate.output_bytes), human_bytes(estimate.working_bytes),
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
            f"over the limit of {human_bytes(limit)} ({source}); use a smaller similarity.k, "
            "the sparse backend (similarity.type: sparse), a lower similarity.max_memory_mb, "
            "filter out rare users or items, or raise similarity.memory_limit_mb on a larger machine"
        )
        raise ResourceError(msg)
