"""The byte scan that lets the arrow and pandas readers parse integer ids directly as int64.

``id_type: auto`` keeps integer ids only when every one is written canonically (``7``, not
``007``). The ``arrow`` and ``pandas`` readers parse ids as int64 and prove the spelling with a
scan of the bytes (:mod:`recframe.builtin.data_sources.id_spelling`). A false alarm only costs
the text path; a miss would merge ``007`` with ``7``. So: every short spelling either parser takes
for an integer is canonical or caught, the scan agrees with a regular expression on random text
across chunk boundaries, and the readers agree with the general reader wherever the spelling is.
"""

from __future__ import annotations

import io
import itertools
import re

import numpy as np
import pytest

from recframe.builtin.data_sources import CSVDataSource, arrow_reader, id_spelling, pandas_reader, readers

CANONICAL = re.compile(r"-?(0|[1-9][0-9]*)")
"""What the general reader keeps as an integer with ``id_type: auto`` (after ``str.strip``)."""

SPELLINGS = ["007", "-007", "+7", "0", "-0", "00", "-00", " 7", "7 ", " 007", "\t07", "0x1F", " 0X1f"]
SPELLINGS += ["+0", "1e3", "7.0"]
"""Spellings named in the issue, and the ones each parser is lenient about."""

FAST = [
    pytest.param(p, marks=pytest.mark.skipif(not readers.available(p), reason="not installed"))
    for p in ("arrow", "pandas")
]


def arrow_int(field: str) -> int | None:
    """Return what pyarrow's CSV reader makes of `field` as an int64, or ``None`` if it refuses it."""
    pa = pytest.importorskip("pyarrow")
    from pyarrow import csv as pacsv

    body = f'a,b\n"{field}",1\n'.encode()
    try:
        table = pacsv.read_csv(io.BytesIO(body), convert_options=pacsv.ConvertOptions(column_types={"a": pa.int64()}))
    except pa.ArrowInvalid:
        return None
    return int(table.column("a")[0].as_py())


def pandas_int(field: str) -> int | None:
    """Return what pandas' C reader makes of `field` when it infers an int64 column, or ``None``."""
    pd = pytest.importorskip("pandas")
    body = f'a,b\n"{field}",1\n'.encode()
    frame = pd.read_csv(io.BytesIO(body), engine="c", keep_default_na=False, na_values=[])
    return int(frame["a"][0]) if frame["a"].dtype == np.int64 else None


@pytest.mark.parametrize(("parse", "plus_sign"), [(arrow_int, False), (pandas_int, True)], ids=["arrow", "pandas"])
def test_every_short_spelling_a_parser_reads_as_an_int_is_canonical_or_caught(parse, plus_sign):
    alphabet = ["0", "7", "-", "+", " ", "\t", "x", "\x0b"]
    spellings = ["".join(p) for n in range(1, 4) for p in itertools.product(alphabet, repeat=n)] + SPELLINGS
    accepted = 0
    for field in spellings:
        value = parse(field)
        if value is None:
            continue
        accepted += 1
        if CANONICAL.fullmatch(field.strip()):
            assert value == int(field.strip()), field
            continue
        for text in (f"a,b\n{field},1\n", f'a,b\n"{field}",1\n', f"a,b\n1,{field}\r\n", f"{field},1"):
            data = text.encode()
            assert id_spelling.may_hold_padded_ints(data, 0, ",", plus_sign=plus_sign), (field, text)
    assert accepted > 20  # the parsers did read many of them


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 8, 1 << 18])
@pytest.mark.parametrize("seed", range(5))
def test_the_scan_agrees_with_a_regular_expression_across_chunks(monkeypatch, chunk_bytes, seed):
    monkeypatch.setattr(id_spelling, "_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(b'0000123x,;\n\r -+."a', dtype=np.uint8)
    for _ in range(200):
        data = alphabet[rng.integers(0, len(alphabet), rng.integers(0, 12))].tobytes()
        start = int(rng.integers(0, 3)) if data else 0
        for delimiter in (",", ";"):
            expected = re.compile(rb"(?:\A|[\x00-\x2d" + re.escape(delimiter.encode()) + rb"])0[0-9xX]")
            want = expected.search(data[start:]) is not None
            assert id_spelling.may_hold_padded_ints(data, start, delimiter, plus_sign=False) == want, (data, start)
        assert id_spelling.may_hold_hex_ints(data, start) == bool(re.search(rb"0[xX]", data[start:]))


@pytest.mark.parametrize("spelling", SPELLINGS)
@pytest.mark.parametrize(
    "place",
    ["first line after the header", "a middle line", "the last line, no line break", "CRLF", "the item column"],
)
@pytest.mark.parametrize("parser", FAST)
def test_the_fast_readers_read_every_spelling_as_the_general_reader(tmp_path, parser, place, spelling):
    rows = ["1,10,4", "2,11,3", "3,12,5"]
    if place == "first line after the header":
        rows[0] = f"{spelling},10,4"
    elif place == "the item column":
        rows[1] = f"2,{spelling},3"
    elif place == "a middle line":
        rows[1] = f"{spelling},11,3"
    else:
        rows[2] = f"{spelling},12,5"
    end = "\r\n" if place == "CRLF" else "\n"
    text = "user,item,rating" + end + end.join(rows) + ("" if place.startswith("the last line") else end)
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode())
    expected = CSVDataSource(path=path, parser="python").load(np.random.default_rng(0))
    got = CSVDataSource(path=path, parser=parser).load(np.random.default_rng(0))
    assert got.users.dtype.kind == expected.users.dtype.kind and got.items.dtype.kind == expected.items.dtype.kind
    assert got.users.tolist() == expected.users.tolist() and got.items.tolist() == expected.items.tolist()


@pytest.mark.parametrize("parser", FAST)
def test_canonical_integer_ids_are_parsed_as_int64_without_reading_text(tmp_path, monkeypatch, parser):
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n0,10,4\n-3,0,0.5\n7,10,3\n-0,2,1\n")

    def no_text(*args: object) -> None:
        raise AssertionError("the ids were read as text")

    monkeypatch.setattr(arrow_reader if parser == "arrow" else pandas_reader, "_ids", no_text)
    got = CSVDataSource(path=path, parser=parser).load(np.random.default_rng(0))
    assert got.users.tolist() == [0, -3, 7, 0] and got.items.tolist() == [10, 0, 10, 2]


@pytest.mark.parametrize(
    "text", ["user,item\n1e3,1\n2,2\n", "user,item\n7.0,1\n", "user,item\n0x1F,1\n", "user,item\nTrue,1\n"]
)
@pytest.mark.parametrize("parser", FAST)
def test_what_id_type_int_refuses_the_fast_readers_refuse_too(tmp_path, parser, text):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(Exception, match=r"is not an integer \(data\.id_type is 'int'\)"):
        CSVDataSource(path=path, parser="python", id_type="int").load(np.random.default_rng(0))
    with pytest.raises(Exception, match=r"is not an integer \(data\.id_type is 'int'\)"):
        CSVDataSource(path=path, parser=parser, id_type="int").load(np.random.default_rng(0))
