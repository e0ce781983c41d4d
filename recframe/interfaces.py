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

import os
import types
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePath
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    ClassVar,
    Literal,
    Protocol,
    Union,
    get_args,
    get_origin,
    runtime_checkable,
)

import numpy as np
import scipy.sparse as sp
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from recframe.errors import NotFittedError, short_repr
from recframe.secrets import mask_secret_names

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.data import FloatArray, IntArray, InteractionMatrix, Interactions

Kind = Literal["data", "filter", "matrix", "similarity", "ranker", "splitter", "metric"]
KINDS: tuple[Kind, ...] = ("data", "filter", "matrix", "similarity", "ranker", "splitter", "metric")


INT64_MAX = 2**63 - 1
"""Largest integer any component parameter may hold (numpy's int64)."""
MAX_LIST_LENGTH = 10_000
"""Longest recommendation list a ranker's ``n`` or a metric's ``k`` may ask for."""


MAX_PATH_LENGTH = 4096
"""Longest path a config field typed :class:`~pathlib.Path` may hold (Linux's ``PATH_MAX``)."""


def path_text_problem(text: str) -> str | None:
    """Return why `text` can't be a path (empty, a NUL character, too long), or ``None`` if it can."""
    if not text.strip():
        return f"the path {short_repr(text)} is empty; give a file or folder name (. for the current folder)"
    if "\0" in text:
        return f"{short_repr(text)} contains a NUL character (\\0), which no path can hold"
    if len(text) > MAX_PATH_LENGTH:
        return f"{short_repr(text)} is {len(text)} characters long; a path may have at most {MAX_PATH_LENGTH}"
    return None


def expand_home(path: PurePath) -> PurePath:
    """Return `path` with a leading ``~`` or ``~user`` replaced by that home folder.

    Raises
    ------
    ValueError
        If the home folder is not known (no such user, or no ``HOME``).
    """
    text = str(path)
    if not text.startswith("~"):
        return path
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        user = text[1:].split("/", 1)[0] or "the current user"
        msg = f"{short_repr(text)} starts with ~, and no home folder is known for {user}"
        raise ValueError(msg)
    return type(path)(expanded)


def _branches(annotation: object) -> list[object]:
    """Return the types a field annotation accepts: unions flattened, ``Annotated`` unwrapped."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _branches(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [branch for arg in get_args(annotation) for branch in _branches(arg)]
    return [annotation]


def _is_type(branch: object, *classes: type) -> bool:
    return isinstance(branch, type) and issubclass(branch, classes)


_SEQUENCES = (list, tuple, set, frozenset)


def _input_problem(annotation: object, value: object, depth: int = 0) -> str | None:
    """Return why a raw `value` does not fit `annotation` in a way pydantic would let through.

    Pydantic's lax mode takes ``true`` for ``1`` and any text for a path; a run file means
    neither. Looks into lists, tuples and mappings of the annotation (a few levels deep).
    """
    branches = _branches(annotation)
    if any(branch is Any or branch is object for branch in branches):
        return None
    if isinstance(value, bool):
        if any(_is_type(b, bool) or (get_origin(b) is Literal and value in get_args(b)) for b in branches):
            return None
        numbers = [b for b in branches if _is_type(b, int, float)]
        if not numbers:
            return None
        what = "a number" if any(_is_type(b, float) for b in numbers) else "an integer"
        return f"must be {what}, not a boolean; got {'true' if value else 'false'}"
    if isinstance(value, str):
        if any(_is_type(b, PurePath) for b in branches) and not any(_is_type(b, str) for b in branches):
            return path_text_problem(value)
        return None
    if depth >= 3:
        return None
    for branch in branches:
        origin, args = get_origin(branch), get_args(branch)
        if isinstance(value, list | tuple) and _is_type(origin, *_SEQUENCES) and args:
            for i, item in enumerate(value):
                item_type = args[0] if origin is not tuple or args[-1] is ... else args[min(i, len(args) - 1)]
                problem = _input_problem(item_type, item, depth + 1)
                if problem is not None:
                    return f"entry {i}: {problem}"
        elif isinstance(value, Mapping) and _is_type(origin, dict, Mapping) and len(args) == 2:
            for key, item in value.items():
                problem = _input_problem(args[1], item, depth + 1)
                if problem is not None:
                    return f"entry {short_repr(key)}: {problem}"
    return None


def _mentions_path(annotation: object, depth: int = 0) -> bool:
    """Say whether a field annotation holds a path anywhere (a few levels of containers deep)."""
    return depth < 4 and any(
        _is_type(branch, PurePath) or any(_mentions_path(arg, depth + 1) for arg in get_args(branch))
        for branch in _branches(annotation)
    )


def _expand_paths(value: object, depth: int = 0) -> object:
    """Return `value` with ``~`` expanded in every path in it (a few levels of lists deep)."""
    if isinstance(value, PurePath):
        return expand_home(value)
    if depth < 3 and isinstance(value, list | tuple):
        return type(value)(_expand_paths(item, depth + 1) for item in value)
    if depth < 3 and isinstance(value, dict):
        return {key: _expand_paths(item, depth + 1) for key, item in value.items()}
    return value


class SettingsModel(BaseModel):
    """Base class of every settings model of a run file: component configs and the run's own sections.

    Unknown keys are rejected, instances are immutable, floats must be finite (``nan`` and
    ``inf`` are refused), integers fit numpy's int64, a number field refuses ``true``/``false``,
    and a path field refuses empty text, NUL characters and more than :data:`MAX_PATH_LENGTH`
    characters, and expands a leading ``~`` to the home folder.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _mask_secret_names(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """Mask, in JSON dumps (config.yaml, run.json, report.html), text fields named like a credential."""
        data = handler(self)
        return mask_secret_names(data) if info.mode_is_json() and isinstance(data, dict) else data

    @field_validator("*", mode="before")
    @classmethod
    def _strict_input(cls, value: object, info: ValidationInfo) -> object:
        """Refuse booleans in number fields and unusable text in path fields, before pydantic converts them."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            problem = _input_problem(field.annotation, value)
            if problem is not None:
                raise ValueError(problem)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _int64(cls, value: object, info: ValidationInfo) -> object:
        """Refuse an integer that numpy can't hold (beyond int64), whatever the field's bounds; expand ``~``."""
        if isinstance(value, int) and not isinstance(value, bool) and not -INT64_MAX <= value <= INT64_MAX:
            msg = f"{short_repr(value)} is too large; integers must be within +-{INT64_MAX}"
            raise ValueError(msg)
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _mentions_path(field.annotation):
            return _expand_paths(value)
        return value


class ComponentConfig(SettingsModel):
    """Base class of every component's parameters.

    Unknown keys are rejected, instances are immutable, floats must be finite (``nan`` and
    ``inf`` are refused), and the docstring under each field becomes its description in the
    JSON Schema and the configuration reference. Number fields refuse ``true``/``false``;
    path fields (typed :class:`~pathlib.Path`) refuse empty text, NUL characters and over-long
    values, and expand a leading ``~`` to the home folder (see :class:`SettingsModel`).
    """


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

    n: int = Field(10, gt=0, le=MAX_LIST_LENGTH)
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
    def split(
        self, interactions: Interactions, rng: np.random.Generator
    ) -> tuple[Interactions, Interactions]:
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
class ScoreParts:
    """The terms that add up to one (user, item) score: ``score = sum(contributions)``.

    Attributes
    ----------
    neighbours : ndarray of shape (n_terms,), int64
        Rows of the neighbours behind the terms: items (item-CF) or users (user-CF).
    similarities : ndarray of shape (n_terms,), float64
        Each neighbour's similarity (to the item, or to the user).
    values : ndarray of shape (n_terms,), float64
        The interaction weighed by it (the user's with the neighbour item, or the neighbour
        user's with the item).
    contributions : ndarray of shape (n_terms,), float64
        ``similarities * values``, largest first.
    """

    neighbours: IntArray
    similarities: FloatArray
    values: FloatArray
    contributions: FloatArray


@runtime_checkable
class SupportsExplain(Protocol):
    """A ranker that can say which neighbours produced a score (``item_cf`` and ``user_cf`` can)."""

    def explain(self, user: int, items: IntArray) -> list[ScoreParts]:
        """Return the terms of the score of each item in `items` for the user row `user`."""
        ...


@runtime_checkable
class SupportsNewUsers(Protocol):
    """A ranker that recommends for histories given at call time, without refitting (cold start)."""

    def recommend_new(self, histories: sp.csr_array, n: int, neighbours: NeighbourGraph | None) -> TopN:
        """Return the top-`n` items of each new user, never one of their own items.

        Parameters
        ----------
        histories : csr_array of shape (n_new, n_items)
            The new users' interactions with training items (their values, e.g. ratings).
        n : int
            List length.
        neighbours : NeighbourGraph or None
            For user-based rankers: each new user's nearest training users, found by the
            similarity backend's ``query``; ``None`` for the others.
        """
        ...


SOURCES = ("neighbours", "user_mean", "item_mean", "global_mean", "baseline")
"""What answered each prediction, by code (the index in this tuple)."""


@dataclass(frozen=True, eq=False)
class Predictions:
    """Predicted ratings of (user, item) pairs.

    Attributes
    ----------
    values : ndarray of shape (n_pairs,), float64
        The predictions.
    source : ndarray of shape (n_pairs,), int8
        What answered each pair: an index into :data:`SOURCES` (0: the neighbours).
    n_neighbours : ndarray of shape (n_pairs,), int64
        How many neighbours contributed to each pair.
    """

    values: FloatArray
    source: np.ndarray
    n_neighbours: IntArray

    @property
    def n_fallback(self) -> int:
        """Number of pairs a fallback answered."""
        return int(np.count_nonzero(self.source))

    def source_names(self) -> np.ndarray:
        """Return each pair's source as a name (``"neighbours"``, ``"user_mean"``, ...)."""
        names: np.ndarray = np.asarray(SOURCES)[self.source]
        return names


@runtime_checkable
class SupportsPredict(Protocol):
    """A ranker that also predicts ratings (``item_cf`` and ``user_cf`` do)."""

    def predict(self, users: IntArray, items: IntArray) -> Predictions:
        """Return the predicted rating of each (user row, item row) pair; ``-1`` marks an unknown one."""
        ...


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

    @abstractmethod
    def compute(self, data: MetricInput) -> FloatArray | float:
        """Return the metric of each user (``per_user``), or of the whole run.

        Parameters
        ----------
        data : MetricInput
            The ranked lists, their hits and gains, and the training matrix. Lists may be
            longer or shorter than ``k``; missing places count as misses.
        """
