"""Matrix builders refuse values they can't take with a DataError naming the ratings column (issue 11, defect 5).

Negative ratings under ``tfidf``, ``bm25`` or ``log_confidence`` used to come out as NaN weights
and an exit 1 blaming the plugin; values that overflow, and data whose every weight is 0, are
data errors too (exit 3), never a contract error of a built-in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recframe import DataError, Interactions, Recommender
from recframe.builtin.matrix_builders import (
    BinaryMatrixBuilder,
    BM25MatrixBuilder,
    LogConfidenceMatrixBuilder,
    RatingsMatrixBuilder,
    TFIDFMatrixBuilder,
)
from recframe.cli import main

WEIGHTINGS = [TFIDFMatrixBuilder, BM25MatrixBuilder, LogConfidenceMatrixBuilder]
FORMULAS = {
    "tfidf": "it weights sqrt(r) by user rarity",
    "bm25": "it weights r (k1 + 1) / (k1 norm + r) by user rarity",
    "log_confidence": "it weights 1 + alpha log(1 + r / epsilon) of counts r",
}


def events(values: list[float], users: list[str] | None = None, items: list[str] | None = None) -> Interactions:
    users = users or ["u1", "u1", "u2", "u2", "u3"][: len(values)]
    items = items or ["i1", "i2", "i1", "i3", "i2"][: len(values)]
    return Interactions(np.array(users), np.array(items), np.array(values, dtype=float))


@pytest.mark.parametrize("builder", WEIGHTINGS, ids=lambda b: b.name)
def test_a_negative_rating_is_a_data_error_naming_the_column_and_what_is_needed(builder):
    with pytest.raises(DataError) as info:
        builder().build(events([5.0, 3.0, -2.0, 4.0, -1.0]))
    assert str(info.value) == (
        f"matrix {builder.name!r} needs non-negative values in the ratings column, got -2.0 for user 'u2' and "
        f"item 'i1' (2 negative in all), as {FORMULAS[builder.name]}; shift the ratings, drop the negative ones "
        "with a rating_threshold filter, or use matrix type 'ratings'"
    )


@pytest.mark.parametrize("builder", [RatingsMatrixBuilder, BinaryMatrixBuilder], ids=lambda b: b.name)
def test_builders_that_take_negative_ratings_still_do(builder):
    matrix = builder().build(events([5.0, -3.0, 1.0]))
    assert np.all(np.isfinite(matrix.matrix.data)) and matrix.nnz == 3


@pytest.mark.parametrize("builder", [*WEIGHTINGS, RatingsMatrixBuilder], ids=lambda b: b.name)
def test_a_sum_that_overflows_is_a_data_error_naming_user_and_item(builder):
    data = events([1.0, 1e308, 1e308], users=["u1", "u2", "u2"], items=["i1", "i1", "i1"])
    with pytest.raises(
        DataError,
        match=rf"^matrix '{builder.name}' computed inf for user 'u2' and item 'i1' \(1 non-finite weights in all\): "
        r"the ratings column has values too large for matrix\.duplicates='sum'; rescale the ratings$",
    ):
        builder(duplicates="sum").build(data)


def test_a_weight_that_overflows_names_the_rating_it_came_from():
    data = events([1.0, 1e308, 2.0], users=["u1", "u1", "u2"], items=["i1", "i2", "i1"])
    with pytest.raises(DataError, match=r"^matrix 'bm25' computed -?inf from the rating 1e\+308 for user 'u1' and "
                       r"item 'i2' .*too large for its weighting; rescale the ratings$"):
        BM25MatrixBuilder().build(data)


@pytest.mark.parametrize("builder", [*WEIGHTINGS, RatingsMatrixBuilder], ids=lambda b: b.name)
def test_all_zero_ratings_are_a_data_error_not_an_empty_matrix(builder):
    with pytest.raises(DataError, match=rf"^matrix '{builder.name}' stores no entry: all 3 values in the ratings "
                       r"column are 0 .*use matrix type 'binary' to count every event$"):
        builder().build(events([0.0, 0.0, 0.0]))


@pytest.mark.parametrize("builder", [TFIDFMatrixBuilder, BM25MatrixBuilder], ids=lambda b: b.name)
def test_a_weighting_that_zeroes_every_entry_says_why(builder):
    # two items, each user with one: the rarity log(2) - log(1 + 1) is 0 for everyone
    data = events([1.0, 1.0, 1.0], users=["u1", "u2", "u3"], items=["i1", "i2", "i1"])
    with pytest.raises(DataError, match=rf"^matrix '{builder.name}' weighted all 3 entries to 0: with 2 items"):
        builder().build(data)


def test_an_empty_row_after_dropping_zeros_is_kept_as_an_empty_row():
    matrix = RatingsMatrixBuilder().build(events([0.0, 0.0, 4.0, 2.0], users=["u1", "u1", "u2", "u2"]))
    assert matrix.n_users == 2 and matrix.matrix[[0]].nnz == 0 and matrix.nnz == 2


def run_file(tmp_path: Path, matrix: str, rows: str) -> Path:
    (tmp_path / "ratings.csv").write_text("user,item,rating\n" + rows, encoding="utf-8")
    path = tmp_path / "run.yaml"
    path.write_text(
        f"data: {{type: csv, path: {tmp_path / 'ratings.csv'}}}\nmatrix: {{type: {matrix}}}\n"
        "similarity: {type: sklearn_nn, k: 2}\nranker: {type: item_cf, n: 2}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("matrix", ["tfidf", "log_confidence"])
def test_cli_negative_ratings_with_a_weighting_exit_3_not_1(tmp_path, capsys, matrix):
    path = run_file(tmp_path, matrix, "a,x,4\na,y,-1\nb,x,2\nb,z,3\nc,y,5\n")
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"error: matrix '{matrix}' needs non-negative values in the ratings column, got -1.0 "
                          "for user 'a' and item 'y'")
    assert "non-finite" not in err and "plugin" not in err
    assert not (tmp_path / "out").exists()


def test_recommender_with_all_equal_ratings_and_centred_measures_works(tmp_path):
    path = run_file(tmp_path, "ratings", "a,x,3\na,y,3\nb,x,3\nb,y,3\nc,z,3\n")
    text = path.read_text(encoding="utf-8").replace(
        "similarity: {type: sklearn_nn, k: 2}", "similarity: {type: sparse, measure: adjusted_cosine, k: 2}"
    )
    path.write_text(text, encoding="utf-8")
    rec = Recommender.from_config(path).fit()
    lists = rec.recommend(["a", "c"])
    assert len(list(lists)) == 2


@pytest.mark.parametrize(
    ("value", "size", "fate"),
    [
        (1e200, "large", "overflows to inf"),
        (1e-300, "small", "underflows to 0"),
        (1e-156, "small", "is 2e-312, below the smallest normal number (2.2e-308)"),  # subnormal: a fit made inf
    ],
)
def test_values_whose_squares_leave_the_float_range_are_a_data_error(value, size, fate):
    # the weightings tame such values (sqrt, log, saturation); the plain ratings are checked as they are
    data = events([value] * 4, users=["u1", "u1", "u2", "u2"], items=["i1", "i2", "i1", "i3"])
    with pytest.raises(DataError) as info:
        RatingsMatrixBuilder().build(data)
    assert str(info.value) == (
        f"matrix 'ratings' holds {value!r} for user 'u1' and item 'i1', too {size} to measure similarity with: "
        f"the squared length of the user's values {fate}; rescale the ratings column"
    )


def test_cli_tiny_ratings_exit_3_not_a_plugin_error(tmp_path, capsys):
    path = run_file(tmp_path, "ratings", "a,x,1e-300\na,y,1e-300\nb,x,1e-300\nb,z,1e-300\n")
    path.write_text(path.read_text(encoding="utf-8").replace("sklearn_nn", "sparse"), encoding="utf-8")
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 3
    err = capsys.readouterr().err
    assert "too small to measure similarity with" in err and "non-finite similarities" not in err


@pytest.mark.parametrize("value", [1e150, 1e-150, 1e100, 1e-100])
def test_extreme_but_measurable_values_still_build(value):
    matrix = RatingsMatrixBuilder().build(events([value] * 3))
    assert matrix.nnz == 3
