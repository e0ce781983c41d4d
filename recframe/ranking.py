"""Building blocks for candidate rankers: tie-aware top-n selection and chunked batch scoring.

:class:`ScoringRanker` turns "score a block of users against every item" into a complete,
memory-bounded ``recommend``: it walks the users in chunks, removes seen and excluded items
without densifying the training matrix, and selects each user's top ``n``. The built-in
rankers use it, and so can any plugin.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt

from recframe.interfaces import CandidateRanker, RankerConfig, TopN, check_fitted
from recframe.progress import progress

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix
    from recframe.interfaces import NeighbourGraph


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
    m, n_items = scores.shape
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

    Only positive entries are candidates (any non-zero one with `keep_negative`). Returns
    ``(columns, values)`` of shape ``(n_rows, n)``, padded with ``-1`` and ``nan``.
    """
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
    """
    per_row = max(1, n_cols) * 8 * 4
    step = max(1, (max_memory_mb << 20) // per_row)
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def zero_entries(block: FloatArray, mask: sp.csr_array) -> None:
    """Set ``block[i, j] = 0`` for every stored entry ``(i, j)`` of `mask`, in place."""
    coo = mask.tocoo()
    block[coo.row, coo.col] = 0.0


class ScoringConfig(RankerConfig):
    """Parameters of rankers built on :class:`ScoringRanker`."""

    max_memory_mb: PositiveInt = 256
    """Memory for one block of dense scores; users are scored in chunks that fit it."""


class ScoringRanker(CandidateRanker):
    """A ranker defined by how it scores a block of users against every item.

    Subclasses implement :meth:`score_block`. Users with row ``-1`` (no history) get
    all-zero scores, so an empty list, unless the subclass says otherwise.

    Attributes
    ----------
    matrix_ : InteractionMatrix
        The training matrix, set by ``fit``.
    neighbours_ : NeighbourGraph or None
        The graph of ``neighbour_axis``, set by ``fit``.
    """

    config: ScoringConfig
    scores_unknown_users: ClassVar[bool] = False
    """Whether :meth:`score_block` also gets row ``-1`` (users with no history)."""
    matrix_: InteractionMatrix | None = None
    neighbours_: NeighbourGraph | None = None

    def fit(self, matrix: InteractionMatrix, neighbours: NeighbourGraph | None) -> Self:
        """Remember the training matrix and the neighbour graph."""
        if self.neighbour_axis is not None and neighbours is None:
            msg = f"{type(self).__name__} needs a neighbour graph of {self.neighbour_axis}"
            raise TypeError(msg)
        self.matrix_ = matrix
        self.neighbours_ = neighbours
        self._prepare()
        return self

    def _prepare(self) -> None:
        """Precompute what :meth:`score_block` needs, once per ``fit``."""

    @abstractmethod
    def score_block(self, users: IntArray) -> FloatArray:
        """Return the dense ``(len(users), n_items)`` scores of a block of user rows.

        Rows are ``>= 0`` unless ``scores_unknown_users`` is set. Only positive scores can be
        recommended.
        """

    def recommend(self, users: IntArray, n: int | None = None, *, exclude: sp.csr_array | None = None) -> TopN:
        """Return the top-`n` items of each user (see :class:`CandidateRanker`)."""
        check_fitted(self, "matrix_")
        assert self.matrix_ is not None
        matrix = self.matrix_
        users = np.asarray(users, dtype=np.int64)

        def score(rows: IntArray) -> FloatArray:
            scores = np.zeros((len(rows), matrix.n_items))
            hit = np.ones(len(rows), dtype=bool) if self.scores_unknown_users else rows >= 0
            if hit.any():
                scores[hit] = self.score_block(rows[hit])
            return scores

        return blockwise_top_n(
            score,
            users,
            matrix.n_items,
            self.config.n if n is None else n,
            seen=matrix.matrix if self.config.exclude_seen else None,
            exclude=exclude,
            max_memory_mb=self.config.max_memory_mb,
            desc=f"{self.name}: scoring",
            unit="users",
        )


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
    """
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
    """Return ``matrix[rows]`` with empty rows where `known` is false."""
    picked = matrix[np.where(known, rows, 0)]
    return sp.csr_array(sp.diags_array(known.astype(np.float64)) @ picked)
