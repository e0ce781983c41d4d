"""The HTML report of an evaluated run or a sweep: one self-contained page, with PNG charts beside it.

The page needs no network access: styles are inline and charts are embedded as data URIs
(and also written as PNG files). Charts need matplotlib (``pip install 'recframe[plot]'``);
without it the report keeps every table, shows each per-user metric's quantiles instead of
a histogram, and says how to get the charts. Nothing in the page depends on the clock, so the
same run gives the same report.

This module assembles the pages; the parts live beside it: :mod:`~recframe.evaluation.html_page`
(the page builder), :mod:`~recframe.evaluation.report_charts` (the PNG charts),
:mod:`~recframe.evaluation.report_breakdowns` (value shares, the long tail, metrics by user
activity), :mod:`~recframe.evaluation.value_text` (how values are spelled) and
:mod:`~recframe.evaluation.sweep_protocols` (what a sweep report reads of a sweep).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe.evaluation.html_page import Report
from recframe.evaluation.report_breakdowns import (
    DISCRETE_MAX_VALUES,
    _activity_section,
    _long_tail_section,
    value_counts,
)
from recframe.evaluation.report_charts import (
    PLOT_HINT,
    _forest,
    _histogram,
    _sweep_chart,
    _value_shares,
    plotting_available,
)
from recframe.evaluation.sweep_protocols import spread_words
from recframe.evaluation.value_text import iso_date, show
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from recframe.config import RunConfig
    from recframe.evaluation.comparison_tables import Comparison
    from recframe.evaluation.sweep_protocols import SweepTable


def run_report(
    config: RunConfig, evaluation: EvaluationResult, data: Mapping[str, Any], filters: Sequence[Mapping[str, Any]] = ()
) -> Report:
    """Return the report of one evaluated run.

    Parameters
    ----------
    config : RunConfig
        The resolved run file.
    evaluation : EvaluationResult
        Its metrics.
    data : mapping
        Summary of the data (:func:`recframe.data.summary.describe`).
    filters : sequence of mapping
        What each of the data section's filters removed (``FilterStep.to_dict()``).
    """
    report = Report(f"recframe run: {config.name}")
    charts = plotting_available()
    n_folds = len(evaluation.folds)
    report.heading("Metrics")
    header = ["metric", "mean"] + (["std over folds", *(f"fold {i}" for i in range(n_folds))] if n_folds > 1 else [])
    rows = []
    for label, mean in evaluation.metrics.items():
        row: list[Any] = [label, mean]
        if n_folds > 1:
            row += [evaluation.metrics_std[label], *(fold.metrics[label] for fold in evaluation.folds)]
        rows.append(row)
    report.table(header, rows)
    report.paragraph(
        f"Means over {len(evaluation.users)} evaluated (fold, user) entries (or as a definition below says); "
        "coverage-like metrics are of the run."
    )
    if evaluation.definitions:
        report.table(
            ["metric", "profile", "definition"],
            [
                [label, str(d.get("profile", "")), str(d.get("formula", ""))]
                for label, d in evaluation.definitions.items()
            ],
        )

    report.heading("Data")
    report.table(["", "value"], _flatten(data))
    if filters:
        report.table(
            ["filter", "events removed", "users removed", "items removed", "events left"],
            [
                [f["filter"], f["removed"]["events"], f["removed"]["users"], f["removed"]["items"], f["events_after"]]
                for f in filters
            ],
        )

    report.heading("Protocol")
    split = config.evaluation.split.to_dict() if config.evaluation is not None else {}
    report.table(["split setting", "value"], [[key.replace("_", " "), value] for key, value in split.items()])
    counts = evaluation.folds[0].counts
    report.table(["count", "value"], [[name.replace("_", " "), evaluation.count(name)] for name in counts])
    for warning in evaluation.warnings:
        report.paragraph("warning: " + warning, "warning")

    report.heading("Per-user distributions")
    discrete = {label: v for label, v in evaluation.per_user.items() if len(np.unique(v)) <= DISCRETE_MAX_VALUES}
    if charts:
        for label, values in evaluation.per_user.items():
            if label in discrete:
                figure = _value_shares(label, values)
                report.chart(f"per_user_{label}", figure, f"{label}: share of users at each value")
            else:
                report.chart(f"per_user_{label}", _histogram(label, values), f"{label}: per-user values")
    else:
        report.paragraph(PLOT_HINT, "note")
    quantiles = [0, 25, 50, 75, 100]
    report.table(
        ["metric", "min", "25%", "median", "75%", "max", "zero share"],
        [
            [label, *np.percentile(values, quantiles).tolist(), float(np.mean(values == 0))]
            for label, values in evaluation.per_user.items()
        ],
    )
    if discrete:
        report.paragraph(
            f"Metrics with at most {DISCRETE_MAX_VALUES} distinct per-user values (such as hit rate) "
            "are shown as the share of users at each value:"
        )
        report.table(["metric", "value", "users", "share"], value_counts(discrete))

    _long_tail_section(report, evaluation, charts)
    _activity_section(report, evaluation)

    report.heading("Config")
    report.preformatted(config.to_yaml())
    return report


def sweep_report(config: RunConfig, sweep: SweepTable) -> Report:
    """Return the report of a sweep: the results table and, with matplotlib, metric-vs-parameter charts."""
    report = Report(f"recframe sweep: {config.name}")
    report.heading("Results")
    rows = []
    for row in sweep.rows:
        cells: list[Any] = [row.number, *map(show, row.values)]
        for m in sweep.metrics:
            spread = f" ± {show(row.result.metrics_std[m])}" if len(row.result.folds) > 1 else ""
            text = show(row.result.metrics[m]) + spread
            cells.append(f"**{text}**" if sweep.best[m] == row.number else text)
        rows.append(cells)
    report.table(["setting", *sweep.params, *sweep.metrics], rows, text_columns=1 + len(sweep.params))
    spread = spread_words(
        sweep.rows,
        "one split (use kfold for a spread)",
        "mean ± std over {} folds",
        "mean ± std over the setting's folds (the mean alone where its split has one)",
    )
    report.paragraph(f"Each cell is the {spread}; the best setting of each metric is in bold.")

    report.heading("Metrics against the swept parameters")
    if plotting_available():
        for m in sweep.metrics:
            report.chart(f"sweep_{m}", _sweep_chart(sweep, m), f"{m} against {sweep.params[0]}")
    else:
        report.paragraph(PLOT_HINT, "note")

    report.heading("Config")
    report.preformatted(config.to_yaml())
    return report


_DATE_FIELDS = {("time", "first"), ("time", "last")}
"""Fields of the data summary that hold Unix seconds, shown as dates."""


def _flatten(data: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[list[Any]]:
    """Return a nested summary as ``[label, value]`` rows (``popularity gini``, ...); times as dates."""
    rows: list[list[Any]] = []
    for key, value in data.items():
        here = (*path, str(key))
        label = " ".join(here).replace("_", " ")
        if isinstance(value, Mapping):
            rows += _flatten(value, here)
        elif here in _DATE_FIELDS and value is not None:
            rows.append([label, iso_date(value)])
        else:
            rows.append([label, _plain(value)])
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return show(value)


def comparison_report(comparison: Comparison) -> Report:
    """Return the HTML page of a comparison: the tables and, with matplotlib, a forest plot per metric.

    Each forest plot shows every pair's mean difference with its bootstrap 95% interval
    against a line at zero; significant differences are filled. Like the run report, the page
    is self-contained and holds nothing that depends on the clock; its charts are only embedded
    (it is often written into a run folder, whose ``charts/`` belong to the run).
    """
    report = Report(f"recframe comparison: {', '.join(comparison.runs)}", chart_files=False)
    report.paragraph(
        f"Compared on {comparison.n_users} common (fold, user) entries; 95% bootstrap intervals "
        f"({comparison.n_bootstrap} resamples); significance: Holm-adjusted p < {comparison.alpha} of the "
        f"{'paired t-test' if comparison.test == 't' else 'Wilcoxon signed-rank test'}, over "
        f"{len(comparison.pairs)} comparisons."
    )
    for note in comparison.notes:
        report.paragraph(note, "warning")
    report.heading("Differences")
    if plotting_available():
        for metric in comparison.metrics:
            pairs = [p for p in comparison.pairs if p.metric == metric]
            report.chart(f"forest_{metric}", _forest(metric, pairs), f"{metric}: differences with 95% intervals")
    else:
        report.paragraph(PLOT_HINT, "note")
    report.table(
        [
            "metric",
            "comparison",
            "difference",
            "95% CI low",
            "95% CI high",
            "t-test p (Holm)",
            "Wilcoxon p (Holm)",
            "effect d_z",
            "significant",
        ],
        [
            [
                p.metric,
                f"{p.b} - {p.a}",
                p.difference,
                p.ci_low,
                p.ci_high,
                f"{p.t_p_holm:.3g}",
                f"{p.wilcoxon_p_holm:.3g}",
                p.effect_size,
                "**yes**" if p.significant else "no",
            ]
            for p in comparison.pairs
        ],
        text_columns=2,
    )
    report.heading("Runs")
    report.table(
        ["metric", "run", "mean", "95% CI low", "95% CI high"],
        [[s.metric, s.run, s.mean, s.ci_low, s.ci_high] for s in comparison.summaries],
        text_columns=2,
    )
    return report
