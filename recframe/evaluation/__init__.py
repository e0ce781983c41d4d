"""Offline evaluation: matching ranked lists against held-out interactions, and comparing runs."""

from __future__ import annotations

from recframe.evaluation.compare import compare, compare_run_dirs
from recframe.evaluation.comparison_tables import Comparison
from recframe.evaluation.protocol import HeldOut, held_out, metric_input
from recframe.evaluation.run_provenance import provenance
from recframe.evaluation.run_scores import RunScores
from recframe.evaluation.significance import holm

__all__ = [
    "Comparison",
    "HeldOut",
    "RunScores",
    "compare",
    "compare_run_dirs",
    "held_out",
    "holm",
    "metric_input",
    "provenance",
]
