"""Compiled kernels of :func:`~recframe.engine.merge_cells`: count each result row, then fill it.

Both kernels walk the rows of the result, a range of rows per task (``bounds``), and read a
result row as the merge of two sorted runs: the entries of its source row of the old matrix
(``source``, ``-1``: none), their columns renumbered by ``column_map`` (``-1``: dropped), and
the row's given cells (``cell_ptr``), which replace an old entry of the same column. A prefix
sum of :func:`count_rows`'s counts gives each row's place in the result; :func:`fill_rows`
writes it there, so every task writes its own rows and nothing is shared.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.spans import copy_span

_END = np.iinfo(np.int64).max
"""The column of an exhausted run: after every real column."""


@numba.njit(inline="always", cache=True)
def _place(indices: np.ndarray, column_map: np.ndarray, start: int, stop: int, column: int) -> int:
    """Return the first place in the old row ``start:stop`` at `column` or past it, renumbered (sorted, none gone)."""
    low, high = start, stop
    while low < high:
        middle = (low + high) // 2
        if column_map[indices[middle]] < column:
            low = middle + 1
        else:
            high = middle
    return low


@numba.njit(inline="always", cache=True)
def _find(indices: np.ndarray, column_map: np.ndarray, start: int, stop: int, column: int) -> int:
    """Return the position in the old row ``start:stop`` (no column dropped: sorted once mapped) of `column`, or -1."""
    at = _place(indices, column_map, start, stop, column)
    return at if at < stop and column_map[indices[at]] == column else -1


@numba.njit(inline="always", cache=True)
def _unordered(columns: np.ndarray) -> bool:
    """Return whether a row's columns are not strictly increasing (one pass, no early exit: vectorised)."""
    unordered = False
    for t in range(1, columns.shape[0]):
        unordered |= columns[t] <= columns[t - 1]
    return unordered


@numba.njit(inline="always", cache=True)
def _copy_run(
    indices: np.ndarray,
    data: np.ndarray,
    column_map: np.ndarray,
    identity: bool,
    start: int,
    stop: int,
    out_indices: np.ndarray,
    out_data: np.ndarray,
    o: int,
    ordered: bool,
) -> bool:
    """Copy the old entries ``start:stop`` to `o` on, renumbered unless `identity`; return whether they are unordered.

    The order is checked in a pass of its own over the span (still in cache), unless known
    (`ordered`); a plain copy does not renumber (ML-20M's users' rows of a forget: 0.061 s,
    against 0.073 s with the renumbering inside). The loops index views of the spans from 0 up,
    and the column map through unsigned integers (the columns were checked to lie in the
    matrix): no test for a negative index, so the renumbering compiles to gathers. On the item
    rows of a 1% add to the ML-20M shape (their columns renumbered), one thread, the whole fill
    took 0.075-0.079 s against 0.106-0.117 s indexing the arrays themselves.
    """
    unordered = False
    count = stop - start
    read = indices[start:stop]
    write = out_indices[o : o + count]
    if ordered and identity:
        copy_span(indices, start, out_indices, o, count)
    elif identity:
        copy_span(indices, start, out_indices, o, count)
        unordered = _unordered(read)
    else:
        for t in range(count):
            write[t] = column_map[np.uint64(read[t])]
        unordered = not ordered and _unordered(read)
    copy_span(data, start, out_data, o, count)
    return unordered


@numba.njit(inline="always", cache=True)
def _old_column(indices: np.ndarray, column_map: np.ndarray, p: int, stop: int) -> int:
    """Return the renumbered column of old entry `p` (:data:`_END` past `stop`; ``-1``: dropped)."""
    if p >= stop:
        return _END
    return int(column_map[indices[p]])


@numba.njit(parallel=True, nogil=True, cache=True)
def count_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    source: np.ndarray,
    column_map: np.ndarray,
    dropping: bool,
    cell_ptr: np.ndarray,
    cell_columns: np.ndarray,
    dropped_counts: np.ndarray,
    bounds: np.ndarray,
    counts: np.ndarray,
    found: np.ndarray,
) -> None:
    """Set ``counts[r]`` to the number of entries of result row ``r``, and ``found[q]`` to cell ``q``'s old entry.

    Without dropped columns, a row holds its old entries and the cells they don't store (a
    binary search per cell); otherwise a row without cells holds its old entries less those in
    dropped columns (``dropped_counts[s]`` of old row ``s``, where given: not empty) or counts
    its kept columns, and a row with cells is merged in full. ``found[q]`` is the position
    of the old entry cell ``q`` replaces, ``-1`` if none.
    """
    for task in numba.prange(len(bounds) - 1):
        for r in range(bounds[task], bounds[task + 1]):
            s = source[r]
            start = indptr[s] if s >= 0 else 0
            stop = indptr[s + 1] if s >= 0 else 0
            first, last = cell_ptr[r], cell_ptr[r + 1]
            if not dropping:
                n = stop - start
                for q in range(first, last):
                    found[q] = _find(indices, column_map, start, stop, cell_columns[q])
                    n += found[q] < 0
                counts[r] = n
                continue
            if first == last and dropped_counts.shape[0]:  # known: the fill checks it
                counts[r] = stop - start - (dropped_counts[s] if s >= 0 else 0)
                continue
            if first == last:  # no cells: the entries whose column is kept (no branch)
                n = 0
                for p in range(start, stop):
                    n += column_map[indices[p]] >= 0
                counts[r] = n
                continue
            n, p, q = 0, start, first
            while p < stop or q < last:
                old = _old_column(indices, column_map, p, stop)
                if old < 0:
                    p += 1
                    continue
                cell = cell_columns[q] if q < last else _END
                if cell <= old:
                    found[q] = p if cell == old else -1
                    q += 1
                p += old <= cell
                n += 1
            counts[r] = n


@numba.njit(inline="always", cache=True)
def _fill_row(
    indices: np.ndarray,
    data: np.ndarray,
    column_map: np.ndarray,
    dropping: bool,
    identity: bool,
    start: int,
    stop: int,
    cell_columns: np.ndarray,
    cell_values: np.ndarray,
    first: int,
    last: int,
    out_indices: np.ndarray,
    out_data: np.ndarray,
    o: int,
    end: int,
) -> bool:
    """Write a result row that is not a plain copy at ``o:end`` (:func:`fill_rows`); return whether it filled that.

    False also where its old row is not in order (not canonical); nothing is written past `end`.
    """
    if first == last:  # no cells, some columns dropped: the kept entries, renumbered
        read, values = indices[start:stop], data[start:stop]
        for t in range(stop - start):
            column = column_map[np.uint64(read[t])]
            if column >= 0:
                if o >= end:
                    return False
                out_indices[o] = column
                out_data[o] = values[t]
                o += 1
        return not _unordered(read) and o == end
    if _unordered(indices[start:stop]):
        return False
    if not dropping:  # runs of old entries between the cells' places, copied as runs
        p = start
        for q in range(first, last):
            cell = cell_columns[q]
            at = _place(indices, column_map, p, stop, cell)
            if o + (at - p) >= end:
                return False
            _copy_run(indices, data, column_map, identity, p, at, out_indices, out_data, o, True)
            o += at - p
            out_indices[o] = cell
            out_data[o] = cell_values[q]
            o += 1
            p = at + (at < stop and column_map[indices[at]] == cell)
        if o + (stop - p) != end:
            return False
        _copy_run(indices, data, column_map, identity, p, stop, out_indices, out_data, o, True)
        return True
    p, q = start, first
    while p < stop or q < last:
        old = _old_column(indices, column_map, p, stop)
        if old < 0:
            p += 1
            continue
        if o >= end:
            return False
        cell = cell_columns[q] if q < last else _END
        if old < cell:
            out_indices[o] = old
            out_data[o] = data[p]
            p += 1
        else:
            out_indices[o] = cell
            out_data[o] = cell_values[q]
            q += 1
            p += old == cell
        o += 1
    return o == end


@numba.njit(parallel=True, nogil=True, cache=True)
def fill_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    source: np.ndarray,
    column_map: np.ndarray,
    dropping: bool,
    identity: bool,
    cell_ptr: np.ndarray,
    cell_columns: np.ndarray,
    cell_values: np.ndarray,
    out_indptr: np.ndarray,
    bounds: np.ndarray,
    out_indices: np.ndarray,
    out_data: np.ndarray,
    norms: np.ndarray,
    bad: np.ndarray,
) -> None:
    """Write each result row ``r`` at ``out_indptr[r]``: its old entries renumbered, merged with its cells.

    A row without cells is a copy: a plain one where the columns keep their numbers
    (`identity`), a renumbering one where none is dropped (not `dropping`), else a renumbering
    one that skips the dropped columns (a forget's rows, without a merge's comparisons). A row
    with cells and no column dropped is copied in runs between the cells' places (a binary
    search each); with columns dropped, merged entry by entry. An old row whose columns are not
    strictly increasing (not canonical), or that fills other than the count reserved for it,
    sets ``bad[task]``: nothing is ever written outside the row's place. Where `norms` is not
    empty, ``norms[r]`` is the L2 length of the row written, its squares summed in order in
    float64 as :func:`~recframe.engine._compiled.entries.row_lengths` sums them (the row is
    still in cache: no second pass over the result).
    """
    for task in numba.prange(len(bounds) - 1):
        for r in range(bounds[task], bounds[task + 1]):
            s = source[r]
            start = indptr[s] if s >= 0 else 0
            stop = indptr[s + 1] if s >= 0 else 0
            first, last = cell_ptr[r], cell_ptr[r + 1]
            o, end = out_indptr[r], out_indptr[r + 1]
            if first == last and (identity or not dropping):  # a copy (its own loop: faster so)
                if end - o != stop - start or _copy_run(
                    indices, data, column_map, identity, start, stop, out_indices, out_data, o, False
                ):
                    bad[task] = True
                    break
            elif not _fill_row(
                indices, data, column_map, dropping, identity, start, stop, cell_columns, cell_values, first,
                last, out_indices, out_data, o, end,
            ):  # fmt: skip
                bad[task] = True
                break
            if norms.shape[0]:
                total = 0.0
                for p in range(o, end):
                    value = np.float64(out_data[p])
                    total += value * value
                norms[r] = np.sqrt(total)
