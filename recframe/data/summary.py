"""A summary of interactions: size, density, popularity skew, activity, ratings, duplicates, time.

What ``recframe data describe`` prints, and what every run records in ``run.json`` and its report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recframe.data.id_index import IdIndex
from recframe.data.interactions import Interactions

_HISTOGRAM_MAX_VALUES = 20
"""Ratings with at most this many distinct values get a full histogram; others get quantiles."""


def describe(interactions: Interactions) -> dict[str, Any]:
    """Return the summary of `interactions` as JSON-ready values.

    Keys: ``interactions``, ``users``, ``items``, ``density``, ``popularity`` (Gini of the items'
    numbers of users, share of interactions on the top 1% and 10% of items), ``user_activity``
    and ``item_popularity`` (min, median, mean, 90th percentile, max of distinct items per user
    and users per item), ``ratings`` (histogram, or quantiles for continuous values; ``None``
    without ratings), ``duplicates`` (events repeating a (user, item) pair) and ``time`` (first
    and last timestamp, span in days; ``None`` without timestamps).
    """
    users, user_codes = IdIndex.encode(interactions.users)
    items, item_codes = IdIndex.encode(interactions.items)
    n = len(interactions)
    keys = user_codes.astype(np.int64) * max(len(items), 1) + item_codes
    pairs = np.unique(keys)
    per_user = np.bincount(pairs // max(len(items), 1), minlength=len(users))
    per_item = np.bincount(pairs % max(len(items), 1), minlength=len(items))
    return {
        "interactions": n,
        "users": len(users),
        "items": len(items),
        "density": float(len(pairs) / max(len(users) * len(items), 1)),
        "popularity": {
            "gini": gini(per_item),
            "top_1pct_items_share": _top_share(per_item, 0.01),
            "top_10pct_items_share": _top_share(per_item, 0.10),
        },
        "user_activity": _spread(per_user),
        "item_popularity": _spread(per_item),
        "ratings": None if interactions.values is None else _ratings(interactions.values),
        "duplicates": int(n - len(pairs)),
        "time": None if interactions.timestamps is None else _time(interactions.timestamps),
    }


def gini(counts: np.ndarray) -> float:
    """Return the Gini index of non-negative counts (0: all equal; near 1: all on one)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total == 0:
        return 0.0
    return float(((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * total))


def _top_share(counts: np.ndarray, fraction: float) -> float:
    """Share of all pairs that fall on the most popular `fraction` of items (at least one item)."""
    if counts.sum() == 0:
        return 0.0
    top = max(1, int(np.ceil(len(counts) * fraction)))
    return float(np.sort(counts)[::-1][:top].sum() / counts.sum())


def _spread(counts: np.ndarray) -> dict[str, float]:
    if len(counts) == 0:
        return {"min": 0.0, "median": 0.0, "mean": 0.0, "p90": 0.0, "max": 0.0}
    return {
        "min": float(counts.min()),
        "median": float(np.median(counts)),
        "mean": float(counts.mean()),
        "p90": float(np.percentile(counts, 90)),
        "max": float(counts.max()),
    }


def _ratings(values: np.ndarray) -> dict[str, Any]:
    distinct, counts = np.unique(values, return_counts=True)
    summary: dict[str, Any] = {"min": float(values.min()), "max": float(values.max()), "mean": finite_mean(values)}
    if len(distinct) <= _HISTOGRAM_MAX_VALUES:
        summary["histogram"] = {f"{v:g}": int(c) for v, c in zip(distinct.tolist(), counts.tolist(), strict=True)}
    else:
        summary["quantiles"] = {f"p{q}": _percentile(values, q) for q in (10, 25, 50, 75, 90)}
    return summary


def finite_mean(values: np.ndarray) -> float:
    """Return the mean of finite `values` without overflow, however large they are.

    The plain sum of values near the float64 maximum (1e307 and up) overflows to infinity; then
    the values are scaled by their largest magnitude first, so the mean is always finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(values.mean())
    if np.isfinite(mean) or not len(values):
        return mean
    scale = float(np.abs(values).max())
    return float((values / scale).mean() * scale)


def _percentile(values: np.ndarray, q: float) -> float:
    """Return the `q`-th percentile, interpolated unless the interpolation itself would overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        value = float(np.percentile(values, q))
    return value if np.isfinite(value) else float(np.percentile(values, q, method="nearest"))


def _time(times: np.ndarray) -> dict[str, float]:
    """Return the first and last timestamp and the span in days (scaled first: it can't overflow)."""
    first, last = float(times.min()), float(times.max())
    return {"first": first, "last": last, "span_days": last / 86_400 - first / 86_400}
