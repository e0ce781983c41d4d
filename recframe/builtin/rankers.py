"""Built-in candidate rankers: ``item_cf``, ``user_cf`` and ``popularity``."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from recframe import Component, ScoringConfig, ScoringRanker, hookimpl
from recframe.data import FloatArray, IntArray


class _GraphRanker(ScoringRanker):
    """A ranker that scores with its neighbour graph as a sparse weight matrix ``W``."""

    _weights: sp.csr_array

    def _prepare(self) -> None:
        assert self.neighbours_ is not None
        self._weights = self.neighbours_.to_csr()


class ItemCFConfig(ScoringConfig):
    """Parameters of :class:`ItemCFRanker`."""


class ItemCFRanker(_GraphRanker):
    """Item-based CF: score each item by its similarity to the items in the user's history.

    ``score(u, i) = sum over items j of u of r(u, j) * sim(j, i)``, counting only pairs where
    ``i`` is among the ``k`` nearest neighbours of ``j`` (the convention of implicit's
    ItemItemRecommender): in matrix form ``scores = R @ W`` with ``W[j, i] = sim(j, i)``.
    Items scoring 0 or less are not recommended; ties go to the lower item id.
    """

    name = "item_cf"
    Config = ItemCFConfig
    neighbour_axis: ClassVar[Literal["items"]] = "items"

    def score_block(self, users: IntArray) -> FloatArray:
        """Return ``R[users] @ W`` as a dense block."""
        assert self.matrix_ is not None
        return np.asarray((self.matrix_.matrix[users] @ self._weights).toarray())


class UserCFConfig(ScoringConfig):
    """Parameters of :class:`UserCFRanker`."""


class UserCFRanker(_GraphRanker):
    """User-based CF: score items by what the user's nearest neighbours interacted with.

    ``score(u, i) = sum over the k nearest users v of u of sim(u, v) * r(v, i)``: in matrix
    form ``scores = W @ R`` with ``W[u, v] = sim(u, v)``. Items scoring 0 or less are not
    recommended; ties go to the lower item id.
    """

    name = "user_cf"
    Config = UserCFConfig
    neighbour_axis: ClassVar[Literal["users"]] = "users"

    def score_block(self, users: IntArray) -> FloatArray:
        """Return ``W[users] @ R`` as a dense block."""
        assert self.matrix_ is not None
        return np.asarray((self._weights[users] @ self.matrix_.matrix).toarray())


class PopularityConfig(ScoringConfig):
    """Parameters of :class:`PopularityRanker`."""

    by: Literal["users", "values"] = "users"
    """Popularity of an item: its number of users, or the sum of its matrix values."""


class PopularityRanker(ScoringRanker):
    """Recommend the most popular items the user has not seen; the default fallback.

    Works for users with no history too, so it serves as the fallback of the CF rankers.
    Ties go to the lower item id.
    """

    name = "popularity"
    Config = PopularityConfig
    config: PopularityConfig
    scores_unknown_users: ClassVar[bool] = True
    popularity_: FloatArray | None = None

    def _prepare(self) -> None:
        assert self.matrix_ is not None
        matrix = self.matrix_.matrix
        if self.config.by == "users":
            self.popularity_ = np.diff(sp.csc_array(matrix).indptr).astype(np.float64)
        else:
            self.popularity_ = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()

    def score_block(self, users: IntArray) -> FloatArray:
        """Return every user's copy of the item popularities."""
        assert self.popularity_ is not None
        return np.tile(self.popularity_, (len(users), 1))


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in rankers."""
    return [ItemCFRanker, UserCFRanker, PopularityRanker]
