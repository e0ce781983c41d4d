"""recframe: a plugin framework for neighbourhood collaborative filtering.

The public API, re-exported; plugin authors import from here. Built-in plugins import only
this package, :mod:`recframe.engine` (the compute primitives) and :mod:`recframe.testing`
(the contract-test kit), exactly as a third-party plugin would; an import contract checks it.

- Running: :class:`Recommender`, :class:`RunConfig`, :class:`EvaluationSettings`, :func:`load_config`,
  :class:`PluginRegistry` and the results :class:`EvaluationResult`, :class:`RankedLists`,
  :class:`Predictions`.
- Data: :class:`Interactions`, :class:`IdIndex`, :class:`InteractionMatrix` and the array
  aliases ``IdArray``, ``IntArray``, ``FloatArray``.
- Writing plugins: :func:`hookimpl`, the component contracts (:class:`DataSource`,
  :class:`MatrixBuilder`, :class:`SimilarityBackend`, :class:`CandidateRanker`,
  :class:`Splitter`, :class:`Metric`, :class:`Filter`, :class:`Executor` with :func:`row_blocks`,
  :func:`gather_in_order`, :class:`SupportsPartitions` and :class:`SupportsPairBlocks`), their
  configs and small result types, :class:`ScoringRanker` (a ranker defined by how it scores a
  block of users), the errors,
  ``progress_bar`` (a progress bar that stays quiet under ``--quiet`` and when piped) and
  :func:`show_progress` (bars on, off or automatic within a block: what ``--quiet`` sets),
  :func:`available_memory`, :class:`Secret` and :func:`redact` (config values that must not be
  printed), saved models' errors (:class:`ModelFileError`, :class:`ModelVersionWarning`,
  :class:`TemplatesLeftOutWarning`) and
  state (:data:`State`, ``csr_state``/``csr_from_state`` and the graph and matrix helpers,
  :func:`drop_pages` after a load-time check), and the public datasets (:data:`DATASETS`,
  :func:`fetch_dataset`).
"""

from recframe._version import __version__
from recframe.artifacts import ModelFileError, ModelVersionWarning, TemplatesLeftOutWarning
from recframe.config import EvaluationSettings, RunConfig, load_config
from recframe.data import (
    DuplicatePolicy,
    FloatArray,
    IdArray,
    IdIndex,
    IntArray,
    InteractionMatrix,
    Interactions,
    as_id_array,
    numeric_column,
    plain_number,
    timestamp_column,
)
from recframe.datasets import DATASETS, DatasetInfo, check_url, dataset_info
from recframe.datasets import extract as extract_dataset
from recframe.datasets import fetch as fetch_dataset
from recframe.engine.scoring import ScoringConfig, ScoringRanker
from recframe.engine.topn import select_top_n
from recframe.errors import (
    ConfigError,
    DataError,
    NotFittedError,
    PluginError,
    PluginLoadWarning,
    RecframeError,
    RecframeWarning,
    ResourceError,
    path_repr,
    path_text,
    short_repr,
    short_text,
)
from recframe.hookspecs import hookimpl, hookspec
from recframe.interfaces import (
    CandidateRanker,
    CellChanges,
    Component,
    ComponentConfig,
    DataSource,
    EventChange,
    Executor,
    ExecutorConfig,
    Filter,
    MatrixBuilder,
    MatrixUpdate,
    Metric,
    MetricConfig,
    MetricInput,
    NeighbourGraph,
    Predictions,
    RankerConfig,
    RatedPairs,
    ResourceEstimate,
    ScoreParts,
    SimilarityBackend,
    SimilarityConfig,
    Splitter,
    State,
    SupportsPairBlocks,
    SupportsPartitions,
    SupportsTransposedFit,
    TopN,
    check_fitted,
    csr_from_state,
    csr_state,
    gather_in_order,
    graph_from_state,
    graph_state,
    in_update,
    matrix_from_state,
    matrix_state,
    row_blocks,
)
from recframe.interfaces.state import drop_pages
from recframe.progress import progress as progress_bar
from recframe.progress import show_progress
from recframe.recommender import Recommender
from recframe.recommender.preflight import available_memory
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult, RankedLists
from recframe.secrets import MASK as SECRET_MASK
from recframe.secrets import Secret, redact

__all__ = [
    "CandidateRanker",
    "CellChanges",
    "Component",
    "ComponentConfig",
    "ConfigError",
    "DATASETS",
    "DataError",
    "DataSource",
    "DatasetInfo",
    "EventChange",
    "Executor",
    "ExecutorConfig",
    "DuplicatePolicy",
    "EvaluationResult",
    "EvaluationSettings",
    "Filter",
    "FloatArray",
    "IdArray",
    "IdIndex",
    "IntArray",
    "InteractionMatrix",
    "Interactions",
    "MatrixBuilder",
    "MatrixUpdate",
    "ModelFileError",
    "ModelVersionWarning",
    "TemplatesLeftOutWarning",
    "Metric",
    "MetricConfig",
    "MetricInput",
    "NeighbourGraph",
    "NotFittedError",
    "PluginError",
    "PluginLoadWarning",
    "PluginRegistry",
    "Predictions",
    "RankedLists",
    "RankerConfig",
    "RatedPairs",
    "RecframeError",
    "RecframeWarning",
    "Recommender",
    "ResourceError",
    "ResourceEstimate",
    "RunConfig",
    "SECRET_MASK",
    "ScoreParts",
    "ScoringConfig",
    "ScoringRanker",
    "Secret",
    "SimilarityBackend",
    "SimilarityConfig",
    "Splitter",
    "SupportsPairBlocks",
    "SupportsPartitions",
    "SupportsTransposedFit",
    "State",
    "TopN",
    "__version__",
    "as_id_array",
    "available_memory",
    "check_fitted",
    "check_url",
    "csr_from_state",
    "csr_state",
    "drop_pages",
    "dataset_info",
    "extract_dataset",
    "fetch_dataset",
    "graph_from_state",
    "graph_state",
    "hookimpl",
    "hookspec",
    "in_update",
    "load_config",
    "matrix_from_state",
    "matrix_state",
    "numeric_column",
    "path_repr",
    "path_text",
    "plain_number",
    "progress_bar",
    "redact",
    "gather_in_order",
    "row_blocks",
    "select_top_n",
    "short_repr",
    "short_text",
    "show_progress",
    "timestamp_column",
]
