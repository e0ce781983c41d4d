"""The engine: assemble components, fit them, and serve recommendations and evaluations.

:class:`Recommender` is the Python API. Build it from a run file or mapping with
:meth:`Recommender.from_config`, or from component objects directly; then ``fit``,
``recommend``, ``similar_items`` and ``evaluate``. A fitted recommender only reads its state
when queried, so it can serve from many threads at once.
"""

from __future__ import annotations

import logging
import numbers
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recframe.checks import (
    calling,
    check_graph,
    check_interactions,
    check_matrix,
    check_metric,
    check_predictions,
    check_split,
    check_topn,
    checked_interactions,
    overflow_hint,
)
from recframe.config import EvaluationSettings, RunConfig, apply_overrides, load_config, validate_run
from recframe.data import IdIndex, InteractionMatrix, Interactions, as_query_ids
from recframe.errors import ConfigError, DataError, NotFittedError, short_repr
from recframe.evaluation import held_out, metric_input
from recframe.evaluation.leakage import protocol_warnings
from recframe.evaluation.protocol import usage
from recframe.filtering import FilterStep, apply_filters
from recframe.interfaces import (
    MAX_LIST_LENGTH,
    CandidateRanker,
    Component,
    DataSource,
    Filter,
    MatrixBuilder,
    Metric,
    NeighbourGraph,
    Predictions,
    RatedPairs,
    SimilarityBackend,
    Splitter,
    SupportsExplain,
    SupportsNewUsers,
    SupportsPredict,
    TopN,
)
from recframe.ranking import ScoringRanker
from recframe.registry import PluginRegistry, builtin_registry, describe_component
from recframe.resources import capped_k, preflight
from recframe.results import Contribution, EvaluationResult, Explanation, FoldResult, RankedLists

if TYPE_CHECKING:
    from typing_extensions import Self

logger = logging.getLogger(__name__)

_DEFAULT = object()


@dataclass
class _Fitted:
    """Everything ``fit`` learns; swapped in whole, so readers never see a half-fitted state."""

    matrix: InteractionMatrix
    fingerprint: str
    n_interactions: int
    backends: dict[str, SimilarityBackend] = field(default_factory=dict)
    graphs: dict[str, NeighbourGraph] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Recommender:
    """A neighbourhood-CF recommender assembled from plugin components.

    Parameters
    ----------
    data : DataSource, optional
        Where ``fit()`` and ``evaluate()`` get interactions when none are passed.
    matrix : MatrixBuilder, optional
        Builds the user-item matrix; ``ratings`` by default.
    similarity : SimilarityBackend, optional
        Finds neighbours; ``sklearn_nn`` (cosine, k=50) by default.
    ranker : CandidateRanker, optional
        Scores and ranks items; ``item_cf`` by default.
    fallback : CandidateRanker, sequence of CandidateRanker, or None, optional
        Serves users the ranker can't (unknown users, or an empty list); ``popularity`` by
        default, ``None`` to raise for unknown users instead. A sequence is a chain: each
        ranker serves the users still without a list, in order.
    splitter : Splitter, optional
        Splits data for ``evaluate()``.
    metrics : sequence of Metric
        Computed by ``evaluate()``.
    evaluation : EvaluationSettings, optional
        Relevance threshold, unseen-item policy and outputs of ``evaluate()``.
    test_data : DataSource, optional
        The test part of a ``predefined`` split.
    filters : sequence of Filter
        Applied in order to what the data source loads (not to data passed to ``fit``).
    seed : int
        Seeds every random step (data generation, splitting).
    name : str
        The run's name.
    registry : PluginRegistry, optional
        Used to name plugins (package and version) in errors and run records.

    Examples
    --------
    >>> from recframe import Recommender
    >>> rec = Recommender.from_config({"data": {"type": "synthetic", "n_users": 200, "n_items": 100}})
    >>> lists = rec.fit().recommend([0, 1], n=5)
    """

    def __init__(
        self,
        *,
        data: DataSource | None = None,
        matrix: MatrixBuilder | None = None,
        similarity: SimilarityBackend | None = None,
        ranker: CandidateRanker | None = None,
        fallback: CandidateRanker | Sequence[CandidateRanker] | object | None = _DEFAULT,
        splitter: Splitter | None = None,
        metrics: Sequence[Metric] = (),
        evaluation: EvaluationSettings | None = None,
        test_data: DataSource | None = None,
        filters: Sequence[Filter] = (),
        seed: int = 0,
        name: str = "recframe",
        registry: PluginRegistry | None = None,
    ) -> None:
        # the defaults are built-in plugins, looked up by name: the core never imports them
        defaults = builtin_registry()
        self.data = data
        self.matrix = matrix if matrix is not None else defaults.create("matrix", "ratings", MatrixBuilder)
        self.similarity = (
            similarity if similarity is not None else defaults.create("similarity", "sklearn_nn", SimilarityBackend)
        )
        self.ranker = ranker if ranker is not None else defaults.create("ranker", "item_cf", CandidateRanker)
        if fallback is _DEFAULT:
            fallback = defaults.create("ranker", "popularity", CandidateRanker)
        chain = () if fallback is None else tuple(fallback) if isinstance(fallback, Sequence) else (fallback,)
        self.fallbacks: tuple[CandidateRanker, ...] = chain
        self.splitter = splitter
        self.metrics = tuple(metrics)
        self.evaluation = evaluation if evaluation is not None else EvaluationSettings()
        self.test_data = test_data
        self.filters = tuple(filters)
        self.filter_report: list[FilterStep] = []
        for position, given in enumerate(self.filters):
            if not isinstance(given, Filter):
                msg = f"filters[{position}] must be a Filter; got {type(given).__name__}"
                raise TypeError(msg)
        self.seed = seed
        self.name = name
        self.registry = registry
        self.config: RunConfig | None = None
        self._checks = {
            "data": (data, DataSource),
            "matrix": (self.matrix, MatrixBuilder),
            "similarity": (self.similarity, SimilarityBackend),
            "ranker": (self.ranker, CandidateRanker),
            **{f"ranker.fallback[{i}]": (f, CandidateRanker) for i, f in enumerate(self.fallbacks)},
            "splitter": (splitter, Splitter),
            "test_data": (test_data, DataSource),
        }
        for role, (component, interface) in self._checks.items():
            if component is not None and not isinstance(component, interface):
                msg = f"{role} must be a {interface.__name__}; got {type(component).__name__}"
                raise TypeError(msg)
        for metric in self.metrics:
            if not isinstance(metric, Metric):
                msg = f"metrics must be Metric instances; got {type(metric).__name__}"
                raise TypeError(msg)
        self._fitted: _Fitted | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_config(
        cls,
        config: str | Path | Mapping[str, Any] | RunConfig,
        *,
        overrides: Sequence[str] = (),
        registry: PluginRegistry | None = None,
    ) -> Recommender:
        """Build a recommender from a run file, a mapping shaped like one, or a :class:`RunConfig`.

        Parameters
        ----------
        config : str, Path, mapping or RunConfig
            The run description.
        overrides : sequence of str
            ``dotted.key=value`` overrides, as ``--set`` on the command line.
        registry : PluginRegistry, optional
            Where plugin names are looked up; the installed plugins by default.

        Raises
        ------
        ConfigError
            If the config is invalid; every problem is listed.
        """
        registry = registry if registry is not None else PluginRegistry.from_environment()
        if isinstance(config, str | Path):
            run = load_config(config, registry, overrides)
        elif isinstance(config, RunConfig):
            if overrides:
                raw, paths = apply_overrides(config.to_dict(), overrides)
                run = validate_run(raw, registry, source=config.source, overridden=paths)
            else:
                run = config
        elif isinstance(config, Mapping):
            raw, paths = apply_overrides(dict(config), overrides)
            run = validate_run(raw, registry, overridden=paths)
        else:
            msg = f"config must be a path, a mapping or a RunConfig; got {type(config).__name__}"
            raise TypeError(msg)

        def build(spec: Any) -> Any:
            return None if spec is None else spec.build(registry)

        evaluation = run.evaluation
        rec = cls(
            data=build(run.data),
            matrix=build(run.matrix),
            similarity=build(run.similarity),
            ranker=build(run.ranker),
            fallback=[build(spec) for spec in run.ranker_fallbacks] or None,
            splitter=None if evaluation is None else build(evaluation.split),
            metrics=() if evaluation is None else [build(m) for m in evaluation.metrics],
            evaluation=None if evaluation is None else evaluation.settings,
            test_data=None if evaluation is None else build(evaluation.test_data),
            filters=[build(spec) for spec in run.data_filters],
            seed=run.seed,
            name=run.name,
            registry=registry,
        )
        rec.config = run
        return rec

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
        module = type(component).__module__
        return module == "recframe" or module.startswith("recframe.")

    def _call(self, component: Component, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call `method` of `component`: every call the engine makes into a component goes here.

        What the component raises by accident (any exception but a :class:`RecframeError`, and
        ``SystemExit``) becomes a :class:`PluginError` naming the component and the method; see
        :func:`recframe.checks.calling`. Built-in components are called the same way.
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

    # ------------------------------------------------------------------ fitting

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
        start = time.perf_counter()
        with checked_interactions(self._who(self.data), builtin=self._builtin(self.data)):
            loaded = self._call(self.data, "load", self._rng(0))
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
                step.filter, removed["events"], removed["users"], removed["items"], step.events_after,
            )
        return interactions

    def fit(self, data: object | None = None) -> Self:
        """Build the matrix and neighbour graphs and fit the rankers.

        Parameters
        ----------
        data : Interactions, mapping of columns or pandas DataFrame, optional
            The training interactions; by default those of the data source.

        Raises
        ------
        DataError
            If the data is empty or malformed.
        PluginError
            If a component returns something that breaks its contract.
        """
        interactions = self.load_data() if data is None else Interactions.from_any(data)
        if len(interactions) == 0:
            msg = "no interactions to fit; the data is empty"
            raise DataError(msg)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        matrix = check_matrix(
            self._call(self.matrix, "build", interactions), self._who(self.matrix), interactions
        )
        timings["matrix"] = time.perf_counter() - start
        logger.info("matrix: %d users x %d items, %d entries", matrix.n_users, matrix.n_items, matrix.nnz)
        fitted = _Fitted(matrix, interactions.fingerprint(), len(interactions), timings=timings)
        for ranker in (self.ranker, *self.fallbacks):
            graph = self._graph(fitted, ranker.neighbour_axis)
            start = time.perf_counter()
            self._call(ranker, "fit", matrix, graph)
            timings[f"fit {ranker.name}"] = time.perf_counter() - start
        with self._lock:
            self._fitted = fitted
        return self

    def _graph(self, fitted: _Fitted, axis: str | None) -> NeighbourGraph | None:
        """Return (computing once) the neighbour graph of users or items."""
        if axis is None:
            return None
        if axis not in fitted.graphs:
            rows = self._rows(fitted, axis)
            # a row has at most n_rows - 1 neighbours, whatever k asks for: estimate what will be built
            estimate = self._call(
                self.similarity, "estimate", rows, k=capped_k(self.similarity.config.k, rows.shape[0])
            )
            if estimate is not None:
                limit = self.similarity.config.memory_limit_mb
                preflight(estimate, limit, self._who(self.similarity), f"{axis[:-1]} neighbours", rows=rows.shape[0])
            backend = self._backend(fitted, axis)
            start = time.perf_counter()
            n_rows = fitted.matrix.n_users if axis == "users" else fitted.matrix.n_items
            graph = check_graph(
                self._call(backend, "neighbours"), self._who(backend), n_rows, n_rows, query_rows=np.arange(n_rows)
            )
            fitted.timings[f"neighbours {axis}"] = time.perf_counter() - start
            logger.info(
                "%s: %d-nearest %s found in %.2fs",
                self._who(backend),
                graph.k,
                axis,
                fitted.timings[f"neighbours {axis}"],
            )
            fitted.graphs[axis] = graph
        return fitted.graphs[axis]

    def _backend(self, fitted: _Fitted, axis: str) -> SimilarityBackend:
        """Return the similarity backend fitted on the rows of `axis`, fitting it once."""
        if axis not in fitted.backends:
            with calling(lambda: self._who(self.similarity), "__init__"):
                backend = type(self.similarity)(self.similarity.config)
            self._call(backend, "fit", self._rows(fitted, axis))
            fitted.backends[axis] = backend
        return fitted.backends[axis]

    @staticmethod
    def _rows(fitted: _Fitted, axis: str) -> sp.csr_array:
        """Return the rows whose neighbours are searched: users, or items (the transpose)."""
        return fitted.matrix.matrix if axis == "users" else fitted.matrix.item_major()

    def _state(self) -> _Fitted:
        fitted = self._fitted
        if fitted is None:
            msg = "Recommender is not fitted; call fit() first"
            raise NotFittedError(msg)
        return fitted

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
        """Seconds spent in each step of the last ``fit``."""
        return dict(self._state().timings)

    # ------------------------------------------------------------------ queries

    def recommend(self, users: Any, n: int | None = None, *, explain: bool = False) -> RankedLists:
        """Return the top-`n` items of each user.

        Users the ranker can't serve (not in the training data, or nothing to recommend) get
        the first fallback ranker's list, then the next one's, and so on; ``sources`` says
        which ranker produced each list and ``reasons`` why the main ranker did not.

        Parameters
        ----------
        users : id or array-like of ids
            External user ids.
        n : int, optional
            List length; the ranker's ``n`` by default.
        explain : bool
            Also explain every ranked item (``RankedLists.explanations``): the neighbours and
            weights that add up to its score.

        Raises
        ------
        DataError
            If a user is unknown and there is no fallback ranker.
        NotFittedError
            If called before ``fit``.
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000 (the bounds of a ranker's ``n``).
        """
        fitted = self._state()
        queries = as_query_ids(users, "user")
        n = _list_length(n, self.ranker.config.n)
        missing = "mark" if self.fallbacks else "raise"
        rows = fitted.matrix.users.rows(queries, missing=missing, what="user")  # type: ignore[arg-type]
        ranked = self._ranked(self.ranker, rows, n, fitted)
        sources = np.where(ranked.lengths > 0, self.ranker.name, "").astype(object)
        reasons = np.full(len(rows), "", dtype=object)
        empty = ranked.lengths == 0
        reasons[empty & (rows < 0)] = "not in training"
        reasons[empty & (rows >= 0)] = f"nothing from {self.ranker.name}"
        for fallback in self.fallbacks:
            waiting = np.flatnonzero(ranked.lengths == 0)
            if not waiting.size:
                break
            extra = self._ranked(fallback, rows[waiting], n, fitted)
            ranked.items[waiting], ranked.scores[waiting] = extra.items, extra.scores
            sources[waiting] = np.where(extra.lengths > 0, fallback.name, "")
            reasons[waiting[extra.lengths == 0]] += f"; nothing from {fallback.name}"
        lists = RankedLists(
            _matched(queries, rows, fitted.matrix.users), ranked, fitted.matrix.items, sources.astype(str),
            reasons=reasons.astype(str),
        )
        if explain:
            lists = replace(lists, explanations=[self._explanations(lists, q, rows[q]) for q in range(len(rows))])
        return lists

    def recommend_histories(self, histories: Mapping[Any, Any] | Sequence[Any], n: int | None = None) -> RankedLists:
        """Recommend for new users from interaction histories given now, without refitting (cold start).

        Each history is a mapping ``{item: value}`` (a rating, a count) or a sequence of items
        (value 1), on the scale of the training matrix. Items not in the training data are
        ignored. The ranker and then each fallback in turn serve the users still without a list,
        if they can serve new users: ``item_cf`` from its item graph, ``user_cf`` from the new
        users' nearest training users (the similarity backend's ``query``), ``popularity`` from
        what the user has not seen. ``sources`` and ``reasons`` say who served each user and why
        the others did not.

        Parameters
        ----------
        histories : mapping of id to history, or sequence of histories
            Keyed by a name for each new user (the ``queries`` of the result), or positional.
        n : int, optional
            List length; the ranker's ``n`` by default.

        Raises
        ------
        DataError
            If a history is empty or names no training item at all and no ranker can serve it.
        TypeError, ValueError
            If `n` is not an int from 1 to 10,000, or a history value is not a finite number of
            magnitude at most 1e100.
        """
        fitted = self._state()
        n = _list_length(n, self.ranker.config.n)
        names = list(histories) if isinstance(histories, Mapping) else list(range(len(histories)))
        rows = [histories[name] for name in names] if isinstance(histories, Mapping) else list(histories)
        matrix, unknown = self._history_matrix(rows)
        m = len(rows)
        items = np.full((m, n), -1, dtype=np.int64)
        scores = np.full((m, n), np.nan)
        sources = np.full(m, "", dtype=object)
        reasons = np.array([f"{u} unknown items ignored" if u else "" for u in unknown], dtype=object)
        for ranker in (self.ranker, *self.fallbacks):
            waiting = np.flatnonzero(items[:, 0] < 0)
            if not waiting.size:
                break
            if not isinstance(ranker, SupportsNewUsers):
                reasons[waiting] = [_join(r, f"{ranker.name} can't serve new users") for r in reasons[waiting]]
                continue
            part = sp.csr_array(matrix[waiting])
            neighbours = None
            if ranker.neighbour_axis == "users":
                backend = self._backend(fitted, "users")
                neighbours = check_graph(
                    self._call(backend, "query", part), self._who(backend), len(waiting), fitted.matrix.n_users
                )
            got = check_topn(
                self._call(ranker, "recommend_new", part, n, neighbours), self._who(ranker), len(waiting), n,
                fitted.matrix.n_items,
            )
            items[waiting], scores[waiting] = got.items, got.scores
            served = got.lengths > 0
            sources[waiting[served]] = ranker.name
            reasons[waiting[~served]] = [_join(r, f"nothing from {ranker.name}") for r in reasons[waiting[~served]]]
        return RankedLists(
            np.asarray(names), TopN(items, scores),
            fitted.matrix.items, sources.astype(str), reasons=reasons.astype(str),
        )

    def recommend_history(self, history: Any, n: int | None = None) -> RankedLists:
        """Recommend for one new user from an interaction history (see :meth:`recommend_histories`)."""
        return self.recommend_histories([history], n)

    def _history_matrix(self, histories: list[Any]) -> tuple[sp.csr_array, list[int]]:
        """Return histories as rows over the training items, and the number of unknown items of each."""
        index = self._state().matrix.items
        columns, values, lengths, unknown = [], [], [], []
        for history in histories:
            if isinstance(history, Mapping):
                ids, weights = list(history), [_history_value(item, v) for item, v in history.items()]
            else:
                ids = list(np.atleast_1d(np.asarray(history)).tolist()) if not isinstance(history, str) else [history]
                weights = [1.0] * len(ids)
            rows = index.rows(np.asarray(ids), missing="mark") if ids else np.zeros(0, dtype=np.int64)
            known = rows >= 0
            columns.append(rows[known])
            values.append(np.asarray(weights, dtype=np.float64)[known])
            lengths.append(int(known.sum()))
            unknown.append(int((~known).sum()))
        indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
        matrix = sp.csr_array(
            (np.concatenate([np.zeros(0), *values]), np.concatenate([np.zeros(0, dtype=np.int64), *columns]), indptr),
            shape=(len(histories), len(index)),
        )
        matrix.sum_duplicates()
        return matrix, unknown

    def _explanations(self, lists: RankedLists, position: int, row: int) -> list[Explanation]:
        """Explain each item of one list by the ranker that produced it."""
        source = str(lists.sources[position])
        if not source:
            return []
        ranker = next(r for r in (self.ranker, *self.fallbacks) if r.name == source)
        items = lists.ranked.items[position]
        items = items[items >= 0]
        return self._explain_items(ranker, lists.queries[position].item(), row, items)

    def _explain_items(self, ranker: CandidateRanker, user: Any, row: int, items: np.ndarray) -> list[Explanation]:
        """Explain the scores `ranker` gives the item rows `items` for the user row `row`."""
        fitted = self._state()
        item_ids = fitted.matrix.items.ids_of(items).tolist()
        if isinstance(ranker, SupportsExplain) and row >= 0:
            kind = ranker.neighbour_axis
            index = fitted.matrix.items if kind == "items" else fitted.matrix.users
            reason = "similar to items the user interacted with" if kind == "items" else "chosen by similar users"
            out = []
            with calling(lambda: self._who(ranker), "explain"):
                explained = list(ranker.explain(row, items))
            for item, parts in zip(item_ids, explained, strict=True):
                terms = [
                    Contribution(neighbour, float(s), float(v), float(c))
                    for neighbour, s, v, c in zip(
                        index.ids_of(parts.neighbours).tolist(), parts.similarities, parts.values,
                        parts.contributions, strict=True,
                    )
                ]
                out.append(Explanation(user, item, float(parts.contributions.sum()), ranker.name, kind, reason, terms))
            return out
        scores = np.full(len(items), np.nan)
        if isinstance(ranker, ScoringRanker) and (row >= 0 or ranker.scores_unknown_users):
            scores = self._call(ranker, "score_block", np.array([row]))[0, items]
        reason = f"{ranker.name} score" + (" (user not in training)" if row < 0 else "")
        return [
            Explanation(user, i, float(s), ranker.name, None, reason, []) for i, s in zip(item_ids, scores, strict=True)
        ]

    def explain(self, user: Any, item: Any) -> Explanation:
        """Explain the score `item` gets for `user`: which neighbours, with which weights.

        The ranker that serves the user explains (the main one, or the fallback that produced
        the user's list). For ``item_cf`` the terms are the user's items similar to `item`; for
        ``user_cf`` the user's neighbours who interacted with `item`. The contributions add up
        to the score, also for an item the ranker would not recommend (0 then, with no terms).

        Raises
        ------
        DataError
            If the item is not in the training data, or the user is unknown without a fallback.
        """
        fitted = self._state()
        user, item = _one_id(user, "user", "explain()"), _one_id(item, "item", "explain()")
        lists = self.recommend([user], 1)
        item_row = fitted.matrix.items.rows([item], what="item")
        source = str(lists.sources[0]) or self.ranker.name
        ranker = next(r for r in (self.ranker, *self.fallbacks) if r.name == source)
        row = int(fitted.matrix.users.rows([user], missing="mark")[0])
        return self._explain_items(ranker, lists.queries[0].item(), row, item_row)[0]

    def _ranked(self, ranker: CandidateRanker, rows: np.ndarray, n: int, fitted: _Fitted) -> TopN:
        result = self._call(ranker, "recommend", rows, n)
        axis = ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(self.similarity))
        return check_topn(result, self._who(ranker), len(rows), n, fitted.matrix.n_items, users=rows, hint=hint)

    def recommend_all(self, n: int | None = None) -> RankedLists:
        """Return the top-`n` items of every training user, in id order."""
        return self.recommend(self._state().matrix.users.ids, n)

    def similar_items(self, items: Any, n: int = 10) -> RankedLists:
        """Return the `n` most similar items of each item in `items` (never the item itself).

        Raises
        ------
        DataError
            If an item is not in the training data.
        """
        return self._similar("items", items, n)

    def similar_users(self, users: Any, n: int = 10) -> RankedLists:
        """Return the `n` most similar users of each user in `users` (never the user itself).

        Raises
        ------
        DataError
            If a user is not in the training data.
        """
        return self._similar("users", users, n)

    def _similar(self, axis: str, ids: Any, n: int) -> RankedLists:
        fitted = self._state()
        n = _list_length(n, 10)
        index = fitted.matrix.users if axis == "users" else fitted.matrix.items
        queries = as_query_ids(ids, axis[:-1])
        rows = query_rows = index.rows(queries, what=axis[:-1])
        with self._lock:  # the graph and backend are computed on first use
            graph = self._graph(fitted, axis)
            assert graph is not None
            if n > graph.k:
                backend = self._backend(fitted, axis)
                graph = check_graph(
                    self._call(backend, "neighbours", rows, k=n), self._who(backend), len(rows), len(index),
                    query_rows=rows,
                )
                rows = np.arange(len(rows))
        picked = graph.indices[rows, :n]
        scores = np.where(picked >= 0, graph.scores[rows, :n], np.nan)
        if picked.shape[1] < n:
            pad = ((0, 0), (0, n - picked.shape[1]))
            picked = np.pad(picked, pad, constant_values=-1)
            scores = np.pad(scores, pad, constant_values=np.nan)
        source = np.where((picked >= 0).any(axis=1), self.similarity.name, "")
        return RankedLists(_matched(queries, query_rows, index), TopN(picked, scores), index, source.astype(str))

    # ------------------------------------------------------------------ evaluation

    def evaluate(self, data: object | None = None, *, test: object | None = None) -> EvaluationResult:
        """Split the data, fit on each training part and score the rankings of its test users.

        Every split of the splitter is evaluated (one, or each fold of ``kfold``). Test users
        unknown in training are served by the fallback ranker, or skipped (and counted) when
        there is none; users without a relevant held-out item are not evaluated. The protocol
        check's findings are logged as warnings and kept in the result. The recommender stays
        fitted on the (last) training part.

        Parameters
        ----------
        data : Interactions, mapping of columns or pandas DataFrame, optional
            The interactions to split; by default those of the data source.
        test : Interactions, mapping of columns or pandas DataFrame, optional
            A predefined test part: `data` (or the data source) is then the training part, and
            the configured splitter, if any, must be ``predefined``. By default the
            ``evaluation.test_data`` source of a predefined split.

        Raises
        ------
        ConfigError
            If no splitter or no metrics are configured.
        DataError
            If no test user can be evaluated.
        """
        if (self.splitter is None and test is None) or not self.metrics:
            msg = "nothing to evaluate: configure evaluation.split and evaluation.metrics"
            raise ConfigError(msg)
        interactions = self.load_data() if data is None else Interactions.from_any(data)
        splitter = self.splitter
        if splitter is None:
            splitter = builtin_registry().create("splitter", "predefined", Splitter)
        if test is None and self.test_data is not None:
            with checked_interactions(self._who(self.test_data), builtin=self._builtin(self.test_data)):
                loaded = self._call(self.test_data, "load", self._rng(2))
            test = check_interactions(loaded, self._who(self.test_data))
        if test is not None:
            if splitter.ordering != "given":
                msg = f"test interactions were given, but the split is {splitter.name!r}; use split 'predefined'"
                raise ConfigError(msg)
            splits: Iterator[tuple[Interactions, Interactions]] = iter([(interactions, Interactions.from_any(test))])
        else:
            splits = self._folds(splitter, interactions)
        folds: list[FoldResult] = []
        warnings: dict[str, str] = {}  # the first finding of each kind
        for number, parts in enumerate(splits):
            train, fold_test = check_split(parts, self._who(splitter), len(interactions), given=test is not None)
            logger.info("split %d: %d training and %d test interactions", number, len(train), len(fold_test))
            self._require_ratings(train)
            self.fit(train)
            for kind, finding in protocol_warnings(splitter, train, fold_test, self._state().matrix.items).items():
                if kind not in warnings:
                    logger.warning("%s", finding)
                    warnings[kind] = finding
            folds.append(self._evaluate_fold(train, fold_test))
        return EvaluationResult(folds, list(warnings.values()))

    def _evaluate_fold(self, train: Interactions, test: Interactions) -> FoldResult:
        """Score the fitted model's lists for the users of one test part."""
        fitted = self._state()
        settings = self.evaluation
        held = held_out(
            test, fitted.matrix.items, threshold=settings.relevance_threshold, unseen_items=settings.unseen_items
        )
        known = fitted.matrix.users.rows(held.users.ids, missing="mark") >= 0
        evaluated = held.users if self.fallbacks else IdIndex(held.users.ids[known])
        if len(evaluated) == 0:
            msg = "no test user with a relevant item is known in training, so nothing can be evaluated"
            raise DataError(msg)
        depth = max(m.config.k for m in self.metrics)
        lists = self.recommend(evaluated.ids, depth)
        data = metric_input(held, evaluated, lists.ranked.items, fitted.matrix, depth)
        n_prediction_fallback = 0
        if any(metric.needs_predictions for metric in self.metrics):
            ratings = self._rated_pairs(test, train)
            data = replace(data, ratings=ratings)
            n_prediction_fallback = int(ratings.fallback.sum())
        metrics: dict[str, float] = {}
        per_user: dict[str, np.ndarray] = {}
        for metric in self.metrics:
            values = check_metric(
                self._call(metric, "compute", data), self._who(metric), len(evaluated), metric.per_user, metric.bounds
            )
            with calling(self._who(metric), "label"):  # a property a plugin may compute
                label = str(metric.label)
            if metric.per_user:
                per_user[label] = values
            metrics[label] = float(np.mean(values))
        counts = {
            "n_train": len(train),
            "n_test": len(test),
            "n_test_users": held.n_test_users,
            "n_evaluated": len(evaluated),
            "n_fallback": int(np.sum((lists.sources != self.ranker.name) & (lists.sources != ""))),
            "n_skipped": len(held.users) - len(evaluated),
            "n_without_relevant": held.n_test_users - len(held.users),
            "n_below_threshold": held.n_below_threshold,
            "n_unseen_items": held.n_unseen_items,
        }
        if data.ratings is not None:
            counts.update(n_rated=len(data.ratings.actual), n_prediction_fallback=n_prediction_fallback)
        history, exposure = usage(
            train, fitted.matrix.users, fitted.matrix.items, evaluated, held, lists.ranked.items
        )
        return FoldResult(metrics, per_user, evaluated.ids, counts, history, exposure)

    def _require_ratings(self, train: Interactions) -> None:
        """Refuse metrics of rating prediction when the training part has no ratings to predict from."""
        wanting = [m for m in self.metrics if m.needs_predictions]
        if wanting and train.values is None:
            labels = ", ".join(short_repr(str(m.label)) for m in wanting)
            msg = (
                f"metric {labels} compares predicted with held-out ratings, but the training data has no "
                "ratings (no values column), so every prediction would be the same default; give the data "
                "a rating column (data.rating) or use ranking metrics only"
            )
            raise ConfigError(msg)

    def _rated_pairs(self, test: Interactions, train: Interactions) -> RatedPairs:
        """Predict every held-out rating, for the metrics of rating prediction."""
        wanting = ", ".join(m.label for m in self.metrics if m.needs_predictions)
        if test.values is None:
            msg = f"{wanting} need held-out ratings, but the test interactions have none"
            raise ConfigError(msg)
        stored = self._state().matrix.matrix.data
        if train.values is not None and np.ptp(train.values) > 0 and np.ptp(stored) == 0:
            # every prediction, a weighted mean of matrix entries, would be that one value
            msg = (
                f"metric {short_repr(wanting)} compares predicted with held-out ratings, but "
                f"{self._who(self.matrix)} stores {short_repr(float(stored[0]))} for every entry, so the "
                "training ratings never reach the predictions; use matrix type 'ratings'"
            )
            raise ConfigError(msg)
        predictions = self.predict(test.users, test.items, who=wanting)
        return RatedPairs(test.values.astype(np.float64), predictions.values, predictions.source != 0)

    def predict(self, users: Any, items: Any, *, who: str = "predict()") -> Predictions:
        """Predict the rating of each (user, item) pair: `users` and `items` are paired in order.

        Pairs no neighbour can predict, such as users or items not in the training data, get the
        ranker's ``prediction_fallback`` (the global mean where that needs an unknown user or
        item); ``Predictions.source`` says what answered.

        Raises
        ------
        ConfigError
            If the ranker can't predict ratings (only ``item_cf`` and ``user_cf`` can).
        ValueError
            If `users` and `items` differ in length.
        NotFittedError
            If called before ``fit``.
        """
        fitted = self._state()
        if not isinstance(self.ranker, SupportsPredict):
            msg = f"{who} needs rating predictions, but {self._who(self.ranker)} can't predict; use item_cf or user_cf"
            raise ConfigError(msg)
        users, items = as_query_ids(users, "user"), as_query_ids(items, "item")
        if users.shape != items.shape:
            msg = f"users and items must pair up; got {len(users)} users and {len(items)} items"
            raise ValueError(msg)
        user_rows = fitted.matrix.users.rows(users, missing="mark")
        item_rows = fitted.matrix.items.rows(items, missing="mark")
        result = self._call(self.ranker, "predict", user_rows, item_rows)
        axis = self.ranker.neighbour_axis
        graph = None if axis is None else fitted.graphs.get(axis)
        hint = None if graph is None else lambda: overflow_hint(graph, fitted.matrix, self._who(self.similarity))
        return check_predictions(result, self._who(self.ranker), len(user_rows), hint=hint)


MAX_HISTORY_VALUE = 1e100
"""The largest magnitude of a value in a history given at query time (as similarity math needs)."""


def _list_length(n: object, default: int) -> int:
    """Return the list length `n` of a query (`default` for ``None``), checked to be an int in range.

    Raises
    ------
    TypeError
        If `n` is not a whole number (a float such as ``1.5``, a bool, a string).
    ValueError
        If `n` is below 1 or above ``MAX_LIST_LENGTH``, as a ranker's ``n`` may be.
    """
    if n is None:
        return default
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        msg = f"n must be a whole number (an int); got {short_repr(n)} of type {type(n).__name__}"
        raise TypeError(msg)
    if not 1 <= int(n) <= MAX_LIST_LENGTH:
        msg = f"n must be from 1 to {MAX_LIST_LENGTH:,}, as a ranker's n; got {short_repr(int(n))}"
        raise ValueError(msg)
    return int(n)


def _history_value(item: object, value: object) -> float:
    """Return the value of `item` in a history given at query time, checked to be a usable number.

    Raises
    ------
    ValueError
        If `value` is not a number, not finite, or larger in magnitude than ``MAX_HISTORY_VALUE``.
    """
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        msg = f"history value of item {short_repr(item)} is {short_repr(value)}; expected a number"
        raise ValueError(msg) from None
    if not abs(number) <= MAX_HISTORY_VALUE:  # also NaN
        msg = (
            f"history value of item {short_repr(item)} is {short_repr(value)}; expected a finite number of "
            f"magnitude at most {MAX_HISTORY_VALUE:g} (on the training matrix's scale)"
        )
        raise ValueError(msg)
    return number


def _one_id(value: object, what: str, method: str) -> Any:
    """Return `value` if it is one id (an int or a str); `method` takes one, not a list."""
    if isinstance(value, str | int | np.integer) and not isinstance(value, bool | np.bool_):
        return value
    msg = f"{method} takes one {what} id (an int or a str); got {type(value).__name__} {short_repr(value)}"
    raise TypeError(msg)


def _join(first: str, second: str) -> str:
    """Join two reasons with ``; `` (either may be empty)."""
    return f"{first}; {second}" if first else second


def _matched(queries: np.ndarray, rows: np.ndarray, index: IdIndex) -> np.ndarray:
    """Return the queries as the index spells them (``"3"`` asked of int ids is ``3``), if all are known."""
    return index.ids_of(rows) if np.all(rows >= 0) else queries
