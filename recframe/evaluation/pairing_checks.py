"""The checks that runs can be paired user by user before any statistics are computed.

Runs are refused (a :class:`~recframe.errors.ConfigError` naming the runs, the field and both
values) when their provenance differs, when they share too few (fold, user) entries or have
other folds, unless ``allow_different_data``; metrics defined differently under one label are
left out with a note. Values come from files anyone may have edited, so messages show them
shortened.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from recframe.errors import ConfigError, DataError, path_text, short_repr, short_text
from recframe.evaluation.run_scores import CONFIG_FILE, RUN_FILE

if TYPE_CHECKING:
    from recframe.evaluation.run_scores import RunScores


MIN_OVERLAP = 0.5
"""Pair runs only when the (fold, user) entries they share are at least this share of each run's entries."""

ALLOW_HINT = (
    "compare them anyway with --allow-different-data (allow_different_data=True in Python, "
    "evaluation.allow_different_data: true in a run file)"
)


def _who(run: RunScores, name: str) -> str:
    shown = short_repr(name)
    return f"{shown} ({path_text(run.source)})" if run.source and run.source != name else shown


def _check_scores(run: RunScores) -> None:
    """Refuse per-user values that don't line up with the entries or are not finite numbers."""
    if len(np.unique(run.keys)) != len(run.keys):
        keys, counts = np.unique(run.keys, return_counts=True)
        repeated = str(keys[np.argmax(counts > 1)]).split("\t", 1)
        msg = (
            f"run {short_repr(run.name)} has a (fold, user) entry more than once: fold {short_repr(repeated[0])}, "
            f"user {short_repr(repeated[-1])}; each is evaluated once"
        )
        raise DataError(msg)
    for label, values in run.values.items():
        if np.shape(values) != np.shape(run.keys):
            msg = (
                f"run {short_repr(run.name)}: {short_text(label)} has {np.size(values)} values for "
                f"{len(run.keys)} (fold, user) entries"
            )
            raise DataError(msg)
        bad = ~np.isfinite(values)
        if bad.any():
            first = int(np.argmax(bad))
            msg = (
                f"run {short_repr(run.name)}: {short_text(label)} is {float(values[first])!r} for fold, user "
                f"{short_text(str(run.keys[first]).replace(chr(9), ', '))}; per-user values must be finite numbers"
            )
            raise DataError(msg)


def _check_provenance(runs: Sequence[RunScores], names: list[str], allow: bool) -> list[str]:
    """Refuse runs evaluated on different data or splits; return notes on what could not be checked."""
    first = runs[0].provenance
    differences: list[str] = []
    unchecked = [_who(r, n) for r, n in zip(runs, names, strict=True) if r.provenance is None]
    known = [r.provenance for r in runs if r.provenance is not None]
    unfingerprinted = []
    if any("data_fingerprint" in p for p in known) and not all("data_fingerprint" in p for p in known):
        unfingerprinted = [
            _who(r, n)
            for r, n in zip(runs, names, strict=True)
            if r.provenance is not None and "data_fingerprint" not in r.provenance
        ]
    for run, name in zip(runs[1:], names[1:], strict=True):
        if first is None or run.provenance is None:
            continue
        for key in dict.fromkeys([*first, *run.provenance]):
            if key == "metrics":  # compared metric by metric (_defined_differently)
                continue
            if key in first and key in run.provenance and first[key] != run.provenance[key]:
                differences.append(
                    f"runs {_who(runs[0], names[0])} and {_who(run, name)} differ in {key}: "
                    f"{_shown(first[key])} vs {_shown(run.provenance[key])}"
                )
    notes = []
    if unchecked:
        notes.append(
            f"Could not check that {', '.join(unchecked)} used the same data and split as the others "
            f"(no {RUN_FILE} or {CONFIG_FILE}, or no provenance given)."
        )
    if unfingerprinted:
        notes.append(
            f"Could not check the data of {', '.join(unfingerprinted)} against the others' data fingerprints "
            f"(none recorded, as for a sweep's settings); only the split and evaluation settings were checked."
        )
    if differences and not allow:
        msg = (
            "can't pair the runs' users: they were evaluated on different data or splits\n"
            + "\n".join(differences)
            + f"\npaired tests need the same data, split and seed; {ALLOW_HINT}"
        )
        raise ConfigError(msg)
    notes += [f"Compared although the {d} (allow_different_data)." for d in differences]
    return notes


def _defined_differently(runs: Sequence[RunScores], names: list[str]) -> dict[str, str]:
    """Return the metrics some runs define differently under one label, each with a note saying how."""
    out: dict[str, str] = {}
    definitions = [r.provenance.get("metrics") if r.provenance else None for r in runs]
    for i, j in itertools.combinations(range(len(runs)), 2):
        a, b = definitions[i], definitions[j]
        if not isinstance(a, dict) or not isinstance(b, dict):
            continue
        for label in a.keys() & b.keys():
            if label not in out and a[label] != b[label]:
                out[label] = (
                    f"Not compared: {short_text(label)} is defined differently in runs {short_repr(names[i])} "
                    f"and {short_repr(names[j])} "
                    f"({_shown(a[label])} vs {_shown(b[label])})."
                )
    return dict(sorted(out.items()))


MEAN_TOLERANCE = 1e-9
"""Relative difference above which a run's recorded value of a metric is not the mean of its per-user values."""


def _averaged_otherwise(runs: Sequence[RunScores], names: list[str]) -> dict[str, str]:
    """Return the metrics whose run value is not the mean of their per-user values, each with a note saying why.

    Per-user statistics (means, intervals, paired tests) describe the mean of per-user values;
    a micro-averaged metric (a ratio of sums over users), or one counting users without a
    relevant item as 0 (users with no per-user row), has another value in ``metrics.json``, so
    comparing its per-user means would report a number the run never had. Each fold's recorded
    value is checked against the mean of that fold's per-user values.
    """
    out: dict[str, str] = {}
    for run, name in zip(runs, names, strict=True):
        if not run.recorded:
            continue
        folds = np.char.partition(run.keys.astype(str), "\t")[:, 0].astype(np.int64)
        for label, values in run.values.items():
            recorded = run.recorded.get(label)
            if label in out or recorded is None:
                continue
            for fold, value in enumerate(recorded):
                members = folds == fold
                if not members.any():
                    continue
                mean = float(values[members].mean())
                if abs(mean - value) > MEAN_TOLERANCE * max(1.0, abs(value)):
                    where = f" in fold {fold}" if len(recorded) > 1 else ""
                    out[label] = (
                        f"Not compared: {short_text(label)} of run {short_repr(name)} is {value:.4f}{where}, not "
                        f"the mean of its per-user values ({mean:.4f}): {_why(run, label)}."
                    )
                    break
    return dict(sorted(out.items()))


def _why(run: RunScores, label: str) -> str:
    """Say, from the metric's recorded definition, why its run value is not a per-user mean."""
    definition = (run.definitions or {}).get(label) or {}
    found = definition.get("axes")
    axes: dict[str, object] = found if isinstance(found, dict) else {}
    if axes.get("averaging") == "micro":
        return (
            "it is micro-averaged (a ratio of sums over users), so per-user statistics would describe "
            "another number; compare its averaging 'macro' form instead"
        )
    if axes.get("without_relevant") == "zero":
        return (
            "it counts users without a relevant item as 0, and they have no per-user values, so per-user "
            "statistics would describe another number; compare its without_relevant 'excluded' form instead"
        )
    if axes.get("empty_lists") == "excluded":
        return (
            "it leaves users whose list is empty out of its mean (their per-user value is 0), so per-user "
            "statistics would describe another number; compare its empty_lists 'zero' form instead"
        )
    return "the metric averages its users its own way, so per-user statistics would describe another number"


def _check_overlap(runs: Sequence[RunScores], names: list[str], common: npt.NDArray[np.str_], allow: bool) -> list[str]:
    """Refuse pairing runs whose (fold, user) entries differ too much; note what was left out."""
    problems = []
    notes = []
    folds = [sorted({k.split("\t", 1)[0] for k in r.keys.tolist()}) for r in runs]
    for run, name, fold_set in zip(runs[1:], names[1:], folds[1:], strict=True):
        if fold_set != folds[0]:
            problems.append(
                f"runs {_who(runs[0], names[0])} and {_who(run, name)} have different folds: "
                f"{', '.join(folds[0])} vs {', '.join(fold_set)}"
            )
    for run, name in zip(runs, names, strict=True):
        left = len(run.keys) - len(common)
        if left and len(common) < MIN_OVERLAP * len(run.keys):
            problems.append(
                f"run {_who(run, name)} shares only {len(common)} of its {len(run.keys)} (fold, user) entries "
                "with the other runs"
            )
        elif left:
            notes.append(
                f"{left} of run {short_repr(name)}'s {len(run.keys)} (fold, user) entries are not in every run "
                "and were left out."
            )
    if problems and not allow:
        msg = (
            "can't pair the runs' users: they were evaluated on different users\n"
            + "\n".join(problems)
            + f"\na paired test on the few users they share would compare different populations; {ALLOW_HINT}"
        )
        raise ConfigError(msg)
    return [*(f"Paired although {p} (allow_different_data)." for p in problems), *notes]


def _shown(value: object) -> str:
    """Show a provenance value: a mapping as ``key=value`` pairs, anything else with ``repr``; both shortened.

    Values come from files anyone may have edited, so each is bounded by
    :func:`~recframe.errors.short_repr`, as are the number of pairs shown.
    """
    if isinstance(value, dict):
        pairs = [f"{short_text(str(k), 40)}={short_repr(v)}" for k, v in itertools.islice(value.items(), 8)]
        more = ", ..." if len(value) > 8 else ""
        return "{" + ", ".join(pairs) + more + "}"
    return short_repr(value)
