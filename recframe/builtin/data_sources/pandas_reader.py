"""The ``pandas`` column reader: ``pandas.read_csv`` with its C engine (the ``pandas`` extra)."""

from __future__ import annotations

import csv
import io
import mmap
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.builtin.data_sources.byte_view import _View
from recframe.builtin.data_sources.id_columns import _ascii, _ids

if TYPE_CHECKING:
    from recframe.builtin.data_sources.column_request import Request


def _read_pandas(
    request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
    import pandas as pd

    roles = sorted(request.columns, key=request.columns.__getitem__)
    positions = [request.columns[role] for role in roles]
    dtypes = {
        request.columns[role]: (np.int64 if request.id_type == "int" else str)
        if role in ("user", "item")
        else np.float64
        for role in roles
    }
    if request.path is not None and data is request.raw and (start == 0 or request.header):
        stream: Any = request.path.open("rb")
    else:
        stream = io.BufferedReader(_View(data, start), buffer_size=1 << 20)
    try:
        with stream:
            frame = pd.read_csv(
                stream,
                sep=delimiter,
                header=None,
                skiprows=1 if request.header else 0,
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
    out: dict[str, np.ndarray] = {}
    for role in roles:
        series = frame[request.columns[role]]
        if series.isna().any():
            return None  # a row too short for this column
        if role not in ("user", "item"):
            out[role] = series.to_numpy(dtype=np.float64)
            continue
        if request.id_type == "int":
            out[role] = series.to_numpy(dtype=np.int64)
            continue
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
