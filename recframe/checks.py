"""The engine's checks of what plugins return: shapes, dtypes and ranges.

A plugin that breaks its contract is named in the error, so its author (or its user) knows
where to look; the run never goes on with malformed intermediate results.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recframe.data import InteractionMatrix, Interactions
from recframe.engine.measures import check_measurable
from recframe.errors import DataError, PluginError
from recframe.interfaces import NeighbourGraph, TopN


def check_interactions(result: object, who: str) -> Interactions:
    """Return `result` if it is non-empty :class:`Interactions`."""
    if not isinstance(result, Interactions):
        msg = f"{who} returned {type(result).__name__}; expected Interactions"
        raise PluginError(msg)
    if len(result) == 0:
        msg = f"{who} returned no interactions; there is nothing to fit"
        raise DataError(msg)
    return result


def check_matrix(result: object, who: str) -> InteractionMatrix:
    """Return `result` if it is a non-empty, finite ``float64`` CSR :class:`InteractionMatrix`."""
    if not isinstance(result, InteractionMatrix):
        msg = f"{who} returned {type(result).__name__}; expected InteractionMatrix"
        raise PluginError(msg)
    matrix = result.matrix
    if not (sp.issparse(matrix) and matrix.format == "csr"):
        msg = f"{who} returned a {type(matrix).__name__} matrix; expected a scipy CSR matrix"
        raise PluginError(msg)
    if matrix.dtype != np.float64:
        msg = f"{who} returned a matrix of dtype {matrix.dtype}; expected float64"
        raise PluginError(msg)
    if not np.all(np.isfinite(matrix.data)):
        msg = f"{who} returned a matrix with non-finite values"
        raise PluginError(msg)
    if matrix.nnz == 0:
        msg = f"{who} built an empty matrix ({result.n_users} users x {result.n_items} items); nothing to fit"
        raise DataError(msg)
    check_measurable(result, who)
    return result


def check_graph(result: object, who: str, n_rows: int, n_targets: int) -> NeighbourGraph:
    """Return `result` if it is a well-formed neighbour graph of `n_rows` rows over `n_targets`."""
    if not isinstance(result, NeighbourGraph):
        msg = f"{who} returned {type(result).__name__}; expected NeighbourGraph"
        raise PluginError(msg)
    ind, scores = result.indices, result.scores
    if ind.ndim != 2 or ind.shape[0] != n_rows or scores.shape != ind.shape:
        msg = (
            f"{who} returned a graph of shape {ind.shape} (scores {scores.shape}); "
            f"expected ({n_rows}, k) for both"
        )
        raise PluginError(msg)
    if result.n_targets != n_targets:
        msg = f"{who} returned a graph over {result.n_targets} rows; expected {n_targets}"
        raise PluginError(msg)
    if ind.dtype.kind not in "iu" or (ind.size and (ind.min() < -1 or ind.max() >= n_targets)):
        msg = f"{who} returned neighbour indices outside [-1, {n_targets})"
        raise PluginError(msg)
    if not np.all(np.isfinite(scores)):
        msg = f"{who} returned non-finite similarities"
        raise PluginError(msg)
    return result


def check_topn(result: object, who: str, n_users: int, n: int, n_items: int) -> TopN:
    """Return `result` if it is a well-formed :class:`TopN` of `n_users` lists of length `n`."""
    if not isinstance(result, TopN):
        msg = f"{who} returned {type(result).__name__}; expected TopN"
        raise PluginError(msg)
    items, scores = result.items, result.scores
    if items.shape != (n_users, n) or scores.shape != (n_users, n):
        msg = f"{who} returned lists of shape {items.shape} (scores {scores.shape}); expected {(n_users, n)}"
        raise PluginError(msg)
    if items.dtype.kind not in "iu" or (items.size and (items.min() < -1 or items.max() >= n_items)):
        msg = f"{who} returned item rows outside [-1, {n_items})"
        raise PluginError(msg)
    real = items >= 0
    if np.any(np.isnan(scores[real])):
        msg = f"{who} returned nan scores for recommended items"
        raise PluginError(msg)
    if np.any(real[:, 1:] & ~real[:, :-1]):
        msg = f"{who} returned lists with padding (-1) before real items"
        raise PluginError(msg)
    both = real[:, 1:] & real[:, :-1]
    if np.any(both & (scores[:, 1:] > scores[:, :-1])):
        msg = f"{who} returned lists not sorted by decreasing score"
        raise PluginError(msg)
    return result


def check_split(result: object, who: str, n_total: int, *, given: bool = False) -> tuple[Interactions, Interactions]:
    """Return ``(train, test)`` if `result` is two :class:`Interactions` sharing out all events.

    A `given` split (a predefined test part) only has to have both parts non-empty.
    """
    if not (
        isinstance(result, tuple)
        and len(result) == 2
        and isinstance(result[0], Interactions)
        and isinstance(result[1], Interactions)
    ):
        msg = f"{who} returned {type(result).__name__}; expected a (train, test) pair of Interactions"
        raise PluginError(msg)
    train, test = result
    if given:
        for part, events in (("training", train), ("test", test)):
            if len(events) == 0:
                msg = f"the predefined {part} part is empty"
                raise DataError(msg)
        return train, test
    if len(train) + len(test) != n_total:
        msg = f"{who} split {n_total} interactions into {len(train)} + {len(test)}; events were lost or repeated"
        raise PluginError(msg)
    return train, test


def check_metric(values: object, who: str, n_users: int, per_user: bool, bounds: tuple[float, float]) -> np.ndarray:
    """Return `values` if it holds one finite number per user (or one for the run) within `bounds`."""
    arr = np.asarray(values, dtype=np.float64)
    expected = (n_users,) if per_user else ()
    if arr.shape != expected:
        msg = f"{who} returned values of shape {arr.shape}; expected {expected}"
        raise PluginError(msg)
    if not np.all(np.isfinite(arr)):
        msg = f"{who} returned non-finite values"
        raise PluginError(msg)
    low, high = bounds
    if np.any((arr < low) | (arr > high)):
        msg = f"{who} returned values outside [{low}, {high}]: min {arr.min()!r}, max {arr.max()!r}"
        raise PluginError(msg)
    return arr
