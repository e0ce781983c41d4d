"""``benchmarks.run`` measures the methods in rounds, and a failed run costs only that method's row.

The processes are faked (``measure``), so this runs in milliseconds: what is checked is the
order of the runs, which methods run again after a failure, and the table drawn from them.
"""

from __future__ import annotations

import pytest

import benchmarks.run as bench


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    outcomes = {
        "implicit": [10.0, 12.0, 11.0],
        "fast": [1.0, 1.2, 1.1],
        "broken": [],  # its first run fails: not run again
        "flaky": [2.0, None],  # its second run fails: its first still counts
    }

    def measure(shape: str, task: str, method: str, k: int, out: object) -> dict[str, object]:
        run = sum(1 for name in made if name == method)
        made.append(method)
        seconds = outcomes[method][run] if run < len(outcomes[method]) else None
        if seconds is None:
            return {"error": f"{method} failed"}
        return {"seconds": seconds, "cpu_seconds": seconds, "peak_rss_mb": 100.0, "baseline_rss_mb": 90.0}

    facts = {"users": 10, "items": 5, "interactions": 30, "max_user_degree": 4, "item_item_work": 1e3}
    monkeypatch.setattr(bench, "measure", measure)
    monkeypatch.setattr(bench, "load_matrix", lambda shape: None)
    monkeypatch.setattr(bench, "describe", lambda matrix: facts)
    monkeypatch.setattr(bench, "agreement", lambda *args: "agrees")
    return made


def test_methods_run_in_rounds_and_a_failure_stops_only_its_method(
    calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--repeats", "3", "--methods", "implicit,fast,broken,flaky,fast"]) == 0
    assert calls == [
        *("implicit", "fast", "broken", "flaky"),  # round 1 ("fast" named twice runs once a round)
        *("implicit", "fast", "flaky"),  # "broken" failed: a method that failed is not run again
        *("implicit", "fast"),
    ]
    table = capsys.readouterr().out
    assert "| implicit | 11.00 | 10.00-12.00 |" in table and "| 1.00 | reference |" in table
    assert "| fast | 1.10 | 1.00-1.20 | 1.1 | 100 | 10 | 0.10 | agrees |" in table
    assert "| broken | broken failed |" in table
    assert "| flaky (1 of 2 runs failed) | 2.00 | 2.00-2.00 |" in table
