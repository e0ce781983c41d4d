"""How the built-in metrics read the ranked lists: the top-``k`` hits or items, and per-list means.

A list shorter than ``k`` counts its missing places as misses (``hits``) or pads them with
``-1`` (``items``), so every metric sees lists of exactly ``k`` places.
"""

from __future__ import annotations

import numpy as np

from recframe import FloatArray, IntArray, MetricInput


def _floats(values: object) -> FloatArray:
    """Return `values` as a float64 array."""
    return np.asarray(values, dtype=np.float64)


def _top(hits: np.ndarray, k: int) -> FloatArray:
    """Return the first `k` columns of `hits` as floats, padded with misses to width `k`."""
    top = np.asarray(hits[:, :k], dtype=np.float64)
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    return top


def _top_items(data: MetricInput, k: int) -> IntArray:
    """Return the first `k` recommended item rows of each user (``-1`` padded)."""
    items = data.items[:, :k]
    if items.shape[1] < k:
        items = np.pad(items, ((0, 0), (0, k - items.shape[1])), constant_values=-1)
    return items


def _mean_over_list(values: FloatArray, real: np.ndarray) -> FloatArray:
    """Average `values` over each row's real entries; ``0.0`` for an empty row."""
    counts = real.sum(axis=1)
    sums = np.where(real, values, 0.0).sum(axis=1)
    return _floats(np.divide(sums, counts, out=np.zeros(len(counts)), where=counts > 0))
