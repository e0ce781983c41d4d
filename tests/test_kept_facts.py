"""What a model's matrix and events keep once found: entry facts, value ranges, column counts, event ranges.

Each is checked against a fresh computation (by hand and on random data), for being given back
without a pass where it is kept, and for being found again where it may be stale.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.cells as cells_module
import recframe.engine.entry_facts as facts_module
import recframe.engine.transposes as transposes_module
from recframe import EventChange, IdIndex, InteractionMatrix, Interactions, Recommender
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.engine import column_counts, freeze, merge_cells, transpose, value_bounds, value_range
from recframe.engine.entry_facts import entry_facts, kept_entry_facts
from recframe.engine.kernel_inputs import kept_on
from recframe.recommender import held_events
from recframe.recommender.held_events import HeldEvents, ranges_after_removal, ranges_of
from recframe.testing import random_interactions


def _matrix(dense: list[list[float]]) -> InteractionMatrix:
    users, _ = IdIndex.encode(np.arange(len(dense)))
    items, _ = IdIndex.encode(np.arange(len(dense[0])))
    return InteractionMatrix(sp.csr_array(np.array(dense)), users, items)


def _no_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any pass over the entries fail the test."""

    def refuse(*args: object) -> None:
        raise AssertionError("a pass over the entries ran")

    monkeypatch.setattr(facts_module, "_compiled", refuse)
    monkeypatch.setattr(facts_module, "_numpy", refuse)


def test_the_facts_of_a_read_only_matrix_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix = _matrix([[1.0, 0.0, 2.5], [0.0, -3.0, 0.0]])
    freeze(matrix.matrix)
    facts, totals = entry_facts(matrix, columns=True)
    assert facts is not None
    assert (facts.low_value, facts.high_value, facts.nnz) == (-3.0, 2.5, 3) and totals is not None
    _no_pass(monkeypatch)
    again, kept_totals = entry_facts(matrix, columns=True)
    assert again == facts and kept_totals is not None
    assert kept_totals.counts.tolist() == [1, 1, 1] and kept_totals.sums.tolist() == [1.0, -3.0, 2.5]
    kept_totals.counts[0] = 99  # a copy: what is kept does not change
    assert entry_facts(matrix, columns=True)[1].counts.tolist() == [1, 1, 1]  # type: ignore[union-attr]
    assert value_range(matrix.matrix) == (-3.0, 2.5) and column_counts(matrix.matrix).tolist() == [1, 1, 1]


def test_facts_are_found_again_where_they_may_be_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    writable = _matrix([[1.0, 2.0]])
    entry_facts(writable)
    writable.matrix.data[0] = 7.0  # writable: nothing was kept
    assert entry_facts(writable)[0].high_value == 7.0  # type: ignore[union-attr]
    frozen = _matrix([[1.0, 2.0]])
    freeze(frozen.matrix)
    assert entry_facts(frozen)[0].high_value == 2.0  # type: ignore[union-attr]
    frozen.matrix.data = np.array([1.0, 9.0])  # other arrays: the kept facts are not theirs
    assert entry_facts(frozen)[0].high_value == 9.0  # type: ignore[union-attr]
    only_facts = _matrix([[4.0, 0.0]])
    freeze(only_facts.matrix)
    entry_facts(only_facts)
    _, totals = entry_facts(only_facts, columns=True)  # the totals were not kept: one more pass
    assert totals is not None and totals.counts.tolist() == [1, 0]


def test_a_resized_matrix_is_counted_again() -> None:
    x = freeze(sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])))
    assert column_counts(x).tolist() == [1, 1, 1] and value_range(x) == (1.0, 3.0)
    x.resize((2, 5))  # scipy keeps the arrays: only the shape tells
    assert column_counts(x).tolist() == [1, 1, 1, 0, 0]


def test_own_flags_the_matrix_and_what_it_views_read_only() -> None:
    base = np.array([1.0, 2.0, 3.0])
    matrix = _matrix([[1.0, 2.0]])
    matrix.matrix.data = base[:2]
    facts, _ = entry_facts(matrix, own=True)
    assert not base.flags.writeable and not matrix.matrix.data.flags.writeable
    assert facts is not None and facts.high_value == 2.0
    with pytest.raises(ValueError, match="read-only"):
        base[0] = 5.0


def test_value_range_by_hand_and_on_random_matrices() -> None:
    assert value_range(sp.csr_array(np.array([[0.0, -2.0], [5.0, 1.0]]))) == (-2.0, 5.0)
    assert value_range(sp.csr_array((2, 3))) is None
    odd = sp.csr_array(np.array([[1.0, 2.0, 3.0]]))
    odd.data[:] = [np.nan, -np.inf, 4.0]
    assert value_range(odd) == (4.0, 4.0)  # the finite ones, as the facts count them
    odd.data[:] = [np.nan, np.inf, -np.inf]
    assert value_range(odd) is None
    rng = np.random.default_rng(0)
    for seed in range(20):
        x = sp.random(30, 20, density=0.2, format="csr", random_state=seed, data_rvs=lambda n: rng.normal(0, 10, n))
        x = sp.csr_array(x)
        expected = (x.data.min(), x.data.max()) if x.nnz else None
        assert value_range(x) == expected
        assert value_range(freeze(x)) == expected and entry_facts(_wrap(x))[0] is not None
        assert kept_on(x, facts_module._FACTS) is not None and value_range(x) == expected  # kept now


def _wrap(x: sp.csr_array) -> InteractionMatrix:
    users, _ = IdIndex.encode(np.arange(x.shape[0]))
    items, _ = IdIndex.encode(np.arange(x.shape[1]))
    return InteractionMatrix(x, users, items)


@pytest.mark.parametrize("engine", ["scipy", "numba"])
def test_column_counts_are_kept_by_a_transpose_of_a_read_only_matrix(engine: str) -> None:
    x = freeze(sp.csr_array(sp.random(50, 40, density=0.1, format="csr", random_state=1)))
    expected = np.bincount(x.indices, minlength=40).tolist()
    assert kept_on(x, transposes_module._COUNTS) is None
    transpose(x, engine=engine)  # type: ignore[arg-type]
    assert kept_on(x, transposes_module._COUNTS)[0].tolist() == expected  # type: ignore[index]
    assert column_counts(x, engine=engine).tolist() == expected  # type: ignore[arg-type]
    writable = sp.csr_array(np.array([[1.0, 0.0], [2.0, 3.0]]))
    assert column_counts(writable).tolist() == [2, 1]
    writable.indices[2] = 0  # nothing kept on a writable matrix
    assert column_counts(writable).tolist() == [3, 0]


def test_value_bounds_of_an_update_by_hand() -> None:
    builder = RatingsMatrixBuilder(RatingsMatrixBuilder.Config())
    before = Interactions([0, 0, 1], [0, 1, 0], [1.0, 5.0, 2.0])
    built = builder.build(before)
    added = Interactions([1, 2], [1, 0], [7.0, 0.5])
    update = builder.update(built, EventChange(before, Interactions.concat(before, added), added=added))
    assert update is not None and value_bounds(built, update) == (0.5, 7.0)
    after = before.take(np.array([True, True, False]))
    forget = builder.update(built, EventChange(before, after, removed_users=np.array([1])))
    assert forget is not None and value_bounds(built, forget) == (1.0, 5.0)  # the old range bounds what is left


def test_bounds_that_fail_the_quick_test_lead_to_the_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forgotten user held a tiny value: the old range fails the quick test, the values left pass it."""
    builder = RatingsMatrixBuilder(RatingsMatrixBuilder.Config())
    before = Interactions([0, 0, 1, 2], [0, 1, 0, 1], [1.0, 2.0, 1e-150, 3.0])
    previous = builder.build(before)
    entry_facts(previous, own=True)  # kept, as a fitted model's
    after = before.take(np.array([True, True, False, True]))
    updated = builder.update(previous, EventChange(before, after, removed_users=np.array([1])))
    assert updated is not None
    np.testing.assert_array_equal(updated.matrix.toarray(), builder.build(after).matrix.toarray())


def test_ranges_after_a_removal_equal_those_found_again() -> None:
    rng = np.random.default_rng(2)
    for case in range(200):
        n = int(rng.integers(1, 40))
        values = rng.choice([0.5, 1.0, 3.0, 5.0], n)  # ties at both ends
        times = rng.random(n) * 100 if case % 3 else None
        events = Interactions(rng.integers(0, 5, n), rng.integers(0, 5, n), values, times)
        keep = rng.random(n) < (0.2, 0.8, 1.0)[case % 3]
        if case % 7 == 0:  # every event at an end removed
            keep &= values != values.min()
        kept = events.take(keep)
        assert ranges_after_removal(events, ranges_of(events), np.flatnonzero(~keep), kept) == ranges_of(kept)


def test_held_events_find_their_ranges_once() -> None:
    calls = []

    class Counted(Interactions):
        __slots__ = ()

        def column_range(self, name: str) -> tuple[float, float] | None:
            calls.append(name)
            return super().column_range(name)

    plain = random_interactions(seed=4)
    held = HeldEvents(Counted(plain.users, plain.items, plain.values, plain.timestamps))
    for _ in range(3):
        assert held.column_range("values") == plain.column_range("values")
        assert held.column_range("timestamps") == plain.column_range("timestamps")
    assert sorted(calls) == ["timestamps", "values"]
    with pytest.raises(ValueError, match="'values' or 'timestamps', not 'users'"):
        held.column_range("users")


def test_an_update_reads_no_column_of_the_models_events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events = random_interactions(n_users=60, n_items=40, seed=6)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(events)
    reads: list[tuple[int, str]] = []
    real = Interactions.column_range

    def spy(self: Interactions, name: str) -> tuple[float, float] | None:
        reads.append((len(self), threading.current_thread().name))
        return real(self, name)

    monkeypatch.setattr(Interactions, "column_range", spy)
    rec.update(Interactions([1, 999], [2, 3], [4.0, 5.0], [3e9, 3e9]))
    rec.forget(users=[999])  # held the latest time, as user 1 does: the worker finds a kept event there
    rec.update(Interactions([998], [4], [2.0], [3e9 + 1]))
    rec.save(tmp_path / "model")  # joins the events: the joined ones keep their ranges
    rec.update(Interactions([997], [5], [3.0], [3e9 + 2]))
    rec.update(Interactions([996], [6], [1.0], [3e9 + 3]))
    assert reads and all(n <= 2 or thread == "recframe-kept-events" for n, thread in reads)
    monkeypatch.undo()
    model = rec._state().interactions
    assert model is not None
    plain = Interactions(model.users, model.items, model.values, model.timestamps)
    assert ranges_of(model) == ranges_of(plain)


def _fresh_facts(x: sp.csr_array) -> tuple[object, object]:
    """The facts and column totals of a pass over a writable copy of `x` (nothing kept on it)."""
    copy = sp.csr_array((x.data.copy(), x.indices.copy(), x.indptr.copy()), shape=x.shape)
    return entry_facts(_wrap(copy), columns=True)


def _kept_facts(x: sp.csr_array) -> tuple[object, object, bool]:
    kept = kept_entry_facts(x)
    assert kept is not None, "the merge kept no facts"
    return kept


def test_a_merge_keeps_facts_derived_without_a_pass_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    x = _matrix([[1.0, 0.0, 2.0], [5.0, 3.0, 0.0], [0.0, 4.0, 6.0]])
    entry_facts(x, columns=True, own=True)  # as a fit keeps them
    _no_pass(monkeypatch)
    # drop row 1 (5 and 3), replace (0, 2) by 9, add (2, 0) = 0.5 and a new column 3 with 7
    cells = (np.array([0, 0, 1]), np.array([2, 3, 0]), np.array([9.0, 7.0, 0.5]))
    merged = merge_cells(x.matrix, np.array([0, -1, 1]), np.arange(3), (2, 4), cells)
    assert merged.matrix.toarray().tolist() == [[1.0, 0.0, 9.0, 7.0], [0.5, 4.0, 6.0, 0.0]]
    facts, totals, exact = _kept_facts(merged.matrix)
    assert (facts.nnz, facts.unordered, facts.low_index, facts.high_index) == (6, 0, 0, 3)
    assert (facts.non_finite, facts.zeros) == (0, 0)
    assert totals.counts.tolist() == [2, 1, 2, 1] and totals.sums.tolist() == [1.5, 4.0, 15.0, 7.0]
    # 5, 3 and 2 went, neither extreme (1, 6): the range stays exact, widened by the cells (0.5 to 9)
    assert (facts.low_value, facts.high_value, exact) == (0.5, 9.0, True)
    assert value_range(merged.matrix) == (0.5, 9.0)  # exact: no pass
    removed = merge_cells(x.matrix, np.array([0, 1, -1]), np.arange(3), (2, 3))  # 6, the largest, goes
    assert value_range(removed.matrix, bounds=True) == (1.0, 6.0)  # bounds, kept: no pass
    again = merge_cells(removed.matrix, np.arange(2), np.arange(3), (2, 3), (np.array([1]), np.array([2]), [2.5]))
    assert _kept_facts(again.matrix)[2] is False  # derived from bounds: bounds
    assert value_range(again.matrix, bounds=True) == (1.0, 6.0)
    monkeypatch.undo()
    assert value_range(removed.matrix) == (1.0, 5.0)  # the range itself takes a pass
    assert value_range(again.matrix) == (1.0, 5.0)


def test_a_merge_that_empties_the_matrix_keeps_no_range() -> None:
    x = _matrix([[1.0, 0.0], [0.0, 2.0]])
    entry_facts(x, columns=True, own=True)
    empty = merge_cells(x.matrix, np.array([-1, -1]), np.arange(2), (0, 2))
    facts, totals, exact = _kept_facts(empty.matrix)
    assert (facts.nnz, facts.low_index, facts.high_index, facts.low_value, facts.high_value, exact) == (
        0, 0, -1, np.inf, -np.inf, True,
    )  # fmt: skip
    assert totals.counts.tolist() == [0, 0] and value_range(empty.matrix, bounds=True) is None


def _random_change(
    rng: np.random.Generator, x: sp.csr_array
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A random merge of `x`: rows dropped and added, empty columns dropped, columns added, cells set."""
    n, m = x.shape
    row_map = np.where(rng.random(n) < 0.2, -1, 0)
    row_map[row_map == 0] = np.arange(int((row_map == 0).sum()))
    new_rows = int((row_map >= 0).sum()) + int(rng.integers(0, 3))
    # drop only empty columns (a dropped column with entries is not derived), add a few
    empty = np.bincount(x.indices, minlength=m) == 0
    column_map = np.where(empty & (rng.random(m) < 0.5), -1, 0)
    column_map[column_map == 0] = np.arange(int((column_map == 0).sum()))
    new_columns = int((column_map >= 0).sum()) + int(rng.integers(0, 3))
    places = rng.choice(new_rows * new_columns, size=min(15, new_rows * new_columns), replace=False)
    places.sort()
    cells = (places // new_columns, places % new_columns, rng.choice([0.5, 1.0, 2.5, 5.0, 7.5], len(places)))
    return row_map, column_map, (new_rows, new_columns), cells


@pytest.mark.parametrize("compiled", [False, True])
def test_facts_a_merge_derives_agree_with_a_pass_on_random_merges(
    monkeypatch: pytest.MonkeyPatch, compiled: bool
) -> None:
    """Merges of merges (facts derived from derived ones), with and without a combine, against a pass."""
    if compiled:
        monkeypatch.setattr(cells_module, "COMPILED_MIN_ENTRIES", 0)
    rng = np.random.default_rng(3)
    for seed in range(25):
        n, m = int(rng.integers(5, 40)), int(rng.integers(5, 30))
        values = lambda k: rng.choice([0.5, 1.0, 2.0, 3.0, 4.5, 5.0], k)  # noqa: E731 - ties with the extremes
        x = sp.csr_array(sp.random(n, m, density=0.3, format="csr", random_state=seed, data_rvs=values))
        x = freeze(x)
        entry_facts(_wrap(x), columns=True)
        for step in range(3):
            row_map, column_map, shape, cells = _random_change(rng, x)
            combine = np.maximum if (seed + step) % 3 == 0 else None
            merged = merge_cells(x, row_map, column_map, shape, cells, combine=combine, drop_emptied=seed % 2 == 0)
            facts, totals, exact = _kept_facts(merged.matrix)
            fresh, fresh_totals = _fresh_facts(merged.matrix)
            assert (facts.nnz, facts.unordered, facts.low_index, facts.high_index, facts.non_finite, facts.zeros) == (
                fresh.nnz, fresh.unordered, fresh.low_index, fresh.high_index, fresh.non_finite, fresh.zeros,
            )  # fmt: skip
            assert totals.counts.tolist() == fresh_totals.counts.tolist()
            np.testing.assert_allclose(totals.sums, fresh_totals.sums, rtol=1e-12, atol=1e-12)
            assert facts.low_value <= fresh.low_value and facts.high_value >= fresh.high_value
            if exact:
                assert (facts.low_value, facts.high_value) == (fresh.low_value, fresh.high_value)
            x = merged.matrix  # the next merge derives from these facts


def test_a_merge_keeps_no_facts_it_cannot_derive() -> None:
    x = _matrix([[1.0, 2.0], [3.0, 0.0]])
    plain = merge_cells(x.matrix, np.arange(2), np.arange(2), (2, 2))
    assert kept_entry_facts(plain.matrix) is None  # none kept on the input: none derived
    entry_facts(x, columns=True, own=True)
    dropped = merge_cells(x.matrix, np.arange(2), np.array([0, -1]), (2, 1))  # column 1 held an entry
    assert kept_entry_facts(dropped.matrix) is None
    assert kept_entry_facts(merge_cells(x.matrix, np.arange(2), np.arange(2), (2, 2)).matrix) is not None


def test_an_update_and_a_forget_check_their_matrix_without_a_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kept totals agree with a pass after each, and the items' rows were merged (not made anew)."""
    events = random_interactions(n_users=60, n_items=40, seed=7)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(events)
    _no_pass(monkeypatch)
    for change in (lambda: rec.update(Interactions([1, 999], [2, 3], [4.0, 5.0], [3e9, 3e9])),
                   lambda: rec.forget(users=[999, 1])):  # fmt: skip
        change()
        state = rec._state()
        assert state.item_rows is not None  # merged: a transpose made anew comes later, when read
        kept = kept_entry_facts(state.matrix.matrix)
        assert kept is not None
        counts, sums = _column_totals_by_numpy(state.matrix.matrix)  # the passes are refused here
        assert kept[1].counts.tolist() == counts.tolist()
        np.testing.assert_allclose(kept[1].sums, sums, rtol=1e-12)
    monkeypatch.undo()
    refit = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(rec._state().interactions)
    assert (rec._state().matrix.matrix != refit._state().matrix.matrix).nnz == 0


def _column_totals_by_numpy(x: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Each column's count and sum of values of `x`, by numpy."""
    return np.bincount(x.indices, minlength=x.shape[1]), np.bincount(x.indices, weights=x.data, minlength=x.shape[1])


@pytest.mark.parametrize("block", [1, 3, 1 << 16])
def test_a_range_after_a_removal_stops_at_a_kept_end_and_finds_a_moved_one(
    block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read a block at a time: both ends kept, one moved (the latest event forgotten), both moved, NaN."""
    monkeypatch.setattr(held_events, "_BLOCK", block)
    values = np.array([3.0, 1.0, 5.0, 2.0, 5.0, 1.0, 4.0])
    times = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 99.0])
    events = Interactions(np.arange(7), np.arange(7), values, times)
    for removed in ([6], [1, 2], [1, 5, 6], [0, 2, 4, 6], [3]):
        positions = np.array(removed)
        kept = events.take(np.setdiff1d(np.arange(7), positions))
        assert ranges_after_removal(events, ranges_of(events), positions, kept) == ranges_of(kept)
    nan = Interactions._unchecked(np.arange(3), np.arange(3), np.array([np.nan, 1.0, 2.0]), None)
    kept = nan.take(np.array([1, 2]))
    assert ranges_after_removal(nan, ranges_of(nan), np.array([0]), kept) == {"values": (1.0, 2.0), "timestamps": None}
