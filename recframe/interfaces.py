"""The component contracts and the small result types components exchange.

A run is a chain of components, each a plugin: a :class:`DataSource` loads
:class:`~recframe.data.Interactions`, a :class:`MatrixBuilder` turns them into an
:class:`~recframe.data.InteractionMatrix`, a :class:`SimilarityBackend` finds each row's
nearest neighbours (a :class:`NeighbourGraph`), and a :class:`CandidateRanker` scores and ranks
items for users (a :class:`TopN`). A :class:`Splitter` and :class:`Metric` evaluate the chain.

Every component class sets ``name`` (its YAML ``type:``) and ``Config`` (a
:class:`ComponentConfig` subclass); ``kind`` comes from the interface it implements.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, PositiveInt

from recframe.errors import NotFittedError

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix, Interactions

Kind = Literal["data", "matrix", "similarity", "ranker", "splitter", "metric"]
KINDS: tuple[Kind, ...] = ("data", "matrix", "similarity", "ranker", "splitter", "metric")


class ComponentConfig(BaseModel):
    """Base class of every component's parameters.

    Unknown keys are rejected, instances are immutable, and the docstring under each field
    becomes its description in the JSON Schema and the configuration reference.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Component(ABC):
    """Base class of every plugin component: configuration in, fitted state out.

    Parameters
    ----------
    config : ComponentConfig, optional
        An instance of the class's ``Config``; or pass its fields as keyword arguments.
    **params
        Fields of ``Config``, used when `config` is not given.

    Raises
    ------
    pydantic.ValidationError
        If the parameters don't fit ``Config``.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig

    def __init__(self, config: ComponentConfig | None = None, **params: Any) -> None:
        if config is None:
            config = self.Config(**params)
        elif params:
            msg = f"{type(self).__name__} takes a config or keyword parameters, not both"
            raise TypeError(msg)
        elif not isinstance(config, self.Config):
            msg = f"{type(self).__name__} needs a {self.Config.__name__}; got {type(config).__name__}"
            raise TypeError(msg)
        self.config = config

    def __repr__(self) -> str:
        """Show the class and its parameters."""
        fields = ", ".join(f"{k}={v!r}" for k, v in self.config.model_dump().items())
        return f"{type(self).__name__}({fields})"


def check_fitted(component: object, *attributes: str) -> None:
    """Raise :class:`NotFittedError` naming the class unless every attribute has been set by ``fit``."""
    if not all(getattr(component, a, None) is not None for a in attributes):
        name = type(component).__name__
        msg = f"{name} is not fitted; call fit() first"
        raise NotFittedError(msg)


@dataclass(frozen=True, eq=False)
class NeighbourGraph:
    """The k nearest neighbours of each query row, with their similarities.

    Attributes
    ----------
    indices : ndarray of shape (n_rows, k), int64
        Neighbour rows, most similar first (ties by lower row); ``-1`` pads rows with fewer
        than ``k`` neighbours.
    scores : ndarray of shape (n_rows, k), float64
        Similarities, non-increasing along each row; ``0.0`` where ``indices`` is ``-1``.
    n_targets : int
        Number of rows the neighbours are drawn from (the graph's column count).
    """

    indices: IntArray
    scores: FloatArray
    n_targets: int

    @property
    def k(self) -> int:
        """Width of the graph: the most neighbours any row has."""
        return int(self.indices.shape[1])

    def to_csr(self) -> sp.csr_array:
        """Return the graph as an ``(n_rows, n_targets)`` CSR matrix of similarities."""
        n_rows = self.indices.shape[0]
        valid = self.indices >= 0
        indptr = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(valid.sum(axis=1), out=indptr[1:])
        csr = sp.csr_array(
            (self.scores[valid], self.indices[valid], indptr), shape=(n_rows, self.n_targets)
        )
        csr.sort_indices()
        return csr


@dataclass(frozen=True, eq=False)
class TopN:
    """The top-n items for each of a batch of users.

    Attributes
    ----------
    items : ndarray of shape (n_users, n), int64
        Item rows, best first (ties by lower row, that is lower item id); ``-1`` pads lists
        shorter than ``n``.
    scores : ndarray of shape (n_users, n), float64
        Scores, non-increasing along each row; ``nan`` where ``items`` is ``-1``.
    """

    items: IntArray
    scores: FloatArray

    @property
    def lengths(self) -> IntArray:
        """Number of real items in each user's list."""
        lengths: IntArray = (self.items >= 0).sum(axis=1).astype(np.int64)
        return lengths


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


class SimilarityConfig(ComponentConfig):
    """Parameters every similarity backend has."""

    k: PositiveInt = 50
    """Number of neighbours kept per row."""
    memory_limit_mb: PositiveInt | None = None
    """Refuse to start a neighbour search estimated to need more memory than this; by default
    80% of the memory available when the search starts."""


@dataclass(frozen=True)
class ResourceEstimate:
    """What a neighbour search will cost, estimated from the matrix before it starts.

    Attributes
    ----------
    multiply_adds : int
        Scalar multiply-adds of the product: every exact method's time is proportional to it.
    output_bytes : int
        Size of the neighbour graph.
    working_bytes : int
        Peak extra memory besides the output.
    """

    multiply_adds: int
    output_bytes: int
    working_bytes: int

    @property
    def total_bytes(self) -> int:
        """Output and working memory together."""
        return self.output_bytes + self.working_bytes


class SimilarityBackend(Component):
    """Find the nearest neighbours of rows of a sparse matrix.

    A backend knows nothing of users or items: user-CF fits it on user rows, item-CF on item
    rows (the transposed matrix).
    """

    kind = "similarity"
    config: SimilarityConfig

    @abstractmethod
    def fit(self, rows: sp.csr_array) -> Self:
        """Remember the candidate rows that neighbours are drawn from."""

    @abstractmethod
    def neighbours(self, rows: IntArray | None = None, k: int | None = None) -> NeighbourGraph:
        """Return the `k` nearest neighbours of fitted rows, never the row itself.

        Parameters
        ----------
        rows : ndarray of int, optional
            Which fitted rows to query; all of them by default.
        k : int, optional
            Neighbours per row; the configured ``k`` by default.
        """

    @abstractmethod
    def query(self, vectors: sp.csr_array, k: int | None = None) -> NeighbourGraph:
        """Return the `k` nearest fitted rows of new vectors (nothing is excluded)."""

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate | None:
        """Estimate the cost of ``fit(rows).neighbours(k=k)`` before running it.

        The engine logs the estimate and refuses a search over ``memory_limit_mb``. Backends
        that can't tell return ``None`` (the default), and are not checked.
        """
        return None


class RankerConfig(ComponentConfig):
    """Parameters every candidate ranker has."""

    n: PositiveInt = 10
    """Number of items returned per user."""
    exclude_seen: bool = True
    """Drop items the user already interacted with."""


class CandidateRanker(Component):
    """Score candidate items for users and return the best ``n`` of them.

    ``neighbour_axis`` says which neighbour graph the ranker needs: of ``"users"``, of
    ``"items"``, or ``None`` for no graph.
    """

    kind = "ranker"
    config: RankerConfig
    neighbour_axis: ClassVar[Literal["users", "items"] | None] = None

    @abstractmethod
    def fit(self, matrix: InteractionMatrix, neighbours: NeighbourGraph | None) -> Self:
        """Remember the training matrix and the neighbour graph of ``neighbour_axis``."""

    @abstractmethod
    def recommend(
        self, users: IntArray, n: int | None = None, *, exclude: sp.csr_array | None = None
    ) -> TopN:
        """Return the top-`n` items of each user.

        Parameters
        ----------
        users : ndarray of shape (n_users,), int64
            User rows of the training matrix; ``-1`` for a user with no history.
        n : int, optional
            List length; the configured ``n`` by default.
        exclude : csr_array of shape (n_users, n_items), optional
            Further items to leave out, one row per entry of `users`.

        Raises
        ------
        NotFittedError
            If called before ``fit``.
        """


class Splitter(Component):
    """Split interactions into a training and a test part."""

    kind = "splitter"

    @abstractmethod
    def split(
        self, interactions: Interactions, rng: np.random.Generator
    ) -> tuple[Interactions, Interactions]:
        """Return ``(train, test)``; every event lands in exactly one of them."""


class MetricConfig(ComponentConfig):
    """Parameters every ranking metric has."""

    k: PositiveInt = 10
    """Cut-off: only the first ``k`` recommendations count."""


class Metric(Component):
    """Score each user's ranked list against the items held out for that user."""

    kind = "metric"
    config: MetricConfig

    @property
    def label(self) -> str:
        """The metric's name in reports, e.g. ``ndcg@10``."""
        return f"{self.name}@{self.config.k}"

    @abstractmethod
    def compute(self, hits: np.ndarray, n_relevant: IntArray) -> FloatArray:
        """Return the metric of each user.

        Parameters
        ----------
        hits : ndarray of shape (n_users, n), bool
            Whether the item at each rank is relevant; ``n`` may exceed or fall short of ``k``.
        n_relevant : ndarray of shape (n_users,), int64
            Number of relevant (held-out) items of each user, at least 1.
        """
