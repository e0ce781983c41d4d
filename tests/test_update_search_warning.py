"""An update that searches much of a graph again says why, once per process (issue 14's cost on flat data).

Data without neighbourhoods (every item drawn at random) has each row's similarities close
together, so an update leaves many rows fewer than ``k`` certain neighbours and searches them
again: the update then costs a good part of a fit, and the log says so and names the setting
that helps (``similarity.update_slack``).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recframe import Interactions, Recommender
from recframe.recommender import updating

N_ITEMS = 1200


def _events(rng: np.random.Generator, n_users: int, per_user: int, first_user: int = 0) -> Interactions:
    users = np.repeat(np.arange(first_user, first_user + n_users), per_user)
    items = np.concatenate([rng.choice(N_ITEMS, per_user, replace=False) for _ in range(n_users)])
    return Interactions(users, items, rng.integers(1, 6, len(users)).astype(np.float64))


def _model(slack: int, n_items: int = N_ITEMS) -> tuple[Recommender, Interactions]:
    rng = np.random.default_rng(3)
    base = _events(rng, 600, 40)
    if n_items < N_ITEMS:
        base = base.take(base.items < n_items)
    config = {
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "k": 20, "update_slack": slack},
        "ranker": {"type": "item_cf", "n": 5},
    }
    added = _events(rng, 150, 40, first_user=600)
    if n_items < N_ITEMS:
        added = added.take(added.items < n_items)
    return Recommender.from_config(config).fit(base), added


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(updating, "_WARNED_OF_SEARCHES", set())


def _searched(rec: Recommender) -> int:
    return int(rec.lineage[-1]["neighbours"]["items"]["rows_searched"])


def test_many_rows_searched_warn_once_then_inform(caplog: pytest.LogCaptureFixture) -> None:
    rec, added = _model(slack=0)
    caplog.set_level(logging.INFO, logger="recframe.recommender.updating")
    rec.update(added)
    searched = _searched(rec)
    assert searched > updating.SEARCHED_MUCH * N_ITEMS  # the data is flat: most rows searched again
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "searched" in r.getMessage()]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert f"searched {searched} of the {N_ITEMS} item rows again" in message
    assert "similarity.update_slack (now 0)" in message
    caplog.clear()
    rng = np.random.default_rng(5)
    rec.update(_events(rng, 150, 40, first_user=750))
    assert _searched(rec) > updating.SEARCHED_MUCH * N_ITEMS
    said = [r for r in caplog.records if "searched" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.INFO]  # said once per process as a warning


def test_few_rows_searched_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    rec, added = _model(slack=0)
    caplog.set_level(logging.INFO, logger="recframe.recommender.updating")
    rec.update(added.take(np.arange(len(added)) < 3))  # three events: a few rows at most
    assert _searched(rec) <= updating.SEARCHED_MUCH * N_ITEMS
    assert not [r for r in caplog.records if "searched" in r.getMessage() and "rows again" in r.getMessage()]


def test_small_graphs_never_warn(caplog: pytest.LogCaptureFixture) -> None:
    rec, added = _model(slack=0, n_items=300)
    caplog.set_level(logging.INFO, logger="recframe.recommender.updating")
    rec.update(added)
    assert _searched(rec) > updating.SEARCHED_MUCH * 300  # as flat, but the search is cheap
    assert not [r for r in caplog.records if "rows again" in r.getMessage()]
