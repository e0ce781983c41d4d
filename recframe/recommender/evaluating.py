"""Evaluating a recommender: split the data, fit on each training part, score its test users.

:class:`EvaluationMethods` runs the evaluation protocol of the ``evaluation`` section: the
splitter's folds (or a predefined test part), the protocol checks, and the metrics of ranking
and of rating prediction. Folds are independent: with an executor that runs blocks side by
side, each is a task (:func:`_fold_task`) run on a serial twin of the recommender.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from recframe.data import IdIndex, Interactions
from recframe.errors import ConfigError, DataError, short_repr
from recframe.evaluation import held_out, metric_input
from recframe.evaluation.leakage import protocol_warnings
from recframe.evaluation.protocol import usage
from recframe.interfaces import ComponentConfig, Executor, RatedPairs, Splitter, SupportsPredict
from recframe.interfaces.calls import calling, checked_interactions
from recframe.interfaces.checks import check_interactions, check_split
from recframe.interfaces.value_checks import check_metric
from recframe.recommender.block_runs import run_blocks
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.querying import QueryMethods
from recframe.registry import builtin_registry
from recframe.results import EvaluationResult, FoldResult

logger = logging.getLogger(__name__)


class EvaluationMethods(QueryMethods):
    """The evaluation part of :class:`~recframe.recommender.Recommender`."""

    def evaluate(self, data: object | None = None, *, test: object | None = None) -> EvaluationResult:
        """Split the data, fit on each training part and score the rankings of its test users.

        Every split of the splitter is evaluated (one, or each fold of ``kfold``). Test users
        unknown in training are served by the fallback ranker, or skipped (and counted) when
        there is none; users without a relevant held-out item are not evaluated. The protocol
        check's findings are logged as warnings and kept in the result.

        With an executor that runs blocks side by side and more than one split, each fold is
        one task of the executor (fitted and scored serially inside it: a task never submits
        tasks), gathered in fold order: the same results as one fold after another.

        Each split is fitted on private copies of the components and never published, so a
        fitted recommender keeps answering from its own model while (and after) it is
        evaluated. Only a recommender that was not fitted is left fitted on the (last)
        training part.

        Parameters
        ----------
        data : Interactions, mapping of columns or pandas DataFrame, optional
            The interactions to split; by default those of the data source.
        test : Interactions, mapping of columns or pandas DataFrame, optional
            A predefined test part: `data` (or the data source) is then the training part, and
            the configured splitter, if any, must be ``predefined``. By default the
            ``evaluation.test_data`` source of a predefined split.

        Raises
        ------
        ConfigError
            If no splitter or no metrics are configured.
        DataError
            If no test user can be evaluated.
        """
        return self._evaluate(data, test)

    def _evaluate(
        self, data: object | None, test: object | None, data_fingerprint: str | None = None
    ) -> EvaluationResult:
        """Run :meth:`evaluate`; `data_fingerprint`, where the caller has it, is that of `data` (not hashed again)."""
        if (self.splitter is None and test is None) or not self.metrics:
            msg = "nothing to evaluate: configure evaluation.split and evaluation.metrics"
            raise ConfigError(msg)
        self._labels()
        interactions = self.load_data() if data is None else Interactions.from_any(data)
        self._check_metrics_can_run(interactions)
        splitter = self.splitter
        if splitter is None:
            splitter = builtin_registry().create("splitter", "predefined", Splitter)
        test_part = self._load_test_data() if test is None else Interactions.from_any(test)
        fingerprint = evaluated_fingerprint(interactions, test_part, data_fingerprint)
        if test_part is not None:
            if splitter.ordering != "given":
                msg = (
                    f"test interactions were given, but the split is {splitter.name!r}; use split 'predefined' "
                    "(with test_data in a run file), or a recommender without a split (rec.splitter = None)"
                )
                raise ConfigError(msg)
            splits: Iterator[tuple[Interactions, Interactions]] = iter([(interactions, test_part)])
        else:
            splits = self._folds(splitter, interactions)
        checked = (
            check_split(parts, self._who(splitter), len(interactions), given=test_part is not None) for parts in splits
        )
        keep = self._fitted is None  # only a recommender that was not fitted keeps the last fold's model
        folds: list[FoldResult] = []
        warnings: dict[str, str] = {}  # the first finding of each kind

        def gathered(number: int, outcome: _FoldOutcome) -> None:
            for kind, finding in outcome.warnings.items():
                if kind not in warnings:
                    logger.warning("%s", finding)
                    warnings[kind] = finding
            folds.append(outcome.result)

        # with an executor that runs blocks side by side, several folds are its tasks (a single
        # split spreads its rows instead); serially, one fold is held in memory at a time
        every = list(checked) if self.executor.parallel else None
        if every is not None and len(every) > 1:
            last = len(every) - 1
            tasks = [_Fold(n, train, part, keep and n == last) for n, (train, part) in enumerate(every)]
            work = _FoldWork(type(self), self._task_parts(), splitter)
            runs = self._who(self.executor)
            outcomes = run_blocks(self.executor, _fold_task, tasks, work, desc="folds", runs=runs, on_result=gathered)
            fitted = outcomes[-1].fitted
        else:
            fitted = None
            for number, (train, fold_test) in enumerate(every if every is not None else checked):
                outcome = self._run_fold(splitter, _Fold(number, train, fold_test, keep=True))
                fitted = outcome.fitted
                gathered(number, outcome)
        if fitted is not None and keep:
            self._keep_fitted(fitted)
        return EvaluationResult(folds, list(warnings.values()), self._definitions(), fingerprint)

    def _load_test_data(self) -> Interactions | None:
        """Return the interactions of the ``evaluation.test_data`` source (a predefined split's test part), if any."""
        if self.test_data is None:
            return None
        try:
            with checked_interactions(self._who(self.test_data), builtin=self._builtin(self.test_data)):
                loaded = self._call(self.test_data, "load", self._rng(2))
        except (DataError, ConfigError) as exc:
            if type(exc) not in (DataError, ConfigError):
                raise
            raise type(exc)(_as_test_data(str(exc), self.test_data.config)) from exc.__cause__
        return check_interactions(loaded, self._who(self.test_data))

    def _keep_fitted(self, fitted: _Fitted) -> None:
        """Publish `fitted`, a model an evaluation fitted, unless this recommender has a model (it keeps that)."""
        with self._lock:
            if self._fitted is None:
                self._fitted = fitted

    def _run_fold(self, splitter: Splitter, fold: _Fold) -> _FoldOutcome:
        """Fit on one fold's training part and score its test part (in this thread, or in a fold's task)."""
        logger.info("split %d: %d training and %d test interactions", fold.number, len(fold.train), len(fold.test))
        self._require_ratings(fold.train)
        fitted = self._fit_state(Interactions.from_any(fold.train))
        found = protocol_warnings(splitter, fold.train, fold.test, fitted.matrix.items)
        result = self._evaluate_fold(fitted, fold.train, fold.test)
        return _FoldOutcome(result, found, fitted if fold.keep else None)

    def _task_parts(self) -> dict[str, Any]:
        """Return the arguments that build this recommender's twin in a task: its components, run serially there.

        A task never submits tasks of its own (on a cluster whose every CPU runs a fold, a
        nested task would wait for ever), so the twin's executor is the serial ``local``.
        """
        return {
            "matrix": self.matrix,
            "similarity": self.similarity,
            "ranker": self.ranker,
            "fallback": self.fallbacks,
            "metrics": self.metrics,
            "evaluation": self.evaluation,
            "executor": builtin_registry().create("executor", "local", Executor),
            "seed": self.seed,
            "name": self.name,
            "registry": self.registry,
        }

    def _evaluate_fold(self, fitted: _Fitted, train: Interactions, test: Interactions) -> FoldResult:
        """Score the lists of the fold's model `fitted` for the users of one test part."""
        settings = self.evaluation
        held = held_out(
            test, fitted.matrix.items, threshold=settings.relevance_threshold, unseen_items=settings.unseen_items
        )
        known = fitted.matrix.users.rows(held.users.ids, missing="mark") >= 0
        evaluated = held.users if fitted.fallbacks else IdIndex(held.users.ids[known])
        if len(evaluated) == 0:
            msg = "no test user with a relevant item is known in training, so nothing can be evaluated"
            raise DataError(msg)
        depth = max(m.config.k for m in self.metrics)
        lists = self._recommend(fitted, evaluated.ids, depth)
        data = metric_input(held, evaluated, lists.ranked.items, fitted.matrix, depth)
        # users without a relevant item that would have been evaluated: metrics may count them as 0
        without = held.without_relevant
        if not fitted.fallbacks:
            without = without[fitted.matrix.users.rows(without, missing="mark") >= 0]
        data = replace(data, scores=lists.scores, n_without_relevant=len(without))
        n_prediction_fallback = 0
        if any(metric.needs_predictions for metric in self.metrics):
            ratings = self._rated_pairs(fitted, test, train)
            data = replace(data, ratings=ratings)
            n_prediction_fallback = int(ratings.fallback.sum())
        metrics: dict[str, float] = {}
        per_user: dict[str, np.ndarray] = {}
        for metric, label in zip(self.metrics, self._labels(), strict=True):
            values = check_metric(
                self._call(metric, "compute", data), self._who(metric), len(evaluated), metric.per_user, metric.bounds
            )
            if metric.per_user:
                per_user[label] = values
                metrics[label] = float(self._call(metric, "summarise", values, data))
            else:
                metrics[label] = float(np.mean(values))
        counts = {
            "n_train": len(train),
            "n_test": len(test),
            "n_test_users": held.n_test_users,
            "n_evaluated": len(evaluated),
            "n_fallback": int(np.sum((lists.sources != fitted.ranker.name) & (lists.sources != ""))),
            "n_skipped": len(held.users) - len(evaluated),
            "n_without_relevant": held.n_test_users - len(held.users),
            "n_below_threshold": held.n_below_threshold,
            "n_unseen_items": held.n_unseen_items,
        }
        if data.ratings is not None:
            counts.update(n_rated=len(data.ratings.actual), n_prediction_fallback=n_prediction_fallback)
        history, exposure = usage(train, fitted.matrix.users, fitted.matrix.items, evaluated, held, lists.ranked.items)
        return FoldResult(metrics, per_user, evaluated.ids, counts, history, exposure)

    def _labels(self) -> list[str]:
        """Return each metric's label, refusing two metrics of one label (their values would collide)."""
        labels: list[str] = []
        for i, metric in enumerate(self.metrics):
            with calling(self._who(metric), "label"):  # a property a plugin may compute
                label = str(metric.label)
            if label in labels:
                msg = (
                    f"evaluation.metrics[{i}] and evaluation.metrics[{labels.index(label)}] are both "
                    f"{short_repr(label)}; list each metric once, or change an option so that they differ"
                )
                raise ConfigError(msg)
            labels.append(label)
        return labels

    def _definitions(self) -> dict[str, dict[str, Any]]:
        """Return what each metric computes, by label (:attr:`recframe.Metric.definition`)."""
        out: dict[str, dict[str, Any]] = {}
        for metric, label in zip(self.metrics, self._labels(), strict=True):
            with calling(self._who(metric), "definition"):
                out[label] = dict(metric.definition)
        return out

    def _check_metrics_can_run(self, interactions: Interactions | None) -> None:
        """Refuse, before any fold is fitted, metrics of rating prediction this recommender can't compute.

        Its ranker must predict ratings, and the data (where given) must hold ratings. A sweep
        asks this of every setting before the first one runs.

        Raises
        ------
        ConfigError
            Naming the metrics and the ranker, or saying the data have no ratings.
        """
        wanting = ", ".join(str(m.label) for m in self.metrics if m.needs_predictions)
        if not wanting:
            return
        if not isinstance(self.ranker, SupportsPredict):
            need = "need" if ", " in wanting else "needs"
            ranker = self._who(self.ranker)
            msg = f"{wanting} {need} rating predictions, but {ranker} can't predict; use item_cf or user_cf"
            raise ConfigError(msg)
        if interactions is not None:
            self._require_ratings(interactions)

    def _require_ratings(self, train: Interactions) -> None:
        """Refuse metrics of rating prediction when the training part has no ratings to predict from."""
        wanting = [m for m in self.metrics if m.needs_predictions]
        if wanting and train.values is None:
            labels = ", ".join(short_repr(str(m.label)) for m in wanting)
            msg = (
                f"metric {labels} compares predicted with held-out ratings, but the training data has no "
                "ratings (no values column), so every prediction would be the same default; give the data "
                "a rating column (data.rating) or use ranking metrics only"
            )
            raise ConfigError(msg)

    def _rated_pairs(self, fitted: _Fitted, test: Interactions, train: Interactions) -> RatedPairs:
        """Predict every held-out rating, for the metrics of rating prediction."""
        wanting = ", ".join(m.label for m in self.metrics if m.needs_predictions)
        if test.values is None:
            need = "need" if ", " in wanting else "needs"
            msg = f"{wanting} {need} held-out ratings, but the test interactions have none"
            raise ConfigError(msg)
        stored = fitted.matrix.matrix.data
        if train.values is not None and np.ptp(train.values) > 0 and np.ptp(stored) == 0:
            # every prediction, a weighted mean of matrix entries, would be that one value
            msg = (
                f"metric {short_repr(wanting)} compares predicted with held-out ratings, but "
                f"{self._who(self.matrix)} stores {short_repr(float(stored[0]))} for every entry, so the "
                "training ratings never reach the predictions; use matrix type 'ratings'"
            )
            raise ConfigError(msg)
        if self.evaluation.unseen_items == "drop":  # removed from the test part, as for the lists
            test = test.take(fitted.matrix.items.rows(test.items, missing="mark") >= 0)
        values = np.asarray(test.values, dtype=np.float64)
        predictions = self._predict(fitted, test.users, test.items, wanting)
        return RatedPairs(values, predictions.values, predictions.source != 0)


def evaluated_fingerprint(interactions: Interactions, test: Interactions | None, known: str | None = None) -> str:
    """Return the sha256 of what an evaluation reads: the interactions, and a predefined test part if given.

    `known` is the interactions' own fingerprint where the caller has it (hashing 18 million
    events takes about 0.8 s).
    """
    fingerprint = known or interactions.fingerprint()
    if test is None:
        return fingerprint
    return hashlib.sha256(f"{fingerprint} test {test.fingerprint()}".encode()).hexdigest()


@dataclass(frozen=True, eq=False)
class _Fold:
    """One split of an evaluation: its number (from 0), its parts, and whether its model is sent back."""

    number: int
    train: Interactions
    test: Interactions
    keep: bool


@dataclass(frozen=True, eq=False)
class _FoldOutcome:
    """What evaluating one fold gives: its result, its protocol findings, its model where asked for."""

    result: FoldResult
    warnings: dict[str, str]
    fitted: _Fitted | None


@dataclass(frozen=True, eq=False)
class _FoldWork:
    """The shared payload of fold tasks: what builds the recommender's serial twin, and the splitter."""

    cls: type[EvaluationMethods]
    parts: dict[str, Any]
    splitter: Splitter


_SHARED_PARTS = frozenset({"registry", "executor", "evaluation", "seed", "name", "similarity", "ranker", "fallback"})
"""Parts every fold's twin may share: read-only (the registry, settings), made for the tasks, or
templates that fitting copies before it fits them (the similarity backend and the rankers)."""


def _fold_task(work: _FoldWork, fold: _Fold) -> _FoldOutcome:
    """Evaluate one fold on the recommender's serial twin (run by the executor, on a thread or a worker).

    The twin gets its own copies of the components fitting does not copy (the matrix builder,
    the metrics): folds running side by side on threads must not share a component that keeps
    state on itself, as a plugin's may, which would make their results depend on the workers.
    """
    parts = {key: value if key in _SHARED_PARTS else copy.deepcopy(value) for key, value in work.parts.items()}
    twin = work.cls(**parts)
    return twin._run_fold(work.splitter, fold)


def _as_test_data(message: str, config: ComponentConfig) -> str:
    """Return a data source's `message` with its settings named as ``evaluation.test_data``'s, not ``data``'s.

    A source names its settings as the run's ``data`` section (``(data.path)``); loading the
    test part of a predefined split, the same source is the ``evaluation.test_data`` section.
    Only the source's own field names are renamed, so a file called ``data.csv`` stays as it is.
    """
    fields = "|".join(re.escape(name) for name in sorted(type(config).model_fields, key=len, reverse=True))
    if not fields:
        return message
    return re.sub(rf"(?<![\w/.\\-])data\.({fields})(?![\w.])", r"evaluation.test_data.\1", message)
