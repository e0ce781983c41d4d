"""What the reports read of a sweep's results, as protocols: its settings, their evaluations, the best.

:func:`~recframe.evaluation.report.sweep_report` and its charts read a
:class:`recframe.runner.sweep.SweepResult` through these protocols (see :class:`SweepTable`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from recframe.results import EvaluationResult


class SweepSetting(Protocol):
    """One setting of a sweep, as the sweep report reads it (a :class:`recframe.runner.sweep.SweepRow`)."""

    @property
    def number(self) -> int:
        """The setting's number, from 1."""

    @property
    def values(self) -> tuple[Any, ...]:
        """The swept keys' values."""

    @property
    def result(self) -> EvaluationResult:
        """The setting's evaluation."""


class SweepTable(Protocol):
    """A sweep's results, as the sweep report reads them (a :class:`recframe.runner.sweep.SweepResult`).

    A protocol rather than the class: the sweep runs pipelines, which use this package's
    protocol checks, so importing it here would make a cycle.
    """

    @property
    def params(self) -> list[str]:
        """The swept keys."""

    @property
    def rows(self) -> Sequence[SweepSetting]:
        """One per setting, in grid order."""

    @property
    def best(self) -> Mapping[str, int]:
        """For each metric label, the number of its best setting."""

    @property
    def metrics(self) -> list[str]:
        """The metric labels."""


def spread_words(rows: Sequence[SweepSetting], one: str, same: str, mixed: str) -> str:
    """Return what a sweep table's ``±`` shows, in the words given for each case.

    `one`: every setting was evaluated on a single split; `same`: every setting on the same
    number of folds, put in its ``{}``; `mixed`: the settings split differently (a swept split).
    """
    folds = {len(row.result.folds) for row in rows}
    if len(folds) > 1:
        return mixed
    n = folds.pop() if folds else 1
    return one if n == 1 else same.format(n)
