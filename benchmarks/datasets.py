"""Seeded interaction data shaped like public data sets, cached as a CSR matrix.

The shapes follow the published sizes of MovieLens 1M and 20M (users, items, interactions);
the interactions come from recframe's ``synthetic`` source (power-law popularity, log-normal
activity, taste groups), so no data is downloaded. Matrices are cached in
``$RECFRAME_BENCH_CACHE`` (default ``~/.cache/recframe-bench``) and reused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Shape:
    """Parameters of the synthetic source that give a data set's shape."""

    n_users: int
    n_items: int
    mean_interactions: float
    activity_sigma: float
    popularity_exponent: float = 1.0
    min_interactions: int = 20


SHAPES: dict[str, Shape] = {
    "smoke": Shape(600, 300, 25, 0.8, min_interactions=5),
    "ml-1m": Shape(6_040, 3_706, 300, 0.85),
    "ml-20m": Shape(138_493, 26_744, 166, 0.8),
}


def cache_dir() -> Path:
    return Path(os.environ.get("RECFRAME_BENCH_CACHE", Path.home() / ".cache" / "recframe-bench"))


def load_matrix(name: str, seed: int = 1) -> sp.csr_array:
    """Return the users x items ratings matrix of a shape, generating and caching it once."""
    shape = SHAPES[name]
    key = "-".join(str(v) for v in vars(shape).values())
    path = cache_dir() / f"{name}-{key}-seed{seed}.npz"
    if path.exists():
        return sp.csr_array(sp.load_npz(path))
    from recframe.builtin.data_sources import SyntheticDataSource
    from recframe.builtin.matrix_builders import RatingsMatrixBuilder

    source = SyntheticDataSource(
        n_users=shape.n_users,
        n_items=shape.n_items,
        mean_interactions=shape.mean_interactions,
        activity_sigma=shape.activity_sigma,
        popularity_exponent=shape.popularity_exponent,
        min_interactions=shape.min_interactions,
        seed=seed,
    )
    matrix = RatingsMatrixBuilder().build(source.load(np.random.default_rng(seed))).matrix
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    sp.save_npz(tmp, sp.csr_matrix(matrix))
    tmp.replace(path)
    return matrix


def describe(matrix: sp.csr_array) -> dict[str, float]:
    """Return the sizes that set the cost of neighbour search on `matrix`."""
    user_degree = np.diff(matrix.indptr).astype(np.int64)
    item_degree = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
    return {
        "users": matrix.shape[0],
        "items": matrix.shape[1],
        "interactions": int(matrix.nnz),
        "item_item_work": int((user_degree**2).sum()),
        "user_user_work": int((item_degree**2).sum()),
    }
