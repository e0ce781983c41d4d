"""Built-in matrix builders: ``ratings`` (explicit values) and ``binary`` (implicit feedback)."""

from __future__ import annotations

import numpy as np

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


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in matrix builders."""
    return [RatingsMatrixBuilder, BinaryMatrixBuilder]
