"""The result of comparing runs, and its tables: Markdown, CSV and JSON-ready values.

:class:`Comparison` holds each run's mean of each metric with its interval
(:class:`RunSummary`) and each pair's difference with its tests (:class:`PairComparison`);
the HTML page of a comparison is :func:`~recframe.evaluation.report.comparison_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Test = Literal["t", "wilcoxon"]


@dataclass(frozen=True)
class RunSummary:
    """One run's mean of one metric over the common users, with its bootstrap interval."""

    run: str
    metric: str
    mean: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class PairComparison:
    """Run `b` against run `a` on one metric (differences are ``b - a``)."""

    metric: str
    a: str
    b: str
    difference: float
    ci_low: float
    ci_high: float
    t_p: float
    t_p_holm: float
    wilcoxon_p: float
    wilcoxon_p_holm: float
    effect_size: float | None
    significant: bool


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`~recframe.evaluation.compare.compare`.

    ``to_markdown()``, ``to_csv()`` and ``to_dict()`` render it.
    """

    runs: list[str]
    n_users: int
    metrics: list[str]
    summaries: list[RunSummary]
    pairs: list[PairComparison]
    alpha: float
    test: Test
    n_bootstrap: int
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-ready values (``null`` for an undefined effect size)."""
        return {
            "runs": self.runs,
            "n_users": self.n_users,
            "metrics": self.metrics,
            "alpha": self.alpha,
            "test": self.test,
            "n_bootstrap": self.n_bootstrap,
            "summaries": [vars(s) for s in self.summaries],
            "pairs": [vars(p) for p in self.pairs],
            "notes": self.notes,
        }

    def to_markdown(self) -> str:
        """Return the two tables (runs, then differences) as Markdown."""
        lines = [
            f"Compared on {self.n_users} common (fold, user) entries; 95% bootstrap intervals "
            f"({self.n_bootstrap} resamples); significance: {_TEST_NAMES[self.test]}, Holm-adjusted "
            f"p < {self.alpha} over {len(self.pairs)} comparisons.",
            "",
            "| metric | run | mean | 95% CI |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {s.metric} | {s.run} | {s.mean:.4f} | [{s.ci_low:.4f}, {s.ci_high:.4f}] |" for s in self.summaries
        ]
        lines += [
            "",
            "| metric | comparison | difference | 95% CI | t-test p (Holm) | Wilcoxon p (Holm) | effect d_z "
            "| significant |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in self.pairs:
            effect = "n/a" if p.effect_size is None else f"{p.effect_size:+.3f}"
            lines.append(
                f"| {p.metric} | {p.b} - {p.a} | {p.difference:+.4f} | [{p.ci_low:+.4f}, {p.ci_high:+.4f}] | "
                f"{_p(p.t_p)} ({_p(p.t_p_holm)}) | {_p(p.wilcoxon_p)} ({_p(p.wilcoxon_p_holm)}) | {effect} | "
                f"{'**yes**' if p.significant else 'no'} |"
            )
        lines += [f"\n{note}" for note in self.notes]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """Return the pairwise table as CSV."""
        rows: list[list[object]] = [list(PairComparison.__dataclass_fields__)]
        rows += [[_cell(v) for v in vars(p).values()] for p in self.pairs]
        return "".join(",".join(str(c) for c in row) + "\n" for row in rows)


_TEST_NAMES = {"t": "paired t-test", "wilcoxon": "Wilcoxon signed-rank test"}


def _p(value: float) -> str:
    return f"{value:.2g}" if value < 0.001 else f"{value:.3g}"


def _cell(value: object) -> object:
    return "" if value is None else value
