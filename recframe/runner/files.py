"""The files of a run folder: their names, and rendering recommendations, metrics and reports as text."""

from __future__ import annotations

import csv
import io

from recframe.config import EvaluationSettings, RunConfig
from recframe.errors import RecframeError
from recframe.evaluation.html_page import CHARTS_DIR, Report
from recframe.jsonio import write_json
from recframe.results import EvaluationResult, RankedLists

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
MODEL_DIR = "model"
"""The folder of a run's saved model (``Recommender.load`` reads it)."""
RUN_FILES = (
    CONFIG, RECOMMENDATIONS, METRICS, PER_USER, COMPARISON_MD, COMPARISON_JSON, COMPARISON_HTML, SWEEP_CSV, SWEEP_MD,
    SWEEP_JSON, REPORT, RUN, MANIFEST,
)
"""Every file a run may write."""


def _report_files(report: Report) -> dict[str, str | bytes]:
    return {REPORT: report.render(), **report.charts}


def evaluation_files(evaluation: EvaluationResult, settings: EvaluationSettings) -> dict[str, str]:
    """Return ``metrics.json`` and, unless switched off, ``per_user.csv`` of an evaluation."""
    files = {METRICS: _json(evaluation.summary(), METRICS)}
    if settings.per_user:
        files[PER_USER] = per_user_csv(evaluation)
    return files


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


def _json(data: object, name: str) -> str:
    """Return the text of the run file `name`; a non-finite number in it is a RecframeError (exit 1)."""
    try:
        return write_json(data, what=name)
    except ValueError as exc:
        raise RecframeError(str(exc)) from exc


def planned_names(config: RunConfig, *, model: bool = False) -> list[str]:
    """Return the top-level names a run of `config` writes into its folder (folders end in ``/``).

    With `model`, a run that is not a sweep also writes its saved model (``model/``).
    """
    names = [CONFIG, RUN, MANIFEST]
    if model and config.sweep is None:
        names.append(f"{MODEL_DIR}/")
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
