"""The HTML report of an evaluated run or a sweep: one self-contained page, with PNG charts beside it.

The page needs no network access: styles are inline and charts are embedded as data URIs
(and also written as PNG files). Charts need matplotlib (``pip install 'recframe[plot]'``);
without it the report keeps every table, shows each per-user metric's quantiles instead of
a histogram, and says how to get the charts. Nothing in the page depends on the clock, so the
same run gives the same report.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recframe._version import __version__
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recframe.config import RunConfig
    from recframe.sweep import SweepResult

CHARTS_DIR = "charts"
PLOT_HINT = "Charts need matplotlib: pip install 'recframe[plot]'."

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.warning { color: #8a4b00; } .note { color: #555; } figure { display: inline-block; margin: 0.5em; }
"""


@dataclass
class Report:
    """An HTML page being built, and the PNG charts that go beside it."""

    title: str
    parts: list[str] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)

    def heading(self, text: str) -> None:
        """Add a section heading."""
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, css: str = "") -> None:
        """Add a paragraph of plain text (escaped), with an optional CSS class."""
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], text_columns: int = 1) -> None:
        """Add a table; floats show 4 decimals, a cell written ``**like this**`` is bold."""
        def cell(tag: str, i: int, value: Any) -> str:
            cls = ' class="text"' if i < text_columns else ""
            shown = f"{value:.4f}" if isinstance(value, float) else str(value)
            bold = shown.startswith("**") and shown.endswith("**")
            shown = html.escape(shown.strip("*")) if bold else html.escape(shown)
            return f"<{tag}{cls}>{'<b>' + shown + '</b>' if bold else shown}</{tag}>"

        head = "".join(cell("th", i, h) for i, h in enumerate(header))
        body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def chart(self, name: str, figure: Figure, caption: str) -> None:
        """Embed a matplotlib figure as a PNG data URI, and keep the PNG for ``charts/``."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        data = buffer.getvalue()
        path = f"{CHARTS_DIR}/{_file_name(name)}.png"
        self.charts[path] = data
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        self.parts.append(
            f'<figure><img src="{uri}" alt="{html.escape(caption)}" width="480">'
            f"<figcaption>{html.escape(caption)} ({html.escape(path)})</figcaption></figure>"
        )

    def preformatted(self, text: str) -> None:
        """Add preformatted text (the config)."""
        self.parts.append(f"<pre>{html.escape(text)}</pre>")

    def render(self) -> str:
        """Return the whole page."""
        title = html.escape(self.title)
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>{title}</h1>\n"
            + "\n".join(self.parts)
            + f'\n<p class="note">recframe {html.escape(__version__)}</p>\n</body></html>\n'
        )


def plotting_available() -> bool:
    """Whether matplotlib is installed, so reports get charts."""
    return importlib.util.find_spec("matplotlib") is not None


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
        Summary of the data (:func:`recframe.data_report.describe`).
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
        f"Means over {len(evaluation.users)} evaluated (fold, user) entries; coverage-like metrics are of the run."
    )

    report.heading("Data")
    report.table(["", "value"], _flatten(data))
    if filters:
        report.table(
            ["filter", "events removed", "users removed", "items removed", "events left"],
            [[f["filter"], f["removed"]["events"], f["removed"]["users"], f["removed"]["items"], f["events_after"]]
             for f in filters],
        )

    report.heading("Protocol")
    split = config.evaluation.split.to_dict() if config.evaluation is not None else {}
    report.paragraph("split: " + ", ".join(f"{k}={v}" for k, v in split.items()))
    counts = evaluation.folds[0].counts
    report.table(["count", "value"], [[name.replace("_", " "), evaluation.count(name)] for name in counts])
    for warning in evaluation.warnings:
        report.paragraph("warning: " + warning, "warning")

    report.heading("Per-user distributions")
    if charts:
        for label, values in evaluation.per_user.items():
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

    report.heading("Config")
    report.preformatted(config.to_yaml())
    return report


def sweep_report(config: RunConfig, sweep: SweepResult) -> Report:
    """Return the report of a sweep: the results table and, with matplotlib, metric-vs-parameter charts."""
    report = Report(f"recframe sweep: {config.name}")
    n_folds = len(sweep.rows[0].result.folds)
    report.heading("Results")
    rows = []
    for row in sweep.rows:
        cells: list[Any] = [row.number, *map(str, row.values)]
        for m in sweep.metrics:
            text = f"{row.result.metrics[m]:.4f}" + (f" ± {row.result.metrics_std[m]:.4f}" if n_folds > 1 else "")
            cells.append(f"**{text}**" if sweep.best[m] == row.number else text)
        rows.append(cells)
    report.table(["setting", *sweep.params, *sweep.metrics], rows, text_columns=1 + len(sweep.params))
    spread = f"mean ± std over {n_folds} folds" if n_folds > 1 else "one split (use kfold for a spread)"
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


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[list[Any]]:
    """Return a nested summary as ``[label, value]`` rows (``popularity gini``, ...)."""
    rows: list[list[Any]] = []
    for key, value in data.items():
        label = f"{prefix}{key}".replace("_", " ")
        if isinstance(value, Mapping):
            rows += _flatten(value, f"{label} ")
        else:
            rows.append([label, "-" if value is None else _plain(value)])
    return rows


def _plain(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("@", "_at_"))


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


def _sweep_chart(sweep: SweepResult, metric: str) -> Figure:
    """Plot `metric` against the first swept parameter, one line per setting of the others."""
    figure = _figure()
    axes = figure.add_subplot()
    first = [row.values[0] for row in sweep.rows]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in first)
    categories = list(dict.fromkeys(map(str, first)))
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for row in sweep.rows:
        groups.setdefault(tuple(row.values[1:]), []).append(row)
    for rest, members in groups.items():
        xs = [r.values[0] if numeric else categories.index(str(r.values[0])) for r in members]
        means = [r.result.metrics[metric] for r in members]
        stds = [r.result.metrics_std[metric] for r in members]
        label = ", ".join(f"{p}={v}" for p, v in zip(sweep.params[1:], rest, strict=True)) or metric
        axes.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
    if not numeric:
        axes.set_xticks(range(len(categories)), categories)
    axes.set_xlabel(sweep.params[0])
    axes.set_ylabel(metric)
    if len(groups) > 1:
        axes.legend(fontsize="small")
    return figure
