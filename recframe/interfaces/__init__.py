"""The component contracts and the small result types components exchange.

A run is a chain of components, each a plugin: a :class:`DataSource` loads
:class:`~recframe.data.Interactions`, a :class:`MatrixBuilder` turns them into an
:class:`~recframe.data.InteractionMatrix`, a :class:`SimilarityBackend` finds each row's
nearest neighbours (a :class:`NeighbourGraph`), and a :class:`CandidateRanker` scores and ranks
items for users (a :class:`TopN`). A :class:`Splitter` and :class:`Metric` evaluate the chain,
and an :class:`Executor` runs its large row-by-row work (locally, or on a cluster).

Every component class sets ``name`` (its YAML ``type:``) and ``Config`` (a
:class:`ComponentConfig` subclass); ``kind`` comes from the interface it implements.

One concern a submodule, the contracts all re-exported here:

- :mod:`recframe.interfaces.settings`: :class:`SettingsModel` and the limits of raw values;
- :mod:`recframe.interfaces.component`: :class:`Component`, :class:`ComponentConfig`, the kinds;
- :mod:`recframe.interfaces.data_stages`: :class:`DataSource`, :class:`Filter`, :class:`MatrixBuilder`;
- :mod:`recframe.interfaces.similarity`: :class:`SimilarityBackend`, :class:`NeighbourGraph` and the
  optional :class:`SupportsTransposedFit` (a backend that keeps the engine's transpose of its rows);
- :mod:`recframe.interfaces.rankers`: :class:`CandidateRanker`, :class:`TopN`, the optional
  ranker abilities and :class:`Predictions`;
- :mod:`recframe.interfaces.evaluation`: :class:`Splitter`, :class:`Metric` and :class:`MetricInput`;
- :mod:`recframe.interfaces.executor`: :class:`Executor`, which runs work over blocks of rows,
  :func:`row_blocks`, :func:`gather_in_order` and the data sources' :class:`SupportsPartitions`;
- :mod:`recframe.interfaces.pair_blocks`: :class:`SupportsPairBlocks`, a similarity backend's
  search split into blocks of pairs (each pair computed once) for an executor;
- :mod:`recframe.interfaces.state`: the :data:`State` of saved models and its CSR, matrix and graph helpers;
- :mod:`recframe.interfaces.update_context`: :func:`in_update`, whether components are being fitted
  again by ``update`` or ``forget`` rather than by a fit.

The engine's checks that enforce the contracts live beside them and are not re-exported:
:mod:`recframe.interfaces.calls` (calling into a component), :mod:`recframe.interfaces.checks`
(what it returns) and :mod:`recframe.interfaces.value_checks` (the numbers it returns).
This package imports no implementation: only numpy, scipy, pydantic, :mod:`recframe.data`,
:mod:`recframe.errors` and :mod:`recframe.secrets`.
"""

from __future__ import annotations

from recframe.interfaces.component import KINDS, Component, ComponentConfig, Kind, State, StateValue, check_fitted
from recframe.interfaces.data_stages import CellChanges, DataSource, EventChange, Filter, MatrixBuilder, MatrixUpdate
from recframe.interfaces.evaluation import Metric, MetricConfig, MetricInput, RatedPairs, Splitter
from recframe.interfaces.executor import (
    Executor,
    ExecutorConfig,
    SupportsPartitions,
    gather_in_order,
    row_blocks,
)
from recframe.interfaces.pair_blocks import SupportsPairBlocks
from recframe.interfaces.rankers import (
    SOURCES,
    CandidateRanker,
    Predictions,
    RankerConfig,
    ScoreParts,
    SupportsExplain,
    SupportsNewUsers,
    SupportsPredict,
    TopN,
)
from recframe.interfaces.settings import (
    INT64_MAX,
    MAX_LIST_LENGTH,
    MAX_PATH_LENGTH,
    SettingsModel,
    expand_home,
    path_text_problem,
)
from recframe.interfaces.similarity import (
    NeighbourGraph,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    SupportsTransposedFit,
)
from recframe.interfaces.state import (
    csr_from_state,
    csr_state,
    graph_from_state,
    graph_state,
    interactions_from_state,
    interactions_state,
    matrix_from_state,
    matrix_state,
)
from recframe.interfaces.update_context import in_update

__all__ = [
    "INT64_MAX",
    "KINDS",
    "MAX_LIST_LENGTH",
    "MAX_PATH_LENGTH",
    "SOURCES",
    "CandidateRanker",
    "CellChanges",
    "Component",
    "ComponentConfig",
    "DataSource",
    "EventChange",
    "Executor",
    "ExecutorConfig",
    "Filter",
    "Kind",
    "MatrixBuilder",
    "MatrixUpdate",
    "Metric",
    "MetricConfig",
    "MetricInput",
    "NeighbourGraph",
    "Predictions",
    "RankerConfig",
    "RatedPairs",
    "ResourceEstimate",
    "ScoreParts",
    "SettingsModel",
    "SimilarityBackend",
    "SimilarityConfig",
    "Splitter",
    "State",
    "StateValue",
    "SupportsExplain",
    "SupportsPairBlocks",
    "SupportsPartitions",
    "SupportsNewUsers",
    "SupportsPredict",
    "SupportsTransposedFit",
    "TopN",
    "check_fitted",
    "csr_from_state",
    "csr_state",
    "expand_home",
    "graph_from_state",
    "graph_state",
    "in_update",
    "interactions_from_state",
    "interactions_state",
    "matrix_from_state",
    "matrix_state",
    "path_text_problem",
    "gather_in_order",
    "row_blocks",
]
