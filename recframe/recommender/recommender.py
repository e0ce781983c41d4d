"""The Recommender API: the :class:`Recommender` class, how it is built, and its run config.

A recommender is built from a run file or mapping with :meth:`Recommender.from_config`, or from
component objects; :meth:`Recommender.to_config` writes it back as a run config. What it does
once built lives in its base classes, one concern a module: :mod:`~recframe.recommender.fitting`,
:mod:`~recframe.recommender.querying` and :mod:`~recframe.recommender.evaluating`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, SupportsIndex

from recframe.config import EvaluationSettings, RunConfig, apply_overrides, load_config, validate_run
from recframe.interfaces import (
    CandidateRanker,
    DataSource,
    Executor,
    Filter,
    MatrixBuilder,
    Metric,
    SimilarityBackend,
    Splitter,
)
from recframe.recommender.config_export import recommender_config
from recframe.recommender.evaluating import EvaluationMethods
from recframe.recommender.filtering import FilterStep
from recframe.recommender.fitted_state import _Fitted
from recframe.recommender.fitting import check_component
from recframe.recommender.persistence import PersistenceMethods
from recframe.recommender.updating import UpdateMethods
from recframe.registry import PluginRegistry, builtin_registry

_DEFAULT = object()


class Recommender(EvaluationMethods, PersistenceMethods, UpdateMethods):
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
    executor : Executor, optional
        Runs the row-by-row work (the neighbour search of every row, the lists of every user in
        ``recommend_all``) in blocks; ``local`` with one worker by default, which makes the usual
        single calls in this thread. Any executor gives the same results (see docs/executors.md).
    seed : int
        Seeds every random step (data generation, splitting).
    name : str
        The run's name.
    registry : PluginRegistry, optional
        Used to name plugins (package and version) in errors and run records, and by
        :meth:`to_config` to check that each component is registered.

    Notes
    -----
    The methods are grouped by concern in base classes: fitting
    (:class:`~recframe.recommender.fitting.FitMethods`), querying
    (:class:`~recframe.recommender.querying.QueryMethods`) and evaluation
    (:class:`~recframe.recommender.evaluating.EvaluationMethods`). A fitted recommender only
    reads its state when queried, so it can serve from many threads at once. ``update`` and
    ``forget`` (:class:`~recframe.recommender.updating.UpdateMethods`) change a fitted model
    as a refit would, recomputing only what the change touches.

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
        executor: Executor | None = None,
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
        self.executor = executor if executor is not None else defaults.create("executor", "local", Executor)
        self.filter_report: list[FilterStep] = []
        for position, given in enumerate(self.filters):
            if not isinstance(given, Filter):
                msg = f"filters[{position}] must be a Filter; got {type(given).__name__}"
                raise TypeError(msg)
        self.seed = seed
        self.name = name
        self.registry = registry
        self.config: RunConfig | None = None
        optional = (("data", data, DataSource), ("splitter", splitter, Splitter), ("test_data", test_data, DataSource))
        for role, component, interface in optional:
            if component is not None:
                check_component(role, component, interface)
        self._check_components()  # the ones fit, update and forget check again (they may be set later)
        for metric in self.metrics:
            if not isinstance(metric, Metric):
                msg = f"metrics must be Metric instances; got {type(metric).__name__}"
                raise TypeError(msg)
        self._fitted: _Fitted | None = None
        self._lock = threading.Lock()
        self._updating = threading.Lock()

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
            executor=build(run.executor),
            seed=run.seed,
            name=run.name,
            registry=registry,
        )
        rec.config = run
        return rec

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        """Refuse pickling and copying, saying how to share a model instead.

        A recommender holds locks, its plugins' registry and, fitted, arrays its queries share
        (often mapped from a saved folder): a pickle of it would be neither small nor safe to
        load elsewhere. ``pickle`` and ``copy`` said only ``cannot pickle '_thread.lock' object``.
        """
        msg = (
            "a Recommender can't be pickled or copied; to hand a fitted model to another process, save it "
            "(rec.save(folder)) and load it there (Recommender.load(folder): memory-mapped, shared by every process "
            "that loads the folder); for an unfitted twin, Recommender.from_config(rec.to_config())"
        )
        raise TypeError(msg)

    def warm_up(self) -> Recommender:
        """Compile (or load from numba's cache) every kernel this recommender's fit, update and forget use.

        Some of an update's kernels run only on large inputs (about a million entries), so the
        update of a small model does not compile them: a service's first large update would
        (13 s on a 2-core machine, for a 2.5-million-event model). This runs a fit, an update,
        a forget and a search on a tiny synthetic model of a copy of this recommender's
        configuration, with every size threshold lowered
        (:func:`~recframe.recommender.kernel_warm_up.warm_up_kernels`); this recommender and its
        model are unchanged. Call it when a service is deployed or starts. Returns the recommender.
        """
        from recframe.recommender.kernel_warm_up import warm_up_kernels

        warm_up_kernels(self.to_config(), type(self).from_config)
        return self

    def to_config(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """Return the run config of this recommender: a plain dict :meth:`from_config` takes.

        Every component is written as its registered ``type`` and all its parameters, defaults
        included, read from the component objects themselves, so the dict describes what this
        recommender holds now, however it was built (from a run file, a mapping, or component
        objects). ``Recommender.from_config(rec.to_config())`` builds components of the same
        types with equal configs. ``fallback`` is written out (``None`` for no fallback), as
        leaving it out would mean the default one. ``output`` is that of the run file it was
        built from (the defaults otherwise); a ``sweep`` is not written (it describes many
        recommenders).

        Parameters
        ----------
        reveal_secrets : bool
            By default a config field typed :class:`~recframe.secrets.Secret` (a database URL
            with its password) is masked exactly as :meth:`RunConfig.to_dict` masks it (and so
            every file a run writes): the dict is safe to print, log or save, but a masked secret
            no longer connects. With ``True`` such a field holds the :class:`Secret` object
            itself (still masked when shown), so that the config rebuilds a working recommender
            in the same process; that dict is then not plain YAML.

        Returns
        -------
        dict
            ``name``, ``seed``, ``data`` (with ``filters``), ``matrix``, ``similarity``,
            ``ranker`` (with ``fallback``), ``evaluation`` where one is configured,
            ``output`` and ``executor``.

        Raises
        ------
        ConfigError
            If a component's class is not registered (a user's own object): the message names
            its role (``ranker``, ``ranker.fallback[0]``, ``evaluation.metrics[1]``...); or if
            the recommender has filters without a data source, a splitter without metrics, or
            metrics without a splitter or test data, which no run file can say.
        """
        return recommender_config(self, reveal_secrets=reveal_secrets)
