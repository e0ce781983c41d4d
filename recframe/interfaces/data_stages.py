"""The contracts of the data stages: loading, filtering and weighting interactions.

A :class:`DataSource` loads interactions, a :class:`Filter` keeps part of them, and a
:class:`MatrixBuilder` turns them into the weighted users x items matrix (and, optionally,
brings a matrix it built up to date with an :class:`EventChange`, for ``Recommender.update``,
saying which cells it changed in a :class:`MatrixUpdate`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from recframe.data import InteractionMatrix
from recframe.interfaces.component import Component

if TYPE_CHECKING:
    from recframe.data import IdArray, Interactions


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
        The events the previous matrix was built from. After earlier updates they are joined
        only when a column is first read (a subclass of :class:`Interactions`, as `after`):
        a builder that needs only their range of values or times asks
        :meth:`Interactions.column_range`, which joins nothing.
    after : Interactions
        The events now: `before` followed by `added`, or `before` without the removed ones.
        During an update they are joined only when a column is first read, and during a
        forget they are still being found and copied on a worker thread (subclasses of
        :class:`Interactions`): reading a column joins them or waits for them, ``len`` of a
        forget's waits until the forgotten events are found (a pass over the users' or the
        items' column, shorter than a copy); selecting, copying and pickling give what plain
        events give.
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


@dataclass(frozen=True, eq=False)
class CellChanges:
    """The cells a matrix builder's update changed: where each is, and its value before and after.

    It lets ``Recommender.update`` and ``forget`` take the change of the matrix (and each
    column's count of entries) from the cells alone, instead of comparing the previous and the
    updated matrices entry by entry. Every cell whose stored value differs must be listed,
    once; a listed cell whose value did not change is harmless.

    Attributes
    ----------
    previous_rows, previous_columns : ndarray of int64
        Each cell's row (user) and column (item) in the previous matrix; ``-1`` where that
        user or item is new.
    rows, columns : ndarray of int64
        Each cell's row and column in the updated matrix; ``-1`` where that user or item is gone.
    before, after : ndarray of float64
        The cell's stored value in the previous and in the updated matrix; 0 where it is not
        stored (a new cell, a removed cell).
    """

    previous_rows: npt.NDArray[np.int64]
    previous_columns: npt.NDArray[np.int64]
    rows: npt.NDArray[np.int64]
    columns: npt.NDArray[np.int64]
    before: npt.NDArray[np.float64]
    after: npt.NDArray[np.float64]

    def transposed(self) -> CellChanges:
        """Return the same cells with rows and columns swapped (the items x users orientation)."""
        return CellChanges(self.previous_columns, self.previous_rows, self.columns, self.rows, self.before, self.after)


@dataclass(frozen=True, eq=False)
class MatrixUpdate(InteractionMatrix):
    """What :meth:`MatrixBuilder.update` may return: the updated matrix, which also says which cells changed.

    It is an :class:`~recframe.data.InteractionMatrix` like any other (the update keeps only
    that part); `cells` spares ``Recommender.update`` and ``forget`` a comparison of every entry.

    Attributes
    ----------
    cells : CellChanges
        The cells that differ from the previous matrix.
    """

    cells: CellChanges

    def plain(self) -> InteractionMatrix:
        """Return the matrix without the changed cells (what a fitted model keeps)."""
        return InteractionMatrix(self.matrix, self.users, self.items)


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
            The updated matrix (a :class:`MatrixUpdate` also lists the changed cells, which
            spares the update a comparison of every entry), or ``None`` to have :meth:`build`
            called on ``change.after``.
        """
        del previous, change
        return None
