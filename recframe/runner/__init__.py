"""``recframe run``: fit, evaluate and write a run's files, all or nothing.

Every file is first written into a staging folder beside the output folder and moved into place
only when all of them are complete, so a failure never leaves half-written outputs. Each run
folder holds a ``manifest.json`` listing the files recframe wrote there: a folder that is not
empty is written into only with ``overwrite``, and then only the files of that list are
replaced or removed, never anything else. A sweep keeps each finished setting beside the
output folder (:func:`partial_dir`) until it is done, so an interrupted sweep can be resumed.

The package splits that work by concern: :mod:`~recframe.runner.execute` (the run and the sweep),
:mod:`~recframe.runner.folder` (the output folder checks, the manifest and the all-or-nothing
write), :mod:`~recframe.runner.files` (the file names and rendering), :mod:`~recframe.runner.partial`
(a sweep's kept progress), :mod:`~recframe.runner.record` (``run.json``'s provenance),
:mod:`~recframe.runner.sweep` (evaluating every setting of a sweep grid) and
:mod:`~recframe.runner.sweep_resume` (what resuming an interrupted sweep reads back).
"""

from __future__ import annotations

from recframe.runner.execute import RunOutcome, execute
from recframe.runner.files import (
    COMPARISON_HTML,
    COMPARISON_JSON,
    COMPARISON_MD,
    CONFIG,
    MANIFEST,
    METRICS,
    PER_USER,
    RECOMMENDATIONS,
    REPORT,
    RUN,
    RUN_FILES,
    SETTINGS_DIR,
    SWEEP_CSV,
    SWEEP_JSON,
    SWEEP_MD,
    evaluation_files,
    per_user_csv,
    planned_names,
    recommendations_csv,
)
from recframe.runner.folder import MAX_MANIFEST_BYTES, MAX_NAME_BYTES, check_output_dir, write_atomically
from recframe.runner.partial import PARTIAL_DEFINITION, RESULT, partial_dir
from recframe.runner.record import components_record, run_record

__all__ = [
    "COMPARISON_HTML", "COMPARISON_JSON", "COMPARISON_MD", "CONFIG", "MANIFEST", "MAX_MANIFEST_BYTES", "MAX_NAME_BYTES",
    "METRICS", "PARTIAL_DEFINITION", "PER_USER", "RECOMMENDATIONS", "REPORT", "RESULT", "RUN", "RUN_FILES",
    "SETTINGS_DIR", "SWEEP_CSV", "SWEEP_JSON", "SWEEP_MD", "RunOutcome", "check_output_dir", "components_record",
    "evaluation_files", "execute", "partial_dir", "per_user_csv", "planned_names", "recommendations_csv", "run_record",
    "write_atomically",
]
