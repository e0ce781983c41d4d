"""Running a compiled batch kernel on slices of its query rows, side by side in a pool of threads.

The batch kernels (:func:`~recframe.engine.top_n_product`'s, :func:`~recframe.engine.top_k_by_measure`'s)
and the update's (:func:`~recframe.engine._compiled.delta.delta_lists`) compute query rows
``start:stop`` of their inputs and release the GIL, so a pool of Python threads runs them side
by side. That replaces a numba ``prange`` wrapper, which cost 1.7 s of compilation on the
first call after an install for the same speed. The update's wrapper (44 arguments, around a
69-argument row kernel) cost 9-10 s of its 25.7 s; without it, on the ML-20M shape's 1% add, the
kernel's outputs are the same bit for bit and its time too (median 0.596 s now, 0.607 s before,
on two threads). The pool runs under the
process-wide compiled-kernel lock (:func:`~recframe.engine.dispatch.numba_threads`), with as
many threads as it allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from recframe.engine.dispatch import numba_threads
from recframe.progress import progress

SLICE = 1024
"""Most query rows a thread takes at a time (ML-20M shape, top-10 for all users: 136 slices, a
few milliseconds of dispatch in all)."""


def slices(n_rows: int, threads: int, largest: int | None = SLICE) -> list[tuple[int, int]]:
    """Return the (start, stop) slices of ``range(n_rows)`` the threads take in turn.

    Eight slices a thread (a slice of heavy rows doesn't hold the others up), of 64 to
    `largest` rows (:data:`SLICE`): a batch of a thousand users still runs on every thread, and
    the progress bar of a large one moves as each slice ends. ``largest=None`` keeps to eight
    slices a thread however many rows: for a kernel whose slice allocates scratch space as long
    as all the rows (the update's), which more slices would allocate and clear more often.

    Returns
    -------
    list of (int, int)
        Consecutive slices covering every row once.
    """
    size = -(-n_rows // (8 * threads))
    if largest is not None:
        size = min(largest, size)
    size = max(64, size)
    return [(first, min(n_rows, first + size)) for first in range(0, n_rows, size)]


def run_in_slices(
    kernel: Callable[..., object],
    arguments: tuple[object, ...],
    n_rows: int,
    threads: int | None,
    desc: str,
    *,
    largest: int | None = SLICE,
) -> None:
    """Call ``kernel(start, stop, *arguments)`` on every slice of ``range(n_rows)``, a pool's threads side by side.

    The slices are :func:`slices`' (`largest` rows at most). A single slice runs in the calling
    thread. On Ctrl-C or an error in a slice, the slices not started are dropped, the running
    ones end, and the error is raised here; no thread is left.
    """

    def run(piece: tuple[int, int]) -> object:
        return kernel(*piece, *arguments)

    with numba_threads(threads) as used:  # the process's compiled-kernel budget, as every batch kernel
        pieces = slices(n_rows, used, largest)
        pool = ThreadPoolExecutor(max_workers=used, thread_name_prefix="recframe-slices") if len(pieces) > 1 else None
        work: Iterator[object] = map(run, pieces) if pool is None else pool.map(run, pieces)
        try:
            for _ in progress(work, total=n_rows, desc=desc, unit="rows", sizes=(j - i for i, j in pieces)):
                pass
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
