"""The ``arrow`` column reader: ``pyarrow.csv.read_csv``, multi-threaded (the ``parquet`` extra).

Integer ids are parsed as int64 by pyarrow itself, at its full speed; a cheap scan of the bytes
(:mod:`.id_spelling`) shows they are all written canonically, and only a file it can't clear
has its ids read as text and typed afterwards, as the general reader types them.
"""

from __future__ import annotations

import mmap
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.builtin.data_sources.id_columns import _ids
from recframe.builtin.data_sources.id_spelling import may_hold_hex_ints, may_hold_padded_ints

if TYPE_CHECKING:
    from recframe.builtin.data_sources.column_request import Request


def _read_arrow(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
    """Read with ``pyarrow.csv.read_csv``; ``None`` when the file must go to the general reader.

    Integer ids are parsed as int64 directly unless the bytes may hold one not written as Python
    prints it (:func:`.id_spelling.may_hold_padded_ints`, for ``id_type: auto``) or a hexadecimal
    one (``id_type: int``, which pyarrow reads but the general reader refuses). Ids that are
    not all int64 (text, or beyond int64) are read again as text, as ``id_type: str`` reads them.
    """
    import pyarrow as pa

    if request.id_type == "int":
        return None if may_hold_hex_ints(data, start) else _table(request, data, start, delimiter, quoted, pa.int64())
    if request.id_type == "auto" and not may_hold_padded_ints(data, start, delimiter, plus_sign=False):
        try:
            return _table(request, data, start, delimiter, quoted, pa.int64())
        except pa.ArrowInvalid:  # text ids, an id beyond int64, an empty one, or a malformed row
            pass
    return _table(request, data, start, delimiter, quoted, pa.string())


def _table(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool, id_type: Any
) -> dict[str, np.ndarray] | None:
    """Read the columns with ids of the arrow type `id_type` (int64, or string to type afterwards)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    roles = sorted(request.columns, key=request.columns.__getitem__)
    names = {role: f"f{request.columns[role]}" for role in roles}
    types = {names[role]: id_type if role in ("user", "item") else pa.float64() for role in roles}
    buffer = pa.py_buffer(data)
    if start:
        buffer = buffer.slice(start)
    table = pacsv.read_csv(
        buffer,
        read_options=pacsv.ReadOptions(
            skip_rows=1 if request.header else 0,
            autogenerate_column_names=True,
            encoding=_codec(request),
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char='"' if quoted else False,
            double_quote=True,
            newlines_in_values=quoted,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=list(types),
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    out: dict[str, np.ndarray] = {}
    for role in roles:
        column = table.column(names[role])
        if role not in ("user", "item") or id_type == pa.int64():
            out[role] = column.to_numpy()
            continue
        ints = lengths = None
        if request.id_type == "auto":
            try:
                ints = pc.cast(column, pa.int64()).to_numpy()
                lengths = sum(map(_text_bytes, column.chunks))
            except (pa.ArrowInvalid, OverflowError):
                ints = None

        def text(column: Any = column) -> np.ndarray:
            fixed = _fixed_width_text(column)
            return fixed if fixed is not None else np.asarray(column.to_numpy(zero_copy_only=False), dtype=str)

        ids = _ids(role, request, ints, lengths, text)
        if ids is None:
            return None
        out[role] = ids
    return out


def _fixed_width_text(column: Any) -> np.ndarray | None:
    """Return a pyarrow string column as a numpy str array without a Python object per value.

    The bytes are laid into a zero-padded matrix with one row per value (filling a mask in
    row-major order writes them in the order arrow keeps them), viewed as fixed-width bytes and
    decoded from UTF-8; ASCII needs no decoding, each byte being its code point. ``None`` (convert through
    Python objects) when a value holds a NUL byte, which fixed-width bytes would drop, or when
    the matrix would be much larger than the text, as with one very long value among short ones.
    """
    import pyarrow as pa

    try:
        chunk = column.combine_chunks()
    except pa.ArrowInvalid:  # over 2 GiB of text
        return None
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
    data = chunk.buffers()[2]
    text = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    width = max(int(lengths.max(initial=0)), 1)
    if len(lengths) * width > 4 * len(text) + (64 << 20) or (text == 0).any():
        return None
    matrix = np.zeros((len(lengths), width), dtype=np.uint8)
    matrix[np.arange(width) < lengths[:, None]] = text
    if not len(text) or text.max() < 128:  # a byte is its code point: numpy's UCS-4 layout directly
        return matrix.astype(np.uint32).view(f"U{width}").reshape(-1)
    # pyarrow holds text as UTF-8, whatever the file's encoding
    return np.char.decode(matrix.view(f"S{width}").reshape(-1), "utf-8")


def _text_bytes(chunk: Any) -> int:
    """Return the bytes of text in a pyarrow string array, from its offsets."""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
    return int(offsets[chunk.offset + len(chunk)] - offsets[chunk.offset])


def _codec(request: Request) -> str:
    import codecs

    name = codecs.lookup(request.encoding).name
    return "utf8" if name in ("utf-8", "ascii") else name
