"""Seeded interaction data shaped like public data sets, cached as a CSR matrix.

The shapes follow the published sizes of MovieLens 1M and 20M (users, items, interactions);
the interactions come from recframe's ``synthetic`` source (power-law popularity, log-normal
activity, taste groups), so no data is downloaded. ``ml-20m-real`` follows ML-20M's published
degree statistics more closely (a heavier tail of user activity: degrees up to 6,629 and
``sum_u deg(u)^2`` about 1.0e10, the work of item-item neighbour search), drawn directly by
:func:`skewed_matrix`. Matrices are cached in ``$RECFRAME_BENCH_CACHE`` (default
``~/.cache/recframe-bench``) and reused.
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


@dataclass(frozen=True)
class SkewedShape:
    """Exact sizes and degree tails of a data set, drawn directly (see :func:`skewed_matrix`)."""

    n_users: int
    n_items: int
    n_interactions: int
    activity_sigma: float
    """Log-normal sigma of user activity before clipping; sets ``sum_u deg(u)^2``."""
    max_degree: int
    min_degree: int = 20
    popularity_offset: float = 50.0
    """Item ``r`` (by rank) is drawn with weight ``1 / (r + offset)``: the most popular item reaches
    about 0.34% of the interactions, as in ML-20M."""


SHAPES: dict[str, Shape | SkewedShape] = {
    "smoke": Shape(600, 300, 25, 0.8, min_interactions=5),
    "ml-1m": Shape(6_040, 3_706, 300, 0.85),
    "ml-20m": Shape(138_493, 26_744, 166, 0.8),
    "ml-20m-real": SkewedShape(138_493, 26_744, 19_600_000, 1.14, 6_629),
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
    if isinstance(shape, SkewedShape):
        _save(path, skewed_matrix(shape, np.random.default_rng(seed)))
        return load_matrix(name, seed)
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
    _save(path, matrix)
    return matrix


def _save(path: Path, matrix: sp.csr_array) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    sp.save_npz(tmp, sp.csr_matrix(matrix))
    tmp.replace(path)


def skewed_matrix(shape: SkewedShape, rng: np.random.Generator) -> sp.csr_array:
    """Draw a users x items matrix of ratings 1-5 with the degree tails of `shape`.

    User degrees are log-normal, clipped to ``[min_degree, max_degree]`` and rescaled to the
    interaction count (the most active user gets exactly ``max_degree``); each user's items are
    drawn without repetition with power-law popularity: a few rounds of draws with replacement
    (repeats dropped), then the users still short draw from the items they lack.
    """
    n, n_items = shape.n_users, shape.n_items
    degrees = rng.lognormal(0.0, shape.activity_sigma, n)
    for _ in range(20):  # clipping and rescaling converge to the interaction count
        degrees = np.clip(degrees * shape.n_interactions / degrees.sum(), shape.min_degree, shape.max_degree)
    degrees = np.round(degrees).astype(np.int64)
    degrees[np.argmax(degrees)] = shape.max_degree
    weights = 1.0 / (np.arange(n_items) + shape.popularity_offset)
    weights = weights[np.argsort(rng.permutation(n_items))]  # popularity rank -> a random item id
    cumulative = np.cumsum(weights / weights.sum())
    keys = np.zeros(0, dtype=np.int64)
    missing = degrees
    for _ in range(3):  # draw the missing items plus a margin; repeats are dropped
        users = np.repeat(np.arange(n), np.where(missing > 0, missing + missing // 4 + 2, 0))
        drawn = np.minimum(np.searchsorted(cumulative, rng.random(len(users))), n_items - 1)
        keys = np.union1d(keys, users * n_items + drawn)  # sorted by user, then item
        missing = degrees - np.bincount(keys // n_items, minlength=n)
    extra = []
    for user in np.flatnonzero(missing > 0):  # heavy users: draw exactly from what they lack
        lacking = np.ones(n_items, dtype=bool)
        lacking[keys[np.searchsorted(keys, user * n_items) : np.searchsorted(keys, (user + 1) * n_items)] % n_items] = (
            False
        )
        pool = np.flatnonzero(lacking)
        chosen = rng.choice(pool, missing[user], replace=False, p=weights[pool] / weights[pool].sum())
        extra.append(user * n_items + chosen)
    keys = np.sort(np.concatenate([keys, *extra]))
    user_of = keys // n_items
    have = np.bincount(user_of, minlength=n)
    order = np.lexsort((rng.random(len(keys)), user_of))  # each user keeps `degree` random items
    position = np.arange(len(keys)) - np.repeat(np.cumsum(have) - have, have)
    keys = np.sort(keys[order][position < degrees[user_of[order]]])
    ratings = rng.integers(1, 6, len(keys)).astype(np.float64)
    return sp.csr_array(sp.coo_array((ratings, (keys // n_items, keys % n_items)), shape=(n, n_items)).tocsr())


def describe(matrix: sp.csr_array) -> dict[str, float]:
    """Return the sizes that set the cost of neighbour search on `matrix`."""
    user_degree = np.diff(matrix.indptr).astype(np.int64)
    item_degree = np.bincount(matrix.indices, minlength=matrix.shape[1]).astype(np.int64)
    return {
        "users": matrix.shape[0],
        "items": matrix.shape[1],
        "interactions": int(matrix.nnz),
        "max_user_degree": int(user_degree.max(initial=0)),
        "item_item_work": int((user_degree**2).sum()),
        "user_user_work": int((item_degree**2).sum()),
    }
