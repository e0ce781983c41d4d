"""Compiling every numba kernel a recommender's fit, update and forget use, before a service needs them.

numba compiles a kernel on its first call after an install (and loads it from its cache in later
processes). Several of the kernels an update runs are used only on large inputs: the merges of
the matrix, the passes over every entry, the transposes, from about a million entries
(:data:`SIZE_THRESHOLDS`). So an update of a small model, run at deploy time to compile the
update's kernels, left them to the first large update: on a 2-core machine with an empty
cache, the first update of a 2.5-million-event model took 13.1 s after such a warm-up (the
next one under 0.1 s), and its first forget 2.2 s. :func:`warm_up_kernels` runs a fit, an update, a forget
and a search of many rows on a tiny synthetic model with every one of those thresholds lowered
to 0, so each kernel the configuration uses is compiled (or loaded) at once.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from recframe.data import Interactions
from recframe.progress import show_progress

SIZE_THRESHOLDS = (
    ("recframe.engine.cells", "COMPILED_MIN_ENTRIES"),
    ("recframe.engine.entry_facts", "COMPILED_FACTS"),
    ("recframe.engine.graph_matrices", "COMPILED_GRAPH"),
    ("recframe.engine.search", "COMPILED_TOTALS"),
    ("recframe.engine.transposes", "COMPILED_TRANSPOSE"),
    ("recframe.recommender.entry_passes", "COMPILED_ENTRIES"),
    ("recframe.builtin.similarity.sparse_rows", "COMPILED_CHECK"),
    ("recframe.engine.products", "SYMMETRIC_MIN_ROWS"),
    ("recframe.engine.products", "SYMMETRIC_MIN_PAIR_WORK"),
)
"""The sizes from which a compiled kernel takes over from numpy or scipy (module, name): each 0
inside :func:`compiled_at_every_size`. Both sides give the same results at every size."""

LEFT_OUT_SECTIONS = frozenset({"data", "evaluation", "output", "executor"})
"""Sections of a run file the warm-up leaves out: it reads no data, writes nothing and fits in this process."""

_lock = threading.Lock()


@contextlib.contextmanager
def compiled_at_every_size() -> Iterator[None]:
    """Run every compiled pass whatever the size of its input, inside the block; the thresholds are restored after.

    Process-wide: another thread computing meanwhile takes the compiled paths on small inputs
    too (with the same results, at a different speed). Blocks in several threads run one at a time.
    """
    with _lock:
        modules = [(importlib.import_module(module), name) for module, name in SIZE_THRESHOLDS]
        saved = [getattr(module, name) for module, name in modules]
        try:
            for module, name in modules:
                setattr(module, name, 0)
            yield
        finally:
            for (module, name), value in zip(modules, saved, strict=True):
                setattr(module, name, value)


def tiny_events(seed: int = 0) -> Interactions:
    """Return 6,000 rated, timestamped events of 300 users and 600 items: more rows than a batch search's few."""
    rng = np.random.default_rng(seed)
    n = 6000
    users, items = rng.integers(0, 300, n), rng.integers(0, 600, n)
    return Interactions(users, items, rng.integers(1, 6, n).astype(np.float64), 1.6e9 + 60.0 * np.arange(n))


def warm_up_kernels(config: Mapping[str, Any], from_config: Callable[[dict[str, Any]], Any]) -> None:
    """Compile (or load from numba's cache) the kernels that fit, update and forget of `config` use, at any size.

    Fits a recommender made by `from_config` (``Recommender.from_config``) of `config`'s
    components (a run file's, or a recommender's ``to_config()``; its data, evaluation, output
    and executor sections are left out) on :func:`tiny_events`, updates it with events of a
    known user, a new user and a new item, forgets a user, and searches the neighbours of more
    rows than the few-rows kernel takes, all inside :func:`compiled_at_every_size`, without
    progress bars. Tens of seconds on an empty cache (46 s on a 2-core machine for sparse
    cosine), about 2 s once the kernels are cached: a service calls it when it is deployed, or
    as it starts.
    """
    from recframe.engine.few_rows import FEW_ROWS

    with compiled_at_every_size(), show_progress(False):
        components = {key: value for key, value in config.items() if key not in LEFT_OUT_SECTIONS}
        rec = from_config(components).fit(tiny_events())
        rec.update(Interactions([0, 301, 302], [1, 2, 602], [5.0, 4.0, 3.0], [1.7e9] * 3))
        rec.forget(users=[1])
        state = rec._state()
        for axis, backend in state.backends.items():  # rows searched again, more than a few: the batch path
            n_rows = state.graphs[axis].indices.shape[0] if axis in state.graphs else 0
            if n_rows:
                backend.neighbours(np.arange(min(n_rows, 2 * FEW_ROWS)))
