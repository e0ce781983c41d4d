"""The ``executor`` kind: row blocks, the built-in ``local`` executor, and work split into blocks.

Splitting the neighbour search and the lists of every user into blocks must not change a
single number: each test compares a run whose executor splits the work (``local`` with two
workers and small blocks) with the single call of the default executor, bit for bit, and the
search in blocks with a brute-force numpy computation.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recframe import (
    ConfigError,
    Executor,
    ExecutorConfig,
    NotFittedError,
    PluginError,
    Recommender,
    progress_bar,
    row_blocks,
    show_progress,
)
from recframe.config import load_config, validate_run
from recframe.config.schema import config_schema
from recframe.registry import PluginRegistry
from recframe.runner import execute
from recframe.testing import random_interactions

LocalExecutor = PluginRegistry.from_environment(entry_points=False).get("executor", "local")


def _spread(block_rows: int = 7) -> Executor:
    executor = LocalExecutor(workers=2, block_rows=block_rows)
    assert isinstance(executor, Executor)
    return executor


def _square(payload: int, block: np.ndarray) -> np.ndarray:
    time.sleep(0.01 * (len(block) % 3))  # blocks finish out of order
    return block * payload


def test_row_blocks_by_hand():
    blocks = row_blocks(7, 3)
    assert [b.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5], [6]]
    assert all(b.dtype == np.int64 for b in blocks)
    assert [b.tolist() for b in row_blocks(np.array([9, 4, 5]), 2)] == [[9, 4], [5]]
    assert row_blocks(0, 5) == []
    assert [b.tolist() for b in row_blocks(3, 10)] == [[0, 1, 2]]
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="block_rows must be a positive integer"):
            row_blocks(4, bad)  # type: ignore[arg-type]


def test_local_executor_keeps_block_order_and_shares_the_payload():
    blocks = row_blocks(np.arange(20)[::-1], 4)
    serial = LocalExecutor()
    assert not serial.parallel
    assert _spread().parallel
    expected = [b * 3 for b in blocks]
    for executor in (serial, _spread()):
        got = executor.map_blocks(_square, blocks, 3, desc="test")
        assert [g.tolist() for g in got] == [e.tolist() for e in expected]
    seen: list[int] = []
    lock = threading.Lock()

    def record(payload: list[int], block: np.ndarray) -> int:
        with lock:
            seen.append(id(payload))
        return len(block)

    shared: list[int] = []
    assert _spread().map_blocks(record, blocks, shared, desc="test") == [4] * 5
    assert set(seen) == {id(shared)}  # threads share the payload: nothing is copied


@pytest.mark.parametrize("setting", [False, True])
def test_blocks_on_worker_threads_see_the_callers_progress_setting(setting: bool) -> None:
    """``show_progress(False)`` (``--quiet``) holds in the pool's threads: no bar from a block's own loops."""
    stream = io.StringIO()  # no terminal: only a forced setting draws

    def draw(payload: None, block: np.ndarray) -> int:
        shown = progress_bar(range(len(block)), total=len(block), desc="inner")
        with contextlib.redirect_stderr(stream):
            return sum(1 for _ in shown)

    with show_progress(setting):
        assert _spread(block_rows=3).map_blocks(draw, row_blocks(12, 3), None, desc="outer") == [3] * 4
    assert ("inner" in stream.getvalue()) is setting


def test_local_executor_raises_what_a_block_raises():
    def fail(payload: None, block: np.ndarray) -> None:
        if block[0] == 4:
            msg = "block four"
            raise KeyError(msg)

    with pytest.raises(KeyError, match="block four"):
        _spread(4).map_blocks(fail, row_blocks(12, 4), None, desc="test")


def test_executor_config_refuses_bad_values():
    with pytest.raises(ValidationError, match="block_rows"):
        LocalExecutor(block_rows=0)
    with pytest.raises(ValidationError, match="workers"):
        LocalExecutor(workers=0)
    assert issubclass(LocalExecutor.Config, ExecutorConfig)


SEARCHES = [
    {"type": "sklearn_nn", "k": 6},
    {"type": "sklearn_nn", "k": 5, "metric": "euclidean"},
    {"type": "sparse", "measure": "cosine", "k": 6},
    {"type": "sparse", "measure": "pearson", "k": 4, "engine": "scipy"},
    {"type": "sparse", "measure": "jaccard", "k": 5, "engine": "numba"},
    {"type": "sparse", "measure": "rp3beta", "k": 5},
]


@pytest.mark.parametrize("similarity", SEARCHES, ids=lambda s: "-".join(str(v) for v in s.values()))
@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_search_and_lists_in_blocks_equal_the_single_call(similarity, ranker):
    data = random_interactions(seed=7, n_users=60, n_items=40, density=0.15)
    config = {"similarity": similarity, "ranker": {"type": ranker, "n": 5}}
    single = Recommender.from_config(config).fit(data)
    blocked = Recommender.from_config({**config, "executor": {"type": "local", "workers": 2, "block_rows": 7}})
    blocked.fit(data)
    axis = single.fitted_ranker.neighbour_axis
    assert axis is not None
    one, many = single._state().graphs[axis], blocked._state().graphs[axis]
    np.testing.assert_array_equal(many.indices, one.indices)
    np.testing.assert_allclose(many.scores, one.scores, rtol=0, atol=1e-12)
    assert many.n_targets == one.n_targets
    a, b = single.recommend_all(), blocked.recommend_all()
    np.testing.assert_array_equal(b.ids, a.ids)
    np.testing.assert_allclose(b.scores, a.scores, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(b.sources, a.sources)


def test_search_in_blocks_matches_brute_force_cosine():
    rng = np.random.default_rng(3)
    dense = (rng.random((45, 30)) < 0.3) * rng.integers(1, 6, (45, 30))
    dense[5] = 0  # a user with no interaction has no neighbour
    rows, cols = np.nonzero(dense)
    data = {"user": rows, "item": cols, "rating": dense[rows, cols].astype(float)}
    rec = Recommender.from_config({"ranker": "user_cf", "similarity": {"type": "sparse", "k": 3}})
    rec.executor = _spread(4)
    rec.fit(data)
    graph = rec._state().graphs["users"]
    matrix = rec.interaction_matrix.matrix.toarray()
    norms = np.linalg.norm(matrix, axis=1)
    cosine = matrix @ matrix.T / np.maximum(np.outer(norms, norms), 1e-300)
    np.fill_diagonal(cosine, -np.inf)
    for row in range(len(matrix)):
        valid = graph.indices[row] >= 0
        expected = np.sort(cosine[row][cosine[row] > 0])[::-1][:3]
        np.testing.assert_allclose(graph.scores[row][valid], expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cosine[row, graph.indices[row][valid]], expected, rtol=0, atol=1e-12)


def test_a_failing_backend_in_a_block_is_named():
    class Broken(type(Recommender().similarity)):  # type: ignore[misc]
        name = "broken_nn"

        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            if rows is not None and 10 in rows:
                msg = "no neighbours here"
                raise ValueError(msg)
            return super().neighbours(rows, k)

    data = random_interactions(seed=1, n_users=30, n_items=20, density=0.3)
    rec = Recommender(
        similarity=Broken(k=3), ranker=Recommender.from_config({"ranker": "user_cf"}).ranker, executor=_spread(6)
    )
    with pytest.raises(
        PluginError, match=r"similarity 'broken_nn' .*raised ValueError in neighbours\(\): no neighbours"
    ):
        rec.fit(data)


def test_the_executor_section_is_validated_with_lines(tmp_path: Path, registry: PluginRegistry):
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\nexecutor:\n  type: locl\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"run\.yaml:3: executor\.type: unknown executor 'locl'; did you mean 'local'"
    ):
        load_config(path, registry)
    path.write_text("data: {type: synthetic}\nexecutor:\n  type: local\n  workers: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml:4: executor\.workers: .*greater than 0"):
        load_config(path, registry)
    path.write_text("data: {type: synthetic}\nevaluation: {}\nsweep:\n  executor.workers: [1, 2]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"sweep\.executor\.workers: can't be swept: every setting runs on"):
        load_config(path, registry)


def test_the_executor_is_written_into_the_resolved_config_and_overridable(tmp_path: Path, registry: PluginRegistry):
    run = validate_run({"data": {"type": "synthetic"}}, registry)
    assert run.to_dict()["executor"] == {"type": "local", "block_rows": 10_000, "workers": 1}
    path = tmp_path / "run.yaml"
    path.write_text("data: {type: synthetic}\n", encoding="utf-8")
    run = load_config(path, registry, ["executor.workers=3", "executor.block_rows=50"])
    assert run.to_dict()["executor"] == {"type": "local", "block_rows": 50, "workers": 3}
    rec = Recommender.from_config(run, registry=registry)
    assert isinstance(rec.executor, LocalExecutor)
    assert rec.executor.config.workers == 3
    assert rec.to_config()["executor"] == {"type": "local", "block_rows": 50, "workers": 3}
    assert Recommender.from_config(rec.to_config(), registry=registry).executor.config == rec.executor.config
    schema = config_schema(registry)["properties"]["executor"]
    assert any(option.get("title") == "executor local" for option in schema["oneOf"])
    with pytest.raises(TypeError, match="executor must be a Executor; got str"):
        Recommender(executor="local")  # type: ignore[arg-type]


def test_a_run_with_blocks_writes_the_same_files(tmp_path: Path, registry: PluginRegistry):
    text = (
        "name: blocks\nseed: 3\ndata: {type: synthetic, n_users: 90, n_items: 50}\n"
        "similarity: {type: sparse, k: 8}\nranker: {type: user_cf, n: 5}\n"
        "evaluation: {split: {type: per_user_holdout}, metrics: [precision@5, ndcg@5]}\n"
        "output: {report: false}\n"
    )
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8")
    single = execute(load_config(path, registry), registry, tmp_path / "one", model=False)
    blocked_config = load_config(path, registry, ["executor.workers=2", "executor.block_rows=16"])
    blocked = execute(blocked_config, registry, tmp_path / "many", model=False)
    names = sorted(p.name for p in single.files)
    assert names == sorted(p.name for p in blocked.files)
    for name in names:
        if name not in {"config.yaml", "run.json", "manifest.json"}:
            assert (tmp_path / "many" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
    assert "recommendations.csv" in names
    assert single.evaluation is not None and blocked.evaluation is not None
    assert single.evaluation.metrics == blocked.evaluation.metrics


def test_serial_local_makes_the_single_call():
    calls: list[object] = []
    rec = Recommender.from_config({"ranker": "user_cf", "similarity": {"type": "sparse", "k": 3}})
    backend_type = type(rec.similarity)

    class Counting(backend_type):  # type: ignore[misc, valid-type]
        def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
            calls.append(rows)
            return super().neighbours(rows, k)

    rec.similarity = Counting(rec.similarity.config)
    rec.fit(random_interactions(seed=2, n_users=25, n_items=15, density=0.3))
    assert calls == [None]


class _Unreachable(Executor):
    """An executor whose cluster can't be reached: its check says so."""

    name = "unreachable"
    Config = ExecutorConfig

    def check(self) -> None:
        raise ConfigError("executor.address: nothing answers there")

    def map_blocks(self, function, blocks, payload, *, desc, on_result=None):  # type: ignore[no-untyped-def]
        raise AssertionError("never reached: the check fails first")


def test_an_executor_that_cant_run_fails_a_fit_of_small_data_too():
    # a matrix of no more rows than block_rows is searched without the executor: its check still runs
    rec = Recommender(executor=_Unreachable())
    with pytest.raises(ConfigError, match=r"executor\.address: nothing answers there"):
        rec.fit(random_interactions(n_users=30, n_items=20, seed=2))
    with pytest.raises(NotFittedError):
        rec.recommend([1])


class _Misbehaving(Executor):
    """Runs every block here, then hands the results back wrong (``returns``), or fails to close (``close_fails``)."""

    name = "misbehaving"
    Config = ExecutorConfig
    parallel = True
    returns = "reversed"
    close_fails = False

    def map_blocks(self, function, blocks, payload, *, desc, on_result=None):  # type: ignore[no-untyped-def]
        results = [function(payload, block) for block in blocks]
        if self.returns == "reversed":
            results.reverse()
        elif self.returns == "short":
            results = results[:-1]
        elif self.returns == "none":
            return None
        elif self.returns == "fails":
            raise RuntimeError("the cluster went away")
        for number, result in enumerate(results):
            if on_result is not None:
                on_result(number, result)
        return results

    def close(self) -> None:
        if self.close_fails:
            raise OSError("close failed")


class _MisbehavingOldStyle(_Misbehaving):
    """The same, written before ``on_result``: the results are handed on once the map returns."""

    name = "misbehaving_old"

    def map_blocks(self, function, blocks, payload, *, desc):  # type: ignore[no-untyped-def, override]
        return super().map_blocks(function, blocks, payload, desc=desc)


def _misbehaving(kind: type[_Misbehaving], returns: str) -> _Misbehaving:
    executor = kind(block_rows=10)
    executor.returns = returns
    return executor


@pytest.mark.parametrize("kind", [_Misbehaving, _MisbehavingOldStyle])
@pytest.mark.parametrize(
    ("returns", "said"),
    [
        (
            "reversed",
            r"returned the result of block \d+ in place 0; map_blocks returns the results in the blocks' order",
        ),
        (
            "short",
            r"returned 3 results from map_blocks for 4 blocks; map_blocks returns a list of one result per block",
        ),
        ("none", r"returned NoneType from map_blocks; map_blocks returns a list of one result per block"),
    ],
)
@pytest.mark.parametrize("ranker", ["user_cf", "popularity"])
def test_an_executor_returning_results_out_of_order_or_not_one_per_block_is_refused_naming_it(
    kind, returns, said, ranker
):
    # reversed results gave one block's users another block's lists (or one row's neighbours to another row)
    data = random_interactions(seed=1, n_users=40, n_items=20, density=0.3)
    rec = Recommender.from_config({"ranker": ranker, "similarity": {"type": "sparse", "k": 3}})
    rec.executor = _misbehaving(kind, returns)
    with pytest.raises(PluginError, match=rf"^executor '{kind.name}' \(module tests\.test_executor\) {said}"):
        rec.fit(data)
        rec.recommend_all(5)


def test_an_executor_returning_what_the_blocks_did_not_is_refused_naming_it():
    class Replacing(_Misbehaving):
        name = "replacing"

        def map_blocks(self, function, blocks, payload, *, desc, on_result=None):  # type: ignore[no-untyped-def]
            return [None for _ in blocks]

    rec = Recommender.from_config({"ranker": "user_cf", "similarity": {"type": "sparse", "k": 3}})
    rec.executor = Replacing(block_rows=10)
    with pytest.raises(
        PluginError,
        match=r"^executor 'replacing' .* returned None as the result of block 0; map_blocks "
        r"returns what function\(payload, block\) returned for each block",
    ):
        rec.fit(random_interactions(seed=1, n_users=40, n_items=20, density=0.3))


class _Closing(_Misbehaving):
    """Works, but fails to close."""

    name = "closing"
    returns = "in order"
    close_fails = True


class _FailingAndClosing(_Misbehaving):
    """Fails its blocks, then fails to close."""

    name = "failing_closing"
    returns = "fails"
    close_fails = True


RUN = "data: {type: synthetic, n_users: 40, n_items: 20}\nsimilarity: {type: sparse, k: 3}\nranker: user_cf\n"


def test_an_executor_that_fails_to_close_is_a_warning_not_a_failed_run(tmp_path, install_plugin, caplog):
    # the run's output was complete, yet the command failed with a bare OSError
    registry = install_plugin([_Closing, _FailingAndClosing], "closing", "recframe-closing")
    path = tmp_path / "run.yaml"
    path.write_text(RUN, encoding="utf-8")
    with caplog.at_level("WARNING", logger="recframe"):
        result = execute(
            load_config(path, registry, ["executor.type=closing"]), registry, tmp_path / "out", model=False
        )
    assert (tmp_path / "out" / "recommendations.csv").exists() and result.files
    assert [r.getMessage() for r in caplog.records if "close" in r.getMessage()] == [
        "executor 'closing' (recframe-closing 0.0.1) raised OSError in close(): close failed"
    ]


def test_a_failing_close_does_not_hide_the_error_that_ended_the_run(tmp_path, install_plugin):
    registry = install_plugin([_Closing, _FailingAndClosing], "closing", "recframe-closing")
    path = tmp_path / "run.yaml"
    path.write_text(RUN, encoding="utf-8")
    config = load_config(path, registry, ["executor.type=failing_closing", "executor.block_rows=10"])
    with pytest.raises(
        PluginError, match=r"^executor 'failing_closing' .*raised RuntimeError in map_blocks\(\): the cl"
    ):
        execute(config, registry, tmp_path / "out", model=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [2, 3])
def test_what_a_blocks_own_work_raises_is_not_blamed_on_the_executor(monkeypatch, workers):
    # with blocks on worker threads, a MemoryError of recframe's own work said "executor 'local' raised"
    import recframe.recommender.blocks as blocks

    def exhausted(payload, rows):  # type: ignore[no-untyped-def]
        raise MemoryError("no memory for this block")

    rec = Recommender.from_config({"ranker": "user_cf", "similarity": {"type": "sparse", "k": 3}})
    rec.executor = LocalExecutor(workers=workers, block_rows=10)
    rec.fit(random_interactions(seed=1, n_users=40, n_items=20, density=0.3))
    monkeypatch.setattr(blocks, "_rank_block", exhausted)
    with pytest.raises(MemoryError, match="no memory for this block"):
        rec.recommend_all(5)


def test_what_handling_a_blocks_result_raises_is_not_blamed_on_the_executor(monkeypatch):
    # the merge of a pair block's offers runs inside map_blocks (on_result): its MemoryError said "executor raised"
    import recframe.recommender.blocks as blocks
    from recframe.engine import products

    def exhausted(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise MemoryError("no memory to merge the offers")

    monkeypatch.setattr(products, "SYMMETRIC_MIN_PAIR_WORK", 0.0)  # blocks of pairs on these small rows

    rec = Recommender.from_config({"ranker": "user_cf", "similarity": {"type": "sparse", "k": 3}})
    rec.executor = LocalExecutor(workers=2, block_rows=5)
    monkeypatch.setattr(blocks, "merge_offers", exhausted)
    with pytest.raises(MemoryError, match="no memory to merge the offers"):
        rec.fit(random_interactions(seed=1, n_users=40, n_items=20, density=0.3))
