"""Top-n selection with exclusions, one memory-bounded block of rows at a time.

:func:`select_top_n` picks each row's best positive entries of a dense score block, ties by
lower column; :func:`top_n_entries` does the same for a sparse set of entries;
:func:`blockwise_top_n` walks rows in blocks sized by :func:`chunks`, removes seen and excluded
columns without densifying them, and selects each row's top ``n``. The scipy engine of
:func:`~recframe.engine.top_n_product` and :class:`recframe.ScoringRanker` are built on them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray, IntArray
from recframe.engine.kernel_inputs import check_count, check_memory
from recframe.interfaces import TopN
from recframe.progress import progress


def select_top_n(scores: FloatArray, n: int) -> TopN:
    """Return the `n` best positive entries of each row of a dense score block.

    Scores of 0 or less (and ``-inf``/``nan``) are never selected. Equal scores are ordered by
    lower column, also at the cut-off, so the result is fully deterministic.

    Parameters
    ----------
    scores : ndarray of shape (n_users, n_items)
        Candidate scores; the array may be modified.
    n : int
        List length.

    Returns
    -------
    TopN
        ``(n_users, n)`` items (``-1`` padded) and scores (``nan`` padded).
    """
    n = check_count(n, "n")
    m, n_items = scores.shape
    if n == 0:
        return TopN(np.zeros((m, 0), dtype=np.int64), np.zeros((m, 0)))
    scores[~(scores > 0)] = 0.0  # also clears nan
    width = min(n, n_items)
    if width < n_items and width > 0:
        # partition on the negated scores: much faster than kth=n_items-width on sparse rows
        part = np.argpartition(-scores, width - 1, axis=1)[:, :width]
        cutoff = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        selected = scores >= cutoff
        # rows whose ties at the cut-off don't all fit keep the lowest columns among them
        crowded = np.flatnonzero(selected.sum(axis=1) > width)
        if crowded.size:
            sub_scores, sub_cut = scores[crowded], cutoff[crowded]
            at = sub_scores == sub_cut
            room = width - (sub_scores > sub_cut).sum(axis=1, keepdims=True)
            selected[crowded] = (sub_scores > sub_cut) | (at & (np.cumsum(at, axis=1) <= room))
        cols = np.nonzero(selected)[1].reshape(m, width)
    else:
        cols = np.broadcast_to(np.arange(n_items), (m, n_items)).copy()
    values = np.take_along_axis(scores, cols, axis=1)
    order = np.lexsort((cols, -values), axis=1)
    cols = np.take_along_axis(cols, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    empty = values <= 0
    items = np.where(empty, -1, cols).astype(np.int64)
    values = np.where(empty, np.nan, values)
    if width < n:
        items = np.pad(items, ((0, 0), (0, n - width)), constant_values=-1)
        values = np.pad(values, ((0, 0), (0, n - width)), constant_values=np.nan)
    return TopN(items, values)


def top_n_entries(
    rows: IntArray, columns: IntArray, values: FloatArray, n_rows: int, n: int, *, keep_negative: bool = False
) -> tuple[IntArray, FloatArray]:
    """Return each row's `n` largest entries of a sparse set, ties by lower column.

    Parameters
    ----------
    rows, columns : ndarray of shape (n_entries,), int64
        Where each entry is; rows in ``0 .. n_rows - 1``, in any order.
    values : ndarray of shape (n_entries,), float64
        The entries; only positive ones are candidates (any non-zero one with `keep_negative`).
    n_rows, n : int
        Rows of the result, and entries kept per row.
    keep_negative : bool
        Let negative entries compete too (ranked by value, so after every positive one).

    Returns
    -------
    columns : ndarray of shape (n_rows, n), int64
        Best first; ``-1`` pads.
    values : ndarray of shape (n_rows, n), float64
        The entries; ``nan`` pads.

    Raises
    ------
    ValueError
        If the three arrays differ in length, or `n_rows` or `n` is negative.
    IndexError
        If a row is outside ``0 .. n_rows - 1`` (a -1 would land in the last row).
    """
    n_rows, n = check_count(n_rows, "n_rows"), check_count(n, "n")
    rows, columns, values = np.asarray(rows), np.asarray(columns), np.asarray(values)
    if not len(rows) == len(columns) == len(values):
        msg = f"rows, columns and values must be as long; got {len(rows)}, {len(columns)} and {len(values)}"
        raise ValueError(msg)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_rows):
        bad = rows[(rows < 0) | (rows >= n_rows)][0]
        msg = f"rows must lie in 0 .. {n_rows - 1}; got {bad}"
        raise IndexError(msg)
    keep = values != 0 if keep_negative else values > 0
    rows, columns, values = rows[keep], columns[keep], values[keep]
    order = np.lexsort((columns, -values, rows))
    rows, columns, values = rows[order], columns[order], values[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, np.arange(n_rows))[rows]
    top = rank < n
    out_columns = np.full((n_rows, n), -1, dtype=np.int64)
    out_values = np.full((n_rows, n), np.nan)
    out_columns[rows[top], rank[top]] = columns[top]
    out_values[rows[top], rank[top]] = values[top]
    return out_columns, out_values


def chunks(n_rows: int, n_cols: int, max_memory_mb: int) -> Iterator[slice]:
    """Yield row slices whose dense ``float64`` blocks of `n_cols` columns fit in `max_memory_mb`.

    The budget is split over about four blocks of that size alive at once (scores, masks,
    partition indices), so the peak stays near `max_memory_mb`.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape of the whole (never materialised) dense matrix.
    max_memory_mb : int
        Memory budget.

    Yields
    ------
    slice
        Consecutive row ranges covering ``0 .. n_rows``, each at least one row.
    """
    max_memory_mb = check_memory(max_memory_mb)
    per_row = max(1, n_cols) * 8 * 4
    step = max(1, (max_memory_mb << 20) // per_row)
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def zero_entries(block: FloatArray, mask: sp.csr_array) -> None:
    """Set ``block[i, j] = 0`` for every stored entry ``(i, j)`` of `mask`, in place.

    Parameters
    ----------
    block : ndarray of shape (n_rows, n_cols)
        Dense scores, modified.
    mask : csr_array of shape (n_rows, n_cols)
        The entries to clear (their values are ignored).
    """
    coo = mask.tocoo()
    block[coo.row, coo.col] = 0.0


def blockwise_top_n(
    score: Callable[[IntArray], FloatArray],
    rows: IntArray,
    n_cols: int,
    n: int,
    *,
    seen: sp.csr_array | None = None,
    exclude: sp.csr_array | None = None,
    exclude_self: bool = False,
    max_memory_mb: int = 256,
    desc: str = "top-n",
    unit: str = "rows",
) -> TopN:
    """Select the top `n` of dense score blocks, one memory-bounded block of rows at a time.

    Parameters
    ----------
    score : callable
        Returns the dense ``(len(block), n_cols)`` scores of a block of `rows` (``-1`` included).
    rows : ndarray of int64
        The rows to rank; ``-1`` marks a row with no history (nothing of `seen` applies).
    n_cols, n : int
        Number of columns, and of entries kept per row.
    seen : csr_array, optional
        Columns to leave out, by row number (e.g. the training matrix).
    exclude : csr_array of shape (len(rows), n_cols), optional
        Columns to leave out, by position in `rows`.
    exclude_self : bool
        Leave out column ``r`` of row ``r``.
    max_memory_mb : int
        Memory for the blocks (see :func:`chunks`).
    desc, unit : str
        Label and unit of the progress bar.

    Returns
    -------
    TopN
        ``(len(rows), n)`` columns (``-1`` padded) and scores (``nan`` padded), best first.
    """
    max_memory_mb = check_memory(max_memory_mb)
    parts: list[TopN] = []
    blocks = list(chunks(len(rows), n_cols, max_memory_mb))
    for block in progress(blocks, total=len(rows), desc=desc, unit=unit, sizes=(b.stop - b.start for b in blocks)):
        part = rows[block]
        known = part >= 0
        scores = score(part)
        if seen is not None and known.any():
            zero_entries(scores, _rows_of(seen, part, known))
        if exclude is not None:
            zero_entries(scores, sp.csr_array(exclude[block]))
        if exclude_self:
            scores[np.flatnonzero(known), part[known]] = 0.0
        parts.append(select_top_n(scores, n))
    if not parts:
        return TopN(np.zeros((0, n), dtype=np.int64), np.zeros((0, n)))
    return TopN(np.vstack([p.items for p in parts]), np.vstack([p.scores for p in parts]))


def _rows_of(matrix: sp.csr_array, rows: IntArray, known: np.ndarray) -> sp.csr_array:
    """Return the pattern of ``matrix[rows]`` (values 1) with empty rows where `known` is false.

    The pattern, not the values: a ``seen`` entry stored as 0 is seen (as the compiled kernels
    read it), where a product with the values would drop it.
    """
    picked = matrix[np.where(known, rows, 0)]
    pattern = sp.csr_array((np.ones(picked.nnz), picked.indices, picked.indptr), shape=picked.shape)
    return sp.csr_array(sp.diags_array(known.astype(np.float64)) @ pattern)
