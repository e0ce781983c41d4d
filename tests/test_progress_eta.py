"""Progress bars with rate and ETA, the compile notice, and preflight estimates (issue 11, defects 6 and 7)."""

from __future__ import annotations

import io
import logging
import re

import pytest

from recframe import Recommender
from recframe.builtin.similarity import SklearnNNSimilarity, SparseSimilarity
from recframe.interfaces import ResourceEstimate
from recframe.progress import (
    _draw,
    eta,
    format_duration,
    format_rate,
    progress,
    show_progress,
    status_text,
)
from recframe.recommender.preflight import capped_k, estimate_seconds, human_seconds, preflight

# --------------------------------------------------------------------------- ETA formatting


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.4, "0s"), (41.6, "42s"), (59.4, "59s"), (60, "1m00s"), (185, "3m05s"), (3600, "1h00m"),
     (7620, "2h07m"), (-3, "0s")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("rate", "text"),
    [(0.25, "0.2 rows/s"), (7.5, "7.5 rows/s"), (850, "850 rows/s"), (12_500, "12.5k rows/s"),
     (250_000, "250k rows/s"), (3.1e6, "3.1M rows/s"), (2e9, "2.0G rows/s")],
)
def test_format_rate(rate, text):
    assert format_rate(rate, "rows") == text


def test_eta_is_the_work_left_at_the_rate_so_far():
    assert eta(250, 1000, 5.0) == pytest.approx(15.0)
    assert eta(1000, 1000, 5.0) == 0.0
    assert eta(0, 1000, 5.0) is None  # no rate yet
    assert eta(10, None, 5.0) is None  # no total


def test_status_text_shows_elapsed_rate_and_eta():
    assert status_text(250, 1000, "rows", 5.0) == "[5s, 50 rows/s, ETA 15s]"
    assert status_text(1000, 1000, "rows", 5.0) == "[5s, 200 rows/s]"  # done: no ETA
    assert status_text(300, None, "rows", 2.0) == "[2s, 150 rows/s]"  # unknown total: no ETA
    assert status_text(0, 1000, "rows", 0.0) == "[0s]"


def test_a_bar_redraws_over_a_longer_one():
    stream = io.StringIO()
    first = _draw(stream, "neighbours", 10, 1000, "rows", 1.0)
    _draw(stream, "neighbours", 999, 1000, "rows", 1.5, first)
    lines = stream.getvalue().split("\r")[1:]
    assert lines[0] == "neighbours:   1% |------------------------| 10/1000 rows [1s, 10 rows/s, ETA 1m39s]"
    assert lines[1].startswith("neighbours: 100% |####################") and len(lines[1]) >= len(lines[0])


def test_a_forced_bar_shows_rate_and_eta(capsys, monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    monkeypatch.setattr("recframe.progress.time.monotonic", lambda: next(clock))
    with show_progress(True):
        assert list(progress(range(4), total=4, desc="scoring", unit="users")) == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "scoring:  25% |######------------------| 1/4 users [1s, 1.0 users/s, ETA 3s]" in err
    assert "scoring: 100% |########################| 4/4 users [4s, 1.0 users/s]" in err


def test_no_bar_and_no_eta_when_piped_or_quiet(capsys):
    list(progress(range(3), total=3, desc="x"))  # captured stderr is no terminal
    with show_progress(False):
        list(progress(range(3), total=3, desc="x"))
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- compile notice


def test_the_compile_notice_appears_once_and_only_for_recframe_kernels(monkeypatch, caplog):
    numba = pytest.importorskip("numba")
    from recframe import progress as progress_module

    monkeypatch.setitem(progress_module._compile_state, "announced", False)
    monkeypatch.setitem(progress_module._compile_state, "announced_update", False)
    progress_module.announce_numba_compilation()
    progress_module.announce_numba_compilation()  # a second import adds no second listener

    def triple(x):
        return 3 * x

    def foreign(x):
        return x + 1

    triple.__module__ = "recframe._kernels_under_test"
    foreign.__module__ = "someone_else"
    with caplog.at_level(logging.INFO, logger="recframe.progress"):
        numba.njit(foreign)(1)  # another library's kernel: not announced
        assert caplog.records == []
        numba.njit(triple)(2)  # compiles: announced
        numba.njit(triple)(2.5)  # another compilation in the same process: not again
        compiled = numba.njit(triple)
        compiled(1)
        compiled(1)  # already compiled: no event at all
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert re.fullmatch(
        r"compiling the numba kernels \(once per install, ~\d+ s; later runs load them from the cache\)\.\.\.",
        messages[0],
    )

    def update_kernel(x):
        return x - 1

    from recframe.engine._compiled.delta import delta_lists

    assert delta_lists.py_func.__module__ == progress_module.UPDATE_KERNEL_MODULE  # the constant names the real one
    update_kernel.__module__ = progress_module.UPDATE_KERNEL_MODULE
    with caplog.at_level(logging.INFO, logger="recframe.progress"):
        numba.njit(update_kernel)(1)  # the update's kernel, after another: announced on its own
        numba.njit(update_kernel)(1.5)  # and once only
    assert [r.getMessage() for r in caplog.records][1:] == [
        "compiling the update's numba kernels (once per install, ~20 s; later runs load them from the cache)..."
    ]


# --------------------------------------------------------------------------- preflight estimates


def test_capped_k():
    assert capped_k(10**9, 12) == 11
    assert capped_k(5, 12) == 5
    assert capped_k(50, 1) == 1


@pytest.mark.parametrize("backend", ["sklearn_nn", "sparse"])
def test_a_huge_k_on_a_small_catalogue_is_not_refused(backend, caplog):
    config = {
        "data": {"type": "synthetic", "n_users": 30, "n_items": 12},
        "similarity": {"type": backend, "k": 10**9, "memory_limit_mb": 1},
        "ranker": {"type": "item_cf", "n": 5},
    }
    with caplog.at_level(logging.INFO, logger="recframe.recommender.preflight"):
        Recommender.from_config(config).fit()
    line = next(r.getMessage() for r in caplog.records if "item neighbours need about" in r.getMessage())
    assert "GB" not in line and "(under 1 core-second)" in line


@pytest.mark.parametrize("seconds", [0.0, 0.001, 0.4, 0.999])
def test_a_short_step_is_never_zero_core_seconds(seconds):
    assert human_seconds(seconds) == "under 1 core-second"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1.0, "up to ~1 core-second"), (12.4, "up to ~12 core-seconds"), (600, "up to ~10 core-minutes"),
     (7200, "up to ~2.0 core-hours")],
)
def test_human_seconds(seconds, text):
    assert human_seconds(seconds) == text


def test_the_logged_estimate_has_no_zero_seconds(caplog):
    with caplog.at_level(logging.INFO, logger="recframe.recommender.preflight"):
        preflight(ResourceEstimate(10, 1000, 1000), None, "similarity 'x'", "item neighbours", rows=10)
    (record,) = caplog.records
    assert "~0 core-seconds" not in record.getMessage()
    assert "(under 1 core-second)" in record.getMessage()


@pytest.mark.parametrize(
    ("multiply_adds", "rows", "measured"),
    [
        # recorded in docs/performance.md: the slowest built-in path of each shape, one core
        (55_562_174, 20_000, 11.5),  # 5000 users x 20000 items, item rows, scipy engine
        (14_265_020, 5_000, 2.0),  # the same data, user rows, scipy engine
        (455_562_174, 20_000, 22.2),  # item rows, sklearn_nn
        (20_044_030, 3_000, 1.05),  # 20000 users x 3000 items, item rows, scipy engine
    ],
)
def test_the_time_model_does_not_underestimate_the_recorded_measurements(multiply_adds, rows, measured):
    assert estimate_seconds(ResourceEstimate(multiply_adds, 0, 0), rows) >= measured


def test_backend_estimates_are_capped_by_the_caller_not_by_k():
    from recframe.builtin.matrix_builders import RatingsMatrixBuilder
    from recframe.testing import random_interactions

    rows = RatingsMatrixBuilder().build(random_interactions(n_users=40, n_items=12, density=0.3, seed=1)).item_major()
    for backend in (SklearnNNSimilarity(k=10**9), SparseSimilarity(k=10**9)):
        capped = backend.estimate(rows, k=capped_k(backend.config.k, rows.shape[0]))
        assert capped.output_bytes <= rows.shape[0] * 12 * 16
