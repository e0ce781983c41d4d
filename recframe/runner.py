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
from recframe.config import RunConfig
from recframe.errors import RecframeError
from recframe.evaluation.compare import compare_with
from recframe.pipeline import Recommender
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult, RankedLists

logger = logging.getLogger(__name__)

RECOMMENDATIONS = "recommendations.csv"
METRICS = "metrics.json"
CONFIG = "config.yaml"
RUN = "run.json"
PER_USER = "per_user.csv"
COMPARISON_MD = "comparison.md"
COMPARISON_JSON = "comparison.json"
RUN_FILES = (CONFIG, RECOMMENDATIONS, METRICS, PER_USER, COMPARISON_MD, COMPARISON_JSON, RUN)
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
        The fitted recommender.
    seconds : float
        Wall time of the whole run.
    """

    output_dir: Path
    files: list[Path]
    evaluation: EvaluationResult | None
    recommender: Recommender
    seconds: float


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
    recommender = Recommender.from_config(config, registry=registry)
    interactions = recommender.load_data()
    evaluation = None
    if recommender.splitter is not None:
        evaluation = recommender.evaluate(interactions)
    else:
        recommender.fit(interactions)
    files: dict[str, str] = {CONFIG: config.to_yaml()}
    if config.output.recommendations:
        files[RECOMMENDATIONS] = recommendations_csv(recommender.recommend_all(config.output.n))
    if evaluation is not None:
        files[METRICS] = _json(evaluation.summary())
        if recommender.evaluation.per_user:
            files[PER_USER] = per_user_csv(evaluation)
        settings = recommender.evaluation
        if settings.compare:
            comparison = compare_with(
                evaluation, config.name, settings.compare, alpha=settings.alpha, test=settings.significance_test,
                seed=config.seed,
            )
            files[COMPARISON_MD] = comparison.to_markdown()
            files[COMPARISON_JSON] = _json(comparison.to_dict())
    seconds = time.perf_counter() - start
    record = run_record(config, recommender, registry, interactions.fingerprint(), len(interactions), seconds)
    files[RUN] = _json(record)
    written = write_atomically(output_dir, files)
    return RunOutcome(output_dir, written, evaluation, recommender, seconds)


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


def write_atomically(output_dir: Path, files: Mapping[str, str], stale: Sequence[str] = RUN_FILES) -> list[Path]:
    """Write every file into `output_dir` only once all of them have been written in full.

    The files are written into a staging folder next to `output_dir`. A new `output_dir` is
    that folder, renamed; an existing one gets each file renamed into place, and the `stale`
    files of an earlier run that this run did not write (by default the run files, e.g. the
    ``metrics.json`` of an evaluated run) are removed, so the folder never mixes two runs. On
    any failure the staging folder is removed and `output_dir` is left as it was.

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
            with (staging / name).open("w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        if not output_dir.exists():
            staging.rename(output_dir)
        else:
            if not output_dir.is_dir():
                msg = f"{output_dir}: exists and is not a folder; choose another --output"
                raise RecframeError(msg)
            for name in files:
                os.replace(staging / name, output_dir / name)
            for name in stale:
                if name not in files:
                    (output_dir / name).unlink(missing_ok=True)
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
