"""Hostile run files: alias bombs, huge values, deep nesting and out-of-range parameters.

Each class of bad input must end in a clean :class:`ConfigError` (or a working run), quickly and
with a short message, never in a hang, a traceback or a message the size of the input.
"""

from __future__ import annotations

import math
import time
import types
import typing
import warnings
from typing import Any

import pytest

from recframe import ConfigError, PluginRegistry, RecframeError, RecframeWarning, Recommender
from recframe.cli import main
from recframe.config import dotted, load_config, validate_run
from recframe.errors import short_repr

# ---------------------------------------------------------------------------------------------
# alias bombs, deep nesting, huge values


def billion_laughs(levels: int = 9, fanout: int = 9) -> str:
    """Return the classic YAML alias bomb: each level lists `fanout` aliases of the one below."""
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*a{level - 1}"] * fanout)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_quickly_through_load_config(tmp_path, registry):
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml.*alias") as info:
        load_config(path, registry)
    assert time.perf_counter() - start < 1.0
    assert len(str(info.value)) < 400


def test_billion_laughs_inside_a_section_fails_quickly(tmp_path, registry):
    text = billion_laughs().replace("a8: &a8", "similarity:\n  type: sklearn_nn\n  k: &a8")
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"bomb\.yaml"):
        load_config(path, registry)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("command", [["config", "validate"], ["run", "-q", "-o", "out"]])
def test_billion_laughs_fails_quickly_through_the_cli(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    start = time.perf_counter()
    code = main([*command, str(path)])
    assert time.perf_counter() - start < 1.0
    assert code == 2
    err = capsys.readouterr().err
    assert "bomb.yaml" in err
    assert len(err) < 600
    assert not (tmp_path / "out").exists()


def test_an_alias_bomb_in_an_override_fails_quickly(tmp_path, registry):
    levels = ["&a0 [lol]", *(f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9))]
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\n", encoding="utf-8")
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^--set 'ranker\.n=.*alias \*a\d expands the document past") as info:
        load_config(path, registry, [f"ranker.n=[{', '.join(levels)}]"])
    assert time.perf_counter() - start < 1.0
    assert len(str(info.value)) < 400


def test_an_alias_inside_itself_is_refused(tmp_path, registry):
    path = tmp_path / "loop.yaml"
    path.write_text("data: {type: synthetic}\nevaluation: &loop {metrics: [*loop]}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"loop\.yaml:2: alias \*loop refers to a list or mapping that contains it"):
        load_config(path, registry)


def test_small_alias_use_still_works(tmp_path, registry):
    text = (
        "data: {type: synthetic, n_users: 50, n_items: 40}\n"
        "similarity: &sim {type: sklearn_nn, k: 7}\n"
        "sweep:\n  similarity.k: &ks [5, 10]\n"
        "evaluation: {metrics: [precision@5]}\n"
    )
    path = tmp_path / "aliases.yaml"
    path.write_text(text, encoding="utf-8")
    run = load_config(path, registry)
    assert run.similarity.params.k == 7  # type: ignore[attr-defined]


def test_deep_nesting_is_a_clean_config_error(tmp_path, registry):
    path = tmp_path / "deep.yaml"
    path.write_text("data: " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep\.yaml:1: .*nest") as info:
        load_config(path, registry)
    assert len(str(info.value)) < 300


def test_deep_nesting_of_mappings_is_a_clean_config_error(tmp_path, registry):
    path = tmp_path / "deep.yaml"
    path.write_text("data: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deep\.yaml:1: .*nest"):
        load_config(path, registry)


def test_a_huge_type_gives_a_short_message(tmp_path, registry):
    path = tmp_path / "huge.yaml"
    path.write_text(f"data: {{type: synthetic}}\nranker: {{type: {'x' * 100_000}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"huge\.yaml:2: ranker\.type: unknown ranker 'xxx") as info:
        load_config(path, registry)
    assert len(str(info.value)) < 300
    assert "100000 characters" in str(info.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("name: [{x}]\n", "name"),
        ("seed: '{x}'\n", "seed"),
        ("similarity: {{type: sklearn_nn, k: '{x}'}}\n", "similarity.k"),
        ("similarity:\n  type: sklearn_nn\n  ? {x}\n  : 1\n", "similarity.xxx"),
        ("evaluation: {{metrics: ['{x}']}}\n", "evaluation.metrics[0]"),
        ("evaluation: {{metrics: {x}}}\n", "evaluation.metrics"),
        ("output: {{n: '{x}'}}\n", "output.n"),
        ("? {x}\n: 1\n", "xxx"),
        ("data: {{type: synthetic, filters: '{x}'}}\n", "data.filters"),
        ("ranker: {{type: item_cf, fallback: [{x}]}}\n", "ranker.fallback[0].type"),
    ],
)
def test_every_echoed_value_is_shortened(tmp_path, registry, text, where):
    path = tmp_path / "long.yaml"
    path.write_text("data: {type: synthetic}\n" + text.format(x="x" * 100_000), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    message = str(info.value)
    assert where in message
    assert len(message.replace(str(path), "long.yaml")) < 400, message[:500]  # the file is named whole


def test_a_huge_override_gives_a_short_message(tmp_path, registry):
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--set") as info:
        load_config(path, registry, ["x" * 100_000])
    assert len(str(info.value)) < 300
    with pytest.raises(ConfigError, match=r"--set similarity\.k") as info:
        load_config(path, registry, ["similarity.k=" + "9" * 100_000 + "z"])
    assert len(str(info.value)) < 300


def test_short_repr():
    assert short_repr("abc") == "'abc'"
    shown = short_repr("x" * 100_000)
    assert len(shown) < 120
    assert shown.startswith("'xxx")
    assert "100000 characters" in shown
    assert short_repr(list(range(1000))).startswith("[0, 1, 2")
    assert len(short_repr(list(range(100_000)))) < 120


# ---------------------------------------------------------------------------------------------
# every numeric parameter of every built-in component, with hostile values

HOSTILE = (0, -1, -2, 0.5, math.nan, math.inf, -math.inf, 1e300, 10**12, 2**64)

BASE: dict[str, Any] = {
    "seed": 3,
    "data": {"type": "synthetic", "n_users": 30, "n_items": 20, "n_groups": 3, "mean_interactions": 6.0,
             "min_interactions": 4, "seed": 1},
    "similarity": {"type": "sklearn_nn", "k": 5},
    "ranker": {"type": "item_cf", "n": 3},
    "evaluation": {"split": {"type": "per_user_holdout"}, "metrics": ["precision@3"]},
}


def _numeric(annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _numeric(args[0])
    if origin in (typing.Union, types.UnionType):
        return any(_numeric(a) for a in args)
    return annotation in (int, float)


def _cases() -> list[tuple[str, str, str, object]]:
    registry = PluginRegistry.from_environment(entry_points=False)
    cases = []
    for entry in registry.components():
        if entry.kind == "data" and entry.name != "synthetic":
            continue  # the other sources read files, databases or objects
        for field_name, info in entry.cls.Config.model_fields.items():
            if _numeric(info.annotation):
                cases += [(entry.kind, entry.name, field_name, value) for value in HOSTILE]
    return cases


def _place(kind: str, name: str, params: dict[str, Any]) -> tuple[dict[str, Any], tuple[str | int, ...]]:
    """Return a run file using the component with `params`, and the path of its section."""
    raw = {key: (dict(value) if isinstance(value, dict) else value) for key, value in BASE.items()}
    raw["evaluation"] = dict(BASE["evaluation"])
    section = {"type": name, **params}
    if kind == "data":
        raw["data"] = {**BASE["data"], **params}
        return raw, ("data",)
    if kind in ("matrix", "similarity", "ranker", "executor"):
        raw[kind] = section
        return raw, (kind,)
    if kind == "filter":
        raw["data"]["filters"] = [section]
        return raw, ("data", "filters", 0)
    if kind == "splitter":
        raw["evaluation"]["split"] = section
        return raw, ("evaluation", "split")
    assert kind == "metric"
    raw["evaluation"]["metrics"] = [section]
    return raw, ("evaluation", "metrics", 0)


@pytest.mark.parametrize(("kind", "name", "field_name", "value"), _cases())
def test_hostile_parameter_is_refused_or_works(registry, kind, name, field_name, value):
    if kind == "splitter" and name == "predefined":
        pytest.skip("needs test data")
    raw, path = _place(kind, name, {field_name: value})
    key = dotted((*path, field_name))
    try:
        run = validate_run(raw, registry, source="hostile.yaml")
    except ConfigError as exc:
        assert key in str(exc), f"the error does not name {key}: {exc}"
        return
    rec = Recommender.from_config(run, registry=registry)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecframeWarning)
        try:
            rec.evaluate()
        except RecframeError as exc:  # a clean, explained failure, such as a filter leaving no data
            assert not isinstance(exc, ConfigError) or key in str(exc), str(exc)


def test_n_jobs_zero_is_refused(tmp_path, registry):
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\nsimilarity:\n  type: sklearn_nn\n  n_jobs: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml:4: similarity\.n_jobs: .*0"):
        load_config(path, registry)


@pytest.mark.parametrize("value", ["nan", ".nan", ".inf", "-.inf"])
def test_float_parameters_refuse_nan_and_inf(tmp_path, registry, value):
    path = tmp_path / "run.yaml"
    path.write_text(f"data: {{type: synthetic}}\nsimilarity: {{type: sparse, shrinkage: {value}}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml:2: similarity\.shrinkage: .*finite"):
        load_config(path, registry)
