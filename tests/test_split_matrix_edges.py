"""Degenerate splitter and matrix-builder parameters fail fast, naming the parameter (issue 11).

Classes guarded: a k-fold split with more folds than it can fill is refused before any fold is
fitted (and ``n_folds`` is bounded in the model); a splitter parameter that leaves the test or
training part empty is a config error naming ``evaluation.split.<field>`` and the data's range;
every numeric parameter of every built-in matrix builder is bounded in its model, so none can
overflow the weights; and when the parameters, not the ratings, make a weight overflow, the
message names the parameters instead of asking to rescale the ratings.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from recframe import ConfigError, DataError, Interactions
from recframe.builtin.matrix_builders import (
    BM25Config,
    BM25MatrixBuilder,
    LogConfidenceConfig,
    LogConfidenceMatrixBuilder,
)
from recframe.builtin.splitters import (
    KFoldSplitter,
    LeaveLastNSplitter,
    PerUserHoldoutSplitter,
    RandomHoldoutSplitter,
    TemporalGlobalSplitter,
)
from recframe.cli import main
from recframe.testing import random_interactions

SMALL = """\
name: small
seed: 1
data: {type: synthetic, n_users: 60, n_items: 40}
similarity: {type: sparse, k: 5}
ranker: {type: item_cf, n: 5}
evaluation:
  split: {type: temporal_global}
  metrics: [ndcg@5]
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


def run(small: Path, capsys: pytest.CaptureFixture[str], *overrides: str) -> tuple[int, str, float]:
    capsys.readouterr()
    argv = ["run", str(small), "-q", "-o", str(small.parent / f"out{time.perf_counter_ns()}")]
    for override in overrides:
        argv += ["--set", override]
    start = time.perf_counter()
    code = main(argv)
    return code, capsys.readouterr().err, time.perf_counter() - start


# ------------------------------------------------------------ k-fold: refused before any fold is fitted


@pytest.mark.parametrize("per_user", [False, True])
def test_more_folds_than_can_be_filled_is_refused_before_the_first_fold(per_user):
    data = random_interactions(20, 15, seed=1)
    most = int(np.unique(data.users, return_counts=True)[1].max())
    k = (most if per_user else len(data)) + 1
    folds = KFoldSplitter(n_folds=k, per_user=per_user).folds(data, np.random.default_rng(0))
    what = f"the most active of the 20 users has only {most}" if per_user else f"there are {len(data)}"
    with pytest.raises(ConfigError, match=rf"evaluation\.split\.n_folds: {k} folds .*{what}"):
        next(iter(folds))  # the first fold: nothing has been fitted yet
    with pytest.raises(ConfigError, match=r"evaluation\.split\.n_folds"):
        KFoldSplitter(n_folds=k, per_user=per_user).split(data, np.random.default_rng(0))
    # as many folds as can be filled: every fold tests something
    fitting = most if per_user else len(data)
    if fitting <= 1000:  # the model's bound on n_folds
        parts = list(KFoldSplitter(n_folds=fitting, per_user=per_user).folds(data, np.random.default_rng(0)))
        assert all(len(test) > 0 and len(train) > 0 for train, test in parts)


@pytest.mark.parametrize(
    ("split", "message"),
    [
        ("{type: kfold, n_folds: 5000}", r"n_folds: Input should be less than or equal to 1000"),
        ("{type: kfold, n_folds: 1000000000}", r"n_folds: Input should be less than or equal to 1000"),
        ("{type: kfold, n_folds: 999}", r"evaluation\.split\.n_folds: 999 folds need at least as many interactions"),
        ("{type: kfold, n_folds: 60, per_user: true}", r"evaluation\.split\.n_folds: 60 folds with per_user"),
    ],
)
def test_kfold_with_too_many_folds_exits_2_at_once(small, capsys, split, message):
    code, err, seconds = run(small, capsys, f"evaluation.split={split}")
    assert code == 2, err
    assert seconds < 10
    assert len(err) < 400 and err.count("error:") == 1
    assert re.search(message, err), err


# ------------------------------------------------------------ a parameter that empties a part names itself


@pytest.mark.parametrize(
    ("splitter", "message"),
    [
        (RandomHoldoutSplitter(test_fraction=1e-300), r"test_fraction: 1e-300 of \d+ interactions leaves no test"),
        (RandomHoldoutSplitter(test_fraction=0.999999), r"test_fraction: 0\.999999 of \d+ interactions leaves no tr"),
        (TemporalGlobalSplitter(cutoff=1e308), r"cutoff: 1e\+308 leaves no event for testing: the timestamps run"),
        (TemporalGlobalSplitter(cutoff=-1e308), r"cutoff: -1e\+308 leaves no event for training"),
        (PerUserHoldoutSplitter(min_history=10**9), r"min_history: 1000000000 leaves no user to test: the most"),
        (LeaveLastNSplitter(min_history=10**18), r"min_history: 1000000000000000000 leaves no user to test"),
    ],
)
def test_a_parameter_that_empties_a_part_is_a_config_error_naming_it(splitter, message):
    data = random_interactions(30, 20, seed=3)
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=r"^evaluation\.split\." + message):
        for _ in splitter.folds(data, np.random.default_rng(0)):
            pass
    assert time.perf_counter() - start < 5


def test_a_huge_leave_last_n_keeps_one_event_per_user_for_training():
    data = random_interactions(30, 20, seed=3)
    train, test = LeaveLastNSplitter(n=2**62).split(data, np.random.default_rng(0))
    assert len(np.unique(train.users)) == len(train) == 30 and len(train) + len(test) == len(data)


def test_data_that_cannot_be_split_stays_a_data_error():
    with pytest.raises(DataError, match="every one of the 2 users has 1 interaction, so none can be tested"):
        PerUserHoldoutSplitter().split(Interactions([1, 2], [1, 1]), np.random.default_rng(0))
    with pytest.raises(DataError, match="left no"):
        list(KFoldSplitter(n_folds=5).folds(Interactions([1], [1]), np.random.default_rng(0)))


def test_same_timestamps_say_no_quantile_can_cut_them():
    data = Interactions([1, 2, 3], [1, 2, 3], timestamps=[5.0, 5.0, 5.0])
    with pytest.raises(ConfigError, match="every timestamp is the same"):
        TemporalGlobalSplitter().split(data, np.random.default_rng(0))
    tied_last = Interactions([1, 2, 3, 4], [1, 2, 3, 4], timestamps=[1.0, 2.0, 3.0, 3.0])
    with pytest.raises(ConfigError, match=r"quantile: 0\.9 leaves no event for testing: the timestamps run from 1\.0"):
        TemporalGlobalSplitter(quantile=0.9).split(tied_last, np.random.default_rng(0))


# ------------------------------------------------------------ matrix builders: every number bounded


def test_every_numeric_matrix_parameter_is_bounded_or_harmless():
    data = random_interactions(30, 20, seed=5)
    checked = 0
    from recframe.builtin import matrix_builders

    for cls in (
        matrix_builders.RatingsMatrixBuilder, matrix_builders.BinaryMatrixBuilder, BM25MatrixBuilder,
        matrix_builders.TFIDFMatrixBuilder, LogConfidenceMatrixBuilder,
    ):
        for field in cls.Config.model_fields:
            if field == "duplicates":
                continue
            for extreme in (1e308, -1e308, 1e-308, 0.0, 10**18):
                try:
                    builder = cls(**{field: extreme})
                except (ValidationError, ValueError):
                    continue
                checked += 1
                try:
                    matrix = builder.build(data)
                except (DataError, ConfigError) as exc:  # a clear refusal, naming the parameter
                    assert f"matrix.{field}" in str(exc), (cls, field, exc)
                    continue
                assert np.isfinite(matrix.matrix.data).all(), (cls, field, extreme)
    assert checked  # some values in range were built


@pytest.mark.parametrize(
    "override",
    ["matrix.k1=1e308", "matrix.k1=1e5", "matrix.b=2", "matrix.alpha=1e-300", "matrix.epsilon=1e-300",
     "matrix.epsilon=1e300", "matrix.default_value=0", "matrix.default_value=1e308"],
)
def test_out_of_range_matrix_parameters_exit_2_naming_the_parameter(small, capsys, override):
    kind = {"k1": "bm25", "b": "bm25", "alpha": "log_confidence", "epsilon": "log_confidence"}
    field = override.split("=")[0].split(".")[1]
    code, err, _ = run(small, capsys, f"matrix.type={kind.get(field, 'ratings')}", override)
    assert code == 2, err
    assert f"--set matrix.{field}:" in err and "rescale the ratings" not in err


def test_an_overflow_caused_by_the_parameters_names_them():
    data = Interactions([1, 1, 2], [1, 2, 2], values=[2.0, 3.0, 4.0])
    # bounds bypassed, as by a subclass or an older bound: the check itself tells parameter from data
    bm25 = BM25MatrixBuilder(BM25Config.model_construct(k1=1e308, b=0.75, duplicates="sum"))
    with pytest.raises(ConfigError, match=r"matrix 'bm25': matrix\.k1=1e\+308 makes weights overflow.*default k1=1\.2"):
        bm25.build(data)
    log = LogConfidenceMatrixBuilder(LogConfidenceConfig.model_construct(alpha=1.0, epsilon=5e-324, duplicates="sum"))
    with pytest.raises(ConfigError, match=r"matrix\.epsilon=5e-324 makes weights overflow"):
        log.build(data)
    # the ratings, not the parameters: still a data error about the ratings column
    huge = Interactions([1, 1, 2], [1, 2, 2], values=[1e308, 1e308, 4.0])
    with pytest.raises(DataError, match="the ratings column has values too large"):
        BM25MatrixBuilder().build(huge)
    assert math.isfinite(BM25MatrixBuilder(k1=1e4).build(data).matrix.data.max())
