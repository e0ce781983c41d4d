"""The contracts of the data stages: loading, filtering and weighting interactions.

A :class:`DataSource` loads interactions, a :class:`Filter` keeps part of them, and a
:class:`MatrixBuilder` turns them into the weighted users x items matrix (and, optionally,
brings a matrix it built up to date with an :class:`EventChange`, for ``Recommender.update``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recframe.interfaces.component import Component

if TYPE_CHECKING:
    from recframe.data import IdArray, InteractionMatrix, Interactions


class DataSource(Component):
    """Load interactions from somewhere: a generator, a file, a database."""

    kind = "data"

    @abstractmethod
    def load(self, rng: np.random.Generator) -> Interactions:
        """Return the interactions.

        Parameters
        ----------
        rng : numpy.random.Generator
            The run's seeded generator, for sources that sample.

        Raises
        ------
        DataError
            If the data can't be read; the message names the file and row.
        """


class Filter(Component):
    """Keep part of the interactions: a k-core, a rating threshold, a time window...

    Filters run in the order of the data section's ``filters`` list, after the data source;
    the engine records what each removed (events, users, items).
    """

    kind = "filter"

    @abstractmethod
    def apply(self, interactions: Interactions) -> Interactions:
        """Return the interactions that pass, in their original order."""


@dataclass(frozen=True, eq=False)
class EventChange:
    """How the training events changed since a matrix was built from them (see :meth:`MatrixBuilder.update`).

    An update either appends events after the old ones (``Recommender.update``: `added`), or
    removes every event of some users and items (``Recommender.forget``: `removed_users`,
    `removed_items`); `after` is always what a full build would be given.

    Attributes
    ----------
    before : Interactions
        The events the previous matrix was built from.
    after : Interactions
        The events now: `before` followed by `added`, or `before` without the removed ones.
    added : Interactions or None
        The events appended after `before` (with the same columns), or ``None`` for a removal.
    removed_users, removed_items : IdArray or None
        The sorted, distinct ids whose events were all removed, or ``None`` for an addition
        (an empty array when only the other axis is forgotten).
    """

    before: Interactions
    after: Interactions
    added: Interactions | None = None
    removed_users: IdArray | None = None
    removed_items: IdArray | None = None


class MatrixBuilder(Component):
    """Turn interactions into a weighted users x items matrix.

    :meth:`build` is all a builder must offer. A builder whose entries depend only on the
    events of their own (user, item) cell can also offer :meth:`update`, which lets
    ``Recommender.update`` and ``forget`` bring the previous matrix up to date instead of
    building it again from every event.
    """

    kind = "matrix"

    @abstractmethod
    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the interaction matrix of `interactions`.

        Raises
        ------
        DataError
            If nothing is left to build a matrix from, or the data breaks the builder's policy.
        """

    def update(self, previous: InteractionMatrix, change: EventChange) -> InteractionMatrix | None:
        """Return the matrix ``build(change.after)`` returns, derived from `previous`; ``None`` if it can't.

        An update of a fitted model calls this before falling back to :meth:`build`: a builder
        that answers must return exactly (bit for bit) what :meth:`build` would, raise what it
        would raise, and leave `previous` unchanged (the model being updated still serves
        queries from it). This default answers ``None``, so a builder without an incremental
        path, or one whose entries depend on global statistics (a weighting by user rarity,
        a time decay), is simply built again.

        Parameters
        ----------
        previous : InteractionMatrix
            What :meth:`build` returned for ``change.before``, with this builder's config.
        change : EventChange
            The events added or removed since.

        Returns
        -------
        InteractionMatrix or None
            The updated matrix, or ``None`` to have :meth:`build` called on ``change.after``.
        """
        del previous, change
        return None
