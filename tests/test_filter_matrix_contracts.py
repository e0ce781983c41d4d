"""What the engine checks of filters, matrix builders and rating metrics (issue 11).

A filter may only remove events: its result must be a sub-multiset of its input rows (same
user, item, value and timestamp) and it must not write to its input. A matrix builder must
return canonical CSR whose ids are the interactions' ids. Rating metrics need training ratings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import ComponentConfig, ConfigError, Interactions, Metric, PluginError, Recommender, Splitter
from recframe.builtin.filters import (
    CapUserEventsFilter,
    DuplicatesFilter,
    KCoreFilter,
    RatingThresholdFilter,
    RecentNFilter,
    TimeWindowFilter,
)
from recframe.builtin.matrix_builders import (
    BinaryMatrixBuilder,
    BM25MatrixBuilder,
    LogConfidenceMatrixBuilder,
    RatingsMatrixBuilder,
    TFIDFMatrixBuilder,
)
from recframe.data import IdIndex, InteractionMatrix
from recframe.interfaces import Filter, MatrixBuilder
from recframe.interfaces.checks import check_matrix
from recframe.recommender.filtering import apply_filters, check_subset
from recframe.registry import builtin_registry
from recframe.testing import random_interactions

WHO = "filter 'bad' (recframe-bad 0.0.1)"


def _events(seed: int = 0, n: int = 300) -> Interactions:
    rng = np.random.default_rng(seed)
    return Interactions(
        rng.integers(0, 30, n), rng.integers(0, 40, n),
        rng.integers(1, 6, n).astype(float), rng.integers(0, 10_000, n).astype(float),
    )


class _Edit(Filter):
    """A filter that applies a given function: the ways a plugin filter can go wrong."""

    name = "bad"
    Config = ComponentConfig

    def __init__(self, edit: Callable[[Interactions], Interactions]) -> None:
        super().__init__(ComponentConfig())
        self.edit = edit

    def apply(self, interactions: Interactions) -> Interactions:
        return self.edit(interactions)


def _zero_in_place(it: Interactions) -> Interactions:
    assert it.values is not None
    it.values[:] = 0.0
    return it


def _run(edit: Callable[[Interactions], Interactions], data: Interactions | None = None) -> Interactions:
    return apply_filters(_events() if data is None else data, [_Edit(edit)], [WHO])[0]


BROKEN_FILTERS = {  # the same number of events (or fewer), but not a subset of the input
    "invented users": (lambda it: Interactions(it.users + 1000, it.items, it.values, it.timestamps),
                       "event that is not among its input"),
    "ids as strings": (lambda it: Interactions(it.users.astype(str), it.items, it.values, it.timestamps),
                       "returned users of dtype"),
    "changed values": (lambda it: Interactions(it.users, it.items, -it.values, it.timestamps),
                       "event that is not among its input"),
    "shifted timestamps": (lambda it: Interactions(it.users, it.items, it.values, it.timestamps[::-1]),
                           "event that is not among its input"),
    "a duplicate": (lambda it: it.take(np.r_[np.arange(len(it) - 1), 0]),
                    "event more often than its input has it"),
    "fewer events, one repeated": (lambda it: it.take(np.r_[0, 0, 0]), "event more often than its input"),
    "dropped timestamps": (lambda it: Interactions(it.users, it.items, it.values, None),
                           "dropped the timestamps column"),
    "in-place write": (_zero_in_place, "modified its input in place"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_FILTERS))
def test_a_filter_result_that_is_not_a_subset_of_its_input_is_blamed_on_the_filter(case: str) -> None:
    edit, expected = BROKEN_FILTERS[case]
    data = _events()
    before = data.fingerprint()
    with pytest.raises(PluginError, match=rf"^filter 'bad' \(recframe-bad 0\.0\.1\) .*{expected}"):
        _run(edit, data)
    assert data.fingerprint() == before  # nothing was changed in place


def test_the_first_offending_event_is_shown() -> None:
    data = Interactions(np.array([1, 2, 3]), np.array([7, 8, 9]), np.array([1.0, 2.0, 3.0]))
    with pytest.raises(PluginError, match=r"at row 1 \(user 99, item 8, value 2\.0\), 1 such events in all"):
        _run(lambda it: Interactions(np.array([1, 99]), it.items[:2], it.values[:2]), data)  # type: ignore[index]


@pytest.mark.parametrize("rows", [
    lambda n: np.arange(n),  # everything
    lambda n: np.arange(n)[::-1],  # reordered
    lambda n: np.arange(0, n, 3),  # a subset
    lambda n: np.r_[np.arange(n), np.arange(n)][n // 2: n // 2 + 5],  # a window
])
def test_subsets_in_any_order_pass(rows: Callable[[int], np.ndarray]) -> None:
    data = _events()
    result = _run(lambda it: it.take(rows(len(it))), data)
    assert len(result) == len(rows(len(data)))


def test_repeated_input_events_may_be_kept_as_often_as_they_occur() -> None:
    data = Interactions(np.array(["a", "a", "b"]), np.array(["x", "x", "y"]))
    assert len(_run(lambda it: it, data)) == 3
    assert len(_run(lambda it: it.take(np.array([1, 0])), data)) == 2
    with pytest.raises(PluginError, match="more often"):
        check_subset(data, data.take(np.array([0, 1, 0])), WHO)


@pytest.mark.parametrize("seed", range(20))
def test_the_subset_check_agrees_with_counting_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 60
    data = Interactions(rng.integers(0, 4, n).astype(str), rng.integers(0, 3, n),
                        rng.integers(1, 3, n).astype(float), rng.integers(0, 2, n).astype(float))
    rows = rng.integers(0, n, int(rng.integers(1, n)))
    users = data.users[rows].copy()
    if seed % 2:  # half the cases invent a user somewhere
        users[rng.integers(0, len(rows))] = str(rng.integers(0, 6))
    result = Interactions(users, data.items[rows], data.values[rows], data.timestamps[rows])  # type: ignore[index]

    def counted(part: Interactions) -> Counter[tuple[object, ...]]:
        return Counter(zip(*(getattr(part, c).tolist() for c in ("users", "items", "values", "timestamps")),
                           strict=True))

    expected = not counted(result) - counted(data)
    try:
        check_subset(data, result, WHO)
    except PluginError:
        assert not expected
    else:
        assert expected


def test_negative_zero_is_the_value_zero() -> None:
    data = Interactions(np.array([1]), np.array([2]), np.array([0.0]))
    check_subset(data, Interactions(np.array([1]), np.array([2]), np.array([-0.0])), WHO)


def test_returning_the_input_itself_keeps_the_original_arrays() -> None:
    data = _events()
    result = _run(lambda it: it, data)
    assert result is data and data.values is not None and data.values.flags.writeable


@pytest.mark.parametrize("component", [
    KCoreFilter(min_user_interactions=3, min_item_interactions=3),
    RatingThresholdFilter(min_rating=3),
    TimeWindowFilter(start=1000.0, end=9000.0),
    RecentNFilter(n=4),
    CapUserEventsFilter(max_events=4, keep="random", seed=3),
    DuplicatesFilter(),
])
def test_built_in_filters_keep_the_contract(component: Filter) -> None:
    data = random_interactions(40, 30, density=0.2, seed=5)
    data = Interactions(data.users, data.items, data.values, np.arange(len(data), dtype=float) * 100)
    before = data.fingerprint()
    result, steps = apply_filters(data, [component], ["filter"])
    check_subset(data, result, "filter")
    assert data.fingerprint() == before and steps[0].events_after == len(result)


def test_the_filter_report_counts_real_users() -> None:
    data = _events()
    keep_two_users = _Edit(lambda it: it.take(np.isin(it.users, [0, 1])))
    _, [step] = apply_filters(data, [keep_two_users], [WHO])
    assert (step.users_before, step.users_after) == (len(np.unique(data.users)), 2)


# matrix builders ---------------------------------------------------------------------------------


class _Matrix(MatrixBuilder):
    """A matrix builder that returns a given function of the interactions."""

    name = "bad_matrix"
    Config = ComponentConfig

    def __init__(self, make: Callable[[Interactions], InteractionMatrix]) -> None:
        super().__init__(ComponentConfig())
        self.make = make

    def build(self, interactions: Interactions) -> InteractionMatrix:
        return self.make(interactions)


def _good(it: Interactions) -> InteractionMatrix:
    return InteractionMatrix.from_interactions(it, np.ones(len(it)), "max")


def _with(it: Interactions, edit: Callable[[sp.csr_array], sp.csr_array]) -> InteractionMatrix:
    good = _good(it)
    return InteractionMatrix(edit(good.matrix.copy()), good.users, good.items)


def _reversed_rows(m: sp.csr_array) -> sp.csr_array:
    data, indices = m.data.copy(), m.indices.copy()
    for row in range(m.shape[0]):
        lo, hi = m.indptr[row], m.indptr[row + 1]
        data[lo:hi], indices[lo:hi] = data[lo:hi][::-1], indices[lo:hi][::-1]
    return sp.csr_array((data, indices, m.indptr.copy()), shape=m.shape)


def _repeated_column(m: sp.csr_array) -> sp.csr_array:
    indices = m.indices.copy()
    row = int(np.flatnonzero(np.diff(m.indptr) >= 2)[0])
    indices[m.indptr[row] + 1] = indices[m.indptr[row]]
    return sp.csr_array((m.data.copy(), indices, m.indptr.copy()), shape=m.shape)


def _explicit_zero(m: sp.csr_array) -> sp.csr_array:
    m.data[0] = 0.0
    return m


def _other_users(it: Interactions) -> InteractionMatrix:
    good = _good(it)
    return InteractionMatrix(good.matrix, IdIndex(good.users.ids + 1000), good.items)


def _string_items(it: Interactions) -> InteractionMatrix:
    good = _good(it)
    return InteractionMatrix(good.matrix, good.users, IdIndex(good.items.ids.astype(str)))


BROKEN_MATRICES = {
    "unsorted indices": (lambda it: _with(it, _reversed_rows), r"not canonical: \d+ unsorted column indices"),
    "repeated indices": (lambda it: _with(it, _repeated_column), r"not canonical: 1 repeated column indices"),
    "explicit zero": (lambda it: _with(it, _explicit_zero), r"storing 1 explicit zeros; .*eliminate_zeros"),
    "invented user ids": (_other_users, r"\d+ user ids not in the interactions \(e\.g\. \[1000, "),
    "string item ids": (_string_items, r"item ids of dtype <U\d+, but the interactions' item ids are int64"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_MATRICES))
def test_a_matrix_that_is_not_the_interactions_canonical_matrix_is_blamed_on_the_builder(case: str) -> None:
    make, expected = BROKEN_MATRICES[case]
    data = _events()
    with pytest.raises(PluginError, match=rf"^matrix 'bad_matrix' .*{expected}"):
        Recommender(matrix=_Matrix(make)).fit(data)
    with pytest.raises(PluginError, match=expected):
        check_matrix(make(data), "matrix 'x'", data)


def test_a_matrix_over_fewer_users_than_the_interactions_is_fine() -> None:
    data = _events()
    kept = data.take(data.users != 0)
    rec = Recommender(matrix=_Matrix(lambda it: _good(kept))).fit(data)
    assert len(rec.recommend([1], n=3).ranked.items[0]) == 3


@pytest.mark.parametrize("builder", [
    RatingsMatrixBuilder(), BinaryMatrixBuilder(), BinaryMatrixBuilder(threshold=3.0),
    TFIDFMatrixBuilder(), BM25MatrixBuilder(), LogConfidenceMatrixBuilder(),
])
def test_built_in_matrix_builders_keep_the_contract(builder: MatrixBuilder) -> None:
    data = random_interactions(30, 25, density=0.3, seed=2)
    check_matrix(builder.build(data), "matrix", data)


# rating metrics ----------------------------------------------------------------------------------


def test_rating_metrics_need_ratings_in_the_training_part() -> None:
    reg = builtin_registry()
    data = _events()
    rec = Recommender(
        splitter=reg.create("splitter", "predefined", Splitter),
        metrics=[reg.create("metric", "ndcg", Metric, k=5), reg.create("metric", "rmse", Metric),
                 reg.create("metric", "mae", Metric)],
    )
    with pytest.raises(ConfigError, match=r"^metric 'rmse', 'mae' .*the training data has no ratings"):
        rec.evaluate((data.users, data.items), test=(data.users[:20], data.items[:20], data.values[:20]))
    result = rec.evaluate((data.users, data.items, data.values), test=(data.users[:20], data.items[:20],
                                                                       data.values[:20]))
    assert np.isfinite(result.folds[0].metrics["rmse"])


def test_a_split_of_data_without_ratings_refuses_rating_metrics_too() -> None:
    reg = builtin_registry()
    data = _events()
    rec = Recommender(
        splitter=reg.create("splitter", "random_holdout", Splitter),
        metrics=[reg.create("metric", "rmse", Metric)],
    )
    with pytest.raises(ConfigError, match="training data has no ratings"):
        rec.evaluate(Interactions(data.users, data.items))


def test_rating_metrics_refuse_a_matrix_that_drops_the_ratings() -> None:
    reg = builtin_registry()
    data = _events()
    rec = Recommender(
        matrix=BinaryMatrixBuilder(), splitter=reg.create("splitter", "predefined", Splitter),
        metrics=[reg.create("metric", "rmse", Metric)],
    )
    with pytest.raises(ConfigError, match=r"^metric 'rmse' .*matrix 'binary' .*stores 1\.0 for every entry"):
        rec.evaluate(data, test=(data.users[:20], data.items[:20], data.values[:20]))  # type: ignore[index]
