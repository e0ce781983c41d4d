"""Built-in matrix builders: ``ratings``, ``binary`` and the weightings ``bm25``, ``tfidf``, ``log_confidence``.

The weightings follow the information-retrieval reading of item-CF used by implicit: each item
is a *document* whose *terms* are its users. An entry ``r`` of user ``u`` and item ``i`` is
reweighted by how rare the user is (``idf(u) = log(n_items) - log(1 + n_items_of(u))``) and,
for BM25, by how long the item's document is.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
from pydantic import Field

from recframe import (
    Component,
    ComponentConfig,
    DataError,
    DuplicatePolicy,
    InteractionMatrix,
    Interactions,
    MatrixBuilder,
    hookimpl,
)
from recframe.data import FloatArray, IntArray


class RatingsConfig(ComponentConfig):
    """Parameters of :class:`RatingsMatrixBuilder`."""

    duplicates: DuplicatePolicy = "last"
    """How repeated (user, item) pairs combine: keep the last or first (by timestamp, else file
    order), their mean, sum or max, or fail with an error."""
    default_value: float = 1.0
    """Value used when the data has no ratings column."""


class RatingsMatrixBuilder(MatrixBuilder):
    """Use the explicit values (ratings, counts) as matrix weights.

    A value of exactly 0 is not stored, as in any sparse matrix.
    """

    name = "ratings"
    Config = RatingsConfig
    config: RatingsConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the matrix of ratings."""
        values = interactions.values
        if values is None:
            values = np.full(len(interactions), self.config.default_value)
        return InteractionMatrix.from_interactions(interactions, values, self.config.duplicates)


class BinaryConfig(ComponentConfig):
    """Parameters of :class:`BinaryMatrixBuilder`."""

    threshold: float | None = None
    """Keep only events whose value is at least this (e.g. 4 for ratings of 4 and 5); the data
    must then have values. By default every event counts."""


class BinaryMatrixBuilder(MatrixBuilder):
    """Implicit feedback: 1 wherever a user interacted with an item, 0 elsewhere."""

    name = "binary"
    Config = BinaryConfig
    config: BinaryConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the 0/1 matrix of (the kept) interactions."""
        threshold = self.config.threshold
        if threshold is not None:
            if interactions.values is None:
                msg = "matrix.threshold is set, but the data has no rating values"
                raise DataError(msg)
            interactions = interactions.take(interactions.values >= threshold)
            if len(interactions) == 0:
                msg = f"no interactions have a value of at least matrix.threshold={threshold!r}"
                raise DataError(msg)
        return InteractionMatrix.from_interactions(interactions, np.ones(len(interactions)), "max")


class _WeightingConfig(ComponentConfig):
    """Parameters every weighting has."""

    duplicates: DuplicatePolicy = "sum"
    """How repeated (user, item) pairs combine before weighting (counts add up by default)."""


class _WeightingMatrixBuilder(MatrixBuilder):
    """Build the matrix of values (1 without values), then reweight its entries."""

    config: _WeightingConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the weighted matrix."""
        values = interactions.values if interactions.values is not None else np.ones(len(interactions))
        built = InteractionMatrix.from_interactions(interactions, values, self.config.duplicates)
        matrix = built.matrix.copy()
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        matrix.data = self._weights(matrix.data, rows, matrix.indices, matrix.shape)
        matrix.eliminate_zeros()
        return InteractionMatrix(matrix, built.users, built.items)

    @abstractmethod
    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        """Return the weight of each stored entry (value, user row, item row) of a matrix of `shape`."""

    @staticmethod
    def _idf(users: IntArray, shape: tuple[int, int]) -> FloatArray:
        """``log(n_items) - log(1 + n_items_of(u))`` of each entry's user."""
        n_users, n_items = shape
        per_user = np.bincount(users, minlength=n_users)
        return np.asarray(np.log(n_items) - np.log1p(per_user))[users]


class BM25Config(_WeightingConfig):
    """Parameters of :class:`BM25MatrixBuilder`."""

    k1: float = Field(1.2, ge=0.0)
    """Saturation of repeated interactions: larger values let large counts weigh more."""
    b: float = Field(0.75, ge=0.0, le=1.0)
    """Length normalisation: 0 ignores how many users an item has, 1 normalises fully."""


class BM25MatrixBuilder(_WeightingMatrixBuilder):
    """BM25 weights: ``r (k1 + 1) / (k1 ((1 - b) + b L_i / mean L) + r) * idf(u)``.

    ``L_i`` is the sum of item ``i``'s values. With the ``dot`` measure this is implicit's
    ``BM25Recommender`` (same defaults).
    """

    name = "bm25"
    Config = BM25Config
    config: BM25Config

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        lengths = np.bincount(items, weights=values, minlength=shape[1])
        norm = (1.0 - self.config.b) + self.config.b * lengths / lengths.mean()
        k1 = self.config.k1
        return np.asarray(values * (k1 + 1.0) / (k1 * norm[items] + values) * self._idf(users, shape))


class TFIDFConfig(_WeightingConfig):
    """Parameters of :class:`TFIDFMatrixBuilder`."""


class TFIDFMatrixBuilder(_WeightingMatrixBuilder):
    """TF-IDF weights: ``sqrt(r) * idf(u)``. With the ``cosine`` measure this is implicit's ``TFIDFRecommender``."""

    name = "tfidf"
    Config = TFIDFConfig

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(np.sqrt(values) * self._idf(users, shape))


class LogConfidenceConfig(_WeightingConfig):
    """Parameters of :class:`LogConfidenceMatrixBuilder`."""

    alpha: float = Field(1.0, gt=0.0)
    """Scale of the confidence."""
    epsilon: float = Field(1.0, gt=0.0)
    """Count at which confidence starts to grow logarithmically."""


class LogConfidenceMatrixBuilder(_WeightingMatrixBuilder):
    """Log-scaled confidence of implicit feedback: ``1 + alpha * log(1 + r / epsilon)`` (Hu, Koren and Volinsky)."""

    name = "log_confidence"
    Config = LogConfidenceConfig
    config: LogConfidenceConfig

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(1.0 + self.config.alpha * np.log1p(values / self.config.epsilon))


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in matrix builders."""
    return [
        RatingsMatrixBuilder, BinaryMatrixBuilder, BM25MatrixBuilder, TFIDFMatrixBuilder, LogConfidenceMatrixBuilder,
    ]
