"""The changed cells a matrix builder reports are checked before the neighbour update trusts them.

Found by an outside review: a plugin builder whose ``MatrixUpdate`` left cells out (or got a
value wrong) gave neighbours a refit does not, with nothing said; malformed cells ended in an
``IndexError`` that named no plugin.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from recframe import Interactions, Recommender
from recframe.builtin.matrix_builders import RatingsConfig, RatingsMatrixBuilder
from recframe.data import InteractionMatrix
from recframe.engine.entry_facts import ColumnTotals
from recframe.errors import PluginError
from recframe.interfaces import CellChanges, EventChange, MatrixUpdate
from recframe.recommender.cell_checks import cells_agree, check_cells
from recframe.testing import assert_same_neighbours


def cells(**changed: Any) -> CellChanges:
    """Two cells of 3 x 2 matrices (before and after): (0, 1) set from 2 to 5, and (2, 0) new at 4."""
    base = {
        "previous_rows": np.array([0, -1]), "previous_columns": np.array([1, 0]),
        "rows": np.array([0, 2]), "columns": np.array([1, 0]),
        "before": np.array([2.0, 0.0]), "after": np.array([5.0, 4.0]),
    }  # fmt: skip
    return CellChanges(**{**base, **changed})


SHAPES = ((2, 2), (3, 2))


@pytest.mark.parametrize(
    ("changed", "problem"),
    [
        ({"rows": np.array([0])}, r"have arrays of different lengths \(previous_rows 2, previous_columns 2, rows 1,"),
        ({"columns": np.array([1, 2])}, "place a cell at columns 2, outside -1..1"),
        ({"previous_rows": np.array([0, -2])}, "place a cell at previous_rows -2, outside -1..1"),
        ({"rows": np.array([0.0, 2.0])}, "have rows of float64, not integers"),
        ({"after": np.array([5.0, np.nan])}, r"have a value in after that is not finite \(nan\)"),
        ({"before": np.array([2, 0])}, "have before of int64, not floats"),
        ({"after": [5.0, 4.0]}, "have a after that is not a one-dimensional numpy array"),
    ],
)
def test_malformed_cells_are_a_plugin_error_naming_the_builder(changed: dict[str, Any], problem: str) -> None:
    with pytest.raises(PluginError, match=f"^matrix 'x' returned a MatrixUpdate whose cells {problem}"):
        check_cells(cells(**changed), SHAPES, "matrix 'x'")
    good = cells()
    assert check_cells(good, SHAPES, "matrix 'x'") is good


def test_cells_agree_with_the_items_counts_and_sums_by_hand() -> None:
    """Item 0: 1 entry of 3.0 before, kept as item 0; the new cell (2, 0) = 4 makes 2 entries, 7.0.

    Item 1: 1 entry of 2.0 set to 5.0: 1 entry, 5.0.
    """
    previous = ColumnTotals(np.array([1, 1]), np.array([3.0, 2.0]))
    item_map = np.array([0, 1])
    assert cells_agree(cells(), item_map, ColumnTotals(np.array([2, 1]), np.array([7.0, 5.0])), previous)
    assert not cells_agree(cells(), item_map, ColumnTotals(np.array([3, 1]), np.array([7.0, 5.0])), previous)
    assert not cells_agree(cells(), item_map, ColumnTotals(np.array([2, 1]), np.array([7.0, 6.0])), previous)


class LeavesCellsOut(RatingsMatrixBuilder):
    """A plugin-style builder whose update reports only some of its changed cells (`keep`: how many)."""

    name = "leaves_cells_out"
    keep = 0

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        got = super().update(previous, change)
        if not isinstance(got, MatrixUpdate):
            return got
        c, k = got.cells, self.keep
        part = replace(c, previous_rows=c.previous_rows[:k], previous_columns=c.previous_columns[:k],
                       rows=c.rows[:k], columns=c.columns[:k], before=c.before[:k], after=c.after[:k])  # fmt: skip
        return MatrixUpdate(got.matrix, got.users, got.items, part)


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
@pytest.mark.parametrize("keep", [0, 5])
def test_cells_left_out_are_seen_and_the_matrices_compared(
    ranker: str, keep: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Changed ratings of known cells among the new events: cells left out change an item's sum, if not its count."""
    config = {
        "similarity": {"type": "sparse", "measure": "cosine", "k": 5, "update_slack": 5},
        "ranker": {"type": ranker, "n": 5},
    }
    rng = np.random.default_rng(3)
    base = Interactions(rng.integers(0, 60, 900), rng.integers(0, 40, 900), rng.integers(1, 6, 900).astype(float))
    changed = (base.values[:20] % 5) + 1  # known cells rated again, differently
    users, items = np.r_[base.users[:20], rng.integers(50, 70, 40)], np.r_[base.items[:20], rng.integers(0, 45, 40)]
    new = Interactions(users, items, np.r_[changed, rng.integers(1, 6, 40)].astype(float))
    builder = LeavesCellsOut(RatingsConfig(duplicates="last"))
    builder.keep = keep
    rec = Recommender.from_config(config)
    rec.matrix = builder
    with caplog.at_level(logging.WARNING, logger="recframe"):
        rec.fit(base).update(new).forget(users=[3, 8])
    assert rec.lineage[-2]["matrix"] == rec.lineage[-1]["matrix"] == "incremental"
    told = [r.getMessage() for r in caplog.records if "disagree with its matrix" in r.getMessage()]
    assert len(told) == 2 and told[0].startswith("matrix 'leaves_cells_out'")
    after = Interactions.concat(base, new)
    refit = Recommender.from_config({**config, "matrix": {"type": "ratings", "duplicates": "last"}})
    refit.fit(after.take(~np.isin(after.users, [3, 8])))
    assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)  # type: ignore[attr-defined]


class ReportsNaN(RatingsMatrixBuilder):
    """A builder whose update reports a cell's new value as NaN."""

    name = "reports_nan"

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        got = super().update(previous, change)
        assert isinstance(got, MatrixUpdate)
        after = got.cells.after.copy()
        after[0] = np.nan
        return MatrixUpdate(got.matrix, got.users, got.items, replace(got.cells, after=after))


def test_malformed_cells_leave_the_model_as_it_was() -> None:
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}, "ranker": {"type": "item_cf"}})
    rec.matrix = ReportsNaN(RatingsConfig())
    rec.fit(Interactions([1, 1, 2, 2, 3], [10, 11, 10, 12, 11], [4.0, 3.0, 5.0, 2.0, 1.0]))
    before = rec._state()
    with pytest.raises(PluginError, match=r"^matrix 'reports_nan'.* cells have a value in after that is not finite"):
        rec.update(Interactions([4], [12], [5.0]))
    assert rec._state() is before
