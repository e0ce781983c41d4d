"""Fitting a recommender: its components' state, the neighbour graphs, and what ``fit`` learns.

:class:`FitMethods` is the base of :class:`~recframe.recommender.Recommender`: the attributes
every part of the API reads, how the engine calls into components, loading and filtering the
data, and ``fit``, which publishes its state (:class:`_Fitted`) with one atomic swap so that a
reader never sees a half-fitted recommender.

Fitting never changes the component objects the recommender was built with: ``rec.ranker``,
``rec.fallbacks`` and ``rec.similarity`` are templates (their type and config say what to fit).
``fit`` fits private copies of them (:func:`_fresh_copy`) and publishes the fitted copies inside
:class:`_Fitted`, so that a query running during a refit answers wholly from the old or wholly
from the new model, and a component object shared by two recommenders is never changed by
fitting either of them.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import scipy.sparse as sp

from recframe.data import InteractionMatrix, Interactions
from recframe.data.matrix import DATA_FAULTS
from recframe.engine import freeze_shared, transpose
from recframe.engine.entry_facts import entry_facts
from recframe.errors import ConfigError, DataError, NotFittedError, RecframeError
from recframe.interfaces import (
    CandidateRanker,
    Component,
    DataSource,
    Executor,
    Filter,
    MatrixBuilder,
    Metric,
    NeighbourGraph,
    SimilarityBackend,
    Splitter,
    SupportsTransposedFit,
)
from recframe.interfaces.calls import calling, checked_interactions, is_builtin
from recframe.interfaces.checks import check_graph, check_interactions, check_matrix
from recframe.recommender.block_runs import spreads
from recframe.recommender.blocks import load_source, search_blocks
from recframe.recommender.filtering import FilterStep, apply_filters
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.held_events import HeldEvents, ranges_of
from recframe.recommender.neighbour_lists import NeighbourLists
from recframe.recommender.preflight import capped_k, preflight
from recframe.registry import describe_component

if TYPE_CHECKING:
    from typing_extensions import Self

    from recframe.config import EvaluationSettings, RunConfig
    from recframe.registry import PluginRegistry

logger = logging.getLogger(__name__)

_C = TypeVar("_C", bound=Component)


def _fresh_copy(component: _C) -> _C:
    """Return a private copy of `component` for ``fit`` to fit, leaving `component` unchanged.

    ``copy.deepcopy`` rather than ``type(c)(c.config)``: it also keeps what a plugin's
    ``__init__`` set besides its config, and a template is never fitted by the recommender, so
    the copy is cheap (a config and a few attributes).
    """
    return copy.deepcopy(component)


COMPONENT_ROLES = (
    ("matrix", MatrixBuilder),
    ("similarity", SimilarityBackend),
    ("ranker", CandidateRanker),
    ("executor", Executor),
)
"""The recommender's component attributes (beside its fallbacks) and the interface each must implement."""


def check_component(role: str, component: object, interface: type) -> None:
    """Raise a TypeError if `component`, the recommender's `role`, is not an instance of `interface`."""
    if not isinstance(component, interface):
        msg = f"{role} must be a {interface.__name__}; got {type(component).__name__}"
        raise TypeError(msg)


class FitMethods:
    """The fitting part of :class:`~recframe.recommender.Recommender`: its state and ``fit``.

    The attributes are set by ``Recommender.__init__``; see there. ``ranker``, ``fallbacks`` and
    ``similarity`` are templates: ``fit`` fits private copies of them, and the fitted copies
    (:attr:`fitted_ranker`, :attr:`fitted_fallbacks`) answer the queries. Assigning a new
    template takes effect at the next ``fit``, ``update`` or ``forget``.
    """

    data: DataSource | None
    matrix: MatrixBuilder
    similarity: SimilarityBackend
    ranker: CandidateRanker
    fallbacks: tuple[CandidateRanker, ...]
    splitter: Splitter | None
    metrics: tuple[Metric, ...]
    evaluation: EvaluationSettings
    test_data: DataSource | None
    filters: tuple[Filter, ...]
    executor: Executor
    filter_report: list[FilterStep]
    seed: int
    name: str
    registry: PluginRegistry | None
    config: RunConfig | None
    _fitted: _Fitted | None
    _lock: threading.Lock

    def _check_components(self) -> None:
        """Raise a TypeError naming the attribute where a component set after construction is not of its interface.

        The constructor checks them too; ``rec.similarity = {"type": ...}`` (a config, not a
        backend) set afterwards would fail deep in the next fit or update instead.
        """
        for role, interface in COMPONENT_ROLES:
            check_component(role, getattr(self, role), interface)
        for position, ranker in enumerate(self.fallbacks):
            check_component(f"ranker.fallback[{position}]", ranker, CandidateRanker)

    @property
    def fallback(self) -> CandidateRanker | None:
        """The first fallback ranker, or ``None`` without one."""
        return self.fallbacks[0] if self.fallbacks else None

    def _who(self, component: Component) -> str:
        """Name a component in errors, with its package where the registry knows it."""
        if self.registry is not None:
            return self.registry.describe(component)
        return describe_component(component)

    @staticmethod
    def _builtin(component: Component) -> bool:
        """Whether `component` is one of recframe's own (its data errors are the data's fault)."""
        return is_builtin(type(component))

    def _call(self, component: Component, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` of `component`: every call the engine makes into a component goes here.

        What the component raises by accident (any exception but a :class:`RecframeError`, and
        ``SystemExit``) becomes a :class:`PluginError` naming the component and the method; see
        :func:`recframe.interfaces.calls.calling`. Built-in components are called the same way.
        """
        with calling(lambda: self._who(component), method):
            return getattr(component, method)(*args, **kwargs)

    def _folds(self, splitter: Splitter, interactions: Interactions) -> Iterator[Any]:
        """Iterate over `splitter`'s folds, each step guarded like :meth:`_call`."""
        method = "split" if type(splitter).folds is Splitter.folds else "folds"
        folds = iter(self._call(splitter, "folds", interactions, self._rng(1)))
        end = object()
        while True:
            with calling(lambda: self._who(splitter), method):
                parts = next(folds, end)
            if parts is end:
                return
            yield parts

    def _rng(self, stream: int) -> np.random.Generator:
        """Return the generator of one random stream (0: data, 1: split) of this seed."""
        return np.random.default_rng([stream, self.seed])

    def load_data(self) -> Interactions:
        """Return the interactions of the configured data source, passed through its filters.

        What each filter removed is kept in :attr:`filter_report` (and logged).

        Raises
        ------
        ConfigError
            If no data source is configured.
        DataError
            If a filter leaves no interaction.
        """
        if self.data is None:
            msg = "no data: pass interactions to fit() or configure a data source (the 'data' section)"
            raise ConfigError(msg)
        self._call(self.executor, "check")  # an executor that can't run fails before any work, used or not
        start = time.perf_counter()
        with checked_interactions(self._who(self.data), builtin=self._builtin(self.data)):
            who, runs = self._who(self.data), self._who(self.executor)
            loaded = load_source(self.executor, self.data, self._rng(0), who, runs)  # in parts, where it can
        interactions = check_interactions(loaded, self._who(self.data))
        logger.info(
            "loaded %d interactions from %s in %.2fs",
            len(interactions),
            self._who(self.data),
            time.perf_counter() - start,
        )
        interactions, self.filter_report = apply_filters(
            interactions, self.filters, [self._who(f) for f in self.filters], [self._builtin(f) for f in self.filters]
        )
        for step in self.filter_report:
            removed = step.removed()
            logger.info(
                "filter %s removed %d events, %d users, %d items (%d events left)",
                step.filter,
                removed["events"],
                removed["users"],
                removed["items"],
                step.events_after,
            )
        return interactions

    def fit(self, data: object | None = None) -> Self:
        """Build the matrix and neighbour graphs, fit the rankers, and publish them in one swap.

        The components are fitted as private copies (``rec.ranker``, ``rec.fallbacks`` and
        ``rec.similarity`` are left unchanged; :attr:`fitted_ranker` is the fitted main
        ranker). Queries running meanwhile keep answering from the previous fit until the new
        one is complete, then from the new one.

        Parameters
        ----------
        data : Interactions, mapping of columns or pandas DataFrame, optional
            The training interactions; by default those of the data source. The model keeps
            them as its training events without a copy (``update``, ``forget`` and ``save``
            read them later, also after updates): don't write into arrays given here
            afterwards, or pass copies.

        Raises
        ------
        DataError
            If the data is empty or malformed.
        PluginError
            If a component returns something that breaks its contract.
        """
        self._check_components()
        interactions = self.load_data() if data is None else Interactions.from_any(data)
        self._publish(self._fit_state(interactions))
        return self

    def _fit_state(self, interactions: Interactions) -> _Fitted:
        """Fit private copies of the components on `interactions` and return them, unpublished.

        Raises
        ------
        DataError
            If there is no interaction.
        """
        if len(interactions) == 0:
            msg = "no interactions to fit; the data is empty"
            raise DataError(msg)
        self._call(self.executor, "check")  # also where the data was given: small data may not need it
        timings: dict[str, float] = {}
        start = time.perf_counter()
        builder = self.matrix
        with checked_interactions(self._who(builder), builtin=self._builtin(builder), data_faults=DATA_FAULTS):
            built = self._call(builder, "build", interactions)
        # one pass; the model's own matrix from now on, read-only, its facts and column totals kept for updates
        facts = entry_facts(built, columns=True, own=True)[0]
        matrix = check_matrix(built, self._who(builder), interactions, facts)
        timings["matrix"] = time.perf_counter() - start
        logger.info("matrix: %d users x %d items, %d entries", matrix.n_users, matrix.n_items, matrix.nnz)
        with calling(self._who(self.similarity), "__deepcopy__"):
            similarity = _fresh_copy(self.similarity)
        fingerprint = interactions.fingerprint()
        fitted = _Fitted(
            matrix,
            fingerprint,
            len(interactions),
            (),
            similarity,
            timings=timings,
            interactions=HeldEvents(interactions, ranges_of(interactions)),  # what updates ask of them, found once
            lineage=({"kind": "fit", "events": len(interactions), "fingerprint": fingerprint},),
            builder=self.matrix,
        )
        self._fit_rankers(fitted)
        return fitted

    def _fit_rankers(self, fitted: _Fitted) -> None:
        """Fit private copies of the ranker templates on `fitted`'s matrix and graphs, into `fitted`."""
        rankers = []
        for template in (self.ranker, *self.fallbacks):
            with calling(self._who(template), "__deepcopy__"):
                ranker = _fresh_copy(template)
            graph = self._graph(fitted, ranker.neighbour_axis)
            start = time.perf_counter()
            self._call(ranker, "fit", fitted.matrix, graph)
            fitted.timings[f"fit {ranker.name}"] = time.perf_counter() - start
            rankers.append(ranker)
        fitted.rankers = tuple(rankers)

    def _publish(self, fitted: _Fitted, *, replacing: _Fitted | None = None, templates_of: Self | None = None) -> None:
        """Make `fitted` the state every later query answers from: one atomic swap.

        ``fit`` calls it, and so does anything else that builds a complete :class:`_Fitted`
        (loading a saved model, an update). `fitted` must not be changed afterwards.

        Parameters
        ----------
        replacing : _Fitted, optional
            The state `fitted` was derived from (by an update): the swap happens only if it is
            still the published one.
        templates_of : recommender, optional
            Whose component templates (``matrix``, ``similarity``, ``ranker``, ``fallbacks``)
            and config become this one's in the same swap (a reload), so that a ``save``, which
            reads the state and the templates under the same lock, never pairs the old model
            with the new templates.

        Raises
        ------
        RecframeError
            If `replacing` is no longer published (a fit or load swapped in another model
            meanwhile); nothing is changed.
        """
        if not fitted.rankers:
            msg = "a fitted state needs at least the main ranker"
            raise ValueError(msg)
        with self._lock:
            if replacing is not None and self._fitted is not replacing:
                msg = "the model was replaced (fit, load or reload) while the update ran; the update was not applied"
                raise RecframeError(msg)
            if templates_of is not None:
                self.matrix, self.similarity = templates_of.matrix, templates_of.similarity
                self.ranker, self.fallbacks = templates_of.ranker, templates_of.fallbacks
                self.config = templates_of.config
            self._fitted = fitted

    def _graph(self, fitted: _Fitted, axis: str | None) -> NeighbourGraph | None:
        """Return (computing once) the neighbour graph of users or items."""
        if axis is None:
            return None
        if axis not in fitted.graphs:
            start = time.perf_counter()
            graph = self._search_all(fitted, axis)
            fitted.timings[f"neighbours {axis}"] = time.perf_counter() - start
            backend = fitted.backends[axis]
            logger.info(
                "%s: %d-nearest %s found in %.2fs",
                self._who(backend),
                graph.k,
                axis,
                fitted.timings[f"neighbours {axis}"],
            )
            fitted.graphs[axis] = graph
        return fitted.graphs[axis]

    def _search_all(self, fitted: _Fitted, axis: str) -> NeighbourGraph:
        """Search every row's neighbours; keep the lists updates need (with the slack) where the backend allows.

        A backend whose ``update_measure`` is cosine or dot is asked for ``k + update_slack + 1``
        neighbours; the first ``k + update_slack`` and their floors (the next one's similarity) go
        into ``fitted.lists``, and the best ``k`` are the graph rankers use.
        """
        backend = self._backend(fitted, axis)
        if self._call(backend, "update_measure") is None:
            fitted.lists.pop(axis, None)
            return self._search(fitted, axis, None)
        config = fitted.similarity.config
        width = config.k + config.update_slack
        lists = NeighbourLists.of(self._search(fitted, axis, None, width + 1), width)  # the next: the floor
        fitted.lists[axis] = lists
        return lists.served(config.k)

    def _search(self, fitted: _Fitted, axis: str, rows: np.ndarray | None, k: int | None = None) -> NeighbourGraph:
        """Return the checked neighbours of `rows` of `axis` (all rows for ``None``: estimated first)."""
        backend = self._backend(fitted, axis)
        n_rows = fitted.matrix.n_users if axis == "users" else fitted.matrix.n_items
        if rows is None:
            similarity = fitted.similarity
            # a row has at most n_rows - 1 neighbours, whatever k asks for: estimate what will be built
            rows_of_axis = self._rows(fitted, axis)
            # the width asked (k, or the lists' k + update_slack + 1 kept for updates)
            width = similarity.config.k if k is None else k
            estimate = self._call(similarity, "estimate", rows_of_axis, k=capped_k(width, n_rows))
            if estimate is not None:
                limit = similarity.config.memory_limit_mb
                preflight(estimate, limit, self._who(similarity), f"{axis[:-1]} neighbours", rows=n_rows)
            rows = np.arange(n_rows)
            if spreads(self.executor, n_rows):  # blocks of rows, each the backend's query-rows search
                found = search_blocks(self.executor, backend, n_rows, k, self._who(backend), self._who(self.executor))
            else:
                found = self._call(backend, "neighbours", k=k)
        else:
            found = self._call(backend, "neighbours", rows, k=k)
        return check_graph(found, self._who(backend), len(rows), n_rows, query_rows=rows)

    def _backend(self, fitted: _Fitted, axis: str) -> SimilarityBackend:
        """Return the similarity backend fitted on the rows of `axis`, fitting it once."""
        if axis not in fitted.backends:
            template = fitted.similarity
            with calling(lambda: self._who(template), "__init__"):
                backend = type(template)(template.config)
            rows = self._rows(fitted, axis)
            if _fits_transposed(backend):  # the other axis's rows are the transpose: no copy
                self._call(backend, "fit_transposed", rows, self._rows(fitted, "items" if axis == "users" else "users"))
            else:
                self._call(backend, "fit", rows)
            fitted.backends[axis] = backend
        return fitted.backends[axis]

    @staticmethod
    def _rows(fitted: _Fitted, axis: str) -> sp.csr_array:
        """Return the rows whose neighbours are searched: users, or items (the transpose)."""
        # the model's own matrix, read-only from now on (a backend keeps it): checked whole once
        matrix = freeze_shared(fitted.matrix.matrix, "the interaction matrix")
        if axis == "users":
            return matrix
        if fitted.item_rows is None:  # computed once per state: a fit and an update both read it twice or more
            # in parallel, and known as the matrix's transpose: a backend checks the pair in O(1)
            fitted.item_rows = transpose(matrix)
        return fitted.item_rows

    def _state(self) -> _Fitted:
        """Return the published fitted state: read it once per query and use only it.

        Raises
        ------
        NotFittedError
            If nothing has been fitted (or loaded) yet.
        """
        fitted = self._fitted
        if fitted is None:
            msg = "Recommender is not fitted; call fit() first"
            raise NotFittedError(msg)
        return fitted

    @property
    def fitted_ranker(self) -> CandidateRanker:
        """The fitted copy of :attr:`ranker` that answers queries (after ``fit``)."""
        return self._state().ranker

    @property
    def fitted_fallbacks(self) -> tuple[CandidateRanker, ...]:
        """The fitted copies of :attr:`fallbacks` that answer queries (after ``fit``)."""
        return self._state().fallbacks

    @property
    def interaction_matrix(self) -> InteractionMatrix:
        """The training matrix (after ``fit``)."""
        return self._state().matrix

    @property
    def data_fingerprint(self) -> str:
        """sha256 of the training interactions (after ``fit``)."""
        return self._state().fingerprint

    @property
    def timings(self) -> dict[str, float]:
        """Seconds spent in each step of the last ``fit``, ``update`` or ``forget``.

        A fit has ``matrix``, ``neighbours users``/``neighbours items`` and ``fit RANKER``; an
        update or a forget also ``events`` (reading, checking and joining or filtering them; a
        forget filters them on a worker thread meanwhile, and ``events kept`` is how long it
        then waited for that copy) and, where the items' rows were merged rather than
        transposed anew, ``item rows``.
        """
        return dict(self._state().timings)


def _fits_transposed(backend: SimilarityBackend) -> bool:
    """Whether to fit `backend` by ``fit_transposed``: it has one, from the class that defines its ``fit``.

    A subclass that overrides ``fit`` only (a plugin preparing the rows its own way) inherits a
    ``fit_transposed`` that would skip its ``fit``: it is fitted by its ``fit``.
    """
    if not isinstance(backend, SupportsTransposedFit):
        return False
    owner = {name: next(c for c in type(backend).__mro__ if name in vars(c)) for name in ("fit", "fit_transposed")}
    return owner["fit"] is owner["fit_transposed"]
