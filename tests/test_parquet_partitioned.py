"""A partitioned Parquet dataset (a folder of files) read row group by row group on the executor.

Read in parts, the interactions must be those of reading the folder in one go: the same ids in
the same order, the same values and timestamps; errors name the file (and the row group).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recframe import DataError, Executor, Interactions, PluginRegistry, Recommender, SupportsPartitions

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

LocalExecutor = PluginRegistry.from_environment(entry_points=False).get("executor", "local")


class Recording(LocalExecutor):  # type: ignore[misc, valid-type]
    """The local executor on two threads, recording the blocks it is given."""

    name = "recording_local"

    def __init__(self) -> None:
        super().__init__(LocalExecutor.Config(workers=2, block_rows=5))
        self.blocks: list[object] = []

    def map_blocks(self, function, blocks, payload, *, desc, on_result=None):  # type: ignore[no-untyped-def]
        self.blocks.extend(blocks)
        return super().map_blocks(function, blocks, payload, desc=desc, on_result=on_result)


def source(path: Path, **columns: str) -> object:
    return Recommender.from_config({"data": {"type": "parquet", "path": str(path), **columns}}).data


def load_both(path: Path, **columns: str) -> tuple[Interactions, Interactions, Recording]:
    """Return the interactions read in one go and read in parts on two threads, and the executor used."""
    whole = Recommender(data=source(path, **columns)).load_data()
    executor = Recording()
    parts = Recommender(data=source(path, **columns), executor=executor).load_data()
    return whole, parts, executor


def assert_same(a: Interactions, b: Interactions) -> None:
    for name in ("users", "items", "values", "timestamps"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype, name
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.fingerprint() == b.fingerprint()


def test_two_files_by_hand(tmp_path: Path):
    folder = tmp_path / "events"
    folder.mkdir()
    pq.write_table(pa.table({"user": [3, 1, 3], "item": [7, 8, 9], "rating": [1.0, 2.0, 3.0]}), folder / "b.parquet")
    pq.write_table(pa.table({"user": [2, 2], "item": [7, 9], "rating": [4.0, 5.0]}), folder / "a.parquet")
    whole, parts, executor = load_both(folder)
    assert len(executor.blocks) == 2  # one row group per file
    assert parts.users.tolist() == [2, 2, 3, 1, 3]  # the files in name order, rows in file order
    assert parts.items.tolist() == [7, 9, 7, 8, 9]
    assert parts.values is not None and parts.values.tolist() == [4.0, 5.0, 1.0, 2.0, 3.0]
    assert_same(whole, parts)


def test_a_hive_partitioned_dataset_with_row_groups_reads_the_same(tmp_path: Path):
    rng = np.random.default_rng(3)
    n = 900
    table = pa.table(
        {
            "user_id": [f"u{v}" for v in rng.zipf(1.5, n) % 80],
            "item_id": rng.integers(0, 300, n),
            "score": rng.random(n),
            "at": pa.array(rng.integers(1_600_000_000, 1_700_000_000, n) * 1_000_000, pa.timestamp("us")),
            "day": rng.integers(0, 4, n),
        }
    )
    folder = tmp_path / "dataset"
    pq.write_to_dataset(table, folder, partition_cols=["day"], row_group_size=70)
    columns = {"user": "user_id", "item": "item_id", "rating": "score", "timestamp": "at"}
    whole, parts, executor = load_both(folder, **columns)
    files = sorted(folder.rglob("*.parquet"))
    assert len(files) == 4
    assert len(executor.blocks) == sum(pq.ParquetFile(f).num_row_groups for f in files) > len(files)
    assert len(parts) == n
    assert_same(whole, parts)
    # the brute-force reference: every file's rows, files in name order, read with pyarrow directly
    expected = pa.concat_tables(pq.read_table(f, columns=["user_id", "item_id"]) for f in files)
    assert parts.users.tolist() == expected.column("user_id").to_pylist()
    assert parts.items.tolist() == expected.column("item_id").to_pylist()


def test_ids_are_converted_once_over_every_part(tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    pq.write_table(pa.table({"user": ["10", "11"], "item": ["1", "2"]}), folder / "a.parquet")
    pq.write_table(pa.table({"user": ["x", "10"], "item": ["2", "3"]}), folder / "b.parquet")
    whole, parts, executor = load_both(folder)
    assert len(executor.blocks) == 2
    assert_same(whole, parts)


def test_a_single_part_and_a_serial_executor_read_in_one_go(tmp_path: Path):
    path = tmp_path / "one.parquet"
    pq.write_table(pa.table({"user": [1, 2], "item": [3, 4]}), path)
    data = source(path)
    assert isinstance(data, SupportsPartitions)
    assert len(data.partitions()) == 1
    whole, parts, executor = load_both(path)
    assert executor.blocks == []  # one part: the usual load
    assert_same(whole, parts)


def test_errors_name_the_file_and_the_row_group(tmp_path: Path):
    folder = tmp_path / "bad"
    folder.mkdir()
    pq.write_table(pa.table({"user": [1, 2], "item": [3, 4]}), folder / "a.parquet")
    pq.write_table(pa.table({"user": [1, None], "item": [3, 4]}), folder / "b.parquet")
    executor: Executor = Recording()
    rec = Recommender(data=source(folder), executor=executor)
    with pytest.raises(DataError, match=r"b\.parquet \(row group 0\): column 'user' \(data\.user\) has 1 nulls"):
        rec.load_data()
    (folder / "b.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"b\.parquet: can't read Parquet"):
        rec.load_data()
    (folder / "b.parquet").unlink()
    pq.write_table(pa.table({"user": [1.5], "item": [3]}), folder / "c.parquet")
    with pytest.raises(
        DataError, match=r"c\.parquet: column 'user' \(data\.user\) is double, but int64 in .*a\.parquet"
    ):
        rec.load_data()
    with pytest.raises(TypeError, match="a parquet part must come from partitions"):
        source(folder).load_partition("a.parquet")  # type: ignore[attr-defined]


def test_a_column_only_later_files_have_is_an_error_naming_both_files(tmp_path):
    """A timestamp column missing from the first file is not dropped from the others in silence."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    pq.write_table(pa.table({"user": [1, 2], "item": [3, 4]}), folder / "a.parquet")
    pq.write_table(pa.table({"user": [5], "item": [6], "timestamp": [7.0]}), folder / "b.parquet")
    with pytest.raises(
        DataError, match=r"b\.parquet: has the column 'timestamp' \(data\.timestamp\), which .*a\.parquet lacks"
    ):
        source(folder).load(np.random.default_rng(0))  # type: ignore[attr-defined]
