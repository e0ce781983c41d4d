"""Seeded interaction data shaped like public data sets, cached as a CSR matrix.

The shapes follow the published sizes of MovieLens 1M and 20M (users, items, interactions);
the interactions come from recframe's ``synthetic`` source (power-law popularity, log-normal
activity, taste groups), so no data is downloaded. ``ml-20m-real`` follows ML-20M's published
degree statistics more closely (a heavier tail of user activity: degrees up to 6,629 and
``sum_u deg(u)^2`` about 1.0e10, the work of item-item neighbour search), drawn directly by
:func:`skewed_matrix`, by popularity alone; ``ml-20m-taste`` has the same tail with taste
groups (real data has both a heavy tail and taste structure). Matrices are cached in
``$RECFRAME_BENCH_CACHE`` (default ``~/.cache/recframe-bench``) and reused.
"""

from __future__ import annotations

import dataclasses
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
    taste_groups: int = 0
    """Items fall into this many groups of taste, each user favours one (0: popularity alone decides)."""
    taste_share: float = 0.0
    """The share of a user's draws made within the favoured group (by popularity within it) in the
    rounds of draws; ratings there are half a star higher. The heavy users' last draws (from the
    items they lack) ignore taste: in ``ml-20m-taste`` the favoured group holds 50% of the items
    of users of 20-100 ratings, 23% of those of users of 3,000 or more, 42.5% of all."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.taste_share <= 1.0:
            raise ValueError(f"taste_share must lie in [0, 1], not {self.taste_share}")
        if not 0 <= self.taste_groups <= self.n_items:
            raise ValueError(f"taste_groups must lie in [0, n_items = {self.n_items}], not {self.taste_groups}")


SHAPES: dict[str, Shape | SkewedShape] = {
    "smoke": Shape(600, 300, 25, 0.8, min_interactions=5),
    "ml-1m": Shape(6_040, 3_706, 300, 0.85),
    "ml-20m": Shape(138_493, 26_744, 166, 0.8),
    "ml-20m-real": SkewedShape(138_493, 26_744, 19_600_000, 1.14, 6_629),
    "ml-20m-taste": SkewedShape(138_493, 26_744, 19_600_000, 1.14, 6_629, taste_groups=20, taste_share=0.5),
}


LATER_FIELDS = frozenset({"taste_groups", "taste_share"})
"""Fields added after shapes were cached: at their defaults they stay out of the cache key (those files are reused)."""


def _later_default(shape: Shape | SkewedShape, field: dataclasses.Field[object]) -> bool:
    return field.name in LATER_FIELDS and getattr(shape, field.name) == field.default


def cache_dir() -> Path:
    return Path(os.environ.get("RECFRAME_BENCH_CACHE", Path.home() / ".cache" / "recframe-bench"))


def load_matrix(name: str, seed: int = 1) -> sp.csr_array:
    """Return the users x items ratings matrix of a shape, generating and caching it once."""
    shape = SHAPES[name]
    values = [getattr(shape, f.name) for f in dataclasses.fields(shape) if not _later_default(shape, f)]
    key = "-".join(str(v) for v in values)
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
    (repeats dropped), then the users still short draw from the items they lack. With taste
    groups (:class:`SkewedShape`), ``taste_share`` of the draws of those rounds are made within
    the user's favoured group, and ratings follow item, user and taste effects; otherwise they
    are uniform on 1-5 (no structure at all: every item's neighbours are the popular ones).
    """
    n, n_items = shape.n_users, shape.n_items
    degrees = rng.lognormal(0.0, shape.activity_sigma, n)
    for _ in range(20):  # clipping and rescaling converge to the interaction count
        degrees = np.clip(degrees * shape.n_interactions / degrees.sum(), shape.min_degree, shape.max_degree)
    degrees = np.round(degrees).astype(np.int64)
    degrees[np.argmax(degrees)] = shape.max_degree
    weights = _popularity(shape, rng)
    cumulative = np.cumsum(weights / weights.sum())
    taste = _Taste.of(shape, weights, rng) if shape.taste_groups else None
    keys = np.zeros(0, dtype=np.int64)
    missing = degrees
    for _ in range(3):  # draw the missing items plus a margin; repeats are dropped
        users = np.repeat(np.arange(n), np.where(missing > 0, missing + missing // 4 + 2, 0))
        drawn = np.minimum(np.searchsorted(cumulative, rng.random(len(users))), n_items - 1)
        if taste is not None:
            drawn = taste.draw(users, drawn, rng)
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
    if taste is None:
        ratings = rng.integers(1, 6, len(keys)).astype(np.float64)
    else:
        ratings = taste.ratings(keys // n_items, keys % n_items, rng)
    return sp.csr_array(sp.coo_array((ratings, (keys // n_items, keys % n_items)), shape=(n, n_items)).tocsr())


def _popularity(shape: SkewedShape, rng: np.random.Generator) -> np.ndarray:
    """Return each item's weight in the draws: ``1 / (rank + offset)``, the ranks dealt to the items at random."""
    weights = 1.0 / (np.arange(shape.n_items) + shape.popularity_offset)
    return weights[np.argsort(rng.permutation(shape.n_items))]  # popularity rank -> a random item id


@dataclass(frozen=True)
class _Taste:
    """Taste groups of a :class:`SkewedShape`: each item's group, each user's favourite, and draws within a group."""

    share: float
    group: np.ndarray
    favoured: np.ndarray
    by_group: np.ndarray
    """The items ordered by group."""
    scaled: np.ndarray
    """The cumulative popularity within each group, group ``g`` spanning ``(g, g + 1]``, in ``by_group``'s order."""
    item_effect: np.ndarray
    user_effect: np.ndarray

    @classmethod
    def of(cls, shape: SkewedShape, weights: np.ndarray, rng: np.random.Generator) -> _Taste:
        groups = shape.taste_groups
        group = rng.integers(0, groups, len(weights))
        favoured = rng.integers(0, groups, shape.n_users)
        by_group = np.argsort(group, kind="stable")
        ordered_group, ordered_weight = group[by_group], weights[by_group]
        sums = np.bincount(ordered_group, weights=ordered_weight, minlength=groups)
        before = np.repeat(np.cumsum(sums) - sums, np.bincount(ordered_group, minlength=groups))
        scaled = ordered_group + (np.cumsum(ordered_weight) - before) / sums[ordered_group]
        item_effect = rng.normal(0.0, 0.5, len(weights))
        user_effect = rng.normal(0.0, 0.4, shape.n_users)
        return cls(shape.taste_share, group, favoured, by_group, scaled, item_effect, user_effect)

    def draw(self, users: np.ndarray, drawn: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Replace `share` of the `drawn` items by draws within each user's favoured group."""
        within = rng.random(len(users)) < self.share
        target = self.favoured[users[within]] + rng.random(int(within.sum()))
        places = np.minimum(np.searchsorted(self.scaled, target), len(self.scaled) - 1)
        drawn = drawn.copy()
        drawn[within] = self.by_group[places]
        return drawn

    def ratings(self, users: np.ndarray, items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return ratings 1-5: a mean of 3.5, item and user effects, half a star in the favoured group, noise."""
        liked = 0.5 * (self.group[items] == self.favoured[users])
        raw = 3.5 + self.item_effect[items] + self.user_effect[users] + liked + rng.normal(0.0, 0.9, len(users))
        return np.clip(np.round(raw), 1, 5).astype(np.float64)


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
