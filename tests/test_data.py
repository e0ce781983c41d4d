"""Interactions, IdIndex and the matrix builders."""

from __future__ import annotations

import numpy as np
import pytest

from recframe import DataError, IdIndex, Interactions
from recframe.builtin.matrix_builders import BinaryMatrixBuilder, RatingsMatrixBuilder
from recframe.data import id_index as id_index_module
from recframe.testing import random_interactions


class TestInteractions:
    def test_ids_are_normalised_to_int64_or_str(self):
        data = Interactions([1, 2], np.array(["a", "b"], dtype=object), [1.0, 2.0])
        assert data.users.dtype == np.int64 and data.items.dtype.kind == "U"
        assert Interactions(np.array([1.0, 2.0]), [3, 4]).users.dtype == np.int64

    @pytest.mark.parametrize(
        ("users", "message"),
        [
            ([1, "a"], r"user ids must be all integers or all strings"),
            ([1.5, 2.0], r"user ids must be integers or strings; got the float 1\.5"),
            ([True, False], r"user ids must be integers or strings; got booleans"),
        ],
    )
    def test_bad_ids(self, users, message):
        with pytest.raises(DataError, match=message):
            Interactions(users, [1, 2])

    def test_lengths_must_match(self):
        with pytest.raises(DataError, match=r"user ids and item ids differ in length: 2 != 3"):
            Interactions([1, 2], [1, 2, 3])

    def test_values_must_be_finite(self):
        with pytest.raises(DataError, match=r"values\[1\] is nan; every entry must be a finite number"):
            Interactions([1, 2], [1, 2], [1.0, np.nan])

    def test_fingerprint_is_stable_and_sensitive(self):
        a = random_interactions(seed=1)
        assert a.fingerprint() == random_interactions(seed=1).fingerprint()
        assert a.fingerprint() != random_interactions(seed=2).fingerprint()
        assert a.fingerprint() != Interactions(a.users, a.items).fingerprint()

    def test_from_mapping_and_dataframe(self):
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame({"user": [1, 2], "item": ["x", "y"], "rating": [4.0, 5.0], "timestamp": [10, 20]})
        data = Interactions.from_any(frame)
        assert data.items.tolist() == ["x", "y"] and data.values.tolist() == [4.0, 5.0]
        assert Interactions.from_any({"user": [1], "item": [2]}).values is None
        assert Interactions.from_any(([1, 2], [3, 4], [5.0, 1.0])).values.tolist() == [5.0, 1.0]
        with pytest.raises(DataError, match=r"lacks the column\(s\) \['item'\]; found \['user'\]"):
            Interactions.from_any({"user": [1]})
        with pytest.raises(TypeError, match=r"cannot make interactions from int"):
            Interactions.from_any(3)


class TestIdIndex:
    def test_rows_and_back(self):
        index = IdIndex(["b", "a", "c"])
        assert index.ids.tolist() == ["a", "b", "c"]
        assert index.rows(["c", "a"]).tolist() == [2, 0]
        assert index.ids_of([1]).tolist() == ["b"]

    def test_unknown_ids(self):
        index = IdIndex([10, 20])
        assert index.rows([20, 15, "10", "x"], missing="mark").tolist() == [1, -1, 0, -1]
        with pytest.raises(DataError, match=r"unknown user 15, 99; not in the training data"):
            index.rows([15, 10, 99], what="user")

    def test_text_names_an_integer_id_only_in_ascii_digits(self):
        """int() reads '1_0' as 10 and '\u0667' as 7; found by an outside review (HTTP refused them already)."""
        index = IdIndex([7, 10])
        assert index.rows(["10", " 7 ", "+7", "1_0", "\u0667", "\uff17", "7.0"], missing="mark").tolist() == [
            1, 0, 0, -1, -1, -1, -1,
        ]  # fmt: skip

    def test_repeated_ids_are_refused(self):
        with pytest.raises(DataError, match=r"unique ids; got 1 repeated"):
            IdIndex([1, 1, 2])

    @pytest.mark.parametrize("hashed_from", [10**9, 1])  # numpy only; pandas.factorize for every size
    @pytest.mark.parametrize("library", ["pandas", "pyarrow"])
    def test_encode_equals_numpy_unique(self, monkeypatch, hashed_from, library):
        """Dense integer ids, sparse integer ids and text ids (of every length, empty, beyond the BMP)."""
        pytest.importorskip(library)
        if library == "pyarrow":  # pyarrow's dictionary_encode, as without pandas
            import importlib.util

            find_spec = importlib.util.find_spec
            monkeypatch.setattr(
                importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else find_spec(name, *a)
            )
        monkeypatch.setattr(id_index_module, "_HASHED_CODES_MIN", hashed_from)
        rng = np.random.default_rng(8)
        alphabet = np.array(list("ab ö日🙂"))
        texts = np.array(["".join(rng.choice(alphabet, rng.integers(0, 5))) for _ in range(3_000)])
        cases = [
            rng.integers(-50, 400, 5_000),
            rng.integers(0, 2**62, 2_000) * rng.integers(0, 2, 2_000),
            texts,
            texts.astype("U12"),
        ]
        for ids in cases:
            index, codes = IdIndex.encode(ids)
            unique, inverse = np.unique(ids, return_inverse=True)
            assert index.ids.tolist() == unique.tolist()
            assert codes.tolist() == inverse.tolist() and codes.dtype == np.int64


def events(values, users=None, items=None, times=None):
    n = len(values)
    return Interactions(users or ["u"] * n, items or ["i"] * n, values, times)


class TestRatingsBuilder:
    @pytest.mark.parametrize(
        ("policy", "expected"), [("last", 2.0), ("first", 4.0), ("mean", 3.0), ("sum", 9.0), ("max", 4.0)]
    )
    def test_duplicate_policies_follow_timestamps(self, policy, expected):
        # in file order 3, 4, 2 -- in time order 4, 3, 2
        data = events([3.0, 4.0, 2.0], times=[20.0, 10.0, 30.0])
        matrix = RatingsMatrixBuilder(duplicates=policy).build(data)
        assert matrix.matrix.toarray().tolist() == [[expected]]

    def test_last_follows_file_order_without_timestamps(self):
        assert RatingsMatrixBuilder().build(events([3.0, 4.0, 2.0])).matrix.toarray().tolist() == [[2.0]]

    def test_duplicates_error_names_the_pair(self):
        data = events([3.0, 4.0], users=["ann", "ann"], items=["x", "x"])
        with pytest.raises(DataError, match=r"user 'ann' and item 'x' occur more than once \(1 repeated pairs"):
            RatingsMatrixBuilder(duplicates="error").build(data)

    def test_random_data_equals_a_dense_loop(self, rng):
        users = rng.integers(0, 15, size=300)
        items = rng.integers(0, 12, size=300)
        values = rng.integers(1, 6, size=300).astype(float)
        matrix = RatingsMatrixBuilder(duplicates="sum").build(Interactions(users, items, values))
        dense = np.zeros((15, 12))
        for u, i, v in zip(users, items, values, strict=True):
            dense[u, i] += v
        rows, cols = matrix.users.ids, matrix.items.ids
        np.testing.assert_array_equal(matrix.matrix.toarray(), dense[np.ix_(rows, cols)])
        assert matrix.matrix.has_canonical_format

    def test_no_values_uses_default(self, tiny_interactions):
        data = Interactions(tiny_interactions.users, tiny_interactions.items)
        assert set(RatingsMatrixBuilder(default_value=2.5).build(data).matrix.data) == {2.5}

    def test_empty_data(self):
        with pytest.raises(DataError, match=r"no interactions to build a matrix from"):
            RatingsMatrixBuilder().build(Interactions([], []))


class TestBinaryBuilder:
    def test_threshold(self, tiny_interactions):
        matrix = BinaryMatrixBuilder(threshold=4).build(tiny_interactions)
        assert matrix.nnz == 6 and set(matrix.matrix.data) == {1.0}
        assert matrix.users.ids.tolist() == ["u1", "u2", "u3", "u4", "u5"]

    def test_threshold_needs_values(self):
        with pytest.raises(DataError, match=r"matrix\.threshold is set, but the data has no rating values"):
            BinaryMatrixBuilder(threshold=4).build(Interactions([1], [2]))

    def test_threshold_that_removes_everything(self, tiny_interactions):
        with pytest.raises(DataError, match=r"no interactions have a value of at least matrix\.threshold=6"):
            BinaryMatrixBuilder(threshold=6).build(tiny_interactions)
