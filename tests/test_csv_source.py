"""The ``csv`` data source: MovieLens layouts, column mappings, id types and exact error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, load_config
from recframe.builtin.data_sources import CSVDataSource, delimited, readers


def read(tmp_path, content: str | bytes, name: str = "data.csv", **params) -> Interactions:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return CSVDataSource(path=path, **params).load(np.random.default_rng(0))


def columns(data: Interactions) -> tuple[list, list, list | None, list | None]:
    return (
        data.users.tolist(),
        data.items.tolist(),
        None if data.values is None else data.values.tolist(),
        None if data.timestamps is None else data.timestamps.tolist(),
    )


# --------------------------------------------------------------------------- layouts


def test_movielens_100k_u_data(tmp_path):
    data = read(
        tmp_path,
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n",
        "u.data",
        layout="movielens-100k",
    )
    assert columns(data) == ([196, 186, 22], [242, 302, 377], [3.0, 3.0, 1.0], [881250949.0, 891717742.0, 878887116.0])
    assert data.users.dtype == np.int64 and data.items.dtype == np.int64


def test_movielens_1m_ratings_dat(tmp_path):
    data = read(tmp_path, "1::1193::5::978300760\r\n1::661::3::978302109\r\n", "ratings.dat", layout="movielens-1m")
    assert columns(data) == ([1, 1], [1193, 661], [5.0, 3.0], [978300760.0, 978302109.0])


def test_movielens_ratings_csv_with_header(tmp_path):
    data = read(
        tmp_path,
        "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,4.5,964981247\n",
        "ratings.csv",
        layout="movielens-csv",
    )
    assert columns(data) == ([1, 1], [1, 3], [4.0, 4.5], [964982703.0, 964981247.0])


def test_layout_fields_can_be_overridden(tmp_path):
    data = read(tmp_path, "1\t2\t3\t4\t5\n", "u.data", layout="movielens-100k", rating=None, timestamp=4)
    assert columns(data) == ([1], [2], [3.0], [5.0])


def test_generic_defaults_user_item_and_optional_rating_timestamp(tmp_path):
    data = read(tmp_path, "timestamp,item,user,rating\n10,a,u1,2\n20,b,u2,5\n")
    assert columns(data) == (["u1", "u2"], ["a", "b"], [2.0, 5.0], [10.0, 20.0])
    data = read(tmp_path, "user,item\nu1,a\n")
    assert columns(data) == (["u1"], ["a"], None, None)


# --------------------------------------------------------------------------- column mappings


def test_columns_by_name(tmp_path):
    data = read(
        tmp_path, "who;what;stars;extra\nann;x;4;-\nbob;y;2;-\n", delimiter=";", user="who", item="what", rating="stars"
    )
    assert columns(data) == (["ann", "bob"], ["x", "y"], [4.0, 2.0], None)


def test_columns_by_position_without_header(tmp_path):
    data = read(tmp_path, "9|x|ann\n8|y|bob\n", delimiter="|", header=False, user=2, item=1, rating=0)
    assert columns(data) == (["ann", "bob"], ["x", "y"], [9.0, 8.0], None)


def test_columns_by_position_with_header(tmp_path):
    data = read(tmp_path, "a,b\nann,x\n", user=0, item=1)
    assert columns(data) == (["ann"], ["x"], None, None)


@pytest.mark.parametrize("parser", ["python", "pandas", "numpy"])
@pytest.mark.parametrize("header", ["user,user,item,rating", "user,item,rating,rating", "user,item, rating,rating "])
def test_a_column_named_twice_in_the_header_is_refused(tmp_path, parser, header):
    with pytest.raises(DataError, match=r"the header names '(user|rating)' 2 times \(fields [0-9], [0-9]\)"):
        read(tmp_path, f"{header}\n1,2,3,4\n", parser=parser)


def test_a_column_named_twice_but_not_read_is_no_matter(tmp_path):
    data = read(tmp_path, "user,item,note,note\n1,2,a,b\n", parser="python")
    assert columns(data) == ([1], [2], None, None)


def test_quoted_fields_and_surrounding_spaces(tmp_path):
    data = read(tmp_path, 'user,item,rating\n"Smith, Ann", "x" , 4 \n')
    assert columns(data) == (["Smith, Ann"], ['"x"'], [4.0], None)


# --------------------------------------------------------------------------- ids


def test_string_ids(tmp_path):
    data = read(tmp_path, "user,item\nu1,i1\nu2,i1\n")
    assert data.users.dtype.kind == "U" and columns(data)[:2] == (["u1", "u2"], ["i1", "i1"])


def test_unicode_ids(tmp_path):
    data = read(tmp_path, "user,item,rating\nÅsa,日本語,5\nJosé,🎬,3\n")
    assert columns(data) == (["Åsa", "José"], ["日本語", "🎬"], [5.0, 3.0], None)


def test_auto_ids_are_ints_when_every_id_is_one(tmp_path):
    data = read(tmp_path, "user,item\n1,10\n-2,20\n")
    assert data.users.dtype == np.int64 and columns(data)[:2] == ([1, -2], [10, 20])


def test_auto_ids_stay_strings_when_one_is_not_an_int(tmp_path):
    data = read(tmp_path, "user,item\n1,10\nx,20\n")
    assert columns(data)[:2] == (["1", "x"], [10, 20])


@pytest.mark.parametrize("spelling", ["007", "+7", "1_000", "٣", "99999999999999999999"])
def test_auto_ids_keep_spellings_that_are_not_plain_ints_as_strings(tmp_path, spelling):
    data = read(tmp_path, f"user,item\n{spelling},1\n7,2\n")
    assert columns(data)[0] == [spelling, "7"]  # "007" and "7" stay two users


def test_id_type_str_keeps_numbers_as_strings(tmp_path):
    data = read(tmp_path, "user,item\n1,10\n2,20\n", id_type="str")
    assert columns(data)[:2] == (["1", "2"], ["10", "20"])


def test_id_type_int_parses_padded_numbers(tmp_path):
    data = read(tmp_path, "user,item\n007,+10\n", id_type="int")
    assert columns(data)[:2] == ([7], [10])


def test_id_type_int_rejects_a_string_naming_the_line(tmp_path):
    with pytest.raises(DataError, match=r"^\S*data\.csv:3: item id 'x' is not an integer \(data\.id_type is 'int'\)$"):
        read(tmp_path, "user,item\n1,10\n2,x\n", id_type="int")


def test_an_empty_id_names_the_line(tmp_path):
    with pytest.raises(DataError, match=r"^\S*data\.csv:3: empty user id$"):
        read(tmp_path, "user,item\na,1\n,2\n")


# --------------------------------------------------------------------------- lines


def test_blank_lines_are_skipped_and_lines_still_counted(tmp_path):
    text = "\nuser,item,rating\n\nu1,a,1\n   \n,,\nu2,b,2\n\n"
    assert columns(read(tmp_path, text)) == (["u1", "u2"], ["a", "b"], [1.0, 2.0], None)
    with pytest.raises(DataError, match=r"data\.csv:9: rating 'bad' is not a number$"):
        read(tmp_path, text + "u3,c,bad\n")


def test_a_quoted_field_over_two_lines_keeps_later_line_numbers(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv:4: rating 'x' is not a number$"):
        read(tmp_path, 'user,item,rating\n"multi\nline",a,1\nu2,b,x\n')


def test_windows_line_endings_and_a_byte_order_mark(tmp_path):
    data = read(tmp_path, b"\xef\xbb\xbfuser,item,rating\r\nu1,a,1\r\nu2,b,2\r\n")
    assert columns(data) == (["u1", "u2"], ["a", "b"], [1.0, 2.0], None)


def test_unicode_line_separators_inside_a_field_are_not_line_breaks(tmp_path):
    data = read(tmp_path, "user,item\nx\u2028y,a\nz\x85w,b\n")
    assert columns(data)[0] == ["x\u2028y", "z\x85w"]


def test_another_encoding(tmp_path):
    data = read(tmp_path, "user,item\nJosé,a\n".encode("latin-1"), encoding="latin-1")
    assert columns(data)[0] == ["José"]


# --------------------------------------------------------------------------- errors, exact text


def test_missing_file(tmp_path):
    with pytest.raises(DataError) as info:
        read_missing = CSVDataSource(path=tmp_path / "nope.csv")
        read_missing.load(np.random.default_rng(0))
    assert str(info.value) == f"{tmp_path / 'nope.csv'}: file not found (data.path)"


def test_a_folder_instead_of_a_file(tmp_path):
    with pytest.raises(DataError, match=r"^\S*: is a directory, not a file \(data\.path\)$"):
        CSVDataSource(path=tmp_path).load(np.random.default_rng(0))


def test_empty_file(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, "")
    assert str(info.value) == f"{tmp_path / 'data.csv'}: the file is empty; expected a header line"


def test_empty_file_without_header(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv: no interactions; the file has no data rows$"):
        read(tmp_path, "\n\n", header=False, user=0, item=1)


def test_header_only_file(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, "user,item,rating\n\n")
    assert str(info.value) == f"{tmp_path / 'data.csv'}: no interactions; the file has no data rows"


@pytest.mark.parametrize("text", ["1,5,4.0,1700000000\n", "1,5,4.0,1700000000\n2,5,3.5,1700000001\n"])
def test_a_file_without_its_header_is_told_so(tmp_path, text):
    """Found by an outside review: one event without a header (the usual one-line update) was "no data rows"."""
    with pytest.raises(DataError) as info:
        read(tmp_path, text)
    assert str(info.value) == (
        f"{tmp_path / 'data.csv'}: no column 'user' for data.user; the header has ['1', '5', '4.0', '1700000000']; "
        "its first line looks like data: the file may have no header (data.header: false, columns by position)"
    )


def test_wrong_column_name_lists_the_header(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, "userId,movieId,rating\n1,2,3\n", user="userId", item="itemId")
    assert str(info.value) == (
        f"{tmp_path / 'data.csv'}: no column 'itemId' for data.item; the header has ['userId', 'movieId', 'rating']"
    )


def test_wrong_column_name_suggests_a_close_one(tmp_path):
    with pytest.raises(
        DataError,
        match=r"no column 'usr' for data\.user; the header has \['user', 'item'\]; "
        r"did you mean 'user'\?$",
    ):
        read(tmp_path, "user,item\n1,2\n", user="usr")


def test_missing_default_column(tmp_path):
    with pytest.raises(DataError, match=r"no column 'user' for data\.user; the header has \['uid', 'iid'\]$"):
        read(tmp_path, "uid,iid\n1,2\n")


def test_a_column_name_without_a_header(tmp_path):
    with pytest.raises(
        DataError,
        match=r"^\S*data\.csv: data\.user: column 'user' is a name, but the file has no header "
        r"\(data\.header is false\); give a 0-based position$",
    ):
        read(tmp_path, "1,2\n", header=False)


def test_too_few_fields_on_line_n(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, "user,item,rating\nu1,a,1\nu2,b\nu3\n")
    assert str(info.value) == f"{tmp_path / 'data.csv'}:3: expected at least 3 fields separated by ','; got 2"


def test_too_few_fields_with_a_multi_character_delimiter(tmp_path):
    with pytest.raises(DataError, match=r"ratings\.dat:2: expected at least 4 fields separated by '::'; got 3$"):
        read(tmp_path, "1::2::3::4\n1::2::3\n", "ratings.dat", layout="movielens-1m")


def test_a_position_beyond_the_row(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv:2: expected at least 8 fields separated by ','; got 2$"):
        read(tmp_path, "user,item\n1,2\n", rating=7)


def test_rating_not_a_number_on_line_n(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, "user,item,rating\nu1,a,4\nu2,b,4.5\nu3,c,five\n")
    assert str(info.value) == f"{tmp_path / 'data.csv'}:4: rating 'five' is not a number"


def test_rating_not_finite(tmp_path):
    with pytest.raises(DataError, match=r"data\.csv:2: rating 'inf' is not a finite number$"):
        read(tmp_path, "user,item,rating\nu1,a,inf\n")


def test_timestamp_not_a_number(tmp_path):
    with pytest.raises(DataError, match=r"u\.data:2: timestamp '2020-01-01' is not a number$"):
        read(tmp_path, "1\t2\t3\t4\n1\t2\t3\t2020-01-01\n", "u.data", layout="movielens-100k")


def test_not_utf8_names_the_line(tmp_path):
    with pytest.raises(DataError) as info:
        read(tmp_path, b"user,item\nu1,a\nJos\xe9,b\n")
    assert str(info.value) == f"{tmp_path / 'data.csv'}:3: not valid utf-8 text; set data.encoding"


# --------------------------------------------------------------------------- through a run file


def test_config_checks_column_positions_and_encoding(tmp_path, registry):
    path = tmp_path / "x.yaml"
    path.write_text("data:\n  type: csv\n  path: r.csv\n  user: -1\n  item: [1]\n  encoding: utf-9\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert str(info.value).splitlines() == [
        f"{path}:4: data.user: column position -1 must be 0 or more",
        f"{path}:5: data.item: must be a column name or a 0-based column position; got [1]",
        f"{path}:6: data.encoding: unknown text encoding 'utf-9'; e.g. utf-8, latin-1, cp1252",
    ]


def test_config_requires_a_path(tmp_path, registry):
    path = tmp_path / "x.yaml"
    path.write_text("data: {type: csv, layout: movielens-100k}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x\.yaml:1: data\.path: required, but missing$"):
        load_config(path, registry)


def test_config_rejects_an_unknown_layout(tmp_path, registry):
    path = tmp_path / "x.yaml"
    path.write_text("data: {type: csv, path: r.csv, layout: movielens-20m}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"x\.yaml:1: data\.layout: Input should be 'movielens-100k', 'movielens-1m' or "
        r"'movielens-csv'; got 'movielens-20m'$",
    ):
        load_config(path, registry)


# --------------------------------------------------------------------------- hardening


BAD = "user,item,rating\n1,10,5\n2,11\n3,12,five\n,13,4\n4,14,3\n5,15,nan\n"


def test_bad_rows_stop_the_load_at_the_first_one_by_default(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    with pytest.raises(DataError, match=r"bad\.csv:3: expected at least 3 fields"):
        CSVDataSource(path=path).load(np.random.default_rng(0))


def test_bad_rows_can_be_skipped_and_are_counted_with_their_lines(tmp_path, caplog):
    path = tmp_path / "bad.csv"
    path.write_text(BAD)
    source = CSVDataSource(path=path, on_bad_rows="skip")
    with caplog.at_level("WARNING", logger="recframe.builtin.data_sources"):
        data = source.load(np.random.default_rng(0))
    assert data.users.tolist() == [1, 4] and data.values.tolist() == [5.0, 3.0]
    assert source.skipped_lines_ == [3, 4, 5, 7]
    assert "skipped 4 malformed rows (data.on_bad_rows is 'skip'), first at lines 3, 4, 5, 7" in caplog.text


def test_gzip_and_zip_files_read_like_plain_ones(tmp_path):
    import gzip
    import zipfile

    text = "user,item,rating\n1,10,5\n2,11,3\n"
    plain = CSVDataSource(path=_write(tmp_path, "plain.csv", text)).load(np.random.default_rng(0))
    (tmp_path / "data.csv.gz").write_bytes(gzip.compress(text.encode()))
    packed = CSVDataSource(path=tmp_path / "data.csv.gz").load(np.random.default_rng(0))
    assert packed.fingerprint() == plain.fingerprint()
    with zipfile.ZipFile(tmp_path / "one.zip", "w") as archive:
        archive.writestr("inner/ratings.csv", text)
    assert CSVDataSource(path=tmp_path / "one.zip").load(np.random.default_rng(0)).fingerprint() == plain.fingerprint()
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", text)
        archive.writestr("b.csv", text)
    with pytest.raises(DataError, match=r"two\.zip: the archive holds 2 files; choose one with data\.member"):
        CSVDataSource(path=tmp_path / "two.zip").load(np.random.default_rng(0))
    with pytest.raises(DataError, match=r"no 'c\.csv' in the archive \(data\.member\); it holds \['a\.csv', 'b"):
        CSVDataSource(path=tmp_path / "two.zip", member="c.csv").load(np.random.default_rng(0))
    chosen = CSVDataSource(path=tmp_path / "two.zip", member="b.csv").load(np.random.default_rng(0))
    assert chosen.fingerprint() == plain.fingerprint()
    (tmp_path / "broken.csv.gz").write_bytes(gzip.compress(text.encode())[:20])
    with pytest.raises(DataError, match=r"broken\.csv\.gz: can't read the file"):
        CSVDataSource(path=tmp_path / "broken.csv.gz").load(np.random.default_rng(0))


def test_comment_lines_are_skipped_and_line_numbers_kept(tmp_path):
    path = _write(tmp_path, "c.csv", "# exported 2026\nuser,item,rating\n# a note\n1,10,5\n2,11,x\n")
    with pytest.raises(DataError, match=r"c\.csv:5: rating 'x' is not a number"):
        CSVDataSource(path=path, comment="#").load(np.random.default_rng(0))


def _write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the fast readers


FAST = [engine for engine in readers.ENGINES if readers.available(engine)]
"""The fast readers installed here (numpy always; arrow and pandas with the test extra)."""




@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("user,item,rating,timestamp\n1,10,4.5,1000\n2,11,3,1001\n", {}),
        ("1\t10\t4\t881250949\r\n2\t11\t3\t881250950\r\n", {"layout": "movielens-100k"}),
        ("1::10::5::978300760\n\n2::11::3::978302109", {"layout": "movielens-1m"}),
        ("user,item,rating\n 1 , 10 , -2.25\n2,11,0.1\n\n3,12,17\n", {}),
        ("user,item,rating\n007,10,4\n2,11,3\n", {}),  # a non-canonical id: text ids, general reader
        ('user,item,rating\n"1",10,4\n2,11,3\n', {}),  # quotes: general reader
        ("user,item,rating\n1234567890123456789,10,4\n2,11,3\n", {}),  # beyond 15 digits
        ("user,item,rating\n1,10,1e3\n2,11,3\n", {}),  # an exponent
        ("user,extra,item,rating\n1,a,b,10,4\n", {"on_bad_rows": "skip"}),
        ("user,item,rating\nu1,i9,4\nu2, i10 ,3\n", {}),  # text ids, spaces around one
        ("user,item,rating\n1,ä-ö,4\n2,日本,3\n", {}),  # unicode item ids, integer user ids
        ("user,item\n1,10\n2,11\n", {"id_type": "str"}),
        ("user,item\n1,x\n2,11\n", {"id_type": "int"}),  # the general reader names the line
        ("user,item,rating\n1,,4\n", {}),  # an empty id
        ("1::movie one::5\n2::movie two::3\n", {"layout": "movielens-1m"}),
        # lines the quick path hands to the careful one, mixed with lines it reads itself
        ("user,item,rating\n1,10,4\n-2,11,3\n3,12,+4\n4,13,-0.5\n5,14,.5\n6,15,3.\n", {}),
        ("user,item,rating,extra\n1,10,4,x y\n2,11,3\r\n3,12,2,\r\n4,13,1\n", {}),
        ("user,item,rating\n1,10,4\r2,11,3\n", {}),  # a carriage return alone is no line end
        ("user,item,rating\n1,10,4\n2,0,3\n3,00,2\n", {}),  # zero, and a padded zero
        ("user,item,rating\n1,10,123456789012345\n2,11,1234567890123456\n", {}),
        ("user,item,rating\n1,10,4\n2,11,\n", {}),  # an empty rating on the last line
        ("user,item,rating\n1,10,4\n2,11,3", {}),  # no newline at the end
        ("user,item,rating\n1,10,4\n2,11,3 ", {}),  # ... and a space
        ("user,item,rating\n1,10\n", {}),  # too few fields
        ("user,item,rating\n1,10,4,\n2,11,5,,,\n", {}),  # empty trailing fields
        # quoted fields
        ('user,item,rating\n"1","a, b","4.5"\n2,"x",3\n', {}),  # a delimiter inside quotes
        ('"user","item","rating"\n"1","2","3"\r\n"3","4"," 5 "\r\n', {}),  # a quoted header, CRLF
        ('user,item\n1,"a ""quoted"" b"\n', {}),  # an escaped quote: the general reader
        ('user,item\n1,"multi\nline"\n2,x\n', {}),  # a field over two lines: the general reader
        ('user,item\n1, "x"\n2,"y" \n', {}),  # quotes not at the field's edges stay text
        ('user,item\n1,ab"c\n2,d\n', {}),  # a stray quote inside a field
        ('user,item,rating\n"007",1,2\n"7",2,3\n', {}),  # quoted, not canonical: text ids
        ('user,item,rating\n1,"",4\n', {}),  # an empty quoted id
        ('user,item,rating\n1,x,""\n', {}),  # an empty quoted rating
        ('user,item,rating\n1,x,"4\n', {}),  # a quote that never closes
        ('user::item\n"1"::2\n', {"delimiter": "::"}),  # quotes are literal with a longer delimiter
        ('user,"it\nem"\n1,2\n', {}),  # a header name over two lines
        # longer delimiters take the quick parser too; delimiters made of number characters don't
        ("1::10::5::978300760\n2::11::4.5::978300761\n", {"layout": "movielens-1m"}),
        ("1::10::5::978300760\n2:::11::3::1\n", {"layout": "movielens-1m"}),
        ("1::10::5:5::978300760\n", {"layout": "movielens-1m"}),
        ("1::10::5::1::extra\n2::11\n", {"layout": "movielens-1m"}),
        ("user.item.rating\n1.2.3\n4.5.6\n", {"delimiter": "."}),
        ("user item rating\n1 2 3\n4  5 6\n", {"delimiter": " "}),
        ("user-item\n1-2\n3--4\n", {"delimiter": "-"}),
        ("user;;item;;rating\n1;;2;;3.5\r\n4;;5;;1\r\n", {"delimiter": ";;"}),
        # rows too short for an id column, words some parsers take for missing values
        ("user,item\n1\n2,3\n", {}),
        ("user,item\na,b\nb\n", {}),
        ("a,b,c\n1,2,3\n4,5\n", {"user": 0, "item": 2}),
        ("user,item,rating\nx,NA,1\ny,null,2\nz,,3\n", {}),
        ("user,item,rating\nx,y,NaN\n", {}),
        ("user,item\n1,2\n\n\n3,4", {"id_type": "int"}),
        ("user,item\n-0,2\n0,3\n", {}),  # "-0" is canonical to the general reader
        ("user,item\n 7,1\n8 ,2\n", {}),  # spaces around integer ids
        ("user,item\n9223372036854775807,1\n-9223372036854775808,2\n", {}),
    ],
)
@pytest.mark.parametrize("engine", FAST)
def test_the_fast_readers_read_exactly_what_the_general_one_does(tmp_path, text, params, engine):
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode("utf-8"))
    fast = CSVDataSource(path=path, parser=engine, **params)
    slow = CSVDataSource(path=path, parser="python", **params)
    try:
        expected = slow.load(np.random.default_rng(0))
    except DataError as exc:
        with pytest.raises(DataError, match=re.escape(str(exc))):
            fast.load(np.random.default_rng(0))
        return
    got = fast.load(np.random.default_rng(0))
    assert got.fingerprint() == expected.fingerprint()
    assert got.users.dtype == expected.users.dtype


@dataclass(frozen=True)
class LargeFile:
    """A generated file past the size from which the fast readers take it, and what the general reader read."""

    path: Path
    params: dict[str, Any]
    expected: Interactions
    columns: tuple[Any, ...]  # generated columns a test checks besides


def _large_file(
    factory: pytest.TempPathFactory, name: str, text: str, params: dict[str, Any], *columns: Any
) -> LargeFile:
    """Write `text` and read it with the general reader once (about a second), for every fast reader's test."""
    path = factory.mktemp("large") / name
    path.write_bytes(text.encode("utf-8"))
    expected = CSVDataSource(path=path, parser="python", **params).load(np.random.default_rng(0))
    return LargeFile(path, params, expected, columns)


def _read_fast(large: LargeFile, engine: str, monkeypatch: pytest.MonkeyPatch) -> Interactions:
    """Read `large` with the fast reader `engine`, failing the test if it hands the file to the general one."""
    monkeypatch.setattr(CSVDataSource, "_read_rows", lambda *args: pytest.fail(f"the {engine} reader stepped aside"))
    got = CSVDataSource(path=large.path, parser=engine, **large.params).load(np.random.default_rng(0))
    assert got.fingerprint() == large.expected.fingerprint()
    return got


@pytest.fixture(scope="module")
def large_random_file(tmp_path_factory: pytest.TempPathFactory) -> LargeFile:
    rng = np.random.default_rng(4)
    n = 100_000  # 3.7 MB: well past the 256 KiB from which the fast readers take a file
    users, items = rng.integers(0, 10**9, n), rng.integers(0, 50_000, n)
    ratings, times = rng.integers(1, 11, n) / 2, rng.integers(10**9, 2 * 10**9, n)
    lines = "\n".join(f"{u},{i},{r},{t}" for u, i, r, t in zip(users, items, ratings, times, strict=True))
    text = "userId,movieId,rating,timestamp\n" + lines + "\n"
    return _large_file(tmp_path_factory, "big.csv", text, {"layout": "movielens-csv"}, ratings)


@pytest.fixture(scope="module")
def large_double_colon_file(tmp_path_factory: pytest.TempPathFactory) -> LargeFile:
    """MovieLens 1M/10M's ``ratings.dat`` layout, spaces around a few fields."""
    rng = np.random.default_rng(7)
    n = 100_000
    fields = [rng.integers(1, 70_000, n), rng.integers(1, 65_000, n), rng.integers(1, 11, n) / 2,
              rng.integers(10**8, 2 * 10**9, n)]
    lines = [f"{u}::{i}::{r}::{t}" for u, i, r, t in zip(*fields, strict=True)]
    for k in rng.choice(n, 50, replace=False):
        lines[k] = lines[k].replace("::", " :: ", 1)  # spaces around an id
    # and no newline at the end
    return _large_file(tmp_path_factory, "ratings.dat", "\n".join(lines), {"layout": "movielens-1m"}, fields[3])


@pytest.mark.parametrize("engine", FAST)
@pytest.mark.parametrize(
    ("file", "column"), [("large_random_file", "values"), ("large_double_colon_file", "timestamps")]
)
def test_the_fast_readers_on_a_large_numeric_file(request, monkeypatch, engine, file, column):
    """A MovieLens CSV of random numbers, and ``ratings.dat``: the column generated is read exactly."""
    large = request.getfixturevalue(file)
    fast = _read_fast(large, engine, monkeypatch)
    np.testing.assert_array_equal(getattr(fast, column), large.columns[0])


@pytest.fixture(scope="module")
def large_quoted_file(tmp_path_factory: pytest.TempPathFactory) -> LargeFile:
    """An export that quotes its text (names with commas and spaces) and sometimes its numbers."""
    rng = np.random.default_rng(6)
    n = 50_000
    names = np.array(["Smith, John", "Ann", " spaced ", "Émile, Zola", "O'Neil", "日本, 東京"])
    users = names[rng.integers(0, len(names), n)]
    items = rng.integers(0, 700, n)
    ratings = rng.integers(1, 11, n) / 2
    quote_item = rng.random(n) < 0.5
    lines = "\n".join(
        f'"{u}",{f"{chr(34)}{i}{chr(34)}" if q else i},{r}'
        for u, i, r, q in zip(users, items, ratings, quote_item, strict=True)
    )
    return _large_file(tmp_path_factory, "quoted.csv", '"user","item","rating"\n' + lines + "\n", {}, users)


@pytest.mark.parametrize("engine", FAST)
def test_the_fast_readers_read_a_large_quoted_file(large_quoted_file, monkeypatch, engine):
    fast = _read_fast(large_quoted_file, engine, monkeypatch)
    assert fast.users.tolist() == [u.strip() for u in large_quoted_file.columns[0].tolist()]
    assert fast.items.dtype.kind == "i"


@pytest.fixture(scope="module")
def large_text_id_file(tmp_path_factory: pytest.TempPathFactory) -> LargeFile:
    rng = np.random.default_rng(5)
    n = 100_000
    users = np.char.add("user-", rng.integers(0, 5_000, n).astype(str))
    items = np.char.add("sku_", rng.integers(0, 900, n).astype(str))
    lines = "\n".join(f"{u};{i};{r}" for u, i, r in zip(users, items, rng.integers(1, 6, n), strict=True))
    return _large_file(tmp_path_factory, "text.csv", "user;item;rating\n" + lines + "\n", {"delimiter": ";"}, users)


@pytest.mark.parametrize("engine", FAST)
def test_the_fast_readers_read_text_ids_of_a_large_file(large_text_id_file, monkeypatch, engine):
    fast = _read_fast(large_text_id_file, engine, monkeypatch)
    assert fast.users.dtype.kind == "U" and fast.users.tolist() == large_text_id_file.columns[0].tolist()


def test_auto_reads_small_files_with_the_general_reader_and_large_ones_fast(tmp_path, monkeypatch):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n" + "".join(f"{u},{u % 7},{u % 5}\n" for u in range(2_000)))
    calls = []
    original = CSVDataSource._fast_load

    def recording(self, *args):
        calls.append(self.config.parser)
        return original(self, *args)

    monkeypatch.setattr(CSVDataSource, "_fast_load", recording)
    small = CSVDataSource(path=path).load(np.random.default_rng(0))
    assert calls == []  # under FAST_MIN_BYTES: the general reader
    monkeypatch.setattr(delimited, "FAST_MIN_BYTES", path.stat().st_size)
    large = CSVDataSource(path=path).load(np.random.default_rng(0))
    assert calls == ["auto"] and large.fingerprint() == small.fingerprint()
    CSVDataSource(path=path, parser="python").load(np.random.default_rng(0))
    assert calls == ["auto"]


def test_auto_prefers_arrow_then_pandas_then_scipy(monkeypatch):
    monkeypatch.setattr(readers, "available", lambda engine: engine != "arrow")
    assert readers.auto_engine("auto") == "pandas" and readers.auto_engine("int") == "pandas"
    assert readers.auto_engine("str") == "numpy"  # text ids: Python strings in pandas; scipy steps aside
    monkeypatch.setattr(readers, "available", lambda engine: engine in ("numpy", "scipy"))
    assert readers.auto_engine("int") == "scipy"  # the default install
    monkeypatch.setattr(readers, "available", lambda engine: engine == "numpy")
    assert readers.auto_engine("int") == "numpy"  # scipy older than 1.12
    monkeypatch.setattr(readers, "available", lambda engine: True)
    assert readers.auto_engine("auto") == "arrow" and readers.auto_engine("int") == "arrow"


def test_a_parser_that_is_not_installed_is_a_config_error_naming_the_extra(tmp_path, registry, monkeypatch):
    monkeypatch.setattr(readers, "available", lambda engine: engine == "numpy")
    path = tmp_path / "x.yaml"
    path.write_text("data: {type: csv, path: r.csv, parser: arrow}\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"x\.yaml:1: data\.parser: parser 'arrow' needs pyarrow, which is not installed; "
        r"pip install 'recframe\[parquet\]', or choose one of auto, numpy, python",
    ):
        load_config(path, registry)

