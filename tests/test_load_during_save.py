"""A load while a save replaces the same folder reads one save whole: never a mix, never a false alarm.

A save swaps a new folder into the path and deletes the old one. The load opens the folder once
and every file relative to it (:class:`recframe.artifacts.opened_folder.OpenedFolder`): a save
after the files are open leaves the load the old model whole; one that deletes the folder
before they are open makes the load start again on the new model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import Interactions, Recommender
from recframe.artifacts import ModelFileError, opened_folder, read_manifest
from recframe.artifacts.opened_folder import FolderReplaced, OpenedFolder
from recframe.builtin.rankers import ItemCFRanker
from recframe.builtin.similarity import SparseSimilarity
from recframe.testing import random_interactions

BASE = random_interactions(80, 40, density=0.1, seed=5)


def _model(flip: bool) -> Recommender:
    """One of two models of the same shape (the second with some ratings turned around)."""
    values = np.where(np.arange(len(BASE)) % 3 == 0, 6 - BASE.values, BASE.values) if flip else BASE.values
    data = Interactions(BASE.users, BASE.items, values, BASE.timestamps)
    return Recommender(similarity=SparseSimilarity(k=4), ranker=ItemCFRanker(n=3)).fit(data)


def _answers(rec: Recommender) -> bytes:
    lists = rec.recommend(list(BASE.users[:30]), 3)
    return lists.ids.tobytes() + np.nan_to_num(lists.scores).tobytes()


def _save_during(monkeypatch: pytest.MonkeyPatch, step: str, saves: Callable[[], None]) -> None:
    """Run `saves` once, right after the load's first call of ``OpenedFolder.<step>``."""
    real = getattr(OpenedFolder, step)
    done: list[bool] = []

    def then_save(self: OpenedFolder, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        if not done:
            done.append(True)
            saves()
        return result

    monkeypatch.setattr(OpenedFolder, step, then_save)


@pytest.mark.parametrize("verify", [True, False])
@pytest.mark.parametrize("mmap", [True, False])
def test_a_save_before_the_files_are_open_gives_the_new_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verify: bool, mmap: bool
) -> None:
    old, new = _model(False), _model(True)
    path = old.save(tmp_path / "model")
    _save_during(monkeypatch, "manifest", lambda: new.save(path))  # the old folder is deleted: start again
    loaded = Recommender.load(path, verify=verify, mmap=mmap)
    assert loaded.data_fingerprint == new.data_fingerprint
    assert _answers(loaded) == _answers(new)


@pytest.mark.parametrize("mmap", [True, False])
def test_a_save_after_the_files_are_open_leaves_the_old_model_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mmap: bool
) -> None:
    old, new = _model(False), _model(True)
    path = old.save(tmp_path / "model")
    _save_during(monkeypatch, "open_files", lambda: new.save(path))  # deleted, but every file is open
    loaded = Recommender.load(path, mmap=mmap)
    assert loaded.data_fingerprint == old.data_fingerprint
    assert _answers(loaded) == _answers(old)
    assert Recommender.load(path).data_fingerprint == new.data_fingerprint


def test_a_folder_replaced_at_every_try_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = [_model(False), _model(True)]
    path = models[0].save(tmp_path / "model")
    real = OpenedFolder.manifest
    saves: list[int] = []

    def always_saved(self: OpenedFolder) -> dict[str, Any]:
        manifest = real(self)
        saves.append(1)
        models[len(saves) % 2].save(path)
        return manifest

    monkeypatch.setattr(OpenedFolder, "manifest", always_saved)
    with pytest.raises(ModelFileError, match="was replaced 3 times while being loaded"):
        Recommender.load(path)


def test_the_files_of_a_loaded_model_are_closed(tmp_path: Path) -> None:
    path = _model(False).save(tmp_path / "model")
    with OpenedFolder(path) as folder:
        folder.open_files(folder.manifest()["files"], checksums=True)
        assert folder.replaced() is False
    assert folder._files == {} and folder._root is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_in_a_files_place_is_refused_without_waiting(tmp_path: Path) -> None:
    path = _model(False).save(tmp_path / "model")
    victim = next((path / "arrays").iterdir())
    victim.unlink()
    os.mkfifo(victim)  # opening it to read would wait for a writer forever
    with pytest.raises(ModelFileError, match="is not a regular file; the folder was altered"):
        Recommender.load(path)


def test_the_manifest_of_a_folder_replaced_at_every_try_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _model(False).save(tmp_path / "model")

    def replaced(self: OpenedFolder) -> Any:
        raise FolderReplaced(self.path)

    monkeypatch.setattr(OpenedFolder, "manifest", replaced)
    with pytest.raises(ModelFileError, match="was replaced 3 times while its manifest was being read"):
        read_manifest(path)


def test_where_files_cant_be_opened_inside_a_folder_they_are_opened_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows: the same load and checks, by path."""
    monkeypatch.setattr(opened_folder, "_RELATIVE", False)
    model = _model(False)
    path = model.save(tmp_path / "model")
    assert _answers(Recommender.load(path)) == _answers(model)
    first = sorted((path / "arrays").iterdir())[0]
    first.write_bytes(first.read_bytes()[:-1])
    with pytest.raises(ModelFileError, match="the file was altered"):
        Recommender.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_in_the_manifests_place_is_refused(tmp_path: Path) -> None:
    path = _model(False).save(tmp_path / "model")
    (path / "manifest.json").unlink()
    os.mkfifo(path / "manifest.json")
    with pytest.raises(ModelFileError, match=r"manifest\.json: is not a regular file"):
        Recommender.load(path)


@pytest.mark.skipif(not hasattr(os, "O_PATH"), reason="a folder one may enter but not list is opened by path there")
def test_folders_one_may_enter_but_not_list_are_still_opened_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for a user without read permission on them (simulated: the tests may run as root)."""
    real_open = os.open

    def no_listing(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_DIRECTORY and not flags & os.O_PATH:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args, **kwargs)

    old, new = _model(False), _model(True)
    path = old.save(tmp_path / "model")
    monkeypatch.setattr(os, "open", no_listing)
    _save_during(monkeypatch, "open_files", lambda: new.save(path))
    loaded = Recommender.load(path)
    assert loaded.data_fingerprint == old.data_fingerprint and _answers(loaded) == _answers(old)
