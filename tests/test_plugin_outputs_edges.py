"""What plugins return and declare, at the edges: the engine refuses it naming the plugin.

- metric values that are not real numbers (dicts, sets, generators, strings, complex numbers);
- non-finite scores anywhere the engine checks plugin output (graphs, lists, predictions,
  metric values), and huge similarities that overflow the built-in ``item_cf``;
- config defaults that can't be written to ``config.yaml`` (``nan``, ``inf``, non-UTF-8 bytes);
- invalid interactions built by a data source or filter, named after the component;
- ``BaseException`` subclasses other than ``KeyboardInterrupt`` from plugin code; numbers in
  messages written as plain Python floats.
"""

from __future__ import annotations

import importlib.metadata
import types
from typing import Any

import numpy as np
import pytest
from pydantic import PositiveInt

from recframe import (
    ComponentConfig,
    DataError,
    DataSource,
    Filter,
    Interactions,
    Metric,
    MetricConfig,
    NeighbourGraph,
    PluginError,
    PluginRegistry,
    RankerConfig,
    Recommender,
    SimilarityBackend,
    SimilarityConfig,
    TopN,
    check_fitted,
    hookimpl,
)
from recframe.builtin.similarity import SparseSimilarity
from recframe.engine import ScoringConfig, ScoringRanker
from recframe.errors import PluginLoadWarning
from recframe.interfaces import CandidateRanker, Predictions
from recframe.interfaces.calls import calling, checked_interactions
from recframe.interfaces.checks import check_graph, check_topn
from recframe.interfaces.value_checks import check_metric, check_predictions, number
from recframe.registry import DISABLE_ENV
from recframe.testing import random_interactions

PLUGIN = "(recframe-edges 0.0.1)"


# --------------------------------------------------------------------------- a plugin of each kind needed


class EdgeSourceConfig(ComponentConfig):
    """Parameters of :class:`EdgeSource`."""

    ids: str = "ok"
    """What the user ids are: ``ok`` (integers), ``none``, ``bytes`` or ``float``."""


class EdgeSource(DataSource):
    """Forty users and twenty items, every user with eight of them."""

    name = "edge_data"
    Config = EdgeSourceConfig
    config: EdgeSourceConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        users: Any = np.repeat(np.arange(40), 8)
        items = (users * 7 + np.tile(np.arange(8) * 3, 40)) % 20
        if self.config.ids == "none":
            users = np.array([None] * len(users), dtype=object)
        elif self.config.ids == "bytes":
            users = np.array([b"u%d" % u for u in users], dtype=object)
        elif self.config.ids == "float":
            users = users + 0.5
        return Interactions(users, items, np.ones(len(items)), np.arange(len(items), dtype=np.float64))


class EdgeFilterConfig(ComponentConfig):
    """Parameters of :class:`EdgeFilter`."""

    value: float = 1.0
    """The value it gives the first interaction (``nan`` is a bug)."""


class EdgeFilter(Filter):
    """Rewrites the value of the first interaction."""

    name = "edge_filter"
    Config = EdgeFilterConfig
    config: EdgeFilterConfig

    def apply(self, interactions: Interactions) -> Interactions:
        values = np.array(interactions.values, dtype=np.float64)
        values[0] = np.nan if self.config.value == 0 else self.config.value
        return Interactions(interactions.users, interactions.items, values, interactions.timestamps)


class EdgeSimConfig(SimilarityConfig):
    """Parameters of :class:`EdgeSim`."""

    scale: float = 1.0
    """What every similarity is multiplied by."""


class EdgeSim(SimilarityBackend):
    """Neighbours of row i: the next rows, with similarities ``scale / (1 + j)``."""

    name = "edge_sim"
    Config = EdgeSimConfig
    config: EdgeSimConfig

    def fit(self, rows: Any) -> EdgeSim:
        self.rows_ = rows
        return self

    def query(self, vectors: Any, k: int | None = None) -> NeighbourGraph:
        return self.neighbours(np.arange(vectors.shape[0]) % self.rows_.shape[0], k)

    def neighbours(self, rows: Any = None, k: int | None = None) -> NeighbourGraph:
        check_fitted(self, "rows_")
        n_targets = self.rows_.shape[0]
        query = np.arange(n_targets) if rows is None else np.asarray(rows)
        k = min(self.config.k if k is None else k, n_targets - 1)
        idx = (query[:, None] + 1 + np.arange(k)) % n_targets
        scores = np.tile(self.config.scale / (1 + np.arange(k)), (len(query), 1))
        return NeighbourGraph(idx.astype(np.int64), scores, n_targets)


class EdgeRankerConfig(RankerConfig):
    """Parameters of :class:`EdgeRanker`."""

    mode: str = "ok"
    """What recommend() does: ``ok``, ``inf`` scores, or raise ``generator_exit``."""


class EdgeRanker(CandidateRanker):
    """Recommends items 0, 1, 2, ... to everyone."""

    name = "edge_ranker"
    Config = EdgeRankerConfig
    config: EdgeRankerConfig

    def fit(self, matrix: Any, neighbours: NeighbourGraph | None) -> EdgeRanker:
        self.matrix_ = matrix
        return self

    def recommend(self, users: Any, n: int | None = None, *, exclude: Any = None) -> TopN:
        n = self.config.n if n is None else n
        if self.config.mode == "generator_exit":
            raise GeneratorExit
        items = np.tile(np.arange(n, dtype=np.int64), (len(users), 1))
        scores = np.tile(np.arange(n, 0, -1, dtype=np.float64), (len(users), 1))
        if self.config.mode == "inf":
            scores[:, 0] = np.inf
        return TopN(items, scores)


class EdgeMetricConfig(MetricConfig):
    """Parameters of :class:`EdgeMetric`."""

    returns: str = "zeros"
    """What compute() returns (a key of RETURNS)."""


RETURNS: dict[str, Any] = {
    "zeros": lambda n: np.zeros(n),
    "dict": lambda n: {"a": 1},
    "set": lambda n: {0.5},
    "generator": lambda n: (0.0 for _ in range(n)),
    "object": lambda n: np.array(["a"] * n, dtype=object),
    "complex": lambda n: np.zeros(n, complex),
    "string": lambda n: "0.5",
    "strings": lambda n: np.array(["0.5"] * n),
    "none": lambda n: None,
    "inf": lambda n: np.full(n, np.inf),
    "huge_negative": lambda n: np.full(n, -1e300),
}


class EdgeMetric(Metric):
    """Returns what its config says."""

    name = "edge_metric"
    Config = EdgeMetricConfig
    config: EdgeMetricConfig

    def compute(self, data: Any) -> Any:
        return RETURNS[self.config.returns](len(data.hits))


COMPONENTS = [EdgeSource, EdgeFilter, EdgeSim, EdgeRanker, EdgeMetric]


@pytest.fixture
def edges(install_plugin: Any) -> PluginRegistry:
    """Built-ins plus the ``recframe-edges 0.0.1`` plugin; also what the command line sees."""
    return install_plugin(COMPONENTS, "edges", "recframe-edges")


def config(**sections: Any) -> dict[str, Any]:
    run: dict[str, Any] = {
        "data": {"type": "edge_data"},
        "similarity": {"type": "edge_sim", "k": 5},
        "ranker": {"type": "edge_ranker", "n": 5},
        "evaluation": {"split": {"type": "random_holdout"}, "metrics": [{"type": "edge_metric"}]},
    }
    run.update(sections)
    return run


def refused(run: dict[str, Any], error: type[Exception] = PluginError) -> str:
    with pytest.raises(error) as info:
        Recommender.from_config(run).evaluate()
    return str(info.value)


# --------------------------------------------------------------------------- 2: metric values must be real numbers


@pytest.mark.parametrize(
    ("returns", "shown"),
    [
        ("dict", "of type dict {'a': 1}"),
        ("set", "of type set {0.5}"),
        ("generator", "of type generator <generator object"),
        ("object", "of dtype object (ndarray array(['a', "),
        ("complex", "of dtype complex128 (ndarray array([0.+0.j, "),
        ("string", "of type str '0.5'"),
        ("strings", "of dtype <U3 (ndarray array(['0.5', "),
        ("none", "of type NoneType None"),
    ],
)
def test_metric_values_that_are_not_real_numbers_are_refused_naming_the_metric(edges, returns, shown):
    metric = {"type": "edge_metric", "returns": returns}
    message = refused(config(evaluation={"split": {"type": "random_holdout"}, "metrics": [metric]}))
    assert message.startswith(f"metric 'edge_metric' {PLUGIN} returned values {shown}")
    assert message.endswith("expected real numbers (a bool, integer or float numpy array) of shape (35,)")


@pytest.mark.parametrize(
    "values", [[0.0, 1.0], (0, 1), np.array([True, False]), np.array([0, 1], dtype=np.int8), np.zeros(2)]
)
def test_real_number_sequences_and_arrays_are_accepted(values):
    result = check_metric(values, "metric 'm' (x 1)", 2, True, (0.0, 1.0))
    assert result.dtype == np.float64 and result.shape == (2,)


def test_a_ragged_list_is_refused_without_a_traceback():
    with pytest.raises(PluginError, match=r"returned values list \[\[1\], \[1, 2\]\] that do not form an array"):
        check_metric([[1], [1, 2]], "metric 'm' (x 1)", 2, True, (0.0, 1.0))


# --------------------------------------------------------------------------- 3: non-finite scores anywhere


def test_infinite_ranker_scores_are_refused_naming_the_ranker(edges):
    message = refused(config(ranker={"type": "edge_ranker", "n": 5, "mode": "inf"}))
    assert message.startswith(f"ranker 'edge_ranker' {PLUGIN} returned the score inf for a recommended item")
    assert "scores must be finite numbers" in message


class NanScores(ScoringRanker):
    """Scores item 0 nan for every user, the others by their number: a ranker built on the engine's scoring."""

    name = "nan_scores"
    Config = ScoringConfig

    def score_block(self, users: np.ndarray) -> np.ndarray:
        scores = np.tile(np.arange(self.matrix_.n_items, dtype=np.float64), (len(users), 1))
        scores[:, 0] = np.nan
        return scores


def test_nan_scores_of_a_scoring_ranker_are_refused_not_dropped():
    # a nan is never among the best, so the item would silently vanish from every list
    data = random_interactions(n_users=30, n_items=20, seed=3)
    rec = Recommender(similarity=SparseSimilarity(k=5), ranker=NanScores(n=5)).fit(data)
    with pytest.raises(PluginError, match=r"raised ValueError in recommend\(\): NanScores\.score_block returned nan "
                       r"for 3 of 60 scores; scores must be numbers"):
        rec.recommend(np.unique(data.users)[:3])


class MisshapenScores(ScoringRanker):
    """Returns scores of the wrong shape or kind (``returns``); item scores rise with the item's number."""

    name = "misshapen_scores"
    Config = ScoringConfig
    returns = "row"

    def score_block(self, users: np.ndarray) -> Any:
        row = np.arange(1, self.matrix_.n_items + 1, dtype=np.float64)
        return {
            "right": np.tile(row, (len(users), 1)),
            "row": row,  # broadcast over the block: every user would get the same list
            "one_row": row[None, :],
            "column": np.ones((len(users), 1)),
            "list": np.tile(row, (len(users), 1)).tolist(),
            "text": np.tile(row, (len(users), 1)).astype(str),
            "short": np.tile(row[:-1], (len(users), 1)),
        }[self.returns]


@pytest.mark.parametrize(
    ("returns", "said"),
    [
        ("row", r"returned an array of shape \(20,\); expected a numpy array of shape \(3, 20\)"),
        ("one_row", r"returned an array of shape \(1, 20\); expected a numpy array of shape \(3, 20\)"),
        ("column", r"returned an array of shape \(3, 1\); expected"),
        ("list", r"returned list; expected a numpy array of shape \(3, 20\)"),
        ("text", r"returned an array of <U32; expected"),
        ("short", r"returned an array of shape \(3, 19\); expected"),
    ],
)
def test_scores_of_the_wrong_shape_or_kind_are_refused_not_broadcast(returns, said):
    # numpy broadcasts a row or a column over the block: every user would get the first user's list
    data = random_interactions(n_users=30, n_items=20, seed=3)
    ranker = MisshapenScores(n=5)
    ranker.returns = returns
    rec = Recommender(similarity=SparseSimilarity(k=5), ranker=ranker).fit(data)
    users = np.unique(data.users)[:3]
    with pytest.raises(PluginError, match=r"raised ValueError in recommend\(\): MisshapenScores\.score_block " + said):
        rec.recommend(users)


class OwnListsMisshapenScores(MisshapenScores):
    """Makes its lists from right scores (its own ``recommend``); only explanations read ``returns``."""

    def recommend(self, users: np.ndarray, n: int | None = None, *, exclude: Any = None) -> TopN:
        asked, self.returns = self.returns, "right"
        try:
            return super().recommend(users, n, exclude=exclude)
        finally:
            self.returns = asked


def test_scores_of_the_wrong_shape_are_refused_where_an_explanation_asks_for_them():
    data = random_interactions(n_users=30, n_items=20, seed=3)
    ranker = OwnListsMisshapenScores(n=5)
    ranker.returns = "short"
    rec = Recommender(similarity=SparseSimilarity(k=5), ranker=ranker).fit(data)
    user = np.unique(data.users)[0]
    item = rec.recommend([user]).to_dict()[user][0][0]
    with pytest.raises(PluginError, match=r"raised ValueError in score_block\(\): OwnListsMisshapenScores\.score_block "
                       r"returned an array of shape \(1, 19\); expected a numpy array of shape \(1, 20\)"):
        rec.explain(user, item)


def test_huge_similarities_overflowing_item_cf_name_the_similarity_and_its_value(edges):
    run = config(similarity={"type": "edge_sim", "k": 5, "scale": 1.5e308}, ranker={"type": "item_cf", "n": 5})
    message = refused(run)
    assert message.startswith("ranker 'item_cf' (recframe ")
    assert (
        f"the similarities of similarity 'edge_sim' {PLUGIN} are too large (largest 1.5e+308): "
        "their weighted sums overflowed float64; fix or rescale that similarity backend"
    ) in message


def test_infinite_metric_values_are_refused(edges):
    metric = {"type": "edge_metric", "returns": "inf"}
    message = refused(config(evaluation={"split": {"type": "random_holdout"}, "metrics": [metric]}))
    assert message == (
        f"metric 'edge_metric' {PLUGIN} returned the value inf for the user at position 0 "
        "(35 non-finite in all); every value must be a finite number"
    )


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_graph_topn_and_predictions_refuse_every_non_finite_value(bad):
    scores = np.array([[2.0, 1.0], [2.0, 1.0]])
    scores[1, 0] = bad
    graph = NeighbourGraph(np.array([[1, 2], [2, 0]]), scores, 3)
    with pytest.raises(PluginError, match=rf"^s returned similarity {bad!r} for row 1 \(1 non-finite in all\)"):
        check_graph(graph, "s", 2, 3)
    with pytest.raises(PluginError, match=rf"^r returned the score {bad!r} for a recommended item for user row 7"):
        check_topn(TopN(np.array([[1, 2], [2, 0]]), scores), "r", 2, 2, 3, users=np.array([3, 7]))
    predictions = Predictions(scores[:, 0], np.zeros(2, np.int8), np.ones(2, np.int64))
    with pytest.raises(PluginError, match=rf"^r returned the prediction {bad!r} for pair 1"):
        check_predictions(predictions, "r", 2)


def test_padding_may_still_score_nan():
    lists = TopN(np.array([[1, -1]]), np.array([[1.0, np.nan]]))
    assert check_topn(lists, "r", 1, 2, 3) is lists


# --------------------------------------------------------------------------- 4: config defaults, at registration


class NanConfig(RankerConfig):
    """A default that can't be written to config.yaml."""

    alpha: float = float("nan")
    """Weight."""


class InfConfig(SimilarityConfig):
    """A default that can't be written to config.yaml."""

    shrink: float = float("inf")
    """Shrinkage."""


class BytesConfig(ComponentConfig):
    """A default that can't be written to config.yaml."""

    prefix: bytes = b"\xff\xfe"
    """Id prefix."""


class NanRanker(EdgeRanker):
    name = "nan_ranker"
    Config = NanConfig


class InfSim(EdgeSim):
    name = "inf_sim"
    Config = InfConfig


class BytesSource(EdgeSource):
    name = "bytes_data"
    Config = BytesConfig


def plugin(*classes: object) -> types.ModuleType:
    module = types.ModuleType("recframe_defaults")

    @hookimpl
    def recframe_register_components() -> list[Any]:
        return list(classes)

    module.recframe_register_components = recframe_register_components  # type: ignore[attr-defined]
    return module


@pytest.mark.parametrize(
    ("cls", "kind", "field", "shown"),
    [(NanRanker, "ranker", "alpha", "nan"), (InfSim, "similarity", "shrink", "inf"),
     (BytesSource, "data", "prefix", r"b'\\xff\\xfe'")],
)
def test_a_default_that_cant_be_written_is_fatal_when_registered_directly(cls, kind, field, shown):
    registry = PluginRegistry.from_environment(entry_points=False)
    with pytest.raises(PluginError) as info:
        registry.register(plugin(cls), name="defaults", package="recframe-defaults", version="1.0")
    assert str(info.value).startswith(
        f"plugin 'defaults' (recframe-defaults 1.0) registered {kind} {cls.name!r} whose Config field "
        f"{field!r} defaults to {shown.replace(chr(92) * 2, chr(92))}, which can't be written to config.yaml"
    )
    assert cls.name not in registry.names(kind)


def test_defaults_are_checked_once_per_class_and_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A class that passed is not checked again, unless its Config changed; one that failed always is."""
    from recframe.registry import component_checks

    class GoodRanker(EdgeRanker):
        name = "good_defaults_ranker"

    calls: list[str] = []
    real = component_checks._check_each_default
    monkeypatch.setattr(
        component_checks, "_check_each_default", lambda cls, *args: (calls.append(cls.name), real(cls, *args))[1]
    )
    for _ in range(2):  # two registries, as two commands or two recommenders built from configs
        registry = PluginRegistry.from_environment(entry_points=False)
        registry.register(plugin(GoodRanker), name="defaults", package="recframe-defaults", version="1.0")
    assert calls.count("good_defaults_ranker") == 1
    monkeypatch.setattr(GoodRanker, "Config", NanConfig)  # another Config: checked again, and refused
    for _ in range(2):
        with pytest.raises(PluginError, match="'good_defaults_ranker' whose Config field 'alpha' defaults to nan"):
            PluginRegistry.from_environment(entry_points=False).register(
                plugin(GoodRanker), name="defaults", package="recframe-defaults", version="1.0"
            )
    assert calls.count("good_defaults_ranker") == 3


class RefusedDefaultConfig(RankerConfig):
    """A default the field's own constraint refuses: config.yaml would hold it, and fail when run again."""

    depth: PositiveInt = -5
    """Depth."""


class RefusedDefaultRanker(EdgeRanker):
    name = "refused_default_ranker"
    Config = RefusedDefaultConfig


def test_a_default_its_own_field_refuses_is_fatal_when_registered() -> None:
    registry = PluginRegistry.from_environment(entry_points=False)
    with pytest.raises(PluginError) as info:
        registry.register(plugin(RefusedDefaultRanker), name="defaults", package="recframe-defaults", version="1.0")
    assert str(info.value).startswith(
        "plugin 'defaults' (recframe-defaults 1.0) registered ranker 'refused_default_ranker' whose Config field "
        "'depth' defaults to -5, which it refuses (Input should be greater than 0); give the field a default"
    )
    assert "refused_default_ranker" not in registry.names("ranker")


def test_every_built_in_default_is_one_its_field_accepts() -> None:
    """Registration skips this check for the built-ins (it costs each command's start): it is made here."""
    from recframe.registry import builtin_registry
    from recframe.registry.component_checks import refused_default

    checked = 0
    for entry in builtin_registry().components():
        config = entry.cls.Config
        for field, info in config.model_fields.items():
            if not info.is_required():
                assert refused_default(config, field, config.model_construct().__dict__.get(field)) is None, (
                    entry.kind, entry.name, field)
                checked += 1
    assert checked > 100


class _EntryPoint:
    name = "defaults"
    value = "recframe_defaults"
    group = "recframe"

    def __init__(self, module: object) -> None:
        self.dist = types.SimpleNamespace(metadata={"Name": "recframe-defaults"}, version="1.0")
        self._module = module

    def load(self) -> object:
        return self._module


def test_an_installed_plugin_with_such_a_default_is_disabled_with_one_warning(monkeypatch):
    real = importlib.metadata.entry_points
    entry = _EntryPoint(plugin(NanRanker))
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda **params: [entry] if params == {"group": "recframe"} else real(**params),
    )
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    with pytest.warns(PluginLoadWarning, match=r"whose Config field 'alpha' defaults to nan") as caught:
        registry = PluginRegistry.from_environment()
    assert len(caught) == 1
    assert "nan_ranker" not in registry.names("ranker")
    assert [p.status for p in registry.plugins if p.name == "defaults"] == ["failed"]


def test_a_config_with_a_validator_needing_user_input_still_registers():
    # built-ins such as rating_threshold need a value from the user: their defaults are checked, not validated
    registry = PluginRegistry.from_environment(entry_points=False)
    assert "rating_threshold" in registry.names("filter")


# --------------------------------------------------------------------------- 8: invalid interactions name the component


@pytest.mark.parametrize(
    ("ids", "problem"),
    [("none", "user ids: row 1 is missing (None)"),
     ("bytes", "user ids: row 1 is bytes b'u0'"),
     ("float", "user ids must be integers or strings; got the float 0.5")],
)
def test_a_data_source_returning_invalid_interactions_is_a_plugin_error_naming_it(edges, ids, problem):
    message = refused(config(data={"type": "edge_data", "ids": ids}))
    assert message.startswith(f"data 'edge_data' {PLUGIN} returned invalid data: {problem}")
    assert message.endswith("fix the component (a bug in it, not in your data file)")


def test_a_filter_returning_a_nan_value_is_a_plugin_error_naming_it(edges):
    message = refused(config(data={"type": "edge_data", "filters": [{"type": "edge_filter", "value": 0}]}))
    assert message.startswith(f"filter 'edge_filter' {PLUGIN} returned invalid data: values[0] is nan")


def test_a_builtin_source_keeps_the_data_error_and_names_the_source():
    expected = r"^data 'csv' \(recframe .*\) read invalid data: user ids: row 1 is missing"
    source = "data 'csv' (recframe 0.1)"
    with pytest.raises(DataError, match=expected) as info, checked_interactions(source, builtin=True):
        Interactions(np.array([None], dtype=object), np.array([0]), np.ones(1), np.zeros(1))
    assert isinstance(info.value.__cause__, DataError)


def test_a_data_error_the_component_raises_itself_passes_unchanged():
    expected = r"^ratings\.csv:3: rating 'five' is not a number$"
    with pytest.raises(DataError, match=expected), checked_interactions("data 'x' (pkg 1)", builtin=False):
        raise DataError("ratings.csv:3: rating 'five' is not a number")


# --------------------------------------------------------------------------- 12: BaseException; plain numbers


@pytest.mark.parametrize("error", [GeneratorExit, SystemExit, BaseException])
def test_base_exceptions_other_than_keyboard_interrupt_become_plugin_errors(error):
    expected = rf"^ranker 'x' \(pkg 1\) raised {error.__name__} in recommend\(\)"
    with pytest.raises(PluginError, match=expected), calling("ranker 'x' (pkg 1)", "recommend"):
        raise error
    with pytest.raises(KeyboardInterrupt), calling("ranker 'x' (pkg 1)", "recommend"):
        raise KeyboardInterrupt


def test_generator_exit_from_a_ranker_is_a_plugin_error(edges):
    message = refused(config(ranker={"type": "edge_ranker", "n": 5, "mode": "generator_exit"}))
    assert message == f"ranker 'edge_ranker' {PLUGIN} raised GeneratorExit in recommend()"


def test_numbers_in_messages_are_plain_python_numbers(edges):
    metric = {"type": "edge_metric", "returns": "huge_negative"}
    message = refused(config(evaluation={"split": {"type": "random_holdout"}, "metrics": [metric]}))
    assert message == f"metric 'edge_metric' {PLUGIN} returned values outside [0.0, 1.0]: min -1e+300, max -1e+300"
    shown = [number(v) for v in (np.float64(0.5), np.int64(3), np.bool_(True), 2, "x")]
    assert shown == ["0.5", "3", "True", "2", "'x'"]
