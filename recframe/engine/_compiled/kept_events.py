"""Compiled passes over a forget's events: find the forgotten ones, copy the others.

A forget keeps every training event but a few (the forgotten users' and items'). Both passes
run on the worker thread that copies the kept events while the rest of the model is updated
(:class:`~recframe.recommender.pending_events.PendingEvents`), so they are sequential: the
update's own kernels use every thread meanwhile.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.spans import copy_span


@numba.njit(nogil=True, cache=True)
def marked_positions(values: np.ndarray, low: int, table: np.ndarray, out: np.ndarray) -> int:
    """Write the positions ``p`` where ``values[p] - low`` is a marked place of `table` into `out`; return how many.

    `out` is as long as `values`; only its first entries are written (the rest of a fresh
    array is never touched, so never paged in).
    """
    span = table.shape[0]
    n = 0
    for p in range(values.shape[0]):
        place = values[p] - low
        if place >= 0 and place < span and table[place]:
            out[n] = p
            n += 1
    return n


@numba.njit(nogil=True, cache=True)
def copy_kept(column: np.ndarray, dropped: np.ndarray, out: np.ndarray) -> None:
    """Copy `column` without the entries at the `dropped` positions (increasing, distinct) into `out`.

    The kept entries are a few long runs between the dropped ones: each run is one block copy,
    with no per-entry test of a mask.
    """
    o = 0
    start = 0
    for d in dropped:
        run = d - start
        copy_span(column, start, out, o, run)
        o += run
        start = d + 1
    copy_span(column, start, out, o, column.shape[0] - start)
