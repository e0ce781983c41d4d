"""The check that a server the tests share is started by one pytest-xdist worker of a run only."""

from __future__ import annotations

import uuid

import pytest
from one_worker import claim


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, tmp_path):
    """A pytest-xdist run of its own (its id), its marks in a temporary folder of the test."""
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)
    return tmp_path


def test_the_first_worker_to_start_a_server_may_start_it_again(run, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    with claim("Ray cluster"), claim("PostgreSQL server"):  # another server: another mark
        assert len(list(run.iterdir())) == 2
    assert not list(run.iterdir())  # the marks go when the servers stop
    with claim("Ray cluster"):  # started again later, by any worker
        pass


def test_a_second_worker_starting_the_same_server_fails_naming_the_cause(run, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    with claim("Ray cluster"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
        apart = r"Ray cluster ran on pytest-xdist workers gw0 and gw1"
        with pytest.raises(pytest.fail.Exception, match=apart) as failed, claim("Ray cluster"):
            pass
        assert "pytest-dev/pytest-xdist#1386" in str(failed.value)
        assert len(list(run.iterdir())) == 1  # the first worker's mark stays while its cluster runs


def test_another_run_may_start_it_on_any_worker(run, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    with claim("Ray cluster"):
        monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)
        monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
        with claim("Ray cluster"):
            pass


def test_outside_pytest_xdist_nothing_is_checked(run, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    with claim("Ray cluster"), claim("Ray cluster"):
        assert not list(run.iterdir())
