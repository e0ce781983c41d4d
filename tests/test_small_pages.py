"""Updates allocate without numpy's huge-page request, and give it back as it was."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from recframe import Recommender
from recframe.recommender import small_pages as pages
from recframe.testing import random_interactions


def _requested() -> bool:
    """numpy's current setting (read by setting it back to what it was)."""
    switch = pages._switch()
    assert switch is not None
    before = switch(True)
    switch(before)
    return bool(before)


@pytest.fixture
def huge_pages_on():
    if pages._switch() is None:
        pytest.skip("this numpy has no huge-page switch")
    switch = pages._switch()
    before = switch(True)
    yield
    switch(before)


def test_the_block_turns_the_request_off_and_back_on(huge_pages_on) -> None:
    with pages.small_pages():
        assert not _requested()
        with pages.small_pages():
            assert not _requested()
        assert not _requested()  # the outer block still runs
    assert _requested()


def test_an_error_restores_the_request(huge_pages_on) -> None:
    with pytest.raises(RuntimeError), pages.small_pages():
        raise RuntimeError
    assert _requested()


def test_a_setting_that_was_off_stays_off(huge_pages_on) -> None:
    pages._switch()(False)
    with pages.small_pages():
        assert not _requested()
    assert not _requested()


def test_concurrent_blocks_restore_once_the_last_one_ends(huge_pages_on) -> None:
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with pages.small_pages():
            inside.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(10)
    with pages.small_pages():
        pass
    assert not _requested()  # the other thread's block is still open
    release.set()
    worker.join(10)
    assert _requested()


def test_update_and_forget_run_inside_the_block(huge_pages_on, monkeypatch) -> None:
    seen: list[bool] = []
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=1))
    original = rec._updated_state

    def spy(*args, **kwargs):
        seen.append(_requested())
        return original(*args, **kwargs)

    monkeypatch.setattr(rec, "_updated_state", spy)
    rec.update({"user": [1, 70], "item": [9, 16], "rating": [1.0, 2.0], "timestamp": [1.7e9, 1.7e9]})
    rec.forget(users=[4])
    assert seen == [False, False]
    assert _requested()
    assert np.isfinite(rec.recommend([70], n=3).scores).all()
