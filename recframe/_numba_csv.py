"""Compiled parsing of plain numeric delimited text (numba); imported only when numba is installed.

The text is split into slices at line ends, parsed in parallel. Each field of interest is read
as a decimal number ``[+-]digits[.digits]`` into an integer mantissa and a count of decimals,
so that ``mantissa / 10**decimals`` is the correctly rounded double Python's ``float`` gives
(exact for up to 15 significant digits). Ids that are not canonical integers are kept as byte
spans (a second pass) and decoded by the caller; a field wrapped in double quotes is read
between its quotes. Anything else - exponents, a quoted field spanning lines or holding an
escaped quote, a missing field - marks the line as not plain, and the caller falls back to the
general reader.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.progress import announce_numba_compilation

announce_numba_compilation()  # the first use compiles (once per install): say so

_POW10 = np.array([10.0**i for i in range(16)])


@numba.njit(nogil=True, cache=True)
def _field_end(data: np.ndarray, q: int, end: int, delimiter: np.ndarray) -> int:
    """Return where the field starting at `q` ends: at the next delimiter, or the line end."""
    width = delimiter.shape[0]
    while q < end:
        if q + width <= end:
            match = True
            for d in range(width):
                if data[q + d] != delimiter[d]:
                    match = False
                    break
            if match:
                return q
        q += 1
    return end


@numba.njit(nogil=True, cache=True)
def _quoted_field_end(data: np.ndarray, q: int, end: int, delimiter: int) -> int:
    """Return where the field ``"..."`` opening at `q` ends (after its closing quote), or -1.

    -1 when the quote does not close on this line (a field spanning lines), when it holds an
    escaped quote (``""``), or when something other than the delimiter follows the closing
    quote: the general reader, which knows every rule of the format, reads such files.
    """
    close = q + 1
    while close < end and data[close] != 34:
        close += 1
    if close >= end:
        return -1
    after = close + 1
    if after < end and data[after] != delimiter:
        return -1  # an escaped quote, or text after the closing quote
    return after


@numba.njit(nogil=True, cache=True)
def _parse_number(data: np.ndarray, q: int, end: int) -> tuple[bool, float, int, bool]:
    """Parse ``data[q:end]`` as ``[spaces][+-]digits[.digits][spaces]``.

    Returns ``(ok, value, decimals, canonical)``; canonical means an integer written the way
    Python prints it (no ``+``, no point, no leading zero).
    """
    while q < end and data[q] == 32:
        q += 1
    while end > q and data[end - 1] == 32:
        end -= 1
    negative = False
    canonical = True
    if q < end and (data[q] == 45 or data[q] == 43):
        negative = data[q] == 45
        canonical = negative
        q += 1
    if end - q > 1 and data[q] == 48:
        canonical = False
    mantissa = 0
    digits = 0
    decimals = 0
    seen_point = False
    while q < end:
        c = data[q]
        if 48 <= c <= 57:
            mantissa = mantissa * 10 + (c - 48)
            digits += 1
            if seen_point:
                decimals += 1
        elif c == 46 and not seen_point:
            seen_point = True
            canonical = False
        else:
            return False, 0.0, 0, False
        q += 1
    if digits == 0 or digits > 15:
        return False, 0.0, 0, False
    value = mantissa / _POW10[decimals]
    return True, -value if negative else value, decimals, canonical


@numba.njit(nogil=True, cache=True)
def _read_id(
    data: np.ndarray, q: int, end: int, column: int, row: int, ints: np.ndarray, spans: np.ndarray,
    canonical: np.ndarray,
) -> bool:
    """Record the id field ``data[q:end]``: its stripped span, and its value if it is a canonical integer.

    An id that is not a canonical integer clears ``canonical[column]`` (the column is text). An
    empty id, or an integer too long for an exact double, makes the line not plain.
    """
    while q < end and (data[q] == 32 or data[q] == 9):
        q += 1
    while end > q and (data[end - 1] == 32 or data[end - 1] == 9):
        end -= 1
    if q == end:
        return False
    if spans.shape[2] > 0:
        spans[column, 0, row] = q
        spans[column, 1, row] = end
    ok, value, _, plain_int = _parse_number(data, q, end)
    if ok and plain_int:
        ints[column, row] = np.int64(value)
        return True
    digits_only = True
    for p in range(q, end):
        if not (48 <= data[p] <= 57 or (p == q and data[p] == 45)):
            digits_only = False
            break
    if digits_only and end - q > 15:
        return False  # a long integer: the general reader decides between int64 and text
    canonical[column] = False
    return True


@numba.njit(nogil=True, cache=True, inline="always")
def _at_delimiter(data: np.ndarray, q: int, delimiter: np.ndarray) -> bool:
    """Return whether the delimiter starts at `q`.

    Reads no further than the first byte that differs, so on a line ending with a newline (no
    part of a plain delimiter) it never reads past that newline.
    """
    width: int = delimiter.shape[0]
    if width == 1:
        return bool(data[q] == delimiter[0])
    j = 0
    while j < width and data[q + j] == delimiter[j]:
        j += 1
    return j == width


@numba.njit(nogil=True, cache=True, inline="always")
def _parse_line_quick(
    data: np.ndarray, q: int, delimiter: np.ndarray, wanted: np.ndarray, out: np.ndarray, ints: np.ndarray, row: int
) -> int:
    """Parse a line written the usual way, or return -1 for the careful parser to read it.

    The usual way: ids are canonical integers, numbers are ``digits[.digits]``, fields end at
    the delimiter and the line at a newline (after an optional carriage return). Anything else -
    spaces, signs, text ids, quotes, malformed fields - returns -1 having written nothing the
    careful parser would not write the same. The line must end with a newline: no loop checks
    bounds. The delimiter holds no digit, point, sign, quote, space or line break.
    """
    n_fields = wanted.shape[0]
    n_ids = ints.shape[0]
    width = delimiter.shape[0]
    for field in range(n_fields):
        column = wanted[field]
        if column < 0:
            while data[q] != 10 and not _at_delimiter(data, q, delimiter):
                q += 1
        else:
            first = q
            mantissa = 0
            while 48 <= data[q] <= 57:
                mantissa = mantissa * 10 + (data[q] - 48)
                q += 1
            digits = q - first
            if column < n_ids:
                if digits == 0 or digits > 15 or (data[first] == 48 and digits > 1):
                    return -1
                ints[column, row] = mantissa
            else:
                decimals = 0
                if data[q] == 46:
                    q += 1
                    start = q
                    while 48 <= data[q] <= 57:
                        mantissa = mantissa * 10 + (data[q] - 48)
                        q += 1
                    decimals = q - start
                if digits + decimals == 0 or digits + decimals > 15:
                    return -1
                out[column - n_ids, row] = float(mantissa) if decimals == 0 else mantissa / _POW10[decimals]
        at_delimiter = _at_delimiter(data, q, delimiter)
        if field < n_fields - 1:
            if not at_delimiter:
                return -1
            q += width
        elif not (at_delimiter or data[q] == 10 or (data[q] == 13 and data[q + 1] == 10)):
            return -1
    while data[q] != 10:  # the rest of the line
        q += 1
    return q + 1


@numba.njit(nogil=True, cache=True, inline="always")  # inlined: a call per line passes every array's fields
def _parse_line_streaming(
    data: np.ndarray,
    q: int,
    stop: int,
    d: int,
    wanted: np.ndarray,
    out: np.ndarray,
    ints: np.ndarray,
    canonical: np.ndarray,
    row: int,
) -> int:
    """Parse the line starting at `q` without finding its end first; return where the next line starts.

    Fields end at the delimiter `d` or at the line end (a newline, or a carriage return and a
    newline). Returns -1 when the line is not plain (too few fields, a malformed number, a line
    of spaces).
    """
    n_fields = wanted.shape[0]
    n_ids = ints.shape[0]
    for field in range(n_fields):
        column = wanted[field]
        if column < 0:
            while q < stop and data[q] != d and data[q] != 10:
                q += 1
        else:
            while q < stop and data[q] == 32:
                q += 1
            negative = False
            plus = False
            if q < stop and (data[q] == 45 or data[q] == 43):
                negative = data[q] == 45
                plus = not negative
                q += 1
            first = q
            mantissa = 0
            while q < stop and 48 <= data[q] <= 57:
                mantissa = mantissa * 10 + (data[q] - 48)
                q += 1
            integer_digits = q - first
            decimals = 0
            if column >= n_ids and q < stop and data[q] == 46:
                q += 1
                while q < stop and 48 <= data[q] <= 57:
                    mantissa = mantissa * 10 + (data[q] - 48)
                    decimals += 1
                    q += 1
            digits = integer_digits + decimals
            while q < stop and data[q] == 32:
                q += 1
            if q < stop and data[q] == 13 and q + 1 < stop and data[q + 1] == 10:
                q += 1
            at_end = q >= stop or data[q] == d or data[q] == 10
            if column < n_ids:
                if 0 < digits <= 15 and at_end and not plus and (digits == 1 or data[first] != 48):
                    ints[column, row] = -mantissa if negative else mantissa
                else:  # text, or an integer not written canonically: a second pass reads the spans
                    canonical[column] = False
                    while q < stop and data[q] != d and data[q] != 10:
                        q += 1
            else:
                if digits == 0 or digits > 15 or not at_end:
                    return -1
                value = float(mantissa) if decimals == 0 else mantissa / _POW10[decimals]
                out[column - n_ids, row] = -value if negative else value
        if field < n_fields - 1:
            if q >= stop or data[q] != d:
                return -1  # too few fields
            q += 1
    while q < stop and data[q] != 10:  # the rest of the line
        q += 1
    return q + 1


@numba.njit(nogil=True, cache=True)
def _parse_slice(
    data: np.ndarray,
    start: int,
    stop: int,
    delimiter: np.ndarray,
    wanted: np.ndarray,
    first_row: int,
    out: np.ndarray,
    ints: np.ndarray,
    spans: np.ndarray,
    canonical: np.ndarray,
    bad: np.ndarray,
    quoted: bool,
    plain_delimiter: bool,
) -> int:
    """Parse the lines of ``data[start:stop]`` into ``out[:, first_row:]``; return rows written.

    ``wanted[f]`` is the output column of field ``f`` (-1: skip the field; fields after the
    last are ignored). ``canonical[c]`` is cleared when column ``c`` meets a value that is not
    an integer written canonically.
    Blank lines are skipped; on a line that is not plain, ``bad[0]`` gets its row and parsing
    of the slice stops. With `quoted` (the text holds double quotes; the delimiter is one byte),
    a field that opens with a quote is read up to its closing quote, delimiters included.
    `plain_delimiter`: the delimiter holds no digit, point, sign, quote, space or line break,
    so lines written the usual way can take the quick parser.
    """
    n_fields = wanted.shape[0]
    width = delimiter.shape[0]
    row = first_row
    p = start
    quick = spans.shape[2] == 0 and not quoted and plain_delimiter
    terminated = stop  # lines starting before this end with a newline inside the slice
    if stop > start and data[stop - 1] != 10:
        terminated = stop - 1
        while terminated > start and data[terminated - 1] != 10:
            terminated -= 1
    if width == 1 and quick:  # the common case: one pass over the bytes
        d = delimiter[0]
        while p < stop:
            if data[p] == 10:  # an empty line
                p += 1
                continue
            if data[p] == 13 and p + 1 < stop and data[p + 1] == 10:
                p += 2
                continue
            line = p
            p = _parse_line_quick(data, line, delimiter, wanted, out, ints, row) if line < terminated else -1
            if p < 0:
                p = _parse_line_streaming(data, line, stop, d, wanted, out, ints, canonical, row)
            if p < 0:
                bad[0] = row
                return row - first_row
            row += 1
        return row - first_row
    while p < stop:
        if quick and p < terminated:  # a longer delimiter: the quick parser first, all the same
            after = _parse_line_quick(data, p, delimiter, wanted, out, ints, row)
            if after >= 0:
                p = after
                row += 1
                continue
        line_end = p
        while line_end < stop and data[line_end] != 10:
            line_end += 1
        end = line_end
        if end > p and data[end - 1] == 13:  # \r\n
            end -= 1
        blank = True
        for q in range(p, end):
            if data[q] != 32 and data[q] != 9:
                blank = False
                break
        if not blank:  # the general path: any delimiter, and the pass that records text ids' spans
            q = p
            for field in range(n_fields):
                if quoted and q < end and data[q] == 34:
                    field_end = _quoted_field_end(data, q, end, delimiter[0])
                    if field_end < 0:
                        bad[0] = row
                        return row - first_row
                    first, last = q + 1, field_end - 1  # the text between the quotes
                else:
                    field_end = _field_end(data, q, end, delimiter)
                    first, last = q, field_end
                column = wanted[field]
                if 0 <= column < ints.shape[0]:
                    if not _read_id(data, first, last, column, row, ints, spans, canonical):
                        bad[0] = row
                        return row - first_row
                elif column >= 0:
                    ok, value, _, _ = _parse_number(data, first, last)
                    if not ok:
                        bad[0] = row
                        return row - first_row
                    out[column - ints.shape[0], row] = value
                if field_end == end and field < n_fields - 1:  # too few fields
                    bad[0] = row
                    return row - first_row
                q = field_end + width
            row += 1
        p = line_end + 1
    return row - first_row


@numba.njit(parallel=True, cache=True)
def scan_slices(data: np.ndarray, bounds: np.ndarray, newlines: np.ndarray, quotes: np.ndarray) -> None:
    """Count the newlines and double quotes of each slice ``data[bounds[s]:bounds[s + 1]]``.

    Eight bytes at a time: in ``x = word ^ (the byte repeated)``, a byte that matched is zero,
    and ``~(((x & 0x7f..) + 0x7f..) | x | 0x7f..)`` has its top bit set exactly there.
    """
    low = np.uint64(0x7F7F7F7F7F7F7F7F)
    ones = np.uint64(0x0101010101010101)
    newline = np.uint64(0x0A0A0A0A0A0A0A0A)
    quote = np.uint64(0x2222222222222222)
    seven = np.uint64(7)
    top = np.uint64(56)
    for s in numba.prange(bounds.shape[0] - 1):
        p = bounds[s]
        stop = bounds[s + 1]
        n = 0
        q = 0
        while p < stop and p % 8 != 0:
            n += data[p] == 10
            q += data[p] == 34
            p += 1
        words = data[p : p + (stop - p) // 8 * 8].view(np.uint64)
        for word in words:
            x = word ^ newline
            n += ((~(((x & low) + low) | x | low) >> seven) * ones) >> top
            x = word ^ quote
            q += ((~(((x & low) + low) | x | low) >> seven) * ones) >> top
        p += words.shape[0] * 8
        while p < stop:
            n += data[p] == 10
            q += data[p] == 34
            p += 1
        newlines[s] = n
        quotes[s] = q


@numba.njit(parallel=True, cache=True)
def gather_spans(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, matrix: np.ndarray) -> bool:
    """Copy each span ``data[starts[i]:ends[i]]`` into row ``i`` of `matrix`, padded with zeros.

    Returns whether every byte copied is ASCII (then each row of a ``uint32`` matrix is the
    span's text as numpy stores a ``str``).
    """
    width = matrix.shape[1]
    ascii_rows = np.ones(starts.shape[0], dtype=np.bool_)
    for i in numba.prange(starts.shape[0]):
        length = ends[i] - starts[i]
        high = 0
        for j in range(length):
            byte = data[starts[i] + j]
            matrix[i, j] = byte
            high |= byte
        for j in range(length, width):
            matrix[i, j] = 0
        ascii_rows[i] = high < 128
    return bool(ascii_rows.all())


@numba.njit(parallel=True, cache=True)
def parse_numeric(
    data: np.ndarray,
    bounds: np.ndarray,
    offsets: np.ndarray,
    delimiter: np.ndarray,
    wanted: np.ndarray,
    out: np.ndarray,
    ints: np.ndarray,
    spans: np.ndarray,
    canonical: np.ndarray,
    bad: np.ndarray,
    written: np.ndarray,
    quoted: bool,
    plain_delimiter: bool,
) -> None:
    """Parse each slice ``data[bounds[s]:bounds[s + 1]]`` into rows from ``offsets[s]``.

    Output columns ``c < ints.shape[0]`` are ids: their byte spans go to ``spans[c]`` and, when
    they are canonical integers, their values to ``ints[c]``; the others go to
    ``out[c - ints.shape[0]]``. ``canonical[s, c]``: whether slice ``s`` saw only
    canonical integers in column ``c``. `quoted`: fields may be wrapped in double quotes.
    `plain_delimiter`: see :func:`_parse_slice`.
    """
    n_slices = bounds.shape[0] - 1
    for s in numba.prange(n_slices):
        written[s] = _parse_slice(
            data, bounds[s], bounds[s + 1], delimiter, wanted, offsets[s], out, ints, spans, canonical[s],
            bad[s : s + 1], quoted, plain_delimiter,
        )
