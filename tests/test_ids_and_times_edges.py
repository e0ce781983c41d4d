"""Ids and timestamps at the edges: date-time units, missing values, mixed id types, query ids, WAL files."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pytest

from recframe import DataError, Interactions, Recommender
from recframe.builtin.data_sources import ArraysDataSource, DataFrameDataSource
from recframe.builtin.data_sources import sql as sql_source
from recframe.data import timestamp_column

pd = pytest.importorskip("pandas")

DAY = 86_400.0
JAN_1_2020 = 1_577_836_800.0
"""2020-01-01T00:00:00Z as Unix seconds."""
RNG = np.random.default_rng(0)


def _days(unit: str) -> np.ndarray:
    return np.array(["2020-01-01", "2020-01-02", "2020-01-03"], dtype="datetime64[D]").astype(f"datetime64[{unit}]")


# --- timestamps: one conversion, every unit, every path -------------------------------------------


@pytest.mark.parametrize("unit", ["D", "h", "s", "ms", "us", "ns"])
def test_datetime64_of_any_unit_becomes_unix_seconds_on_every_path(unit: str) -> None:
    stamps = _days(unit)
    expected = JAN_1_2020 + DAY * np.arange(3)
    u, i = np.array([1, 2, 3]), np.array([4, 5, 6])
    frame = pd.DataFrame({"user": u, "item": i, "timestamp": stamps})
    paths = {
        "Interactions": Interactions(u, i, None, stamps),
        "from_any(tuple)": Interactions.from_any((u, i, None, stamps)),
        "from_any(frame)": Interactions.from_any(frame),
        "from_columns": Interactions.from_columns(frame, timestamp="timestamp"),
        "arrays tuple": ArraysDataSource.of((u, i, None, stamps)).load(RNG),
        "arrays mapping": ArraysDataSource.of({"user": u, "item": i, "timestamp": stamps}).load(RNG),
        "dataframe": DataFrameDataSource.of(frame).load(RNG),
    }
    fitted = Recommender().fit(frame)._state().fingerprint  # the fit sees the same seconds
    assert fitted == Interactions(u, i, None, expected).fingerprint()
    for path, interactions in paths.items():
        assert interactions.timestamps is not None, path
        np.testing.assert_allclose(interactions.timestamps, expected, err_msg=path)


def test_calendar_time_zone_and_python_date_times_become_unix_seconds() -> None:
    assert timestamp_column("t", np.array(["2020-01"], dtype="datetime64[M]"), 1).tolist() == [JAN_1_2020]
    aware = pd.Series(pd.to_datetime(["2020-01-01 01:00"]).tz_localize("Europe/Berlin"))  # 00:00 UTC
    assert timestamp_column("t", aware, 1).tolist() == [JAN_1_2020]
    naive_python = [dt.datetime(2020, 1, 1), dt.date(2020, 1, 2)]  # naive is UTC, as in numpy
    assert timestamp_column("t", naive_python, 2).tolist() == [JAN_1_2020, JAN_1_2020 + DAY]
    periods = pd.Series(pd.period_range("2020-01-01", periods=2, freq="D"))
    assert timestamp_column("t", periods.to_numpy(), 2).tolist() == [JAN_1_2020, JAN_1_2020 + DAY]


def test_time_window_sees_millisecond_timestamps_as_seconds() -> None:
    stamps = (np.datetime64("2020-01-01") + np.arange(60) * np.timedelta64(1, "h")).astype("datetime64[ms]")
    interactions = ArraysDataSource.of((np.arange(60) % 7, np.arange(60) % 11, None, stamps)).load(RNG)
    assert interactions.timestamps is not None
    assert np.ptp(interactions.timestamps) == 59 * 3600.0


@pytest.mark.parametrize(
    "durations",
    [
        np.array([1, 2], dtype="timedelta64[D]"),
        pd.Series(pd.to_timedelta(["1D", "2D"])),
        [dt.timedelta(days=1), dt.timedelta(days=2)],
    ],
    ids=["numpy", "pandas", "python"],
)
def test_durations_are_refused_as_timestamps(durations: object) -> None:
    with pytest.raises(DataError, match=r"^t.* a timestamp must be a point in time"):
        timestamp_column("t", durations, 2)
    frame = pd.DataFrame({"user": [1, 2], "item": [3, 4], "when": durations})
    with pytest.raises(DataError, match=r"column 'when' \(data\.timestamp\).* must be a point in time"):
        DataFrameDataSource.of(frame, timestamp="when").load(RNG)


# --- missing date-times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamps",
    [
        np.array(["2020-01-01", "NaT"], dtype="datetime64[ns]"),
        pd.Series(pd.to_datetime(["2020-01-01", None])),
        pd.Series(pd.to_datetime(["2020-01-01", None]).tz_localize("UTC")),
        np.array([dt.datetime(2020, 1, 1), None], dtype=object),
    ],
    ids=["numpy", "pandas", "tz-aware", "python"],
)
def test_missing_date_times_are_refused_naming_column_and_row(stamps: object) -> None:
    frame = pd.DataFrame({"user": [1, 2], "item": [3, 4], "when": stamps})
    with pytest.raises(DataError, match=r"column 'when' \(data\.timestamp\): row 2 is .*missing"):
        DataFrameDataSource.of(frame, timestamp="when").load(RNG)
    with pytest.raises(DataError, match=r"timestamps\[1\] is .*missing"):
        Interactions.from_any(frame.rename(columns={"when": "timestamp"}))


# --- mixed id types in Python lists ----------------------------------------------------------------


@pytest.mark.parametrize("users", [[1, "1", 2], [7, "007", 2], [True, 2, 3]], ids=["1-'1'", "7-'007'", "bool-int"])
def test_lists_mixing_id_types_are_refused_like_a_dataframe_column(users: list[object]) -> None:
    match = r"user.* (must be all integers or all strings|row 1 is bool)"
    with pytest.raises(DataError, match=match):
        Interactions.from_any({"user": users, "item": [4, 5, 6]})
    with pytest.raises(DataError, match=match):
        Recommender().fit({"user": users, "item": [4, 5, 6]})
    with pytest.raises(DataError, match=r"column 'user' \(data\.user\)"):
        ArraysDataSource.of({"user": users, "item": [4, 5, 6]}).load(RNG)


def test_one_typed_lists_still_work() -> None:
    assert Interactions.from_any({"user": ["a", "b"], "item": [1, 2]}).users.tolist() == ["a", "b"]
    assert Interactions.from_any({"user": [1, 2.0], "item": [1, 2]}).users.tolist() == [1, 2]


# --- query ids: one rule for int and string models -------------------------------------------------


@pytest.fixture(scope="module", params=["int", "str"])
def model(request: pytest.FixtureRequest) -> Recommender:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 40, 400)
    if request.param == "str":
        users, items = users.astype(str), items.astype(str)
    return Recommender().fit((users, items))


def test_two_dimensional_query_ids_are_refused_before_any_plugin_runs(model: Recommender) -> None:
    with pytest.raises(DataError, match=r"user ids must be 1-d; got an array of shape \(1, 1\)"):
        model.recommend(np.array([["3"]]))
    with pytest.raises(DataError, match=r"user ids must be 1-d"):
        model.predict(np.array([["3"]]), np.array([["4"]]))
    with pytest.raises(DataError, match=r"item ids must be 1-d"):
        model.similar_items(np.array([[4]]))
    with pytest.raises(TypeError, match=r"explain\(\) takes one user id .*; got list \['3'\]"):
        model.explain(["3"], ["4"])


@pytest.mark.parametrize(
    "ids",
    [None, True, 3.0, [np.nan], {3, 4}, (x for x in [3]), np.array([3.0]), [3, None]],
    ids=["None", "bool", "float", "nan", "set", "generator", "float array", "None in list"],
)
def test_odd_query_ids_are_type_errors_for_every_model(model: Recommender, ids: object) -> None:
    with pytest.raises(TypeError, match=r"user ids must be "):
        model.recommend(ids)


def test_explain_refuses_none_and_huge_ints_are_unknown_users(model: Recommender) -> None:
    with pytest.raises(TypeError, match=r"explain\(\) takes one user id .*got NoneType None"):
        model.explain(None, 4)
    lists = model.recommend(2**70)  # no such user: the popularity fallback serves it
    assert lists.reasons.tolist() == ["not in training"]
    assert model.recommend([3, "4"]).queries.tolist() == ([3, 4] if model._state().matrix.users.ids.dtype.kind
                                                            == "i" else ["3", "4"])


# --- SQLite in WAL mode: nothing written beside the database ---------------------------------------


def _wal_database(path: object) -> None:
    connection = sqlite3.connect(str(path))
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE r (u, i)")
    connection.executemany("INSERT INTO r VALUES (?, ?)", [(1, 2), (2, 3)])
    connection.commit()
    connection.close()


def test_reading_a_wal_database_creates_nothing_beside_it(tmp_path: object) -> None:
    folder = tmp_path  # type: ignore[assignment]
    db = folder / "w.db"  # type: ignore[operator]
    _wal_database(db)
    before = sorted(p.name for p in folder.iterdir())  # type: ignore[attr-defined]
    assert before == ["w.db"]
    config = sql_source.SQLConfig(url=f"sqlite:///{db}", query="SELECT u, i FROM r", user="u", item="i")
    assert sql_source.SQLDataSource(config).load(RNG).users.tolist() == [1, 2]
    assert sorted(p.name for p in folder.iterdir()) == before  # type: ignore[attr-defined]


def test_a_wal_file_with_changes_but_no_shm_file_is_refused(tmp_path: object) -> None:
    db = tmp_path / "w.db"  # type: ignore[operator]
    _wal_database(db)
    (tmp_path / "w.db-wal").write_bytes(b"x" * 32)  # type: ignore[operator]
    config = sql_source.SQLConfig(url=f"sqlite:///{db}", query="SELECT u, i FROM r", user="u", item="i")
    with pytest.raises(DataError, match=r"w\.db: the database is in WAL mode and w\.db-wal holds changes"):
        sql_source.SQLDataSource(config).load(RNG)


# --- data frame messages name the column and row ---------------------------------------------------


@pytest.mark.parametrize(
    "users",
    [
        pd.Categorical(["a", None, "b"]),
        pd.Series(["a", None, "b"], dtype=object),
        pd.Series(["a", None, "b"], dtype="string"),
        pd.Series([1, None, 2], dtype="Int64"),
    ],
    ids=["categorical", "object", "string", "Int64"],
)
def test_missing_ids_in_a_frame_name_the_column_and_row(users: object) -> None:
    frame = pd.DataFrame({"user": users, "item": [4, 5, 6]})
    with pytest.raises(DataError, match=r"column 'user' \(data\.user\)(: row 2 is missing| .* nan in row 2)"):
        DataFrameDataSource.of(frame).load(RNG)


def test_integer_column_labels_are_read_by_their_text_and_missing_ones_listed() -> None:
    frame = pd.DataFrame({0: [1, 2], 1: [3, 4]})
    assert DataFrameDataSource.of(frame, user="0", item="1").load(RNG).items.tolist() == [3, 4]
    with pytest.raises(DataError, match=r"no column 'x' \(data\.user\); it has \['0', '1'\]"):
        DataFrameDataSource.of(frame, user="x", item="1").load(RNG)
