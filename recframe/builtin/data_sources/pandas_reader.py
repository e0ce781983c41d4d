"""The ``pandas`` column reader: ``pandas.read_csv`` with its C engine (the ``pandas`` extra).

Integer ids are parsed as int64 by pandas itself: the id columns' types are inferred, which
gives int64 only for fields that are integers (``dtype=int64`` would also take ``1e3`` and
``7.0``), and a cheap scan of the bytes (:mod:`.id_spelling`) shows they are all written
canonically. Only a file it can't clear, or with ids that are not all int64, has its ids read
as text (Python strings, much slower) and typed afterwards, as the general reader types them.
"""

from __future__ import annotations

import csv
import io
import mmap
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.builtin.data_sources.byte_view import _View
from recframe.builtin.data_sources.id_columns import _ascii, _ids
from recframe.builtin.data_sources.id_spelling import may_hold_padded_ints

if TYPE_CHECKING:
    import pandas as pd

    from recframe.builtin.data_sources.column_request import Request


def _read_pandas(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
    """Read with ``pandas.read_csv``; ``None`` when the file must go to the general reader."""
    roles = sorted(request.columns, key=request.columns.__getitem__)
    as_text = request.id_type == "str" or (
        request.id_type == "auto" and may_hold_padded_ints(data, start, delimiter, plus_sign=True)
    )
    frame = _frame(request, data, start, delimiter, quoted, ids_as_text=as_text)
    if not as_text and request.id_type == "auto":
        kinds = {frame[request.columns[role]].dtype.kind for role in ("user", "item")}
        if not kinds <= {"i", "O", "U", "T"}:  # floats, bools, beyond int64: read the ids as text
            as_text = True
            frame = _frame(request, data, start, delimiter, quoted, ids_as_text=True)
    out: dict[str, np.ndarray] = {}
    for role in roles:
        series = frame[request.columns[role]]
        if series.isna().any():
            return None  # a row too short for this column
        if role not in ("user", "item"):
            out[role] = series.to_numpy(dtype=np.float64)
            continue
        if series.dtype == np.int64:
            out[role] = series.to_numpy()  # every id an integer, all written canonically (module docstring)
            continue
        if request.id_type == "int":
            return None  # not all integers: the general reader names the line
        values = np.asarray(series.to_numpy(dtype=object), dtype=str)
        ints = lengths = None
        if request.id_type == "auto" and _ascii(values):  # numpy reads fullwidth "12" as 12
            try:
                ints = values.astype(np.int64)
                lengths = np.char.str_len(values).sum()
            except (ValueError, OverflowError):
                ints = None
        ids = _ids(role, request, ints, lengths, lambda values=values: values)
        if ids is None:
            return None
        out[role] = ids
    return out


def _frame(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool, *, ids_as_text: bool
) -> pd.DataFrame:
    """Read the columns; ids as text (`ids_as_text`) or of the type pandas infers for them."""
    import pandas as pd

    positions = [request.columns[role] for role in sorted(request.columns, key=request.columns.__getitem__)]
    dtypes: dict[int, Any] = {
        position: np.float64 for role, position in request.columns.items() if role not in ("user", "item")
    }
    if ids_as_text:
        dtypes.update({request.columns["user"]: str, request.columns["item"]: str})
    body = _after_first_line(data, start) if request.header else start  # faster than skiprows=1
    if request.path is not None and data is request.raw:
        stream: Any = request.path.open("rb")
        stream.seek(body)
    else:
        stream = io.BufferedReader(_View(data, body), buffer_size=1 << 20)
    try:
        with stream:
            return pd.read_csv(
                stream,
                sep=delimiter,
                header=None,
                usecols=positions,
                dtype=dtypes,
                engine="c",
                quotechar='"',
                quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
                keep_default_na=False,
                na_values=[],
                skip_blank_lines=True,
                encoding=request.encoding,
                skipinitialspace=False,
                comment=None,
                on_bad_lines="error",
                low_memory=False,
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValueError(str(exc)) from exc


def _after_first_line(data: bytes | mmap.mmap, start: int) -> int:
    """Return where the second line starts: after the first line break (LF, CRLF, or a lone CR, as pandas splits)."""
    newline = data.find(b"\n", start)
    end = newline if newline >= 0 else len(data)
    cr = data.find(b"\r", start, end)
    if 0 <= cr < end - 1:  # a carriage return alone ends the line
        return cr + 1
    return end + 1 if newline >= 0 else len(data)
