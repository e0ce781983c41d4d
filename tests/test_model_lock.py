"""Changes of one model folder at once run one after the other: none undoes another (``model_lock``).

``recframe update`` and ``recframe forget`` in place, and the service's ``"save": true``, load a model
folder, change the model and save it over the folder; without a lock, the last save of two at once
silently drops the other's change (a forgotten user could come back).
"""

from __future__ import annotations

import errno
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import Recommender
from recframe.artifacts import ModelFileError, ModelFolderBusyError, model_lock
from recframe.cli import main
from recframe.serve.model import ModelHolder, ServedModel, UnsavedChangeError

fcntl = pytest.importorskip("fcntl", reason="model_lock takes no lock where the system has no flock (Windows)")

CONFIG: dict[str, Any] = {
    "seed": 4,
    "similarity": {"type": "sparse", "k": 8},  # no scikit-learn to import: a command starts faster
    "ranker": {"type": "item_cf", "n": 5, "fallback": None},
}
WAITING = "waiting for another update of"


def _events() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        "user": rng.integers(0, 40, 300),
        "item": rng.integers(0, 30, 300),
        "rating": rng.integers(1, 6, 300).astype(np.float64),
    }


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "model"
    Recommender.from_config(CONFIG).fit(_events()).save(folder)
    return folder


@pytest.fixture
def model(tmp_path: Path, saved: Path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    return copy


def _new_user_csv(path: Path, user: int) -> Path:
    """Write two events of the new user `user` (on items of the training data)."""
    path.write_text(f"user,item,rating\n{user},1,4.0\n{user},2,3.0\n")
    return path


def _users(folder: Path) -> set[int]:
    return set(Recommender.load(folder).interaction_matrix.users.ids.tolist())


def _changes_at_once(tmp_path: Path, folder: Path, commands: list[list[str]]) -> None:
    """Run `commands` (``recframe`` arguments) at once, while this test holds the folder's lock for a while.

    Each command must wait for the lock (its log says so) and leave the folder alone while it
    waits; once the lock is released, they run one after the other, and each must succeed.
    """
    logs = [tmp_path / f"command{i}.log" for i in range(len(commands))]
    procs = []
    with model_lock(folder):
        before = (folder / "manifest.json").read_bytes()
        for argv, log in zip(commands, logs, strict=True):
            with log.open("w") as stream:
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "recframe", *argv], stdout=subprocess.DEVNULL, stderr=stream
                    )
                )
        deadline = time.monotonic() + 30
        while not all(WAITING in log.read_text() for log in logs):
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in procs):
                break
            time.sleep(0.05)
        running = [proc.poll() is None for proc in procs]
        unchanged = (folder / "manifest.json").read_bytes() == before
    codes = [proc.wait(60) for proc in procs]
    texts = [log.read_text() for log in logs]
    assert running == [True] * len(procs) and unchanged, texts  # each waited, changing nothing meanwhile
    assert codes == [0] * len(procs), texts
    assert all(f"{WAITING} {folder}" in text for text in texts), texts


def test_two_updates_in_place_at_once_both_apply(tmp_path: Path, model: Path) -> None:
    first = _new_user_csv(tmp_path / "first.csv", 1001)
    second = _new_user_csv(tmp_path / "second.csv", 1002)
    _changes_at_once(
        tmp_path, model, [["update", str(model), "--data", str(first)], ["update", str(model), "--data", str(second)]]
    )
    rec = Recommender.load(model)
    assert [entry["kind"] for entry in rec.lineage] == ["fit", "update", "update"]
    assert {1001, 1002} <= set(rec.interaction_matrix.users.ids.tolist())


def test_a_forget_and_an_update_at_once_both_apply(tmp_path: Path, model: Path) -> None:
    forgotten = int(_events()["user"][0])
    assert forgotten in _users(model)
    data = _new_user_csv(tmp_path / "new.csv", 1001)
    _changes_at_once(
        tmp_path, model, [["forget", str(model), "--user", str(forgotten)], ["update", str(model), "--data", str(data)]]
    )
    rec = Recommender.load(model)
    assert sorted(entry["kind"] for entry in rec.lineage) == ["fit", "forget", "update"]
    users = set(rec.interaction_matrix.users.ids.tolist())
    assert forgotten not in users and 1001 in users  # the forget was not undone by the update


def _try_lock(folder: Path) -> bool:
    """Return whether the lock on the folder `folder` is free (taking it and letting it go at once)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_a_second_holder_waits_until_the_first_lets_go(model: Path, caplog: pytest.LogCaptureFixture) -> None:
    held = threading.Event()
    done = threading.Event()

    def second() -> None:
        with model_lock(model):
            held.set()
        done.set()

    with caplog.at_level(logging.INFO, logger="recframe.artifacts.model_lock"), model_lock(model):
        assert not _try_lock(model)
        thread = threading.Thread(target=second)
        thread.start()
        assert not held.wait(0.3)
        assert f"{WAITING} {model}" in caplog.text
    assert held.wait(10) and done.wait(10)
    thread.join(10)
    assert _try_lock(model)  # let go on leaving the block


def test_the_lock_is_taken_on_the_folder_a_save_put_in_place_meanwhile(
    model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = threading.Event()
    release = threading.Event()
    inodes: list[int] = []

    def second() -> None:
        with model_lock(model):
            inodes.append(os.stat(model).st_ino)
            held.set()
            release.wait(10)

    before = os.stat(model).st_ino
    with caplog.at_level(logging.INFO, logger="recframe.artifacts.model_lock"):
        with model_lock(model):
            thread = threading.Thread(target=second)
            thread.start()
            deadline = time.monotonic() + 10
            while WAITING not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.01)
            assert WAITING in caplog.text  # it waits on the old folder ...
            rec = Recommender.load(model, mmap=False)
            rec.forget(users=[int(_events()["user"][0])])
            rec.save(model)  # ... which this save replaces
        assert os.stat(model).st_ino != before
        assert held.wait(10)
        try:
            assert inodes == [os.stat(model).st_ino]
            assert not _try_lock(model)  # the folder now at the path is the one locked
        finally:
            release.set()
            thread.join(10)
    assert _try_lock(model)


def test_a_missing_folder_is_a_model_file_error(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nothing: no such model folder"), model_lock(tmp_path / "nothing"):
        pass


def _update_events(user: int) -> dict[str, np.ndarray]:
    return {"user": np.array([user, user]), "item": np.array([1, 2]), "rating": np.array([4.0, 3.0])}


def test_the_service_saves_twice_in_a_row(model: Path) -> None:
    holder = ModelHolder.from_path(model)
    for user in (1001, 1002):
        served = holder.change(lambda current, u=user: current.recommender.update(_update_events(u)), save=True)
        saved = Recommender.load(model)
        assert served.saved_id == saved.save_id is not None
        assert saved.data_fingerprint == served.recommender.data_fingerprint
    assert {1001, 1002} <= _users(model)
    assert [entry["kind"] for entry in Recommender.load(model).lineage] == ["fit", "update", "update"]


def test_the_service_does_not_save_over_a_model_another_process_saved(model: Path) -> None:
    holder = ModelHolder.from_path(model)
    forgotten = int(_events()["user"][0])
    other = Recommender.load(model, mmap=False)  # another process (recframe forget) changes the folder
    other.forget(users=[forgotten])
    other.save(model)
    with pytest.raises(UnsavedChangeError) as info:
        holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
    message = str(info.value)
    assert f"serves the change, but it was not saved in {model}" in message
    assert "the folder holds another model" in message and "POST /reload" in message
    assert 1001 in holder.current.recommender.interaction_matrix.users.ids.tolist()  # served
    saved = Recommender.load(model)
    assert saved.data_fingerprint == other.data_fingerprint  # the other process's model stays
    assert forgotten not in _users(model) and 1001 not in _users(model)
    with pytest.raises(UnsavedChangeError, match="holds another model"):  # still refused: nothing was reloaded
        holder.change(lambda current: current.recommender.update(_update_events(1002)), save=True)
    holder.reload()
    holder.change(lambda current: current.recommender.update(_update_events(1003)), save=True)
    assert forgotten not in _users(model) and 1003 in _users(model)


def test_the_service_does_not_save_over_a_refit_of_the_same_data(model: Path) -> None:
    """The same data fingerprint, another model (a nightly refit with another k): another save."""
    holder = ModelHolder.from_path(model)
    Recommender.from_config({**CONFIG, "similarity": {"type": "sparse", "k": 2}}).fit(_events()).save(model)
    assert Recommender.load(model).data_fingerprint == holder.current.recommender.data_fingerprint
    with pytest.raises(UnsavedChangeError, match="holds another model"):
        holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
    assert Recommender.load(model).similarity.config.k == 2  # the refit stays


def test_the_service_answers_500_with_the_reason(model: Path) -> None:
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    from live_server import Server

    from recframe.serve import create_app

    with Server(create_app(model)) as server:
        other = Recommender.load(model, mmap=False)
        other.forget(users=[int(_events()["user"][0])])
        other.save(model)
        body = {"users": [1001], "items": [1], "ratings": [4.0], "save": True}
        status, answer = server.call("POST", "/update", body)
        assert status == 500 and "the folder holds another model" in answer["error"], answer
        status, info = server.call("GET", "/model")
        assert info["updates"] == 1  # served
    assert Recommender.load(model).data_fingerprint == other.data_fingerprint


def test_the_lock_taken_again_in_the_same_thread_is_counted_not_waited_for(model: Path) -> None:
    done = threading.Event()

    def nested() -> None:
        with model_lock(model), model_lock(model), model_lock(model / "."):  # the same folder three times
            pass
        with model_lock(model):  # and again once they are left
            done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    assert done.wait(10), "a lock taken twice in one thread waited for itself"
    thread.join(10)  # out of the last block
    assert _try_lock(model)


def test_a_folder_that_never_stays_put_is_locked_as_last_found(
    model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    module = importlib.import_module("recframe.artifacts.model_lock")  # the package's name is the function
    monkeypatch.setattr(module, "same_folder", lambda folder, fd: False)  # stat and fstat never agree
    with caplog.at_level(logging.WARNING), model_lock(model):
        assert not _try_lock(model)
    assert "kept being replaced" in caplog.text
    assert _try_lock(model)


def test_a_service_save_waits_for_the_lock_at_most_its_time(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recframe.serve.model.SAVE_WAIT_SECONDS", 0.3)
    holder = ModelHolder.from_path(model)
    before = Recommender.load(model).save_id
    held, release = threading.Event(), threading.Event()

    def long_update() -> None:  # another holder: a recframe update that takes its time
        with model_lock(model):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=long_update)
    thread.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(UnsavedChangeError, match="held its lock too long"):
            holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
        assert time.monotonic() - started < 5
    finally:
        release.set()
        thread.join(10)
    assert Recommender.load(model).save_id == before
    holder.change(lambda current: current.recommender.update(_update_events(1002)), save=True)  # free again
    assert {1001, 1002} <= _users(model)


def test_the_metadata_of_a_model_saved_over_since_its_load_is_its_own(model: Path) -> None:
    """GET /model of a load that a save overtook: not the next save's saved_at and components."""
    rec = Recommender.load(model)
    Recommender.from_config({**CONFIG, "similarity": {"type": "sparse", "k": 2}}).fit(_events()).save(model)
    served = ServedModel.of(rec, model, saved_id=rec.save_id)
    assert served.metadata["saved_at"] is None  # not known: not the folder's newer save's
    similarity = next(c for c in served.metadata["components"] if c["role"] == "similarity")
    assert similarity["type"] == "sparse" and served.metadata["config"]["similarity"]["k"] == 8


def test_a_file_system_refusing_flock_changes_without_a_lock_and_says_so(
    model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", refused)  # as NFS may, for a folder open read-only
    with caplog.at_level(logging.WARNING), model_lock(model):
        pass
    assert "can't be locked (No locks available); changing it without a lock" in caplog.text


def test_a_save_right_after_the_services_own_is_not_taken_for_it(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the service's save has put a new folder in place, another program may lock and change it."""
    holder = ModelHolder.from_path(model)
    save = Recommender.save
    others: list[str | None] = []
    started: list[bool] = []

    def then_another(self: Recommender, path: Path, **kwargs: Any) -> Path:
        written = save(self, path, **kwargs)
        if not started:  # a recframe update that starts the moment the service's save is in place
            started.append(True)
            other = Recommender.load(model, mmap=False)
            other.update(_update_events(2002))
            thread = threading.Thread(target=lambda: others.append(_locked_save(other, model)))
            thread.start()
            thread.join(10)
        return written

    monkeypatch.setattr(Recommender, "save", then_another)
    served = holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
    assert others and served.saved_id != others[0]
    with pytest.raises(UnsavedChangeError, match="holds another model"):
        holder.change(lambda current: current.recommender.update(_update_events(1003)), save=True)
    assert 2002 in _users(model)  # the other program's change stays


def _locked_save(rec: Recommender, folder: Path) -> str | None:
    with model_lock(folder, timeout=5):
        rec.save(folder)
    return rec.save_id


def test_a_folder_saved_before_save_ids_is_told_by_its_data(model: Path) -> None:
    manifest = json.loads((model / "manifest.json").read_text())
    del manifest["save_id"]  # as a released recframe wrote it
    (model / "manifest.json").write_text(json.dumps(manifest))
    holder = ModelHolder.from_path(model)
    other = Recommender.load(model, mmap=False)
    other.update(_update_events(2002))
    other.save(model)
    with pytest.raises(UnsavedChangeError, match="holds another model"):
        holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
    assert 2002 in _users(model)


def test_the_metadata_of_a_change_refused_is_the_served_models(model: Path) -> None:
    holder = ModelHolder.from_path(model)
    Recommender.from_config({**CONFIG, "similarity": {"type": "sparse", "k": 2}}).fit(_events()).save(model)
    with pytest.raises(UnsavedChangeError):
        holder.change(lambda current: current.recommender.update(_update_events(1001)), save=True)
    assert holder.current.metadata["config"]["similarity"]["k"] == 8
    assert holder.current.metadata["saved_at"] is None


@pytest.mark.parametrize("timeout", [float("nan"), -1.0])
def test_a_timeout_that_is_no_wait_is_refused(model: Path, timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout must be a number of seconds"), model_lock(model, timeout=timeout):
        pass


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is a POSIX thing")
def test_a_child_forked_inside_a_block_does_not_count_its_parents_lock(model: Path) -> None:
    with model_lock(model):
        child = os.fork()
        if child == 0:  # the child: it must wait for the lock like any other process
            try:
                with model_lock(model, timeout=0.2):
                    os._exit(1)
            except ModelFolderBusyError:
                os._exit(0)
            os._exit(2)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_what_a_killed_save_left_is_removed_by_the_next_holder(
    model: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a save killed midway leaves its work folder beside the model: the new model half written,
    # or the old one half removed (a forget's events among them); the next holder of the lock removes it
    killed = (
        "import os, sys\nfrom pathlib import Path\nfrom recframe.artifacts.model_files import write_folder\n"
        "def fill(folder):\n    (folder / 'events.npy').write_bytes(b'old events')\n    os._exit(9)\n"
        "write_folder(Path(sys.argv[1]), fill)\n"
    )
    assert subprocess.run([sys.executable, "-c", killed, str(model)], check=False).returncode == 9
    (left,) = [path for path in tmp_path.iterdir() if path.name.endswith(".partial")]
    assert left.name.startswith(".model.recframe-save-") and (left / "events.npy").exists()
    other = tmp_path / ".models.recframe-save-abcdefgh.partial"  # another folder's (model"s"): kept
    other.mkdir()
    link = tmp_path / ".model.recframe-save-abcdefgh.old"  # not a folder: kept
    link.symlink_to(other)
    # the user's own folders, named as mkdtemp would name them but without recframe's tag: kept, with their files
    users_own = [tmp_path / ".model.20240101.old", tmp_path / ".model.backup_1.partial"]
    for folder in users_own:
        folder.mkdir()
        (folder / "notes.txt").write_text("precious")
    data = _new_user_csv(tmp_path / "new.csv", 900)
    assert main(["-q", "update", str(model), "--data", str(data)]) == 0  # the next holder: here, in this process
    assert not left.exists() and other.is_dir() and link.is_symlink()
    assert all((folder / "notes.txt").read_text() == "precious" for folder in users_own)
    assert 900 in _users(model)
    (tmp_path / ".model.recframe-save-12345678.old").mkdir()
    with caplog.at_level(logging.WARNING, logger="recframe.artifacts.model_lock"), model_lock(model):
        assert not (tmp_path / ".model.recframe-save-12345678.old").exists()
    assert any("removed what an interrupted save left there" in record.message for record in caplog.records)
    assert all(folder.is_dir() for folder in users_own)
