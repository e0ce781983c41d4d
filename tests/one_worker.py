"""Make sure a server that tests share is started by one pytest-xdist worker of a run only.

The tests of a server (the Ray cluster, PostgreSQL) carry ``xdist_group`` marks so that
``--dist loadgroup`` runs them on one worker, which starts the server once. Under pytest 9.2
pytest-xdist no longer groups them (pytest-dev/pytest-xdist#1386): each worker then started a
server of its own, silently (slower, and on two cores a contention no test is written for).
pyproject.toml keeps pytest below 9.2; :func:`claim` turns the same fault, under any version,
into a failure that names it, before the second server starts.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def claim(server: str) -> Iterator[None]:
    """Fail unless this is the only pytest-xdist worker of the run to start `server` while it runs.

    The worker that starts it leaves its name in a file of the run (pytest-xdist's
    ``PYTEST_XDIST_TESTRUNUID``) in the temporary folder, removed when the server stops; another
    worker finding the file fails. Outside pytest-xdist nothing is checked.
    """
    run, worker = os.environ.get("PYTEST_XDIST_TESTRUNUID"), os.environ.get("PYTEST_XDIST_WORKER")
    if not run or not worker:
        yield
        return
    mark = Path(tempfile.gettempdir()) / f"recframe-tests-{run}-{server.replace(' ', '-')}"
    try:
        with mark.open("x", encoding="utf-8") as written:
            written.write(worker)
    except FileExistsError:
        first = mark.read_text(encoding="utf-8")
        pytest.fail(
            f"the tests of the {server} ran on pytest-xdist workers {first} and {worker}, each starting a {server} of "
            f"its own: --dist loadgroup did not group their xdist_group mark (pytest {pytest.__version__}; see "
            'pytest-dev/pytest-xdist#1386). Install the test extra again (python3 -m pip install -e ".[test]")',
            pytrace=False,
        )
    try:
        yield
    finally:
        mark.unlink(missing_ok=True)
