"""Parameter sweeps: evaluate every setting of a run file's ``sweep:`` grid and tabulate the metrics.

Each setting is a complete, validated run (see :class:`recframe.config.SweepSpec`), evaluated
with the run's splitter: with ``kfold`` every fold, so the table's spread is over folds. The
best setting of each metric follows the metric's ``higher_is_better``. With an executor that runs
blocks side by side, the settings are its tasks (each evaluated serially inside its task), kept
as they are gathered in setting order; the tables are those of a serial sweep.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recframe.config import RunConfig
from recframe.config.flow_text import yaml_text
from recframe.data import Interactions
from recframe.errors import SHOWN_CHARACTERS, RecframeError
from recframe.evaluation.sweep_protocols import spread_words
from recframe.interfaces import Executor, Metric
from recframe.recommender import Recommender
from recframe.recommender.block_runs import close_executor, run_blocks
from recframe.recommender.evaluating import evaluated_fingerprint
from recframe.registry import PluginRegistry, builtin_registry
from recframe.results import EvaluationResult
from recframe.runner.sweep_resume import kept_result_problem

if TYPE_CHECKING:
    from recframe.recommender.fitted_state import _Fitted

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SweepRow:
    """One setting of the grid and its evaluation."""

    number: int
    values: tuple[Any, ...]
    config: RunConfig
    result: EvaluationResult


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Every setting's metrics, and the best setting of each metric.

    Attributes
    ----------
    params : list of str
        The swept keys.
    rows : list of SweepRow
        One per setting, in grid order (numbered from 1).
    best : dict of str to int
        For each metric label, the number of its best setting (the first, on a tie).
    last : Recommender
        The last setting's recommender, fitted on its (last) training part (the last setting
        is always evaluated, also when a resumed sweep had finished it before).
    data_fingerprint : str
        sha256 of the interactions every setting reads (empty where a data key is swept).
    """

    params: list[str]
    rows: list[SweepRow]
    best: dict[str, int]
    last: Recommender
    data_fingerprint: str = ""

    @property
    def metrics(self) -> list[str]:
        """The metric labels, in the order of the run file."""
        return list(self.rows[0].result.metrics)

    def to_csv(self) -> str:
        """Return one row per setting: ``setting``, the swept values, each metric's mean and std."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["setting", *self.params, *(f"{m}_{s}" for m in self.metrics for s in ("mean", "std"))])
        for row in self.rows:
            mean, std = row.result.metrics, row.result.metrics_std
            values = map(yaml_text, row.values)
            writer.writerow([row.number, *values, *(repr(v) for m in self.metrics for v in (mean[m], std[m]))])
        return buffer.getvalue()

    def to_markdown(self) -> str:
        """Return the table (``mean ± std`` over folds, the best of each metric in bold) and the best settings."""
        spread = spread_words(
            self.rows,
            "one split, so no spread (use kfold)",
            "± std over {} folds",
            "± std over each setting's folds, where it has more than one (its split is swept)",
        )
        lines = [
            f"| setting | {' | '.join(self.params)} | {' | '.join(self.metrics)} |",
            "|---" * (1 + len(self.params) + len(self.metrics)) + "|",
        ]
        for row in self.rows:
            cells = []
            for m in self.metrics:
                text = f"{row.result.metrics[m]:.4f}"
                if len(row.result.folds) > 1:
                    text += f" ± {row.result.metrics_std[m]:.4f}"
                cells.append(f"**{text}**" if self.best[m] == row.number else text)
            values = (yaml_text(v).replace("|", "\\|") for v in row.values)
            lines.append(f"| {row.number} | {' | '.join(values)} | {' | '.join(cells)} |")
        lines += ["", f"Means over the evaluated users ({spread}). Best setting per metric:", ""]
        for m in self.metrics:
            row = self.rows[self.best[m] - 1]
            setting = describe(self.params, row.values)
            lines.append(f"- {m}: setting {row.number} ({setting}), {row.result.metrics[m]:.4f}")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Return the sweep as JSON-ready values."""
        return {
            "params": self.params,
            "settings": [
                {
                    "setting": row.number,
                    "values": dict(zip(self.params, row.values, strict=True)),
                    "metrics": row.result.metrics,
                    "metrics_std": row.result.metrics_std,
                    "n_users": len(row.result.users),
                }
                for row in self.rows
            ],
            "best": self.best,
        }


def run_sweep(
    config: RunConfig,
    registry: PluginRegistry,
    *,
    done: Mapping[int, EvaluationResult] | None = None,
    on_result: Callable[[SweepRow], None] | None = None,
) -> SweepResult:
    """Evaluate every setting of `config`'s sweep.

    The data are loaded once when no swept key is under ``data``. With an executor that runs
    blocks side by side (the first setting's: a sweep can't vary it) and more than one setting
    to evaluate, each setting is one task of the executor, run serially inside it (no task
    submits tasks); otherwise the settings run one after another here, each spreading its folds
    or rows. Raises what evaluation raises, naming the setting.

    Parameters
    ----------
    config : RunConfig
        A run file with a ``sweep`` section.
    registry : PluginRegistry
        Where the plugins are looked up.
    done : mapping of int to EvaluationResult, optional
        Results of settings (by number, from 1) finished earlier, used instead of evaluating
        them again; evaluation is deterministic, so the tables are the same bit for bit. One
        that does not fit this run (:func:`kept_result_problem`: other metrics, values out of
        bounds, means that are not the means of the users' values) or was evaluated on other
        data than the setting reads now (by :attr:`EvaluationResult.data_fingerprint`, its test
        part's included; also one that did not record it) is evaluated again, with a warning
        saying why.
    on_result : callable, optional
        Called with each setting's row as soon as it is evaluated (not for re-used `done` ones,
        but for one evaluated again), e.g. to keep it on disk; in setting order, also when the
        settings run side by side (each is called before a later failing setting is raised).
    """
    assert config.sweep is not None
    params = [key for key, _ in config.sweep.grid]
    settings = config.sweep.settings
    once = _Once()
    engine_log = logging.getLogger("recframe.recommender.evaluating")
    assert config.evaluation is not None
    metric_objects = [spec.build(registry) for spec in config.evaluation.metrics]
    reload = any(key.split(".")[0] == "data" for key in params)
    with _naming(_Setting(1, *settings[0], keep=False), len(settings), params):
        first = Recommender.from_config(settings[0][1], registry=registry)
    executor = first.executor  # a sweep can't vary it: every setting's runs on the first one's
    usable: dict[int, EvaluationResult] = {}
    results: dict[int, EvaluationResult] = {}
    kept: list[_Fitted] = []

    def gathered(_: int, outcome: _SettingOutcome) -> None:
        for finding in outcome.result.warnings:  # said once, also for settings evaluated elsewhere
            engine_log.warning("%s", finding)
        results[outcome.number] = outcome.result
        if outcome.fitted is not None:
            kept.append(outcome.fitted)
        if on_result is not None and outcome.number not in usable:
            on_result(SweepRow(outcome.number, *settings[outcome.number - 1], outcome.result))

    engine_log.addFilter(once)  # every setting splits alike: say each protocol warning once
    try:  # (the executor is closed whatever fails, also the data's loading, which may use it)
        with _naming(_Setting(1, *settings[0], keep=False), len(settings), params):
            shared = None if reload else first.load_data()  # the data, loaded once unless a setting changes it
        fingerprint = None if shared is None else shared.fingerprint()  # hashed once, not by every setting
        usable.update(_usable_results(done or {}, metric_objects, settings, shared, fingerprint, registry))
        results.update(usable)
        pending = [
            _Setting(number, values, setting, keep=number == len(settings))
            for number, (values, setting) in enumerate(settings, start=1)
            if number not in usable or number == len(settings)  # the last setting is always evaluated
        ]
        for setting in pending:  # what can be known wrong of a setting before any runs (rmse of popularity)
            with _naming(setting, len(settings), params):
                Recommender.from_config(setting.config, registry=registry)._check_metrics_can_run(shared)
        if executor.parallel and len(pending) > 1:  # settings are the executor's tasks, each run serially
            serial = builtin_registry().create("executor", "local", Executor)
            work = _SweepWork(registry, shared, fingerprint, serial, len(settings), params)
            runs = first._who(executor)
            run_blocks(executor, _setting_task, pending, work, desc="sweep settings", runs=runs, on_result=gathered)
        else:  # one after another here, each spreading its folds or rows on the executor
            work = _SweepWork(registry, shared, fingerprint, executor, len(settings), params)
            for number, setting in enumerate(pending):
                gathered(number, _setting_task(work, setting))
    finally:
        engine_log.removeFilter(once)
        close_executor(executor, first._who(executor))
    rows = [SweepRow(number, values, setting, results[number]) for number, (values, setting) in enumerate(settings, 1)]
    rec = Recommender.from_config(settings[-1][1], registry=registry)  # built in its task before: it builds
    rec.executor = executor
    if kept:  # the last setting's model, fitted on its last training part
        rec._keep_fitted(kept[-1])
    metrics = rows[0].result.metrics
    higher = {m.label: m.higher_is_better for m in metric_objects if isinstance(m, Metric)}
    best = {}
    for label in metrics:
        sign = 1.0 if higher.get(label, True) else -1.0
        best[label] = max(rows, key=lambda r: (sign * r.result.metrics[label], -r.number)).number
    return SweepResult(params, rows, best, rec, fingerprint or "")


def describe(params: Sequence[str], values: Sequence[Any]) -> str:
    """Return a setting as ``key=value, ...``, each value as the run file spells it, shortened."""
    return ", ".join(f"{p}={yaml_text(v, SHOWN_CHARACTERS)}" for p, v in zip(params, values, strict=True))


def _name_setting(exc: RecframeError, setting: str) -> None:
    """Put the failing sweep setting in front of `exc`'s message, keeping its class (and exit code)."""
    text = str(exc)
    if exc.args == (text,):
        exc.args = (f"{setting}: {text}",)
    else:  # an error class with its own arguments: say it in a note
        exc.add_note(setting)


class _Once(logging.Filter):
    """Let each distinct warning through once."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        if message in self.seen:
            return False
        self.seen.add(message)
        return True


def _usable_results(
    done: Mapping[int, EvaluationResult],
    metrics: Sequence[object],
    settings: Sequence[tuple[tuple[Any, ...], RunConfig]],
    shared: Interactions | None,
    fingerprint: str | None,
    registry: PluginRegistry,
) -> dict[int, EvaluationResult]:
    """Return the results kept from before that fit this run; say why each other one is evaluated again.

    `shared` are the data every setting reads, with their `fingerprint` (``None`` where a data
    key is swept: each kept setting's own data are loaded to compare).
    """
    n_settings = len(settings)
    usable = {}
    for number, kept in sorted(done.items()):
        problem = kept_result_problem(kept, metrics)
        if problem is None and number < n_settings:  # (the last setting is evaluated again anyway)
            problem = _other_data(kept, shared, fingerprint, settings[number - 1][1], registry)
        if problem is None:
            usable[number] = kept
            if number < n_settings:
                logger.info("sweep setting %d: finished before, re-used", number)
        else:
            logger.warning(
                "sweep setting %d of %d: the result kept from before does not fit this run (%s); evaluating it again",
                number,
                n_settings,
                problem,
            )
    return usable


def _other_data(
    kept: EvaluationResult,
    shared: Interactions | None,
    fingerprint: str | None,
    config: RunConfig,
    registry: PluginRegistry,
) -> str | None:
    """Return why `kept` was evaluated on other data than its setting reads now, or ``None`` if on the same."""
    if not kept.data_fingerprint:
        return "it does not record the data it was evaluated on"
    rec = Recommender.from_config(config, registry=registry)
    try:
        data = rec.load_data() if shared is None else shared
        now = evaluated_fingerprint(data, rec._load_test_data(), fingerprint)
    except RecframeError as exc:  # evaluated again, it will say so in its turn
        return f"its data can't be read now ({exc})"
    if now != kept.data_fingerprint:
        return f"the data changed since: sha256 {kept.data_fingerprint[:12]}... then, {now[:12]}... now"
    return None


@dataclass(frozen=True, eq=False)
class _Setting:
    """One setting to evaluate: its number (from 1), swept values and run config; `keep`: send its model back."""

    number: int
    values: tuple[Any, ...]
    config: RunConfig
    keep: bool


@dataclass(frozen=True, eq=False)
class _SettingOutcome:
    """A setting's evaluation, and its model (fitted on its last training part) where asked for."""

    number: int
    result: EvaluationResult
    fitted: _Fitted | None


@dataclass(frozen=True, eq=False)
class _SweepWork:
    """The shared payload of setting tasks: the registry, the data loaded once (or ``None``), the executor."""

    registry: PluginRegistry
    data: Interactions | None
    fingerprint: str | None
    executor: Executor
    n_settings: int
    params: list[str]


def _setting_task(work: _SweepWork, setting: _Setting) -> _SettingOutcome:
    """Evaluate one setting (run by the executor, on a thread or a worker, or here).

    Errors name the setting, keeping their class (and exit code).
    """
    with _naming(setting, work.n_settings, work.params):
        logger.info(
            "sweep setting %d of %d: %s", setting.number, work.n_settings, describe(work.params, setting.values)
        )
        rec = Recommender.from_config(setting.config, registry=work.registry)
        rec.executor = work.executor
        data = work.data if work.data is not None else rec.load_data()
        result = rec._evaluate(data, None, work.fingerprint)
    return _SettingOutcome(setting.number, result, rec._fitted if setting.keep else None)


@contextmanager
def _naming(setting: _Setting, n_settings: int, params: Sequence[str]) -> Iterator[None]:
    """Put the setting in front of the message of a :class:`RecframeError` raised inside."""
    try:
        yield
    except RecframeError as exc:
        _name_setting(exc, f"sweep setting {setting.number} of {n_settings} ({describe(params, setting.values)})")
        raise
