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
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import yaml

from recframe._version import __version__
from recframe.results import EvaluationResult
from recframe.secrets import redact

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recframe.config import RunConfig
    from recframe.evaluation.compare import Comparison



class SweepSetting(Protocol):
    """One setting of a sweep, as :func:`sweep_report` reads it (a :class:`recframe.sweep.SweepRow`)."""

    @property
    def number(self) -> int:
        """The setting's number, from 1."""

    @property
    def values(self) -> tuple[Any, ...]:
        """The swept keys' values."""

    @property
    def result(self) -> EvaluationResult:
        """The setting's evaluation."""


class SweepTable(Protocol):
    """A sweep's results, as :func:`sweep_report` reads them (a :class:`recframe.sweep.SweepResult`).

    A protocol rather than the class: the sweep runs pipelines, which use this package's
    protocol checks, so importing it here would make a cycle.
    """

    @property
    def params(self) -> list[str]:
        """The swept keys."""

    @property
    def rows(self) -> Sequence[SweepSetting]:
        """One per setting, in grid order."""

    @property
    def best(self) -> Mapping[str, int]:
        """For each metric label, the number of its best setting."""

    @property
    def metrics(self) -> list[str]:
        """The metric labels."""


CHARTS_DIR = "charts"
PLOT_HINT = "Charts need matplotlib: pip install 'recframe[plot]'."
MISSING = "-"
"""What a cell shows for a value that is not there (``None``) or not a number (``nan``)."""
DISCRETE_MAX_VALUES = 12
"""A per-user metric with at most this many distinct values (hit rate, precision at small k) is
shown as the share of users at each value, not as a histogram."""
HEAD_SHARE = 0.2
"""The head of the catalogue: this share of the items, the most popular in training."""
ACTIVITY_GROUPS = 4
"""Users are grouped into this many quantile groups of their training history length."""

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
    chart_files: bool = True
    """Keep each chart's PNG for ``charts/`` (and name it in the caption); else only embed it."""

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
            shown = show(value)
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
        if self.chart_files:
            self.charts[path] = data
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        where = f" ({html.escape(path)})" if self.chart_files else ""
        self.parts.append(
            f'<figure><img src="{uri}" alt="{html.escape(caption)}" width="480">'
            f"<figcaption>{html.escape(caption)}{where}</figcaption></figure>"
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


def show(value: Any, digits: int = 4) -> str:
    """Return how a report shows a value: no ``None``, ``nan`` or ``True`` ever reaches the page.

    ``None`` and ``nan`` show as a dash, booleans as ``yes``/``no``, floats with `digits`
    decimals (infinities as ``∞``), anything else as its text.
    """
    if value is None or (isinstance(value, float | np.floating) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.{digits}f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={show(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value)
    return str(value)


def yaml_text(value: Any, limit: int | None = None) -> str:
    """Return a run-file value as a run file spells it, in YAML's flow style.

    How every swept value is shown (``sweep.md``, ``sweep.csv``, the report, the labels of
    settings in logs and messages): ``null``, ``true``/``false``, ``.inf``/``.nan``, a mapping
    as ``{type: synthetic, n_users: 40}``, a list as ``[3, 4]``, text unquoted where YAML
    reads it back as the same text (``item_cf``) and quoted where it would not (``'3'``,
    ``'null'``). Credentials in text are masked. With `limit`, the text is cut to about
    `limit` characters (ending in ``...``) and only as much of `value` is looked at, so a huge
    value costs little.

    Examples
    --------
    >>> yaml_text({"type": "synthetic", "n_users": 40}), yaml_text([None, True, "3"])
    ('{type: synthetic, n_users: 40}', "[null, true, '3']")
    """
    text = _flow(value, 0, limit)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 3, 1)] + "..."
    return text


_FLOW_DEPTH = 24
"""Nesting shown by :func:`yaml_text` before a value is cut to ``...``."""


def _flow(value: Any, depth: int, limit: int | None) -> str:
    """Return `value` in YAML flow style; with `limit`, about that much of it (see :func:`yaml_text`)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        return repr(value) if math.isfinite(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, date):  # YAML's timestamps (``2020-01-01``)
        return value.isoformat()
    if isinstance(value, set | frozenset):  # YAML's !!set, in a stable order
        value = sorted(value, key=repr)
    if isinstance(value, Mapping | list | tuple):
        if depth >= _FLOW_DEPTH or (limit is not None and depth > limit):
            return "..."
        entries: Iterable[Any] = value.items() if isinstance(value, Mapping) else value
        if limit is not None:  # each entry takes at least 3 characters (`x, `): the rest is never shown
            entries = itertools.islice(entries, limit // 3 + 2)
        if isinstance(value, Mapping):
            pairs = (f"{_flow(k, depth + 1, limit)}: {_flow(v, depth + 1, limit)}" for k, v in entries)
            return "{" + ", ".join(pairs) + "}"
        return "[" + ", ".join(_flow(v, depth + 1, limit) for v in entries) + "]"
    return _flow_text(str(value), limit)


def _flow_text(text: str, limit: int | None) -> str:
    """Return text as a YAML flow scalar: plain if YAML reads it back as this text, else quoted."""
    # with a limit, cut (the caller cuts anyway) after masking a margin that keeps a URL's password and '@' together
    text = redact(text) if limit is None else redact(text[: limit + 1024])[: limit + 1]
    if not text.isprintable():  # line breaks, tabs, control characters: escaped in double quotes
        return json.dumps(text, ensure_ascii=False)
    dumped = yaml.safe_dump([text], default_flow_style=True, width=math.inf, allow_unicode=True).strip()
    return dumped[1:-1] if dumped.startswith("[") and dumped.endswith("]") else json.dumps(text, ensure_ascii=False)


def iso_date(seconds: Any) -> str:
    """Return Unix seconds as an ISO 8601 UTC date and time (``2020-01-01T00:00:00Z``)."""
    try:
        moment = datetime.fromtimestamp(float(seconds), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # beyond the years 1 to 9999: shown as a number
        return f"{seconds:.6g}" if isinstance(seconds, float | int) and not isinstance(seconds, bool) else show(seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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
    n_folds = len(sweep.rows[0].result.folds)
    report.heading("Results")
    rows = []
    for row in sweep.rows:
        cells: list[Any] = [row.number, *map(show, row.values)]
        for m in sweep.metrics:
            text = show(row.result.metrics[m]) + (f" ± {show(row.result.metrics_std[m])}" if n_folds > 1 else "")
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

    Items are ranked by their distinct training users, most first, ties by their order in the
    training data; the head is the first ``ceil(head_share * n_items)`` of them (at least one).
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
        rows.append([
            str(low) if low == high else f"{low} to {high}",
            int(members.sum()),
            *(float(values[members].mean()) for values in per_user.values()),
        ])
    return rows


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
        ["items by training popularity", "catalogue items", "training interactions", "held-out relevant pairs",
         "recommendations"],
        [[f"head (top {head_pct} of items)", *(c[0] for c in columns)],
         [f"long tail (other {1 - tail.head_share:.0%})", *(c[1] for c in columns)]],
    )
    report.paragraph(
        f"Items are ranked by their number of training users; the head is the most popular {head_pct} of the "
        "training items. Recommendations count every entry of the evaluated users' lists (to the largest "
        "cut-off); held-out pairs of items training never saw are not counted. A recommender with a "
        "popularity bias puts a larger share of its recommendations in the head than the test data does."
    )
    if charts:
        report.chart("long_tail", _long_tail_chart(tail), "share of recommendations and of training interactions "
                     "by item popularity rank")


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
        ["metric", "comparison", "difference", "95% CI low", "95% CI high", "t-test p (Holm)",
         "Wilcoxon p (Holm)", "effect d_z", "significant"],
        [[p.metric, f"{p.b} - {p.a}", p.difference, p.ci_low, p.ci_high, f"{p.t_p_holm:.3g}",
          f"{p.wilcoxon_p_holm:.3g}", p.effect_size, "**yes**" if p.significant else "no"]
         for p in comparison.pairs],
        text_columns=2,
    )
    report.heading("Runs")
    report.table(
        ["metric", "run", "mean", "95% CI low", "95% CI high"],
        [[s.metric, s.run, s.mean, s.ci_low, s.ci_high] for s in comparison.summaries],
        text_columns=2,
    )
    return report


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


def _long_tail_chart(tail: LongTail) -> Figure:
    figure = _figure()
    axes = figure.add_subplot()
    ranks = np.arange(1, len(tail.by_rank["training"]) + 1)
    for key, color, name in (("training", "#999999", "training interactions"),
                             ("recommended", "#4c72b0", "recommendations")):
        counts = tail.by_rank[key].astype(np.float64)
        total = counts.sum()
        axes.plot(ranks, counts / total if total else counts, color=color, label=name)
    axes.axvline(max(1, math.ceil(tail.head_share * len(ranks))) + 0.5, color="#c44e52", linestyle="--",
                 label="end of the head")
    axes.set_xlabel("item popularity rank in training (1 = most popular)")
    axes.set_ylabel("share")
    axes.legend()
    return figure


def _forest(metric: str, pairs: Sequence[Any]) -> Figure:
    """Forest plot: each pair's mean difference and bootstrap interval, against zero."""
    figure = _figure()
    axes = figure.add_subplot()
    ys = np.arange(len(pairs))[::-1]
    for y, pair in zip(ys.tolist(), pairs, strict=True):
        axes.plot([pair.ci_low, pair.ci_high], [y, y], color="#4c72b0")
        axes.plot([pair.difference], [y], marker="o", color="#4c72b0",
                  markerfacecolor="#4c72b0" if pair.significant else "white")
    axes.axvline(0.0, color="#c44e52", linestyle="--")
    axes.set_yticks(ys.tolist(), [f"{p.b} - {p.a}" for p in pairs])
    axes.set_xlabel(f"difference in {metric} (filled: significant)")
    return figure
