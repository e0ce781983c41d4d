"""The PNG charts of the reports, drawn with matplotlib when it is installed.

Per-user histograms and value shares, metric-against-parameter lines of a sweep and the forest
plot of a comparison (the long-tail curve is drawn with its view, in
:mod:`~recframe.evaluation.report_breakdowns`). matplotlib is imported only when a chart is
drawn (``pip install 'recframe[plot]'``); :func:`plotting_available` tells whether it can be.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.config.flow_text import yaml_text
from recframe.evaluation.value_text import show

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recframe.evaluation.sweep_protocols import SweepTable


PLOT_HINT = "Charts need matplotlib: pip install 'recframe[plot]'."


def plotting_available() -> bool:
    """Whether matplotlib is installed, so reports get charts."""
    return importlib.util.find_spec("matplotlib") is not None


def _figure() -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(6, 3.6), layout="constrained")


def _histogram(label: str, values: np.ndarray) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    axes.hist(values, bins=min(30, max(5, len(np.unique(values)))), color="#4c72b0")
    axes.axvline(float(np.mean(values)), color="#c44e52", linestyle="--", label=f"mean {np.mean(values):.4f}")
    axes.set_xlabel(label)
    axes.set_ylabel("users")
    axes.legend()
    return figure


CHART_LABEL = 40
"""Characters of a swept value shown on a chart's axis or in its legend (the table has them whole)."""


def _sweep_chart(sweep: SweepTable, metric: str) -> Figure:
    """Plot `metric` against the first swept parameter, one line per setting of the others.

    Values are told apart by their :func:`yaml_text`, so any value a run file can hold (a list
    of filters, a mapping for a whole component, ``null``) gets its own point or line, labelled
    as the results table shows it (:func:`show`); the first parameter is an axis of numbers when
    all its values are finite numbers, else of categories.
    """
    figure = _figure()
    axes = figure.add_subplot()
    first = [row.values[0] for row in sweep.rows]
    numbers = (int, float, np.integer, np.floating)
    numeric = all(isinstance(v, numbers) and not isinstance(v, bool | np.bool_) and math.isfinite(v) for v in first)
    categories = {yaml_text(v): v for v in first}  # each distinct value, in order of appearance
    keys = list(categories)
    groups: dict[tuple[str, ...], list[Any]] = {}
    for row in sweep.rows:
        groups.setdefault(tuple(map(yaml_text, row.values[1:])), []).append(row)
    for members in groups.values():
        xs = [float(r.values[0]) if numeric else keys.index(yaml_text(r.values[0])) for r in members]
        means = [r.result.metrics[metric] for r in members]
        stds = [r.result.metrics_std[metric] for r in members]
        shown = zip(sweep.params[1:], members[0].values[1:], strict=True)
        label = ", ".join(f"{p}={_cut(show(v))}" for p, v in shown) or metric
        axes.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
    if not numeric:
        axes.set_xticks(range(len(keys)), [_cut(show(v)) for v in categories.values()])
    axes.set_xlabel(sweep.params[0])
    axes.set_ylabel(metric)
    if len(groups) > 1:
        axes.legend(fontsize="small")
    return figure


def _cut(text: str) -> str:
    return text if len(text) <= CHART_LABEL else text[: CHART_LABEL - 3] + "..."


def _value_shares(label: str, values: np.ndarray) -> Figure:
    """Bar chart of the share of users at each value of a metric with few distinct values."""
    figure = _figure()
    axes = figure.add_subplot()
    distinct, counts = np.unique(values, return_counts=True)
    names = [f"{v:.4g}" for v in distinct.tolist()]
    axes.bar(names, counts / len(values), color="#4c72b0")
    axes.set_xlabel(label)
    axes.set_ylabel("share of users")
    axes.set_ylim(0, 1)
    return figure


def _forest(metric: str, pairs: Sequence[Any]) -> Figure:
    """Forest plot: each pair's mean difference and bootstrap interval, against zero."""
    figure = _figure()
    axes = figure.add_subplot()
    ys = np.arange(len(pairs))[::-1]
    for y, pair in zip(ys.tolist(), pairs, strict=True):
        axes.plot([pair.ci_low, pair.ci_high], [y, y], color="#4c72b0")
        axes.plot(
            [pair.difference],
            [y],
            marker="o",
            color="#4c72b0",
            markerfacecolor="#4c72b0" if pair.significant else "white",
        )
    axes.axvline(0.0, color="#c44e52", linestyle="--")
    axes.set_yticks(ys.tolist(), [f"{p.b} - {p.a}" for p in pairs])
    axes.set_xlabel(f"difference in {metric} (filled: significant)")
    return figure
