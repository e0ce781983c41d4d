"""A base class for candidate rankers that score blocks of users: :class:`ScoringRanker`.

:class:`ScoringRanker` turns "score a block of users against every item" into a complete,
memory-bounded ``recommend``: it walks the users in chunks, removes seen and excluded items
without densifying the training matrix, and selects each user's top ``n``. The built-in
rankers use it, and so can any plugin.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import PositiveInt

from recframe.engine.topn import blockwise_top_n
from recframe.errors import PluginError
from recframe.interfaces import (
    CandidateRanker,
    RankerConfig,
    TopN,
    check_fitted,
    graph_from_state,
    graph_state,
    matrix_from_state,
    matrix_state,
)
from recframe.interfaces.calls import is_builtin
from recframe.interfaces.state import check_graph

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix
    from recframe.interfaces import NeighbourGraph, State


_EARLIER_NAMES = {"_prepare": "prepare", "_prepared_state": "prepared_state", "_restore_prepared": "restore_prepared"}
"""The methods a subclass overrides, by their names in earlier releases (still taken, with a warning)."""


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
        self.prepare()
        return self

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Take a subclass's methods of the names of earlier releases (``_prepare`` ...) as the public ones, warning."""
        super().__init_subclass__(**kwargs)
        for old, new in _EARLIER_NAMES.items():
            if old in vars(cls) and new not in vars(cls):
                warnings.warn(
                    f"{cls.__name__}.{old} is the name of earlier releases; name it {new} (it is used as {new})",
                    DeprecationWarning,
                    stacklevel=2,
                )
                setattr(cls, new, vars(cls)[old])

    def prepare(self) -> None:
        """Precompute what :meth:`score_block` needs, once per ``fit`` (and on load, unless restore_prepared does)."""

    def get_state(self) -> State:
        """Return the training matrix (``matrix.*``), the graph (``neighbours.*``) and :meth:`prepared_state`.

        Raises
        ------
        NotFittedError
            If called before ``fit``.
        """
        check_fitted(self, "matrix_")
        assert self.matrix_ is not None
        state = matrix_state("matrix", self.matrix_)
        if self.neighbours_ is not None:
            state.update(graph_state("neighbours", self.neighbours_))
        state.update(self.prepared_state())
        return state

    def set_state(self, state: State) -> None:
        """Restore what :meth:`get_state` returned, then :meth:`restore_prepared` what :meth:`prepare` computed."""
        self.matrix_ = matrix_from_state(state, "matrix")
        self.neighbours_ = graph_from_state(state, "neighbours") if "neighbours.indices" in state else None
        if self.neighbour_axis is not None and self.neighbours_ is None:
            msg = f"{type(self).__name__} needs a neighbour graph of {self.neighbour_axis}; the state has none"
            raise PluginError(msg)
        if self.neighbours_ is not None and self.neighbour_axis is not None:
            n_rows = self.matrix_.n_users if self.neighbour_axis == "users" else self.matrix_.n_items
            check_graph(self.neighbours_, n_rows, "neighbours")
        self.restore_prepared(state)

    def prepared_state(self) -> State:
        """Return what :meth:`prepare` computed, to save it rather than recompute it on load (``{}``)."""
        return {}

    def restore_prepared(self, state: State) -> None:
        """Restore what :meth:`prepared_state` returned; by default run :meth:`prepare` again."""
        self.prepare()

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

        checked = not is_builtin(type(self))  # a plugin's scores; the built-ins' are tested

        def score(rows: IntArray) -> FloatArray:
            scores = np.zeros((len(rows), matrix.n_items))
            hit = np.ones(len(rows), dtype=bool) if self.scores_unknown_users else rows >= 0
            if hit.any():
                block = self.score_block(rows[hit])
                if checked:
                    block = checked_scores(block, int(hit.sum()), matrix.n_items, type(self).__name__)
                scores[hit] = block
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


def checked_scores(block: object, n_users: int, n_items: int, who: str) -> FloatArray:
    """Return a plugin's :meth:`ScoringRanker.score_block` result, or raise a ValueError saying what is wrong with it.

    It must be a numpy array of exactly ``(n_users, n_items)`` numbers: numpy would broadcast a
    row or a column over the block (every user given the first user's scores) without a word.
    A ``nan`` is never among the best (it compares false), so it would vanish from the lists
    unnoticed; an infinite score is refused where the lists are checked.
    """
    expected = f"a numpy array of shape ({n_users}, {n_items}): one row of scores per user asked, one column per item"
    if not isinstance(block, np.ndarray):
        msg = f"{who}.score_block returned {type(block).__name__}; expected {expected}"
        raise ValueError(msg)
    if block.shape != (n_users, n_items):
        msg = f"{who}.score_block returned an array of shape {block.shape}; expected {expected}"
        raise ValueError(msg)
    if block.dtype.kind not in "biuf":
        msg = f"{who}.score_block returned an array of {block.dtype}; expected {expected}"
        raise ValueError(msg)
    bad = np.isnan(block)
    if bad.any():
        count = int(bad.sum())
        msg = (
            f"{who}.score_block returned nan for {count} of {block.size} scores; scores must be numbers "
            "(0 or less: not recommended)"
        )
        raise ValueError(msg)
    return block
