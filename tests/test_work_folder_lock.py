"""A save under way is never removed as a leftover by who takes the folder's lock (found by an outside review).

``Recommender.save`` and ``recframe update --output`` take no lock, and their work folder is named
as a killed save's would be: ``model_lock`` removed it while it was written, and the save then
either failed or put a half-deleted model in place, reporting success.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from recframe import Recommender
from recframe.artifacts import model_lock
from recframe.artifacts.model_files import WORK_TAG, leftovers
from recframe.artifacts.work_folder_lock import holding, unused

pytestmark = pytest.mark.skipif(os.name == "nt", reason="no flock on Windows: nothing is locked there")


def _work_folder(model: Path, tag: str, kind: str = "partial") -> Path:
    folder = model.parent / f".{model.name}.{WORK_TAG}{tag}.{kind}"
    folder.mkdir()
    (folder / "half.npy").write_bytes(b"written")
    return folder


def test_a_held_work_folder_is_kept_and_a_dead_one_removed(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    live, dead = _work_folder(model, "live0000"), _work_folder(model, "dead0000", "old")
    assert leftovers(model) == sorted([live, dead])
    with holding(live):
        with unused(live) as free:
            assert not free
        with model_lock(model):
            pass
        assert (live / "half.npy").read_bytes() == b"written"
        assert not dead.exists()
    with unused(live) as free:  # its save ended (or was killed): the lock went with it
        assert free
    with model_lock(model):
        pass
    assert not live.exists()


def test_holding_a_work_folder_a_remover_took_fails() -> None:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    folder.rmdir()
    with pytest.raises(FileNotFoundError), holding(folder):
        pass
    with unused(folder) as free:
        assert not free  # nothing left to remove


def test_a_save_over_a_model_survives_the_lock_taken_meanwhile(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    events = {"user": rng.integers(0, 60, 900), "item": rng.integers(0, 40, 900), "rating": rng.integers(1, 6, 900)}
    config = {"matrix": {"type": "ratings", "duplicates": "last"}, "ranker": {"type": "item_cf", "n": 5}}
    first = Recommender.from_config(config).fit({name: values[:600] for name, values in events.items()})
    second = Recommender.from_config(config).fit(events)
    model = tmp_path / "model"
    first.save(model)

    import recframe.artifacts.model_files as files

    real = files._put_in_place
    locked = threading.Event()

    def take_lock() -> None:
        with model_lock(model):
            locked.set()

    def lock_taken_meanwhile(temporary: Path, path: Path) -> None:
        # the model is written, not yet in place: another process's in-place update starts now
        thread = threading.Thread(target=take_lock)
        thread.start()
        thread.join(timeout=60)
        real(temporary, path)

    files._put_in_place = lock_taken_meanwhile  # type: ignore[assignment]
    try:
        second.save(model)
    finally:
        files._put_in_place = real  # type: ignore[assignment]
    assert locked.is_set()
    loaded = Recommender.load(model)
    assert loaded.lineage[0]["events"] == 900
    got, want = loaded.recommend(np.arange(10), 5), second.recommend(np.arange(10), 5)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.scores, want.scores)
