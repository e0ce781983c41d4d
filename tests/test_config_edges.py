"""Run files at their edges: huge integers, path fields, booleans as numbers, unsweepable keys,
files that are not files, YAML merge keys, and messages in the words of a run file."""

from __future__ import annotations

import os
import textwrap
import threading
from pathlib import Path
from typing import Literal

import pytest
from pydantic import PositiveInt, ValidationError

from recframe import ConfigError, PluginRegistry, RunConfig, load_config
from recframe.cli import main
from recframe.config import (
    MAX_CONFIG_BYTES,
    UNSWEPT_KEYS,
    UNSWEPT_PREFIXES,
    UNSWEPT_REASONS,
    apply_overrides,
    validate_run,
    yaml_repr,
)
from recframe.errors import short_repr
from recframe.interfaces import MAX_PATH_LENGTH, ComponentConfig
from recframe.recommender import Recommender

DATA = "data: {type: synthetic, n_users: 40, n_items: 20}\n"
NINES = "9" * 5000


def write(tmp_path: Path, text: str, name: str = "x.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(tmp_path: Path, registry: PluginRegistry, text: str, overrides: tuple[str, ...] = ()) -> RunConfig:
    return load_config(write(tmp_path, text), registry, overrides)


class PathsConfig(ComponentConfig):
    """A plugin's config with path, number and union fields."""

    folder: Path | None = None
    extra: list[Path] = []
    k: PositiveInt = 5
    weight: float = 1.0
    sizes: list[int] = []
    flag: bool = False
    mode: int | Literal["auto"] = "auto"


# --------------------------------------------------------------------------- integers too long to read


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"seed: {NINES}\n" + DATA, r"x\.yaml:1: seed: "),
        (DATA + f"similarity: {{type: sklearn_nn, k: {NINES}}}\n", r"x\.yaml:2: similarity\.k: "),
        (DATA + "similarity:\n  type: sklearn_nn\n  k: -" + NINES + "\n", r"x\.yaml:4: similarity\.k: "),
        (DATA + f"evaluation: {{metrics: [precision@10, {NINES}]}}\n", r"x\.yaml:2: evaluation\.metrics\[1\]: "),
        (DATA + "similarity: {type: sklearn_nn, k: 0x" + "f" * 3000 + "}\n", r"x\.yaml:2: similarity\.k: "),
    ],
)
def test_an_integer_too_long_to_read_is_refused_naming_file_line_and_key(tmp_path, registry, text, where):
    with pytest.raises(ConfigError, match=rf"^\S*{where}integer \S+\.\.\. \(\d+ characters\) is too long; "
                                          r"integers must be within \+-9223372036854775807$") as info:
        load(tmp_path, registry, text)
    assert len(str(info.value)) < 300


def test_an_integer_too_long_to_read_in_a_set_value_is_refused(tmp_path, registry):
    path = write(tmp_path, DATA)
    with pytest.raises(ConfigError, match=r"^--set 'similarity\.k=9+'\.\.\. \(5013 characters\): integer 9+\.\.\. "
                                          r"\(5000 characters\) is too long"):
        load_config(path, registry, [f"similarity.k={NINES}"])
    with pytest.raises(ConfigError, match=r"is too long"):
        apply_overrides({}, [f"seed=[1, {NINES}]"])


def test_an_integer_too_long_exits_2_from_every_entry_point(tmp_path, registry, capsys):
    path = write(tmp_path, f"seed: {NINES}\n" + DATA)
    assert main(["config", "validate", str(path)]) == 2
    assert main(["run", str(write(tmp_path, DATA, "ok.yaml")), "--set", f"similarity.k={NINES}",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("is too long") == 2
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match=r"x\.yaml:1: seed: integer"):
        Recommender.from_config(path, registry=registry)


def test_a_huge_python_integer_is_refused_with_a_bounded_message(registry):
    with pytest.raises(ConfigError, match=r"^<config>: similarity\.k: <an integer of 5001 digits> is too large; "):
        Recommender.from_config({"similarity": {"type": "sklearn_nn", "k": 10**5000}}, registry=registry)
    with pytest.raises(ConfigError, match=r"^<config>: seed: 10+ is too large; integers must be within"):
        validate_run({"seed": 10**30}, registry)
    with pytest.raises(ConfigError, match=r"^<config>: seed: <an integer of 5001 digits> is too large"):
        validate_run({"seed": 10**5000}, registry)
    assert short_repr([-(10**5000), 1]) == "[-<an integer of 5001 digits>, 1]"


def test_integers_that_fit_still_load(tmp_path, registry):
    run = load(tmp_path, registry, f"seed: 9223372036854775807\n{DATA}similarity: {{type: sparse, k: 0x10}}\n")
    assert run.seed == 2**63 - 1
    assert run.similarity.params.k == 16  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- path fields


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"a\\0b"', r"'a\\x00b' contains a NUL character \(\\0\), which no path can hold"),
        ('""', r"the path '' is empty; give a file or folder name \(\. for the current folder\)"),
        ('"  "', r"the path '  ' is empty; give a file or folder name \(\. for the current folder\)"),
        ('"' + "d" * (MAX_PATH_LENGTH + 1) + '"',
         rf"'d+'\.\.\. \({MAX_PATH_LENGTH + 1} characters\) is {MAX_PATH_LENGTH + 1} characters long; a path may "
         rf"have at most {MAX_PATH_LENGTH}"),
    ],
)
def test_a_path_field_refuses_nul_empty_and_overlong_text_at_validation(tmp_path, registry, value, message):
    with pytest.raises(ConfigError, match=rf"^\S*x\.yaml:2: output\.dir: {message}$"):
        load(tmp_path, registry, f"{DATA}output: {{dir: {value}}}\n")
    with pytest.raises(ConfigError, match=rf"x\.yaml:2: evaluation\.compare: entry 1: {message}"):
        load(tmp_path, registry, f"{DATA}evaluation: {{compare: [runs/a, {value}]}}\n")


def test_a_plugins_path_field_is_checked_too(registry):
    with pytest.raises(ValidationError, match=r"contains a NUL character"):
        PathsConfig(folder="x\0y")
    with pytest.raises(ValidationError, match=r"entry 0: the path '' is empty"):
        PathsConfig(extra=[""])
    with pytest.raises(ConfigError, match=r"^<config>: data\.path: the path '' is empty"):
        validate_run({"data": {"type": "csv", "path": ""}}, registry)
    with pytest.raises(ConfigError, match=r"^<config>: data\.folder: 'f\\x00' contains a NUL character"):
        validate_run({"data": {"type": "dataset", "name": "movielens-100k", "folder": "f\0"}}, registry)


def test_a_nul_in_output_dir_fails_validation_not_the_run(tmp_path, capsys):
    path = write(tmp_path, f'{DATA}output: {{dir: "out\\0put"}}\n')
    assert main(["config", "validate", str(path)]) == 2
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("output.dir: 'out\\x00put' contains a NUL character") == 2


def test_a_leading_tilde_is_the_home_folder(tmp_path, registry, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    run = load(tmp_path, registry, f"{DATA}output: {{dir: ~/rfx}}\nevaluation: {{compare: [~/runs/a]}}\n")
    assert run.output.dir == tmp_path / "home" / "rfx"
    assert run.evaluation is not None
    assert run.evaluation.settings.compare == [tmp_path / "home" / "runs" / "a"]
    assert PathsConfig(folder="~/data").folder == tmp_path / "home" / "data"
    assert PathsConfig(folder="data/~x").folder == Path("data/~x")
    with pytest.raises(ValidationError, match=r"'~no-such-user-rf/x' starts with ~, and no home folder is known "
                                              r"for no-such-user-rf"):
        PathsConfig(folder="~no-such-user-rf/x")


def test_run_writes_a_tilde_output_dir_into_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, f"{DATA}output: {{dir: ~/rfx, report: false}}\n")
    assert main(["run", str(path), "-q"]) == 0
    assert (tmp_path / "home" / "rfx" / "config.yaml").is_file()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("command", [["run", "{config}", "--output", ""], ["run", "{config}", "-o", "  "],
                                     ["config", "validate", ""]])
def test_an_empty_path_on_the_command_line_is_refused(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, DATA)
    assert main([part.format(config=config) for part in command]) == 2
    assert "is empty; give a file or folder name (. for the current folder)" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.yaml"]


def test_a_tilde_output_on_the_command_line_is_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(write(tmp_path, DATA)), "-o", "~/out", "-q", "--set", "output.report=false"]) == 0
    assert (tmp_path / "home" / "out" / "run.json").is_file()


# --------------------------------------------------------------------------- booleans are not numbers


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("similarity.k=true", r"--set similarity\.k: must be an integer, not a boolean; got true"),
        ("ranker.n=false", r"--set ranker\.n: must be an integer, not a boolean; got false"),
        ("output.n=true", r"--set output\.n: must be an integer, not a boolean; got true"),
        ("evaluation.alpha=true", r"--set evaluation\.alpha: must be a number, not a boolean; got true"),
        ("evaluation.relevance_threshold=false",
         r"--set evaluation\.relevance_threshold: must be a number, not a boolean; got false"),
        ("data.n_users=true", r"--set data\.n_users: must be an integer, not a boolean; got true"),
    ],
)
def test_a_boolean_is_refused_by_every_number_field(tmp_path, registry, override, message):
    with pytest.raises(ConfigError, match=rf"^{message}$"):
        load(tmp_path, registry, DATA, (override,))


def test_a_boolean_is_refused_inside_lists_and_unions_of_numbers():
    with pytest.raises(ValidationError, match=r"sizes\n  Value error, entry 1: must be an integer, not a boolean"):
        PathsConfig(sizes=[1, True])
    with pytest.raises(ValidationError, match=r"mode\n  Value error, must be an integer, not a boolean; got true"):
        PathsConfig(mode=True)
    with pytest.raises(ValidationError, match=r"weight\n  Value error, must be a number, not a boolean"):
        PathsConfig(weight=False)


def test_numbers_and_booleans_still_load_where_they_belong(tmp_path, registry):
    text = (f"{DATA}similarity: {{type: sparse, k: 1}}\nranker: {{type: item_cf, exclude_seen: false}}\n"
            "evaluation: {alpha: 0.1, relevance_threshold: 4}\n")
    run = load(tmp_path, registry, text, ("ranker.n=3",))
    assert run.similarity.params.k == 1  # type: ignore[attr-defined]
    assert run.ranker.params.n == 3  # type: ignore[attr-defined]
    assert run.ranker.params.exclude_seen is False  # type: ignore[attr-defined]
    assert run.evaluation is not None and run.evaluation.settings.relevance_threshold == 4.0
    config = PathsConfig(k="2", weight=1, flag=True, mode=3, sizes=[1, 2])
    assert (config.k, config.weight, config.flag, config.mode, config.sizes) == (2, 1.0, True, 3, [1, 2])


# --------------------------------------------------------------------------- unsweepable keys


def test_every_unsweepable_key_has_a_reason():
    assert set(UNSWEPT_REASONS) == {*UNSWEPT_KEYS, *UNSWEPT_PREFIXES}
    assert len(set(UNSWEPT_REASONS.values())) == len(UNSWEPT_REASONS)


@pytest.mark.parametrize(
    ("key", "values", "reason"),
    [
        ("output.dir", "[x1, x2]", UNSWEPT_REASONS["output"]),
        ("output", "[{}, {report: false}]", UNSWEPT_REASONS["output"]),
        ("name", "[a, b]", UNSWEPT_REASONS["name"]),
        ("sweep.x", "[1]", UNSWEPT_REASONS["sweep"]),
        ("evaluation.metrics", "[[ndcg@5], [recall@5]]", UNSWEPT_REASONS["evaluation.metrics"]),
        ("evaluation.metrics.0.k", "[5, 10]", UNSWEPT_REASONS["evaluation.metrics"]),
    ],
)
def test_an_unsweepable_key_gets_its_own_reason(tmp_path, registry, key, values, reason):
    text = f"{DATA}evaluation: {{metrics: [ndcg@5]}}\nsweep: {{{key}: {values}}}\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, text)
    assert str(info.value).endswith(f"x.yaml:3: sweep.{key}: can't be swept: {reason}")


def test_keys_that_only_start_like_an_unsweepable_one_can_be_swept(tmp_path, registry):
    text = f"{DATA}evaluation: {{metrics: [ndcg@5]}}\nsweep: {{evaluation.alpha: [0.05, 0.1]}}\n"
    run = load(tmp_path, registry, text)
    assert run.sweep is not None and len(run.sweep.settings) == 2


# --------------------------------------------------------------------------- files that are not run files


def load_in_thread(path: Path, registry: PluginRegistry) -> BaseException | None:
    """Load `path` in a thread; fail the test if it does not return within seconds (a hang)."""
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            load_config(path, registry)
            outcome.append(None)
        except BaseException as exc:  # handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout=20)
    assert outcome, f"loading {path} did not return"
    return outcome[0]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_is_refused_without_reading_it(tmp_path, registry):
    link = tmp_path / "z.yaml"
    link.symlink_to("/dev/zero")
    error = load_in_thread(link, registry)
    assert isinstance(error, ConfigError)
    assert str(error) == f"{link}: can't read the config file: it is a device; give a YAML run file (a regular file)"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path, registry, capsys):
    fifo = tmp_path / "f.yaml"
    os.mkfifo(fifo)
    error = load_in_thread(fifo, registry)
    assert isinstance(error, ConfigError)
    assert "f.yaml: can't read the config file: it is a named pipe (FIFO); give a YAML run file" in str(error)


def test_a_folder_and_a_huge_file_are_refused(tmp_path, registry, capsys):
    assert main(["config", "validate", str(tmp_path)]) == 2
    assert f"{tmp_path}: can't read the config file: it is a folder" in capsys.readouterr().err
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n")
    with pytest.raises(ConfigError, match=r"huge\.yaml: can't read the config file: it is larger than 10 MB"):
        load_config(huge, registry)


def test_a_file_that_is_not_utf8_names_the_line(tmp_path, registry):
    path = tmp_path / "x.yaml"
    path.write_bytes(b"name: a\nseed: \xff\n")
    with pytest.raises(ConfigError, match=r"x\.yaml:2: can't read the config file: byte 0xff is not UTF-8"):
        load_config(path, registry)


# --------------------------------------------------------------------------- YAML merge keys


def test_overriding_a_merged_key_is_not_a_duplicate(tmp_path, registry):
    text = """\
        data: &base {type: synthetic, n_users: 40, n_items: 20}
        evaluation:
          test_data: {<<: *base, n_users: 30}
          split: predefined
        """
    run = load(tmp_path, registry, text)
    assert run.evaluation is not None and run.evaluation.test_data is not None
    assert run.evaluation.test_data.params.n_users == 30  # type: ignore[attr-defined]
    assert run.evaluation.test_data.params.n_items == 20  # type: ignore[attr-defined]


def test_a_list_of_merges_and_a_block_merge_are_not_duplicates(tmp_path, registry):
    text = """\
        data: &a {type: synthetic, n_users: 40}
        evaluation:
          split: predefined
          test_data:
            <<: [*a, {n_items: 25, n_groups: 5}]
            n_items: 20
        """
    # no key sits in both merged mappings: PyYAML 6.0.3 and 6.0.4 order such a clash differently
    run = load(tmp_path, registry, text)
    assert run.evaluation is not None and run.evaluation.test_data is not None
    assert run.evaluation.test_data.params.n_users == 40  # type: ignore[attr-defined]
    assert run.evaluation.test_data.params.n_groups == 5  # type: ignore[attr-defined]
    assert run.evaluation.test_data.params.n_items == 20  # type: ignore[attr-defined]


def test_a_real_duplicate_beside_a_merge_is_still_refused(tmp_path, registry):
    text = """\
        data: &base {type: synthetic, n_users: 40, n_items: 20}
        evaluation:
          split: predefined
          test_data: {<<: *base, n_users: 30, n_users: 31}
        """
    with pytest.raises(ConfigError, match=r"^\S*x\.yaml:4: evaluation\.test_data\.n_users: duplicate key; it is "
                                          r"already set on line 4$"):
        load(tmp_path, registry, text)


def test_an_error_in_a_merged_key_points_at_the_merge(tmp_path, registry):
    text = """\
        data: {type: synthetic, n_users: 40, n_items: 20}
        evaluation:
          split: predefined
          test_data:
            n_items: 20
            <<: {type: synthetic, n_users: -1}
        """
    with pytest.raises(ConfigError, match=r"^\S*x\.yaml:6: evaluation\.test_data\.n_users: Input should be greater "
                                          r"than 0; got -1$"):
        load(tmp_path, registry, text)


# --------------------------------------------------------------------------- messages in the run file's words


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("output.dir=123", r"--set output\.dir: Input should be a path \(text\); got 123"),
        ("name=~", r"--set name: must be a non-empty string; got null"),
        ("name=null", r"--set name: must be a non-empty string; got null"),
        ("seed=true", r"--set seed: must be a non-negative integer; got true"),
        ("output.report=[1, null]", r"--set output\.report: Input should be a valid boolean; got \[1, null\]"),
        ("evaluation.alpha=.inf", r"--set evaluation\.alpha: Input should be a finite number \(not \.inf or \.nan\); "
                                  r"got \.inf"),
        ("evaluation.unseen_items=false",
         r"--set evaluation\.unseen_items: Input should be 'keep' or 'drop'; got false"),
        ("similarity=[a, true]", r"--set similarity: must be a mapping with a 'type' key, or a similarity name; "
                                 r"got \['a', true\]"),
    ],
)
def test_messages_spell_values_as_yaml_not_python(tmp_path, registry, override, message):
    with pytest.raises(ConfigError, match=rf"^{message}$") as info:
        load(tmp_path, registry, DATA, (override,))
    for python in ("<class", "None", "True", "False", "inf;", "PosixPath"):
        assert python not in str(info.value)


def test_a_union_gives_one_message_without_pydantics_branch_names(registry):
    plugin_registry = PluginRegistry.from_environment(entry_points=False)
    from recframe.builtin.data_sources.synthetic import SyntheticDataSource

    class UnionSource(SyntheticDataSource):
        name = "union_source"
        Config = type("UnionConfig", (SyntheticDataSource.Config,), {"__annotations__": {"mode": int | Literal["auto"]},
                                                                     "mode": "auto"})

    from recframe import hookimpl

    plugin = type("P", (), {"recframe_register_components": staticmethod(hookimpl(lambda: [UnionSource]))})
    plugin_registry.register(plugin, name="union", package="recframe-union", version="1.0")
    with pytest.raises(ConfigError) as info:
        validate_run({"data": {"type": "union_source", "mode": None}}, plugin_registry)
    assert str(info.value) == (
        "<config>: data.mode: Input should be a valid integer, or 'auto'; got null"
    )


def test_yaml_repr_spells_values_as_a_run_file_does():
    assert yaml_repr(None) == "null"
    assert yaml_repr([True, False, None, float("-inf"), float("nan")]) == "[true, false, null, -.inf, .nan]"
    assert yaml_repr({"a": None}) == "{'a': null}"
    assert yaml_repr(Path("x/y")) == "'x/y'"
    assert yaml_repr("z" * 500) == short_repr("z" * 500)
    assert len(yaml_repr(list(range(10**6)))) <= 80


def test_keys_and_top_levels_are_spelled_as_yaml(tmp_path, registry):
    with pytest.raises(ConfigError) as info:
        load(tmp_path, registry, f"{DATA}null: 1\nevaluation: {{true: 2}}\nmatrix: {{type: ratings, ~: 1, 3: 4}}\n")
    assert str(info.value).splitlines() == [
        f"{tmp_path / 'x.yaml'}:2: null: unknown top-level key 'null' (allowed: name, seed, data, matrix, "
        "similarity, ranker, evaluation, output, sweep, executor)",
        f"{tmp_path / 'x.yaml'}:3: evaluation.true: unknown key 'true' (allowed: split, metrics, test_data, "
        "relevance_threshold, unseen_items, per_user, compare, alpha, significance_test, allow_different_data)",
        f"{tmp_path / 'x.yaml'}:4: matrix: has the key null; keys must be names (text)",
        f"{tmp_path / 'x.yaml'}:4: matrix: has the key 3; keys must be names (text)",
    ]
    with pytest.raises(ConfigError, match=r"x\.yaml:1: the top level must be a mapping of sections; got 'hello'$"):
        load(tmp_path, registry, "hello\n")


def test_a_validators_own_message_ends_with_the_value_spelt_as_yaml(registry):
    with pytest.raises(ConfigError, match=r"^<config>: data\.user: must be a column name or a 0-based column "
                                          r"position; got \[1, null\]$"):
        validate_run({"data": {"type": "csv", "path": "x.csv", "user": [1, None]}}, registry)


def test_a_plugin_validator_failing_by_accident_is_a_config_error_naming_it_and_the_field(tmp_path, install_plugin):
    # a validator raising other than ValueError (which pydantic wraps) crashed validation with a traceback
    from pydantic import model_validator

    from recframe import Filter, Interactions

    class RangeConfig(ComponentConfig):
        low: float = 0.0

        @model_validator(mode="after")
        def _lookup(self) -> RangeConfig:
            if self.low > 10:
                raise KeyError("surprise")
            return self

    class RangeFilter(Filter):
        name = "bad_range"
        Config = RangeConfig

        def apply(self, interactions: Interactions) -> Interactions:
            return interactions

    registry = install_plugin([RangeFilter], "range", "recframe-range")
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  type: synthetic\n  filters:\n    - {type: bad_range, low: 42}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, registry)
    assert str(info.value) == (
        f"{path}:4: data.filters[0]: filter 'bad_range' (recframe-range 0.0.1) raised KeyError in "
        "Config.model_validate(): 'surprise'"
    )
    assert main(["config", "validate", str(path)]) == 2


@pytest.mark.parametrize("override", ["output.n=10001", "output.n=20000"])
def test_output_n_over_a_rankers_largest_n_is_refused_when_read(tmp_path, registry, override):
    """It passed validation, and the run failed with a traceback after fitting and evaluating."""
    with pytest.raises(ConfigError, match=r"^--set output\.n: Input should be less than or equal to 10000; got "):
        load(tmp_path, registry, DATA, (override,))
    assert load(tmp_path, registry, DATA, ("output.n=10000",)).output.n == 10000
