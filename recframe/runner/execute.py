"""``recframe run``'s execution: fit, evaluate (or sweep) and hand the run's files to be written."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from recframe.config import RunConfig
from recframe.data.summary import describe
from recframe.errors import ConfigError, DataError, PluginError, RecframeError, short_repr
from recframe.evaluation.compare import compare_with
from recframe.evaluation.report import comparison_report, run_report, sweep_report
from recframe.evaluation.run_provenance import provenance
from recframe.evaluation.run_scores import RunScores
from recframe.recommender import Recommender
from recframe.recommender.block_runs import close_executor
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult
from recframe.runner.files import (
    COMPARISON_HTML,
    COMPARISON_JSON,
    COMPARISON_MD,
    CONFIG,
    MODEL_DIR,
    RECOMMENDATIONS,
    RUN,
    SETTINGS_DIR,
    SWEEP_CSV,
    SWEEP_JSON,
    SWEEP_MD,
    _json,
    _report_files,
    evaluation_files,
    planned_names,
    recommendations_csv,
)
from recframe.runner.folder import _check_flags, _check_folder_arg, _is_real_dir, check_output_dir, write_atomically
from recframe.runner.partial import _keep_setting, _remove_partial, _resumable_settings, _start_partial, partial_dir
from recframe.runner.record import run_record
from recframe.runner.sweep import SweepResult, SweepRow, run_sweep
from recframe.runner.sweep_resume import kept_sweep_message, origin_record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced.

    Attributes
    ----------
    output_dir : Path
        Where the files were written.
    files : list of Path
        The files written.
    evaluation : EvaluationResult or None
        The metrics, if the run was evaluated.
    recommender : Recommender
        The fitted recommender (of a sweep: built from its last setting).
    seconds : float
        Wall time of the whole run.
    sweep : SweepResult or None
        Every setting's metrics, for a run file with a ``sweep`` section.
    """

    output_dir: Path
    files: list[Path]
    evaluation: EvaluationResult | None
    recommender: Recommender
    seconds: float
    sweep: SweepResult | None = None


def execute(
    config: RunConfig,
    registry: PluginRegistry,
    output_dir: Path | None = None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    model: bool = True,
) -> RunOutcome:
    """Run a validated config: fit (and evaluate), then write the run's files into `output_dir`.

    With an ``evaluation`` section the recommender is fitted on the training part of the split
    and evaluated; the written recommendations come from that same fitted model. Without one
    it is fitted on all the data. Unless `model` is false, that fitted model (the one the
    recommendations come from: of an evaluation, the last fold's training part) is saved as
    ``model/`` (see ``Recommender.save``); a sweep saves none.

    Parameters
    ----------
    config : RunConfig
        The validated run file.
    registry : PluginRegistry
        Where the plugins are looked up.
    output_dir : str or Path, optional
        Where to write; ``output.dir`` of the config, else ``runs/<name>``.
    overwrite : bool
        Write into a folder that is not empty, replacing the files an earlier run wrote there
        (those listed in its ``manifest.json``); nothing else in the folder is touched.
    resume : bool
        Continue an interrupted sweep: re-use the settings it finished (kept in
        :func:`partial_dir`) and evaluate the rest.
    model : bool
        Save the fitted model into ``model/`` (``recframe run --no-model`` turns it off).

    Raises
    ------
    TypeError
        If `config` is not a RunConfig, `registry` not a PluginRegistry, `output_dir` not a
        path (str or path-like), or `overwrite` or `resume` not a bool.
    ConfigError
        If the output folder is not empty (without `overwrite`), holds files recframe did not
        write where this run writes, or if `resume` is given for a run without a sweep, or the
        sweep changed since it was interrupted.
    DataError, PluginError
        As raised by the components; nothing is written then (a sweep keeps its finished
        settings for `resume`).
    RecframeError
        If the output folder can't be written.
    """
    start = time.perf_counter()
    if not isinstance(config, RunConfig):
        msg = (
            f"execute: config must be a RunConfig (from recframe.config.load_config); got "
            f"{type(config).__name__} {short_repr(config)}"
        )
        raise TypeError(msg)
    if not isinstance(registry, PluginRegistry):
        msg = (
            f"execute: registry must be a PluginRegistry (PluginRegistry.from_environment()); got "
            f"{type(registry).__name__} {short_repr(registry)}"
        )
        raise TypeError(msg)
    _check_flags("execute", overwrite=overwrite, resume=resume, model=model)
    given = None if output_dir is None else _check_folder_arg("execute", output_dir)
    output_dir = Path(given or config.output.dir or Path("runs") / config.name)
    if resume and config.sweep is None:
        msg = f"{config.source}: --resume continues an interrupted sweep, and this run file has no sweep section"
        raise ConfigError(msg)
    check_output_dir(output_dir, overwrite=overwrite, writes=planned_names(config, model=model))
    if config.sweep is not None:
        return _execute_sweep(config, registry, output_dir, start, overwrite=overwrite, resume=resume)
    recommender = Recommender.from_config(config, registry=registry)
    compared = _compared_runs(config, recommender.evaluation.compare, registry)
    try:
        return _execute_run(
            config, registry, recommender, output_dir, start, compared, overwrite=overwrite, model=model
        )
    finally:
        close_executor(recommender.executor, recommender._who(recommender.executor))  # a cluster connection ends


def _compared_runs(config: RunConfig, folders: list[Path], registry: PluginRegistry) -> list[RunScores]:
    """Read the ``evaluation.compare`` folders before any work: a typo fails at once, not after the evaluation.

    Raises
    ------
    ConfigError
        Naming the run file, the entry and what is wrong with its folder (missing, no
        ``per_user.csv``, malformed).
    """
    runs = []
    for i, folder in enumerate(folders):
        try:
            runs.append(RunScores.from_run_dir(Path(folder), registry=registry))
        except DataError as exc:
            msg = f"{config.source}: evaluation.compare[{i}]: {exc}"
            raise ConfigError(msg) from exc
    return runs


def _execute_run(
    config: RunConfig,
    registry: PluginRegistry,
    recommender: Recommender,
    output_dir: Path,
    start: float,
    compared: list[RunScores],
    *,
    overwrite: bool,
    model: bool,
) -> RunOutcome:
    """Fit (and evaluate) `recommender` built from `config`, then write the run's files into `output_dir`.

    `compared` are the ``evaluation.compare`` runs, read before any work.
    """
    interactions = recommender.load_data()
    fingerprint = interactions.fingerprint()  # once: run.json, the comparisons and the evaluation's record
    evaluation = None
    if recommender.splitter is not None:
        evaluation = recommender._evaluate(interactions, None, fingerprint)
    else:
        recommender.fit(interactions)
    files: dict[str, str | bytes | Path] = {CONFIG: config.to_yaml()}
    if config.output.recommendations:
        files[RECOMMENDATIONS] = recommendations_csv(recommender.recommend_all(config.output.n))
    if evaluation is not None:
        files.update(evaluation_files(evaluation, recommender.evaluation))
        settings = recommender.evaluation
        if compared:
            origin = provenance(
                config.to_dict(),
                {"data_fingerprint": f"sha256:{fingerprint}", "n_interactions": len(interactions)},
                registry,
            )
            comparison = compare_with(
                evaluation, config.name, compared, origin, alpha=settings.alpha,
                test=settings.significance_test, seed=config.seed, allow_different_data=settings.allow_different_data,
            )
            files[COMPARISON_MD] = comparison.to_markdown()
            files[COMPARISON_JSON] = _json(comparison.to_dict(), COMPARISON_JSON)
            files[COMPARISON_HTML] = comparison_report(comparison).render()
        if config.output.report:
            filters = [step.to_dict() for step in recommender.filter_report]
            files.update(_report_files(run_report(config, evaluation, describe(interactions), filters)))
    seconds = time.perf_counter() - start
    record = run_record(config, registry, fingerprint, len(interactions), seconds, recommender.timings)
    record["filters"] = [step.to_dict() for step in recommender.filter_report]
    record["data"] = describe(interactions)
    with tempfile.TemporaryDirectory(prefix="recframe-model-") as folder:
        if model:
            try:
                saved: Path | None = recommender.save(Path(folder) / MODEL_DIR)
            except PluginError as exc:  # a component that can't be saved: the run still counts
                logger.warning("model/ not saved: %s", exc)
                record["model"] = {"saved": False, "reason": str(exc)}
                saved = None
            except RecframeError as exc:
                if not isinstance(exc.__cause__, OSError):
                    raise
                error = exc.__cause__
                msg = f"{output_dir}: can't write the run's files: {error.strerror or error}"
                raise RecframeError(msg) from error
            if saved is not None:
                record["model"] = {
                    "saved": True,
                    "folder": MODEL_DIR,
                    "trained_on": "all the data" if evaluation is None else "the training part of the last split",
                    "data_fingerprint": f"sha256:{recommender.data_fingerprint}",
                }
                for path in sorted(saved.rglob("*")):
                    if path.is_file():
                        files[f"{MODEL_DIR}/{path.relative_to(saved).as_posix()}"] = path
        files[RUN] = _json(record, RUN)
        written = write_atomically(output_dir, files, overwrite=overwrite)
    return RunOutcome(output_dir, written, evaluation, recommender, seconds)


def _execute_sweep(
    config: RunConfig, registry: PluginRegistry, output_dir: Path, start: float, *, overwrite: bool, resume: bool
) -> RunOutcome:
    """Evaluate every setting of the sweep and write the tables, with each setting's files below.

    Each finished setting is kept at once in :func:`partial_dir`, so that an interrupted sweep
    (Ctrl-C, a failing setting) can be resumed; that folder is removed once the run's files are
    written.
    """
    assert config.sweep is not None
    partial = partial_dir(output_dir)
    width = len(str(len(config.sweep.settings)))
    done: dict[int, EvaluationResult] = {}
    created: list[Path] = []
    if os.path.lexists(partial):
        if not _is_real_dir(partial):
            kind = "a link" if partial.is_symlink() else "a file" if partial.is_file() else "not a folder"
            msg = (
                f"{partial}: is {kind}, not the folder where recframe keeps the finished settings of an "
                f"interrupted sweep writing to {output_dir}; move it away (recframe did not write it) or "
                f"choose another --output"
            )
            raise ConfigError(msg)
        if not resume:
            raise ConfigError(kept_sweep_message(partial, config, output_dir))  # says whose sweep it is
        done = _resumable_settings(partial, config, width)
        logger.info(
            "resuming the sweep: %d of %d settings finished in %s", len(done), len(config.sweep.settings), partial
        )
    else:
        if resume:
            logger.info("%s: no interrupted sweep to resume; starting with the first setting", partial)
        created = _start_partial(partial, config.to_yaml(), origin_record(config))
    kept = set(done)

    def keep(row: SweepRow) -> None:
        _keep_setting(partial, row, width)
        kept.add(row.number)

    try:
        result = run_sweep(config, registry, done=done, on_result=keep)
        outcome = _write_sweep(config, registry, output_dir, start, result, width, overwrite=overwrite)
    except BaseException:
        if kept:
            logger.warning(
                "sweep stopped: %d of %d settings are finished and kept in %s; run the same command with "
                "--resume to continue", len(kept), len(config.sweep.settings), partial,
            )
        else:
            _remove_partial(partial, created)
        raise
    _remove_partial(partial, created)
    return outcome


def _write_sweep(
    config: RunConfig,
    registry: PluginRegistry,
    output_dir: Path,
    start: float,
    result: SweepResult,
    width: int,
    *,
    overwrite: bool,
) -> RunOutcome:
    """Write a finished sweep's tables and each setting's files into `output_dir`."""
    files: dict[str, str | bytes] = {
        CONFIG: config.to_yaml(),
        SWEEP_CSV: result.to_csv(),
        SWEEP_MD: result.to_markdown(),
        SWEEP_JSON: _json(result.to_dict(), SWEEP_JSON),
    }
    for row in result.rows:
        folder = f"{SETTINGS_DIR}/{row.number:0{width}d}"
        files[f"{folder}/{CONFIG}"] = row.config.to_yaml()
        assert row.config.evaluation is not None
        for name, text in evaluation_files(row.result, row.config.evaluation.settings).items():
            files[f"{folder}/{name}"] = text
    if config.output.report:
        files.update(_report_files(sweep_report(config, result)))
    seconds = time.perf_counter() - start
    record = run_record(config, registry, "", 0, seconds, {})
    shared = f"sha256:{result.data_fingerprint}" if result.data_fingerprint else None
    record.update(data_fingerprint=shared, n_interactions=None,
                  sweep={"settings": len(result.rows), "params": result.params})
    files[RUN] = _json(record, RUN)
    written = write_atomically(output_dir, files, overwrite=overwrite)
    return RunOutcome(output_dir, written, None, result.last, seconds, sweep=result)
