"""The run report's breakdowns of an evaluation: value shares, the long tail, metrics by user activity.

How many users got each value of a metric with few distinct values; how recommendations,
training interactions and relevant held-out pairs split between the head and the long tail
of the catalogue (popularity bias); and each metric's mean over quantile groups of the users'
training history length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.evaluation.report_charts import _figure
from recframe.evaluation.value_text import MISSING
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recframe.evaluation.html_page import Report


DISCRETE_MAX_VALUES = 12
"""A per-user metric with at most this many distinct values (hit rate, precision at small k) is
shown as the share of users at each value, not as a histogram."""
HEAD_SHARE = 0.2
"""The head of the catalogue: this share of the items, the most popular in training."""
ACTIVITY_GROUPS = 4
"""Users are grouped into this many quantile groups of their training history length."""


def value_counts(per_user: Mapping[str, np.ndarray]) -> list[list[Any]]:
    """Return ``[metric, value, users, share]`` rows: how many users got each value of each metric."""
    rows: list[list[Any]] = []
    for label, values in per_user.items():
        distinct, counts = np.unique(values, return_counts=True)
        for value, count in zip(distinct.tolist(), counts.tolist(), strict=True):
            rows.append([label, f"{value:.4g}", count, f"{count / len(values):.1%}"])
    return rows


@dataclass(frozen=True)
class LongTail:
    """Head and long tail of the catalogue, by training popularity, summed over folds.

    Attributes
    ----------
    items, training, relevant, recommended : tuple of (int, int)
        ``(head, tail)`` counts: items, training (user, item) pairs, relevant held-out pairs and
        recommended list entries.
    head_share : float
        The share of items in the head.
    by_rank : dict of str to ndarray
        ``training`` and ``recommended`` counts by popularity rank (0: the most popular item),
        summed over folds.
    """

    items: tuple[int, int]
    training: tuple[int, int]
    relevant: tuple[int, int]
    recommended: tuple[int, int]
    head_share: float
    by_rank: dict[str, np.ndarray]


def long_tail(evaluation: EvaluationResult, head_share: float = HEAD_SHARE) -> LongTail | None:
    """Split each fold's training items into head (the most popular `head_share`) and tail, and count.

    Items are ranked by their distinct training users, most first, ties by item id (the ids'
    sorted order, which is the order of the matrix's item rows); the head is the first
    ``ceil(head_share * n_items)`` of them (at least one).
    Returns ``None`` when the evaluation did not record item exposure.
    """
    exposures = [f.exposure for f in evaluation.folds]
    if any(e is None for e in exposures) or not exposures:
        return None
    sums = np.zeros((4, 2), dtype=np.int64)
    width = max(len(e.popularity) for e in exposures if e is not None)
    training_by_rank = np.zeros(width, dtype=np.int64)
    recommended_by_rank = np.zeros(width, dtype=np.int64)
    for exposure in exposures:
        assert exposure is not None
        n_items = len(exposure.popularity)
        order = np.argsort(-exposure.popularity, kind="stable")
        head = np.zeros(n_items, dtype=bool)
        head[order[: max(1, math.ceil(head_share * n_items))] if n_items else order] = True
        for row, counts in enumerate(
            (np.ones(n_items, dtype=np.int64), exposure.popularity, exposure.relevant, exposure.recommended)
        ):
            sums[row] += (int(counts[head].sum()), int(counts[~head].sum()))
        training_by_rank[:n_items] += exposure.popularity[order]
        recommended_by_rank[:n_items] += exposure.recommended[order]
    items, training, relevant, recommended = ((int(a), int(b)) for a, b in sums)
    by_rank = {"training": training_by_rank, "recommended": recommended_by_rank}
    return LongTail(items, training, relevant, recommended, head_share, by_rank)


def activity_groups(
    history: np.ndarray, per_user: Mapping[str, np.ndarray], n_groups: int = ACTIVITY_GROUPS
) -> list[list[Any]]:
    """Return ``[history range, users, mean of each metric...]`` rows of quantile groups of history length.

    The group edges are the ``1/n_groups``, ``2/n_groups``, ... quantiles of the history lengths
    (``method="lower"``: always a length some user has); group ``g`` holds the users above edge
    ``g - 1`` and up to edge ``g``. Repeated edges merge groups, and empty groups are left out.
    """
    if len(history) == 0:
        return []
    quantiles = np.arange(1, n_groups) / n_groups
    edges = np.unique(np.quantile(history, quantiles, method="lower"))
    group = np.searchsorted(edges, history, side="left")
    rows: list[list[Any]] = []
    for g in range(len(edges) + 1):
        members = group == g
        if not members.any():
            continue
        low, high = int(history[members].min()), int(history[members].max())
        rows.append(
            [
                str(low) if low == high else f"{low} to {high}",
                int(members.sum()),
                *(float(values[members].mean()) for values in per_user.values()),
            ]
        )
    return rows


def _long_tail_chart(tail: LongTail) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    ranks = np.arange(1, len(tail.by_rank["training"]) + 1)
    for key, color, name in (
        ("training", "#999999", "training interactions"),
        ("recommended", "#4c72b0", "recommendations"),
    ):
        counts = tail.by_rank[key].astype(np.float64)
        total = counts.sum()
        axes.plot(ranks, counts / total if total else counts, color=color, label=name)
    axes.axvline(
        max(1, math.ceil(tail.head_share * len(ranks))) + 0.5, color="#c44e52", linestyle="--", label="end of the head"
    )
    axes.set_xlabel("item popularity rank in training (1 = most popular)")
    axes.set_ylabel("share")
    axes.legend()
    return figure


def _long_tail_section(report: Report, evaluation: EvaluationResult, charts: bool) -> None:
    tail = long_tail(evaluation)
    if tail is None:
        return
    report.heading("Popularity bias and the long tail")
    head_pct = f"{tail.head_share:.0%}"

    def cells(pair: tuple[int, int]) -> list[str]:
        total = sum(pair)
        return [f"{n} ({n / total:.1%})" if total else f"{n} ({MISSING})" for n in pair]

    columns = [cells(tail.items), cells(tail.training), cells(tail.relevant), cells(tail.recommended)]
    report.table(
        [
            "items by training popularity",
            "catalogue items",
            "training interactions",
            "held-out relevant pairs",
            "recommendations",
        ],
        [
            [f"head (top {head_pct} of items)", *(c[0] for c in columns)],
            [f"long tail (other {1 - tail.head_share:.0%})", *(c[1] for c in columns)],
        ],
    )
    report.paragraph(
        f"Items are ranked by their number of training users; the head is the most popular {head_pct} of the "
        "training items. Recommendations count every entry of the evaluated users' lists (to the largest "
        "cut-off); held-out pairs of items training never saw are not counted. A recommender with a "
        "popularity bias puts a larger share of its recommendations in the head than the test data does."
    )
    if charts:
        report.chart(
            "long_tail",
            _long_tail_chart(tail),
            "share of recommendations and of training interactions by item popularity rank",
        )


def _activity_section(report: Report, evaluation: EvaluationResult) -> None:
    history = evaluation.history
    if history is None or not evaluation.per_user:
        return
    report.heading("Metrics by user activity")
    rows = activity_groups(history, evaluation.per_user)
    report.table(["training history (items)", "users", *evaluation.per_user], rows)
    report.paragraph(
        f"Evaluated users grouped by the number of distinct items in their training history, in up to "
        f"{ACTIVITY_GROUPS} quantile groups; each metric's mean per group."
    )
