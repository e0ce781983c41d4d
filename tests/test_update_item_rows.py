"""The items' rows of an updated model merged from the old ones and the changed cells: the transpose, or None."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.recommender.fitting as fitting
import recframe.recommender.item_rows as item_rows_module
from recframe import Interactions, Recommender
from recframe.engine import check_transpose, transpose
from recframe.engine import pairs as engine_pairs
from recframe.engine.entry_facts import ColumnTotals
from recframe.interfaces import CellChanges
from recframe.recommender.item_rows import updated_item_rows
from recframe.testing import random_interactions

CONFIG = {"similarity": {"type": "sparse", "k": 5, "update_slack": 5}, "ranker": {"type": "item_cf", "n": 5}}


def _same(a: sp.csr_array, b: sp.csr_array) -> bool:
    pairs = zip((a.indptr, a.indices, a.data), (b.indptr, b.indices, b.data), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


@pytest.mark.parametrize("seed", range(6))
def test_updates_and_forgets_keep_the_transpose(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(seed)
    events = random_interactions(n_users=50, n_items=30, density=0.2, seed=seed)
    rec = Recommender.from_config(CONFIG).fit(events)
    n = 12
    new = Interactions(
        rng.integers(0, 70, n), rng.integers(0, 40, n), rng.integers(1, 6, n).astype(float), np.full(n, 2e9)
    )

    def no_transpose(matrix: sp.csr_array) -> sp.csr_array:
        raise AssertionError("transposed anew")

    monkeypatch.setattr(fitting, "transpose", no_transpose)  # the items' rows must come from the merge
    rec.update(new)
    state = rec._state()
    assert _same(state.item_rows, transpose(state.matrix.matrix))
    calls = []
    original_check = engine_pairs._check_pair
    monkeypatch.setattr(engine_pairs, "_check_pair", lambda *a, **k: calls.append(1))
    check_transpose(state.matrix.matrix, state.item_rows)  # marked: not checked again
    assert calls == []
    monkeypatch.setattr(engine_pairs, "_check_pair", original_check)
    rec.forget(users=[int(state.matrix.users.ids[seed])], items=[int(state.matrix.items.ids[-1])])
    state = rec._state()
    assert _same(state.item_rows, transpose(state.matrix.matrix))


def _cells(rows: list[int], columns: list[int], before: list[float], after: list[float]) -> CellChanges:
    r, c = np.array(rows, dtype=np.int64), np.array(columns, dtype=np.int64)
    return CellChanges(r, c, r, c, np.array(before), np.array(after))


def test_cells_that_dont_account_for_the_change_give_none() -> None:
    old = sp.csr_array(np.array([[1.0, 2.0], [0.0, 3.0]]))  # users x items
    identity = np.arange(2)
    new = sp.csr_array(np.array([[1.0, 2.0], [4.0, 3.0]]))
    right = updated_item_rows(transpose(old), _cells([1], [0], [0.0], [4.0]), identity, identity, new)
    assert right is not None and right.toarray().tolist() == new.toarray().T.tolist()
    missing = updated_item_rows(transpose(old), _cells([], [], [], []), identity, identity, new)
    assert missing is None  # the counts of item 0 disagree
    removed = sp.csr_array(np.array([[1.0, 0.0], [0.0, 3.0]]))
    kept_cell_removed = updated_item_rows(transpose(old), _cells([0], [1], [2.0], [0.0]), identity, identity, removed)
    assert kept_cell_removed is None
    twice = updated_item_rows(transpose(old), _cells([1, 1], [0, 0], [0.0, 0.0], [4.0, 4.0]), identity, identity, new)
    assert twice is None


def _totals(x: sp.csr_array) -> ColumnTotals:
    sums = np.bincount(x.indices, x.data, x.shape[1]).astype(np.float64)
    return ColumnTotals(np.bincount(x.indices, minlength=x.shape[1]), sums)


@pytest.mark.parametrize("from_previous", [False, True])  # the rows' sums counted, or the previous ones and the cells
def test_a_changed_value_the_cells_leave_out_gives_none(from_previous: bool) -> None:
    old = sp.csr_array(np.array([[1.0, 2.0], [0.0, 3.0]]))  # users x items
    identity = np.arange(2)
    changed = sp.csr_array(np.array([[1.0, 5.0], [0.0, 3.0]]))  # cell (0, 1): 2 -> 5, not reported
    known = (_totals(changed), _totals(old)) if from_previous else (None, None)
    assert updated_item_rows(transpose(old), _cells([], [], [], []), identity, identity, changed, *known) is None
    reported = updated_item_rows(transpose(old), _cells([0], [1], [2.0], [5.0]), identity, identity, changed, *known)
    assert reported is not None and reported.toarray().tolist() == changed.toarray().T.tolist()
    unchanged_listed = _cells([0, 1], [1, 1], [2.0, 3.0], [5.0, 3.0])  # a listed cell that did not change: harmless
    assert updated_item_rows(transpose(old), unchanged_listed, identity, identity, changed, *known) is not None


def test_the_previous_sums_and_a_forgotten_users_cells_give_the_new_sums() -> None:
    old = sp.csr_array(np.array([[1.0, 2.0, 0.0], [4.0, 0.0, 6.0], [0.0, 8.0, 9.0]]))  # users x items
    new = sp.csr_array(np.array([[1.0, 2.0, 0.0], [0.0, 8.0, 9.0]]))  # user 1 forgotten
    user_map, item_map = np.array([0, -1, 1]), np.arange(3)
    rows, columns, places = np.array([1, 1]), np.array([0, 2]), np.array([-1, -1])
    gone = CellChanges(rows, columns, places, columns, np.array([4.0, 6.0]), np.zeros(2))
    merged = updated_item_rows(transpose(old), gone, item_map, user_map, new, _totals(new), _totals(old))
    assert merged is not None and merged.toarray().tolist() == new.toarray().T.tolist()
    half = CellChanges(rows[:1], columns[:1], places[:1], columns[:1], gone.before[:1], gone.after[:1])
    assert updated_item_rows(transpose(old), half, item_map, user_map, new, _totals(new), _totals(old)) is None


def test_an_update_checks_the_merged_rows_from_the_kept_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = Recommender.from_config(CONFIG).fit(random_interactions(n_users=50, n_items=30, density=0.2, seed=1))
    expected: list[object] = []
    real = item_rows_module._expected_sums

    def spy(*args: Any) -> Any:
        expected.append(real(*args))
        return expected[-1]

    monkeypatch.setattr(item_rows_module, "_expected_sums", spy)
    monkeypatch.setattr(
        fitting, "transpose", lambda matrix: pytest.fail("transposed anew: the check refused the merge")
    )
    rec.update(Interactions([1, 77], [2, 3], [4.0, 5.0], [2e9, 2e9]))
    rec.forget(users=[77])
    assert len(expected) == 2 and all(sums is not None for sums in expected)
    state = rec._state()
    assert _same(state.item_rows, transpose(state.matrix.matrix))
