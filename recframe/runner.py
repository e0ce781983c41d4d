"""``recframe run``: fit, evaluate and write a run's files, all or nothing.

Every file is first written into a staging folder beside the output folder and moved into place
only when all of them are complete, so a failure never leaves half-written outputs.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import platform
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from recframe._version import __version__
from recframe.config import EvaluationSettings, RunConfig
from recframe.data_report import describe
from recframe.errors import RecframeError
from recframe.evaluation.compare import compare_with
from recframe.evaluation.report import CHARTS_DIR, Report, run_report, sweep_report
from recframe.pipeline import Recommender
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult, RankedLists
from recframe.sweep import SweepResult, run_sweep

logger = logging.getLogger(__name__)

RECOMMENDATIONS = "recommendations.csv"
METRICS = "metrics.json"
CONFIG = "config.yaml"
RUN = "run.json"
PER_USER = "per_user.csv"
COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"
SWEEP_CSV = "sweep.csv"
SWEEP_MD = "sweep.md"
SWEEP_JSON = "sweep.json"
SETTINGS_DIR = "settings"
REPORT = "report.html"
RUN_FILES = (
    CONFIG, RECOMMENDATIONS, METRICS, PER_USER, COMPARISON_MD, COMPARISON_JSON, SWEEP_CSV, SWEEP_MD, SWEEP_JSON,
    REPORT, RUN,
)
"""Every file a run may write."""


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


def execute(config: RunConfig, registry: PluginRegistry, output_dir: Path | None = None) -> RunOutcome:
    """Run a validated config: fit (and evaluate), then write the run's files into `output_dir`.

    With an ``evaluation`` section the recommender is fitted on the training part of the split
    and evaluated; the written recommendations come from that same fitted model. Without one
    it is fitted on all the data.

    Raises
    ------
    ConfigError
        If the config has no data section.
    DataError, PluginError
        As raised by the components; nothing is written then.
    RecframeError
        If the output folder can't be written.
    """
    start = time.perf_counter()
    output_dir = Path(output_dir or config.output.dir or Path("runs") / config.name)
    if config.sweep is not None:
        return _execute_sweep(config, registry, output_dir, start)
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
            comparison = compare_with(
                evaluation, config.name, settings.compare, alpha=settings.alpha, test=settings.significance_test,
                seed=config.seed,
            )
            files[COMPARISON_MD] = comparison.to_markdown()
            files[COMPARISON_JSON] = _json(comparison.to_dict())
        if config.output.report:
            filters = [step.to_dict() for step in recommender.filter_report]
            files.update(_report_files(run_report(config, evaluation, describe(interactions), filters)))
    seconds = time.perf_counter() - start
    record = run_record(config, recommender, registry, interactions.fingerprint(), len(interactions), seconds)
    record["filters"] = [step.to_dict() for step in recommender.filter_report]
    record["data"] = describe(interactions)
    files[RUN] = _json(record)
    written = write_atomically(output_dir, files)
    return RunOutcome(output_dir, written, evaluation, recommender, seconds)


def _report_files(report: Report) -> dict[str, str | bytes]:
    return {REPORT: report.render(), **report.charts}


def evaluation_files(evaluation: EvaluationResult, settings: EvaluationSettings) -> dict[str, str]:
    """Return ``metrics.json`` and, unless switched off, ``per_user.csv`` of an evaluation."""
    files = {METRICS: _json(evaluation.summary())}
    if settings.per_user:
        files[PER_USER] = per_user_csv(evaluation)
    return files


def _execute_sweep(config: RunConfig, registry: PluginRegistry, output_dir: Path, start: float) -> RunOutcome:
    """Evaluate every setting of the sweep and write the tables, with each setting's files below."""
    result = run_sweep(config, registry)
    files: dict[str, str | bytes] = {
        CONFIG: config.to_yaml(),
        SWEEP_CSV: result.to_csv(),
        SWEEP_MD: result.to_markdown(),
        SWEEP_JSON: _json(result.to_dict()),
    }
    for row in result.rows:
        folder = f"{SETTINGS_DIR}/{row.number:0{len(str(len(result.rows)))}d}"
        files[f"{folder}/{CONFIG}"] = row.config.to_yaml()
        assert row.config.evaluation is not None
        for name, text in evaluation_files(row.result, row.config.evaluation.settings).items():
            files[f"{folder}/{name}"] = text
    if config.output.report:
        files.update(_report_files(sweep_report(config, result)))
    last = result.last
    seconds = time.perf_counter() - start
    record = run_record(config, last, registry, "", 0, seconds)
    record.update(data_fingerprint=None, n_interactions=None, timings_s={"total": round(seconds, 4)},
                  sweep={"settings": len(result.rows), "params": result.params})
    files[RUN] = _json(record)
    written = write_atomically(output_dir, files)
    return RunOutcome(output_dir, written, None, last, seconds, sweep=result)


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
    recommender: Recommender,
    registry: PluginRegistry,
    fingerprint: str,
    n_interactions: int,
    seconds: float,
) -> dict[str, Any]:
    """Return the provenance of a run: versions, seed, data fingerprint and timings."""
    components: dict[str, Any] = {}
    roles: Mapping[str, Any] = {
        "data": recommender.data,
        "matrix": recommender.matrix,
        "similarity": recommender.similarity,
        "ranker": recommender.ranker,
        "ranker.fallback": recommender.fallback,
        "evaluation.split": recommender.splitter,
    }
    for role, component in roles.items():
        if component is None:
            continue
        entry = registry.entry(component.kind, component.name)
        components[role] = {"type": component.name, "package": entry.plugin.package, "version": entry.plugin.version}
    return {
        "name": config.name,
        "config_file": config.source,
        "seed": config.seed,
        "recframe_version": __version__,
        "components": components,
        "libraries": {name: _version(name) for name in ("numpy", "scipy", "scikit-learn", "pydantic")},
        "python": platform.python_version(),
        "data_fingerprint": f"sha256:{fingerprint}",
        "n_interactions": n_interactions,
        "timings_s": {k: round(v, 4) for k, v in {**recommender.timings, "total": seconds}.items()},
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _json(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def write_atomically(
    output_dir: Path, files: Mapping[str, str | bytes], stale: Sequence[str] = (*RUN_FILES, SETTINGS_DIR, CHARTS_DIR)
) -> list[Path]:
    """Write every file into `output_dir` only once all of them have been written in full.

    The files are written into a staging folder next to `output_dir`; names may contain ``/``
    (a sweep's ``settings/01/metrics.json``). A new `output_dir` is that folder, renamed; an
    existing one gets each top-level file renamed into place and each top-level folder
    replaced whole, and the `stale` entries of an earlier run that this run did not write (by
    default the run files and a sweep's ``settings`` folder) are removed, so the folder never
    mixes two runs. On a failure before the renames the staging folder is removed and
    `output_dir` is left as it was.

    Raises
    ------
    RecframeError
        If the files can't be written (the message names the folder and the system error).
    """
    staging = output_dir.parent / f".{output_dir.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    created = [folder for folder in output_dir.parents if not folder.exists()]  # nearest first
    done = False
    try:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            with (staging / name).open("wb") as fh:
                fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        if not output_dir.exists():
            staging.rename(output_dir)
        else:
            if not output_dir.is_dir():
                msg = f"{output_dir}: exists and is not a folder; choose another --output"
                raise RecframeError(msg)
            entries = dict.fromkeys(name.split("/")[0] for name in files)  # top-level files and folders
            retired = staging / ".retired"
            retired.mkdir()
            for entry in (*entries, *(s for s in stale if s not in entries)):
                if (output_dir / entry).is_dir():  # a folder is replaced whole: move the old one out first
                    (output_dir / entry).rename(retired / entry)
                elif entry not in entries:
                    (output_dir / entry).unlink(missing_ok=True)
            for entry in entries:
                os.replace(staging / entry, output_dir / entry)
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
