"""A compiled fast path for plain numeric delimited files (ids, ratings and timestamps as numbers).

Most interaction exports are lines of numbers. With numba installed, such a file is parsed in
parallel straight from its bytes into arrays (see :mod:`recframe._numba_csv`), without a Python
object per field; text ids are cut out of the bytes, and fields may be wrapped in double quotes.
Anything the fast path does not read exactly like the general reader - a quoted field spanning
lines or holding an escaped quote, exponents, a malformed line - makes it step aside
(``None``), and the general reader, which names files and lines in its errors, takes over.
"""

from __future__ import annotations

import itertools
import mmap

import numpy as np

from recframe.engine.dispatch import numba_available, numba_threads

_SLICE_BYTES = 8 << 20
"""Bytes per parallel slice of the text."""

_NOT_PLAIN = frozenset('0123456789.+-" \r\n')
"""Characters that, in a delimiter, keep lines from the quick parser (it reads numbers and line
ends without looking for the delimiter first)."""


def parse_plain(
    raw: bytes | mmap.mmap,
    delimiter: str,
    columns: dict[str, int],
    *,
    skip_lines: int,
    id_roles: tuple[str, ...] = ("user", "item"),
    integer_ids_only: bool = False,
    text_ids: bool = False,
    encoding: str = "utf-8",
    threads: int | None = None,
) -> dict[str, np.ndarray] | None:
    """Parse `raw` (after `skip_lines` header lines) into one array per role, or return ``None``.

    Parameters
    ----------
    raw : bytes or mmap
        The file's bytes (or a memory map of them), ASCII-compatible.
    delimiter : str
        The field separator (ASCII).
    columns : dict of str to int
        Field position of each role (``user``, ``item``, ``rating``, ``timestamp``).
    skip_lines : int
        Lines to skip first (a header).
    id_roles : tuple of str
        Id roles: int64 when every id of the column is an integer written canonically (as the
        general reader's ``id_type: auto`` decides), text otherwise; other roles are float64.
    integer_ids_only : bool
        Step aside instead of returning text ids (``id_type: int``: the general reader decides).
    text_ids : bool
        Return every id as text, integers too (``id_type: str``).
    encoding : str
        How text ids are decoded.

    Returns
    -------
    dict of str to ndarray, or None
        ``None`` when the file is not plain numeric text (the general reader must read it).
    """
    if not numba_available() or not delimiter.isascii():
        return None
    from recframe._numba_csv import parse_numeric, scan_slices

    data = np.frombuffer(raw, dtype=np.uint8)
    start = 3 if raw[:3] == b"\xef\xbb\xbf" else 0
    for _ in range(skip_lines):
        newline = raw.find(b"\n", start)
        start = len(raw) if newline < 0 else newline + 1
    step = min(_SLICE_BYTES, max(1 << 20, (len(raw) - start) // 16))  # enough slices to balance threads
    cuts = [start]
    while cuts[-1] + step < len(raw):
        newline = raw.find(b"\n", cuts[-1] + step)
        if newline < 0:
            break
        cuts.append(newline + 1)
    cuts.append(len(raw))
    bounds = np.asarray(cuts, dtype=np.int64)
    newlines = np.zeros(len(cuts) - 1, dtype=np.int64)
    quotes = np.zeros(len(cuts) - 1, dtype=np.int64)
    with numba_threads(threads):
        scan_slices(data, bounds, newlines, quotes)
    quoted = bool(quotes.any())
    plain_delimiter = not any(c in _NOT_PLAIN for c in delimiter)
    if quoted and len(delimiter) != 1:  # quotes are literal with a longer delimiter: the general reader
        return None
    # lines per slice: an upper bound on its rows (blank lines count)
    ends_open = np.array([b > a and data[b - 1] != 10 for a, b in itertools.pairwise(cuts)], dtype=np.int64)
    counts = newlines + ends_open
    roles = sorted(columns, key=lambda role: role not in id_roles)  # id columns first
    n_ids = sum(role in id_roles for role in roles)
    wanted = np.full(max(columns.values()) + 1, -1, dtype=np.int64)
    for index, role in enumerate(roles):
        wanted[columns[role]] = index
    total = int(counts.sum())
    with numba_threads(threads):
        offsets = np.r_[0, np.cumsum(counts)[:-1]].astype(np.int64)
        ints = np.empty((n_ids, total), dtype=np.int64)
        out = np.empty((len(roles) - n_ids, total))
        delimiter_bytes = np.frombuffer(delimiter.encode("ascii"), dtype=np.uint8)

        def parse(
            spans: np.ndarray, bounds: np.ndarray = bounds, ints: np.ndarray = ints, out: np.ndarray = out
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            n_slices = len(bounds) - 1
            canonical = np.ones((n_slices, len(roles)), dtype=np.bool_)
            bad = np.full(n_slices, -1, dtype=np.int64)
            written = np.zeros(n_slices, dtype=np.int64)
            parse_numeric(
                data, bounds, offsets[:n_slices], delimiter_bytes, wanted, out, ints, spans, canonical, bad, written,
                quoted, plain_delimiter,
            )
            return canonical, bad, written

        # first as integer ids, keeping no spans; a second pass records the spans of text ids -
        # unless the first line already shows text ids, when the first pass would be wasted
        spans = np.empty((n_ids, 2, 0), dtype=np.int64)
        text: np.ndarray = np.full(n_ids, text_ids)
        written = counts
        first_line_end = raw.find(b"\n", start)
        if not text_ids and start < first_line_end:
            probe = np.array([start, first_line_end + 1], dtype=np.int64)
            one_ints, one_out = np.empty((n_ids, 1), dtype=np.int64), np.empty((len(roles) - n_ids, 1))
            canonical, bad, _ = parse(spans, probe, one_ints, one_out)
            text = np.asarray(~canonical[:, :n_ids].all(axis=0)) & (bad < 0)
        if not text_ids and not text.any():
            canonical, bad, written = parse(spans)
            if (bad >= 0).any():
                return None
            text = np.asarray(~canonical[:, :n_ids].all(axis=0))
        if integer_ids_only and text.any():
            return None
        if text.any():
            spans = np.empty((n_ids, 2, total), dtype=np.int64)
            canonical, bad, written = parse(spans)
            if (bad >= 0).any():
                return None
            text = np.logical_or(~canonical[:, :n_ids].all(axis=0), text_ids)
    if not np.array_equal(written, counts):  # blank lines left gaps: close them
        keep = np.concatenate([np.arange(o, o + w) for o, w in zip(offsets, written, strict=True)])
        ints, out = ints[:, keep], out[:, keep]
        if spans.shape[2]:
            spans = spans[:, :, keep]
    result: dict[str, np.ndarray] = {}
    for index, role in enumerate(roles):
        if index >= n_ids:
            result[role] = out[index - n_ids]
        elif text[index]:
            with numba_threads(threads):
                decoded = _texts(data, spans[index, 0], spans[index, 1], encoding)
            if decoded is None:
                return None
            result[role] = decoded
        else:
            result[role] = ints[index]
    return result


def _texts(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, encoding: str) -> np.ndarray | None:
    """Return the byte spans ``data[start:end]`` as a string array, without a Python loop per span.

    The spans are gathered (compiled, in parallel) into a fixed-width matrix of code units.
    ASCII text - the usual ids - is then already a ``U<width>`` array (a byte is its code
    point); other text is decoded with `encoding`. ``None`` if a span does not decode (the
    general reader names the line).
    """
    from recframe._numba_csv import gather_spans

    width = max(int((ends - starts).max()), 1)
    codes = np.empty((len(starts), width), dtype=np.uint32)  # UCS-4, numpy's own layout of str
    if gather_spans(data, starts, ends, codes):  # all ASCII: a byte is its code point
        return codes.view(f"U{width}").reshape(-1)
    raw = codes.astype(np.uint8).view(f"S{width}").reshape(-1)
    try:
        return np.char.decode(raw, encoding).astype(str)
    except UnicodeDecodeError:
        return None
