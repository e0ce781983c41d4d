"""Compare evaluated runs user by user: confidence intervals, paired tests, Holm correction, effect sizes.

Runs are compared on the users (and folds) they share, metric by metric. For each run and
metric: the mean with a bootstrap 95% confidence interval. For each pair of runs and metric:
the mean difference with its bootstrap interval, a paired t-test, a Wilcoxon signed-rank test,
both p-values adjusted by Holm's method across every comparison made, and the paired effect
size ``d_z = mean(diff) / sd(diff)``. A difference is significant when the chosen test's
adjusted p-value is below ``alpha``.

A paired test needs both runs to have scored the same users on the same held-out items, so
before any statistics the runs' provenance is compared (:func:`provenance`: data fingerprint,
split, the seed of a random split, relevance settings) and so are their (fold, user) entries;
runs that differ are refused with a :class:`~recframe.errors.ConfigError` naming the runs, the
field and both values, unless ``allow_different_data``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from recframe.data import FloatArray
from recframe.errors import ConfigError, DataError, short_repr, short_text
from recframe.jsonio import read_json
from recframe.results import EvaluationResult

if TYPE_CHECKING:
    from recframe.registry import PluginRegistry

PER_USER_FILE = "per_user.csv"
RUN_FILE = "run.json"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
Test = Literal["t", "wilcoxon"]

MIN_OVERLAP = 0.5
"""Pair runs only when the (fold, user) entries they share are at least this share of each run's entries."""

ALLOW_HINT = (
    "compare them anyway with --allow-different-data (allow_different_data=True in Python, "
    "evaluation.allow_different_data: true in a run file)"
)


@dataclass(frozen=True, eq=False)
class RunScores:
    r"""One run's per-user metric values, keyed by ``fold<TAB>user``, and what it was evaluated on.

    Attributes
    ----------
    name : str
        The run's name in tables.
    keys : ndarray of shape (n,), str
        ``"<fold>\t<user>"`` of each entry.
    values : dict of str to ndarray of shape (n,)
        Each per-user metric's values, aligned with `keys`.
    provenance : dict of str to object, optional
        What decides the evaluated users and their relevant items (:func:`provenance`): the
        data fingerprint and size, the split, the seed of a seeded split and the relevance
        settings. :func:`compare` refuses runs whose provenance differs. ``None``: unknown.
    source : str
        Where the run came from (its folder), for messages; the name when empty.
    """

    name: str
    keys: npt.NDArray[np.str_]
    values: dict[str, FloatArray]
    provenance: dict[str, object] | None = None
    source: str = ""

    @classmethod
    def from_result(
        cls, name: str, result: EvaluationResult, provenance: dict[str, object] | None = None
    ) -> RunScores:
        """Take the per-user values of an in-memory evaluation (and, optionally, its provenance)."""
        users = np.char.strip(result.users.astype(str))  # as per_user.csv is read (_entry_key)
        keys = np.char.add(np.char.add(result.fold_of.astype(str), "\t"), users)
        return cls(name, keys, dict(result.per_user), provenance)

    @classmethod
    def from_run_dir(
        cls, folder: Path, name: str | None = None, registry: PluginRegistry | None = None
    ) -> RunScores:
        """Read the ``per_user.csv`` of a run folder, and its provenance from ``run.json`` and ``config.yaml``.

        Raises
        ------
        DataError
            If the folder or its ``per_user.csv`` is missing (the message says whether the
            folder holds a sweep or an unevaluated run), or the file is malformed: a bad
            header, a repeated metric or (fold, user), a value that is not a finite number
            (the message names the file and line).
        """
        folder = Path(folder)
        path = folder / PER_USER_FILE
        if not folder.is_dir():
            msg = f"{folder}: no such run folder"
            raise DataError(msg)
        record = _read_json(folder / RUN_FILE)
        if not path.is_file():
            raise DataError(_missing_per_user(folder, record))
        if record is not None:
            _check_record(folder / RUN_FILE, record)
        rows = _read_csv(path)
        if not rows or [cell.strip() for cell in rows[0][:2]] != ["fold", "user"]:
            got = short_repr(",".join(rows[0])) if rows else "nothing"
            msg = f"{path}:1: expected a header starting with fold,user; got {got}"
            raise DataError(msg)
        header, body = rows[0], rows[1:]
        labels = header[2:]
        for i, label in enumerate(labels):
            if not label or label in labels[:i]:
                what = "empty" if not label else "a repeat"
                msg = (
                    f"{path}:1: metric column {i + 3} is {short_repr(label)}, {what}; "
                    "each column needs its own metric label"
                )
                raise DataError(msg)
        if not body:
            msg = f"{path}: has no evaluated user; nothing to compare"
            raise DataError(msg)
        keys: list[str] = []
        first_line: dict[str, int] = {}
        columns: list[list[float]] = [[] for _ in labels]
        for line, row in enumerate(body, start=2):
            if len(row) != len(header):
                msg = f"{path}:{line}: expected {len(header)} fields; got {len(row)}"
                raise DataError(msg)
            key = _entry_key(row[0], row[1], f"{path}:{line}")
            if key in first_line:
                msg = (
                    f"{path}:{line}: fold {short_repr(row[0])}, user {short_repr(row[1])} repeats line "
                    f"{first_line[key]}; each (fold, user) is evaluated once"
                )
                raise DataError(msg)
            first_line[key] = line
            keys.append(key)
            for column, label, text in zip(columns, labels, row[2:], strict=True):
                try:
                    value = float(text)
                except ValueError:
                    msg = f"{path}:{line}: value {short_repr(text)} is not a number ({short_text(label)})"
                    raise DataError(msg) from None
                if not math.isfinite(value):
                    msg = f"{path}:{line}: {short_text(label)} is {short_repr(text)}, not a finite number"
                    raise DataError(msg)
                column.append(value)
        values = {label: np.asarray(col, dtype=np.float64) for label, col in zip(labels, columns, strict=True)}
        config = _read_yaml(folder / CONFIG_FILE)
        known = record is not None or config is not None
        origin = provenance(config or {}, record or {}, registry) if known else None
        return cls(name or folder.name, np.asarray(keys, dtype=str), values, origin, str(folder))


def provenance(
    config: dict[str, Any], record: dict[str, Any], registry: PluginRegistry | None = None
) -> dict[str, object]:
    """Return what decides a run's evaluated users and relevant items, from its config and ``run.json``.

    Parameters
    ----------
    config : dict
        The resolved run file (``config.yaml``, or ``RunConfig.to_dict()``).
    record : dict
        The run record (``run.json``): ``data_fingerprint`` and ``n_interactions`` (and
        ``split``, used only when the config has no ``evaluation.split``).
    registry : PluginRegistry, optional
        Tells whether the splitter is random (only then does the seed decide the split); by
        default the installed plugins. A splitter it does not know counts as random.

    Returns
    -------
    dict
        ``data_fingerprint``, ``n_interactions`` (or, without them, the ``data`` section),
        ``split``, ``test_data``, ``seed`` (only for a random split), ``relevance_threshold``,
        ``unseen_items`` and ``metrics`` (each metric's definition by its label); a field the
        run did not record is left out.
    """
    evaluation = config.get("evaluation") if isinstance(config.get("evaluation"), dict) else {}
    assert isinstance(evaluation, dict)
    out: dict[str, object] = {}
    for key in ("data_fingerprint", "n_interactions"):
        if record.get(key) is not None:
            out[key] = record[key]
    if "data_fingerprint" not in out and isinstance(config.get("data"), dict):
        out["data"] = config["data"]  # no record of the data itself (a sweep's setting): its section
    split = evaluation.get("split", record.get("split"))
    if split is not None:
        out["split"] = split
    if "test_data" in evaluation or "split" in evaluation:
        out["test_data"] = evaluation.get("test_data")
    seed = record.get("seed", config.get("seed"))
    if seed is not None and (split is None or _split_is_random(split, registry)):
        out["seed"] = seed
    for key, default in (("relevance_threshold", None), ("unseen_items", "keep")):
        if "split" in evaluation:
            out[key] = evaluation.get(key, default)
    metrics = evaluation.get("metrics")
    if isinstance(metrics, list):
        out["metrics"] = _metric_definitions(metrics, registry)
    return out


def _metric_definitions(specs: list[Any], registry: PluginRegistry | None) -> dict[str, object]:
    """Return each metric's definition (its config) by its label (``map@10``), as in per_user.csv."""
    out: dict[str, object] = {}
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
            continue
        params = {k: v for k, v in spec.items() if k != "type"}
        label = f"{spec['type']}@{params.get('k')}"
        if registry is None:
            from recframe.registry import PluginRegistry

            registry = PluginRegistry.from_environment()
        try:
            cls = registry.get("metric", spec["type"])
            label = str(getattr(cls(cls.Config(**params)), "label", label))
        except (ConfigError, ValueError, TypeError):  # an unknown or changed plugin: the plain label
            pass
        out[label] = spec
    return out


def _split_is_random(split: object, registry: PluginRegistry | None) -> bool:
    """Whether the seed decides the split: its splitter's ordering is ``random`` (or unknown)."""
    name = split.get("type") if isinstance(split, dict) else split
    if not isinstance(name, str):
        return True
    if registry is None:
        from recframe.registry import PluginRegistry

        registry = PluginRegistry.from_environment()
    try:
        return str(getattr(registry.get("splitter", name), "ordering", "random")) == "random"
    except ConfigError:
        return True


RECORD_FIELDS: dict[str, tuple[type, ...]] = {"data_fingerprint": (str,), "n_interactions": (int,), "seed": (int,)}
"""The fields of ``run.json`` that compare reads and that ``recframe run`` always writes, with their types."""

MAX_DEPTH = 50
"""Deepest nesting of lists and mappings compare accepts in a recorded value (a split's settings)."""


def _read_json(path: Path) -> dict[str, Any] | None:
    """Return the ``run.json`` object of a run folder, ``None`` without one; refuse anything else."""
    if not path.exists():
        return None
    record: dict[str, Any] = read_json(
        path, what=RUN_FILE, expect=dict, hint="give run folders written by recframe run"
    )
    return record


def _check_record(path: Path, record: dict[str, Any]) -> None:
    """Refuse a run's ``run.json`` that lacks a field ``recframe run`` always writes, or holds a wrong type.

    Raises
    ------
    DataError
        Naming the file, the field and the value found.
    """
    for key, types in RECORD_FIELDS.items():
        value = record.get(key)
        wanted = " or ".join("a string" if t is str else "an integer" for t in types)
        if key not in record or value is None:
            msg = (
                f"{path}: has no {key}, which recframe run always records (expected {wanted}); "
                "give run folders written by recframe run"
            )
            raise DataError(msg)
        if isinstance(value, bool) or not isinstance(value, types) or (isinstance(value, int) and value < 0):
            msg = f"{path}: {key} is {short_repr(value)}; expected {wanted}{'' if str in types else ' >= 0'}"
            raise DataError(msg)
    split = record.get("split")
    if split is not None and (not isinstance(split, str | dict) or _depth(split) > MAX_DEPTH):
        msg = f"{path}: split is {short_repr(split)}; expected a split's settings (a name or a mapping)"
        raise DataError(msg)


def _depth(value: object) -> int:
    """Return how deeply lists and mappings nest in `value`, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _read_text(path: Path) -> str:
    """Return the UTF-8 text of `path` (a byte-order mark dropped), refusing what can't be read as text."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: can't read the file: {exc.strerror or exc}"
        raise DataError(msg) from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        msg = (
            f"{path}:{line}: is not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "give the file recframe run wrote, or save it as UTF-8"
        )
        raise DataError(msg) from None


def _read_csv(path: Path) -> list[list[str]]:
    """Return the rows of a CSV file, naming the file and line of anything malformed."""
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        msg = f"{path}:{reader.line_num}: not valid CSV: {short_text(str(exc))}"
        raise DataError(msg) from None


def _entry_key(fold: str, user: str, where: str) -> str:
    r"""Return the ``"<fold>\t<user>"`` key of a per_user.csv row: the fold as an integer, the user stripped.

    Spellings of one entry (``0`` and ``00``, ``u1`` and `` u1``) give one key, so a repeated
    entry can't pass as a new one.
    """
    try:
        number = int(fold.strip())
    except ValueError:
        number = -1
    if number < 0:
        msg = f"{where}: fold {short_repr(fold)} is not a fold number (a non-negative integer)"
        raise DataError(msg)
    return f"{number}\t{user.strip()}"


def _read_yaml(path: Path) -> dict[str, Any] | None:
    """Return the ``config.yaml`` mapping of a run folder, ``None`` without one; refuse anything else.

    Raises
    ------
    DataError
        If the file can't be read, is not UTF-8 YAML (one line naming the file and line), is
        nested too deeply or expands too far, or is not a mapping.
    """
    if not path.exists():
        return None
    from recframe.config import parse_yaml

    text = _read_text(path)
    try:
        data = parse_yaml(text, str(path))[0]
    except ConfigError as exc:  # "<path>:<line>: not valid YAML: ...", in one line
        raise DataError(str(exc)) from None
    if not isinstance(data, dict):
        msg = (
            f"{path}: holds {short_repr(data)}; expected the run's settings (a mapping), "
            "as recframe run writes them"
        )
        raise DataError(msg)
    return data


def _missing_per_user(folder: Path, record: dict[str, Any] | None) -> str:
    """Say why a run folder has no ``per_user.csv``: a sweep, an unevaluated run, or per_user: false."""
    missing = f"{folder}: has no {PER_USER_FILE}"
    if record is not None and record.get("sweep"):
        settings = sorted(p for p in (folder / "settings").glob("*") if (p / PER_USER_FILE).is_file())
        example = " ".join(str(p) for p in settings[:2]) or f"{folder}/settings/<n>"
        count = record["sweep"].get("settings", "several") if isinstance(record["sweep"], dict) else "several"
        count = count if isinstance(count, int) and not isinstance(count, bool) else "several"
        return (
            f"{missing}: it is a sweep of {count} settings, not one evaluated run; "
            f"compare its settings' folders instead, e.g. recframe compare {example}"
        )
    if (folder / METRICS_FILE).is_file():
        return f"{missing}; run it with an evaluation section and evaluation.per_user: true"
    if record is not None or (folder / CONFIG_FILE).is_file():
        return (
            f"{missing}: the run was not evaluated (its run file has no evaluation section); "
            "add evaluation.split and evaluation.metrics and run it again"
        )
    return f"{missing} and is not a run folder (no {RUN_FILE} or {CONFIG_FILE}); give folders written by recframe run"


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


def compare_run_dirs(folders: Sequence[Path], registry: PluginRegistry | None = None, **options: Any) -> Comparison:
    """Read each run folder's ``per_user.csv`` and provenance, and :func:`compare` them."""
    if registry is None:
        from recframe.registry import PluginRegistry

        registry = PluginRegistry.from_environment()
    return compare([RunScores.from_run_dir(Path(f), registry=registry) for f in folders], **options)


def _who(run: RunScores, name: str) -> str:
    shown = short_repr(name)
    return f"{shown} ({short_text(run.source)})" if run.source and run.source != name else shown


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
            _who(r, n) for r, n in zip(runs, names, strict=True)
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


def _check_overlap(
    runs: Sequence[RunScores], names: list[str], common: npt.NDArray[np.str_], allow: bool
) -> list[str]:
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


def compare_with(
    result: EvaluationResult,
    name: str,
    folders: Sequence[Path],
    provenance: dict[str, object] | None = None,
    registry: PluginRegistry | None = None,
    **options: Any,
) -> Comparison:
    """Compare an in-memory evaluation with earlier runs' folders (the ``evaluation.compare`` option).

    `provenance` (:func:`provenance` of the run's config and record) lets :func:`compare`
    refuse folders evaluated on other data or splits.
    """
    runs = [
        RunScores.from_result(name, result, provenance),
        *(RunScores.from_run_dir(Path(f), registry=registry) for f in folders),
    ]
    return compare(runs, **options)

