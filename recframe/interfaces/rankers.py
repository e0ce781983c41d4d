"""The ranker contract: a :class:`CandidateRanker` scores items for users and returns a :class:`TopN`.

The optional abilities a ranker may have are protocols beside it: :class:`SupportsExplain`
(the :class:`ScoreParts` of a score), :class:`SupportsNewUsers` (cold start) and
:class:`SupportsPredict` (rating :class:`Predictions`, answered by one of :data:`SOURCES`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recframe.interfaces.component import Component, ComponentConfig
from recframe.interfaces.settings import MAX_LIST_LENGTH

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix
    from recframe.interfaces.similarity import NeighbourGraph


@dataclass(frozen=True, eq=False)
class TopN:
    """The top-n items for each of a batch of users.

    Attributes
    ----------
    items : ndarray of shape (n_users, n), int64
        Item rows, best first (ties by lower row, that is lower item id); ``-1`` pads lists
        shorter than ``n``.
    scores : ndarray of shape (n_users, n), float64
        Scores, non-increasing along each row; ``nan`` where ``items`` is ``-1``.
    """

    items: IntArray
    scores: FloatArray

    @property
    def lengths(self) -> IntArray:
        """Number of real items in each user's list."""
        lengths: IntArray = (self.items >= 0).sum(axis=1).astype(np.int64)
        return lengths


class RankerConfig(ComponentConfig):
    """Parameters every candidate ranker has."""

    n: int = Field(10, gt=0, le=MAX_LIST_LENGTH)
    """Number of items returned per user."""
    exclude_seen: bool = True
    """Drop items the user already interacted with."""


class CandidateRanker(Component):
    """Score candidate items for users and return the best ``n`` of them.

    ``neighbour_axis`` says which neighbour graph the ranker needs: of ``"users"``, of
    ``"items"``, or ``None`` for no graph.
    """

    kind = "ranker"
    config: RankerConfig
    neighbour_axis: ClassVar[Literal["users", "items"] | None] = None

    @abstractmethod
    def fit(self, matrix: InteractionMatrix, neighbours: NeighbourGraph | None) -> Self:
        """Remember the training matrix and the neighbour graph of ``neighbour_axis``."""

    @abstractmethod
    def recommend(self, users: IntArray, n: int | None = None, *, exclude: sp.csr_array | None = None) -> TopN:
        """Return the top-`n` items of each user.

        Parameters
        ----------
        users : ndarray of shape (n_users,), int64
            User rows of the training matrix; ``-1`` for a user with no history.
        n : int, optional
            List length; the configured ``n`` by default.
        exclude : csr_array of shape (n_users, n_items), optional
            Further items to leave out, one row per entry of `users`.

        Raises
        ------
        NotFittedError
            If called before ``fit``.
        """


@dataclass(frozen=True, eq=False)
class ScoreParts:
    """The terms that add up to one (user, item) score: ``score = sum(contributions)``.

    Attributes
    ----------
    neighbours : ndarray of shape (n_terms,), int64
        Rows of the neighbours behind the terms: items (item-CF) or users (user-CF).
    similarities : ndarray of shape (n_terms,), float64
        Each neighbour's similarity (to the item, or to the user).
    values : ndarray of shape (n_terms,), float64
        The interaction weighed by it (the user's with the neighbour item, or the neighbour
        user's with the item).
    contributions : ndarray of shape (n_terms,), float64
        ``similarities * values``, largest first.
    """

    neighbours: IntArray
    similarities: FloatArray
    values: FloatArray
    contributions: FloatArray


@runtime_checkable
class SupportsExplain(Protocol):
    """A ranker that can say which neighbours produced a score (``item_cf`` and ``user_cf`` can)."""

    def explain(self, user: int, items: IntArray) -> list[ScoreParts]:
        """Return the terms of the score of each item in `items` for the user row `user`."""
        ...


@runtime_checkable
class SupportsNewUsers(Protocol):
    """A ranker that recommends for histories given at call time, without refitting (cold start)."""

    def recommend_new(self, histories: sp.csr_array, n: int, neighbours: NeighbourGraph | None) -> TopN:
        """Return the top-`n` items of each new user, never one of their own items.

        Parameters
        ----------
        histories : csr_array of shape (n_new, n_items)
            The new users' interactions with training items (their values, e.g. ratings).
        n : int
            List length.
        neighbours : NeighbourGraph or None
            For user-based rankers: each new user's nearest training users, found by the
            similarity backend's ``query``; ``None`` for the others.
        """
        ...


SOURCES = ("neighbours", "user_mean", "item_mean", "global_mean", "baseline")
"""What answered each prediction, by code (the index in this tuple)."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predicted ratings of (user, item) pairs.

    Attributes
    ----------
    values : ndarray of shape (n_pairs,), float64
        The predictions.
    source : ndarray of shape (n_pairs,), int8
        What answered each pair: an index into :data:`SOURCES` (0: the neighbours).
    n_neighbours : ndarray of shape (n_pairs,), int64
        How many neighbours contributed to each pair.
    """

    values: FloatArray
    source: np.ndarray
    n_neighbours: IntArray

    @property
    def n_fallback(self) -> int:
        """Number of pairs a fallback answered."""
        return int(np.count_nonzero(self.source))

    def source_names(self) -> np.ndarray:
        """Return each pair's source as a name (``"neighbours"``, ``"user_mean"``, ...)."""
        names: np.ndarray = np.asarray(SOURCES)[self.source]
        return names


@runtime_checkable
class SupportsPredict(Protocol):
    """A ranker that also predicts ratings (``item_cf`` and ``user_cf`` do)."""

    def predict(self, users: IntArray, items: IntArray) -> Predictions:
        """Return the predicted rating of each (user row, item row) pair; ``-1`` marks an unknown one."""
        ...
