"""The ``scipy`` reader of the ``csv`` source: it answers for plainly numeric files, exactly as
the general reader reads them, and steps aside (``None``) on anything else.

Each case is checked twice: the reader's own answer (arrays, or ``None``), and the whole source
with ``parser: scipy`` against ``parser: python`` (same interactions, or the same error).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from recframe import DataError, Interactions
from recframe.builtin.data_sources import CSVDataSource, readers, scipy_reader

pytestmark = pytest.mark.skipif(not readers.available("scipy"), reason="scipy older than 1.12")

ROLES = {"user": 0, "item": 1, "rating": 2}


def direct(
    text: bytes,
    *,
    delimiter: str = ",",
    header: bool = True,
    id_type: str = "auto",
    columns: dict[str, int] | None = None,
) -> dict[str, np.ndarray] | None:
    """Run the scipy reader alone on `text`."""
    request = readers.Request(
        raw=text, delimiter=delimiter, columns=columns or ROLES, header=header, id_type=id_type, encoding="utf-8"
    )
    return scipy_reader.read_scipy(request, text, 0, delimiter, b'"' in text)


def agree(tmp_path: Path, text: bytes, **config: object) -> Interactions | None:
    """Load `text` with ``parser: scipy`` and ``parser: python``; assert the same result or error."""
    path = tmp_path / "r.csv"
    path.write_bytes(text)
    try:
        expected = CSVDataSource(path=path, parser="python", **config).load(np.random.default_rng(0))
    except DataError as exc:
        with pytest.raises(DataError, match=re.escape(str(exc))):
            CSVDataSource(path=path, parser="scipy", **config).load(np.random.default_rng(0))
        return None
    got = CSVDataSource(path=path, parser="scipy", **config).load(np.random.default_rng(0))
    assert got.fingerprint() == expected.fingerprint()
    assert got.users.dtype == expected.users.dtype and got.items.dtype == expected.items.dtype
    return got


@pytest.fixture(params=[1 << 20, 8], ids=["one-chunk", "8-byte-chunks"])
def chunk_bytes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Read in one chunk, and in chunks of about a line each (every check on chunk boundaries)."""
    monkeypatch.setattr(scipy_reader, "CHUNK_BYTES", request.param)
    return int(request.param)


# ----------------------------------------------------------------------- files it answers for


@pytest.mark.parametrize(
    ("text", "options", "users", "items", "ratings"),
    [
        (b"u,i,r\n1,10,4.5\n2,11,3\n", {}, [1, 2], [10, 11], [4.5, 3.0]),
        (b"u,i,r\r\n1,10,4.5\r\n2,11,3\r\n", {}, [1, 2], [10, 11], [4.5, 3.0]),  # CRLF
        (b"u,i,r\n1,10,4.5\n2,11,3", {}, [1, 2], [10, 11], [4.5, 3.0]),  # no final newline
        (b"u,i,r\r\n1,10,4.5\r\n2,11,3", {}, [1, 2], [10, 11], [4.5, 3.0]),
        (b"1,10,4.5\n2,11,3\n", {"header": False}, [1, 2], [10, 11], [4.5, 3.0]),
        (b"u\ti\tr\n1\t10\t.5\n2\t11\t5.\n", {"delimiter": "\t"}, [1, 2], [10, 11], [0.5, 5.0]),
        (b"u;i;r\n-1;10;-.5\n2;-11;-2.25\n", {"delimiter": ";"}, [-1, 2], [10, -11], [-0.5, -2.25]),
        (b"u,i,r\n0,10,0\n2,0,0.0\n", {}, [0, 2], [10, 0], [0.0, 0.0]),  # zero is canonical
        (b"u,i,r\n9007199254740991,1,1\n", {}, [2**53 - 1], [1], [1.0]),  # the largest exact integer
        (b"u,i,r\n007,10,1\n", {"id_type": "int"}, [7], [10], [1.0]),  # int ids: 007 is 7
        (b"u,i,r\n1,10,12345678901234567890\n", {}, [1], [10], [1.2345678901234567e19]),
    ],
)
def test_numeric_files_are_read_by_the_scipy_reader(tmp_path, chunk_bytes, text, options, users, items, ratings):
    id_type = options.get("id_type", "auto")
    got = direct(text, delimiter=options.get("delimiter", ","), header=options.get("header", True), id_type=id_type)
    assert got is not None
    assert got["user"].dtype == np.int64 and got["item"].dtype == np.int64 and got["rating"].dtype == np.float64
    assert got["user"].tolist() == users and got["item"].tolist() == items and got["rating"].tolist() == ratings
    config = {"user": 0, "item": 1, "rating": 2, **options}
    agree(tmp_path, text, **config)


def test_a_double_colon_file_is_read_by_the_scipy_reader(tmp_path, chunk_bytes, monkeypatch):
    text = b"1::10::5::978300760\n2::11::4.5::978300761\n"
    calls = []
    original = scipy_reader.read_scipy

    def recording(*args: object) -> dict[str, np.ndarray] | None:
        result = original(*args)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(scipy_reader, "read_scipy", recording)
    got = agree(tmp_path, text, layout="movielens-1m")
    assert calls == [True] and got is not None and got.timestamps.tolist() == [978300760, 978300761]


def test_columns_the_source_does_not_use_must_be_numbers_too(chunk_bytes):
    assert direct(b"u,x,i,r\n1,2.5,10,3\n", columns={"user": 0, "item": 2, "rating": 3}) is not None
    assert direct(b"u,x,i,r\n1,ab,10,3\n", columns={"user": 0, "item": 2, "rating": 3}) is None


# ----------------------------------------------------------------------- files it steps aside for


@pytest.mark.parametrize(
    "text",
    [
        b"u,i,r\n007,10,1\n7,11,2\n",  # a leading zero: 7 and 007 are two ids to id_type auto
        b"u,i,r\n1,010,1\n",
        b"u,i,r\n-0,10,1\n0,11,2\n",  # -0 is not canonical either
        b"u,i,r\n1,10,-0.5\n",  # any -0 steps aside (rare; safe)
        b"u,i,r\n1,10,1.2.3\n",  # two points: the parser would read 1.2
        b"u,i,r\n1,10,3.0x\n",  # trailing junk: the parser would read 3.0
        b"u,i,r\n1,10,3-1\n",  # a minus inside a field
        b"u,i,r\n1,10,--3\n",
        b"u,i,r\n1,10,-.\n",  # signs and points alone: the parser refuses them
        b"u,i,r\n1,10,.\n",
        b"u,i,r\n1,,3\n2,11,4\n",  # an empty field: the parser skips blank lines
        b"u,i,r\n1,10,\n",
        b"u,i,r\n1,10,3\n2,11,4,5\n",  # rows of other widths
        b"u,i,r\n1,10\n2,11,4,5\n",  # 2 then 4 fields: the counts add up, the rows don't
        b"u,i,r\n1,10,3\n\n2,11,4\n",  # a blank line
        b'u,i,r\n"1",10,3\n',  # quotes
        b"u,i,r\n1, 10,3\n",  # a space
        b"u,i,r\n+1,10,3\n",  # a plus sign
        b"u,i,r\n1,10,1e3\n",  # an exponent
        b"u,i,r\n1,10,nan\n",  # words
        b"u,i,r\nu1,10,3\n",  # text ids: numpy's reader reads them
        b"u,i,r\n7.0,10,3\n",  # a point in an id column
        b"u,i,r\n1,10.5,3\n",
        b"u,i,r\n1,7.,3\n",
        b"u,i,r\n9007199254740992,1,1\n",  # 2**53: float64 can't keep every id from here on
        b"u,i,r\n-9007199254740993,1,1\n",
        b"u,i,r\n1,10,3\r\n2,11,4\n",  # mixed line endings
        b"u,i,r\n1,10,3\r2,11,4\n",  # a carriage return alone
        b"u,i,r\n",  # no rows
        b"",
    ],
)
def test_the_scipy_reader_steps_aside_and_the_source_reads_as_the_general_reader(tmp_path, chunk_bytes, text):
    assert direct(text) is None
    agree(tmp_path, text)


def test_text_ids_are_read_by_numpys_reader_not_the_general_one(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_bytes(b"user,item,rating\n" + b"".join(b"u%d,%d,%d\n" % (i, i % 7, i % 5) for i in range(500)))
    monkeypatch.setattr(CSVDataSource, "_read_rows", lambda *args: pytest.fail("the general reader was used"))
    got = CSVDataSource(path=path, parser="scipy").load(np.random.default_rng(0))
    assert got.users[:2].tolist() == ["u0", "u1"]


def test_str_ids_are_left_to_the_other_readers():
    assert direct(b"u,i,r\n1,10,3\n", id_type="str") is None


# ----------------------------------------------------------------------- random data


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_numeric_files_agree_with_the_general_reader(tmp_path, monkeypatch, seed):
    rng = np.random.default_rng(seed)
    n = 5_000
    users = rng.integers(-(10**12), 10**12, n)
    items = rng.integers(0, 50, n)
    scale = 10.0 ** rng.integers(0, 6, n)  # 0 to 5 decimals; no -0.x, which the reader leaves aside
    ratings = np.round(rng.uniform(1, 500, n) * rng.choice([-1, 1], n) * scale) / scale
    times = rng.integers(0, 2**40, n)
    end = [b"\n", b"\r\n"][seed % 2]
    lines = [b"%d,%d,%r,%d" % (u, i, float(r), t) for u, i, r, t in zip(users, items, ratings, times, strict=True)]
    text = b"userId,movieId,rating,timestamp" + end + end.join(lines) + (end if seed != 2 else b"")
    monkeypatch.setattr(scipy_reader, "CHUNK_BYTES", 1000 + 777 * seed)
    request = readers.Request(
        raw=text,
        delimiter=",",
        columns={"user": 0, "item": 1, "rating": 2, "timestamp": 3},
        header=True,
        id_type="auto",
        encoding="utf-8",
    )
    got = scipy_reader.read_scipy(request, text, 0, ",", False)
    assert got is not None
    np.testing.assert_array_equal(got["user"], users)
    np.testing.assert_array_equal(got["rating"], ratings)
    np.testing.assert_array_equal(got["timestamp"], times.astype(np.float64))
    agree(tmp_path, text, layout="movielens-csv")


def test_a_bad_row_in_a_later_chunk_is_caught(tmp_path, monkeypatch):
    good = b"".join(b"%d,%d,%d.5\n" % (i + 1, i % 9 + 1, i % 5) for i in range(2_000))
    monkeypatch.setattr(scipy_reader, "CHUNK_BYTES", 4096)
    for bad in (b"5,007,1\n", b"5,7,1.2.3\n", b"5,7\n5,7,1,1\n", b"5,,1\n"):
        text = b"u,i,r\n" + good + bad + good
        assert direct(text) is None, bad
        agree(tmp_path, text)
