"""Plugin code at run time: what a component raises by accident, and what it returns that is wrong.

Every call the engine makes into a component goes through one guard
(:func:`recframe.interfaces.calls.calling`): an accidental exception, or ``SystemExit``, becomes a short
``PluginError`` naming the component and the method, and a ``RecframeError`` raised on purpose
passes unchanged. What a component returns is checked (:mod:`recframe.interfaces.checks`) before use.
"""

from __future__ import annotations

import types
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import (
    CandidateRanker,
    ComponentConfig,
    DataError,
    DataSource,
    Filter,
    Interactions,
    MatrixBuilder,
    Metric,
    MetricConfig,
    NeighbourGraph,
    PluginError,
    PluginRegistry,
    RankerConfig,
    Recommender,
    SimilarityBackend,
    SimilarityConfig,
    Splitter,
    TopN,
    check_fitted,
    hookimpl,
)
from recframe.cli import main
from recframe.data import InteractionMatrix
from recframe.engine import check_measurable
from recframe.interfaces.calls import calling
from recframe.interfaces.checks import check_graph, check_topn

PLUGIN = "(recframe-wrong 0.0.1)"

FAILURES: dict[str, Any] = {
    "value": lambda: ValueError("short failure"),
    "exit": lambda: SystemExit(0),
    "long": lambda: RuntimeError("x" * 50_000),
    "data": lambda: DataError("ratings.csv:3: rating 'five' is not a number"),
    "interrupt": KeyboardInterrupt,
}


class Failing:
    """Raises the configured failure when the configured method is called."""

    config: Any

    def __init__(self, config: Any = None, **params: Any) -> None:
        super().__init__(config, **params)  # type: ignore[call-arg]
        self.maybe_fail("__init__")

    def maybe_fail(self, method: str) -> None:
        if self.config.fail_in == method:
            raise FAILURES[self.config.failure]()


# --------------------------------------------------------------------------- a plugin of every kind


class WrongSourceConfig(ComponentConfig):
    """Parameters of :class:`WrongSource`."""

    fail_in: str = ""
    """Method that fails."""
    failure: str = "value"
    """How it fails (a key of FAILURES)."""


class WrongSource(Failing, DataSource):
    """Forty users and twenty items, every user with eight of them."""

    name = "wrong_data"
    Config = WrongSourceConfig

    def load(self, rng: np.random.Generator) -> Interactions:
        self.maybe_fail("load")
        users = np.repeat(np.arange(40), 8)
        items = (users * 7 + np.tile(np.arange(8) * 3, 40)) % 20
        times = np.arange(len(users), dtype=np.float64)
        return Interactions(users, items, np.ones(len(users)), times)


class WrongFilterConfig(WrongSourceConfig):
    """Parameters of :class:`WrongFilter`."""


class WrongFilter(Failing, Filter):
    """Keeps everything."""

    name = "wrong_filter"
    Config = WrongFilterConfig

    def apply(self, interactions: Interactions) -> Interactions:
        self.maybe_fail("apply")
        return interactions


class WrongMatrixConfig(WrongSourceConfig):
    """Parameters of :class:`WrongMatrix`."""

    row_short: bool = False
    """Build the matrix one row short of its users."""
    values_short: bool = False
    """Give one weight fewer than the events."""
    duplicates: str = "max"
    """How repeated pairs combine ("error": they are refused)."""
    repeated: bool = False
    """Read every event twice (a pair repeated in the data)."""
    emptied: bool = False
    """Build from no events (keeping none of them, as a builder of some events may)."""
    nan: bool = False
    """Weigh the first event 0 / 0 (a bug), and check the matrix can be measured."""
    huge: bool = False
    """Weigh every event 1e200, and check that it can be measured (as the built-ins do)."""


class WrongMatrix(Failing, MatrixBuilder):
    """Binary matrix."""

    name = "wrong_matrix"
    Config = WrongMatrixConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        self.maybe_fail("build")
        if self.config.repeated:
            interactions = Interactions.concat(interactions, interactions)
        if self.config.emptied:
            interactions = interactions.take(np.zeros(len(interactions), dtype=bool))
        weights = np.full(len(interactions) - self.config.values_short, 1e200 if self.config.huge else 1.0)
        if self.config.nan:
            weights[0] = np.nan
        built = InteractionMatrix.from_interactions(interactions, weights, self.config.duplicates)  # type: ignore[arg-type]
        if self.config.huge or self.config.nan:
            check_measurable(built, "matrix 'wrong_matrix'")
        if self.config.row_short:  # a bug: the matrix no longer fits the ids
            return InteractionMatrix(sp.csr_array(built.matrix[:-1]), built.users, built.items)
        return built


class WrongSimConfig(SimilarityConfig):
    """Parameters of :class:`WrongSim`."""

    fail_in: str = ""
    """Method that fails."""
    failure: str = "value"
    """How it fails."""
    mode: str = "ok"
    """What neighbours() returns."""


class WrongSim(Failing, SimilarityBackend):
    """Neighbours of row i: the next rows, i+1, i+2, ... (a valid graph unless `mode` says otherwise)."""

    name = "wrong_sim"
    Config = WrongSimConfig
    config: WrongSimConfig

    def fit(self, rows: Any) -> WrongSim:
        self.maybe_fail("fit")
        self.rows_ = rows
        return self

    def estimate(self, rows: Any, k: int | None = None) -> None:
        self.maybe_fail("estimate")

    def query(self, vectors: Any, k: int | None = None) -> NeighbourGraph:
        self.maybe_fail("query")
        return self.neighbours(np.arange(vectors.shape[0]) % self.rows_.shape[0], k)

    def neighbours(self, rows: Any = None, k: int | None = None) -> NeighbourGraph:
        self.maybe_fail("neighbours")
        check_fitted(self, "rows_")
        n_targets = self.rows_.shape[0]
        query = np.arange(n_targets) if rows is None else np.asarray(rows)
        k = min(self.config.k if k is None else k, n_targets - 1)
        idx = (query[:, None] + 1 + np.arange(k)) % n_targets
        scores = np.tile(1.0 / (1 + np.arange(k)), (len(query), 1))
        mode = self.config.mode
        if mode == "self":
            idx[:, 0] = query
        elif mode == "float":
            return NeighbourGraph(idx.astype(np.float64), scores, n_targets)
        elif mode == "dups":
            idx[:, 1] = idx[:, 0]
        elif mode == "unsorted":
            scores = scores[:, ::-1].copy()
        return NeighbourGraph(idx.astype(np.int64), scores, n_targets)


class WrongRankerConfig(RankerConfig):
    """Parameters of :class:`WrongRanker`."""

    fail_in: str = ""
    """Method that fails."""
    failure: str = "value"
    """How it fails."""
    mode: str = "ok"
    """What recommend() returns."""


class WrongRanker(Failing, CandidateRanker):
    """Recommends items 0, 1, 2, ... to everyone (valid lists unless `mode` says otherwise)."""

    name = "wrong_ranker"
    Config = WrongRankerConfig
    config: WrongRankerConfig
    neighbour_axis: ClassVar[Any] = "items"

    def fit(self, matrix: InteractionMatrix, neighbours: NeighbourGraph | None) -> WrongRanker:
        self.maybe_fail("fit")
        self.matrix_, self.neighbours_ = matrix, neighbours
        return self

    def recommend(self, users: Any, n: int | None = None, *, exclude: Any = None) -> TopN:
        self.maybe_fail("recommend")
        n = self.config.n if n is None else n
        u = len(users)
        items = np.tile(np.arange(n, dtype=np.int64), (u, 1))
        scores = np.tile(np.arange(n, 0, -1, dtype=np.float64), (u, 1))
        mode = self.config.mode
        if mode == "float32":
            return TopN(items.astype(np.float32), scores)
        if mode == "dups":
            items[-1, 1] = items[-1, 0]
        if mode == "dups_padded":  # repeated -1 padding is fine
            items[:, 1:] = -1
            scores[:, 1:] = np.nan
        return TopN(items, scores)


class WrongSplitterConfig(WrongSourceConfig):
    """Parameters of :class:`WrongSplitter`."""

    empty: str = ""
    """The part left empty ("test" or "training"; "": neither)."""


class WrongSplitter(Failing, Splitter):
    """Every fourth event is a test event."""

    name = "wrong_split"
    Config = WrongSplitterConfig

    def split(self, interactions: Interactions, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
        self.maybe_fail("split")
        test = np.arange(len(interactions)) % 4 == 0
        if self.config.empty:
            test[:] = self.config.empty == "training"
        return interactions.take(~test), interactions.take(test)


class WrongMetricConfig(MetricConfig):
    """Parameters of :class:`WrongMetric`."""

    fail_in: str = ""
    """Method that fails."""
    failure: str = "value"
    """How it fails."""


class WrongMetric(Failing, Metric):
    """Zero for everyone."""

    name = "wrong_metric"
    Config = WrongMetricConfig

    def compute(self, data: Any) -> Any:
        self.maybe_fail("compute")
        return np.zeros(len(data.hits))


COMPONENTS = [WrongSource, WrongFilter, WrongMatrix, WrongSim, WrongRanker, WrongSplitter, WrongMetric]


@pytest.fixture
def wrong_registry(install_plugin: Any) -> PluginRegistry:
    """Built-ins plus the ``recframe-wrong 0.0.1`` plugin; also what the command line sees."""
    return install_plugin(COMPONENTS, "wrong", "recframe-wrong")


def run_config(**sections: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "data": {"type": "wrong_data"},
        "similarity": {"type": "wrong_sim", "k": 5},
        "ranker": {"type": "wrong_ranker", "n": 5},
        "evaluation": {"split": {"type": "wrong_split"}, "metrics": [{"type": "wrong_metric"}]},
    }
    config.update(sections)
    return config


# where each failure is configured, and the component's name in the message
PLACES = [
    ("data", "load", "data 'wrong_data'"),
    ("filter", "apply", "filter 'wrong_filter'"),
    ("matrix", "build", "matrix 'wrong_matrix'"),
    ("similarity", "fit", "similarity 'wrong_sim'"),
    ("similarity", "estimate", "similarity 'wrong_sim'"),
    ("similarity", "neighbours", "similarity 'wrong_sim'"),
    ("ranker", "fit", "ranker 'wrong_ranker'"),
    ("ranker", "recommend", "ranker 'wrong_ranker'"),
    ("split", "split", "splitter 'wrong_split'"),
    ("metric", "compute", "metric 'wrong_metric'"),
    ("data", "__init__", "data 'wrong_data'"),
    ("ranker", "__init__", "ranker 'wrong_ranker'"),
    ("metric", "__init__", "metric 'wrong_metric'"),  # built when the config is validated
]


def failing_config(section: str, method: str, failure: str) -> dict[str, Any]:
    fail = {"fail_in": method, "failure": failure}
    config = run_config()
    if section == "filter":
        config["data"] = {"type": "wrong_data", "filters": [{"type": "wrong_filter", **fail}]}
    elif section == "split":
        config["evaluation"]["split"].update(fail)
    elif section == "metric":
        config["evaluation"]["metrics"][0].update(fail)
    elif section == "matrix":
        config["matrix"] = {"type": "wrong_matrix", **fail}
    else:
        config[section] = {**config[section], **fail}
    return config


def evaluate(config: dict[str, Any]) -> Any:
    return Recommender.from_config(config).evaluate()


# --------------------------------------------------------------------------- accidental exceptions, API


@pytest.mark.parametrize(("section", "method", "who"), PLACES)
def test_an_accidental_exception_becomes_a_plugin_error_naming_component_and_method(
    wrong_registry, section, method, who
):
    with pytest.raises(PluginError) as info:
        evaluate(failing_config(section, method, "value"))
    assert str(info.value) == f"{who} {PLUGIN} raised ValueError in {method}(): short failure"
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize(("section", "method", "who"), PLACES)
def test_system_exit_from_a_component_becomes_a_plugin_error(wrong_registry, section, method, who):
    with pytest.raises(PluginError) as info:
        evaluate(failing_config(section, method, "exit"))
    assert str(info.value) == (
        f"{who} {PLUGIN} raised SystemExit in {method}() (exit code 0); "
        "a component must raise an exception, not end the program"
    )
    assert isinstance(info.value.__cause__, SystemExit)


@pytest.mark.parametrize(("section", "method", "who"), PLACES)
def test_a_huge_message_is_shortened(wrong_registry, section, method, who):
    with pytest.raises(PluginError, match=rf"^{who} \(recframe-wrong 0\.0\.1\) raised RuntimeError in ") as info:
        evaluate(failing_config(section, method, "long"))
    assert len(str(info.value)) < 300
    assert str(info.value).endswith("... (50000 characters)")


@pytest.mark.parametrize(("section", "method", "who"), PLACES)
def test_a_recframe_error_raised_on_purpose_passes_unchanged(wrong_registry, section, method, who):
    with pytest.raises(DataError) as info:
        evaluate(failing_config(section, method, "data"))
    assert str(info.value) == "ratings.csv:3: rating 'five' is not a number"
    assert info.value.__cause__ is None


@pytest.mark.parametrize(("section", "method", "who"), PLACES)
def test_keyboard_interrupt_passes_through(wrong_registry, section, method, who):
    with pytest.raises(KeyboardInterrupt):
        evaluate(failing_config(section, method, "interrupt"))


@pytest.mark.parametrize(
    ("query", "method"),
    [
        (lambda rec: rec.similar_items([0], n=12), "neighbours"),  # wider than the stored graph: asked again
        (lambda rec: rec.recommend([0, 1]), "recommend"),
    ],
)
def test_query_time_calls_are_guarded_too(wrong_registry, query, method):
    rec = Recommender.from_config(run_config()).fit()
    # queries use the fitted ranker and the backends fitted for each axis
    for component in (rec.fitted_ranker, *rec._state().backends.values()):
        component.config = component.config.model_copy(update={"fail_in": method})
    with pytest.raises(PluginError, match=rf"raised ValueError in {method}\(\): short failure$"):
        query(rec)


def test_a_builtin_component_is_named_the_same_way(wrong_registry, monkeypatch):
    from recframe._version import __version__
    from recframe.builtin.rankers import ItemCFRanker

    def broken(self: Any, users: Any, n: Any = None, *, exclude: Any = None) -> Any:
        return np.arange(3)[10]  # a bug of ours: IndexError

    monkeypatch.setattr(ItemCFRanker, "recommend", broken)
    rec = Recommender.from_config(run_config(ranker={"type": "item_cf"})).fit()
    with pytest.raises(PluginError) as info:
        rec.recommend([0])
    assert str(info.value) == (
        f"ranker 'item_cf' (recframe {__version__}) raised IndexError in recommend(): "
        "index 10 is out of bounds for axis 0 with size 3"
    )


def test_the_guard_itself():
    with pytest.raises(PluginError, match=r"^x raised TypeError in m\(\): a b$"), calling("x", "m"):
        raise TypeError("a\n  b")
    with pytest.raises(PluginError, match=r"^lazy raised KeyError in m\(\): 'k'$"), calling(lambda: "lazy", "m"):
        raise KeyError("k")
    with pytest.raises(PluginError, match=r"^x raised SystemExit in m\(\); "), calling("x", "m"):
        raise SystemExit
    with calling(lambda: pytest.fail("named without a failure"), "m"):
        pass


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("failure", ["exit", "value", "long"])
def test_cli_run_exits_1_with_a_short_message_and_no_output(wrong_registry, tmp_path, capsys, failure):
    run = tmp_path / "run.yaml"
    run.write_text(
        "data: {type: wrong_data}\nsimilarity: {type: wrong_sim, k: 5}\n"
        f"ranker: {{type: wrong_ranker, n: 5, fail_in: recommend, failure: {failure}}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["run", str(run), "-o", str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: ranker 'wrong_ranker' {PLUGIN} raised ")
    assert "Traceback" not in err and len(err) < 400 and err.count("\n") == 1
    assert not out.exists()


# --------------------------------------------------------------------------- what components return


def wrong_output(config: dict[str, Any]) -> str:
    with pytest.raises(PluginError) as info:
        Recommender.from_config(config).fit().recommend_all()
    return str(info.value)


def test_float_item_rows_are_refused_for_their_dtype_not_their_range(wrong_registry):
    message = wrong_output(run_config(ranker={"type": "wrong_ranker", "n": 5, "mode": "float32"}))
    assert message == (
        f"ranker 'wrong_ranker' {PLUGIN} returned item rows of dtype float32; expected an integer dtype (int64)"
    )


def test_float_neighbour_indices_are_refused_for_their_dtype(wrong_registry):
    message = wrong_output(run_config(similarity={"type": "wrong_sim", "k": 5, "mode": "float"}))
    assert message == (
        f"similarity 'wrong_sim' {PLUGIN} returned neighbour indices of dtype float64; "
        "expected an integer dtype (int64)"
    )


def test_an_item_twice_in_one_list_is_refused_naming_user_and_item(wrong_registry):
    message = wrong_output(run_config(ranker={"type": "wrong_ranker", "n": 5, "mode": "dups"}))
    assert message == (
        f"ranker 'wrong_ranker' {PLUGIN} returned item row 0 more than once for user row 39; "
        "each item appears at most once in a list (only -1 padding repeats)"
    )


def test_repeated_padding_is_not_a_duplicate(wrong_registry):
    lists = Recommender.from_config(run_config(ranker={"type": "wrong_ranker", "n": 5, "mode": "dups_padded"}))
    assert lists.fit().recommend([0]).ranked.lengths.tolist() == [1]


def test_a_row_as_its_own_neighbour_is_refused(wrong_registry):
    message = wrong_output(run_config(similarity={"type": "wrong_sim", "k": 5, "mode": "self"}))
    assert message == (
        f"similarity 'wrong_sim' {PLUGIN} returned row 0 as its own neighbour; "
        "neighbours() must never return the query row itself"
    )


def test_own_neighbour_is_checked_against_the_rows_asked_for(wrong_registry):
    rec = Recommender.from_config(run_config()).fit()
    backend = rec._state().backends["items"]
    backend.config = backend.config.model_copy(update={"mode": "self"})
    with pytest.raises(PluginError, match=r"returned row 7 as its own neighbour"):
        rec.similar_items([rec.interaction_matrix.items.ids[7]], n=12)


def test_query_of_new_vectors_may_return_any_row():
    graph = NeighbourGraph(np.array([[0, 1], [1, 0]]), np.ones((2, 2)), 2)
    assert check_graph(graph, "similarity 'q'", 2, 2) is graph
    with pytest.raises(PluginError, match="returned row 0 as its own neighbour"):
        check_graph(graph, "similarity 'q'", 2, 2, query_rows=np.arange(2))


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("dups", "returned neighbour row 1 more than once for row 0; each neighbour appears at most once"),
        ("unsorted", "returned neighbours not sorted by decreasing score for row 0; put the best first"),
    ],
)
def test_graph_order_and_duplicates_are_checked(wrong_registry, mode, message):
    assert message in wrong_output(run_config(similarity={"type": "wrong_sim", "k": 5, "mode": mode}))


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([[0, 1]], "returned item rows of type list; expected a numpy array of an integer dtype (int64)"),
        (np.array([[0, 99]]), r"returned item row 99 outside [-1, 30) (of 30 items)"),
        (np.array([[-1, 0]]), "returned padding (-1) before real items for user row 4; padding comes last"),
        (np.array([[True, False]]), "returned item rows of dtype bool; expected an integer dtype (int64)"),
    ],
)
def test_topn_checks_name_what_is_wrong(items, message):
    with pytest.raises(PluginError) as info:
        check_topn(TopN(items, np.array([[2.0, 1.0]])), "ranker 'r'", 1, 2, 30, users=np.array([4]))
    assert str(info.value) == f"ranker 'r' {message}"


def test_a_ranker_config_that_is_component_config_itself_is_named(registry):
    class BadCfgRanker(WrongRanker):
        """bad config."""

        name = "badcfg_ranker"
        Config = ComponentConfig  # type: ignore[assignment]

    module = types.ModuleType("recframe_badcfg")

    @hookimpl
    def recframe_register_components() -> list[Any]:
        return [BadCfgRanker]

    module.recframe_register_components = recframe_register_components  # type: ignore[attr-defined]
    with pytest.raises(PluginError) as info:
        registry.register(module, name="badcfg", package="recframe-badcfg", version="1.0")
    assert str(info.value).endswith("; set Config = RankerConfig (or a subclass of it) instead of ComponentConfig")
    assert "BaseModel" not in str(info.value)


def test_large_batches_are_checked_in_blocks_and_name_the_right_row(monkeypatch):
    import recframe.interfaces.checks

    monkeypatch.setattr(recframe.interfaces.checks, "CHECK_BLOCK", 6)  # two rows of three per block
    items = np.tile(np.arange(3), (7, 1))
    items[5, 2] = items[5, 0]
    scores = np.tile([3.0, 2.0, 1.0], (7, 1))
    with pytest.raises(PluginError, match=r"returned item row 0 more than once for user row 15;"):
        check_topn(TopN(items, scores), "ranker 'r'", 7, 3, 30, users=np.arange(10, 17))
    neighbours = (np.arange(7)[:, None] + 1 + np.arange(3)) % 8  # never the row itself ...
    neighbours[3, 0] = 3  # ... but here
    graph = NeighbourGraph(neighbours, scores, 8)
    with pytest.raises(PluginError, match=r"returned row 3 as its own neighbour;"):
        check_graph(graph, "similarity 's'", 7, 8, query_rows=np.arange(7))


@pytest.mark.parametrize("empty", ["test", "training"])
def test_a_split_leaving_a_part_empty_is_a_data_error_naming_the_splitter(wrong_registry, empty):
    # an empty test part crashed in the protocol (IndexError); an empty training part blamed the data
    config = run_config()
    config["evaluation"]["split"]["empty"] = empty
    with pytest.raises(DataError) as info:
        evaluate(config)
    assert str(info.value) == (
        f"splitter 'wrong_split' {PLUGIN} left no {empty} interactions out of 320; a split needs events on both sides"
    )


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("row_short", "matrix has shape (39, 20); the id indexes say (40, 20)"),
        ("values_short", "values has shape (239,); expected (240,), one per interaction"),
        # a NaN the builder computed: check_measurable's own data checks must not pass it as the data's
        ("nan", "matrix 'wrong_matrix' holds nan for user 0 and item 3: a matrix's values are finite numbers other "
                "than 0 (a 0 is no cell)"),
    ],
)
def test_a_matrix_builder_building_an_invalid_matrix_is_named(wrong_registry, fault, said):
    # the matrix's own checks raised a DataError (exit 3: "data can't be used") naming nobody
    config = run_config(matrix={"type": "wrong_matrix", fault: True})
    with pytest.raises(PluginError) as info:
        evaluate(config)
    assert str(info.value) == (
        f"matrix 'wrong_matrix' {PLUGIN} returned invalid data: {said}; fix the component (a bug in it, not in your "
        "data file)"
    )


@pytest.mark.parametrize(
    ("matrix", "said"),
    [
        # a pair repeated under duplicates: error is the user's to fix (exit 3), not the plugin's bug
        (
            {"repeated": True, "duplicates": "error"},
            "user 0 and item 1 occur more than once (240 repeated pairs in all); set matrix.duplicates to last, "
            "first, mean, sum or max",
        ),
        # values no similarity can measure: the data's, as check_measurable says
        ({"huge": True}, "matrix 'wrong_matrix' holds 1e+200 for user 0 and item 1, too large to measure"),
        # a builder of some events may keep none (after a forget, say)
        ({"emptied": True}, "no interactions to build a matrix from"),
    ],
)
def test_a_matrix_builders_data_errors_stay_the_datas(wrong_registry, matrix, said):
    config = run_config(matrix={"type": "wrong_matrix", **matrix})
    with pytest.raises(DataError) as info:
        evaluate(config)
    assert not isinstance(info.value, PluginError)
    assert str(info.value).startswith(said), str(info.value)
