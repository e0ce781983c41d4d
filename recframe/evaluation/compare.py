"""Compare evaluated runs user by user: confidence intervals, paired tests, Holm correction, effect sizes.

Runs are compared on the users (and folds) they share, metric by metric. For each run and
metric: the mean with a bootstrap 95% confidence interval. For each pair of runs and metric:
the mean difference with its bootstrap interval, a paired t-test, a Wilcoxon signed-rank test,
both p-values adjusted by Holm's method across every comparison made, and the paired effect
size ``d_z = mean(diff) / sd(diff)``. A difference is significant when the chosen test's
adjusted p-value is below ``alpha``.

A paired test needs both runs to have scored the same users on the same held-out items, so
before any statistics the runs' provenance is compared
(:func:`~recframe.evaluation.run_provenance.provenance`: data fingerprint, split, the seed of a
random split, relevance settings) and so are their (fold, user) entries; runs that differ are
refused with a :class:`~recframe.errors.ConfigError` naming the runs, the field and both
values, unless ``allow_different_data``.

This module holds the entry points; the parts live beside it:
:mod:`~recframe.evaluation.run_scores` (a run's per-user values, read from its folder),
:mod:`~recframe.evaluation.run_provenance` (what decided its users and relevant items),
:mod:`~recframe.evaluation.pairing_checks` (whether runs can be paired),
:mod:`~recframe.evaluation.significance` (the statistics) and
:mod:`~recframe.evaluation.comparison_tables` (the result and its tables).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from recframe.errors import DataError, short_repr, short_text
from recframe.evaluation.comparison_tables import _TEST_NAMES, Comparison, PairComparison, RunSummary, Test
from recframe.evaluation.pairing_checks import (
    _averaged_otherwise,
    _check_overlap,
    _check_provenance,
    _check_scores,
    _defined_differently,
)
from recframe.evaluation.run_scores import RunScores
from recframe.evaluation.significance import _bootstrap_interval, _effect_size, _t_test, _wilcoxon, holm
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from recframe.registry import PluginRegistry


def compare(
    runs: Sequence[RunScores],
    *,
    alpha: float = 0.05,
    test: Test = "t",
    n_bootstrap: int = 2000,
    seed: int = 0,
    baseline: bool = False,
    allow_different_data: bool = False,
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
    allow_different_data : bool
        Compare runs even when their provenance (data, split, seed of a random split,
        relevance settings) differs or they share too few (fold, user) entries for a paired
        test; each such difference is then listed in the notes.

    Raises
    ------
    ConfigError
        If the runs were evaluated on different data or splits, or on (fold, user) entries
        too different to pair (under half of a run's entries in common, or other folds),
        unless `allow_different_data`; the message names the runs, the field and both values.
    DataError
        With fewer than two runs, no metric or no user in common, or values that are not
        finite numbers.
    ValueError
        If `alpha`, `test` or `n_bootstrap` is out of range.
    """
    if len(runs) < 2:
        msg = f"compare needs at least two runs; got {len(runs)}"
        raise DataError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha must be between 0 and 1; got {alpha!r}"
        raise ValueError(msg)
    if test not in _TEST_NAMES:
        msg = f"test must be 't' or 'wilcoxon'; got {short_repr(test)}"
        raise ValueError(msg)
    if n_bootstrap < 1:
        msg = f"n_bootstrap must be at least 1; got {n_bootstrap!r}"
        raise ValueError(msg)
    names = _unique_names([r.name for r in runs])
    for run in runs:
        _check_scores(run)
    notes = _check_provenance(runs, names, allow_different_data)
    differing = _defined_differently(runs, names)
    differing |= {m: note for m, note in _averaged_otherwise(runs, names).items() if m not in differing}
    metrics = [m for m in runs[0].values if all(m in r.values for r in runs[1:]) and m not in differing]
    notes += differing.values()
    left_out = sorted({m for r in runs for m in r.values} - set(metrics) - set(differing))
    if left_out:
        notes.append(f"Not in every run, so not compared: {short_text(', '.join(left_out), 240)}.")
    if not metrics:
        why = f"; {' '.join(differing.values())}" if differing else ""
        msg = f"the runs have no per-user metric in common{why}"
        raise DataError(msg)
    common = runs[0].keys
    for r in runs[1:]:
        common = np.intersect1d(common, r.keys)
    if len(common) == 0:
        msg = "the runs have no evaluated user in common; were they evaluated on the same data and split?"
        raise DataError(msg)
    notes += _check_overlap(runs, names, common, allow_different_data)
    if len(common) < 2:
        notes.append("Only one evaluated user in common: no test can tell a difference from one user (p = 1).")
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
                metric,
                names[i],
                names[j],
                float(diff.mean()),
                low,
                high,
                t_p,
                t_adj,
                w_p,
                w_adj,
                _effect_size(diff),
                bool(decisive < alpha),
            )
        )
    return Comparison(names, len(common), metrics, summaries, pairs, alpha, test, n_bootstrap, notes)


def compare_run_dirs(folders: Sequence[Path], registry: PluginRegistry | None = None, **options: Any) -> Comparison:
    """Read each run folder's ``per_user.csv`` and provenance, and :func:`compare` them."""
    if registry is None:
        from recframe.registry import PluginRegistry

        registry = PluginRegistry.from_environment()
    return compare([RunScores.from_run_dir(Path(f), registry=registry) for f in folders], **options)


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


def compare_with(
    result: EvaluationResult,
    name: str,
    earlier: Sequence[RunScores],
    provenance: dict[str, object] | None = None,
    **options: Any,
) -> Comparison:
    """Compare an in-memory evaluation with earlier runs (the ``evaluation.compare`` option's folders, read).

    `provenance` (:func:`~recframe.evaluation.run_provenance.provenance` of the run's config and
    record) lets :func:`compare` refuse runs evaluated on other data or splits.
    """
    return compare([RunScores.from_result(name, result, provenance), *earlier], **options)
