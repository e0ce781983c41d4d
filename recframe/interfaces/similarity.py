"""The similarity contract: a :class:`SimilarityBackend` finds each row's nearest neighbours.

Its result is a :class:`NeighbourGraph`; its parameters derive from :class:`SimilarityConfig`,
and :class:`ResourceEstimate` is what it says a search will cost before it starts.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from pydantic import NonNegativeInt, PositiveInt

from recframe.data.matrix import index_dtype
from recframe.interfaces.component import Component, ComponentConfig

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray


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
        """Return the graph as an ``(n_rows, n_targets)`` CSR matrix of similarities.

        Its indices are 32-bit where the graph's size and ``n_targets`` allow, as scipy makes
        them and as interaction matrices have them: a compiled kernel taking both (the
        rankers' products) is then compiled for one pair of index types, not two.
        """
        n_rows = self.indices.shape[0]
        valid = self.indices >= 0
        counts = valid.sum(axis=1)
        index_type = index_dtype(int(counts.sum()), self.n_targets)
        indptr = np.zeros(n_rows + 1, dtype=index_type)
        np.cumsum(counts, out=indptr[1:])
        indices = self.indices[valid].astype(index_type, copy=False)
        csr = sp.csr_array((self.scores[valid], indices, indptr), shape=(n_rows, self.n_targets))
        csr.sort_indices()
        return csr


class SimilarityConfig(ComponentConfig):
    """Parameters every similarity backend has."""

    k: PositiveInt = 50
    """Number of neighbours kept per row."""
    update_slack: NonNegativeInt = 0
    """Neighbours kept per row beyond ``k`` for ``update`` and ``forget`` (backends whose
    ``update_measure`` is cosine or dot): with some slack (such as ``k``) a row rarely needs a
    new search after an update; with none, an update of 1% searches most rows again. The result
    is exact either way. Where rows' similarities lie close together (data without strong
    neighbourhoods), more slack still pays; see docs/updating.md, "Rows searched again"."""
    memory_limit_mb: PositiveInt | None = None
    """Refuse to start a neighbour search estimated to need more memory than this; by default
    80% of the memory available when the search starts."""

    run_settings: ClassVar[frozenset[str]] = frozenset({"memory_limit_mb"})
    """The fields that say how a search runs (threads, memory caps, the engine), not what it
    finds. ``update`` compares the others with the config the model was fitted with: a change of
    run settings alone is taken and the graphs are still brought up to date in place; a change of
    any other field searches them anew. A subclass adds its own (``run_settings =
    SimilarityConfig.run_settings | {"threads"}``); a field not listed counts as changing results."""


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

    def update_obstacle(self, columns_changed: bool) -> str | None:
        """Say why this backend's neighbours can't be updated row by row, or ``None`` if they can.

        ``Recommender.update`` and ``forget`` search again only the rows the update changed,
        and merge the others' old neighbours with their neighbours among the changed rows
        (found with :meth:`query` on a backend fitted on the changed rows alone). That equals
        a full search only if the similarity of two rows depends on nothing but those two rows
        as given to :meth:`fit` (and the number of columns, which is the same for both). A
        backend that can promise it returns ``None``; otherwise a short reason, which the
        update logs and records before it searches every row again. The default makes no
        promise.

        Parameters
        ----------
        columns_changed : bool
            Whether the rows have another number of columns than at the previous fit.
        """
        return f"similarity {self.name!r} does not say that its similarities can be updated row by row"

    def update_measure(self) -> Literal["cosine", "dot"] | None:
        """Say whether this backend's similarity is the cosine (or dot product) of the rows as given.

        ``Recommender.update`` then maintains the neighbours from how each pair's dot product
        changed, at the cost of the changed entries only (see docs/updating.md). Such a backend
        must also keep only positive similarities, as the built-ins do. The default, ``None``,
        promises nothing.
        """
        return None

    def estimate(self, rows: sp.csr_array, k: int | None = None) -> ResourceEstimate | None:
        """Estimate the cost of ``fit(rows).neighbours(k=k)`` before running it.

        The engine logs the estimate and refuses a search over ``memory_limit_mb``. Backends
        that can't tell return ``None`` (the default), and are not checked.
        """
        return None


@runtime_checkable
class SupportsTransposedFit(Protocol):
    """A similarity backend that can be fitted with the transpose of its rows, which it then keeps instead of a copy.

    A neighbour search of ``X @ X.T`` walks both ``X`` (the rows) and ``X.T``. The engine
    holds both orientations of the interaction matrix anyway (the users x items matrix is the
    transpose of the item rows, and the other way round), so a backend of this protocol is
    fitted with :meth:`fit_transposed` and shares the engine's transpose instead of building
    its own: on MovieLens-20M-sized data that is a copy of the matrix saved (hundreds of MB).
    The ``Recommender`` calls it only when the class that defines the backend's ``fit`` defines
    ``fit_transposed`` too, so a subclass that overrides ``fit`` alone is fitted by its ``fit``.
    """

    def fit_transposed(self, rows: sp.csr_array, transposed: sp.csr_array) -> Self:
        """Fit on `rows` as :meth:`SimilarityBackend.fit` does, given ``transposed == rows.T``.

        `transposed` is CSR of shape ``(n_columns, n_rows)`` with sorted indices, the same
        entries and values as `rows`. The backend may keep both matrices (it never changes
        them, and it may make their arrays read-only). A backend checks it, cheaply but entry
        by entry, and refuses a matrix that is not the transpose with an error naming
        ``transposed``, rather than answering wrong neighbours. A measure that searches
        prepared copies of the rows (not the raw rows) may ignore it.
        """
        ...
