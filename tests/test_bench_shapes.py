"""The benchmark shapes of ``benchmarks/datasets.py``: degrees as asked, taste groups, stable cache keys."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks.datasets import (
    SHAPES,
    SkewedShape,
    _later_default,
    _popularity,
    _Taste,
    describe,
    load_matrix,
    skewed_matrix,
)

SMALL = SkewedShape(1_500, 400, 45_000, 1.1, 300)
TASTE = dataclasses.replace(SMALL, taste_groups=5, taste_share=0.6)


def replayed_taste(shape: SkewedShape, seed: int) -> _Taste:
    """Return the taste groups :func:`skewed_matrix` drew with `seed` (its first draws, replayed in order)."""
    rng = np.random.default_rng(seed)
    rng.lognormal(0.0, shape.activity_sigma, shape.n_users)  # the degrees
    return _Taste.of(shape, _popularity(shape, rng), rng)


@pytest.mark.parametrize("shape", [SMALL, TASTE], ids=["popularity", "taste"])
def test_degrees_and_sizes_are_those_asked(shape):
    matrix = skewed_matrix(shape, np.random.default_rng(2))
    degrees = np.diff(matrix.indptr)
    assert matrix.shape == (shape.n_users, shape.n_items)
    assert degrees.max() == shape.max_degree
    assert degrees.min() >= shape.min_degree
    assert abs(matrix.nnz - shape.n_interactions) < 0.01 * shape.n_interactions
    assert set(np.unique(matrix.data)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert describe(matrix)["item_item_work"] == int((degrees.astype(np.int64) ** 2).sum())


def test_draws_within_the_group_are_the_users_favourite_by_popularity():
    rng = np.random.default_rng(4)
    weights = 1.0 / (np.arange(TASTE.n_items) + TASTE.popularity_offset)
    taste = _Taste.of(TASTE, weights, rng)
    users = np.repeat(np.arange(TASTE.n_users), 100)
    drawn = np.full(len(users), -1)
    taken = taste.draw(users, drawn, rng)
    within = taken >= 0
    assert abs(within.mean() - TASTE.taste_share) < 0.01
    assert (taste.group[taken[within]] == taste.favoured[users[within]]).all()
    # within a group, item 0 (the most popular) is drawn most often of its group
    group_0 = np.flatnonzero(taste.group == taste.group[0])
    counts = np.bincount(taken[within], minlength=TASTE.n_items)[group_0]
    assert counts.argmax() == 0
    assert counts[0] > 5 * np.median(counts)


def test_ratings_in_the_favoured_group_are_higher():
    rng = np.random.default_rng(5)
    taste = _Taste.of(TASTE, np.ones(TASTE.n_items), rng)
    users = rng.integers(0, TASTE.n_users, 200_000)
    items = rng.integers(0, TASTE.n_items, 200_000)
    ratings = taste.ratings(users, items, rng)
    liked = taste.group[items] == taste.favoured[users]
    assert 0.35 < ratings[liked].mean() - ratings[~liked].mean() < 0.6
    assert set(np.unique(ratings)) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_users_of_a_taste_shape_rate_their_favoured_group_most():
    plain = skewed_matrix(SMALL, np.random.default_rng(6))
    tasted = skewed_matrix(TASTE, np.random.default_rng(6))
    assert (np.diff(plain.indptr) == np.diff(tasted.indptr)).all()  # the degrees are drawn first, alike
    taste = replayed_taste(TASTE, 6)
    users = np.repeat(np.arange(TASTE.n_users), np.diff(tasted.indptr))
    in_favoured = taste.group[tasted.indices] == taste.favoured[users]
    # at most the share drawn within the group and a fifth of the others (0.68); less for users whose
    # degree nears their group's size (they run out of its items, and their last draws ignore taste)
    light = np.repeat(np.diff(tasted.indptr) <= 30, np.diff(tasted.indptr))
    most = TASTE.taste_share + (1 - TASTE.taste_share) / TASTE.taste_groups
    assert 0.62 < in_favoured[light].mean() < most  # seeds 0-11: 0.644-0.654
    assert 0.55 < in_favoured.mean() < in_favoured[light].mean()  # seeds 0-11: 0.592-0.606
    plain_users = np.repeat(np.arange(SMALL.n_users), np.diff(plain.indptr))
    assert (taste.group[plain.indices] == taste.favoured[plain_users]).mean() < 0.3


def test_shapes_cached_before_the_taste_fields_keep_their_cache_keys():
    keyed = {
        name: [f.name for f in dataclasses.fields(shape) if not _later_default(shape, f)]
        for name, shape in SHAPES.items()
    }
    assert keyed["ml-20m-real"] == [
        "n_users",
        "n_items",
        "n_interactions",
        "activity_sigma",
        "max_degree",
        "min_degree",
        "popularity_offset",
    ]
    assert {"taste_groups", "taste_share"} <= set(keyed["ml-20m-taste"])


def test_a_shape_without_taste_draws_the_matrix_it_drew_before_taste_groups_existed():
    """The digest below is of the code before taste groups (9b3b186): cached matrices of the older shapes stay valid."""
    matrix = skewed_matrix(SMALL, np.random.default_rng(2))
    digest = hashlib.sha256()
    for array in (matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data):
        digest.update(array.tobytes())
    assert digest.hexdigest()[:16] == "3960768f29e5c03b"


def test_a_cached_file_of_an_older_shape_is_found_under_its_old_name(tmp_path, monkeypatch):
    monkeypatch.setenv("RECFRAME_BENCH_CACHE", str(tmp_path))
    placed = sp.csr_array(np.eye(3))
    sp.save_npz(tmp_path / "ml-20m-real-138493-26744-19600000-1.14-6629-20-50.0-seed1.npz", sp.csr_matrix(placed))
    assert (load_matrix("ml-20m-real") != placed).nnz == 0  # read, not drawn again


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"taste_share": 1.5}, "taste_share"),
        ({"taste_groups": -1}, "taste_groups"),
        ({"taste_groups": 401}, "taste_groups"),
    ],
)
def test_taste_fields_out_of_range_are_refused(changes, named):
    with pytest.raises(ValueError, match=named):
        dataclasses.replace(SMALL, **changes)
