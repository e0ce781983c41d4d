"""The public engine's primitives on inputs an outside review found them mishandling.

A ``seen`` entry stored as 0 is seen on both engines; a list length of 0 is empty and a negative
one refused; an engine name, a measure and its modifiers outside their values are refused; so are
thread counts and memory budgets that are not counts, stored values that are not finite, a
repeated entry where measures count entries, a graph neighbour outside its targets and
prediction settings outside their choices.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe.engine import MeasureSpec, resolve_engine, select_top_n, top_n_product


@pytest.mark.parametrize("rows", [1, 300], ids=["few rows", "batch"])
def test_a_seen_entry_stored_as_zero_is_seen_on_both_engines(rows: int) -> None:
    """scipy's product dropped stored zeros: column 0 came back on scipy, not on numba."""
    a = sp.csr_array(np.ones((rows, 1)))
    b = sp.csr_array(np.array([[3.0, 2.0, 1.0]]))
    columns, offsets = np.tile([0, 2], rows).astype(np.int32), np.arange(0, 2 * rows + 1, 2).astype(np.int32)
    # 32-bit indices, as `b`'s: the few-rows kernel compiled once for both (seconds on a cold cache)
    seen = sp.csr_array((np.tile([0.0, 1.0], rows), columns, offsets), shape=(rows, 3))
    for engine in ("numba", "scipy"):
        found = top_n_product(a, np.arange(rows), b, 3, seen=seen, engine=engine)
        np.testing.assert_array_equal(found[0], np.tile([1, -1, -1], (rows, 1)), err_msg=engine)


def test_select_top_n_of_zero_is_empty_and_of_a_negative_count_refused() -> None:
    scores = np.array([[0.2, 0.9, 0.9, -1.0]])
    assert select_top_n(scores.copy(), 0).items.shape == (1, 0)  # was every column
    assert select_top_n(scores.copy(), 2).items.tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="n must be 0 or more; got -3"):
        select_top_n(scores.copy(), -3)
    with pytest.raises(TypeError, match="n must be a whole number"):
        select_top_n(scores.copy(), 2.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["cuda", "Numba", ""])
def test_an_engine_that_is_none_of_the_three_is_refused(name: str) -> None:
    """Every primitive tested ``== "numba"``: any other name ran scipy without a word."""
    with pytest.raises(ValueError, match="engine must be 'auto', 'numba' or 'scipy'"):
        resolve_engine(name)  # type: ignore[arg-type]


def test_a_measure_and_modifiers_outside_their_values_are_refused() -> None:
    with pytest.raises(ValueError, match=r"measure must be one of cosine, .*; got 'cosinus'"):
        MeasureSpec.of("cosinus")
    for bad in ({"shrinkage": -1.0}, {"min_support": 0}, {"min_similarity": float("nan")}):
        with pytest.raises(ValueError, match="shrinkage must be 0 or more"):
            MeasureSpec.of("jaccard", **bad)  # type: ignore[arg-type]
    assert MeasureSpec.of("jaccard", shrinkage=2.0).name == "jaccard"


def test_top_n_entries_refuses_rows_outside_the_result() -> None:
    """A row of -1 was written into the last row by negative indexing."""
    from recframe.engine import top_n_entries

    columns, _ = top_n_entries(np.array([0, 1, 1]), np.array([4, 2, 3]), np.array([1.0, 2.0, 2.0]), 2, 2)
    assert columns.tolist() == [[4, -1], [2, 3]]
    with pytest.raises(IndexError, match=r"rows must lie in 0 \.\. 1; got -1"):
        top_n_entries(np.array([-1, 0]), np.array([1, 2]), np.array([1.0, 2.0]), 2, 2)
    with pytest.raises(IndexError, match=r"got 2"):
        top_n_entries(np.array([2]), np.array([1]), np.array([1.0]), 2, 2)
    with pytest.raises(ValueError, match="as long"):
        top_n_entries(np.array([0, 1]), np.array([1]), np.array([1.0]), 2, 2)


TINY = sp.csr_array(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 1.0], [0.0, 2.0, 4.0]]))


def _calls(threads: object = None, max_memory_mb: object = 64) -> dict[str, object]:
    """Every public primitive taking ``threads`` or ``max_memory_mb``, called on TINY with them."""
    from recframe import engine as e

    x, t = TINY, sp.csr_array(TINY.T)
    t.sort_indices()
    totals = e.row_totals(x)
    spec = MeasureSpec.of("cosine")
    rows = np.arange(3)
    return {
        "top_k_neighbours": lambda: e.top_k_neighbours(x, 2, threads=threads, max_memory_mb=max_memory_mb),
        "top_n_product": lambda: e.top_n_product(x, rows, t, 2, threads=threads, max_memory_mb=max_memory_mb),
        "estimate_neighbours": lambda: e.estimate_neighbours(x, 2, threads=threads, max_memory_mb=max_memory_mb),
        "top_k_by_measure": lambda: e.top_k_by_measure(
            x, rows, t, totals, spec, 2, threads=threads, max_memory_mb=max_memory_mb
        ),
        "pair_offers": lambda: e.pair_offers(x, t, 0, 3, 2, threads=threads, max_memory_mb=max_memory_mb),
        "transpose": lambda: e.transpose(x, threads=threads),
        "column_counts": lambda: e.column_counts(x, threads=threads),
    }


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize(
    ("threads", "error", "message"),
    [
        (0, ValueError, "threads must be 1 or more, or None for all cores; got 0"),
        (-2, ValueError, "threads must be 1 or more"),
        (2.5, TypeError, "threads must be a whole number of threads or None"),
        (True, TypeError, "got bool True"),
        ("2", TypeError, "got str '2'"),
    ],
)
def test_threads_that_are_not_a_count_are_refused_on_both_engines(
    monkeypatch: pytest.MonkeyPatch, engine: str, threads: object, error: type[Exception], message: str
) -> None:
    """0, negatives, floats and strings ran on one thread or all of them, without a word."""
    monkeypatch.setenv("RECFRAME_ENGINE", engine)
    for name, call in _calls(threads=threads).items():
        with pytest.raises(error, match=message):
            call()  # type: ignore[operator]
            pytest.fail(f"{name} accepted threads={threads!r}")


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize(
    ("budget", "error", "message"),
    [
        (-1, ValueError, "max_memory_mb must be 0 or more \\(megabytes\\); got -1"),
        (1.5, TypeError, "max_memory_mb must be a whole number of megabytes; got float 1.5"),
        (None, TypeError, "got NoneType None"),
        (True, TypeError, "got bool True"),
    ],
)
def test_a_memory_budget_that_is_not_a_count_is_refused_on_both_engines(
    monkeypatch: pytest.MonkeyPatch, engine: str, budget: object, error: type[Exception], message: str
) -> None:
    """A negative budget ran one row at a time; a float or None failed inside scipy's path with ``<<``."""
    from recframe.engine import chunks

    monkeypatch.setenv("RECFRAME_ENGINE", engine)
    calls = _calls(max_memory_mb=budget)
    for name in ("top_k_neighbours", "top_n_product", "estimate_neighbours", "top_k_by_measure", "pair_offers"):
        with pytest.raises(error, match=message):
            calls[name]()  # type: ignore[operator]
            pytest.fail(f"{name} accepted max_memory_mb={budget!r}")
    with pytest.raises(error, match=message):
        list(chunks(3, 3, budget))  # type: ignore[arg-type]


def test_good_run_settings_still_run() -> None:
    for name, call in _calls(threads=1, max_memory_mb=0).items():
        assert call() is not None, name  # type: ignore[operator]


@pytest.mark.parametrize("engine", ["numba", "scipy"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_a_matrix_holding_nan_or_infinity_is_refused_naming_the_entry(engine: str, value: float) -> None:
    """A nan product was dropped silently (never above a threshold) and an infinite one ranked first."""
    from recframe.engine import top_k_neighbours

    x = TINY.copy()
    x.data[2] = value  # row 1, column 0
    with pytest.raises(ValueError, match=rf"x holds {value!r} at row 1, column 0; stored values must be finite"):
        top_k_neighbours(x, 2, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["numba", "scipy"])
def test_top_k_by_measure_refuses_a_matrix_with_a_repeated_entry(engine: str) -> None:
    """A repeated (row, column) entry was counted twice by the co-count measures."""
    from recframe.engine import row_totals, top_k_by_measure

    twice = sp.csr_array((np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0]), np.array([0, 2, 3, 3])), shape=(3, 3))
    t = sp.csr_array(TINY.T)
    t.sort_indices()
    with pytest.raises(ValueError, match=r"queries is not canonical .*call \.sum_duplicates"):
        top_k_by_measure(
            twice,
            np.arange(3),
            t,
            row_totals(TINY),
            MeasureSpec.of("jaccard"),
            2,
            engine=engine,  # type: ignore[arg-type]
        )
    twice.sum_duplicates()
    found, _ = top_k_by_measure(twice, np.arange(3), t, row_totals(TINY), MeasureSpec.of("jaccard"), 2)
    assert found.shape == (3, 2)


def test_graph_matrix_refuses_a_neighbour_outside_the_targets() -> None:
    """An index past n_targets made a CSR matrix whose columns ran off its shape."""
    from recframe.engine import graph_matrix
    from recframe.interfaces import NeighbourGraph

    graph = NeighbourGraph(np.array([[5, -1], [0, 1]]), np.array([[1.0, 0.0], [0.5, 0.2]]), 3)
    with pytest.raises(IndexError, match=r"graph holds neighbour 5, outside \[-1, 3\)"):
        graph_matrix(graph)
    with pytest.raises(IndexError, match="neighbour -4"):
        graph_matrix(NeighbourGraph(np.array([[-4, 1]]), np.array([[1.0, 0.5]]), 3))


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"variant": "mean_centered"}, ValueError, "variant must be one of basic, mean_centred, zscore, baseline"),
        ({"policy": "per-target"}, ValueError, "policy must be one of overall, per_target"),
        ({"fallback": None}, ValueError, "fallback must be one of user_mean, item_mean, global_mean"),
        ({"min_k": 0}, ValueError, "min_k must be 1 or more; got 0"),
        ({"prediction_k": -3}, ValueError, "prediction_k must be 1 or more"),
        ({"epochs": 2.0}, TypeError, "epochs must be a whole number; got float 2.0"),
        ({"reg_users": float("nan")}, ValueError, "reg_users must be a finite number >= 0; got nan"),
        ({"reg_items": -1.0}, ValueError, "reg_items must be a finite number >= 0"),
    ],
)
def test_prediction_settings_outside_their_choices_are_refused(
    settings: dict[str, object], error: type[Exception], message: str
) -> None:
    """A misspelt variant predicted as ``basic`` would have; min_k 0 and negative counts went through."""
    from recframe.engine import PredictionSettings

    with pytest.raises(error, match=message):
        PredictionSettings(**settings)  # type: ignore[arg-type]
    assert PredictionSettings(variant="zscore", policy="per_target", prediction_k=5, reg_users=0).min_k == 1
