"""Run files: loading, defaults, shorthands, error messages with file and line, --set, schema."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from recframe import ConfigError, PluginRegistry, RunConfig, load_config
from recframe.config import apply_overrides, config_schema, line_index, validate_run

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL_DATA = "data: {type: synthetic, n_users: 200, n_items: 100}\n"


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, registry: PluginRegistry, text: str, overrides: tuple[str, ...] = ()) -> RunConfig:
    return load_config(write(tmp_path, text), registry, overrides)


# --------------------------------------------------------------------------- valid files


def test_a_complete_file_loads(tmp_path, registry):
    run = load(
        tmp_path,
        registry,
        """\
        name: small
        seed: 7
        data: {type: synthetic, n_users: 200, n_items: 100}
        matrix: {type: binary}
        similarity: {type: sklearn_nn, k: 20}
        ranker: {type: user_cf, n: 5, exclude_seen: false, fallback: {type: popularity, by: values}}
        evaluation:
          split: {type: per_user_holdout, test_fraction: 0.25}
          metrics: [precision@5, {type: ndcg, k: 3}]
        output: {dir: out, n: 3, recommendations: false}
        """,
    )
    assert (run.name, run.seed, run.source) == ("small", 7, str(tmp_path / "x.yaml"))
    assert run.data is not None and run.data.kind == "data"
    assert (run.data.type, run.data.params.n_users, run.data.params.n_items) == ("synthetic", 200, 100)
    assert run.matrix.type == "binary"
    assert (run.similarity.type, run.similarity.params.k) == ("sklearn_nn", 20)
    assert (run.ranker.type, run.ranker.params.n, run.ranker.params.exclude_seen) == ("user_cf", 5, False)
    assert run.ranker_fallback is not None
    assert (run.ranker_fallback.type, run.ranker_fallback.params.by) == ("popularity", "values")
    assert run.evaluation is not None
    assert (run.evaluation.split.type, run.evaluation.split.params.test_fraction) == ("per_user_holdout", 0.25)
    assert [(m.type, m.params.k) for m in run.evaluation.metrics] == [("precision", 5), ("ndcg", 3)]
    assert (run.output.dir, run.output.n, run.output.recommendations) == (Path("out"), 3, False)


def test_left_out_sections_get_their_defaults(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA, ())
    assert run.name == "x"  # the file's stem
    assert run.seed == 0
    assert run.matrix.type == "ratings"
    assert (run.similarity.type, run.similarity.params.k, run.similarity.params.metric) == ("sklearn_nn", 50, "cosine")
    assert (run.ranker.type, run.ranker.params.n) == ("item_cf", 10)
    assert run.ranker_fallback is not None and run.ranker_fallback.type == "popularity"
    assert run.evaluation is None
    assert run.output.dir is None and run.output.recommendations


def test_an_empty_file_is_all_defaults_and_no_data(tmp_path, registry):
    run = load(tmp_path, registry, "")
    assert run.data is None and run.ranker.type == "item_cf"


def test_a_section_may_be_just_the_plugin_name(tmp_path, registry):
    run = load(
        tmp_path,
        registry,
        SMALL_DATA + "similarity: sklearn_nn\nranker: user_cf\nevaluation: {split: random_holdout}\n",
    )
    assert (run.similarity.type, run.similarity.params.k) == ("sklearn_nn", 50)
    assert run.ranker.type == "user_cf"
    assert run.ranker_fallback is not None and run.ranker_fallback.type == "popularity"
    assert run.evaluation is not None and run.evaluation.split.type == "random_holdout"


def test_fallback_null_means_no_fallback(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA + "ranker: {type: item_cf, fallback: null}\n")
    assert run.ranker_fallback is None
    assert run.to_dict()["ranker"]["fallback"] is None


def test_metric_shorthand_name_at_k(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA + "evaluation: {metrics: [recall@5, ndcg, hit_rate@20]}\n")
    assert run.evaluation is not None
    assert [(m.type, m.params.k) for m in run.evaluation.metrics] == [("recall", 5), ("ndcg", 10), ("hit_rate", 20)]
    assert run.evaluation.split.type == "per_user_holdout"


def test_metric_written_as_name_at_k_with_its_options(tmp_path, registry):
    text = SMALL_DATA + "evaluation:\n  metrics:\n  - ndcg@5: {profile: lenskit}\n  - map: {k: 3, denominator: k}\n"
    run = load(tmp_path, registry, text + "  - recall@5:\n  - precision@5\n", ("evaluation.metrics.0.ties=as_listed",))
    assert run.evaluation is not None
    got = [(m.type, m.params.k, m.params.model_dump(exclude_unset=True)) for m in run.evaluation.metrics]
    assert got == [
        ("ndcg", 5, {"k": 5, "profile": "lenskit", "ties": "as_listed"}),
        ("map", 3, {"k": 3, "denominator": "k"}),
        ("recall", 5, {"k": 5}),
        ("precision", 5, {"k": 5}),
    ]
    written = run.to_dict()["evaluation"]["metrics"][0]  # the resolved file spells every entry out
    assert written["type"] == "ndcg" and written["k"] == 5 and written["profile"] == "lenskit"
    again = load_config(write(tmp_path, run.to_yaml(), "resolved.yaml"), registry)
    assert again.to_dict() == run.to_dict()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - ndcg@5: {profile: lenskit}\n    recall@5: {}\n",
            r"x\.yaml:5: evaluation\.metrics\[1\]: a metric written as name@k: \{options\} has one key; "
            r"got 'ndcg@5', 'recall@5'; list each metric as its own entry",
        ),
        (
            "  - ndcg@5: lenskit\n",
            r"x\.yaml:5: evaluation\.metrics\[1\]\.ndcg@5: the options of 'ndcg@5' must be a mapping such as "
            r"\{profile: lenskit\}; got 'lenskit'",
        ),
        (
            "  - ndcg@5:\n      profile: lenskit\n      k: 10\n",
            r"x\.yaml:7: evaluation\.metrics\[1\]\.ndcg@5\.k: k 10 conflicts with the key 'ndcg@5'; name the",
        ),
        (
            "  - ndcg@5: {type: recall}\n",
            r"x\.yaml:5: evaluation\.metrics\[1\]\.ndcg@5\.type: type 'recall' conflicts with the key 'ndcg@5'",
        ),
        ("  - ndcg@5:\n      profile: nope\n", r"x\.yaml:5: evaluation\.metrics\[1\]\.profile: Input should be"),
    ],
)
def test_bad_name_at_k_metric_entries(tmp_path, registry, entry, message):
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, registry, SMALL_DATA + "evaluation:\n  metrics:\n  - precision@5\n" + entry)


def test_evaluation_defaults(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA + "evaluation: {}\n")
    assert run.evaluation is not None
    assert [f"{m.type}@{m.params.k}" for m in run.evaluation.metrics] == ["precision@10", "recall@10", "ndcg@10"]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_validates(path, registry):
    run = load_config(path, registry)
    assert run.data is not None and run.evaluation is not None
    assert run.name == path.stem


# --------------------------------------------------------------------------- errors, exact text


def test_invalid_yaml_names_the_file_and_line(tmp_path, registry):
    path = write(tmp_path, "name: x\ndata: {type: synthetic\nseed: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert str(info.value) == (
        f"{path}:3: not valid YAML: expected ',' or '}}', but got ':' "
        "(column 5, while parsing a flow mapping started on line 2)"
    )


def test_invalid_yaml_a_tab_indent(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"x\.yaml:2: not valid YAML: found character '\\t' that cannot start"):
        load(tmp_path, registry, "data:\n\t type: synthetic\n")


def test_python_tags_are_refused(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"x\.yaml:1: not valid YAML: could not determine a constructor"):
        load(tmp_path, registry, "data: !!python/object/apply:os.system [echo hi]\n")


def test_missing_config_file(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"^.*nope\.yaml: no such config file$"):
        load_config(tmp_path / "nope.yaml", registry)


def test_unknown_top_level_key_suggests_the_closest(tmp_path, registry):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, "name: x\ndatta: {type: synthetic}\n")
    assert str(info.value).endswith(
        "x.yaml:2: datta: unknown top-level key 'datta'; did you mean 'data'? "
        "(allowed: name, seed, data, matrix, similarity, ranker, evaluation, output, sweep, executor)"
    )


def test_unknown_type_suggests_and_lists_registered(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "x.yaml:3: ranker.type: unknown ranker 'itemcf'; did you mean 'item_cf'? "
            "(registered: item_cf, popularity, user_cf)"
        ),
    ):
        load(tmp_path, registry, SMALL_DATA + "similarity: sklearn_nn\nranker: {type: itemcf}\n")


def test_unknown_type_without_a_close_name(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=r"x\.yaml:2: similarity\.type: unknown similarity 'faiss' \(registered: sklearn_nn, sparse\)$",
    ):
        load(tmp_path, registry, SMALL_DATA + "similarity: faiss\n")


def test_wrong_value_type(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=r"^\S*x\.yaml:3: ranker\.n: Input should be a valid integer, unable to parse string as an integer; "
        r"got 'ten'$",
    ):
        load(tmp_path, registry, SMALL_DATA + "similarity: sklearn_nn\nranker: {type: item_cf, n: ten}\n")


def test_out_of_range_value(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"^\S*x\.yaml:4: similarity\.k: Input should be greater than 0; got 0$"):
        load(tmp_path, registry, SMALL_DATA + "similarity:\n  type: sklearn_nn\n  k: 0\n")


def test_literal_value_lists_the_choices(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=r"x\.yaml:2: matrix\.duplicates: Input should be 'last', 'first', 'mean', 'sum', 'max' or 'error'; "
        r"got 'newest'$",
    ):
        load(tmp_path, registry, SMALL_DATA + "matrix: {type: ratings, duplicates: newest}\n")


def test_unknown_parameter_of_a_plugin(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "x.yaml:2: ranker.exlude_seen: unknown key 'exlude_seen' for ranker 'item_cf'; "
            "did you mean 'exclude_seen'? "
            "(allowed: n, exclude_seen, max_memory_mb, engine, threads, history, prediction, neighbour_policy, "
            "prediction_k, min_k, prediction_fallback, baseline_reg_users, baseline_reg_items, baseline_epochs)"
        ),
    ):
        load(tmp_path, registry, SMALL_DATA + "ranker: {type: item_cf, exlude_seen: false}\n")


def test_missing_type(tmp_path, registry):
    with pytest.raises(
        ConfigError,
        match=(
            r"^\S*x\.yaml:1: data: missing 'type'; "
            r"registered data types: arrays, csv, dataframe, dataset, parquet, sql, synthetic$"
        ),
    ):
        load(tmp_path, registry, "data: {n_users: 10}\n")


def test_a_section_of_the_wrong_shape(tmp_path, registry):
    with pytest.raises(
        ConfigError, match=r"x\.yaml:2: ranker: must be a mapping with a 'type' key, or a ranker name; got 3$"
    ):
        load(tmp_path, registry, SMALL_DATA + "ranker: 3\n")


def test_the_top_level_must_be_a_mapping(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"x\.yaml:1: the top level must be a mapping of sections; got \['data', 'r"):
        load(tmp_path, registry, "- data\n- ranker\n")


def test_name_and_seed_are_checked(tmp_path, registry):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, "name: ''\nseed: -1\n")
    lines = str(info.value).splitlines()
    assert lines[0].endswith("x.yaml:1: name: must be a non-empty string; got ''")
    assert lines[1].endswith("x.yaml:2: seed: must be a non-negative integer; got -1")


def test_a_repeated_key_is_an_error(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"x\.yaml:3: seed: duplicate key; it is already set on line 1$"):
        load(tmp_path, registry, "seed: 1\n" + SMALL_DATA + "seed: 2\n")


def test_a_metric_listed_twice(tmp_path, registry):
    said = r"x\.yaml:5: evaluation\.metrics\[1\]: precision@5 is listed twice: as metrics\[0\] and metrics\[1\]$"
    with pytest.raises(ConfigError, match=said):
        load(tmp_path, registry, SMALL_DATA + "evaluation:\n  metrics:\n  - precision@5\n  - {type: precision, k: 5}\n")
    # after an entry that is wrong, the places are still the list's (they were the valid entries' count)
    text = SMALL_DATA + "evaluation:\n  metrics:\n  - precision@0\n  - ndcg@5\n  - recall@5\n  - ndcg@5\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, text)
    assert "x.yaml:7: evaluation.metrics[3]: ndcg@5 is listed twice: as metrics[1] and metrics[3]" in str(info.value)


def test_a_nested_fallback_is_refused(tmp_path, registry):
    with pytest.raises(
        ConfigError, match=r"x\.yaml:2: ranker\.fallback\.fallback: unknown key 'fallback' for ranker 'item_cf'"
    ):
        load(tmp_path, registry, SMALL_DATA + "ranker: {type: user_cf, fallback: {type: item_cf, fallback: null}}\n")


def test_every_error_of_a_file_is_reported_at_once_in_line_order(tmp_path, registry):
    text = """\
    datta: 1
    seed: x
    data: {type: synthetic, n_users: 0}
    similarity:
      type: sklearn_nn
      k: -5
    ranker: {type: itemcf}
    evaluation:
      split: {type: per_user_holdout, test_fraction: 2}
      metrics: [precision@5, recal@5]
    output: {bogus: 1}
    """
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, text)
    got = [re.sub(r"^.*?x\.yaml:", "", line) for line in str(info.value).splitlines()]
    assert got == [
        "1: datta: unknown top-level key 'datta'; did you mean 'data'? "
        "(allowed: name, seed, data, matrix, similarity, ranker, evaluation, output, sweep, executor)",
        "2: seed: must be a non-negative integer; got 'x'",
        "3: data.n_users: Input should be greater than 0; got 0",
        "6: similarity.k: Input should be greater than 0; got -5",
        "7: ranker.type: unknown ranker 'itemcf'; did you mean 'item_cf'? (registered: item_cf, popularity, user_cf)",
        "9: evaluation.split.test_fraction: Input should be less than 1; got 2",
        "10: evaluation.metrics[1].type: unknown metric 'recal'; did you mean 'recall'? "
        "(registered: avg_popularity, coverage, f1, gini, hit_rate, ild, mae, map, mrr, ndcg, novelty, "
        "precision, recall, rmse)",
        "11: output.bogus: unknown key 'bogus' (allowed: dir, recommendations, n, report)",
    ]


def test_line_index_maps_dotted_paths_to_lines():
    index = line_index("a: 1\nb:\n  c: [x, y]\n  d:\n    - e: 2\n")
    assert index[("a",)] == 1
    assert index[("b", "c")] == 3
    assert index[("b", "d", 0, "e")] == 5


# --------------------------------------------------------------------------- --set overrides


def test_override_a_nested_key_without_touching_the_input():
    raw = {"similarity": {"type": "sklearn_nn", "k": 50}}
    out, paths = apply_overrides(raw, ["similarity.k=100"])
    assert out == {"similarity": {"type": "sklearn_nn", "k": 100}}
    assert paths == [("similarity", "k")]
    assert raw["similarity"]["k"] == 50


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", 100),
        ("0.5", 0.5),
        ("true", True),
        ("null", None),
        ("", None),
        ("cosine", "cosine"),
        ("'10'", "10"),
        ("[1, 2]", [1, 2]),
        ("{type: popularity}", {"type": "popularity"}),
        ("a=b", "a=b"),
    ],
)
def test_override_values_are_parsed_as_yaml(text, value):
    out, _ = apply_overrides({}, [f"x.y={text}"])
    assert out == {"x": {"y": value}}


def test_override_creates_keys_and_expands_a_string_shorthand():
    out, paths = apply_overrides({"similarity": "sklearn_nn"}, ["similarity.k=10", "seed=3", "output.dir=runs/a"])
    assert out == {"similarity": {"type": "sklearn_nn", "k": 10}, "seed": 3, "output": {"dir": "runs/a"}}
    assert paths == [("similarity", "k"), ("seed",), ("output", "dir")]


def test_override_a_left_out_section_starts_from_its_default_plugin():
    out, _ = apply_overrides({}, ["ranker.n=5", "ranker.fallback.n=3", "evaluation.split.test_fraction=0.1"])
    assert out == {
        "ranker": {"type": "item_cf", "n": 5, "fallback": {"type": "popularity", "n": 3}},
        "evaluation": {"split": {"type": "per_user_holdout", "test_fraction": 0.1}},
    }


def test_override_a_list_entry_by_position():
    raw = {"evaluation": {"metrics": ["precision@10", "ndcg@10"]}}
    out, paths = apply_overrides(raw, ["evaluation.metrics.0=recall@5", "evaluation.metrics.1.k=3"])
    assert out == {"evaluation": {"metrics": ["recall@5", {"type": "ndcg", "k": 3}]}}
    assert paths == [("evaluation", "metrics", 0), ("evaluation", "metrics", 1, "k")]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("similarity.k", r"--set 'similarity\.k': expected KEY=VALUE with a dotted key, e\.g\. similarity\.k=100"),
        ("=3", r"--set '=3': expected KEY=VALUE"),
        ("similarity..k=3", r"--set 'similarity\.\.k=3': expected KEY=VALUE"),
        ("similarity.k=[1", r"--set 'similarity\.k=\[1': the value is not valid YAML: expected ',' or '\]'"),
        (
            "evaluation.metrics.5=ndcg",
            r"--set 'evaluation\.metrics\.5=ndcg': evaluation\.metrics has no entry '5'; "
            r"the list has 1 entry, counted from 0$",
        ),
        ("evaluation.metrics.x=ndcg", r"--set 'evaluation\.metrics\.x=ndcg': evaluation\.metrics has no entry 'x'"),
        ("seed.x=1", r"--set 'seed\.x=1': seed is 42, not a mapping"),
        ("name.x=1", r"--set 'name\.x=1': name is 'q', not a mapping"),
    ],
)
def test_malformed_overrides(override, message):
    raw = {"name": "q", "seed": 42, "evaluation": {"metrics": ["ndcg@10"]}}
    with pytest.raises(ConfigError, match=f"^{message}"):
        apply_overrides(raw, [override])


def test_overrides_apply_before_validation(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA + "similarity: sklearn_nn\n", ("similarity.k=7", "ranker=user_cf"))
    assert (run.similarity.params.k, run.ranker.type) == (7, "user_cf")


def test_an_override_can_fix_a_wrong_value(tmp_path, registry):
    run = load(tmp_path, registry, SMALL_DATA + "similarity: {type: sklearn_nn, k: 0}\n", ("similarity.k=5",))
    assert run.similarity.params.k == 5


def test_errors_in_overridden_values_are_located_at_the_override(tmp_path, registry):
    with pytest.raises(ConfigError) as info:
        load(
            tmp_path,
            registry,
            SMALL_DATA + "similarity: sklearn_nn\nranker: {type: user_cf, n: 0}\n",
            ("similarity.k=0", "evaluation.metrics.0=recal@5"),
        )
    assert str(info.value).splitlines() == [
        f"{tmp_path / 'x.yaml'}:3: ranker.n: Input should be greater than 0; got 0",
        "--set similarity.k: Input should be greater than 0; got 0",
        "--set evaluation.metrics.0: evaluation.metrics[0].type: unknown metric 'recal'; did you mean 'recall'? "
        "(registered: avg_popularity, coverage, f1, gini, hit_rate, ild, mae, map, mrr, ndcg, novelty, "
        "precision, recall, rmse)",
    ]


def test_override_of_a_whole_section_locates_its_inner_errors(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"^--set similarity: similarity\.k: Input should be greater than 0; got 0$"):
        load(tmp_path, registry, SMALL_DATA, ("similarity={type: sklearn_nn, k: 0}",))


def test_a_field_missing_from_a_section_an_override_made_is_located_at_the_override(tmp_path, registry):
    with pytest.raises(ConfigError, match=r"^--set data\.type: data\.path: required, but missing$"):
        load(tmp_path, registry, "name: x\n", ("data.type=csv",))


# --------------------------------------------------------------------------- round trip and schema


@pytest.mark.parametrize("path", [*sorted(CONFIGS.glob("*.yaml")), None], ids=lambda p: p.name if p else "small")
def test_to_yaml_round_trips(path, tmp_path, registry):
    if path is None:
        path = write(
            tmp_path, SMALL_DATA + "ranker: {type: item_cf, fallback: null}\noutput: {dir: out}\n", "small.yaml"
        )
    run = load_config(path, registry)
    again = load_config(write(tmp_path, run.to_yaml(), "resolved.yaml"), registry)
    assert again.to_dict() == run.to_dict()
    assert yaml.safe_load(run.to_yaml()) == run.to_dict()


def test_validate_run_takes_a_mapping(registry):
    run = validate_run({"ranker": "popularity"}, registry)
    assert run.name == "run" and run.ranker.type == "popularity"
    with pytest.raises(ConfigError, match=r"^<config>: ranker\.type: unknown ranker 'popular'"):
        validate_run({"ranker": "popular"}, registry)


@pytest.fixture(scope="module")
def validator():
    """The run file's JSON schema, checked against its metaschema once for the module (a second a check)."""
    schema = config_schema(PluginRegistry.from_environment(entry_points=False))
    jsonschema.Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # plain JSON
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", ["quickstart.yaml", "user-cf.yaml", "movielens-100k.yaml"])
def test_schema_accepts_the_shipped_configs(validator, name):
    document = yaml.safe_load((CONFIGS / name).read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(document)] == []


def test_schema_accepts_shorthands(validator):
    document = {
        "data": "synthetic",
        "similarity": "sklearn_nn",
        "ranker": {"type": "item_cf", "fallback": None},
        "evaluation": {"split": "per_user_holdout", "metrics": ["ndcg", "recall@5", {"type": "map", "k": 3}]},
    }
    assert [e.message for e in validator.iter_errors(document)] == []


def test_schema_accepts_the_evaluation_settings(validator):
    document = {
        "data": "synthetic",
        "evaluation": {
            "split": "predefined",
            "test_data": {"type": "csv", "path": "u1.test"},
            "relevance_threshold": 4,
            "unseen_items": "drop",
            "metrics": [{"type": "ndcg", "gain": "rating", "k": 5}, "coverage@10"],
        },
    }
    assert [e.message for e in validator.iter_errors(document)] == []
    document["evaluation"]["unseen_items"] = "ignore"
    assert [e.message for e in validator.iter_errors(document)] != []


@pytest.mark.parametrize(
    "document",
    [
        {"data": "synthetic", "ranker": {"type": "itemcf"}},
        {"data": "synthetic", "ranker": "itemcf"},
        {"data": "synthetic", "ranker": {"type": "item_cf", "fallback": {"type": "als"}}},
        {"data": "synthetic", "similarity": {"type": "sklearn_nn", "k": 0}},
        {"data": "synthetic", "ranker": {"type": "item_cf", "exlude_seen": True}},
        {"data": "synthetic", "evaluation": {"metrics": ["recal@5"]}},
        {"data": "synthetic", "datta": 1},
    ],
)
def test_schema_rejects_what_load_config_rejects(validator, document):
    assert not validator.is_valid(document)


def test_an_unknown_key_of_a_component_without_parameters_says_it_takes_none(tmp_path, registry):
    path = tmp_path / "p.yaml"
    path.write_text("data: {type: synthetic}\nevaluation:\n  split: {type: predefined, foo: 1}\n  metrics: [ndcg@5]\n")
    with pytest.raises(ConfigError, match=r"p\.yaml:3: evaluation\.split\.foo: unknown key 'foo' for splitter "
                       r"'predefined' \(it takes no parameters\)$"):
        load_config(path, registry)
