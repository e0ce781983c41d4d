"""``recframe run``: fit, evaluate and write a run's files, all or nothing.

Every file is first written into a staging folder beside the output folder and moved into place
only when all of them are complete, so a failure never leaves half-written outputs. Each run
folder holds a ``manifest.json`` listing the files recframe wrote there: a folder that is not
empty is written into only with ``overwrite``, and then only the files of that list are
replaced or removed, never anything else. A sweep keeps each finished setting beside the
output folder (:func:`partial_dir`) until it is done, so an interrupted sweep can be resumed.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import platform
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from recframe._version import __version__
from recframe.config import ComponentSpec, EvaluationSettings, RunConfig
from recframe.data_report import describe
from recframe.errors import ConfigError, DataError, RecframeError, short_repr, short_text
from recframe.evaluation.compare import compare_with, provenance
from recframe.evaluation.report import CHARTS_DIR, Report, comparison_report, run_report, sweep_report
from recframe.jsonio import read_json, write_json
from recframe.pipeline import Recommender
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult, RankedLists
from recframe.sweep import (
    PARTIAL_ORIGIN,
    SweepResult,
    SweepRow,
    kept_for_other_run_file,
    kept_sweep_message,
    origin_record,
    result_from_json,
    result_to_json,
    run_sweep,
)

logger = logging.getLogger(__name__)

RECOMMENDATIONS = "recommendations.csv"
METRICS = "metrics.json"
CONFIG = "config.yaml"
RUN = "run.json"
PER_USER = "per_user.csv"
COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"
COMPARISON_HTML = "comparison.html"
SWEEP_CSV = "sweep.csv"
SWEEP_MD = "sweep.md"
SWEEP_JSON = "sweep.json"
SETTINGS_DIR = "settings"
REPORT = "report.html"
MANIFEST = "manifest.json"
RUN_FILES = (
    CONFIG, RECOMMENDATIONS, METRICS, PER_USER, COMPARISON_MD, COMPARISON_JSON, COMPARISON_HTML, SWEEP_CSV, SWEEP_MD,
    SWEEP_JSON, REPORT, RUN, MANIFEST,
)
"""Every file a run may write."""
MAX_MANIFEST_BYTES = 64 << 20
"""The largest ``manifest.json`` recframe reads (one it wrote lists a few thousand names)."""


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
) -> RunOutcome:
    """Run a validated config: fit (and evaluate), then write the run's files into `output_dir`.

    With an ``evaluation`` section the recommender is fitted on the training part of the split
    and evaluated; the written recommendations come from that same fitted model. Without one
    it is fitted on all the data.

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
    _check_flags("execute", overwrite=overwrite, resume=resume)
    given = None if output_dir is None else _check_folder_arg("execute", output_dir)
    output_dir = Path(given or config.output.dir or Path("runs") / config.name)
    if resume and config.sweep is None:
        msg = f"{config.source}: --resume continues an interrupted sweep, and this run file has no sweep section"
        raise ConfigError(msg)
    check_output_dir(output_dir, overwrite=overwrite, writes=planned_names(config))
    if config.sweep is not None:
        return _execute_sweep(config, registry, output_dir, start, overwrite=overwrite, resume=resume)
    recommender = Recommender.from_config(config, registry=registry)
    interactions = recommender.load_data()
    evaluation = None
    if recommender.splitter is not None:
        evaluation = recommender.evaluate(interactions)
    else:
        recommender.fit(interactions)
    files: dict[str, str | bytes] = {CONFIG: config.to_yaml()}
    if config.output.recommendations:
        files[RECOMMENDATIONS] = recommendations_csv(recommender.recommend_all(config.output.n))
    if evaluation is not None:
        files.update(evaluation_files(evaluation, recommender.evaluation))
        settings = recommender.evaluation
        if settings.compare:
            origin = provenance(
                config.to_dict(),
                {"data_fingerprint": f"sha256:{interactions.fingerprint()}", "n_interactions": len(interactions)},
                registry,
            )
            comparison = compare_with(
                evaluation, config.name, settings.compare, origin, registry, alpha=settings.alpha,
                test=settings.significance_test, seed=config.seed, allow_different_data=settings.allow_different_data,
            )
            files[COMPARISON_MD] = comparison.to_markdown()
            files[COMPARISON_JSON] = _json(comparison.to_dict(), COMPARISON_JSON)
            files[COMPARISON_HTML] = comparison_report(comparison).render()
        if config.output.report:
            filters = [step.to_dict() for step in recommender.filter_report]
            files.update(_report_files(run_report(config, evaluation, describe(interactions), filters)))
    seconds = time.perf_counter() - start
    record = run_record(config, registry, interactions.fingerprint(), len(interactions), seconds, recommender.timings)
    record["filters"] = [step.to_dict() for step in recommender.filter_report]
    record["data"] = describe(interactions)
    files[RUN] = _json(record, RUN)
    written = write_atomically(output_dir, files, overwrite=overwrite)
    return RunOutcome(output_dir, written, evaluation, recommender, seconds)


def _check_flags(function: str, **flags: object) -> None:
    """Raise a TypeError naming the first of `flags` that is not a bool (``overwrite="no"`` is not false)."""
    for name, value in flags.items():
        if not isinstance(value, bool):
            msg = f"{function}: {name} must be True or False; got {type(value).__name__} {short_repr(value)}"
            raise TypeError(msg)


def _check_folder_arg(function: str, value: object) -> Path:
    """Return `value` as a Path if it is a str or path-like of text; else raise a TypeError naming it."""
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str) and path:
            return Path(path)
    msg = (
        f"{function}: output_dir must be a folder path (str or pathlib.Path, not empty); got "
        f"{type(value).__name__} {short_repr(value)}"
    )
    raise TypeError(msg)


def _report_files(report: Report) -> dict[str, str | bytes]:
    return {REPORT: report.render(), **report.charts}


def evaluation_files(evaluation: EvaluationResult, settings: EvaluationSettings) -> dict[str, str]:
    """Return ``metrics.json`` and, unless switched off, ``per_user.csv`` of an evaluation."""
    files = {METRICS: _json(evaluation.summary(), METRICS)}
    if settings.per_user:
        files[PER_USER] = per_user_csv(evaluation)
    return files


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
    record.update(data_fingerprint=None, n_interactions=None,
                  sweep={"settings": len(result.rows), "params": result.params})
    files[RUN] = _json(record, RUN)
    written = write_atomically(output_dir, files, overwrite=overwrite)
    return RunOutcome(output_dir, written, None, result.last, seconds, sweep=result)


PARTIAL_DEFINITION = "sweep.yaml"
RESULT = "result.json"


def partial_dir(output_dir: Path) -> Path:
    """Return where a sweep writing to `output_dir` keeps its finished settings until it is done.

    That is ``.<name>.partial`` beside the output folder, so an interrupted sweep never
    touches the output folder (nor an earlier run in it).
    """
    resolved = output_dir.resolve()
    return resolved.parent / f".{resolved.name or 'run'}.partial"


def _start_partial(partial: Path, definition: str, origin: str = "") -> list[Path]:
    """Create `partial` holding the sweep's resolved run file and `origin`; return the parent folders created."""
    created = [folder for folder in partial.parents if not folder.exists()]
    staging = partial.parent / f"{partial.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        staging.mkdir(parents=True)
        _write_file(staging / PARTIAL_DEFINITION, definition)
        if origin:
            _write_file(staging / PARTIAL_ORIGIN, origin)
        staging.rename(partial)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        msg = f"{partial}: can't keep the sweep's progress there: {exc.strerror or exc}"
        raise RecframeError(msg) from exc
    return created


def _keep_setting(partial: Path, row: SweepRow, width: int) -> None:
    """Write one finished setting into ``partial/settings/NN`` all at once."""
    name = f"{row.number:0{width}d}"
    folder = partial / SETTINGS_DIR / name
    staging = partial / SETTINGS_DIR / f".{name}.tmp"
    try:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        _write_file(staging / CONFIG, row.config.to_yaml())
        _write_file(staging / RESULT, result_to_json(row.result))
        if folder.is_symlink() or folder.is_file():  # not a folder recframe kept: the link goes, not its target
            folder.unlink()
        elif folder.exists():  # a setting whose stored result could not be read, evaluated again
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        msg = f"{folder}: can't keep the finished setting: {exc.strerror or exc}"
        raise RecframeError(msg) from exc


def _resumable_settings(partial: Path, config: RunConfig, width: int) -> dict[int, EvaluationResult]:
    """Return the finished settings kept in `partial`, after checking they belong to this sweep.

    Raises
    ------
    ConfigError
        If the sweep's run file (or a setting's resolved config) changed since it was interrupted.
    """
    assert config.sweep is not None
    try:
        stored = (partial / PARTIAL_DEFINITION).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        msg = (
            f"{partial}: not an interrupted sweep recframe kept (no readable {PARTIAL_DEFINITION}); "
            f"remove it to start again"
        )
        raise ConfigError(msg) from exc
    other = kept_for_other_run_file(partial, config)
    if other is not None and stored != config.to_yaml():
        msg = (
            f"{partial}: the interrupted sweep kept there is of another run file, {short_text(other)}, that "
            f"writes to the same output folder; finish it with --resume on that run file, give "
            f"{short_text(config.source)} another --output, or remove that folder to start again"
        )
        raise ConfigError(msg)
    _same_definition(partial / PARTIAL_DEFINITION, stored, config.to_yaml(), partial)
    done: dict[int, EvaluationResult] = {}
    for number, (_, setting) in enumerate(config.sweep.settings, start=1):
        folder = partial / SETTINGS_DIR / f"{number:0{width}d}"
        if folder.is_symlink():
            logger.warning("%s: is a link, not a setting recframe kept; evaluating it again", folder)
            continue
        if not (folder / RESULT).is_file():
            continue
        try:
            stored_setting = (folder / CONFIG).read_text(encoding="utf-8")
            result = result_from_json(read_json(folder / RESULT, what="kept result", expect=dict))
        except (OSError, UnicodeDecodeError, ValueError, DataError) as exc:
            logger.warning("%s: can't read the kept setting (%s); evaluating it again", folder, exc)
            continue
        _same_definition(folder / CONFIG, stored_setting, setting.to_yaml(), partial)
        done[number] = result
    return done


def _same_definition(path: Path, stored: str, current: str, partial: Path) -> None:
    """Raise a ConfigError naming the first line where the kept run file differs from the current one."""
    if stored == current:
        return
    old, new = stored.splitlines(), current.splitlines()
    line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    was = old[line] if line < len(old) else "(end of file)"
    now = new[line] if line < len(new) else "(end of file)"
    msg = (
        f"{path}:{line + 1}: the sweep changed since it was interrupted: it was {was.strip()!r}, now "
        f"{now.strip()!r}; undo the change to resume it, or remove {partial} to start again"
    )
    raise ConfigError(msg)


def _remove_partial(partial: Path, created: Sequence[Path] = ()) -> None:
    """Remove a sweep's progress folder: only what recframe keeps there, then the emptied folders."""
    settings = partial / SETTINGS_DIR
    if settings.is_dir() and not settings.is_symlink():
        for folder in settings.iterdir():
            if folder.name.startswith(".") and folder.name.endswith(".tmp") and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
            elif folder.is_dir() and not folder.is_symlink():
                for name in (CONFIG, RESULT):
                    (folder / name).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    folder.rmdir()
        with contextlib.suppress(OSError):
            settings.rmdir()
    (partial / PARTIAL_DEFINITION).unlink(missing_ok=True)
    (partial / PARTIAL_ORIGIN).unlink(missing_ok=True)
    try:
        partial.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("%s: kept, as it holds files recframe did not write", partial)
        return
    for folder in created:  # nearest first
        try:
            folder.rmdir()
        except OSError:
            break


def recommendations_csv(lists: RankedLists) -> str:
    """Render ranked lists as CSV text with the columns ``user,item,rank,score``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["user", "item", "rank", "score"])
    writer.writerows((user, item, rank, repr(score)) for user, item, rank, score in lists.records())
    return buffer.getvalue()


def per_user_csv(evaluation: EvaluationResult) -> str:
    """Render each evaluated user's per-user metric values as CSV: ``fold,user,<metric>...``.

    Values are written with ``repr``, so they read back bit for bit.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    per_user = evaluation.per_user
    writer.writerow(["fold", "user", *per_user])
    columns = [values.tolist() for values in per_user.values()]
    for i, (fold, user) in enumerate(zip(evaluation.fold_of.tolist(), evaluation.users.tolist(), strict=True)):
        writer.writerow([fold, user, *(repr(column[i]) for column in columns)])
    return buffer.getvalue()


def run_record(
    config: RunConfig,
    registry: PluginRegistry,
    fingerprint: str,
    n_interactions: int,
    seconds: float,
    timings: Mapping[str, float],
) -> dict[str, Any]:
    """Return the provenance of a run: versions of every plugin used, seed, data fingerprint and timings."""
    return {
        "name": config.name,
        "config_file": config.source,
        "seed": config.seed,
        "recframe_version": __version__,
        "components": components_record(config, registry),
        "libraries": {name: _version(name) for name in ("numpy", "scipy", "scikit-learn", "pydantic")},
        "python": platform.python_version(),
        "data_fingerprint": f"sha256:{fingerprint}",
        "n_interactions": n_interactions,
        "timings_s": {k: round(v, 4) for k, v in {**timings, "total": seconds}.items()},
    }


def components_record(config: RunConfig, registry: PluginRegistry) -> dict[str, Any]:
    """Return every plugin a run uses, by its place in the run file, with its distribution and version.

    The places are dotted paths of the run file (``data``, ``data.filters[0]``, ``matrix``,
    ``similarity``, ``ranker``, ``ranker.fallback`` or ``ranker.fallback[1]`` of a chain,
    ``evaluation.split``, ``evaluation.test_data``, ``evaluation.metrics[0]``); each maps to
    ``{"type", "package", "version"}``. Of a sweep, a place whose plugin differs between
    settings maps to the list of its distinct plugins, in grid order.
    """
    configs = [setting for _, setting in config.sweep.settings] if config.sweep is not None else [config]
    merged: dict[str, list[dict[str, str]]] = {}
    for run in configs:
        for place, spec in _component_specs(run):
            entry = registry.entry(spec.kind, spec.type)
            record = {"type": spec.type, "package": entry.plugin.package, "version": entry.plugin.version}
            if record not in merged.setdefault(place, []):
                merged[place].append(record)
    return {place: records[0] if len(records) == 1 else records for place, records in merged.items()}


def _component_specs(config: RunConfig) -> list[tuple[str, ComponentSpec]]:
    """Return each component section of a run file with its dotted path."""
    specs: list[tuple[str, ComponentSpec | None]] = [("data", config.data)]
    specs += [(f"data.filters[{i}]", spec) for i, spec in enumerate(config.data_filters)]
    specs += [("matrix", config.matrix), ("similarity", config.similarity), ("ranker", config.ranker)]
    chain = config.ranker_fallbacks or ((config.ranker_fallback,) if config.ranker_fallback is not None else ())
    if len(chain) == 1:
        specs.append(("ranker.fallback", chain[0]))
    else:
        specs += [(f"ranker.fallback[{i}]", spec) for i, spec in enumerate(chain)]
    if config.evaluation is not None:
        specs += [("evaluation.split", config.evaluation.split), ("evaluation.test_data", config.evaluation.test_data)]
        specs += [(f"evaluation.metrics[{i}]", spec) for i, spec in enumerate(config.evaluation.metrics)]
    return [(place, spec) for place, spec in specs if spec is not None]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _json(data: object, name: str) -> str:
    """Return the text of the run file `name`; a non-finite number in it is a RecframeError (exit 1)."""
    try:
        return write_json(data, what=name)
    except ValueError as exc:
        raise RecframeError(str(exc)) from exc


def check_output_dir(
    output_dir: Path, *, overwrite: bool = False, writes: Sequence[str] = (), keep_others: bool = False
) -> None:
    """Refuse an output folder a run can't or must not write into, before any work is done.

    A folder that does not exist yet is fine if it can be created: no file stands where one
    of its parent folders would be, and the nearest existing one is writable (the files are
    staged beside the output folder, so its parent must be writable too). An existing folder
    must be writable. A folder that is not empty is refused unless `overwrite` is given; then
    its ``manifest.json`` (if any) must be one recframe wrote, and nothing the run `writes`
    may stand in the way: a file the manifest does not list, or a link or file where the run
    writes a folder (see :func:`planned_names`), and no symbolic link where the run would write,
    replace or remove a file (nor ``manifest.json`` itself): recframe never follows, replaces or
    removes a link. :func:`write_atomically` checks again when it writes.

    Parameters
    ----------
    output_dir : Path
        The output folder.
    overwrite : bool
        Whether an earlier run's files may be replaced.
    writes : sequence of str
        The top-level names the run will write, folders ending in ``/`` (``charts/``).
    keep_others : bool
        Whether the earlier run's files this run does not write are kept (as
        :func:`write_atomically` with `keep_others`) rather than removed.

    Raises
    ------
    ConfigError
        If `output_dir` is a file or can't be created or written, or is a folder that is not
        empty and `overwrite` is not given, or holds something in the way of the run's files.
    """
    output_dir = _check_folder_arg("check_output_dir", output_dir)
    _check_flags("check_output_dir", overwrite=overwrite, keep_others=keep_others)
    try:
        _check_creatable(output_dir)
        if not os.path.lexists(output_dir):
            return
        if not output_dir.is_dir():
            msg = f"{output_dir}: exists and is not a folder; choose another --output"
            raise ConfigError(msg)
        if not os.access(output_dir, os.W_OK | os.X_OK):
            msg = f"{output_dir}: the output folder is not writable (permission denied); choose another --output"
            raise ConfigError(msg)
        if overwrite:
            earlier = _read_manifest(output_dir)
            _check_in_the_way(output_dir, writes, earlier, keep_others=keep_others)
            return
        if any(output_dir.iterdir()):
            msg = (
                f"{output_dir}: the output folder is not empty; pass --overwrite to replace the files an "
                f"earlier run wrote there (only those listed in its {MANIFEST}; nothing else is touched), "
                f"or choose another --output"
            )
            raise ConfigError(msg)
    except OSError as exc:
        msg = f"{output_dir}: can't read the output folder: {exc.strerror or exc}; choose another --output"
        raise ConfigError(msg) from exc


MAX_NAME_BYTES = 255
"""The longest file or folder name most file systems take, in bytes."""


def _check_creatable(output_dir: Path) -> None:
    """Raise a ConfigError if `output_dir` (or the staging folder beside it) can't be created."""
    for part in output_dir.parts:
        if len(os.fsencode(part)) > MAX_NAME_BYTES:
            msg = (
                f"{short_repr(str(output_dir))}: the name {short_repr(part)} is longer than {MAX_NAME_BYTES} "
                f"bytes, more than file systems allow; choose another --output"
            )
            raise ConfigError(msg)
    for folder in output_dir.parents:  # nearest first
        if os.path.lexists(folder):
            if not folder.is_dir():
                msg = (
                    f"{folder}: is a file, not a folder, so the output folder {output_dir} can't be created "
                    f"inside it; choose another --output"
                )
                raise ConfigError(msg)
            break
    base = output_dir.resolve().parent  # where the staging folder (and a sweep's progress) goes
    existing = next((folder for folder in (base, *base.parents) if os.path.lexists(folder)), None)
    if existing is not None and not existing.is_dir():
        msg = (
            f"{existing}: is a file, not a folder, so the output folder {output_dir} can't be created "
            f"inside it; choose another --output"
        )
        raise ConfigError(msg)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        msg = (
            f"{existing}: not writable (permission denied); recframe writes the output folder {output_dir} "
            f"and stages its files beside it there; choose another --output"
        )
        raise ConfigError(msg)


def _check_in_the_way(
    output_dir: Path, writes: Sequence[str], earlier: Sequence[str], *, keep_others: bool = False
) -> None:
    """Raise a ConfigError naming what in `output_dir` an overwriting run would refuse to replace."""
    owned = set(earlier)
    tops = {name.rstrip("/") for name in writes}
    touched = [*writes] + [
        name for name in earlier if not keep_others or name.split("/")[0] in tops
    ]
    conflicts = []
    for name in writes:
        path = output_dir / name.rstrip("/")
        if not os.path.lexists(path):
            continue
        if name.endswith("/"):
            if not _is_real_dir(path):
                conflicts.append(name)
        elif name not in owned or _is_real_dir(path):
            conflicts.append(name)
    folders = tuple(name for name in writes if name.endswith("/"))
    conflicts += [name for name in earlier if name.startswith(folders) and not _owned(output_dir, name)]
    if conflicts:
        raise _in_the_way(output_dir, conflicts)
    _refuse_links(output_dir, touched)


def _link_on(output_dir: Path, name: str) -> str | None:
    """Return the first part of `name` inside `output_dir` that is a symbolic link (``charts``), or ``None``."""
    path = output_dir
    parts = name.rstrip("/").split("/")
    for i, part in enumerate(parts):
        path = path / part
        if path.is_symlink():
            return "/".join(parts[: i + 1])
        if not os.path.lexists(path):
            return None
    return None


def _refuse_links(output_dir: Path, names: Sequence[str]) -> None:
    """Raise a ConfigError naming each symbolic link on the way to `names`, which a run would write or remove."""
    links = list(dict.fromkeys(link for link in (_link_on(output_dir, name) for name in names) if link))
    if links:
        shown = ", ".join(short_repr(link) for link in links[:5]) + (
            f" and {len(links) - 5} more" if len(links) > 5 else ""
        )
        msg = (
            f"{output_dir}: {shown} {'is a symbolic link' if len(links) == 1 else 'are symbolic links'} where "
            f"this run would write, replace or remove a file; recframe never follows, replaces or removes a "
            f"link, so it won't write there; move the link away or choose another --output"
        )
        raise ConfigError(msg)


def _in_the_way(output_dir: Path, conflicts: Sequence[str]) -> ConfigError:
    shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
    msg = (
        f"{output_dir}: holds {shown}, which recframe did not write (not in its {MANIFEST}) or which is a "
        f"folder or a link, so it won't replace it; move it away or choose another --output"
    )
    return ConfigError(msg)


def planned_names(config: RunConfig) -> list[str]:
    """Return the top-level names a run of `config` writes into its folder (folders end in ``/``)."""
    names = [CONFIG, RUN, MANIFEST]
    report = config.output.report
    if config.sweep is not None:
        names += [SWEEP_CSV, SWEEP_MD, SWEEP_JSON, f"{SETTINGS_DIR}/"]
    else:
        if config.output.recommendations:
            names.append(RECOMMENDATIONS)
        if config.evaluation is None:
            report = False
        else:
            settings = config.evaluation.settings
            names += [METRICS, *([PER_USER] if settings.per_user else [])]
            if settings.compare:
                names += [COMPARISON_MD, COMPARISON_JSON, COMPARISON_HTML]
    if report:
        names += [REPORT, f"{CHARTS_DIR}/"]
    return names


def _read_manifest(output_dir: Path) -> list[str]:
    """Return the files an earlier run wrote into `output_dir`, by its manifest (none without one).

    Raises
    ------
    ConfigError
        If the manifest is not one recframe wrote: not JSON, not a list of file names, or
        naming a path outside the folder.
    """
    path = output_dir / MANIFEST
    if not os.path.lexists(path):
        return []
    _refuse_links(output_dir, [MANIFEST])  # never read (nor replace) through a link
    data = read_json(
        path, what="manifest", expect=dict, max_bytes=MAX_MANIFEST_BYTES, error=ConfigError,
        hint="it is not a manifest recframe wrote; move it away or choose another --output",
    )
    names = data.get("files")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        msg = f"{path}: not a manifest recframe wrote (no list of 'files'); move it away or choose another --output"
        raise ConfigError(msg)
    for name in names:
        problem = _unsafe_name(name)
        if problem is not None:
            msg = (
                f"{path}: lists {name!r}, which {problem}; recframe writes only inside the run folder, "
                f"so this manifest is not its own"
            )
            raise ConfigError(msg)
    return names


def _unsafe_name(name: str) -> str | None:
    """Return why `name` is not a plain relative path inside a run folder, or ``None``."""
    if not name or "\\" in name or "\0" in name:
        return "is not a plain relative path"
    pure = PurePosixPath(name)
    if pure.is_absolute() or name.startswith("~"):
        return "is an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "is not a plain relative path"
    return None


def _is_real_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _owned(output_dir: Path, name: str) -> bool:
    """Whether `name` inside `output_dir` is reached through real folders only (no link leads out).

    Folders on the way that don't exist yet are fine: they will be created.
    """
    folder = output_dir
    for part in name.split("/")[:-1]:
        folder = folder / part
        if not os.path.lexists(folder):
            return True
        if not _is_real_dir(folder):
            return False
    return True


def write_atomically(
    output_dir: Path, files: Mapping[str, str | bytes], *, overwrite: bool = False, keep_others: bool = False
) -> list[Path]:
    """Write every file into `output_dir` only once all of them have been written in full.

    The files are written into a staging folder next to `output_dir`; names may contain ``/``
    (a sweep's ``settings/01/metrics.json``). A ``manifest.json`` listing them is added. A new
    (or empty) `output_dir` receives them by renames. A folder that is not empty is refused
    unless `overwrite` is given; then the files the earlier run listed in its manifest are
    replaced or, if this run does not write them, removed (kept and still listed with
    `keep_others`, as ``recframe compare --output`` into a run folder does), and nothing else is
    touched: a file this run would write that the earlier manifest does not list is refused.
    If anything fails, every rename is undone, so `output_dir` is left as it was.

    Raises
    ------
    ConfigError
        If `output_dir` is a file, is not empty without `overwrite`, or holds files recframe did
        not write where this run writes.
    RecframeError
        If the files can't be written (the message names the folder and the system error).
    """
    output_dir = _check_folder_arg("write_atomically", output_dir)
    _check_flags("write_atomically", overwrite=overwrite, keep_others=keep_others)
    check_output_dir(output_dir, overwrite=overwrite)
    names = [*(name for name in files if name != MANIFEST), MANIFEST]
    earlier = _read_manifest(output_dir) if os.path.isdir(output_dir) else []
    kept = [name for name in earlier if name not in names] if keep_others else []
    listed = sorted({*names, *(name for name in kept if os.path.lexists(output_dir / name))})
    manifest = _json({"written_by": f"recframe {__version__}", "files": listed}, MANIFEST)
    target = output_dir.resolve()
    staging = target.parent / f".{target.name or 'run'}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    created = [folder for folder in output_dir.parents if not folder.exists()]  # nearest first
    done = False
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, text in {**files, MANIFEST: manifest}.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            _write_file(staging / name, text)
        if not os.path.lexists(output_dir):
            staging.rename(output_dir)
        else:
            _move_into(output_dir, staging, names, [name for name in earlier if name not in kept])
        done = True
        return [output_dir / name for name in files]
    except OSError as exc:
        msg = f"{output_dir}: can't write the run's files: {exc.strerror or exc}"
        raise RecframeError(msg) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done:  # remove the parent folders this call created
            for folder in created:
                try:
                    folder.rmdir()
                except OSError:
                    break


def _move_into(output_dir: Path, staging: Path, names: Sequence[str], earlier: Sequence[str]) -> None:
    """Move the staged `names` into the existing `output_dir`, retiring the `earlier` run's files.

    Every rename is recorded and undone in reverse order if any step fails (or is
    interrupted), so the folder ends either as it was or with the new run complete.
    """
    owned = set(earlier)
    conflicts = [
        name for name in names
        if not _owned(output_dir, name)
        or (os.path.lexists(output_dir / name) and (name not in owned or _is_real_dir(output_dir / name)))
    ]
    if conflicts:
        raise _in_the_way(output_dir, conflicts)
    _refuse_links(output_dir, [*names, *earlier])  # every file replaced or removed; before any move
    retired = staging / ".retired"
    retired.mkdir()
    moves: list[tuple[Path, Path]] = []
    made: list[Path] = []
    try:
        for number, name in enumerate(sorted(owned)):
            old = output_dir / name
            if _owned(output_dir, name) and os.path.lexists(old) and not _is_real_dir(old):
                os.replace(old, retired / str(number))
                moves.append((old, retired / str(number)))
        for name in names:
            folder = output_dir
            for part in name.split("/")[:-1]:
                folder = folder / part
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            os.replace(staging / name, output_dir / name)
            moves.append((staging / name, output_dir / name))
    except BaseException:
        for source, moved in reversed(moves):
            with contextlib.suppress(OSError):
                os.replace(moved, source)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for name in sorted(owned - set(names), key=lambda n: -n.count("/")):  # folders the earlier run alone used
        folder = (output_dir / name).parent
        while folder != output_dir:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _write_file(path: Path, text: str | bytes) -> None:
    with path.open("wb") as fh:
        fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())
