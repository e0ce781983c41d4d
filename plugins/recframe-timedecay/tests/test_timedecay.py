"""Tests of the ``time_decay`` matrix builder: contract, hand-checked numbers, brute force,
discovery through the installed entry point, and whole runs from a YAML file.

Run from the repository root after ``pip install -e plugins/recframe-timedecay``::

    python3 -m pytest plugins/recframe-timedecay -q
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from recframe_timedecay import TimeDecayConfig, TimeDecayMatrixBuilder

from recframe import ConfigError, DataError, Interactions, PluginRegistry, Recommender
from recframe.cli import main
from recframe.testing import MatrixBuilderContract, random_interactions

DAY = 86_400.0
T0 = 1_600_000_000.0  # an arbitrary "now", in Unix seconds


def cli(*args: str) -> tuple[int, str, str]:
    """Run the ``recframe`` command in-process; return its exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def dense(builder: TimeDecayMatrixBuilder, data: Interactions) -> dict[tuple[object, object], float]:
    """Build the matrix and return its stored entries keyed by external (user, item) ids."""
    m = builder.build(data)
    coo = m.matrix.tocoo()
    users, items = m.users.ids_of(coo.row).tolist(), m.items.ids_of(coo.col).tolist()
    return {(u, i): float(v) for u, i, v in zip(users, items, coo.data, strict=True)}


# --------------------------------------------------------------------------- (a) the contract


class TestTimeDecayContract(MatrixBuilderContract):
    component = TimeDecayMatrixBuilder
    configs = (
        {},
        {"half_life_days": 1, "duplicates": "max"},
        {"half_life_days": 7.5, "use_values": False, "future": "error"},
        {"reference_time": 1_700_000_000, "duplicates": "error"},
    )


def test_string_ids_work_too() -> None:
    data = random_interactions(string_ids=True)
    m = TimeDecayMatrixBuilder().build(data)
    assert m.users.is_str and m.items.is_str
    assert m.nnz == len(data)


# --------------------------------------------------------------------------- (b) by hand


@pytest.fixture
def three_ages() -> Interactions:
    """User 'a' rated x, y, z with 4, 2, 8 at ages of 0, 1 and 2 half-lives of 10 days."""
    return Interactions(
        np.array(["a", "a", "a"]),
        np.array(["x", "y", "z"]),
        np.array([4.0, 2.0, 8.0]),
        np.array([T0, T0 - 10 * DAY, T0 - 20 * DAY]),
    )


def test_weights_halve_with_every_half_life(three_ages: Interactions) -> None:
    got = dense(TimeDecayMatrixBuilder(half_life_days=10), three_ages)
    assert got == {("a", "x"): 4.0, ("a", "y"): 1.0, ("a", "z"): 2.0}


def test_without_values_every_event_starts_at_one(three_ages: Interactions) -> None:
    got = dense(TimeDecayMatrixBuilder(half_life_days=10, use_values=False), three_ages)
    assert got == {("a", "x"): 1.0, ("a", "y"): 0.5, ("a", "z"): 0.25}
    no_values = Interactions(three_ages.users, three_ages.items, None, three_ages.timestamps)
    assert dense(TimeDecayMatrixBuilder(half_life_days=10), no_values) == got


def test_reference_time_override(three_ages: Interactions) -> None:
    later = TimeDecayMatrixBuilder(half_life_days=10, reference_time=T0 + 10 * DAY)
    assert dense(later, three_ages) == {("a", "x"): 2.0, ("a", "y"): 0.5, ("a", "z"): 1.0}
    # an explicit reference equal to the default changes nothing
    same = TimeDecayMatrixBuilder(half_life_days=10, reference_time=T0)
    assert dense(same, three_ages) == dense(TimeDecayMatrixBuilder(half_life_days=10), three_ages)


def test_half_life_is_in_days() -> None:
    data = Interactions(np.array([1]), np.array([2]), np.array([3.0]), np.array([T0 - 1.5 * DAY]))
    got = dense(TimeDecayMatrixBuilder(half_life_days=0.5, reference_time=T0), data)
    assert got == {(1, 2): pytest.approx(3.0 / 8)}


@pytest.fixture
def repeated() -> Interactions:
    """User 1 and item 7 meet three times (ratings 4, 2, 6 at ages 1, 0 and 2 days, in file
    order); user 2 and item 7 once (rating 3, age 0)."""
    return Interactions(
        np.array([1, 1, 2, 1]),
        np.array([7, 7, 7, 7]),
        np.array([4.0, 2.0, 3.0, 6.0]),
        np.array([T0 - DAY, T0, T0, T0 - 2 * DAY]),
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("sum", 2.0 + 2.0 + 1.5),  # 4 * 0.5 + 2 * 1 + 6 * 0.25
        ("mean", (2.0 + 2.0 + 1.5) / 3),
        ("max", 2.0),
        ("first", 1.5),  # the oldest event: rating 6, two days old
        ("last", 2.0),  # the newest event: rating 2, age 0
    ],
)
def test_duplicates(repeated: Interactions, policy: str, expected: float) -> None:
    got = dense(TimeDecayMatrixBuilder(half_life_days=1, duplicates=policy), repeated)
    assert got == {(1, 7): pytest.approx(expected), (2, 7): 3.0}


def test_duplicates_default_to_sum(repeated: Interactions) -> None:
    assert TimeDecayConfig().duplicates == "sum"
    assert dense(TimeDecayMatrixBuilder(half_life_days=1), repeated)[(1, 7)] == pytest.approx(5.5)


def test_duplicates_error_names_the_pair(repeated: Interactions) -> None:
    with pytest.raises(DataError, match=r"user 1 and item 7 occur more than once"):
        TimeDecayMatrixBuilder(duplicates="error").build(repeated)


@pytest.fixture
def one_in_the_future() -> Interactions:
    """Event ('u2', 'i3') lies one day after T0; the others are at T0 and one day before."""
    return Interactions(
        np.array(["u1", "u2", "u1"]),
        np.array(["i1", "i3", "i2"]),
        np.array([5.0, 4.0, 2.0]),
        np.array([T0, T0 + DAY, T0 - DAY]),
    )


def test_future_events_are_clipped_to_age_zero(one_in_the_future: Interactions) -> None:
    builder = TimeDecayMatrixBuilder(half_life_days=1, reference_time=T0)
    assert builder.config.future == "clip"
    assert dense(builder, one_in_the_future) == {("u1", "i1"): 5.0, ("u2", "i3"): 4.0, ("u1", "i2"): 1.0}


def test_future_events_can_be_an_error(one_in_the_future: Interactions) -> None:
    builder = TimeDecayMatrixBuilder(half_life_days=1, reference_time=T0, future="error")
    with pytest.raises(
        DataError,
        match=r"^user 'u2' and item 'i3' have an event at 1600086400\.0, after "
        r"matrix\.reference_time=1600000000\.0 \(1 such events in all\); set matrix\.future to clip",
    ):
        builder.build(one_in_the_future)


def test_default_reference_time_has_no_future(one_in_the_future: Interactions) -> None:
    got = dense(TimeDecayMatrixBuilder(half_life_days=1, future="error"), one_in_the_future)
    assert got == {("u1", "i1"): 2.5, ("u2", "i3"): 4.0, ("u1", "i2"): 0.5}


def test_missing_timestamps_is_a_data_error() -> None:
    data = Interactions(np.array(["a", "b"]), np.array(["x", "x"]), np.array([1.0, 2.0]))
    with pytest.raises(
        DataError, match=r"^matrix 'time_decay' needs a timestamp column, .*; set data\.timestamp to the column"
    ):
        TimeDecayMatrixBuilder().build(data)


def test_no_interactions_is_a_data_error() -> None:
    empty = Interactions(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), None, np.zeros(0))
    with pytest.raises(DataError, match=r"^no interactions to build a matrix from"):
        TimeDecayMatrixBuilder().build(empty)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"half_life_days": 0}, "half_life_days"),
        ({"half_life_days": -3}, "half_life_days"),
        ({"half_life_days": float("inf")}, "half_life_days"),
        ({"reference_time": float("nan")}, "reference_time"),
        ({"future": "drop"}, "future"),
        ({"duplicates": "median"}, "duplicates"),
    ],
)
def test_config_rejects_bad_values(params: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        TimeDecayConfig(**params)


def test_config_errors_point_into_the_run_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("data: {type: synthetic}\nmatrix:\n  type: time_decay\n  half_life_days: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml:4: matrix\.half_life_days: Input should be greater than"):
        Recommender.from_config(path)


# --------------------------------------------------------------------------- (c) brute force


def brute_force(
    data: Interactions, half_life_days: float, reference_time: float, use_values: bool, policy: str
) -> tuple[list[object], list[object], np.ndarray]:
    """Compute the matrix with a plain Python loop over events and a dense array."""
    assert data.values is not None and data.timestamps is not None
    users, items = sorted(set(data.users.tolist())), sorted(set(data.items.tolist()))
    row, col = {u: r for r, u in enumerate(users)}, {i: c for c, i in enumerate(items)}
    events: dict[tuple[int, int], list[tuple[float, int, float]]] = {}
    for n in range(len(data)):
        age = max(reference_time - float(data.timestamps[n]), 0.0)
        base = float(data.values[n]) if use_values else 1.0
        weight = base * 0.5 ** (age / (half_life_days * DAY))
        key = (row[data.users[n].item()], col[data.items[n].item()])
        events.setdefault(key, []).append((float(data.timestamps[n]), n, weight))
    out = np.zeros((len(users), len(items)))
    for (r, c), found in events.items():
        found.sort()  # by time, then file order
        weights = [w for _, _, w in found]
        out[r, c] = {
            "sum": sum(weights),
            "mean": sum(weights) / len(weights),
            "max": max(weights),
            "first": weights[0],
            "last": weights[-1],
        }[policy]
    return users, items, out


@pytest.mark.parametrize("policy", ["sum", "mean", "max", "first", "last"])
@pytest.mark.parametrize("use_values", [True, False])
def test_matches_brute_force_on_random_data(policy: str, use_values: bool) -> None:
    rng = np.random.default_rng(20240611)
    n = 600
    users = rng.integers(0, 40, size=n) * 5 + 3
    items = rng.integers(0, 25, size=n) * 2
    ratings = rng.integers(1, 6, size=n).astype(np.float64)
    times = T0 + rng.integers(0, 90, size=n) * DAY + rng.integers(0, 4, size=n) * 3600.0  # with ties
    data = Interactions(users, items, ratings, times)
    reference = float(np.quantile(times, 0.8))  # a fifth of the events lie in the future
    builder = TimeDecayMatrixBuilder(
        half_life_days=9.0, reference_time=reference, use_values=use_values, duplicates=policy
    )
    m = builder.build(data)
    expected_users, expected_items, expected = brute_force(data, 9.0, reference, use_values, policy)
    assert m.users.ids.tolist() == expected_users
    assert m.items.ids.tolist() == expected_items
    np.testing.assert_allclose(m.matrix.toarray(), expected, rtol=1e-12, atol=0)
    assert m.nnz == np.count_nonzero(expected)


def test_default_reference_matches_brute_force() -> None:
    data = random_interactions(n_users=30, n_items=20, seed=3)
    assert data.timestamps is not None
    _, _, expected = brute_force(data, 30.0, float(data.timestamps.max()), True, "sum")
    np.testing.assert_allclose(TimeDecayMatrixBuilder().build(data).matrix.toarray(), expected, rtol=1e-12)


# --------------------------------------------------------------------------- (d) discovery


def test_found_through_the_installed_entry_point() -> None:
    registry = PluginRegistry.from_environment(disabled=())
    entries = {(e.kind, e.name): e for e in registry.components()}
    assert ("matrix", "time_decay") in entries
    entry = entries[("matrix", "time_decay")]
    assert entry.cls is TimeDecayMatrixBuilder
    assert entry.plugin.package == "recframe-timedecay"
    assert entry.plugin.version == "0.1.0"
    assert entry.plugin.name == "timedecay"
    assert entry.plugin.status == "ok"
    assert registry.describe(TimeDecayMatrixBuilder) == "matrix 'time_decay' (recframe-timedecay 0.1.0)"


def test_not_a_builtin() -> None:
    assert "time_decay" not in PluginRegistry.from_environment(entry_points=False).names("matrix")


def test_can_be_disabled_by_entry_point_name() -> None:
    registry = PluginRegistry.from_environment(disabled=["timedecay"])
    assert "time_decay" not in registry.names("matrix")
    with pytest.raises(ConfigError, match=r"recframe-timedecay.*(blocked|disabled)"):
        registry.get("matrix", "time_decay")


def test_listed_by_recframe_plugins() -> None:
    code, out, _ = cli("plugins", "--json", "--quiet")
    assert code == 0
    rows = json.loads(out)
    assert {"kind": "matrix", "name": "time_decay", "package": "recframe-timedecay", "version": "0.1.0",
            "status": "ok", "error": ""} in rows


def test_in_the_json_schema() -> None:
    code, out, _ = cli("config", "schema", "--quiet")
    assert code == 0
    options = json.loads(out)["properties"]["matrix"]["oneOf"]
    [ours] = [o for o in options if o.get("properties", {}).get("type") == {"const": "time_decay"}]
    assert ours["properties"]["half_life_days"]["description"].startswith("Age, in days,")
    assert ours["additionalProperties"] is False


# --------------------------------------------------------------------------- (e) end to end


RUN_FILE = """\
name: decay
seed: 7
data:       {type: synthetic, n_users: 200, n_items: 100, mean_interactions: 15}
matrix:     {type: time_decay, half_life_days: 14}
similarity: {type: sklearn_nn, metric: cosine, k: 20}
ranker:     {type: item_cf, n: 5}
evaluation:
  split:    {type: temporal_global, quantile: 0.8}
  metrics:  [precision@5, ndcg@5]
"""


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    path = tmp_path / "decay.yaml"
    path.write_text(RUN_FILE, encoding="utf-8")
    return path


def test_recframe_run(run_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = cli("run", str(run_file), "--output", str(out), "--quiet")
    assert (code, stderr) == (0, "")
    with (out / "recommendations.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["user", "item", "rank", "score"]
    assert len(rows) > 1
    resolved = yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))
    assert resolved["matrix"] == {
        "type": "time_decay", "half_life_days": 14.0, "reference_time": None, "use_values": True,
        "duplicates": "sum", "future": "clip",
    }
    record = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert record["components"]["matrix"] == {"type": "time_decay", "package": "recframe-timedecay", "version": "0.1.0"}
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["metrics"]) == {"precision@5", "ndcg@5"}
    assert "precision@5" in stdout


def test_resolved_config_runs_again(run_file: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli("run", str(run_file), "--output", str(first), "--quiet")[0] == 0
    assert cli("run", str(first / "config.yaml"), "--output", str(second), "--quiet")[0] == 0
    assert (first / "recommendations.csv").read_bytes() == (second / "recommendations.csv").read_bytes()


def test_set_override(run_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", str(run_file), "--output", str(out), "--quiet", "--set", "matrix.half_life_days=60"]
    assert cli(*args)[0] == 0
    assert yaml.safe_load((out / "config.yaml").read_text(encoding="utf-8"))["matrix"]["half_life_days"] == 60.0


def test_recommender_from_config_evaluates(run_file: Path) -> None:
    rec = Recommender.from_config(run_file)
    assert isinstance(rec.matrix, TimeDecayMatrixBuilder)
    assert rec.matrix.config.half_life_days == 14.0
    result = rec.evaluate()
    assert set(result.metrics) == {"precision@5", "ndcg@5"}
    assert all(0.0 <= v <= 1.0 for v in result.metrics.values())
    assert result.metrics["precision@5"] > 0
    # the fitted matrix is the builder's matrix of the training part: weights at most 5
    weights = rec.interaction_matrix.matrix.data
    assert weights.max() <= 5.0 and weights.min() > 0.0
    assert np.any(weights != np.round(weights)), "ratings should have been decayed"


def test_data_without_timestamps_exits_with_the_data_error_code(tmp_path: Path) -> None:
    data = tmp_path / "ratings.csv"
    data.write_text("user,item,rating\n1,10,5\n2,10,3\n2,11,4\n", encoding="utf-8")
    path = tmp_path / "no-time.yaml"
    path.write_text(f"data: {{type: csv, path: {json.dumps(str(data))}}}\nmatrix: {{type: time_decay}}\n",
                    encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = cli("run", str(path), "--output", str(out), "--quiet")
    assert code == 3
    assert err.startswith("error: matrix 'time_decay' needs a timestamp column")
    assert not out.exists()


@pytest.mark.parametrize("params", [{"reference_time": 1e308}, {"reference_time": 1e15, "half_life_days": 1e-5}])
def test_parameters_that_decay_every_weight_to_zero_are_named(params: dict[str, object]) -> None:
    data = Interactions(["a", "b"], ["x", "y"], [4.0, 2.0], [0.0, 86_400.0])
    with pytest.raises(ConfigError, match=r"every weight decays to 0: .*reference_time=.*matrix\.half_life_days"):
        TimeDecayMatrixBuilder(**params).build(data)


def test_events_past_the_cut_weigh_nothing_and_are_warned_of_once(caplog: pytest.LogCaptureFixture) -> None:
    """At 500 half-lives an event keeps 2**-500 of its value; beyond, 0 (warned once), never a refused matrix.

    Between about 540 and 1075 half-lives the weights were tiny but not 0, their squares
    underflowed, and a cosine-like measure stopped the run telling the user to rescale ratings.
    """
    import recframe_timedecay

    recframe_timedecay._WARNED.discard(1.0)
    data = Interactions(["a", "a", "b", "b"], ["x", "y", "x", "y"], [2.0, 2.0, 1.0, 1.0],
                        [T0 - 500 * DAY, T0 - 501 * DAY, T0, T0 - 700 * DAY])
    with caplog.at_level("WARNING", logger="recframe_timedecay"):
        entries = dense(TimeDecayMatrixBuilder(half_life_days=1.0, reference_time=T0), data)
    assert entries == {("a", "x"): 2.0 * 2.0**-500, ("b", "x"): 1.0}
    assert caplog.text.count("2 (user, item) pairs weigh 0") == 1 and "exclude_seen" in caplog.text
    caplog.clear()
    TimeDecayMatrixBuilder(half_life_days=1.0, reference_time=T0).build(data)
    assert "weigh 0" not in caplog.text  # said once
    old = [T0 - age * DAY for age in (600, 600, 1000, 1070)] + [T0, T0]
    users = ["old", "old", "old", "old", "new", "new"]
    config = {"matrix": {"type": "time_decay", "half_life_days": 1.0}, "similarity": {"type": "sparse", "k": 5},
              "ranker": {"type": "item_cf", "n": 2}}
    rec = Recommender.from_config(config).fit(Interactions(users, ["p", "q", "r", "s", "p", "q"], None, old))
    assert rec.recommend("new", n=2).lengths.tolist() == [0]  # fitted, not refused; the old events count for nothing
