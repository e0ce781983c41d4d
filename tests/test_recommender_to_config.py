"""Recommender.to_config(): the run config of a recommender, round-tripping through from_config()."""

from __future__ import annotations

import inspect
import typing
from pathlib import Path

import pytest
import yaml

import recframe
from recframe import ConfigError, EvaluationSettings, Recommender, Secret
from recframe.builtin.filters import KCoreFilter
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SklearnNNSimilarity
from recframe.registry import builtin_registry

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def components(rec: Recommender) -> dict[str, object]:
    """Return every component of `rec` as (type, config) pairs, by role."""

    def of(component: object) -> object:
        return None if component is None else (type(component).name, component.config)  # type: ignore[attr-defined]

    return {
        "data": of(rec.data),
        "matrix": of(rec.matrix),
        "similarity": of(rec.similarity),
        "ranker": of(rec.ranker),
        "fallbacks": [of(f) for f in rec.fallbacks],
        "splitter": of(rec.splitter),
        "metrics": [of(m) for m in rec.metrics],
        "test_data": of(rec.test_data),
        "filters": [of(f) for f in rec.filters],
        "evaluation": rec.evaluation,
        "seed": rec.seed,
        "name": rec.name,
    }


def round_trip(rec: Recommender) -> Recommender:
    config = rec.to_config()
    assert yaml.safe_load(yaml.safe_dump(config)) == config  # a plain dict, ready for a run file
    again = Recommender.from_config(config, registry=builtin_registry())
    assert components(again) == components(rec)
    assert again.to_config() == config
    return again


def test_the_quickstart_config_round_trips():
    rec = Recommender.from_config(QUICKSTART, registry=builtin_registry())
    config = rec.to_config()
    assert config["name"] == "quickstart" and config["seed"] == 42
    assert config["similarity"] == {**config["similarity"], "type": "sklearn_nn", "metric": "cosine", "k": 50}
    assert config["ranker"]["fallback"]["type"] == "popularity"
    assert config["evaluation"]["split"] == {**config["evaluation"]["split"], "type": "temporal_global"}
    assert [m["type"] for m in config["evaluation"]["metrics"]] == ["precision", "recall", "ndcg", "map", "hit_rate"]
    assert "output" in config
    round_trip(rec)
    # what the run file says, every default written out, is what to_config() says
    assert config == {k: v for k, v in rec.config.to_dict().items() if k != "sweep"}  # type: ignore[union-attr]


def test_a_recommender_built_from_objects_round_trips():
    rec = Recommender(
        similarity=SklearnNNSimilarity(k=7),
        ranker=UserCFRanker(n=4),
        fallback=[ItemCFRanker(n=4), PopularityRanker(n=4)],
        seed=3,
        name="objects",
    )
    config = rec.to_config()
    assert config["similarity"]["k"] == 7 and config["ranker"]["type"] == "user_cf"
    assert [f["type"] for f in config["ranker"]["fallback"]] == ["item_cf", "popularity"]
    assert "data" not in config and "evaluation" not in config
    round_trip(rec)


@pytest.mark.parametrize("fallback", [None, "one"])
def test_no_fallback_and_one_fallback_are_written_out(fallback):
    rec = Recommender(fallback=None if fallback is None else PopularityRanker(n=3))
    config = rec.to_config()
    assert (config["ranker"]["fallback"] is None) == (fallback is None)
    assert len(round_trip(rec).fallbacks) == (0 if fallback is None else 1)


def test_data_filters_and_evaluation_round_trip():
    mapping = {
        "name": "full",
        "seed": 5,
        "data": {
            "type": "synthetic",
            "n_users": 120,
            "n_items": 60,
            "filters": [{"type": "k_core", "min_user_interactions": 2}, {"type": "rating_threshold", "min_rating": 2}],
        },
        "ranker": {"type": "item_cf", "n": 5, "fallback": [{"type": "user_cf"}, {"type": "popularity"}]},
        "evaluation": {
            "split": {"type": "per_user_holdout", "test_fraction": 0.3},
            "metrics": ["precision@5", {"type": "ndcg", "k": 3}],
            "relevance_threshold": 3.0,
            "unseen_items": "drop",
        },
    }
    rec = Recommender.from_config(mapping, registry=builtin_registry())
    config = rec.to_config()
    assert [f["type"] for f in config["data"]["filters"]] == ["k_core", "rating_threshold"]
    assert config["evaluation"]["relevance_threshold"] == 3.0 and config["evaluation"]["unseen_items"] == "drop"
    again = round_trip(rec)
    assert again.evaluation == EvaluationSettings(relevance_threshold=3.0, unseen_items="drop")


def test_objects_with_filters_and_metrics_round_trip():
    registry = builtin_registry()
    data = registry.create("data", "synthetic", recframe.DataSource, n_users=50, n_items=20)
    metric = registry.create("metric", "recall", recframe.Metric, k=4)
    rec = Recommender(
        data=data, filters=[KCoreFilter(min_user_interactions=2)], metrics=[metric], registry=builtin_registry()
    )
    with pytest.raises(ConfigError, match=r"^evaluation\.split: the recommender has metrics but no splitter"):
        rec.to_config()
    rec.splitter = registry.create("splitter", "random_holdout", recframe.Splitter)
    assert rec.to_config()["evaluation"]["split"]["type"] == "random_holdout"
    round_trip(rec)
    rec.splitter, rec.test_data = None, registry.create("data", "synthetic", recframe.DataSource, n_users=9)
    config = rec.to_config()
    assert config["evaluation"]["split"] == {"type": "predefined"}  # as evaluate() splits without one
    again = Recommender.from_config(config, registry=builtin_registry())
    assert again.splitter is not None and type(again.splitter).name == "predefined"
    assert {**components(again), "splitter": None} == components(rec)


def test_the_config_is_read_from_the_components_not_the_run_file():
    rec = Recommender.from_config({"ranker": {"type": "item_cf", "n": 4}}, registry=builtin_registry())
    rec.ranker = ItemCFRanker(n=9)
    assert rec.to_config()["ranker"]["n"] == 9


def test_an_unregistered_component_is_named_by_its_role():
    class ToyRanker(PopularityRanker):
        name = "toy"

    class Shadow(PopularityRanker):  # registered name, another class
        pass

    with pytest.raises(ConfigError, match=r"^ranker\.fallback\[1\]: ranker 'toy' \(module .*\) is not a registered"):
        Recommender(fallback=[PopularityRanker(), ToyRanker()], registry=builtin_registry()).to_config()
    with pytest.raises(ConfigError, match=r"^ranker: ranker 'popularity' .* is not a registered component"):
        Recommender(ranker=Shadow(), registry=builtin_registry()).to_config()


def test_filters_without_data_and_a_splitter_without_metrics_are_refused():
    with pytest.raises(ConfigError, match=r"^data\.filters: the recommender has filters but no data source"):
        Recommender(filters=[KCoreFilter()]).to_config()
    splitter = builtin_registry().create("splitter", "per_user_holdout", recframe.Splitter)
    with pytest.raises(ConfigError, match=r"^evaluation\.metrics: the recommender evaluates without metrics"):
        Recommender(splitter=splitter).to_config()


def test_secrets_are_masked_as_run_config_to_dict_masks_them(tmp_path):
    url = f"postgresql://reader:hunter2@db/{tmp_path.name}"
    mapping = {"data": {"type": "sql", "url": url, "query": "SELECT user, item FROM ratings"}}
    rec = Recommender.from_config(mapping, registry=builtin_registry())
    masked = rec.to_config()
    assert "hunter2" not in repr(masked) and "hunter2" not in yaml.safe_dump(masked)
    assert masked["data"]["url"] == rec.config.to_dict()["data"]["url"]  # type: ignore[union-attr]
    revealed = rec.to_config(reveal_secrets=True)
    assert isinstance(revealed["data"]["url"], Secret) and revealed["data"]["url"].reveal() == url
    assert "hunter2" not in repr(revealed)
    again = Recommender.from_config(revealed, registry=builtin_registry())
    assert again.data.config.url.reveal() == url  # type: ignore[union-attr]


def recframe_types(function: object) -> set[str]:
    """Return the names of the recframe classes in `function`'s annotations (inside unions and generics too)."""
    named = set()
    stack = list(typing.get_type_hints(function).values())
    while stack:
        current = stack.pop()
        stack.extend(typing.get_args(current))
        origin = typing.get_origin(current) or current
        if isinstance(origin, type) and origin.__module__.split(".")[0] == "recframe":
            named.add(origin.__name__)
    return named


@pytest.mark.parametrize("method", ["__init__", "from_config", "to_config"])
def test_every_type_a_constructor_takes_is_exported(method):
    named = recframe_types(inspect.unwrap(getattr(Recommender, method)))
    expected = {
        "__init__": {
            "DataSource",
            "MatrixBuilder",
            "CandidateRanker",
            "EvaluationSettings",
            "Filter",
            "PluginRegistry",
        },
        "from_config": {"RunConfig", "PluginRegistry"},
        "to_config": set(),
    }[method]
    assert expected <= named
    missing = sorted(name for name in named if not hasattr(recframe, name) or name not in recframe.__all__)
    assert not missing, f"Recommender.{method} takes types recframe does not export: {missing}"
