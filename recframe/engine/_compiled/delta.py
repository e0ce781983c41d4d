"""Compiled update of cosine (or dot) neighbour lists from the change of each pair's dot product.

The kernel behind :mod:`recframe.recommender.graph_delta` (read its description first): for
each row ``i`` it accumulates the change of the dot products ``Delta_i = D_i X'^T + X_i D^T`` in
a dense per-thread accumulator (only the columns reached), then rates every candidate, known
exactly or bounded, and keeps the best certain ones in a bounded heap, ordered by score and then
by lower row, as every kernel here does. What it reads of a row ``j`` for each pair (lengths,
floor, whether it is new or shrunk) sits in one row of ``row_info`` (see
:mod:`~recframe.engine._compiled.delta_steps`): one cache line per pair, not five.
"""

from __future__ import annotations

import numba
import numpy as np

from recframe.engine._compiled.delta_steps import (
    KEPT,
    KIND,
    LISTED,
    NEW,
    NEW_LENGTH,
    OLD_FLOOR,
    OLD_LENGTH,
    SHRUNK,
    SUSPECTED,
    SUSPECTED_ONE_WAY,
    _clear_row,
    _compact,
    _exact_dot,
    _kth_best,
    _recovered_dot,
    _resolve_bounds,
    _similarity_of,
)
from recframe.engine._compiled.heaps import SORT_MOVES, _drain_best_first, _keep, _sort_best_first
from recframe.engine._compiled.prefetch import _prefetch
from recframe.engine._compiled.scatter import _scatter_row, _scatter_sparse_rows

CLEARLY_BELOW = 1.0 - 1e-9
"""A bounded pair whose bound times its length is at most this share of the floor times it is skipped
unrounded: far more than the rounding of the division, so no pair above the floor is."""

NORMAL_LOW, NORMAL_HIGH = 1e-300, 1e300
"""Where that product is trusted: away from underflow (whose rounding is absolute, not relative)
and from overflow (an infinite threshold would skip an infinite bound). A row checks once that
its floor times its length times the smallest and the largest other length lie between them."""

PASS_AHEAD = 8
"""The pass over a row's changed pairs asks, for the pair this many places on, for what it will read
of that row (its line of ``row_info``, its mark and its change): the rows come in the scatter's
order, at random, and the pass's branches keep the processor from reading ahead by itself. On
the inputs of a 1% add to the ML-20M shape, two threads, the kernel took 0.66-0.89 s (median of
14: 0.73 s) instead of 0.72-1.10 s (0.78 s); four or sixteen places on gained as much or less."""

SORTED_AT_MOST = 4
"""A row's certain candidates are sorted in place up to this many times the entries it keeps
(plus one), and go through a heap beyond: after adding 1% to the ML-20M shape the median row
has 101 candidates, nearly in order, and the kernel took 0.67-0.69 s instead of 0.70-0.76 s
(2 threads, its last step 0.13 s instead of 0.23 s on one). Up to four times, since rows keep
suspects and their floors stay lower (more candidates above them): the first 1% add's kernel
took 0.718 s instead of 0.751 s (medians of five in one process each)."""


@numba.njit(inline="always", cache=True)
def _trusted(level: float, length: float, low_length: float, high_length: float) -> bool:
    """Whether ``level x length x`` every other row's length is a normal number (or 0): see :data:`NORMAL_LOW`."""
    return level == 0.0 or (level * length * low_length > NORMAL_LOW and level * length * high_length < NORMAL_HIGH)


@numba.njit(inline="always", cache=True)
def _mark_suspected(
    i: int,
    floor_i: float,
    mirror: np.ndarray,
    cap: np.ndarray,
    suspects: np.ndarray,
    suspect_bounds: np.ndarray,
    rs_indptr: np.ndarray,
    rs_indices: np.ndarray,
    rs_data: np.ndarray,
    row_info: np.ndarray,
) -> None:
    """Mark the rows row `i` suspects and those that suspect it, with the bound on each pair's old similarity.

    A pair's old similarity is at most each side's bound for the other: the suspect's bound
    where one row suspects the other, else that row's floor. The caller marks the rows that
    list row `i`, or that it lists, afterwards: they know the similarity.
    """
    for t in range(suspects.shape[1]):
        j = suspects[i, t]
        if j >= 0:
            mirror[j] = SUSPECTED_ONE_WAY
            cap[j] = suspect_bounds[i, t]
    for p in range(rs_indptr[i], rs_indptr[i + 1]):
        j = rs_indices[p]
        cap[j] = min(cap[j] if mirror[j] == SUSPECTED_ONE_WAY else floor_i, rs_data[p])
        mirror[j] = SUSPECTED
    for t in range(suspects.shape[1]):
        j = suspects[i, t]
        if j >= 0 and mirror[j] == SUSPECTED_ONE_WAY:
            cap[j] = min(cap[j], row_info[j, OLD_FLOOR])
            mirror[j] = SUSPECTED


@numba.njit(nogil=True, cache=True)
def _lists_row(
    i: int,
    acc: np.ndarray,
    mark: np.ndarray,
    touched: np.ndarray,
    live_start: np.ndarray,
    live_stop: np.ndarray,
    live_x: np.ndarray,
    exact_acc: np.ndarray,
    exact_mark: np.ndarray,
    exact_touched: np.ndarray,
    heap_v: np.ndarray,
    heap_j: np.ndarray,
    best_v: np.ndarray,
    best_j: np.ndarray,
    bound_j: np.ndarray,
    bound_v: np.ndarray,
    cand_j: np.ndarray,
    cand_v: np.ndarray,
    dense: np.ndarray,
    present: np.ndarray,
    mirror: np.ndarray,
    cap: np.ndarray,
    held_v: np.ndarray,
    held_j: np.ndarray,
    d_indptr: np.ndarray,
    d_indices: np.ndarray,
    d_data: np.ndarray,
    dt_indptr: np.ndarray,
    dt_indices: np.ndarray,
    dt_data: np.ndarray,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    xnt_indptr: np.ndarray,
    xnt_indices: np.ndarray,
    xnt_data: np.ndarray,
    xo_indptr: np.ndarray,
    xo_indices: np.ndarray,
    xo_data: np.ndarray,
    st_indptr: np.ndarray,
    st_indices: np.ndarray,
    st_data: np.ndarray,
    xs_indptr: np.ndarray,
    xs_indices: np.ndarray,
    xs_data: np.ndarray,
    rev_indptr: np.ndarray,
    rev_indices: np.ndarray,
    rev_data: np.ndarray,
    rs_indptr: np.ndarray,
    rs_indices: np.ndarray,
    rs_data: np.ndarray,
    lists: np.ndarray,
    list_scores: np.ndarray,
    suspects: np.ndarray,
    suspect_bounds: np.ndarray,
    row_info: np.ndarray,
    ratio: np.ndarray,
    growth_bound: float,
    cancelled: float,
    low_length: float,
    high_length: float,
    k: int,
    width: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
    out_floor: np.ndarray,
    out_count: np.ndarray,
    out_suspects: np.ndarray,
    out_suspect_bounds: np.ndarray,
) -> None:
    """Write row `i`'s new list (exact, above the floor; the first ``k`` certainly the best), suspects and floor.

    The list and the suspects are padded with -1 and 0; ``out_count`` is the list's length.
    """
    n_touched = _scatter_row(  # D_i X'^T
        d_indptr[i], d_indptr[i + 1], d_indices, d_data, xnt_indptr, xnt_indices, xnt_data, acc, mark, touched, 0
    )
    n_touched = _scatter_sparse_rows(  # X_i D^T
        xo_indptr[i],
        xo_indptr[i + 1],
        xo_indices,
        xo_data,
        dt_indptr,
        dt_indices,
        dt_data,
        acc,
        mark,
        touched,
        n_touched,
        live_start,
        live_stop,
        live_x,
    )
    n_exact = 0
    if st_indptr.shape[0] > 1:  # exact dot products with the rows that shrank: X'_i X'_S^T
        n_exact = _scatter_row(  # row i's entries in the columns of the shrunk rows (the others add nothing)
            xs_indptr[i],
            xs_indptr[i + 1],
            xs_indices,
            xs_data,
            st_indptr,
            st_indices,
            st_data,
            exact_acc,
            exact_mark,
            exact_touched,
            0,
        )
    li, ni, floor_i = row_info[i, OLD_LENGTH], row_info[i, NEW_LENGTH], row_info[i, OLD_FLOOR]
    inverse_i = 1.0 / ni if ni > 0.0 else 0.0  # (a row of length 0 has no pair: `length` is 0 below)
    new_i = row_info[i, KIND] == NEW
    # a shrunk row's updated dot products may be the rounding of its old length's terms (a rating
    # 1e15 times the others replaced): its listed pairs are computed again from the new rows
    shrunk_i = row_info[i, KIND] == SHRUNK
    floor = 0.0
    if not new_i:
        floor = max(floor_i, 0.0) * ratio[i] * growth_bound
    _mark_suspected(i, floor_i, mirror, cap, suspects, suspect_bounds, rs_indptr, rs_indices, rs_data, row_info)
    for p in range(rev_indptr[i], rev_indptr[i + 1]):  # rows that list row i, and their scores
        mirror[rev_indices[p]] = rev_data[p]
    for t in range(lists.shape[1]):
        j = lists[i, t]
        if j >= 0:
            mirror[j] = LISTED
    # the products floor x length of this row's pairs are all normal numbers (or 0): a bounded pair
    # clearly below the floor (later, below `admit`) can be told without a division
    trusted = _trusted(floor, ni, low_length, high_length)
    # first the listed neighbours, known exactly (their dot product is old similarity times lengths)
    n_cand = 0
    filled = False  # row i scattered into `dense` (for exact dot products)
    for t in range(lists.shape[1]):
        j = lists[i, t]
        if j < 0:
            continue
        length = ni * row_info[j, NEW_LENGTH]
        if length > 0.0:
            old_dot = _recovered_dot(list_scores[i, t], li, row_info[j, OLD_LENGTH])
            dot = old_dot + acc[j]
            cancels = abs(dot) <= cancelled * (abs(old_dot) + abs(acc[j]))  # the rounding of a cancellation
            if cancels or shrunk_i or row_info[j, KIND] == SHRUNK:  # computed again
                dot = _exact_dot(i, j, dense, present, filled, xn_indptr, xn_indices, xn_data)
                filled = True
            v = _similarity_of(dot, inverse_i, row_info[j, NEW_LENGTH])
            if v > 0.0:
                cand_j[n_cand] = j
                cand_v[n_cand] = v
                n_cand += 1
    # their k-th best is at most the k-th exact similarity: only a bound at least that high may need
    # resolving; of the others, those above `admit` are held (the suspects are their highest), and
    # every `compact_at` held ones are cut to the highest, `admit` rising to the first cut
    resolvable = _kth_best(cand_v, cand_j, n_cand, k, floor, heap_v, heap_j)
    n_bounded, n_held, admit = 0, 0, floor
    n_suspects = out_suspects.shape[1]
    compact_at = max(2 * (n_suspects + 1), 64)
    # the suspects whose dot product did not change: only the lengths move their bounds (a row
    # that lists row i knows the similarity); the others are met below
    for t in range(suspects.shape[1]):
        j = suspects[i, t]
        if j < 0 or j == i or mark[j] or row_info[j, KIND] != KEPT:
            continue
        length = ni * row_info[j, NEW_LENGTH]
        seen = mirror[j]
        if length <= 0.0 or seen == LISTED:
            continue
        if seen >= 0.0:
            v = _similarity_of(_recovered_dot(seen, li, row_info[j, OLD_LENGTH]), inverse_i, row_info[j, NEW_LENGTH])
            if v > 0.0:
                cand_j[n_cand] = j
                cand_v[n_cand] = v
                n_cand += 1
            continue
        bound = cap[j] * li * row_info[j, OLD_LENGTH] / length
        if bound >= resolvable and bound > floor:
            bound_j[n_bounded] = j
            bound_v[n_bounded] = bound
            n_bounded += 1
        elif bound > admit:
            held_j[n_held] = j
            held_v[n_held] = bound
            n_held += 1
    # one pass over the pairs whose dot product changed (clearing the accumulator): exact with a
    # new row or a row that lists row i, bounded otherwise
    info = row_info.reshape(-1)  # (a view: row_info is C-ordered) the flat array a prefetch takes
    for t in range(n_touched):
        if t + PASS_AHEAD < n_touched:  # a hint: never changes a result
            ahead = touched[t + PASS_AHEAD]
            _prefetch(info, ahead * row_info.shape[1])  # type: ignore[call-arg]
            _prefetch(mirror, ahead)
            _prefetch(acc, ahead)
        j = touched[t]
        change = acc[j]
        acc[j] = 0.0
        mark[j] = False
        seen = mirror[j]
        kind = row_info[j, KIND]
        if j == i or seen == LISTED or kind == SHRUNK:
            continue
        length = ni * row_info[j, NEW_LENGTH]
        if length <= 0.0:
            continue
        if new_i or kind == NEW:
            v = _similarity_of(change, inverse_i, row_info[j, NEW_LENGTH])
        elif seen >= 0.0:
            old_dot = _recovered_dot(seen, li, row_info[j, OLD_LENGTH])
            dot = old_dot + change
            if shrunk_i or abs(dot) <= cancelled * (abs(old_dot) + abs(change)):
                dot = _exact_dot(i, j, dense, present, filled, xn_indptr, xn_indices, xn_data)
                filled = True
            v = _similarity_of(dot, inverse_i, row_info[j, NEW_LENGTH])
        else:
            below = cap[j] if seen == SUSPECTED else min(floor_i, row_info[j, OLD_FLOOR])
            bound = below * li * row_info[j, OLD_LENGTH] + change  # the bound times `length`
            if trusted and bound <= CLEARLY_BELOW * admit * length:
                continue  # most pairs: no division (the margin covers its rounding)
            bound /= length
            if bound > admit:  # (at most `resolvable`, which is at least the floor)
                if bound >= resolvable:
                    bound_j[n_bounded] = j
                    bound_v[n_bounded] = bound
                    n_bounded += 1
                else:
                    held_j[n_held] = j
                    held_v[n_held] = bound
                    n_held += 1
                    if n_held >= compact_at:  # most bounds then fall under `admit` at once
                        n_held, admit = _compact(held_v, held_j, n_held, n_suspects + 1)
                        trusted = _trusted(admit, ni, low_length, high_length)
            continue
        if v > 0.0:
            cand_j[n_cand] = j
            cand_v[n_cand] = v
            n_cand += 1
    for t in range(n_exact):  # every pair with a shrunk row, exactly
        j = exact_touched[t]
        if j != i and mirror[j] != LISTED:
            length = ni * row_info[j, NEW_LENGTH]
            if length > 0.0 and exact_acc[j] > 0.0:
                cand_j[n_cand] = j
                cand_v[n_cand] = _similarity_of(exact_acc[j], inverse_i, row_info[j, NEW_LENGTH])
                n_cand += 1
        exact_acc[j] = 0.0
        exact_mark[j] = False
    # the bounds at or above the k-th exact similarity (or the floor) keep the row from settling:
    # replace them all by exact dot products X'_i . X'_j when together they cost at most half a
    # new search, else none
    # the floor rises to what is left unresolved and not held (even where nothing was held at the
    # end: a cut while bounds came in may have dropped them all)
    n_kept = 0
    if n_bounded or n_held:
        n_cand, admit, n_kept, filled = _resolve_bounds(
            i,
            n_bounded,
            n_held,
            admit,
            n_cand,
            floor,
            k,
            heap_v,
            heap_j,
            bound_j,
            bound_v,
            cand_j,
            cand_v,
            dense,
            present,
            filled,
            xn_indptr,
            xn_indices,
            xn_data,
            xnt_indptr,
            row_info,
            held_v,
            held_j,
            n_suspects,
        )
    floor = max(floor, admit)
    if filled:
        _clear_row(i, dense, present, xn_indptr, xn_indices)
    for t in range(lists.shape[1]):
        j = lists[i, t]
        if j >= 0:
            mirror[j] = -1.0
    for p in range(rev_indptr[i], rev_indptr[i + 1]):
        mirror[rev_indices[p]] = -1.0
    for p in range(rs_indptr[i], rs_indptr[i + 1]):
        mirror[rs_indices[p]] = -1.0
    for t in range(suspects.shape[1]):
        j = suspects[i, t]
        if j >= 0:
            mirror[j] = -1.0
    # the exact similarities above the floor are certain: keep the best (one more than kept
    # bounds every entry left out)
    above = 0
    for t in range(n_cand):
        if cand_v[t] > floor:
            cand_v[above] = cand_v[t]
            cand_j[above] = cand_j[t]
            above += 1
    capacity = width + 1
    # most rows: about their old neighbours, nearly in order; a heap where they are many or far out of order
    if above <= SORTED_AT_MOST * capacity and _sort_best_first(cand_v, cand_j, above, SORT_MOVES * above):
        size = min(above, capacity)
        best_v, best_j = cand_v, cand_j
    else:
        size = 0
        for t in range(above):
            size = _keep(heap_v, heap_j, size, capacity, cand_v[t], cand_j[t])
        _drain_best_first(heap_v, heap_j, size, best_v, best_j)
    if size > width:
        floor = max(floor, best_v[width])
        size = width
    for t in range(size):
        out_j[i, t] = best_j[t]
        out_v[i, t] = best_v[t]
    for t in range(size, out_j.shape[1]):  # the padding: no neighbour, score 0
        out_j[i, t] = -1
        out_v[i, t] = 0.0
    # the suspects above the final floor (in no order): each below the k-th exact similarity (those
    # at or above it were resolved), so the first k neighbours are certain
    kept = 0
    for t in range(max(n_kept, 0)):
        if held_v[t] > floor:
            out_suspects[i, kept] = held_j[t]
            out_suspect_bounds[i, kept] = held_v[t]
            kept += 1
    for t in range(kept, out_suspects.shape[1]):
        out_suspects[i, t] = -1
        out_suspect_bounds[i, t] = 0.0
    out_floor[i] = floor
    out_count[i] = size


@numba.njit(nogil=True, cache=True)
def delta_lists(
    start: int,
    stop: int,
    d_indptr: np.ndarray,
    d_indices: np.ndarray,
    d_data: np.ndarray,
    dt_indptr: np.ndarray,
    dt_indices: np.ndarray,
    dt_data: np.ndarray,
    xn_indptr: np.ndarray,
    xn_indices: np.ndarray,
    xn_data: np.ndarray,
    xnt_indptr: np.ndarray,
    xnt_indices: np.ndarray,
    xnt_data: np.ndarray,
    xo_indptr: np.ndarray,
    xo_indices: np.ndarray,
    xo_data: np.ndarray,
    st_indptr: np.ndarray,
    st_indices: np.ndarray,
    st_data: np.ndarray,
    xs_indptr: np.ndarray,
    xs_indices: np.ndarray,
    xs_data: np.ndarray,
    rev_indptr: np.ndarray,
    rev_indices: np.ndarray,
    rev_data: np.ndarray,
    rs_indptr: np.ndarray,
    rs_indices: np.ndarray,
    rs_data: np.ndarray,
    lists: np.ndarray,
    list_scores: np.ndarray,
    suspects: np.ndarray,
    suspect_bounds: np.ndarray,
    row_info: np.ndarray,
    ratio: np.ndarray,
    growth_bound: float,
    cancelled: float,
    low_length: float,
    high_length: float,
    longest: int,
    k: int,
    width: int,
    out_j: np.ndarray,
    out_v: np.ndarray,
    out_floor: np.ndarray,
    out_count: np.ndarray,
    out_suspects: np.ndarray,
    out_suspect_bounds: np.ndarray,
) -> None:
    """Run :func:`_lists_row` over rows ``start:stop`` with accumulators of their own (one slice of a pool's).

    `low_length` and `high_length` are the smallest positive and the largest new length of all
    rows (``inf, 0`` for none), `longest` the most entries of a row of the old entries ``X``:
    what every slice needs of all the rows, worked out once by the caller.
    """
    n = lists.shape[0]
    if start >= stop:
        return
    acc = np.zeros(n, dtype=np.float64)
    mark = np.zeros(n, dtype=np.bool_)
    touched = np.empty(n + 1, dtype=np.int64)  # room for _scatter_row's extra write
    live_start = np.empty(longest, dtype=np.int64)
    live_stop = np.empty(longest, dtype=np.int64)
    live_x = np.empty(longest, dtype=np.float64)
    exact_acc = np.zeros(n, dtype=np.float64)
    exact_mark = np.zeros(n, dtype=np.bool_)
    exact_touched = np.empty(n + 1, dtype=np.int64)
    heap_v = np.empty(max(width, k) + 1, dtype=np.float64)
    heap_j = np.empty(max(width, k) + 1, dtype=np.int64)
    best_v = np.empty(width + 1, dtype=np.float64)
    best_j = np.empty(width + 1, dtype=np.int64)
    bound_j = np.empty(n, dtype=np.int64)
    bound_v = np.empty(n, dtype=np.float64)
    cand_j = np.empty(2 * n + lists.shape[1], dtype=np.int64)
    cand_v = np.empty(2 * n + lists.shape[1], dtype=np.float64)
    dense = np.zeros(xnt_indptr.shape[0], dtype=np.float64)  # a slot per column, and one always 0
    present = np.zeros((xnt_indptr.shape[0] + 63) // 64, dtype=np.uint64)
    mirror = np.full(n, -1.0)
    cap = np.empty(n)
    held_v = np.empty(n, dtype=np.float64)
    held_j = np.empty(n, dtype=np.int64)
    for i in range(start, stop):
        _lists_row(
            i,
            acc,
            mark,
            touched,
            live_start,
            live_stop,
            live_x,
            exact_acc,
            exact_mark,
            exact_touched,
            heap_v,
            heap_j,
            best_v,
            best_j,
            bound_j,
            bound_v,
            cand_j,
            cand_v,
            dense,
            present,
            mirror,
            cap,
            held_v,
            held_j,
            d_indptr,
            d_indices,
            d_data,
            dt_indptr,
            dt_indices,
            dt_data,
            xn_indptr,
            xn_indices,
            xn_data,
            xnt_indptr,
            xnt_indices,
            xnt_data,
            xo_indptr,
            xo_indices,
            xo_data,
            st_indptr,
            st_indices,
            st_data,
            xs_indptr,
            xs_indices,
            xs_data,
            rev_indptr,
            rev_indices,
            rev_data,
            rs_indptr,
            rs_indices,
            rs_data,
            lists,
            list_scores,
            suspects,
            suspect_bounds,
            row_info,
            ratio,
            growth_bound,
            cancelled,
            low_length,
            high_length,
            k,
            width,
            out_j,
            out_v,
            out_floor,
            out_count,
            out_suspects,
            out_suspect_bounds,
        )
