"""Built-in matrix builders: ``ratings`` (explicit values) and ``binary`` (implicit feedback)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from recframe import (
    Component,
    ComponentConfig,
    DataError,
    IdIndex,
    InteractionMatrix,
    Interactions,
    MatrixBuilder,
    hookimpl,
)

DuplicatePolicy = Literal["last", "first", "mean", "sum", "max", "error"]


def combine_duplicates(
    interactions: Interactions, values: np.ndarray, policy: DuplicatePolicy
) -> InteractionMatrix:
    """Build the users x items matrix of `values`, combining repeated (user, item) pairs.

    ``first`` and ``last`` follow timestamp order when there are timestamps, file order
    otherwise (ties keep file order). ``error`` raises on the first repeated pair.

    Parameters
    ----------
    interactions : Interactions
        The events; their ids define the matrix axes.
    values : ndarray of shape (len(interactions),)
        The weight of each event.
    policy : {"last", "first", "mean", "sum", "max", "error"}
        How to combine the weights of a repeated pair.

    Raises
    ------
    DataError
        If there are no events, or a pair repeats under ``policy="error"``.
    """
    if len(interactions) == 0:
        msg = "no interactions to build a matrix from"
        raise DataError(msg)
    users, user_rows = IdIndex.encode(interactions.users)
    items, item_cols = IdIndex.encode(interactions.items)
    keys = user_rows * len(items) + item_cols
    time = interactions.timestamps if interactions.timestamps is not None else np.zeros(len(keys))
    order = np.lexsort((np.arange(len(keys)), time, keys))  # by pair, then time, then file order
    keys, values = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    if policy == "error" and len(starts) < len(keys):
        dup = order[np.flatnonzero(keys[1:] == keys[:-1])[0]]
        msg = (
            f"user {interactions.users[dup].item()!r} and item {interactions.items[dup].item()!r} occur more than "
            f"once ({len(keys) - len(starts)} repeated pairs in all); set matrix.duplicates to "
            "last, first, mean, sum or max"
        )
        raise DataError(msg)
    if policy == "first" or policy == "error":
        combined = values[starts]
    elif policy == "last":
        combined = values[np.r_[starts[1:], len(keys)] - 1]
    elif policy == "sum":
        combined = np.add.reduceat(values, starts)
    elif policy == "mean":
        combined = np.add.reduceat(values, starts) / np.diff(np.r_[starts, len(keys)])
    else:
        combined = np.maximum.reduceat(values, starts)
    unique_keys = keys[starts]
    rows, cols = np.divmod(unique_keys, len(items))
    matrix = sp.csr_array(
        sp.coo_array((combined.astype(np.float64), (rows, cols)), shape=(len(users), len(items)))
    )
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return InteractionMatrix(matrix, users, items)


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
        return combine_duplicates(interactions, values, self.config.duplicates)


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
        return combine_duplicates(interactions, np.ones(len(interactions)), "max")


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in matrix builders."""
    return [RatingsMatrixBuilder, BinaryMatrixBuilder]
