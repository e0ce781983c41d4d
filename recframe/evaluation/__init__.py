"""Offline evaluation: matching ranked lists against held-out interactions, and comparing runs."""

from recframe.evaluation.compare import Comparison, RunScores, compare, compare_run_dirs, holm, provenance
from recframe.evaluation.protocol import HeldOut, held_out, metric_input

__all__ = [
    "Comparison", "HeldOut", "RunScores", "compare", "compare_run_dirs", "held_out", "holm", "metric_input",
    "provenance",
]
