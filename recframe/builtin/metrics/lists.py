"""How the built-in metrics read the ranked lists: the top-``k`` hits or items, ties, per-list means.

A list shorter than ``k`` counts its missing places as misses (``hits``) or pads them with
``-1`` (``items``), so every metric sees lists of exactly ``k`` places. Equal scores are scored
in the listed order, or reordered by a library's tie rule (:func:`_ordered`).
"""

from __future__ import annotations

from dataclasses import replace

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


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> FloatArray:
    """Return ``numerator / denominator`` as floats, ``0.0`` where the denominator is 0."""
    top = np.asarray(numerator, dtype=np.float64)
    bottom = np.broadcast_to(np.asarray(denominator, dtype=np.float64), top.shape)
    return np.divide(top, bottom, out=np.zeros(top.shape), where=bottom != 0)


def _list_length(data: MetricInput, k: int) -> IntArray:
    """Return the number of real items in each user's top `k` (at most `k`)."""
    lengths: IntArray = (data.items[:, :k] >= 0).sum(axis=1).astype(np.int64)
    return lengths


def _ordered(data: MetricInput, ties: str) -> MetricInput:
    """Return `data` with equal scores reordered by the tie rule `ties` (``as_listed`` keeps it).

    ``id_descending`` is trec_eval's rule: by score, largest first, and equal scores by item id
    compared as strings, largest first. Padding stays last.

    Raises
    ------
    ValueError
        If the lists' scores were not given.
    """
    if ties == "as_listed":
        return data
    if data.scores is None:
        msg = f"ties {ties!r} reorders equal scores, but the lists' scores were not given; use ties 'as_listed'"
        raise ValueError(msg)
    names = data.train.items.ids.astype(str)
    by_name = np.empty(len(names), dtype=np.int64)
    by_name[np.argsort(names, kind="stable")] = np.arange(len(names))
    real = data.items >= 0
    name_rank = np.where(real, by_name[np.where(real, data.items, 0)] if len(names) else 0, -1)
    scores = np.where(real, data.scores[:, : data.items.shape[1]], -np.inf)
    order = np.lexsort((-name_rank, -scores), axis=-1)

    def take(values: np.ndarray) -> np.ndarray:
        return np.take_along_axis(values, order, axis=1)

    return replace(data, items=take(data.items), hits=take(data.hits), gains=take(data.gains), scores=take(scores))
