"""Copying a span of one array into another inside the compiled kernels, as a plain loop.

numba compiles ``out[a:b] = source[c:d]`` (an array into a slice) with a shape check whose
error message formats the two shapes as text: the first kernel of a process that holds one
compiles numba's integer-to-text machinery along with it, about 2.5-3 s of a cold compile
(numba 0.68; the update's first compile took 17.6 s of CPU with it, 14.7-16.5 s without). The
kernels' spans match by construction, so they copy with :func:`copy_span` and never need that
message. A loop over contiguous arrays compiles to the same vectorised copy.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always", cache=True)
def copy_span(source: np.ndarray, start: int, out: np.ndarray, at: int, count: int) -> None:
    """Copy ``source[start:start + count]`` to ``out[at:at + count]`` (the caller keeps both in bounds)."""
    read = source[start : start + count]
    write = out[at : at + count]
    for t in range(count):  # indices from 0 up: no test for a negative index, so a vectorised copy
        write[t] = read[t]
