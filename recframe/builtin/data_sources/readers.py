"""Fast column readers for the ``csv`` source: maintained, C-implemented CSV parsers.

Each reader turns a plain delimited file into one array per role (``user``, ``item``,
``rating``, ``timestamp``), or returns ``None`` when the file is anything it might read
differently from the general reader (a malformed row, a rating that is not a finite number,
an empty id, integer ids not all written as Python prints them); the general reader (Python's
``csv`` module) then reads the file and names the line of the first bad row. The readers never raise
a :class:`~recframe.DataError` themselves, so every error message comes from one place.

- ``arrow``: ``pyarrow.csv.read_csv``, multi-threaded (the ``parquet`` extra installs pyarrow).
- ``pandas``: ``pandas.read_csv`` with its C engine.

Both parse integer ids as int64 and prove them written canonically with one cheap scan of the
bytes (:mod:`.id_spelling`), reading ids as text only when the scan can't clear the file.

- ``scipy``: scipy's multi-threaded C++ Matrix Market parser (scipy 1.12 on) fed the rows with
  every delimiter made a line break; plainly numeric files only (:mod:`.scipy_reader`). The default
  install's reader: a file it does not answer for goes to ``numpy`` first.
- ``numpy``: ``numpy.loadtxt``, whose parser is C since numpy 1.23; always available.

Each reader is a module of its own (``arrow_reader``, ``pandas_reader``, ``scipy_reader``,
``numpy_reader``); this one chooses and runs them and checks what they return.

Parsers that need a one-character delimiter read a file with a longer one (MovieLens'
``::``) after it is replaced by a control character that the file does not hold; quotes are
then literal, as in the general reader.
"""

from __future__ import annotations

import csv
import importlib.util
import mmap
from collections.abc import Callable

import numpy as np

from recframe.builtin.data_sources import scipy_reader
from recframe.builtin.data_sources.arrow_reader import _read_arrow
from recframe.builtin.data_sources.column_request import Request
from recframe.builtin.data_sources.numpy_reader import _read_numpy
from recframe.builtin.data_sources.pandas_reader import _read_pandas

__all__ = ["ENGINES", "Reader", "Request", "auto_engine", "available", "read", "unavailable_message"]

Reader = Callable[["Request", "bytes | mmap.mmap", int, str, bool], "dict[str, np.ndarray] | None"]
"""A column reader: the request, the bytes, where the text starts, the delimiter, whether quoted."""

ENGINES: dict[str, tuple[str | None, str]] = {
    "arrow": ("pyarrow", "pip install 'recframe[parquet]'"),
    "pandas": ("pandas", "pip install 'recframe[pandas]'"),
    "scipy": ("scipy.io._fast_matrix_market", "pip install 'scipy>=1.12'"),
    "numpy": (None, ""),
}
"""Each fast reader: the module it needs (``None``: numpy, always there) and how to install it."""
_READERS: dict[str, Reader] = {
    "arrow": _read_arrow,
    "pandas": _read_pandas,
    "scipy": scipy_reader.read_scipy,
    "numpy": _read_numpy,
}

_STAND_IN = b"\x1f"
"""Replaces a delimiter longer than one character (the ASCII unit separator)."""


def available(engine: str) -> bool:
    """Return whether the module `engine` needs is installed."""
    module = ENGINES[engine][0]
    if module is None:
        return True
    if engine == "scipy":
        return scipy_reader.available()
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # blocked, or a stub in sys.modules
        return False


def auto_engine(id_type: str = "auto") -> str:
    """Return the fastest reader installed for ids of `id_type`.

    arrow (multi-threaded), else pandas: both parse integer ids as int64 at their own speed
    and check their spelling on the bytes (:mod:`.id_spelling`). Without either, scipy's
    multi-threaded parser reads plainly numeric files (numpy's reader the others). Text ids
    (``id_type: str``) skip pandas, which makes a Python string of each, and scipy, which
    reads numbers only.
    """
    if available("arrow"):
        return "arrow"
    if id_type != "str" and available("pandas"):
        return "pandas"
    if id_type != "str" and available("scipy"):
        return "scipy"
    return "numpy"


def read(engine: str, request: Request) -> dict[str, np.ndarray] | None:
    """Read the columns with `engine`; ``None`` when the general reader must read the file.

    Returns
    -------
    dict of str to ndarray, or None
        ``user`` and ``item`` as int64 or str arrays, ``rating`` and ``timestamp`` as float64.
    """
    if not request.delimiter.isascii():
        return None
    data = _single_delimiter(request)
    if data is None:
        return None
    if data.find(b"\x00") >= 0:  # the general reader refuses a NUL in an id, naming its line
        return None
    start = 3 if bytes(data[:3]) == b"\xef\xbb\xbf" else 0
    delimiter = request.delimiter if len(request.delimiter) == 1 else _STAND_IN.decode()
    quoted = len(request.delimiter) == 1 and data.find(b'"') >= 0
    columns = None
    if engine == "scipy":
        columns = scipy_reader.read_scipy(request, data, start, delimiter, quoted)
        engine = "numpy"  # when it does not answer (text ids, quotes, spaces...): numpy's reader
    if columns is None:
        columns = _run(engine, request, data, start, delimiter, quoted)
    if columns is None:
        return None
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or lengths == {0}:
        return None
    return columns if _finite(columns) else None


def _finite(columns: dict[str, np.ndarray]) -> bool:
    """Return whether no rating or timestamp is a nan, an infinity, or an empty field read as a null."""
    return all(np.isfinite(columns[role]).all() for role in ("rating", "timestamp") if role in columns)


def _run(
    engine: str, request: Request, data: bytes | mmap.mmap, start: int, delimiter: str, quoted: bool
) -> dict[str, np.ndarray] | None:
    """Run one reader; ``None`` when it declines or its parser rejects the file."""
    rejected: tuple[type[BaseException], ...] = (
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        NotImplementedError,
        ArithmeticError,
        csv.Error,
    )
    if engine == "arrow":
        import pyarrow as pa

        rejected += (pa.ArrowException,)
    try:
        return _READERS[engine](request, data, start, delimiter, quoted)
    except rejected:
        # anything a parser rejects (pyarrow.ArrowInvalid is a ValueError; pandas raises
        # OverflowError for an integer beyond int64): the general reader names the line
        return None


def _single_delimiter(request: Request) -> bytes | mmap.mmap | None:
    """Return the bytes with a one-character delimiter: as they are, or with the longer one replaced."""
    if len(request.delimiter) == 1:
        return request.raw
    if request.raw.find(_STAND_IN) >= 0:
        return None
    return bytes(request.raw).replace(request.delimiter.encode("ascii"), _STAND_IN)


def unavailable_message(engine: str) -> str:
    """Return the message for ``parser: <engine>`` when the module it needs is not installed."""
    module, install = ENGINES[engine]
    ready = ", ".join(["auto", *(e for e in ENGINES if available(e)), "python"])
    return f"parser {engine!r} needs {module}, which is not installed; {install}, or choose one of {ready}"
