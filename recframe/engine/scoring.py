"""A base class for candidate rankers that score blocks of users: :class:`ScoringRanker`.

:class:`ScoringRanker` turns "score a block of users against every item" into a complete,
memory-bounded ``recommend``: it walks the users in chunks, removes seen and excluded items
without densifying the training matrix, and selects each user's top ``n``. The built-in
rankers use it, and so can any plugin.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt

from recframe.engine.topn import blockwise_top_n
from recframe.interfaces import CandidateRanker, RankerConfig, TopN, check_fitted

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix
    from recframe.interfaces import NeighbourGraph


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
