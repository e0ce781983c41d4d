"""recframe.engine.merge_cells: changed cells merged into a renumbered CSR matrix, compiled or numpy, bit for bit."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.cells as cells_module
from recframe import DataError, EventChange, Interactions
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.engine import (
    Engine,
    MergedCells,
    column_counts,
    entries_of_rows,
    freeze,
    merge_cells,
    numba_available,
    row_totals,
    transpose,
)
from recframe.engine import search as search_module
from recframe.engine.cells import Cells
from recframe.engine.kernel_inputs import check_csr, is_checked, kept_on
from recframe.engine.pairs import check_transpose, mark_transpose, transpose_parts

ENGINES = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="needs numba"))]

Combine = Callable[[np.ndarray, np.ndarray], np.ndarray]

NO_CELLS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))


@pytest.fixture
def compiled_always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the compiled kernels on every size (they start at 2^20 entries otherwise)."""
    monkeypatch.setattr(cells_module, "COMPILED_MIN_ENTRIES", 0)


def _expected(
    x: sp.csr_array,
    row_map: np.ndarray,
    column_map: np.ndarray,
    shape: tuple[int, int],
    cells: tuple[np.ndarray, np.ndarray, np.ndarray],
    combine: Combine | None,
    drop_emptied: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The merge on dense arrays: the result, the kept rows and columns, each cell's value before and after."""
    dense = x.toarray()
    out = np.zeros(shape)
    old_rows, old_columns = np.flatnonzero(row_map >= 0), np.flatnonzero(column_map >= 0)
    out[np.ix_(row_map[old_rows], column_map[old_columns])] = dense[np.ix_(old_rows, old_columns)]
    rows, columns, values = cells
    previous = out[rows, columns].copy()
    after = values.astype(np.float64)
    if combine is not None:
        after[previous != 0] = combine(previous[previous != 0], values[previous != 0])
    out[rows, columns] = after
    kept_rows, kept_columns = np.ones(shape[0], dtype=bool), np.ones(shape[1], dtype=bool)
    if drop_emptied:
        had_rows, had_columns = np.zeros(shape[0], dtype=bool), np.zeros(shape[1], dtype=bool)
        had_rows[row_map[old_rows]] = (dense[old_rows] != 0).any(axis=1)
        had_columns[column_map[old_columns]] = (dense[:, old_columns] != 0).any(axis=0)
        kept_rows = ~had_rows | (out != 0).any(axis=1)
        kept_columns = ~had_columns | (out != 0).any(axis=0)
    return out[kept_rows][:, kept_columns], kept_rows, kept_columns, previous, after


def _check(merged: MergedCells, expected: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Assert that `merged` is canonical and equals the dense `expected`, with the index dtype a full build picks."""
    dense, kept_rows, kept_columns, previous, after = expected
    m = merged.matrix
    assert m.shape == dense.shape and np.array_equal(m.toarray(), dense)
    assert m.indices.dtype == m.indptr.dtype == np.int32 and m.data.dtype == np.float64
    assert (m.data != 0).all() and len(m.indptr) == m.shape[0] + 1 and m.indptr[-1] == m.nnz
    for r in range(m.shape[0]):  # sorted, distinct columns: canonical
        assert (np.diff(m.indices[m.indptr[r] : m.indptr[r + 1]]) > 0).all()
    assert np.array_equal(merged.kept_rows, kept_rows) and np.array_equal(merged.kept_columns, kept_columns)
    assert np.array_equal(merged.previous, previous) and np.array_equal(merged.values, after)


def _random_case(
    rng: np.random.Generator, index: type[np.integer]
) -> tuple[sp.csr_array, np.ndarray, np.ndarray, tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A random matrix (empty rows and columns included), monotone maps with drops and new positions, and cells."""
    n_rows, n_columns = (int(n) for n in rng.integers(0, 9, size=2))
    dense = np.where(rng.random((n_rows, n_columns)) < rng.random(), rng.normal(size=(n_rows, n_columns)), 0.0)
    x = sp.csr_array(dense)
    x = sp.csr_array((x.data, x.indices.astype(index), x.indptr.astype(index)), shape=x.shape)
    maps = []
    for n_old in (n_rows, n_columns):
        kept = rng.random(n_old) < rng.random()
        n_new = int(kept.sum()) + int(rng.integers(0, 3))
        mapping = np.full(n_old, -1, dtype=np.int64)
        mapping[kept] = np.sort(rng.choice(n_new, int(kept.sum()), replace=False))
        maps.append((mapping, n_new))
    (row_map, n_new_rows), (column_map, n_new_columns) = maps
    n_cells = int(rng.integers(0, n_new_rows * n_new_columns + 1)) if n_new_rows * n_new_columns else 0
    flat = np.sort(rng.choice(n_new_rows * n_new_columns, n_cells, replace=False)) if n_cells else np.zeros(0, int)
    values = rng.choice([-2.5, -1.0, 0.5, 1.0, 3.0], size=n_cells)
    cells = (flat // max(n_new_columns, 1), flat % max(n_new_columns, 1), values)
    return x, row_map, column_map, (n_new_rows, n_new_columns), cells


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hand_made_merge(engine: Engine, compiled_always: None) -> None:
    # [[1, 0], [2, 3], [0, 4]]: drop row 1, put a new column between the two, set (0, 1) and (1, 2), replace (0, 0)
    x = sp.csr_array(np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 4.0]]))
    cells = (np.array([0, 0, 1]), np.array([0, 1, 2]), np.array([7.0, 5.0, 6.0]))
    merged = merge_cells(x, np.array([0, -1, 1]), np.array([0, 2]), (2, 3), cells, engine=engine)
    assert merged.matrix.indptr.tolist() == [0, 2, 3]
    assert merged.matrix.indices.tolist() == [0, 1, 2]
    assert merged.matrix.data.tolist() == [7.0, 5.0, 6.0]
    assert merged.previous.tolist() == [1.0, 0.0, 4.0] and merged.values.tolist() == [7.0, 5.0, 6.0]
    summed = merge_cells(x, np.array([0, -1, 1]), np.array([0, 2]), (2, 3), cells, combine=np.add, engine=engine)
    assert summed.matrix.toarray().tolist() == [[8.0, 5.0, 0.0], [0.0, 0.0, 10.0]]
    assert summed.values.tolist() == [8.0, 5.0, 10.0]
    # drop column 1 and row 0: row 1 keeps [2], row 2 empties; column 1 is emptied by the rows
    gone = merge_cells(x, np.array([-1, 0, 1]), np.array([0, -1]), (2, 1), drop_emptied=True, engine=engine)
    assert gone.matrix.toarray().tolist() == [[2.0]]
    assert gone.kept_rows.tolist() == [True, False] and gone.kept_columns.tolist() == [True]
    emptied = merge_cells(x, np.array([-1, -1, 0]), np.array([0, 1]), (1, 2), drop_emptied=True, engine=engine)
    assert emptied.matrix.toarray().tolist() == [[4.0]]
    assert emptied.kept_columns.tolist() == [False, True]
    assert x.toarray().tolist() == [[1.0, 0.0], [2.0, 3.0], [0.0, 4.0]]  # left unchanged


@pytest.mark.parametrize("engine", ENGINES)
def test_a_merge_is_read_only_and_marked_checked(engine: Engine, compiled_always: None) -> None:
    """Well-formed by construction: its later checks cost O(1), and flagging it copied nothing."""
    x = sp.csr_array(np.array([[1.0, 0.0], [2.0, 3.0], [0.0, 4.0]]))
    merged = merge_cells(x, np.array([0, -1, 1]), np.array([0, 2]), (2, 3), engine=engine).matrix
    assert is_checked(merged)
    for array in (merged.indptr, merged.indices, merged.data):
        assert not array.flags.writeable
        assert array.base is None or not array.base.flags.writeable  # scipy's view of our array: flagged too
    assert check_csr(merged, "merged") is merged
    np.testing.assert_array_equal(merged.toarray(), [[1.0, 0.0, 0.0], [0.0, 0.0, 4.0]])


@pytest.mark.parametrize(
    ("engine", "index"),  # int64 indices compile other kernel versions (~4 s on a cold cache): numpy only
    [  # (the numba case once held pytest's parameter object as its engine, which ran scipy)
        ("scipy", np.int32),
        pytest.param("numba", np.int32, marks=pytest.mark.skipif(not numba_available(), reason="needs numba")),
        ("scipy", np.int64),
    ],
)
def test_random_merges_equal_the_dense_merge(engine: Engine, index: type[np.integer], compiled_always: None) -> None:
    rng = np.random.default_rng(7 if index is np.int32 else 8)
    for case in range(150):
        x, row_map, column_map, shape, cells = _random_case(rng, index)
        combine = (None, np.maximum, np.add)[case % 3]
        if combine is np.add:  # a sum can cancel to 0, which is refused: keep the signs apart
            x.data, cells = np.abs(x.data), (cells[0], cells[1], np.abs(cells[2]))
        if case % 2:  # read-only, its column counts kept on it (as a fitted model's): the drop reads those
            x = freeze(x)
            assert column_counts(x).tolist() == np.bincount(x.indices, minlength=x.shape[1]).tolist()
        for drop in (False, True):
            merged = merge_cells(
                x,
                row_map,
                column_map,
                shape,
                cells,
                combine=combine,
                drop_emptied=drop,
                engine=engine,
            )
            _check(merged, _expected(x, row_map, column_map, shape, cells, combine, drop))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_merge_with_a_known_transpose_and_norms_equals_the_dense_merge(
    engine: Engine, compiled_always: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each row's entries in dropped columns counted from the transpose (not read); lengths found in the fill."""
    monkeypatch.setattr(search_module, "COMPILED_TOTALS", 0)  # the lengths row_totals finds compiled on any size
    counted = []
    real = cells_module._dropped_counts
    monkeypatch.setattr(cells_module, "_dropped_counts", lambda *args: counted.append(real(*args)) or counted[-1])
    rng = np.random.default_rng(9)
    for case in range(150):
        x, row_map, column_map, shape, cells = _random_case(rng, np.int32)
        x = freeze(x)
        transpose(x)  # marks the pair, as a fitted model's matrix and items' rows are
        if case % 3 == 0:  # every row without cells: each counted from the transpose alone
            cells = NO_CELLS
        merged = merge_cells(
            x, row_map, column_map, shape, cells, drop_emptied=bool(case % 2), engine=engine, with_norms=True
        )
        _check(merged, _expected(x, row_map, column_map, shape, cells, None, bool(case % 2)))
        m = merged.matrix
        fresh = sp.csr_array((m.data.copy(), m.indices.copy(), m.indptr.copy()), shape=m.shape)  # nothing kept on it
        assert (kept_on(m, search_module._TOTALS) is not None) == (engine == "numba")
        assert row_totals(m)[0].tolist() == row_totals(fresh)[0].tolist()  # the very bits of a pass
    if engine == "numba":
        assert any(found is not None and found.any() for found in counted)


def test_a_wrong_transpose_mark_fails_the_merge_rather_than_its_result(compiled_always: None) -> None:
    if not numba_available():
        pytest.skip("needs numba")
    x = freeze(sp.csr_array(np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]])))
    wrong = freeze(sp.csr_array(np.array([[1.0, 1.0], [2.0, 0.0], [0.0, 4.0]])))  # as many entries, misplaced
    mark_transpose(x, wrong)
    assert transpose_parts(x) is not None
    with pytest.raises(ValueError, match="canonical"):
        merge_cells(x, np.arange(2), np.array([0, -1, 1]), (2, 2), engine="numba")


def test_a_transpose_mark_is_not_used_once_the_matrix_changed() -> None:
    """Other arrays, another shape, a pickled copy frozen again: the mark no longer holds (a pass counts instead)."""
    dense = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]])

    def marked() -> sp.csr_array:
        x = freeze(sp.csr_array(dense))
        transpose(x)
        assert transpose_parts(x) is not None
        return x

    x = marked()
    other = freeze(sp.csr_array(np.array([[0.0, 2.0, 5.0], [6.0, 3.0, 0.0]])))
    x.indices = other.indices  # read-only, but not the arrays it was marked with
    assert transpose_parts(x) is None
    x = marked()
    x.resize((3, 3))
    assert transpose_parts(x) is None
    copied = freeze(pickle.loads(pickle.dumps(marked())))
    assert transpose_parts(copied) is None


@pytest.mark.parametrize("engine", ENGINES)
def test_every_row_and_column_dropped_but_one(engine: Engine, compiled_always: None) -> None:
    rng = np.random.default_rng(3)
    x = sp.csr_array(np.where(rng.random((6, 5)) < 0.6, rng.integers(1, 5, (6, 5)), 0).astype(float))
    for row in range(6):
        for column in range(5):
            row_map, column_map = np.full(6, -1), np.full(5, -1)
            row_map[row], column_map[column] = 0, 0
            for drop in (False, True):
                merged = merge_cells(x, row_map, column_map, (1, 1), drop_emptied=drop, engine=engine)
                _check(merged, _expected(x, row_map, column_map, (1, 1), NO_CELLS, None, drop))
    nothing = merge_cells(x, np.full(6, -1), np.arange(5), (0, 5), drop_emptied=True, engine=engine)
    assert nothing.matrix.shape == (0, 0) and not nothing.kept_columns.any()


def test_both_engines_agree_bit_for_bit_on_a_larger_matrix(compiled_always: None) -> None:
    if not numba_available():
        pytest.skip("needs numba")
    rng = np.random.default_rng(11)
    x = sp.random(400, 300, density=0.05, format="csr", random_state=11, data_rvs=lambda n: rng.random(n) + 0.1)
    x = sp.csr_array(x)
    row_map = np.where(rng.random(400) < 0.9, 0, -1)
    row_map[row_map >= 0] = np.sort(rng.choice(450, int((row_map >= 0).sum()), replace=False))
    column_map = np.sort(rng.choice(320, 300, replace=False))
    flat = np.sort(rng.choice(450 * 320, 3000, replace=False))
    cells = (flat // 320, flat % 320, rng.random(3000) + 0.5)
    compiled, numpy = (
        merge_cells(x, row_map, column_map, (450, 320), cells, combine=np.maximum, drop_emptied=True, engine=engine)
        for engine in ("numba", "scipy")
    )
    for name in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(compiled.matrix, name), getattr(numpy.matrix, name))
    for name in ("kept_rows", "kept_columns", "previous", "values"):
        assert np.array_equal(getattr(compiled, name), getattr(numpy, name))
    assert compiled.matrix.nnz > 5000  # the cells and the kept entries, merged


def test_int64_indices_give_int32_where_the_sizes_allow() -> None:
    x = sp.csr_array(np.array([[1.0, 2.0]]))
    x = sp.csr_array((x.data, x.indices.astype(np.int64), x.indptr.astype(np.int64)), shape=x.shape)
    merged = merge_cells(x, np.array([0]), np.array([0, 1]), (1, 2), engine="scipy")
    assert merged.matrix.indices.dtype == merged.matrix.indptr.dtype == np.int32  # as a full build picks them


@pytest.mark.parametrize(
    ("row_map", "column_map", "cells", "error", "match"),
    [
        ([1, 0], [0, 1], None, ValueError, "row_map must keep the order"),
        ([0, 0], [0, 1], None, ValueError, "row_map must keep the order"),
        ([0, 5], [0, 1], None, IndexError, r"row_map maps a position to 5, outside \[0, 2\)"),
        ([0, 1], [-2, 1], None, IndexError, "column_map maps a position to -2"),
        ([0], [0, 1], None, ValueError, "row_map must be 2 integers"),
        ([0, 1], [0, 1], ([1, 0], [0, 0], [1.0, 1.0]), ValueError, "cells must be sorted by row, then column"),
        ([0, 1], [0, 1], ([0, 0], [1, 1], [1.0, 1.0]), ValueError, "cells must be sorted"),
        ([0, 1], [0, 1], ([0], [2], [1.0]), IndexError, "a cell's column is outside"),
        ([0, 1], [0, 1], ([0], [1], [0.0]), ValueError, "a cell's value is 0"),
        ([0, 1], [0, 1], ([0.0], [1], [1.0]), TypeError, "integer rows and columns"),
    ],
)
def test_bad_inputs_are_refused(
    row_map: list[int], column_map: list[int], cells: Cells | None, error: type[Exception], match: str
) -> None:
    x = sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0]]))
    with pytest.raises(error, match=match):
        merge_cells(x, np.array(row_map), np.array(column_map), (2, 2), cells, engine="scipy")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_combination_that_gives_0_is_refused(engine: Engine, compiled_always: None) -> None:
    x = sp.csr_array(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="combine gave 0"):
        merge_cells(x, [0], [0, 1], (1, 2), ([0], [1], [2.0]), combine=np.subtract, engine=engine)


def test_entries_of_rows() -> None:
    x = sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [3.0, 4.0, 5.0], [6.0, 0.0, 0.0]]))
    assert entries_of_rows(x, [0, 1, 3]).tolist() == [0, 1, 5]
    assert entries_of_rows(x, [2]).tolist() == [2, 3, 4]
    assert entries_of_rows(x, []).tolist() == []


@pytest.mark.parametrize(("bad", "match"), [(1.5e308, "computed inf"), (1e200, "too large to measure similarity")])
def test_an_update_refuses_a_bad_value_in_the_words_of_a_build(bad: float, match: str) -> None:
    # the update checks only the changed cells for finiteness: the message must still be the build's
    builder = RatingsMatrixBuilder(RatingsMatrixBuilder.Config(duplicates="sum"))
    before = Interactions(np.array([1, 2, 2]), np.array([10, 10, 20]), np.array([1.0, 2.0, 3.0]))
    added = Interactions(np.array([2, 3, 3, 3]), np.array([30, 10, 10, 20]), np.array([4.0, bad, bad, 5.0]))
    after = Interactions.concat(before, added)
    with pytest.raises(DataError, match=match) as built:
        builder.build(after)
    with pytest.raises(DataError, match=match) as updated:
        builder.update(builder.build(before), EventChange(before, after, added=added))
    assert str(updated.value) == str(built.value)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("cells", [None, "a cell"])
@pytest.mark.parametrize("columns", ["kept", "dropping", "inserting"])  # the kernels' paths: copy, drop, renumber
def test_a_matrix_with_unsorted_rows_is_refused(
    engine: Engine, where: str, cells: str | None, columns: str, compiled_always: None
) -> None:
    """A row [3, 1, 2]: a binary search and a merge would disagree on its length; refused, nothing written outside."""
    rows = {"first": 0, "middle": 1, "last": 2}[where]
    indptr = np.array([0, 1, 2, 3], dtype=np.int32)  # 32-bit, as scipy makes them: the kernels' usual types
    indptr[rows + 1 :] += 2
    indices = np.zeros(indptr[-1], dtype=np.int32)
    data = np.ones(indptr[-1])
    indices[indptr[rows] : indptr[rows + 1]] = [3, 1, 2]
    matrix = sp.csr_array((data, indices, indptr), shape=(3, 4))
    maps = {"kept": np.arange(4), "dropping": np.array([0, -1, 1, 2]), "inserting": np.array([0, 1, 3, 4])}
    column_map = maps[columns]
    width = int(column_map.max()) + 1
    given = None if cells is None else (np.array([rows]), np.array([width - 2]), np.array([5.0]))
    with pytest.raises(ValueError, match="sorted, distinct columns"):
        merge_cells(matrix, np.arange(3), column_map, (3, width), given, engine=engine)


def test_check_transpose_checks_again_once_the_transpose_changed() -> None:
    if not numba_available():
        pytest.skip("needs numba")
    x = freeze(sp.csr_array(np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 4.0]])))
    transposed = transpose(x)
    check_transpose(x, transposed)  # marked: O(1)
    other = freeze(sp.csr_array(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])))  # as many entries, elsewhere
    transposed.indices, transposed.indptr = other.indices, other.indptr
    with pytest.raises(ValueError):
        check_transpose(x, transposed)
