"""What ``fit`` learns, as one object published whole: :class:`_Fitted`.

``fit``, ``load`` and ``update`` build a complete :class:`_Fitted` and publish it with one
atomic swap (:meth:`~recframe.recommender.fitting.FitMethods._publish`); a query reads the
published object once and uses only its fields, so it never mixes two models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import scipy.sparse as sp

    from recframe.data import InteractionMatrix, Interactions
    from recframe.interfaces import CandidateRanker, ComponentConfig, MatrixBuilder, NeighbourGraph, SimilarityBackend
    from recframe.recommender.neighbour_lists import NeighbourLists


@dataclass
class _Fitted:
    """Everything ``fit`` learns; published whole by :meth:`FitMethods._publish`.

    A query reads the published object once (``fitted = self._state()``) and then uses only
    its fields, so it never mixes two fits. The object is not changed once published, except
    that a neighbour graph (and its backend) computed on first use is added under the
    recommender's lock.

    Attributes
    ----------
    matrix : InteractionMatrix
        The training matrix, with the user and item ids.
    fingerprint : str
        sha256 of the training interactions.
    n_interactions : int
        Number of training interactions.
    rankers : tuple of CandidateRanker
        The fitted rankers: the main ranker first, then the fallback chain in order. They are
        private copies of ``rec.ranker`` and ``rec.fallbacks``, fitted on `matrix`.
    similarity : SimilarityBackend
        An unfitted copy of ``rec.similarity`` taken at fit time: its type and config build the
        backends of `backends` (also those made on first use by ``similar_*``).
    backends : dict of str to SimilarityBackend
        The fitted similarity backend of each axis (``"users"``, ``"items"``) used so far.
    graphs : dict of str to NeighbourGraph
        The neighbour graph of each axis computed so far.
    timings : dict of str to float
        Seconds spent in each step of the fit (or of the update that made this state).
    interactions : Interactions or None
        The training interactions, which ``update`` and ``forget`` change; ``None`` for a
        model saved without them.
    lineage : tuple of dict
        The fit and every update since, oldest first, as JSON values (see
        :attr:`~recframe.recommender.updating.UpdateMethods.lineage`).
    item_rows : csr_array or None
        The items x users matrix (the transpose of the matrix), once something needed it.
    lists : dict of str to NeighbourLists
        For backends updated from dot products: each axis's neighbour lists with the slack and
        their floors, which ``update`` maintains (``graphs`` holds their best ``k``).
    builder : MatrixBuilder or None
        The matrix builder that built `matrix` (or brought it up to date), so that an update
        brings `matrix` up to date only with the builder that made it (``MatrixBuilder.update``)
        and a save records that builder, not ``rec.matrix`` set since; a loaded model's is the
        saved builder. ``None`` where it is not known: the next update then builds the matrix
        again.
    save_id : str or None
        The id of the last save of this state, loaded from or written to (each save writes a
        random one into its manifest; a save sets it, the one field changed after publishing
        besides the graphs), ``None`` for a state fitted or changed in this process and not
        saved since: it tells whether a model folder still holds this very model.
    """

    matrix: InteractionMatrix
    fingerprint: str
    n_interactions: int
    rankers: tuple[CandidateRanker, ...]
    similarity: SimilarityBackend
    backends: dict[str, SimilarityBackend] = field(default_factory=dict)
    graphs: dict[str, NeighbourGraph] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    interactions: Interactions | None = None
    lineage: tuple[dict[str, Any], ...] = ()
    lists: dict[str, NeighbourLists] = field(default_factory=dict)
    item_rows: sp.csr_array | None = None
    builder: MatrixBuilder | None = None
    save_id: str | None = None

    @property
    def built_by(self) -> tuple[type[MatrixBuilder], ComponentConfig] | None:
        """The class and config of :attr:`builder` (what an update compares ``rec.matrix`` with), or ``None``."""
        return None if self.builder is None else (type(self.builder), self.builder.config)

    @property
    def ranker(self) -> CandidateRanker:
        """The fitted main ranker."""
        return self.rankers[0]

    @property
    def fallbacks(self) -> tuple[CandidateRanker, ...]:
        """The fitted fallback rankers, in order."""
        return self.rankers[1:]
