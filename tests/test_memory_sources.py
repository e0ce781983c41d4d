"""The dataframe and arrays sources: Python objects in, from Python, YAML and the CLI."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pydantic import ValidationError

from recframe import DataError, Interactions, Recommender
from recframe.builtin.data_sources import ArraysDataSource, CSVDataSource, DataFrameDataSource
from recframe.cli import main
from recframe.testing import random_interactions

DATA = random_interactions(30, 20, seed=5)


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "customer": DATA.users, "sku": DATA.items, "stars": DATA.values, "when": DATA.timestamps, "extra": 1,
    })


def test_a_dataframe_round_trip_equals_csv_and_python(tmp_path):
    source = DataFrameDataSource.of(frame(), user="customer", item="sku", rating="stars", timestamp="when")
    loaded = source.load(np.random.default_rng(0))
    assert loaded.fingerprint() == DATA.fingerprint()
    path = tmp_path / "r.csv"
    frame().to_csv(path, index=False, float_format="%.17g")
    via_csv = CSVDataSource(path=path, user="customer", item="sku", rating="stars", timestamp="when")
    assert via_csv.load(np.random.default_rng(0)).fingerprint() == loaded.fingerprint()


def test_dataframe_columns_by_default_name_and_datetimes_become_unix_seconds():
    table = pd.DataFrame({
        "user": ["ann", "bob", "ann"], "item": [10, 11, 11], "rating": [4.0, 5.0, 3.0],
        "timestamp": pd.to_datetime(
            ["1970-01-01 00:00:10", "2020-01-01 00:00:00", "2020-01-01 00:00:00.5"], format="ISO8601"
        ),
    })
    loaded = DataFrameDataSource.of(table).load(np.random.default_rng(0))
    assert loaded.users.tolist() == ["ann", "bob", "ann"]
    assert loaded.values.tolist() == [4.0, 5.0, 3.0]
    assert loaded.timestamps.tolist() == [10.0, 1_577_836_800.0, 1_577_836_800.5]
    plain = DataFrameDataSource.of(table[["user", "item"]]).load(np.random.default_rng(0))
    assert plain.values is None and plain.timestamps is None


def test_dataframe_errors_name_what_is_wrong():
    with pytest.raises(DataError, match=r"no column 'user' \(data.user\).*it has \['customer', 'sku'"):
        DataFrameDataSource.of(frame()).load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"expected a pandas or polars DataFrame.*got list"):
        DataFrameDataSource.of([1, 2]).load(np.random.default_rng(0))
    broken = pd.DataFrame({"user": [1, 2], "item": [1, 2], "rating": [1.0, np.nan]})
    with pytest.raises(DataError, match=r"data \(dataframe\): column 'rating' \(data\.rating\): row 2 is nan"):
        DataFrameDataSource.of(broken).load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"no data; set data\.object"):
        DataFrameDataSource().load(np.random.default_rng(0))
    with pytest.raises(ValidationError, match=r"must be 'package\.module:name'"):
        DataFrameDataSource(object="not a reference")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's, next to the run file, importable as ``shop_data``."""
    (tmp_path / "shop_data.py").write_text(textwrap.dedent("""
        import numpy as np
        import pandas as pd
        import scipy.sparse as sp

        CALLS = []

        def orders():
            CALLS.append(1)
            users = np.repeat(np.arange(40), 6)
            items = (users * 7 + np.tile(np.arange(6), 40)) % 25
            return pd.DataFrame({"customer_id": users, "product": items, "quantity": 1.0 + users % 3})

        MATRIX = sp.random(30, 15, density=0.3, format="csr", random_state=1)

        def failing():
            raise RuntimeError("the warehouse is closed")
    """))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("shop_data", None)


def test_a_dataframe_named_in_yaml_runs_end_to_end_with_filters(user_module):
    config = {
        "data": {
            "type": "dataframe", "object": "shop_data:orders", "user": "customer_id", "item": "product",
            "rating": "quantity", "filters": [{"type": "rating_threshold", "min_rating": 2}],
        },
        "ranker": {"type": "item_cf", "n": 5},
    }
    rec = Recommender.from_config(config).fit()
    assert rec.filter_report[0].events_after == int(((np.arange(40) % 3) >= 1).sum() * 6)
    assert len(rec.recommend([1]).to_dict()[1]) == 5
    assert str(user_module) not in sys.path  # the current directory was added only for the import


def test_object_errors_name_the_reference(user_module):
    def load(reference: str) -> None:
        DataFrameDataSource(object=reference).load(np.random.default_rng(0))

    with pytest.raises(DataError, match=r"data.object: can't import 'no_such_module'"):
        load("no_such_module:frame")
    with pytest.raises(DataError, match=r"has no 'order'; did you mean 'orders'\?"):
        load("shop_data:order")
    with pytest.raises(DataError, match=r"calling 'shop_data:failing' failed: RuntimeError: the warehouse is closed"):
        load("shop_data:failing")


def test_arrays_from_python_tuple_mapping_structured_and_sparse():
    rng = np.random.default_rng(0)
    as_tuple = ArraysDataSource.of((DATA.users, DATA.items, DATA.values, DATA.timestamps)).load(rng)
    assert as_tuple.fingerprint() == DATA.fingerprint()
    mapping = {"u": DATA.users, "i": DATA.items, "value": DATA.values}
    loaded = ArraysDataSource.of(mapping, user="u", item="i").load(rng)
    assert loaded.fingerprint() == Interactions(DATA.users, DATA.items, DATA.values).fingerprint()
    structured = np.zeros(3, dtype=[("user", "U5"), ("item", "i8")])
    structured["user"], structured["item"] = ["a", "b", "a"], [1, 2, 3]
    assert ArraysDataSource.of(structured).load(rng).users.tolist() == ["a", "b", "a"]
    matrix = sp.csr_array(np.array([[0, 2.0], [3.0, 0]]))
    assert ArraysDataSource.of(matrix).load(rng).values.tolist() == [2.0, 3.0]


def test_arrays_from_npz_files(tmp_path):
    rng = np.random.default_rng(0)
    named = tmp_path / "named.npz"
    np.savez(named, user=DATA.users, item=DATA.items, rating=DATA.values, timestamp=DATA.timestamps)
    assert ArraysDataSource(path=named).load(rng).fingerprint() == DATA.fingerprint()
    text_ids = tmp_path / "text.npz"
    np.savez(text_ids, user=np.array(["ö", "b"]), item=np.array([1, 2]))
    assert ArraysDataSource(path=text_ids).load(rng).users.tolist() == ["ö", "b"]
    matrix = sp.random(12, 9, density=0.4, format="csr", random_state=2)
    sparse_path = tmp_path / "matrix.npz"
    sp.save_npz(sparse_path, matrix)
    loaded = ArraysDataSource(path=sparse_path).load(rng)
    coo = matrix.tocoo()
    order = np.lexsort((coo.col, coo.row))
    assert loaded.values.tolist() == coo.data[order].tolist()
    assert loaded.users.tolist() == coo.row[order].tolist()


def test_arrays_errors(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match=r"missing.npz: file not found \(data.path\)"):
        ArraysDataSource(path=tmp_path / "missing.npz").load(rng)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, user=np.array([1, None], dtype=object), item=np.array([1, 2]))
    with pytest.raises(DataError, match=r"pickled.npz: can't read it as a .npz file of arrays"):
        ArraysDataSource(path=pickled).load(rng)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, users=np.array([1]), item=np.array([1]))
    with pytest.raises(DataError, match=r"wrong.npz: no column 'user' \(data.user\); it has \['users', 'item'\]"):
        ArraysDataSource(path=wrong).load(rng)
    with pytest.raises(ValidationError, match=r"set data\.path or data\.object, not both"):
        ArraysDataSource(path=wrong, object="shop_data:MATRIX")
    with pytest.raises(DataError, match=r"expected a tuple of arrays.*got str"):
        ArraysDataSource.of("ratings").load(rng)


def test_arrays_named_in_yaml_through_the_cli(user_module, capsys):
    (user_module / "run.yaml").write_text("data: {type: arrays, object: 'shop_data:MATRIX'}\n")
    assert main(["data", "describe", "run.yaml", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)["data"]
    assert summary["interactions"] == 135 and summary["users"] <= 30
