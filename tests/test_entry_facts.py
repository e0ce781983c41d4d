"""One pass over a matrix's entries for its checks: compiled and numpy agree with brute force; the errors stay."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine.entry_facts as facts_module
from recframe import DataError, IdIndex, InteractionMatrix, Interactions, PluginError
from recframe.engine import compiled_by_default, numba_available
from recframe.engine.entry_facts import entry_facts
from recframe.interfaces.checks import EntryFacts, check_matrix

MODES = ["compiled", "numpy"] if numba_available() else ["numpy"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the compiled pass on every size, or numpy's."""
    if request.param == "compiled" and not compiled_by_default():
        pytest.skip("the compiled engine is switched off (RECFRAME_ENGINE)")
    monkeypatch.setattr(facts_module, "COMPILED_FACTS", 0 if request.param == "compiled" else 1 << 62)
    return str(request.param)


def _matrix(indptr: list[int], indices: list[int], data: list[float], n_columns: int) -> InteractionMatrix:
    raw = sp.csr_array((len(indptr) - 1, n_columns))
    raw.indptr, raw.indices, raw.data = np.array(indptr), np.array(indices, dtype=np.int32), np.array(data)
    users, _ = IdIndex.encode(np.arange(len(indptr) - 1))
    items, _ = IdIndex.encode(np.arange(n_columns))
    return InteractionMatrix(raw, users, items)


def _brute(matrix: InteractionMatrix) -> EntryFacts:
    m = matrix.matrix
    rows = [m.indices[m.indptr[r] : m.indptr[r + 1]].tolist() for r in range(m.shape[0])]
    finite = [v for v in m.data.tolist() if np.isfinite(v)]
    return EntryFacts(
        nnz=len(m.data),
        unordered=sum(b <= a for row in rows for a, b in itertools.pairwise(row)),
        low_index=min(m.indices.tolist(), default=0),
        high_index=max(m.indices.tolist(), default=-1),
        non_finite=sum(not np.isfinite(v) for v in m.data.tolist()),
        zeros=sum(v == 0 for v in m.data.tolist()),
        low_value=min(finite, default=np.inf),
        high_value=max(finite, default=-np.inf),
    )


def test_a_hand_made_matrix(mode: str) -> None:
    """Rows [2, 0] (out of order), [] and [1, 1] (repeated); a NaN, a 0, an inf."""
    matrix = _matrix([0, 2, 2, 4], [2, 0, 1, 1], [3.0, np.nan, 0.0, -np.inf], 3)
    facts, totals = entry_facts(matrix, columns=True)
    assert facts == EntryFacts(4, 2, 0, 2, 2, 1, 0.0, 3.0)
    assert totals is not None
    assert totals.counts.tolist() == [1, 2, 1]
    assert totals.sums[2] == 3.0 and np.isnan(totals.sums[0]) and totals.sums[1] == -np.inf


@pytest.mark.parametrize("seed", range(6))
def test_random_matrices_against_brute_force(mode: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 30)), int(rng.integers(1, 20))
    lengths = rng.integers(0, 6, n)
    indptr = np.r_[0, np.cumsum(lengths)].tolist()
    indices = rng.integers(-1 if seed % 3 == 0 else 0, m + (seed % 2), indptr[-1]).tolist()  # some out of range
    data = rng.choice([0.0, 1.5, -2.0, 7.0, np.nan, np.inf, 1e-120], indptr[-1]).tolist()
    matrix = _matrix(indptr, indices, data, m)
    facts, totals = entry_facts(matrix, columns=True)
    assert facts == _brute(matrix)
    assert totals is not None
    inside = [(c, v) for c, v in zip(indices, data, strict=True) if 0 <= c < m]
    assert totals.counts.tolist() == [sum(c == j for c, _ in inside) for j in range(m)]
    expected = np.zeros(m)
    for c, v in inside:
        expected[c] += v
    np.testing.assert_allclose(totals.sums, expected, equal_nan=True)


def test_a_canonical_matrix_and_no_entries(mode: str) -> None:
    matrix = InteractionMatrix.from_interactions(Interactions([1, 1, 2], [5, 6, 5]), np.array([1.0, 2.0, 3.0]), "last")
    facts, totals = entry_facts(matrix)
    assert facts == EntryFacts(3, 0, 0, 1, 0, 0, 1.0, 3.0) and totals is None
    empty, _ = entry_facts(_matrix([0, 0], [], [], 2))
    assert empty == EntryFacts(0, 0, 0, -1, 0, 0, np.inf, -np.inf)


@pytest.mark.parametrize(
    "result",
    [
        "not a matrix",
        InteractionMatrix.__new__(InteractionMatrix),  # no matrix at all
    ],
)
def test_what_the_pass_cannot_read_is_left_to_the_checks(result: object) -> None:
    assert entry_facts(result) == (None, None)


def test_other_types_are_left_to_the_checks(mode: str) -> None:
    float32 = _matrix([0, 2], [0, 1], [1.0, 2.0], 2)
    float32.matrix.data = float32.matrix.data.astype(np.float32)
    assert entry_facts(float32) == (None, None)
    with pytest.raises(PluginError, match="dtype float32; expected float64"):
        check_matrix(float32, "matrix 'x'", facts=entry_facts(float32)[0])
    small = _matrix([0, 2], [0, 1], [1.0, 2.0], 2)
    small.matrix.indices = small.matrix.indices.astype(np.int16)
    assert entry_facts(small) == (None, None)


def test_malformed_row_offsets_are_left_to_the_checks(mode: str) -> None:
    bad = _matrix([0, 3, 2], [0, 1], [1.0, 2.0], 2)  # decreasing, and past the entries
    assert entry_facts(bad) == (None, None)
    with pytest.raises(PluginError, match="indptr is malformed"):
        check_matrix(bad, "matrix 'x'", facts=entry_facts(bad)[0])


BAD = [
    ([0, 2], [1, 0], [1.0, 2.0], 2, PluginError, "not canonical: 1 unsorted column indices"),
    ([0, 2], [1, 1], [1.0, 2.0], 2, PluginError, "1 repeated column indices"),
    ([0, 2], [0, 2], [1.0, 2.0], 2, PluginError, r"column indices outside 0\.\.1"),
    ([0, 2], [-1, 0], [1.0, 2.0], 2, PluginError, r"column indices outside 0\.\.1"),
    ([0, 2], [0, 1], [1.0, np.nan], 2, PluginError, "non-finite values"),
    ([0, 2], [0, 1], [1.0, 0.0], 2, PluginError, "storing 1 explicit zeros"),
    ([0, 2], [0, 1], [1.0, 1e200], 2, DataError, "too large to measure"),
    ([0, 1], [0], [1e-170], 2, DataError, "too small to measure"),
    ([0, 0], [], [], 2, DataError, "empty matrix"),
]


@pytest.mark.parametrize(("indptr", "indices", "data", "n_columns", "error", "message"), BAD)
def test_the_checks_say_the_same_with_the_facts(
    mode: str, indptr: list[int], indices: list[int], data: list[float], n_columns: int, error: type, message: str
) -> None:
    matrix = _matrix(indptr, indices, data, n_columns)
    raised = []
    for facts in (None, entry_facts(matrix)[0]):
        with pytest.raises(error, match=message) as caught:
            check_matrix(matrix, "matrix 'x'", facts=facts)
        raised.append(str(caught.value))
    assert raised[0] == raised[1]


def test_facts_of_another_matrix_are_refused() -> None:
    matrix = _matrix([0, 2], [0, 1], [1.0, 2.0], 2)
    other, _ = entry_facts(_matrix([0, 1], [0], [1.0], 2))
    with pytest.raises(ValueError, match="facts are of 1 entries"):
        check_matrix(matrix, "matrix 'x'", facts=other)


@pytest.mark.parametrize("tasks", [1, 5])
@pytest.mark.parametrize("seed", range(3))
def test_many_entries_in_few_columns_over_several_tasks(
    mode: str, tasks: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each task's own column totals (entries outnumber tasks x columns), empty tasks merged in, as brute force."""
    real_ranges = facts_module._entry_ranges
    monkeypatch.setattr(facts_module, "_entry_ranges", lambda indptr, count: real_ranges(indptr, tasks))
    rng = np.random.default_rng(seed)
    n, m = 60, 4
    lengths = np.where(rng.random(n) < 0.3, 0, rng.integers(1, m + 1, n))  # empty rows: some tasks may be empty
    indptr = np.r_[0, np.cumsum(lengths)]
    indices = np.concatenate([np.sort(rng.choice(m, size=length, replace=False)) for length in lengths])
    if seed == 2:
        indices[5] = indices[4]  # one repeated column
    data = rng.choice([0.5, 2.0, -3.0, 0.0, np.inf], int(indptr[-1]))
    matrix = _matrix(indptr.tolist(), indices.tolist(), data.tolist(), m)
    facts, totals = entry_facts(matrix, columns=True)
    assert facts == _brute(matrix)
    assert totals is not None and len(data) >= tasks * m
    assert totals.counts.tolist() == np.bincount(indices, minlength=m).tolist()
    np.testing.assert_allclose(totals.sums, np.bincount(indices, weights=data, minlength=m))
