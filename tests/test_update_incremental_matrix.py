"""``MatrixBuilder.update``: the incremental matrix of an update equals a full build, bit for bit.

Checked by hand on a tiny example, against a brute-force dictionary of cells, and against
``build`` on random events for every duplicate policy, with and without ratings and
timestamps, new users and items, and removals; then where the builders must decline (and the
recommender builds again), a builder without the method, and a builder that breaks the contract.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from recframe import (
    DataError,
    EventChange,
    IdIndex,
    InteractionMatrix,
    Interactions,
    MatrixBuilder,
    PluginError,
    Recommender,
)
from recframe.builtin.matrix_builders import (
    BinaryConfig,
    BinaryMatrixBuilder,
    RatingsConfig,
    RatingsMatrixBuilder,
    TFIDFConfig,
    TFIDFMatrixBuilder,
)

POLICIES = ("last", "first", "mean", "sum", "max", "error")


def same(got: InteractionMatrix, want: InteractionMatrix) -> None:
    """Assert two matrices are identical: ids, structure, dtypes and values bit for bit."""
    assert np.array_equal(got.users.ids, want.users.ids) and got.users.ids.dtype == want.users.ids.dtype
    assert np.array_equal(got.items.ids, want.items.ids) and got.items.ids.dtype == want.items.ids.dtype
    a, b = got.matrix, want.matrix
    assert a.shape == b.shape and a.indices.dtype == b.indices.dtype and a.indptr.dtype == b.indptr.dtype
    assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data.view(np.int64), b.data.view(np.int64))  # bit for bit


def events(rng: np.random.Generator, n: int, users: int, items: int, *, values: bool, times: bool) -> Interactions:
    """Return `n` random events over ids ``0..users-1`` and ``0..items-1`` (ratings 1-5 as floats)."""
    return Interactions(
        rng.integers(0, users, n),
        rng.integers(0, items, n),
        rng.integers(1, 6, n) + rng.random(n) if values else None,
        rng.integers(0, 50, n).astype(float) if times else None,
    )


def added_change(before: Interactions, added: Interactions) -> EventChange:
    return EventChange(before, Interactions.concat(before, added), added=added)


def test_hand_computed_update_and_forget() -> None:
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates="last"))
    before = Interactions([10, 10, 20], ["a", "c", "a"], [1.0, 2.0, 3.0])
    previous = builder.build(before)
    added = Interactions([10, 15, 20], ["b", "c", "a"], [4.0, 5.0, 6.0])
    got = builder.update(previous, added_change(before, added))
    assert got is not None
    assert got.users.ids.tolist() == [10, 15, 20] and got.items.ids.tolist() == ["a", "b", "c"]
    assert got.matrix.toarray().tolist() == [[1.0, 4.0, 2.0], [0.0, 0.0, 5.0], [6.0, 0.0, 0.0]]
    assert previous.matrix.toarray().tolist() == [[1.0, 2.0], [3.0, 0.0]]  # left as it was
    after = Interactions.concat(before, added)
    forgot = builder.update(
        got,
        EventChange(
            after, after.take(after.items != "a"), removed_users=after.users[:0], removed_items=np.array(["a"])
        ),
    )
    assert forgot is not None  # user 20 had only item "a": gone with it
    assert forgot.users.ids.tolist() == [10, 15] and forgot.items.ids.tolist() == ["b", "c"]
    assert forgot.matrix.toarray().tolist() == [[4.0, 2.0], [0.0, 5.0]]


@pytest.mark.parametrize(
    ("duplicates", "values", "times"), list(itertools.product(POLICIES, (True, False), (True, False)))
)  # a list: pytest 9.2 refuses other iterables (a deprecation warning, an error here)
def test_ratings_update_equals_a_build(duplicates: str, values: bool, times: bool) -> None:
    rng = np.random.default_rng(POLICIES.index(duplicates) * 4 + 2 * values + times)
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates=duplicates))  # type: ignore[arg-type]
    answered = 0
    for trial in range(40):
        # small id ranges: many repeated pairs, new users and items, and new events on old cells
        before = events(rng, int(rng.integers(1, 80)), 15, 12, values=values, times=times)
        added = events(rng, int(rng.integers(1, 30)), 20, 16, values=values, times=times)
        if trial % 3 == 0 and times:  # new events not older than the old ones
            added.timestamps = added.timestamps + 100.0
        if duplicates == "error":
            before = before.take(np.unique(before.users * 100 + before.items, return_index=True)[1])
        change = added_change(before, added)
        try:
            want = builder.build(change.after)
        except DataError:
            assert builder.update(builder.build(before), change) is None
            continue
        got = builder.update(builder.build(before), change)
        if got is not None:
            answered += 1
            same(got, want)
    assert answered > 0


def brute_force(before: Interactions, added: Interactions, duplicates: str) -> dict[tuple[int, int], float]:
    """Return each cell's value, combining its events one by one in file order (no timestamps)."""
    cells: dict[tuple[int, int], list[float]] = {}
    for part in (before, added):
        assert part.values is not None
        for user, item, value in zip(part.users.tolist(), part.items.tolist(), part.values.tolist(), strict=True):
            cells.setdefault((user, item), []).append(value)
    combine = {"last": lambda v: v[-1], "first": lambda v: v[0], "max": max}[duplicates]
    return {cell: combine(values) for cell, values in cells.items()}


@pytest.mark.parametrize("duplicates", ["last", "first", "max"])
def test_ratings_update_equals_a_brute_force(duplicates: str) -> None:
    rng = np.random.default_rng(7)
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates=duplicates))  # type: ignore[arg-type]
    for _ in range(20):
        before = events(rng, 60, 10, 10, values=True, times=False)
        added = events(rng, 20, 14, 13, values=True, times=False)
        got = builder.update(builder.build(before), added_change(before, added))
        assert got is not None  # positive values, no timestamps: these policies always answer
        dense = got.matrix.toarray()
        expected = brute_force(before, added, duplicates)
        assert int((dense != 0).sum()) == len(expected)
        for (user, item), value in expected.items():
            assert dense[got.users.rows(user)[0], got.items.rows(item)[0]] == value


@pytest.mark.parametrize("threshold", [None, 3.5])
def test_binary_update_and_forget_equal_a_build(threshold: float | None) -> None:
    rng = np.random.default_rng(3)
    builder = BinaryMatrixBuilder(BinaryConfig(threshold=threshold))
    for _ in range(30):
        before = events(rng, 80, 15, 12, values=True, times=True)
        previous = builder.build(before)
        added = events(rng, 25, 20, 16, values=True, times=True)
        got = builder.update(previous, added_change(before, added))
        assert got is not None  # binary always answers an addition
        same(got, builder.build(Interactions.concat(before, added)))
        users, items = rng.choice(15, 3, replace=False), rng.choice(12, 2, replace=False)
        change = forget_change(before, users, items)
        if len(change.after) and (threshold is None or (change.after.values >= threshold).any()):  # type: ignore[operator]
            forgot = builder.update(previous, change)
            assert forgot is not None
            same(forgot, builder.build(change.after))


def forget_change(before: Interactions, users: np.ndarray, items: np.ndarray) -> EventChange:
    """Return the change that forgets those of `users` and `items` that occur in `before`."""
    users, items = np.intersect1d(users, before.users), np.intersect1d(items, before.items)
    drop = np.isin(before.users, users) | np.isin(before.items, items)
    return EventChange(before, before.take(~drop), removed_users=users, removed_items=items)


@pytest.mark.parametrize("duplicates", POLICIES)
def test_ratings_forget_equals_a_build(duplicates: str) -> None:
    rng = np.random.default_rng(11)
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates=duplicates))  # type: ignore[arg-type]
    for trial in range(30):
        before = events(rng, 90, 15, 12, values=trial % 2 == 0, times=trial % 3 == 0)
        if duplicates == "error":
            before = before.take(np.unique(before.users * 100 + before.items, return_index=True)[1])
        users = rng.choice(15, int(rng.integers(0, 4)), replace=False)
        items = rng.choice(12, int(rng.integers(0, 3)), replace=False)
        change = forget_change(before, users, items)
        if len(change.after) == 0:
            continue
        got = builder.update(builder.build(before), change)
        assert got is not None  # positive values: removals always answer
        same(got, builder.build(change.after))


def test_string_ids_and_new_items_before_old_ones() -> None:
    builder = RatingsMatrixBuilder(RatingsConfig())
    before = Interactions(["m", "q", "q"], ["k", "p", "z"], [1.0, 2.0, 3.0])
    added = Interactions(["a", "q", "zz"], ["b", "m", "p"], [4.0, 5.0, 6.0])
    change = added_change(before, added)
    got = builder.update(builder.build(before), change)
    assert got is not None
    same(got, builder.build(change.after))


@pytest.mark.parametrize(
    ("duplicates", "before", "added"),
    [
        ("sum", ([1, 2], [1, 1], [1.0, 2.0], None), ([1], [1], [3.0], None)),  # an old cell: its events in order
        ("mean", ([1, 2], [1, 1], [1.0, 2.0], None), ([1], [1], [3.0], None)),
        ("error", ([1, 2], [1, 1], [1.0, 2.0], None), ([1], [1], [3.0], None)),  # a full build names the pair
        ("last", ([1, 2], [1, 1], [1.0, 2.0], [5.0, 6.0]), ([1], [1], [3.0], [4.0])),  # a new event older
        ("first", ([1, 2], [1, 1], [1.0, 2.0], [5.0, 6.0]), ([1], [1], [3.0], [4.0])),
        ("last", ([1, 2], [1, 1], [0.0, 2.0], None), ([3], [3], [3.0], None)),  # a 0 is not stored
        ("max", ([1, 2], [1, 1], [-1.0, 2.0], None), ([3], [3], [3.0], None)),
        ("last", ([1, 2], [1, 1], [1.0, 2.0], None), ([3], [3], [0.0], None)),
    ],
)
def test_ratings_decline_what_they_cannot_promise(duplicates: str, before: tuple, added: tuple) -> None:
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates=duplicates))  # type: ignore[arg-type]
    old, new = Interactions(*before), Interactions(*added)
    assert builder.update(builder.build(old), added_change(old, new)) is None


def test_weightings_are_built_again() -> None:
    builder = TFIDFMatrixBuilder(TFIDFConfig())
    before = Interactions([1, 2, 3], [1, 2, 3], [1.0, 2.0, 3.0])
    added = Interactions([4], [1], [1.0])
    assert builder.update(builder.build(before), added_change(before, added)) is None


def base_events(n: int = 600, seed: int = 5) -> Interactions:
    rng = np.random.default_rng(seed)
    return Interactions(rng.integers(0, 40, n), rng.integers(0, 30, n), rng.integers(1, 6, n).astype(float))


CONFIG = {"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "item_cf"}}


def test_recommender_update_is_incremental_and_equals_a_refit() -> None:
    base = base_events()
    new = Interactions([3, 41, 41], [2, 5, 31], [5.0, 4.0, 3.0])
    rec = Recommender.from_config(CONFIG).fit(base)
    previous = rec.interaction_matrix
    rec.update(new)
    assert rec.lineage[-1]["matrix"] == "incremental"
    same(rec.interaction_matrix, Recommender.from_config(CONFIG).fit(Interactions.concat(base, new)).interaction_matrix)
    same(previous, Recommender.from_config(CONFIG).fit(base).interaction_matrix)  # the old state is unchanged
    rec.forget(users=[41], items=[2])
    assert rec.lineage[-1]["matrix"] == "incremental"
    after = Interactions.concat(base, new)
    keep = (after.users != 41) & (after.items != 2)
    same(rec.interaction_matrix, Recommender.from_config(CONFIG).fit(after.take(keep)).interaction_matrix)


class PlainBuilder(MatrixBuilder):
    """A third-party builder with only ``build``."""

    name = "plain_test"
    Config = RatingsConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        return InteractionMatrix.from_interactions(interactions, np.ones(len(interactions)), "max")


def test_a_builder_without_update_is_built_again() -> None:
    base, new = base_events(), Interactions([45], [7], [2.0])
    rec = Recommender.from_config(CONFIG)
    rec.matrix = PlainBuilder(RatingsConfig())
    rec.fit(base).update(new)
    assert rec.lineage[-1]["matrix"] == "full"
    same(rec.interaction_matrix, PlainBuilder(RatingsConfig()).build(Interactions.concat(base, new)))


def test_a_builder_changed_since_the_fit_is_built_again() -> None:
    base, new = base_events(), Interactions([45], [7], [2.0])
    rec = Recommender.from_config(CONFIG).fit(base)
    rec.matrix = RatingsMatrixBuilder(RatingsConfig(duplicates="max"))  # not the builder of the fitted matrix
    rec.update(new)
    assert rec.lineage[-1]["matrix"] == "full"


class LeakingBuilder(RatingsMatrixBuilder):
    """Breaks the contract: its update keeps the previous matrix, forgotten users included."""

    name = "leaking_test"

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        return previous


def test_an_update_keeping_a_forgotten_id_is_a_plugin_error() -> None:
    rec = Recommender.from_config(CONFIG)
    rec.matrix = LeakingBuilder(RatingsConfig())
    rec.fit(base_events())
    fingerprint = rec.data_fingerprint
    with pytest.raises(PluginError, match=r"updated the matrix with 1 forgotten user id \(e\.g\. "):
        rec.forget(users=[3])
    assert rec.data_fingerprint == fingerprint  # nothing changed


class InventingBuilder(RatingsMatrixBuilder):
    """Breaks the contract: its update renames the newest user to an id the interactions never had."""

    name = "inventing_test"

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        updated = super().update(previous, change)
        assert updated is not None
        plain = updated.plain() if hasattr(updated, "plain") else updated
        ids = plain.users.ids.copy()
        ids[-1] = 10**6  # the largest id stays last: the index stays sorted
        return InteractionMatrix(plain.matrix, IdIndex(ids), plain.items)


@pytest.mark.parametrize("new_users", [[41], [41, 42]])
def test_an_update_inventing_an_id_is_a_plugin_error(new_users: list[int]) -> None:
    """New users are allowed only where the added events have them; the message names the invented id."""
    rec = Recommender.from_config(CONFIG)
    rec.matrix = InventingBuilder(RatingsConfig())
    rec.fit(base_events())
    fingerprint = rec.data_fingerprint
    with pytest.raises(PluginError, match=r"with 1 user id not in the interactions \(e\.g\. \[1000000\]\)"):
        rec.update(Interactions(new_users, [1] * len(new_users), [3.0] * len(new_users)))
    assert rec.data_fingerprint == fingerprint  # nothing changed


class HalvedRatings(RatingsMatrixBuilder):
    """A subclass that builds otherwise: it inherits ``update``, which must not answer for it."""

    name = "halved_test"

    def build(self, interactions: Interactions) -> InteractionMatrix:
        built = super().build(interactions)
        return InteractionMatrix(built.matrix / 2, built.users, built.items)


def test_a_subclass_that_builds_otherwise_is_built_again() -> None:
    builder = HalvedRatings(RatingsConfig())
    before, added = Interactions([1, 2], [1, 2], [2.0, 4.0]), Interactions([3], [3], [6.0])
    assert builder.update(builder.build(before), added_change(before, added)) is None


@pytest.mark.parametrize("loaded", [False, True])
def test_a_builder_swapped_after_fit_or_load_builds_the_matrix_again(tmp_path, loaded: bool):
    base = Interactions(np.array([1, 1, 2, 3]), np.array([10, 11, 10, 12]), np.array([1.0, 2.0, 3.0, 4.0]))
    added = Interactions(np.array([4, 2]), np.array([11, 12]), np.array([5.0, 2.0]))
    config = {"matrix": {"type": "ratings"}, "similarity": {"type": "sparse", "k": 2}, "ranker": {"type": "item_cf"}}
    rec = Recommender.from_config(config).fit(base)
    if loaded:  # a loaded model knows its matrix came from the saved configuration's builder
        rec = Recommender.load(rec.save(tmp_path / "model"))
    rec.matrix = BinaryMatrixBuilder(BinaryConfig())
    rec.update(added)
    assert rec.lineage[-1]["matrix"] == "full"
    want = BinaryMatrixBuilder(BinaryConfig()).build(Interactions.concat(base, added))
    same(rec._state().matrix, want)


def test_a_loaded_model_updates_its_matrix_incrementally(tmp_path):
    base = Interactions(np.array([1, 1, 2, 3]), np.array([10, 11, 10, 12]), np.array([1.0, 2.0, 3.0, 4.0]))
    added = Interactions(np.array([4, 2]), np.array([11, 12]), np.array([5.0, 2.0]))
    config = {"matrix": {"type": "ratings"}, "similarity": {"type": "sparse", "k": 2}, "ranker": {"type": "item_cf"}}
    rec = Recommender.load(Recommender.from_config(config).fit(base).save(tmp_path / "model"))
    rec.update(added)
    assert rec.lineage[-1]["matrix"] == "incremental"
    same(rec._state().matrix, RatingsMatrixBuilder(RatingsConfig()).build(Interactions.concat(base, added)))
