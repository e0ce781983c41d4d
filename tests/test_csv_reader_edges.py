"""Every reader of the ``csv`` source on awkward files: the same interactions as the general
reader, or the same error (line endings, non-ASCII digits, huge ids, encodings, NULs, one column
for two roles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from recframe import ConfigError, DataError, Interactions
from recframe.builtin.data_sources import CSVDataSource, DataFrameDataSource, readers
from recframe.builtin.data_sources.delimited import FAST_MIN_BYTES

PARSERS = [
    pytest.param(p, marks=pytest.mark.skipif(p in readers.ENGINES and not readers.available(p), reason="not installed"))
    for p in ("python", "arrow", "pandas", "scipy", "numpy", "auto")
]


def load(path: Path, **config: object) -> Interactions:
    return CSVDataSource(path=path, **config).load(np.random.default_rng(0))


def write(tmp_path: Path, content: str | bytes, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def same(a: Interactions, b: Interactions) -> None:
    assert a.users.dtype.kind == b.users.dtype.kind and a.items.dtype.kind == b.items.dtype.kind
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.values, b.values)


def big_body(rows: int = 30_000) -> str:
    rng = np.random.default_rng(3)
    return "".join(f"{u},{i},{r}\n" for u, i, r in zip(
        rng.integers(1, 2000, rows), rng.integers(1, 800, rows), rng.integers(1, 6, rows), strict=True))


# ----------------------------------------------------------------- CR-only line endings


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("header", [True, False])
def test_cr_only_line_endings_read_as_the_general_reader(tmp_path: Path, parser: str, header: bool) -> None:
    body = "1,2,3\r2,3,4\r7,8,5\r"
    path = write(tmp_path, ("user,item,rating\r" if header else "") + body)
    config = {} if header else {"header": False, "user": 0, "item": 1, "rating": 2}
    same(load(path, parser=parser, **config), load(path, parser="python", **config))
    assert list(load(path, parser=parser, **config).users) == [1, 2, 7]


def test_a_large_cr_only_file_read_by_the_fast_reader(tmp_path: Path) -> None:
    path = write(tmp_path, ("user,item,rating\n" + big_body()).replace("\n", "\r"))
    assert path.stat().st_size >= FAST_MIN_BYTES
    same(load(path, parser="auto"), load(path, parser="python"))


# ----------------------------------------------------------------- non-ASCII digits


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("digits", ["\uff11\uff12", "\u0661\u0662", "1\u0662"], ids=["fullwidth", "arabic", "mixed"])
def test_non_ascii_digits_keep_ids_as_text(tmp_path: Path, parser: str, digits: str) -> None:
    path = write(tmp_path, f"user,item,rating\n{digits},3,4\n12,6,7\n")
    got = load(path, parser=parser)
    assert got.users.dtype.kind == "U"
    assert list(got.users) == [digits, "12"]  # two users, not one
    same(got, load(path, parser="python"))


def test_non_ascii_digits_in_a_large_file(tmp_path: Path) -> None:
    path = write(tmp_path, "user,item,rating\n" + big_body() + "\uff11\uff12,6,7\n12,6,7\n")
    for parser in ("auto", "numpy", *(p for p in ("arrow", "pandas", "scipy") if readers.available(p))):
        same(load(path, parser=parser), load(path, parser="python"))


@pytest.mark.parametrize("parser", PARSERS)
def test_non_ascii_digits_with_id_type_int_are_the_same_data_error(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n\uff15,6,7\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: user id '\uff15' is not an integer"):
        load(path, parser=parser, id_type="int")


# ----------------------------------------------------------------- numbers only Python's float reads

ODD_NUMBERS = ["1_000", "4_5.0", "\u0663", "\uff14.5", "1\u0665"]
"""Ratings Python's ``float`` reads (underscores, non-ASCII digits) but no CSV writer or fast reader."""


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("rating", ODD_NUMBERS)
def test_a_rating_only_python_reads_as_a_number_is_the_same_data_error(
    tmp_path: Path, parser: str, rating: str
) -> None:
    path = write(tmp_path, f"user,item,rating\n1,2,3\n5,6,{rating}\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: rating '.*' is not a number$"):
        load(path, parser=parser)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_timestamp_with_underscores_in_a_large_file_is_the_same_data_error(tmp_path: Path, parser: str) -> None:
    body = big_body().replace("\n", ",1600000000\n")
    path = write(tmp_path, "user,item,rating,timestamp\n" + body + "5,6,7,1_600_000_000\n")
    with pytest.raises(DataError, match=r"ratings\.csv:30002: timestamp '1_600_000_000' is not a number$"):
        load(path, parser=parser)


@pytest.mark.parametrize("parser", PARSERS)
def test_rows_with_a_rating_only_python_reads_are_skipped_on_request(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n5,6,1_000\n7,8,\u0663\n9,9,2.5e0\n")
    got = load(path, parser=parser, on_bad_rows="skip")
    assert list(got.users) == [1, 9] and list(got.values) == [3.0, 2.5]


# ----------------------------------------------------------------- ids beyond int64


@pytest.mark.parametrize("parser", PARSERS)
def test_an_id_beyond_int64_with_id_type_int_is_the_same_data_error(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n" + "9" * 70 + ",6,7\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: user id '9{20}.*' is an integer beyond the 64-bit range"):
        load(path, parser=parser, id_type="int")


# ----------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["rot13", "base64", "hex", "zlib", "punycode", "idna", "unicode_escape"])
def test_an_encoding_that_is_not_a_file_encoding_is_a_config_error(tmp_path: Path, encoding: str) -> None:
    with pytest.raises(ValidationError, match=rf"encoding\n.*'{encoding}' is not a text encoding of files; .*utf-8"):
        CSVDataSource(path=tmp_path / "r.csv", encoding=encoding)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "utf-16", "utf-8-sig", "cp037"])
def test_file_encodings_are_accepted(tmp_path: Path, encoding: str) -> None:
    CSVDataSource(path=tmp_path / "r.csv", encoding=encoding)


def test_utf8_read_as_utf16_says_the_encoding_looks_wrong(tmp_path: Path) -> None:
    path = write(tmp_path, "user,item\n1,2\n2,3\n")  # an even number of bytes: decodes, to CJK characters
    with pytest.raises(DataError, match=r"ratings\.csv: decoded as utf-16, .*no line breaks.*encoding looks wrong"):
        load(path, encoding="utf-16")


@pytest.mark.parametrize("parser", PARSERS)
def test_utf16_read_as_utf8_says_the_encoding_looks_wrong(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n2,3,4\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"ratings\.csv:1: NUL characters in the first line .*encoding looks wrong"):
        load(path, parser=parser)


# ----------------------------------------------------------------- one column, two roles


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({"user": 0, "item": 0}, "user and data.item"),
        ({"rating": "user"}, "user and data.rating"),
        ({"item": "user"}, "user and data.item"),
        ({"layout": "movielens-csv", "timestamp": "userId"}, "user and data.timestamp"),
    ],
)
def test_one_column_for_two_roles_is_a_config_error(tmp_path: Path, config: dict[str, object], fields: str) -> None:
    with pytest.raises(ValidationError, match=rf"data\.{fields} both read column"):
        CSVDataSource(path=tmp_path / "r.csv", **config)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_name_and_a_position_for_one_column_is_a_config_error(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n2,3,4\n")
    with pytest.raises(ConfigError, match=r"ratings\.csv: data\.user and data\.item both read column 0 \('user'\)"):
        load(path, parser=parser, user=0, item="user")


@pytest.mark.parametrize("parser", PARSERS)
def test_a_column_named_rating_chosen_as_ids_is_not_also_the_rating(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n1,2,3\n2,3,4\n")
    got = load(path, parser=parser, user="rating")
    assert list(got.users) == [3, 4] and got.values is None


def test_a_dataframe_column_for_two_roles_is_a_config_error() -> None:
    frame = pd.DataFrame({"user": [1, 2], "item": [3, 4]})
    with pytest.raises(ConfigError, match=r"data\.user and data\.item both read column 'user'"):
        DataFrameDataSource.of(frame, user="user", item="user").load(np.random.default_rng(0))


# ----------------------------------------------------------------- NUL characters


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("nul_id", ["ab\0", "1\0", "\x001"])
def test_a_nul_in_an_id_is_a_data_error_naming_the_line(tmp_path: Path, parser: str, nul_id: str) -> None:
    path = write(tmp_path, f"user,item,rating\nab,2,3\n{nul_id},6,7\n")
    with pytest.raises(DataError, match=r"ratings\.csv:3: user id '.*\\x00.*' holds a NUL character"):
        load(path, parser=parser)


@pytest.mark.parametrize("parser", PARSERS)
def test_a_nul_in_an_id_in_a_large_file(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\n" + big_body() + "5,6\0,7\n")
    with pytest.raises(DataError, match=r"ratings\.csv:30002: item id '6\\x00' holds a NUL character"):
        load(path, parser=parser)


@pytest.mark.parametrize("parser", PARSERS)
def test_rows_with_a_nul_in_an_id_are_skipped_on_request(tmp_path: Path, parser: str) -> None:
    path = write(tmp_path, "user,item,rating\nab,2,3\nab\0,6,7\n")
    got = load(path, parser=parser, on_bad_rows="skip")
    assert list(got.users) == ["ab"]
