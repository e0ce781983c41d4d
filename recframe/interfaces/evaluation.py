"""The evaluation contracts: a :class:`Splitter` holds out test events, a :class:`Metric` scores ranked lists.

A metric reads a :class:`MetricInput` (the ranked lists matched against the held-out items,
and :class:`RatedPairs` when it scores rating predictions); its parameters derive from
:class:`MetricConfig`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from recframe.interfaces.component import Component, ComponentConfig
from recframe.interfaces.settings import MAX_LIST_LENGTH

if TYPE_CHECKING:
    from recframe.data import FloatArray, IntArray, InteractionMatrix, Interactions


class Splitter(Component):
    """Split interactions into a training and a test part.

    ``ordering`` tells the engine's protocol check how test events relate to training events
    in time: ``random`` (no relation), ``per_user_time`` (each user's test events follow their
    own training events), ``global_time`` (every test event follows every training event) or
    ``given`` (the parts come from outside). Splitters with several folds override
    :meth:`folds`.
    """

    kind = "splitter"
    ordering: ClassVar[Literal["random", "per_user_time", "global_time", "given"]] = "random"

    @abstractmethod
    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``; every event lands in exactly one of them."""

    def folds(
        self, interactions: Interactions, rng: np.random.Generator
    ) -> Iterator[tuple[Interactions, Interactions]]:
        """Yield every ``(train, test)`` split the protocol evaluates: one by default, k for k-fold."""
        yield self.split(interactions, rng)


class MetricConfig(ComponentConfig):
    """Parameters every ranking metric has."""

    k: int = Field(10, gt=0, le=MAX_LIST_LENGTH)
    """Cut-off: only the first ``k`` recommendations count."""


@dataclass(frozen=True, eq=False)
class RatedPairs:
    """Held-out ratings and the ranker's predictions of them, one entry per test event.

    Attributes
    ----------
    actual, predicted : ndarray of shape (n_pairs,), float64
        The held-out rating and its prediction.
    fallback : ndarray of shape (n_pairs,), bool
        Whether a fallback (a mean rating) answered instead of the neighbours.
    """

    actual: FloatArray
    predicted: FloatArray
    fallback: np.ndarray


@dataclass(frozen=True, eq=False)
class MetricInput:
    """The evaluated users' ranked lists matched against their held-out items: what metrics score.

    Row ``u`` of every per-user array belongs to the same evaluated user; every evaluated user
    has at least one relevant held-out item.

    Attributes
    ----------
    items : ndarray of shape (n_users, n), int64
        Recommended item rows (of ``train.items``), best first; ``-1`` pads short lists.
    hits : ndarray of shape (n_users, n), bool
        Whether the item at each rank is relevant (held out for that user, and at or above the
        relevance threshold when one is set).
    gains : ndarray of shape (n_users, n), float64
        Graded relevance of each ranked item: its held-out rating (``1.0`` without ratings),
        ``0.0`` for a miss.
    n_relevant : ndarray of shape (n_users,), int64
        Number of relevant held-out items of each user, at least 1 (including items the
        training data never saw, unless the run drops them).
    ideal_gains : ndarray of shape (n_users, m), float64
        Each user's relevant gains, largest first, ``0.0`` padded; ``m`` is at least the largest
        cut-off evaluated, so ideal (IDCG-style) lists can be read from it.
    train : InteractionMatrix
        The training matrix: item popularity, item vectors and the catalogue size come from it.
    ratings : RatedPairs or None
        Every held-out rating with its prediction, when a metric asks for them
        (``needs_predictions``).
    scores : ndarray of shape (n_users, n), float64, or None
        The ranker's score of each ranked item (``nan`` in the padding), for metrics that order
        tied scores themselves; ``None`` when not given.
    n_without_relevant : int
        Test users that would have been evaluated but have no relevant held-out item, so are not
        rows here: metrics that count them as 0 divide by them too.
    """

    items: IntArray
    hits: np.ndarray
    gains: FloatArray
    n_relevant: IntArray
    ideal_gains: FloatArray
    train: InteractionMatrix

    @property
    def n_users(self) -> int:
        """Number of evaluated users."""
        return int(self.items.shape[0])

    ratings: RatedPairs | None = None
    scores: FloatArray | None = None
    n_without_relevant: int = 0

    @cached_property
    def item_users(self) -> IntArray:
        """Number of training users of each item (its popularity), shape ``(n_items,)``."""
        counts: IntArray = np.bincount(self.train.matrix.indices, minlength=self.train.n_items).astype(np.int64)
        return counts


class Metric(Component):
    """Score ranked lists against the items held out for each user.

    Most metrics are per user (``per_user = True``): :meth:`compute` returns one value per
    user, the run reports their mean, and runs are compared user by user. A metric of the
    whole run (catalogue coverage, say) sets ``per_user = False`` and returns one number.
    ``bounds`` is the range every value must lie in; the engine checks it. ``higher_is_better``
    tells sweeps which setting is best. A metric of rating predictions sets
    ``needs_predictions``: the engine then fills ``MetricInput.ratings``.
    """

    kind = "metric"
    config: MetricConfig
    per_user: ClassVar[bool] = True
    bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    higher_is_better: ClassVar[bool] = True
    needs_predictions: ClassVar[bool] = False

    @property
    def label(self) -> str:
        """The metric's name in reports, e.g. ``ndcg@10``."""
        return f"{self.name}@{self.config.k}"

    @property
    def definition(self) -> dict[str, Any]:
        """What the metric computes, for ``metrics.json`` and the report: ``formula`` and ``options``.

        By default the first line of the class docstring and the config's values; built-in
        accuracy metrics give their resolved formula, profile and axes.
        """
        doc = (type(self).__doc__ or self.name).strip().splitlines()[0]
        return {"formula": doc, "options": self.config.model_dump(mode="json")}

    def summarise(self, values: FloatArray, data: MetricInput) -> float:
        """Return the run's value of a per-user metric from its per-user `values`: their mean by default.

        A metric overrides it to average otherwise (micro averaging weighs users by their
        denominators; counting users without relevant items as 0 divides by them too).
        """
        return float(np.mean(values))

    def summary_is_mean(self) -> bool:
        """Return whether :meth:`summarise` gives the plain mean of the per-user values, whatever the data.

        ``recframe run --resume`` checks a kept result's values against their mean where it is;
        a metric that overrides :meth:`summarise` is not checked so unless it says so here.
        """
        return type(self).summarise is Metric.summarise

    @abstractmethod
    def compute(self, data: MetricInput) -> FloatArray | float:
        """Return the metric of each user (``per_user``), or of the whole run.

        Parameters
        ----------
        data : MetricInput
            The ranked lists, their hits and gains, and the training matrix. Lists may be
            longer or shorter than ``k``; missing places count as misses.
        """
