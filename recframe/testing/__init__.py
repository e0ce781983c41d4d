"""Contract tests for components, shared by the built-ins and by plugin authors.

Subclass the mixin of your component's kind in a pytest test class and set ``component`` and
``configs``; every contract check then runs for each configuration::

    from recframe.testing import MatrixBuilderContract

    class TestTimeDecay(MatrixBuilderContract):
        component = TimeDecayMatrixBuilder
        configs = [{"half_life_days": 30}, {"half_life_days": 1, "duplicates": "max"}]

The mixins need only pytest; they check what the engine relies on: the config round-trips,
``fit`` returns ``self``, queries before ``fit`` raise :class:`NotFittedError`, results have the
documented shapes, dtypes and order, and the same input gives the same output.
"""

from recframe.testing.contracts import (
    ComponentContract,
    DataSourceContract,
    FilterContract,
    MatrixBuilderContract,
    MetricContract,
    RankerContract,
    SimilarityContract,
    SplitterContract,
    random_interactions,
    random_metric_input,
)
from recframe.testing.executor_contract import ExecutorContract
from recframe.testing.neighbours import assert_same_neighbours, same_neighbour_sets
from recframe.testing.saved_state import round_trip_state

__all__ = [
    "ComponentContract",
    "DataSourceContract",
    "ExecutorContract",
    "FilterContract",
    "MatrixBuilderContract",
    "MetricContract",
    "RankerContract",
    "SimilarityContract",
    "SplitterContract",
    "assert_same_neighbours",
    "random_interactions",
    "round_trip_state",
    "same_neighbour_sets",
    "random_metric_input",
]
