"""The ``popularity`` ranker: the most interacted-with items a user has not seen.

The default fallback for users the neighbourhood rankers can't serve.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp

from recframe import (
    FloatArray,
    IntArray,
    NeighbourGraph,
    PluginError,
    ScoringConfig,
    ScoringRanker,
    State,
    TopN,
    check_fitted,
)
from recframe.engine import column_counts


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

    def prepare(self) -> None:
        """Count each item's popularity: its users, or the sum of its values."""
        assert self.matrix_ is not None
        matrix = self.matrix_.matrix
        if self.config.by == "users":  # each item's stored entries: one per user (canonical matrix)
            self.popularity_ = column_counts(matrix).astype(np.float64)
        else:
            self.popularity_ = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()

    def prepared_state(self) -> State:
        """Return the item popularities."""
        assert self.popularity_ is not None
        return {"popularity": self.popularity_}

    def restore_prepared(self, state: State) -> None:
        """Restore the item popularities (without reading the training matrix)."""
        popularity = state.get("popularity")
        assert self.matrix_ is not None
        if not isinstance(popularity, np.ndarray) or popularity.shape != (self.matrix_.n_items,):
            msg = f"{type(self).__name__}: the state has no 'popularity' array of one value per item"
            raise PluginError(msg)
        self.popularity_ = popularity

    def recommend_new(self, histories: sp.csr_array, n: int, neighbours: NeighbourGraph | None) -> TopN:
        """Return the most popular items each new user has not interacted with."""
        check_fitted(self, "matrix_")
        return self.recommend(np.full(histories.shape[0], -1, dtype=np.int64), n, exclude=sp.csr_array(histories))

    def score_block(self, users: IntArray) -> FloatArray:
        """Return every user's copy of the item popularities."""
        assert self.popularity_ is not None
        return np.tile(self.popularity_, (len(users), 1))
