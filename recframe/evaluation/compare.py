"""Compare evaluated runs user by user: confidence intervals, paired tests, Holm correction, effect sizes.

Runs are compared on the users (and folds) they share, metric by metric. For each run and
metric: the mean with a bootstrap 95% confidence interval. For each pair of runs and metric:
the mean difference with its bootstrap interval, a paired t-test, a Wilcoxon signed-rank test,
both p-values adjusted by Holm's method across every comparison made, and the paired effect
size ``d_z = mean(diff) / sd(diff)``. A difference is significant when the chosen test's
adjusted p-value is below ``alpha``.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray
from recframe.errors import DataError
from recframe.results import EvaluationResult

PER_USER_FILE = "per_user.csv"
Test = Literal["t", "wilcoxon"]


@dataclass(frozen=True, eq=False)
class RunScores:
    r"""One run's per-user metric values, keyed by ``fold<TAB>user``.

    Attributes
    ----------
    name : str
        The run's name in tables.
    keys : ndarray of shape (n,), str
        ``"<fold>\t<user>"`` of each entry.
    values : dict of str to ndarray of shape (n,)
        Each per-user metric's values, aligned with `keys`.
    """

    name: str
    keys: npt.NDArray[np.str_]
    values: dict[str, FloatArray]

    @classmethod
    def from_result(cls, name: str, result: EvaluationResult) -> RunScores:
        """Take the per-user values of an in-memory evaluation."""
        keys = np.char.add(np.char.add(result.fold_of.astype(str), "\t"), result.users.astype(str))
        return cls(name, keys, dict(result.per_user))

    @classmethod
    def from_run_dir(cls, folder: Path, name: str | None = None) -> RunScores:
        """Read the ``per_user.csv`` of a run folder.

        Raises
        ------
        DataError
            If the folder or its ``per_user.csv`` is missing, or the file is malformed (the
            message names the file and line).
        """
        path = Path(folder) / PER_USER_FILE
        if not Path(folder).is_dir():
            msg = f"{folder}: no such run folder"
            raise DataError(msg)
        if not path.is_file():
            msg = f"{folder}: has no {PER_USER_FILE}; run it with an evaluation section and evaluation.per_user: true"
            raise DataError(msg)
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows or rows[0][:2] != ["fold", "user"]:
            msg = f"{path}:1: expected a header starting with fold,user"
            raise DataError(msg)
        header, body = rows[0], rows[1:]
        keys: list[str] = []
        columns: list[list[float]] = [[] for _ in header[2:]]
        for line, row in enumerate(body, start=2):
            if len(row) != len(header):
                msg = f"{path}:{line}: expected {len(header)} fields; got {len(row)}"
                raise DataError(msg)
            keys.append(f"{row[0]}\t{row[1]}")
            for column, text in zip(columns, row[2:], strict=True):
                try:
                    column.append(float(text))
                except ValueError:
                    msg = f"{path}:{line}: value {text!r} is not a number"
                    raise DataError(msg) from None
        values = {label: np.asarray(col, dtype=np.float64) for label, col in zip(header[2:], columns, strict=True)}
        return cls(name or Path(folder).name, np.asarray(keys, dtype=str), values)


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
    """The result of :func:`compare`; ``to_markdown()``, ``to_csv()`` and ``to_dict()`` render it."""

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


def compare(
    runs: Sequence[RunScores],
    *,
    alpha: float = 0.05,
    test: Test = "t",
    n_bootstrap: int = 2000,
    seed: int = 0,
    baseline: bool = False,
) -> Comparison:
    """Compare runs on the per-user metrics and (fold, user) entries they all have.

    Parameters
    ----------
    runs : sequence of RunScores
        At least two runs.
    alpha : float
        Significance level of the Holm-adjusted p-values.
    test : {"t", "wilcoxon"}
        Which test decides significance (both are reported).
    n_bootstrap : int
        Bootstrap resamples of the users, for the confidence intervals.
    seed : int
        Seeds the bootstrap.
    baseline : bool
        Compare every run with the first only, instead of every pair.

    Raises
    ------
    DataError
        With fewer than two runs, no metric or no user in common.
    """
    if len(runs) < 2:
        msg = f"compare needs at least two runs; got {len(runs)}"
        raise DataError(msg)
    names = _unique_names([r.name for r in runs])
    metrics = [m for m in runs[0].values if all(m in r.values for r in runs[1:])]
    notes = []
    left_out = sorted({m for r in runs for m in r.values} - set(metrics))
    if left_out:
        notes.append(f"Not in every run, so not compared: {', '.join(left_out)}.")
    if not metrics:
        msg = "the runs have no per-user metric in common"
        raise DataError(msg)
    common = runs[0].keys
    for r in runs[1:]:
        common = np.intersect1d(common, r.keys)
    if len(common) == 0:
        msg = "the runs have no evaluated user in common; were they evaluated on the same data and split?"
        raise DataError(msg)
    largest = max(len(r.keys) for r in runs)
    if len(common) < largest:
        notes.append(f"{largest - len(common)} (fold, user) entries are not in every run and were left out.")
    aligned = [{m: r.values[m][_positions(r.keys, common)] for m in metrics} for r in runs]
    rng = np.random.default_rng(seed)
    resamples = rng.integers(len(common), size=(n_bootstrap, len(common)))

    summaries = []
    for metric in metrics:
        for name, values in zip(names, aligned, strict=True):
            low, high = _bootstrap_interval(values[metric], resamples)
            summaries.append(RunSummary(name, metric, float(values[metric].mean()), low, high))

    everyone = range(len(runs))
    index_pairs = [(0, j) for j in everyone[1:]] if baseline else list(itertools.combinations(everyone, 2))
    raw = []
    for metric in metrics:
        for i, j in index_pairs:
            diff = aligned[j][metric] - aligned[i][metric]
            raw.append((metric, i, j, diff, _t_test(diff), _wilcoxon(diff)))
    t_holm = holm([r[4] for r in raw])
    w_holm = holm([r[5] for r in raw])
    pairs = []
    for (metric, i, j, diff, t_p, w_p), t_adj, w_adj in zip(raw, t_holm, w_holm, strict=True):
        low, high = _bootstrap_interval(diff, resamples)
        decisive = t_adj if test == "t" else w_adj
        pairs.append(
            PairComparison(
                metric, names[i], names[j], float(diff.mean()), low, high, t_p, t_adj, w_p, w_adj,
                _effect_size(diff), bool(decisive < alpha),
            )
        )
    return Comparison(names, len(common), metrics, summaries, pairs, alpha, test, n_bootstrap, notes)


def compare_run_dirs(folders: Sequence[Path], **options: Any) -> Comparison:
    """Read each run folder's ``per_user.csv`` and :func:`compare` them."""
    return compare([RunScores.from_run_dir(Path(f)) for f in folders], **options)


def holm(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values, in the order given."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, position in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[position])))
        adjusted[position] = running
    return adjusted.tolist()


def _positions(keys: npt.NDArray[np.str_], wanted: npt.NDArray[np.str_]) -> npt.NDArray[np.intp]:
    order = np.argsort(keys, kind="stable")
    return order[np.searchsorted(keys, wanted, sorter=order)]


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _bootstrap_interval(values: FloatArray, resamples: npt.NDArray[np.int64], chunk: int = 256) -> tuple[float, float]:
    """Return the 2.5% and 97.5% percentiles of the mean over bootstrap resamples of users."""
    means = np.concatenate([values[resamples[s : s + chunk]].mean(axis=1) for s in range(0, len(resamples), chunk)])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def _t_test(diff: FloatArray) -> float:
    """Two-sided paired t-test p-value of the differences; 1.0 when they don't vary."""
    from scipy import stats

    if len(diff) < 2 or np.all(diff == diff[0]):
        return 1.0 if np.all(diff == 0) else 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def _wilcoxon(diff: FloatArray) -> float:
    """Two-sided Wilcoxon signed-rank p-value (zero differences dropped); 1.0 when all are zero."""
    from scipy import stats

    if np.count_nonzero(diff) == 0:
        return 1.0
    return float(stats.wilcoxon(diff, zero_method="wilcox").pvalue)


def _effect_size(diff: FloatArray) -> float | None:
    """Paired Cohen's ``d_z``; ``None`` when the differences don't vary but are not all zero."""
    sd = float(diff.std(ddof=1)) if len(diff) > 1 else 0.0
    if sd == 0.0:
        return 0.0 if np.all(diff == 0) else None
    value = float(diff.mean()) / sd
    return value if math.isfinite(value) else None


def compare_with(result: EvaluationResult, name: str, folders: Sequence[Path], **options: Any) -> Comparison:
    """Compare an in-memory evaluation with earlier runs' folders (the ``evaluation.compare`` option)."""
    runs = [RunScores.from_result(name, result), *(RunScores.from_run_dir(Path(f)) for f in folders)]
    return compare(runs, **options)

