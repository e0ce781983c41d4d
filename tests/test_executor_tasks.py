"""Evaluation folds and sweep settings as tasks of the executor: the same results, files and resume as serially.

With an executor that runs blocks side by side (``local`` with two workers here, ``ray`` in
plugins/recframe-ray/tests), each fold of ``evaluate`` and each setting of a sweep is one task,
whose own neighbour search and lists run serially inside it (a task never submits tasks). Every
test compares with the serial default, bit for bit.
"""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from recframe import ConfigError, Executor, PluginError, Recommender, gather_in_order, row_blocks
from recframe.config import validate_run
from recframe.registry import PluginRegistry
from recframe.results import EvaluationResult
from recframe.runner import execute
from recframe.runner.sweep import run_sweep
from recframe.testing import random_interactions

LocalExecutor = PluginRegistry.from_environment(entry_points=False).get("executor", "local")
TWO = {"type": "local", "workers": 2, "block_rows": 9}
BASE = {
    "seed": 4,
    "data": {"type": "synthetic", "n_users": 90, "n_items": 45},
    "similarity": {"type": "sparse", "k": 6},
    "ranker": {"type": "user_cf", "n": 5},
    "evaluation": {"split": {"type": "kfold", "n_folds": 3}, "metrics": ["ndcg@5", "recall@5"]},
}


def assert_same_evaluation(got: EvaluationResult, expected: EvaluationResult) -> None:
    """Every fold's metrics, users, counts and per-user values are equal bit for bit."""
    assert len(got.folds) == len(expected.folds)
    assert got.warnings == expected.warnings
    for a, b in zip(got.folds, expected.folds, strict=True):
        assert a.metrics == b.metrics
        assert a.counts == b.counts
        np.testing.assert_array_equal(a.users, b.users)
        assert a.per_user.keys() == b.per_user.keys()
        for label in a.per_user:
            np.testing.assert_array_equal(a.per_user[label], b.per_user[label])


def test_gather_in_order_tells_each_result_before_a_failure():
    seen: list[tuple[int, int]] = []

    def results():
        yield 10
        yield 11
        msg = "third block"
        raise KeyError(msg)

    assert gather_in_order(iter([5, 6]), lambda n, r: seen.append((n, r))) == [5, 6]
    assert seen == [(0, 5), (1, 6)]
    seen.clear()
    with pytest.raises(KeyError, match="third block"):
        gather_in_order(results(), lambda n, r: seen.append((n, r)))
    assert seen == [(0, 10), (1, 11)]
    for executor in (LocalExecutor(), LocalExecutor(workers=2, block_rows=2)):
        seen.clear()
        got = executor.map_blocks(np.multiply, row_blocks(5, 2), 2, desc="test", on_result=lambda n, r: seen.append(n))
        assert [g.tolist() for g in got] == [[0, 2], [4, 6], [8]]
        assert seen == [0, 1, 2]


def test_folds_as_tasks_equal_the_serial_evaluation():
    data = random_interactions(seed=3, n_users=80, n_items=50, density=0.15)
    config = {key: BASE[key] for key in ("similarity", "ranker", "evaluation")}
    serial = Recommender.from_config(config)
    spread = Recommender.from_config({**config, "executor": TWO})
    assert_same_evaluation(spread.evaluate(data), serial.evaluate(data))
    # both are left fitted on the last fold's training part, with the same model
    a, b = serial.recommend_all(), spread.recommend_all()
    np.testing.assert_array_equal(b.ids, a.ids)
    np.testing.assert_array_equal(b.scores, a.scores)
    # a fitted recommender keeps its own model
    fitted = Recommender.from_config({**config, "executor": TWO}).fit(data)
    before = fitted.recommend_all()
    fitted.evaluate(random_interactions(seed=8, n_users=60, n_items=40, density=0.2))
    np.testing.assert_array_equal(fitted.recommend_all().ids, before.ids)


def test_a_fold_task_runs_its_search_serially_and_a_failure_names_the_component():
    calls: list[tuple[object, str]] = []
    lock = threading.Lock()
    rec = Recommender.from_config({**{k: BASE[k] for k in ("ranker", "evaluation")}, "executor": TWO})
    backend_type = type(Recommender.from_config({"similarity": BASE["similarity"]}).similarity)

    class Recording(backend_type):  # type: ignore[misc, valid-type]
        name = "recording"

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            with lock:
                calls.append((rows, threading.current_thread().name))
            if self.config.k == 2:
                msg = "k two is cursed"
                raise ValueError(msg)
            return super().neighbours(rows, k)

    rec.similarity = Recording(k=5)
    rec.evaluate(random_interactions(seed=1, n_users=70, n_items=40, density=0.2))
    assert len(calls) == 3  # one single call per fold, never split into row blocks (no nesting)
    assert all(rows is None for rows, _ in calls)
    assert all(thread != threading.main_thread().name for _, thread in calls)  # each on a worker thread
    rec.similarity = Recording(k=2)
    with pytest.raises(PluginError, match=r"similarity 'recording' .*raised ValueError in neighbours\(\): k two"):
        rec.evaluate(random_interactions(seed=1, n_users=70, n_items=40, density=0.2))


def test_a_kfold_run_writes_the_files_of_a_serial_run(tmp_path: Path, registry: PluginRegistry):
    config = validate_run({**BASE, "output": {"report": False}}, registry)
    one = execute(config, registry, tmp_path / "one", model=False)
    spread = validate_run({**BASE, "output": {"report": False}, "executor": TWO}, registry)
    two = execute(spread, registry, tmp_path / "two", model=False)
    names = sorted(p.name for p in one.files)
    assert names == sorted(p.name for p in two.files)
    assert {"metrics.json", "per_user.csv", "recommendations.csv"} <= set(names)
    for name in names:
        if name not in {"config.yaml", "run.json", "manifest.json"}:
            assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name


def test_sweep_settings_as_tasks_write_the_tables_of_a_serial_sweep(tmp_path: Path, registry: PluginRegistry):
    sweep = {"similarity.k": [3, 8], "ranker.type": ["item_cf", "user_cf"]}
    base = {**BASE, "output": {"report": False}, "sweep": sweep}
    one = execute(validate_run(base, registry), registry, tmp_path / "one", model=False)
    two = execute(validate_run({**base, "executor": TWO}, registry), registry, tmp_path / "two", model=False)
    names = sorted(str(p.relative_to(tmp_path / "one")) for p in one.files)
    assert names == sorted(str(p.relative_to(tmp_path / "two")) for p in two.files)
    assert {"sweep.csv", "sweep.json", "settings/4/per_user.csv"} <= set(names)
    for name in names:
        if not name.endswith(("run.json", "manifest.json", "config.yaml")):
            assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    # the last setting's recommender is left fitted on its last training part, as serially
    assert isinstance(two.recommender.executor, Executor) and two.recommender.executor.parallel
    np.testing.assert_array_equal(two.recommender.recommend_all().ids, one.recommender.recommend_all().ids)


def test_a_parallel_sweep_keeps_finished_settings_and_resumes(registry: PluginRegistry):
    grid = {"ranker.n": [3, 4, 5]}
    config = validate_run({**BASE, "executor": TWO, "sweep": grid}, registry)
    whole = run_sweep(config, registry)
    kept: list[int] = []
    # a setting that fails names itself; the settings gathered before it were kept
    thresholds = {"evaluation.relevance_threshold": [0.0, 1.0, 99.0]}
    broken = validate_run({**BASE, "executor": TWO, "sweep": thresholds}, registry)
    with pytest.raises(ConfigError, match=r"sweep setting 3 of 3 \(evaluation\.relevance_threshold=99"):
        run_sweep(broken, registry, on_result=lambda row: kept.append(row.number))
    assert kept == [1, 2]
    kept.clear()
    resumed = run_sweep(config, registry, done={1: whole.rows[0].result}, on_result=lambda r: kept.append(r.number))
    assert kept == [2, 3]
    assert resumed.to_csv() == whole.to_csv()
    assert resumed.to_markdown() == whole.to_markdown()


def test_an_executor_in_a_sweep_grid_is_refused(registry: PluginRegistry):
    with pytest.raises(ConfigError, match="executor"):
        validate_run({**BASE, "sweep": {"executor.workers": [1, 2]}}, registry)


def test_folds_on_threads_do_not_share_a_component_that_keeps_state():
    """A plugin's matrix builder that keeps state on itself gives the same folds on 1 and 2 workers."""
    base = type(Recommender().matrix)

    class Centred(base):  # type: ignore[misc, valid-type]
        name = "centred_demo"

        def build(self, interactions):
            built = super().build(interactions)
            self.mean_ = float(built.matrix.data.mean())
            time.sleep(0.02)  # another fold's build runs meanwhile on the other thread
            built.matrix.data -= self.mean_
            return built

    data = random_interactions(seed=3, n_users=80, n_items=50, density=0.15)
    config = {
        "similarity": {"type": "sparse", "k": 6},
        "ranker": {"type": "user_cf", "n": 5},
        "evaluation": {"split": {"type": "kfold", "n_folds": 4}, "metrics": ["ndcg@5"]},
    }
    found = []
    for workers in (1, 2):
        rec = Recommender.from_config({**config, "executor": {"type": "local", "workers": workers}})
        rec.matrix = Centred()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found.append([fold.metrics["ndcg@5"] for fold in rec.evaluate(data).folds])
    assert found[0] == found[1]


def test_an_executor_written_before_on_result_still_runs_folds():
    """``map_blocks`` gained ``on_result``; an executor that does not take it gets its results handed over after."""

    class Older(Executor):
        name = "older"
        Config = type(Recommender().executor.config)

        @property
        def parallel(self) -> bool:
            return True

        def map_blocks(self, function, blocks, payload, *, desc):  # type: ignore[override]
            return [function(payload, block) for block in reversed(blocks)][::-1]

    data = random_interactions(seed=3, n_users=80, n_items=50, density=0.15)
    config = {
        "similarity": {"type": "sparse", "k": 6},
        "ranker": {"type": "user_cf", "n": 5},
        "evaluation": {"split": {"type": "kfold", "n_folds": 3}, "metrics": ["ndcg@5"]},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = Recommender.from_config(config).evaluate(data)
        older = Recommender.from_config(config)
        older.executor = Older(older.executor.config)
        got = older.evaluate(data)
    assert [f.metrics for f in got.folds] == [f.metrics for f in want.folds]


def test_a_sweep_resumes_on_another_executor_but_not_with_other_settings(tmp_path):
    """Where the work ran is not part of a kept sweep's definition; what it computes is."""
    from recframe.errors import ConfigError
    from recframe.runner.partial import _same_definition

    kept = "name: s\nsweep:\n  similarity.k:\n  - 5\nexecutor:\n  type: ray\n  address: 10.0.0.5:6379\n"
    here = "name: s\nsweep:\n  similarity.k:\n  - 5\nexecutor:\n  type: local\n  workers: 2\n"
    _same_definition(tmp_path / "config.yaml", kept, here, tmp_path)
    with pytest.raises(ConfigError, match=r"config\.yaml:4: the sweep changed since it was interrupted: it was '- 5'"):
        _same_definition(tmp_path / "config.yaml", kept, here.replace("- 5", "- 6"), tmp_path)
