"""TaskThreads: a kernel's tasks side by side on a few threads, results in task order, errors raised as they are."""

from __future__ import annotations

import threading

import pytest

from recframe.engine.tasks import TaskThreads


def test_results_come_back_in_task_order_from_tasks_run_at_once() -> None:
    both_started = threading.Barrier(2, timeout=10)  # fails unless two tasks run at the same time

    def task(number: int, scale: int) -> tuple[int, str]:
        if number < 2:
            both_started.wait()
        return number * scale, threading.current_thread().name

    with TaskThreads(2) as threads:
        results = threads.run(task, 5, 10)
    assert [value for value, _ in results] == [0, 10, 20, 30, 40]
    assert {name for _, name in results[:2]} == {"recframe-tasks_0", "recframe-tasks_1"}


def test_one_thread_or_one_task_runs_in_the_calling_thread() -> None:
    caller = threading.current_thread().name
    with TaskThreads(1) as threads:
        assert threads.run(lambda task: threading.current_thread().name, 3) == [caller] * 3
    with TaskThreads(4) as threads:
        assert threads.run(lambda task: threading.current_thread().name, 1) == [caller]
        assert threads.run(lambda task: task, 0) == []


def test_a_failing_task_is_raised_the_pool_serves_on_and_leaving_it_ends_its_threads() -> None:
    def task(number: int) -> int:
        if number == 1:
            raise MemoryError("task 1")
        return number

    with TaskThreads(2) as threads:
        with pytest.raises(MemoryError, match="task 1"):
            threads.run(task, 6)
        assert threads.run(task, 1) == [0]
        assert threads.run(lambda number: number, 3) == [0, 1, 2]
        started = [t for t in threading.enumerate() if t.name.startswith("recframe-tasks")]
    assert started
    assert not any(t.is_alive() for t in started)
