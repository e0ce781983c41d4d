"""The changed cells a matrix builder reports (:class:`CellChanges`), and the update that uses them.

``ratings`` and ``binary`` return a :class:`MatrixUpdate` listing every cell they changed; the
neighbour lists then take the change of the rows and the columns' entry counts from those cells
instead of comparing every entry. Checked by hand, against a brute-force comparison of the two
matrices, and the lists against the comparison path (bit for bit) and a brute-force search; a
third-party builder that reports nothing keeps the comparison path.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import CellChanges, EventChange, InteractionMatrix, Interactions, MatrixUpdate, Recommender
from recframe.builtin.matrix_builders import BinaryConfig, BinaryMatrixBuilder, RatingsConfig, RatingsMatrixBuilder
from recframe.recommender import graph_delta
from recframe.recommender.graph_delta import update_lists
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.testing import assert_same_neighbours
from tests.test_update_cost import _cosine_search, _maps, _random_rows, old_in_new_positions


def test_cells_of_an_update_and_a_forget_by_hand() -> None:
    """Users 10, 20 x items a, c; then (10, b) and (15, c) are new cells and (20, a) is rated again."""
    builder = RatingsMatrixBuilder(RatingsConfig(duplicates="last"))
    before = Interactions([10, 10, 20], ["a", "c", "a"], [1.0, 2.0, 3.0])
    previous = builder.build(before)
    added = Interactions([10, 15, 20], ["b", "c", "a"], [4.0, 5.0, 6.0])
    got = builder.update(previous, EventChange(before, Interactions.concat(before, added), added=added))
    assert isinstance(got, MatrixUpdate)
    cells = got.cells
    assert cells.previous_rows.tolist() == [0, -1, 1] and cells.previous_columns.tolist() == [-1, 1, 0]
    assert cells.rows.tolist() == [0, 1, 2] and cells.columns.tolist() == [1, 2, 0]
    assert cells.before.tolist() == [0.0, 0.0, 3.0] and cells.after.tolist() == [4.0, 5.0, 6.0]
    plain = got.plain()
    assert type(plain) is InteractionMatrix and plain.matrix is got.matrix
    forgot = builder.update(
        previous, EventChange(before, before.take(before.users != 10), removed_users=np.array([10]))
    )
    assert isinstance(forgot, MatrixUpdate)
    cells = forgot.cells  # user 10 goes, and item c with it (nobody else rated it)
    assert cells.previous_rows.tolist() == [0, 0] and cells.previous_columns.tolist() == [0, 1]
    assert cells.rows.tolist() == [-1, -1] and cells.columns.tolist() == [0, -1]
    assert cells.before.tolist() == [1.0, 2.0] and cells.after.tolist() == [0.0, 0.0]
    swapped = cells.transposed()
    assert swapped.rows.tolist() == [0, -1] and swapped.previous_columns.tolist() == [0, 0]


def _cell_values(matrix: InteractionMatrix) -> dict[tuple[object, object], float]:
    coo = matrix.matrix.tocoo()
    return {
        (matrix.users.ids[r].item(), matrix.items.ids[c].item()): float(v)
        for r, c, v in zip(coo.row, coo.col, coo.data, strict=True)
    }


def _assert_cells_are_the_difference(previous: InteractionMatrix, got: MatrixUpdate) -> None:
    """Every cell whose value differs is listed once, at the right positions, with both values."""
    old, new = _cell_values(previous), _cell_values(got)
    want = {cell: (old.get(cell, 0.0), new.get(cell, 0.0)) for cell in old.keys() | new.keys()}
    want = {cell: values for cell, values in want.items() if values[0] != values[1]}
    cells, listed = got.cells, {}
    for p, q, r, c, b, a in zip(
        cells.previous_rows, cells.previous_columns, cells.rows, cells.columns, cells.before, cells.after, strict=True
    ):
        user = (previous.users.ids[p] if p >= 0 else got.users.ids[r]).item()
        item = (previous.items.ids[q] if q >= 0 else got.items.ids[c]).item()
        assert r < 0 or got.users.ids[r].item() == user
        assert c < 0 or got.items.ids[c].item() == item
        assert (r >= 0) == (user in got.users.ids) and (p >= 0) == (user in previous.users.ids)
        assert (user, item) not in listed
        listed[(user, item)] = (float(b), float(a))
    assert {cell: values for cell, values in listed.items() if values[0] != values[1]} == want


@pytest.mark.parametrize("builder", [RatingsConfig(duplicates="last"), RatingsConfig(duplicates="max"), BinaryConfig()])
@pytest.mark.parametrize("seed", range(3))
def test_reported_cells_equal_a_brute_force_comparison(builder: RatingsConfig | BinaryConfig, seed: int) -> None:
    rng = np.random.default_rng(seed)
    made = RatingsMatrixBuilder(builder) if isinstance(builder, RatingsConfig) else BinaryMatrixBuilder(builder)
    before = Interactions(rng.integers(0, 30, 300), rng.integers(0, 20, 300), rng.integers(1, 6, 300) + 0.5)
    previous = made.build(before)
    added = Interactions(rng.integers(0, 40, 60), rng.integers(0, 25, 60), rng.integers(1, 6, 60) + 0.25)
    got = made.update(previous, EventChange(before, Interactions.concat(before, added), added=added))
    assert isinstance(got, MatrixUpdate)
    _assert_cells_are_the_difference(previous, got)
    users, items = np.array([1, 5, 7]), np.array([3])
    keep = ~np.isin(before.users, users) & ~np.isin(before.items, items)
    change = EventChange(before, before.take(keep), removed_users=users, removed_items=items)
    forgot = made.update(previous, change)
    assert isinstance(forgot, MatrixUpdate)
    _assert_cells_are_the_difference(previous, forgot)


def _brute_cells(old: sp.csr_array, new: sp.csr_array, row_map: np.ndarray, column_map: np.ndarray) -> CellChanges:
    """Return every cell of `old` and `new` (both sides, by dictionary), as a builder would report them."""
    back_rows, back_columns = np.full(new.shape[0], -1), np.full(new.shape[1], -1)
    back_rows[row_map[row_map >= 0]] = np.flatnonzero(row_map >= 0)
    back_columns[column_map[column_map >= 0]] = np.flatnonzero(column_map >= 0)
    cells: dict[tuple[int, int, int, int], list[float]] = {}
    old_coo, new_coo = old.tocoo(), new.tocoo()
    for r, c, v in zip(old_coo.row, old_coo.col, old_coo.data, strict=True):
        cells.setdefault((r, c, row_map[r], column_map[c]), [0.0, 0.0])[0] = v
    for r, c, v in zip(new_coo.row, new_coo.col, new_coo.data, strict=True):
        cells.setdefault((back_rows[r], back_columns[c], r, c), [0.0, 0.0])[1] = v
    keys = np.array(list(cells), dtype=np.int64).reshape(-1, 4)
    values = np.array(list(cells.values())).reshape(-1, 2)
    order = np.random.default_rng(0).permutation(len(keys))  # any order will do
    return CellChanges(*(keys[order, i] for i in range(4)), values[order, 0], values[order, 1])


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("seed", range(3))
def test_update_lists_from_cells_equals_the_comparison_and_a_search(
    seed: int, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows and columns gone and added: the lists from the cells are those of the comparison, bit for bit."""
    monkeypatch.setattr(graph_delta, "FULL_SEARCH_WORK", 10.0)  # the delta path is under test
    rng = np.random.default_rng(seed)
    n_old, m_old, k, width = 60, 50, 3, 25
    old = _random_rows(rng, n_old, m_old, 0.3)
    row_map, n_new = _maps(rng, n_old, 4, keep=0.95)
    column_map, m_new = _maps(rng, m_old, 3, keep=0.95)
    dense = old_in_new_positions(old, row_map, column_map, n_new, m_new)
    dense[rng.integers(0, n_new, 15), rng.integers(0, m_new, 15)] = rng.integers(1, 6, 15).astype(np.float64)
    new = sp.csr_array(dense)
    lists = NeighbourLists.of(_cosine_search(old, np.arange(n_old), width), width)
    cells = _brute_cells(old, new, row_map, column_map)
    results = [
        update_lists(
            lists, old, new, row_map, column_map, "cosine", k, width, lambda r, w: _cosine_search(new, r, w), engine, *x
        )
        for x in ((), (sp.csr_array(new.T), cells))
    ]
    compared, from_cells = results
    assert not isinstance(compared, str) and not isinstance(from_cells, str)
    np.testing.assert_array_equal(from_cells.lists.graph.indices, compared.lists.graph.indices)
    np.testing.assert_array_equal(from_cells.lists.graph.scores, compared.lists.graph.scores)
    np.testing.assert_array_equal(from_cells.lists.floors, compared.lists.floors)
    assert_same_neighbours(from_cells.lists.served(k), _cosine_search(new, np.arange(n_new), k))


class SilentRatings(RatingsMatrixBuilder):
    """A plugin-style builder whose update returns a plain matrix: no cells, so the comparison path."""

    name = "silent_test"

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        got = super().update(previous, change)
        return None if got is None else InteractionMatrix(got.matrix, got.users, got.items)


def test_a_builder_reporting_no_cells_updates_as_a_refit(monkeypatch: pytest.MonkeyPatch) -> None:
    config = {
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": 5, "engine": "numba", "update_slack": 5},
        "ranker": {"type": "item_cf", "n": 5},
    }
    seen: list[object] = []
    original = graph_delta.update_lists
    spied = lambda *a, **kw: seen.append(a[11]) or original(*a, **kw)  # noqa: E731
    monkeypatch.setattr("recframe.recommender.updating.update_lists", spied)
    rng = np.random.default_rng(4)
    base = Interactions(rng.integers(0, 60, 900), rng.integers(0, 40, 900), rng.integers(1, 6, 900).astype(float))
    new = Interactions(rng.integers(50, 70, 80), rng.integers(0, 45, 80), rng.integers(1, 6, 80).astype(float))
    for builder, reports in ((SilentRatings(RatingsConfig()), False), (RatingsMatrixBuilder(RatingsConfig()), True)):
        seen.clear()
        rec = Recommender.from_config(config)
        rec.matrix = builder
        rec.fit(base).update(new).forget(users=[3, 8])
        assert rec.lineage[-1]["matrix"] == "incremental" and len(seen) == 2
        assert all((cells is not None) == reports for cells in seen)
        # the items' rows are merged from the cells (a step of its own) or transposed with the search
        assert {"events", "matrix", "neighbours items"} <= set(rec.timings)
        assert ("item rows" in rec.timings) == reports
        after = Interactions.concat(base, new)
        refit = Recommender.from_config(config)
        refit.matrix = RatingsMatrixBuilder(RatingsConfig())
        refit.fit(after.take(~np.isin(after.users, [3, 8])))
        assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)  # type: ignore[attr-defined]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("union_old", [True, False])  # False: the old rows in their own columns, gone ones last
def test_change_and_degrees_from_cells_equal_the_comparison(seed: int, union_old: bool) -> None:
    rng = np.random.default_rng(seed)
    old = _random_rows(rng, 30, 20, 0.3)
    row_map, n_new = _maps(rng, 30, 3, keep=0.8)
    column_map, m_new = _maps(rng, 20, 2, keep=0.8)
    dense = old_in_new_positions(old, row_map, column_map, n_new, m_new)
    dense[rng.integers(0, n_new, 10), rng.integers(0, m_new, 10)] = rng.integers(1, 6, 10).astype(np.float64)
    dense[rng.integers(0, n_new, 10), rng.integers(0, m_new, 10)] = 0.0
    new = sp.csr_array(dense)
    old_x, new_x, positions, old_positions = graph_delta._common_columns(
        old, new, row_map, column_map, union_old=union_old
    )
    assert np.array_equal(old_positions, graph_delta._union_positions(column_map, m_new, gone_last=not union_old)[1])
    if not union_old:  # compare in the union: the old entries renumbered there (the gone columns last)
        assert (column_map < 0).any() and np.array_equal(positions, np.arange(m_new))
        assert new_x.indices is new.indices or np.array_equal(new_x.indices, new.indices)  # nothing renumbered
        old_x = sp.csr_array((old_x.data, old_positions[old_x.indices], old_x.indptr), shape=new_x.shape)
        old_x.sort_indices()
    cells = _brute_cells(old, new, row_map, column_map)
    for new_t in (None, sp.csr_array(new.T)):
        change, old_degree, new_degree = graph_delta._cell_change(cells, new_x, new_t, positions, old_positions)
        want = sp.csr_array(new_x - old_x)
        want.eliminate_zeros()
        assert change.has_sorted_indices
        np.testing.assert_array_equal(change.indptr, want.indptr)
        np.testing.assert_array_equal(change.indices, want.indices)
        np.testing.assert_array_equal(change.data, want.data)
        np.testing.assert_array_equal(old_degree, np.bincount(old_x.indices, minlength=old_x.shape[1]))
        np.testing.assert_array_equal(new_degree, np.bincount(new_x.indices, minlength=new_x.shape[1]))
