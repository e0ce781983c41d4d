"""The contracts of the data stages: loading, filtering and weighting interactions.

A :class:`DataSource` loads interactions, a :class:`Filter` keeps part of them, and a
:class:`MatrixBuilder` turns them into the weighted users x items matrix.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

import numpy as np

from recframe.interfaces.component import Component

if TYPE_CHECKING:
    from recframe.data import InteractionMatrix, Interactions


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


class MatrixBuilder(Component):
    """Turn interactions into a weighted users x items matrix."""

    kind = "matrix"

    @abstractmethod
    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the interaction matrix of `interactions`.

        Raises
        ------
        DataError
            If nothing is left to build a matrix from, or the data breaks the builder's policy.
        """
