"""The steps of a neighbour update that read every stored entry once: compiled in parallel where numba is.

:mod:`~recframe.recommender.graph_delta` works in proportion to the change, except for a few
passes over every entry: the rows' lengths, the old entries renumbered into the new columns, and
the old entries in the columns the change touched. Each function here runs the compiled pass
(:mod:`recframe.engine._compiled.entries`, every thread, no temporary) on matrices of at least
:data:`COMPILED_ENTRIES` entries when numba is installed, and numpy otherwise: the same numbers
(a length sums its row's squares in order either way, to the rounding of numpy's summation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine import compiled_by_default, numba_threads, row_totals
from recframe.engine.kernel_inputs import csr_parts, read_only_view

COMPILED_ENTRIES = 1 << 20
"""Stored entries from which the compiled passes run (below, numpy takes milliseconds, and a
small model compiles nothing for them)."""


def compiled_pass(size: int) -> bool:
    """Return whether a pass over `size` entries runs compiled: with numba, from :data:`COMPILED_ENTRIES` on."""
    return size >= COMPILED_ENTRIES and compiled_by_default()


def row_lengths(x: sp.csr_array) -> FloatArray:
    """Return each row's L2 length (:func:`~recframe.engine.row_totals`: compiled in parallel on large rows)."""
    return row_totals(x)[0]


def renumbered(indices: npt.NDArray[np.integer], table: IntArray, dtype: npt.DTypeLike) -> np.ndarray:
    """Return ``table[indices]`` as `dtype`: each entry's column under its new number."""
    table = table.astype(dtype, copy=False)
    if compiled_pass(len(indices)):
        from recframe.engine._compiled.entries import renumber

        out = np.empty(len(indices), dtype=dtype)
        with numba_threads(None) as threads:
            renumber(read_only_view(indices), read_only_view(table), out, 4 * threads)
        return out
    renumbered_indices: np.ndarray = table[indices]
    return renumbered_indices


def in_columns(x: sp.csr_array, columns: npt.NDArray[np.bool_]) -> sp.csr_array:
    """Return the entries of `x` in the marked `columns` (the others zero), as canonical as `x`."""
    if compiled_pass(x.nnz):
        from recframe.engine._compiled.entries import count_in_columns, take_in_columns

        indptr, indices, data = csr_parts(x, x.indices.dtype, keep_float32=True)  # int64 offsets, read-only
        marked = read_only_view(columns)
        counts = np.empty(x.shape[0], dtype=np.int64)
        with numba_threads(None):
            count_in_columns(indptr, indices, marked, counts)
            # the offsets in the indices' dtype where they fit: scipy then converts neither array
            offset_type = x.indices.dtype if counts.sum() < np.iinfo(x.indices.dtype).max else np.int64
            out_indptr = np.zeros(x.shape[0] + 1, dtype=offset_type)
            np.cumsum(counts, out=out_indptr[1:])
            out_indices = np.empty(int(out_indptr[-1]), dtype=x.indices.dtype)
            out_data = np.empty(int(out_indptr[-1]), dtype=x.data.dtype)
            take_in_columns(indptr, indices, data, marked, out_indptr, out_indices, out_data)
        return sp.csr_array((out_data, out_indices, out_indptr), shape=x.shape)
    positions = np.flatnonzero(columns[x.indices])
    owners = np.searchsorted(x.indptr, positions, side="right") - 1
    indptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(owners, minlength=x.shape[0]), out=indptr[1:])
    return sp.csr_array((x.data[positions], x.indices[positions], indptr), shape=x.shape)


def joined(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Return `columns` one after another (the training events followed by updates').

    A part of numbers as long as a compiled pass, of the result's dtype, is copied by every
    thread; the others by numpy (text ids, short parts, a dtype to convert).
    """
    dtype = np.result_type(*columns)
    out = np.empty(sum(len(column) for column in columns), dtype=dtype)
    offset = 0
    for column in columns:
        if column.dtype == dtype and dtype.kind in "iuf" and compiled_pass(len(column)):
            from recframe.engine._compiled.entries import copy_into

            with numba_threads(None) as threads:
                copy_into(read_only_view(column), out, offset, 4 * threads)
        else:
            out[offset : offset + len(column)] = column
        offset += len(column)
    return out


def _table(sorted_ids: npt.NDArray[np.integer]) -> tuple[int, npt.NDArray[np.bool_]]:
    """Return the lowest of the integer `sorted_ids` and a table of their span marking each of them."""
    low = int(sorted_ids[0])
    table = np.zeros(int(sorted_ids[-1]) - low + 1, dtype=bool)
    table[sorted_ids - low] = True
    return low, table


def in_table(values: npt.NDArray[np.integer], sorted_ids: npt.NDArray[np.integer]) -> npt.NDArray[np.bool_]:
    """Return whether each of the integer `values` is among `sorted_ids` (sorted, distinct, a narrow span).

    A table of the ids' span marks them; every value is then one look-up (a forget looks for
    the ids its matrix lacks among the training events this way).
    """
    low, table = _table(sorted_ids)
    if not compiled_pass(len(values)):
        places = values - low
        inside = (places >= 0) & (places < len(table))
        found = np.zeros(len(values), dtype=bool)
        found[inside] = table[places[inside]]
        return found
    from recframe.engine._compiled.entries import look_up

    out = np.empty(len(values), dtype=bool)
    with numba_threads(None) as threads:
        look_up(read_only_view(values), low, table, out, 4 * threads)
    return out


def table_positions(values: npt.NDArray[np.integer], sorted_ids: npt.NDArray[np.integer]) -> IntArray | None:
    """Return the positions of the integer `values` among `sorted_ids` (as :func:`in_table`), or ``None``.

    ``None`` where no compiled pass runs (then ``flatnonzero(in_table(...))`` says the same).
    One sequential pass that writes only the positions found, for a worker thread beside the
    update's kernels: no mask of every value, no second pass over one.
    """
    if not compiled_pass(len(values)):
        return None
    from recframe.engine._compiled.kept_events import marked_positions

    low, table = _table(sorted_ids)
    out = np.empty(len(values), dtype=np.int64)  # only the first entries are written: the rest is never paged in
    found = marked_positions(read_only_view(np.asarray(values)), low, table, out)
    return out[:found].copy()
