"""recframe: a plugin framework for neighbourhood collaborative filtering.

The public API, re-exported; plugin authors import from here.
"""

from recframe._version import __version__
from recframe.config import RunConfig, load_config
from recframe.data import DuplicatePolicy, IdIndex, InteractionMatrix, Interactions
from recframe.errors import (
    ConfigError,
    DataError,
    NotFittedError,
    PluginError,
    PluginLoadWarning,
    RecframeError,
    RecframeWarning,
    ResourceError,
    short_repr,
)
from recframe.hookspecs import hookimpl, hookspec
from recframe.interfaces import (
    CandidateRanker,
    Component,
    ComponentConfig,
    DataSource,
    Filter,
    MatrixBuilder,
    Metric,
    MetricConfig,
    MetricInput,
    NeighbourGraph,
    RankerConfig,
    ResourceEstimate,
    SimilarityBackend,
    SimilarityConfig,
    Splitter,
    TopN,
    check_fitted,
)
from recframe.pipeline import Recommender
from recframe.ranking import ScoringConfig, ScoringRanker, select_top_n
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult, RankedLists
from recframe.secrets import Secret, redact

__all__ = [
    "CandidateRanker",
    "Component",
    "ComponentConfig",
    "ConfigError",
    "DataError",
    "DataSource",
    "DuplicatePolicy",
    "EvaluationResult",
    "IdIndex",
    "InteractionMatrix",
    "Interactions",
    "Filter",
    "MatrixBuilder",
    "Metric",
    "MetricConfig",
    "MetricInput",
    "NeighbourGraph",
    "NotFittedError",
    "PluginError",
    "PluginLoadWarning",
    "PluginRegistry",
    "RankedLists",
    "RankerConfig",
    "ResourceEstimate",
    "RecframeError",
    "RecframeWarning",
    "ResourceError",
    "Recommender",
    "RunConfig",
    "ScoringConfig",
    "ScoringRanker",
    "Secret",
    "SimilarityBackend",
    "SimilarityConfig",
    "Splitter",
    "TopN",
    "__version__",
    "check_fitted",
    "hookimpl",
    "hookspec",
    "load_config",
    "redact",
    "select_top_n",
    "short_repr",
]
