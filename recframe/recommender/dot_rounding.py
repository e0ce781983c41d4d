"""Whether the change of `dot` similarities can be summed without its rounding showing.

An update adds to each pair's old dot product its change ``D_i X'_j + X_i D_j`` (``D`` the
changed entries, ``X`` and ``X'`` the rows before and after). Those terms can be far larger
than the result: a play count of 7.7e8 replaced by 2, against another user's new 8.6e8 of the
same item, adds -6.6e17 and +6.6e17 to reach 1.7e9, and the rounding of the two terms (about 64
each) is left in the result, 2e-8 of it, where a refit sums the new rows' products and is
exact to 1e-16. For cosine the same rounding is at most about 1e-16 of the lengths' product,
the scale of the similarity, and the rows that shrank far are computed exactly; for `dot` the
scale is the result itself, which nothing bounds from below.

By Cauchy-Schwarz the terms of one pair's change add up to at most
``|D_i| |X'_j| + |X_i| |D_j|``, which is at most ``T (L + L')`` with ``T`` the longest row of
the change and ``L``, ``L'`` the longest rows before and after. Below :data:`DOT_TERMS` the
rounding is below 1e-9, the promise. Above it the sums can still be exact: when every value
is a multiple of ``2**-p`` (whole numbers, half stars) each product is a multiple of
``2**-2p`` and every sum below ``2**(53 - 2p)`` is an exact float. Otherwise the update runs
one full search, as exact as a fit.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.recommender.entry_passes import row_lengths

DOT_TERMS = 1e6
"""The largest bound on a pair's change terms (``T (L + L')``) whose rounding, a few times
1.1e-16 of it, stays below the promised 1e-9 whatever the values."""

FINEST_STEP = 4
"""Values that are multiples of ``2**-p`` for some ``p`` up to this (whole numbers, halves,
quarters, ...) are summed exactly while the terms stay below ``2**(53 - 2p)``."""


def dot_rounding(old: sp.csr_array, new: sp.csr_array, change: sp.csr_array) -> str | None:
    """Return why the `dot` similarities' change could carry visible rounding, or ``None`` where it can't.

    `old` and `new` are the rows before and after the update, `change` their difference (any
    column numbering: only its rows' lengths are read).
    """
    if change.nnz == 0:
        return None
    longest = max((float(row_lengths(x).max()) for x in (old, new) if x.shape[0] and x.nnz), default=0.0)
    terms = float(row_lengths(change).max()) * 2.0 * longest
    if terms <= DOT_TERMS:
        return None
    step = _finest_step(old.data, new.data)
    if step is not None and terms < 2.0 ** (53 - 2 * step):
        return None
    return (
        f"the changed dot products sum terms up to {terms:.3g}, whose rounding could show in the "
        "similarities, so one full search gives the exact ones"
    )


def _finest_step(*values: np.ndarray) -> int | None:
    """Return the least ``p`` (up to :data:`FINEST_STEP`) with every value a multiple of ``2**-p``, or ``None``."""
    for step in range(FINEST_STEP + 1):
        scaled = [part * 2.0**step for part in values]
        if all(np.array_equal(part, np.rint(part)) for part in scaled):
            return step
    return None
