"""Built-in splitters: random, per-user, temporal, k-fold and predefined train/test parts.

Every splitter is seeded by the ``rng`` it is given, keeps the events of each part in their
original order, and puts every event in exactly one part. Ties in time are broken by the
order of the events in the data, so temporal splits are deterministic too.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import numpy as np
from pydantic import Field, PositiveInt, ValidationInfo, field_validator, model_validator
from typing_extensions import Self

from recframe import (
    Component,
    ComponentConfig,
    ConfigError,
    DataError,
    FloatArray,
    IntArray,
    Interactions,
    Splitter,
    hookimpl,
    short_repr,
)

MAX_FOLDS = 1000
"""Most folds a k-fold split may have: each fold fits the whole pipeline once."""


class RandomHoldoutConfig(ComponentConfig):
    """Parameters of :class:`RandomHoldoutSplitter`."""

    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of all interactions moved to the test set."""


class RandomHoldoutSplitter(Splitter):
    """Move a random share of all interactions to the test set, regardless of user."""

    name = "random_holdout"
    ordering = "random"
    Config = RandomHoldoutConfig
    config: RandomHoldoutConfig

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order."""
        n = len(interactions)
        fraction = self.config.test_fraction
        n_test = round(n * fraction)
        if n >= 2 and n_test in (0, n):  # fewer events: a data problem, refused by _apply
            _refuse_fraction(fraction, n, n_test, "interactions")
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[:n_test]] = True
        return _apply(interactions, is_test)


class PerUserHoldoutConfig(ComponentConfig):
    """Parameters of :class:`PerUserHoldoutSplitter`."""

    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Share of each user's interactions moved to the test set (rounded down, at least one)."""
    min_history: PositiveInt = 2
    """Users with fewer interactions than this keep them all in training (and are not tested)."""


def _rank_within_users(users: np.ndarray, sort_key: FloatArray) -> tuple[IntArray, IntArray, IntArray]:
    """Rank each event within its user by `sort_key` (ties by event order), from 0.

    Returns ``(rank, user_codes, counts)``: each event's rank, its user's code, and the number
    of events of each user code.
    """
    _, user_codes, counts = np.unique(users, return_inverse=True, return_counts=True)
    user_codes = user_codes.reshape(-1)
    order = np.lexsort((np.arange(len(users)), sort_key, user_codes))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - np.repeat(starts, counts)
    return rank, user_codes, counts


def _tested(counts: IntArray, wanted: IntArray, min_history: int) -> IntArray:
    """Test events per user: `wanted`, at most all but one, none below `min_history`."""
    return np.where(counts >= max(2, min_history), np.minimum(wanted, counts - 1), 0)


def _share(counts: IntArray, fraction: float) -> IntArray:
    """Return ``max(1, floor(c * fraction))`` for each count, exactly, for the fraction as written.

    The float 0.29 is a little below 29/100, and ``100 * 0.29`` rounds to 28.999999999999996:
    ``np.floor`` of it would hold out 28 of 100. The fraction is read as the simplest ratio
    within a billionth of it (29/100; 1/3 for ``1 / 3``, whose float is a little below 1/3 too;
    any decimal of up to nine places), and each distinct count multiplied in integers.
    """
    exact = Fraction(float(fraction)).limit_denominator(10**9)
    distinct, where = np.unique(counts, return_inverse=True)
    floors = [count * exact.numerator // exact.denominator for count in distinct.tolist()]
    return np.maximum(1, np.asarray(floors, dtype=np.int64)[where].reshape(np.shape(counts)))


class PerUserHoldoutSplitter(Splitter):
    """Hold out a random share of each user's interactions, so every tested user has history.

    A user with ``c >= min_history`` interactions gives ``max(1, floor(c * test_fraction))`` of
    them, chosen at random, to the test set, and always keeps at least one for training. The
    product is exact for the fraction as written: 0.29 of 100 interactions is 29.
    """

    name = "per_user_holdout"
    ordering = "random"
    Config = PerUserHoldoutConfig
    config: PerUserHoldoutConfig

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order."""
        rank, user_codes, counts = _rank_within_users(interactions.users, rng.random(len(interactions)))
        _check_min_history(self.config.min_history, counts)
        wanted = _share(counts, self.config.test_fraction)
        n_test = _tested(counts, wanted, self.config.min_history)
        return _apply(interactions, rank < n_test[user_codes])


class LeaveLastNConfig(ComponentConfig):
    """Parameters of :class:`LeaveLastNSplitter`."""

    n: PositiveInt | None = None
    """Number of each user's latest interactions moved to the test set (1 when neither ``n``
    nor ``fraction`` is given)."""
    fraction: float | None = Field(None, gt=0.0, lt=1.0)
    """Instead of ``n``: the latest share of each user's interactions (rounded down, at least one)."""
    min_history: PositiveInt = 2
    """Users with fewer interactions than this keep them all in training (and are not tested)."""

    @model_validator(mode="after")
    def _one_size(self) -> Self:
        if self.n is not None and self.fraction is not None:
            msg = "give either n or fraction, not both"
            raise ValueError(msg)
        return self


class LeaveLastNSplitter(Splitter):
    """Hold out each user's latest interactions, by timestamp: the next-item protocol.

    A user with ``c >= min_history`` interactions gives their last ``n`` (or
    ``max(1, floor(c * fraction))``, exact for the fraction as written) to the test set and keeps
    at least one for training. Each user's test events follow their own training events, but not
    other users': on a shared timeline the training part still holds events later than some test
    events.
    """

    name = "leave_last_n"
    Config = LeaveLastNConfig
    config: LeaveLastNConfig
    ordering = "per_user_time"

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order.

        Raises
        ------
        DataError
            If the interactions have no timestamps.
        """
        times = _timestamps(interactions, self.name)
        rank, user_codes, counts = _rank_within_users(interactions.users, times)
        c = self.config
        _check_min_history(c.min_history, counts)
        if c.fraction is not None:
            wanted = _share(counts, c.fraction)
        else:  # more than a user has is all but one of theirs (_tested)
            wanted = np.full(len(counts), min(c.n or 1, int(counts.max(initial=1))), dtype=np.int64)
        n_test = _tested(counts, wanted, c.min_history)
        # of events at the same time, the later one in the data counts as later
        return _apply(interactions, rank >= (counts - n_test)[user_codes])


class TemporalGlobalConfig(ComponentConfig):
    """Parameters of :class:`TemporalGlobalSplitter`."""

    cutoff: float | None = None
    """Timestamp (same unit as the data, e.g. Unix seconds): later events are test events."""
    quantile: float | None = Field(None, gt=0.0, lt=1.0)
    """Instead of ``cutoff``: the share of events, by time, kept for training (0.8 when neither
    is given)."""

    @model_validator(mode="after")
    def _one_cut(self) -> Self:
        if self.cutoff is not None and self.quantile is not None:
            msg = "give either cutoff or quantile, not both"
            raise ValueError(msg)
        return self


class TemporalGlobalSplitter(Splitter):
    """Cut the whole timeline at one moment: events up to it train, later events test.

    Nothing in training happens after anything in the test set, for any user. Users whose
    events all fall after the cut are unknown to the model (served by the fallback ranker or
    skipped). ``quantile: q`` puts the cut at ``numpy.quantile(t, q, method="lower")`` of the
    timestamps ``t``; events at the cut itself train.
    """

    name = "temporal_global"
    Config = TemporalGlobalConfig
    config: TemporalGlobalConfig
    ordering = "global_time"

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``, each in the original event order.

        Raises
        ------
        DataError
            If there are no timestamps, or the cut leaves a part empty.
        """
        times = _timestamps(interactions, self.name)
        cutoff = self.config.cutoff
        field, value = "cutoff", cutoff
        if cutoff is None:
            field, value = "quantile", self.config.quantile or 0.8
            cutoff = float(np.quantile(times, value, method="lower"))
        is_test = times > cutoff
        if len(times) and (is_test.all() or not is_test.any()):
            first, last = float(times.min()), float(times.max())
            left = "no event for training" if is_test.all() else "no event for testing"
            hint = (
                f"use a cutoff from {first!r} up to, not including, {last!r}"
                if field == "cutoff"
                else "every timestamp is the same, so no quantile can cut them; use a random split"
                if first == last
                else "use a quantile further from 0 and 1"
            )
            msg = (
                f"evaluation.split.{field}: {short_repr(value)} leaves {left}: the timestamps run from "
                f"{first!r} to {last!r}, and events after the cut are tested; {hint}"
            )
            raise ConfigError(msg)
        return _apply(interactions, is_test)


class KFoldConfig(ComponentConfig):
    """Parameters of :class:`KFoldSplitter`."""

    n_folds: int = Field(5, ge=2, le=MAX_FOLDS)
    """Number of folds; each is the test set once, so there must be at least as many
    interactions as folds (with ``per_user``, as many as the most active user has)."""
    per_user: bool = False
    """Fold each user's interactions separately (every user is in every fold's training part
    when they have at least ``n_folds`` interactions) instead of all interactions at once."""
    fold: int = Field(0, ge=0)
    """The fold :meth:`split` returns (evaluation runs every fold)."""

    @field_validator("fold", mode="after")
    @classmethod
    def _fold_in_range(cls, fold: int, info: ValidationInfo) -> int:
        n_folds = info.data.get("n_folds")
        if n_folds is not None and fold >= n_folds:
            msg = f"must be below n_folds={n_folds}; got {fold}"
            raise ValueError(msg)
        return fold


class KFoldSplitter(Splitter):
    """K-fold cross-validation: events are dealt at random into ``n_folds`` folds of equal size.

    Evaluation runs every fold (fit on the other folds, test on this one) and reports the mean
    and spread over folds. ``per_user: true`` deals each user's events separately, so each
    fold holds about ``1/n_folds`` of every user's history.
    """

    name = "kfold"
    ordering = "random"
    Config = KFoldConfig
    config: KFoldConfig

    def _assignment(self, interactions: Interactions, rng: np.random.Generator) -> IntArray:
        """Return each event's fold, refusing more folds than can each hold a test event.

        Raises
        ------
        ConfigError
            If ``n_folds`` exceeds the number of interactions (with ``per_user``, the number of
            interactions of the most active user), so that some fold would test nothing; checked
            before any fold is fitted.
        """
        k = self.config.n_folds
        n = len(interactions)
        if k > n >= 2:  # fewer events: a data problem, refused by _apply
            msg = (
                f"evaluation.split.n_folds: {short_repr(k)} folds need at least as many interactions, "
                f"but there are {n}; each fold is tested once, so use n_folds from 2 to {max(2, n)}"
            )
            raise ConfigError(msg)
        if self.config.per_user:
            rank, user_codes, counts = _rank_within_users(interactions.users, rng.random(len(interactions)))
            most = int(counts.max(initial=0))
            if k > most >= 2:
                msg = (
                    f"evaluation.split.n_folds: {short_repr(k)} folds with per_user: true deal each user's "
                    f"interactions over the folds, but the most active of the {len(counts)} users has only "
                    f"{most}, so some folds could test nothing; use n_folds from 2 to {max(2, most)}, "
                    "or per_user: false"
                )
                raise ConfigError(msg)
            # start each user's deal at a random fold, so small users don't all land in fold 0
            start = rng.integers(k, size=len(counts))
            return np.asarray((rank + start[user_codes]) % k, dtype=np.int64)
        return np.asarray(rng.permutation(len(interactions)) % k, dtype=np.int64)

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return fold ``fold``: ``(other folds, this fold)``."""
        return _apply(interactions, self._assignment(interactions, rng) == self.config.fold)

    def folds(
        self, interactions: Interactions, rng: np.random.Generator
    ) -> Iterator[tuple[Interactions, Interactions]]:
        """Yield ``(other folds, fold f)`` for every fold ``f``, from one random deal."""
        assignment = self._assignment(interactions, rng)
        for fold in range(self.config.n_folds):
            yield _apply(interactions, assignment == fold)


class PredefinedConfig(ComponentConfig):
    """Parameters of :class:`PredefinedSplitter` (none: the parts come from two data sources)."""


class PredefinedSplitter(Splitter):
    """Train on the run's data and test on a second data source (``evaluation.test_data``).

    For published splits such as MovieLens ``u1.base`` / ``u1.test``. Nothing is drawn at
    random; the engine passes the test interactions (``Recommender.evaluate(test=...)`` in
    Python).
    """

    name = "predefined"
    Config = PredefinedConfig
    ordering = "given"

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Refuse: a predefined split needs its test part from outside.

        Raises
        ------
        ConfigError
            Always; set ``evaluation.test_data`` or pass ``test=`` to ``evaluate()``.
        """
        msg = "split 'predefined' needs the test interactions: set evaluation.test_data, or pass test= to evaluate()"
        raise ConfigError(msg)


def _refuse_fraction(fraction: float, n: int, n_test: int, what: str) -> None:
    """Refuse a ``test_fraction`` that rounds to no test (or no training) interaction of `n`."""
    if n_test == 0:
        left, hint = "no test interaction", f"use a test_fraction of at least {1 / n:.2g}"
    else:
        left, hint = "no training interaction", f"use a test_fraction of at most {(n - 1) / n:.10g}"
    msg = f"evaluation.split.test_fraction: {short_repr(fraction)} of {n} {what} leaves {left}; {hint}"
    raise ConfigError(msg)


def _check_min_history(min_history: int, counts: IntArray) -> None:
    """Refuse a ``min_history`` above every user's count when a lower one would test someone, or one event a user."""
    most = int(counts.max(initial=0))
    if most == 1:  # a user keeps at least one event in training: nobody can be tested
        msg = (
            f"every one of the {len(counts)} users has 1 interaction, so none can be tested and keep one in "
            "training; use random_holdout (which tests users without keeping them), or more data per user"
        )
        raise DataError(msg)
    if min_history > most >= 2:
        msg = (
            f"evaluation.split.min_history: {short_repr(min_history)} leaves no user to test: the most "
            f"active of the {len(counts)} users has {most} interactions; use min_history from 2 to {most}"
        )
        raise ConfigError(msg)


def _timestamps(interactions: Interactions, who: str) -> FloatArray:
    """Return the events' timestamps; a split ordering by time on data without them is a setting the data can't meet."""
    if interactions.timestamps is None:
        msg = (
            f"evaluation.split: {who!r} orders events by time, but the interactions have no timestamps; "
            "use a random split (random_holdout, per_user_holdout or kfold), or data with a timestamp column"
        )
        raise ConfigError(msg)
    return interactions.timestamps


def _apply(interactions: Interactions, is_test: np.ndarray) -> tuple[Interactions, Interactions]:
    """Split by the mask, refusing splits that leave either side empty."""
    if not is_test.any():
        msg = f"the split left no test interactions out of {len(interactions)}; use more data or a larger test share"
        raise DataError(msg)
    if is_test.all():
        msg = "the split left no training interactions"
        raise DataError(msg)
    return interactions.take(~is_test), interactions.take(is_test)


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in splitters."""
    return [
        RandomHoldoutSplitter, PerUserHoldoutSplitter, LeaveLastNSplitter,
        TemporalGlobalSplitter, KFoldSplitter, PredefinedSplitter,
    ]
