"""Built-in matrix builders: ``ratings``, ``binary`` and the weightings ``bm25``, ``tfidf``, ``log_confidence``.

The weightings follow the information-retrieval reading of item-CF used by implicit: each item
is a *document* whose *terms* are its users. An entry ``r`` of user ``u`` and item ``i`` is
reweighted by how rare the user is (``idf(u) = log(n_items) - log(1 + n_items_of(u))``) and,
for BM25, by how long the item's document is.

``ratings`` and ``binary`` also bring a previous matrix up to date with an :class:`EventChange`
(:meth:`MatrixBuilder.update`, see :func:`recframe.engine.update_cells`); the weightings are
built again, as a user's rarity and an item's length change with every event.

Each builder states the values it can take: the weightings need non-negative values (counts,
ratings on a positive scale), and every builder refuses to hand on a weight that is not a finite
number. Both raise :class:`DataError` naming the ratings column, the offending value and the
event's user and item, never a plugin error further down the line.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import ClassVar

import numpy as np
from pydantic import Field

from recframe import (
    Component,
    ComponentConfig,
    ConfigError,
    DataError,
    DuplicatePolicy,
    EventChange,
    FloatArray,
    IntArray,
    InteractionMatrix,
    Interactions,
    MatrixBuilder,
    MatrixUpdate,
    hookimpl,
    short_repr,
)
from recframe.engine import check_measurable, positive_values, update_cells, value_bounds

logger = logging.getLogger(__name__)


class RatingsConfig(ComponentConfig):
    """Parameters of :class:`RatingsMatrixBuilder`."""

    duplicates: DuplicatePolicy = "last"
    """How repeated (user, item) pairs combine: keep the last or first (by timestamp, else file
    order), their mean, sum or max, or fail with an error."""
    default_value: float = Field(1.0, gt=0.0, le=1e6)
    """Value used when the data has no ratings column."""


_WARNED_OF_ZEROS: set[str] = set()
"""The builders that warned of pairs of value 0 in this process (once each: a k-fold split or a
stream of updates would repeat it)."""


_RATED_ZERO = (
    "have the value 0, which a sparse matrix does not store",
    "shift the rating scale so that 0 is no rating, or use matrix 'binary'",
)
"""Why a ratings matrix has cells of value 0, and what to do: the words of :func:`_without_zeros`'s warning."""

_WEIGHTED_TO_ZERO = (
    "are weighted to 0 (their user has every item but one, whose rarity log(n_items) - log(1 + items of the "
    "user) is 0), which a sparse matrix does not store",
    "use matrix 'ratings', 'binary' or 'log_confidence' where users have nearly every item",
)
"""Why a weighted matrix has cells of value 0 (a user's rarity), and what to do."""


def _without_zeros(built: InteractionMatrix, who: str, why: tuple[str, str] = _RATED_ZERO) -> InteractionMatrix:
    """Return `built` (made with ``keep_zeros``) without its cells of value 0, warning of them once per process.

    A sparse matrix does not store a 0, so such a (user, item) pair is no interaction: the warning
    says how many pairs that leaves out, `why` (how they came to be 0, and what to do instead),
    once: a k-fold split or a stream of updates would repeat it.
    """
    stored = built.matrix.nnz
    built.matrix.eliminate_zeros()  # one pass, which the count of what it left out comes from
    zeros = stored - built.matrix.nnz
    if zeros and who not in _WARNED_OF_ZEROS:
        _WARNED_OF_ZEROS.add(who)
        logger.warning(
            "%s: %d (user, item) pairs %s: they count as not interacted with (exclude_seen may recommend "
            "them, popularity does not count them); %s (said once)",
            who,
            zeros,
            why[0],
            why[1],
        )
    return built


class RatingsMatrixBuilder(MatrixBuilder):
    """Use the explicit values (ratings, counts) as matrix weights.

    A value of exactly 0 is not stored, as in any sparse matrix: such a pair is no interaction
    (``exclude_seen`` may recommend its item again, popularity does not count it); a warning,
    once per process, says how many pairs that left out.
    """

    name = "ratings"
    Config = RatingsConfig
    config: RatingsConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the matrix of ratings."""
        built = _without_zeros(self._cells(interactions, keep_zeros=True), f"matrix {self.name!r}")
        require_finite(built, f"matrix {self.name!r}", f"matrix.duplicates={self.config.duplicates!r}")
        require_entries(built, len(interactions), f"matrix {self.name!r}", self.config.duplicates)
        check_measurable(built, f"matrix {self.name!r}")
        return built

    def update(self, previous: InteractionMatrix, change: EventChange) -> MatrixUpdate | None:
        """Return what :meth:`build` gives on ``change.after``, and the cells changed, from `previous` and the change.

        Only when every rating is positive (then a cell is stored exactly when it has events),
        and the duplicate policy combines an old cell with new events exactly (``sum``,
        ``mean`` and ``error`` on a cell that had events, ``first`` and ``last`` with new
        events older than old ones, are built again); otherwise ``None``.
        """
        if type(self).build is not RatingsMatrixBuilder.build or not positive_values(change.before, change.added):
            return None  # a subclass that builds otherwise is built again
        updated = update_cells(previous, change, self._cells, self.config.duplicates)
        if updated is not None:
            # the old values were checked when they were built: only the changed cells' can be non-finite
            if not np.isfinite(updated.cells.after).all():
                require_finite(updated, f"matrix {self.name!r}", f"matrix.duplicates={self.config.duplicates!r}")
            check_measurable(updated, f"matrix {self.name!r}", value_bounds(previous, updated))
        return updated

    def _cells(self, interactions: Interactions, *, keep_zeros: bool = False) -> InteractionMatrix:
        """Return the matrix of the events' ratings (the default value without), combined, unchecked."""
        values = interactions.values
        if values is None:
            values = np.full(len(interactions), self.config.default_value)
        with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller, naming the rating
            return InteractionMatrix.from_interactions(
                interactions, values, self.config.duplicates, keep_zeros=keep_zeros
            )


class BinaryConfig(ComponentConfig):
    """Parameters of :class:`BinaryMatrixBuilder`."""

    threshold: float | None = None
    """Keep only events whose value is at least this (e.g. 4 for ratings of 4 and 5); the data
    must then have values. By default every event counts."""


class BinaryMatrixBuilder(MatrixBuilder):
    """Implicit feedback: 1 wherever a user interacted with an item, 0 elsewhere."""

    name = "binary"
    Config = BinaryConfig
    config: BinaryConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the 0/1 matrix of (the kept) interactions."""
        built = self._cells(interactions)
        if built is None:
            msg = f"no interactions have a value of at least matrix.threshold={self.config.threshold!r}"
            raise DataError(msg)
        return built

    def update(self, previous: InteractionMatrix, change: EventChange) -> MatrixUpdate | None:
        """Return what :meth:`build` gives on ``change.after``, and the cells changed, from `previous` and the change.

        Every stored entry is 1 and a cell is stored exactly when it has a kept event, so this
        always answers, except when nothing would be left (then :meth:`build` says why), and for
        a subclass that builds otherwise.
        """
        if type(self).build is not BinaryMatrixBuilder.build:
            return None
        return update_cells(previous, change, self._cells, "max")

    def _cells(self, interactions: Interactions) -> InteractionMatrix | None:
        """Return the 0/1 matrix of the events that pass the threshold, ``None`` if none does."""
        threshold = self.config.threshold
        if threshold is not None:
            if interactions.values is None:
                msg = "matrix.threshold is set, but the data has no rating values"
                raise DataError(msg)
            interactions = interactions.take(interactions.values >= threshold)
            if len(interactions) == 0:
                return None
        return InteractionMatrix.from_interactions(interactions, np.ones(len(interactions)), "max")


class _WeightingConfig(ComponentConfig):
    """Parameters every weighting has."""

    duplicates: DuplicatePolicy = "sum"
    """How repeated (user, item) pairs combine before weighting (counts add up by default)."""


class _WeightingMatrixBuilder(MatrixBuilder):
    """Build the matrix of values (1 without values), then reweight its entries.

    An entry weighted to exactly 0 is not stored, as in any sparse matrix: under ``tfidf`` and
    ``bm25`` those of a user who has every item but one (rarity ``log(n_items) - log(1 + n_items
    - 1) = 0``), who then counts as having no history (a warning, once, says how many pairs).

    ``formula`` says, in messages, what the weighting computes from a value ``r``.
    """

    config: _WeightingConfig
    formula: ClassVar[str]

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the weighted matrix.

        Raises
        ------
        DataError
            If a rating is negative, or a weight comes out infinite (a huge count).
        """
        who = f"matrix {self.name!r}"
        if interactions.values is not None:
            require_non_negative(interactions, who, self.formula)
        values = interactions.values if interactions.values is not None else np.ones(len(interactions))
        with np.errstate(over="ignore", invalid="ignore"):  # checked below, naming the rating
            built = InteractionMatrix.from_interactions(interactions, values, self.config.duplicates)
            require_finite(built, who, f"matrix.duplicates={self.config.duplicates!r}")
            require_entries(built, len(interactions), who, self.config.duplicates)
            matrix = built.matrix.copy()
            rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
            matrix.data = self._weights(matrix.data, rows, matrix.indices, matrix.shape)
            if not np.isfinite(matrix.data).all():
                self._blame_parameters(built.matrix.data, rows, matrix.indices, matrix.shape)
        require_finite(InteractionMatrix(matrix, built.users, built.items), who, "its weighting", weighted_from=built)
        _without_zeros(InteractionMatrix(matrix, built.users, built.items), who, _WEIGHTED_TO_ZERO)
        if matrix.nnz == 0:
            msg = (
                f"{who} weighted all {built.nnz} entries to 0: with {matrix.shape[1]} items, the rarity "
                "log(n_items) - log(1 + items of the user) is 0 for every user here; "
                "use matrix type 'ratings' or 'binary' for so small a catalogue"
            )
            raise DataError(msg)
        weighted = InteractionMatrix(matrix, built.users, built.items)
        check_measurable(weighted, who)
        return weighted

    def _blame_parameters(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> None:
        """Raise :class:`ConfigError` if the weighting's default parameters weigh these values finitely.

        Then the parameters set in the run file, not the ratings, make the weights overflow, and
        the message names them.
        """
        defaults = type(self).Config()
        changed = {
            key: value
            for key, value in self.config.model_dump().items()
            if key != "duplicates" and value != getattr(defaults, key)
        }
        if not changed:
            return
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            default_weights = type(self)(defaults)._weights(values, users, items, shape)
        if not np.isfinite(default_weights).all():
            return
        settings = ", ".join(f"matrix.{key}={short_repr(value)}" for key, value in changed.items())
        msg = (
            f"matrix {self.name!r}: {settings} makes weights overflow to a non-finite number on these "
            f"ratings (largest {short_repr(float(values.max(initial=0.0)))}), while the default "
            f"{', '.join(f'{key}={getattr(defaults, key)!r}' for key in changed)} weighs them finitely; "
            f"as {self.formula}, use smaller parameter values"
        )
        raise ConfigError(msg)

    @abstractmethod
    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        """Return the weight of each stored entry (value, user row, item row) of a matrix of `shape`."""

    @staticmethod
    def _idf(users: IntArray, shape: tuple[int, int]) -> FloatArray:
        """``log(n_items) - log(1 + n_items_of(u))`` of each entry's user."""
        n_users, n_items = shape
        per_user = np.bincount(users, minlength=n_users)
        return np.asarray(np.log(n_items) - np.log1p(per_user))[users]


class BM25Config(_WeightingConfig):
    """Parameters of :class:`BM25MatrixBuilder`."""

    k1: float = Field(1.2, ge=0.0, le=1e4)
    """Saturation of repeated interactions: larger values let large counts weigh more (up to
    proportionally, which k1 = 10,000 already is)."""
    b: float = Field(0.75, ge=0.0, le=1.0)
    """Length normalisation: 0 ignores how many users an item has, 1 normalises fully."""


class BM25MatrixBuilder(_WeightingMatrixBuilder):
    """BM25 weights: ``r (k1 + 1) / (k1 ((1 - b) + b L_i / mean L) + r) * idf(u)``.

    ``L_i`` is the sum of item ``i``'s values. With the ``dot`` measure this is implicit's
    ``BM25Recommender`` (same defaults).
    """

    name = "bm25"
    Config = BM25Config
    config: BM25Config
    formula = "it weights r (k1 + 1) / (k1 norm + r) by user rarity"

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        lengths = np.bincount(items, weights=values, minlength=shape[1])
        norm = (1.0 - self.config.b) + self.config.b * lengths / lengths.mean()
        k1 = self.config.k1
        return np.asarray(values * (k1 + 1.0) / (k1 * norm[items] + values) * self._idf(users, shape))


class TFIDFConfig(_WeightingConfig):
    """Parameters of :class:`TFIDFMatrixBuilder`."""


class TFIDFMatrixBuilder(_WeightingMatrixBuilder):
    """TF-IDF weights: ``sqrt(r) * idf(u)``. With the ``cosine`` measure this is implicit's ``TFIDFRecommender``."""

    name = "tfidf"
    Config = TFIDFConfig
    formula = "it weights sqrt(r) by user rarity"

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(np.sqrt(values) * self._idf(users, shape))


class LogConfidenceConfig(_WeightingConfig):
    """Parameters of :class:`LogConfidenceMatrixBuilder`."""

    alpha: float = Field(1.0, ge=1e-6, le=1e6)
    """Scale of the confidence."""
    epsilon: float = Field(1.0, ge=1e-6, le=1e9)
    """Count at which confidence starts to grow logarithmically."""


class LogConfidenceMatrixBuilder(_WeightingMatrixBuilder):
    """Log-scaled confidence of implicit feedback: ``1 + alpha * log(1 + r / epsilon)`` (Hu, Koren and Volinsky)."""

    name = "log_confidence"
    Config = LogConfidenceConfig
    config: LogConfidenceConfig
    formula = "it weights 1 + alpha log(1 + r / epsilon) of counts r"

    def _weights(self, values: FloatArray, users: IntArray, items: IntArray, shape: tuple[int, int]) -> FloatArray:
        return np.asarray(1.0 + self.config.alpha * np.log1p(values / self.config.epsilon))


def require_non_negative(interactions: Interactions, who: str, why: str) -> None:
    """Raise :class:`DataError` naming the first negative rating of `interactions`, if any.

    Parameters
    ----------
    interactions : Interactions
        Events with values.
    who : str
        The builder, as messages name it (``matrix 'tfidf'``).
    why : str
        What the builder computes, to say why negative values can't be taken.
    """
    values = interactions.values
    if values is None:
        return
    negative = np.flatnonzero(values < 0)
    if negative.size:
        first = negative[0]
        msg = (
            f"{who} needs non-negative values in the ratings column, got {values[first].item()!r} for user "
            f"{interactions.users[first].item()!r} and item {interactions.items[first].item()!r} "
            f"({negative.size} negative in all), as {why}; shift the ratings, drop the negative ones "
            "with a rating_threshold filter, or use matrix type 'ratings'"
        )
        raise DataError(msg)


def require_entries(built: InteractionMatrix, n_events: int, who: str, duplicates: str) -> None:
    """Raise :class:`DataError` if `built` stores nothing because every value is 0."""
    if built.nnz == 0:
        msg = (
            f"{who} stores no entry: all {n_events} values in the ratings column are 0 once repeated pairs "
            f"are combined (matrix.duplicates={duplicates!r}), and a 0 is not stored; "
            "use matrix type 'binary' to count every event"
        )
        raise DataError(msg)


def require_finite(
    matrix: InteractionMatrix, who: str, cause: str, *, weighted_from: InteractionMatrix | None = None
) -> None:
    """Raise :class:`DataError` naming the first entry of `matrix` that is not a finite number.

    Parameters
    ----------
    matrix : InteractionMatrix
        The built (or weighted) matrix.
    who : str
        The builder, as messages name it.
    cause : str
        What produced the values (the duplicates policy, or the weighting's formula).
    weighted_from : InteractionMatrix, optional
        The matrix of values `matrix` was weighted from, with the same sparsity pattern; the
        message then shows the value that gave the bad weight.
    """
    data = matrix.matrix.data
    bad = np.flatnonzero(~np.isfinite(data))
    if not bad.size:
        return
    first = bad[0]
    row = int(np.searchsorted(matrix.matrix.indptr, first, side="right") - 1)
    user = matrix.users.ids_of([row])[0].item()
    item = matrix.items.ids_of([matrix.matrix.indices[first]])[0].item()
    source = f" from the rating {weighted_from.matrix.data[first].item()!r}" if weighted_from is not None else ""
    msg = (
        f"{who} computed {data[first].item()!r}{source} for user {user!r} and item {item!r} "
        f"({bad.size} non-finite weights in all): the ratings column has values too large for {cause}; "
        "rescale the ratings"
    )
    raise DataError(msg)


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the built-in matrix builders."""
    return [
        RatingsMatrixBuilder,
        BinaryMatrixBuilder,
        BM25MatrixBuilder,
        TFIDFMatrixBuilder,
        LogConfidenceMatrixBuilder,
    ]
