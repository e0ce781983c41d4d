"""Compiled kernels (numba) behind :mod:`recframe.engine`; imported only when numba is installed.

One kernel serves both neighbour search and ranking: for each query row ``r`` it accumulates
``A[r] @ B`` into a dense accumulator of its own thread (touching only the columns reached), drops
excluded columns and non-positive sums, and keeps the best ``n`` in a bounded heap, ordered by
score and then by lower column. Nothing of size ``rows x columns`` is ever allocated.

The kernels live in one module per concern: :mod:`.heaps` (the bounded heaps every kernel
keeps its best entries in), :mod:`.products` (top-n products and the symmetric neighbour
search behind :mod:`recframe.engine.products`), :mod:`.search` (neighbour search by a
similarity measure, behind :mod:`recframe.engine.search`) and :mod:`.prefetch` (asking for a
row of ``B`` before the scatter reaches it). Importing any of them first runs
this package, which announces a compilation once per process and stamps the kernels' disk
cache with a hash of all their sources (:mod:`.cache_stamp`).
"""

from __future__ import annotations

from pathlib import Path

from recframe.engine._compiled.cache_stamp import install
from recframe.progress import announce_numba_compilation

_here = Path(__file__).parent
install(_here, (_here.parent / "measures.py",))  # before any kernel module: with the formulas search.py compiles
announce_numba_compilation()  # the first use compiles (once per install): say so
