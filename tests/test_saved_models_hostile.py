"""Hostile model folders (review issue 13): every altered folder is refused at load with ModelFileError.

Each case alters a saved model the way a reviewer did: malformed manifest values, a ranker
without its state, checksum-valid but inconsistent arrays, a linked ``arrays/`` folder, and
what ``save`` does to the folder's mode and to files a user put in it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from recframe import ConfigError, DataError, Interactions, Recommender
from recframe.artifacts import ModelFileError
from recframe.registry import PluginRegistry


def _saved(tmp_path: Path, tiny_interactions: Interactions, **sections: object) -> Path:
    config = {"matrix": {"type": "ratings"}, "similarity": {"type": "sparse", "k": 3}, **sections}
    registry = PluginRegistry.from_environment(entry_points=False)
    rec = Recommender.from_config(config, registry=registry).fit(tiny_interactions)
    return rec.save(tmp_path / "model")


def _manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "manifest.json").read_text())


def _alter(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    manifest = _manifest(path)
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _replace_array(path: Path, entry: str, array: np.ndarray, *, role: str | None = None) -> None:
    """Overwrite the file of state entry `entry` with `array`, fixing the manifest's size, sha256, shape and dtype."""
    manifest = _manifest(path)
    states = [c["state"] for c in manifest["components"] if "state" in c and (role is None or c["role"] == role)]
    states.append(manifest["recommender"]["state"])
    relative = next(s[entry]["array"] for s in states if entry in s)
    np.save(path / relative, array, allow_pickle=False)
    data = (path / relative).read_bytes()
    manifest["files"][relative] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    for state in states:
        for value in state.values():
            if isinstance(value, dict) and value.get("array") == relative:
                value["shape"], value["dtype"] = list(array.shape), array.dtype.str
    (path / "manifest.json").write_text(json.dumps(manifest))


def _first_array(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(v for c in manifest["components"] for v in c.get("state", {}).values() if "array" in v)


def _ranker(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in manifest["components"] if c["role"] == "ranker")


MANIFEST_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "string_shape": lambda m: _first_array(m).__setitem__("shape", "abc"),
    "dict_shape": lambda m: _first_array(m).__setitem__("shape", {"a": 1}),
    "array_is_list": lambda m: _first_array(m).__setitem__("array", ["x"]),
    "dtype_is_number": lambda m: _first_array(m).__setitem__("dtype", 5),
    "n_interactions_text": lambda m: m["data"].__setitem__("n_interactions", "lots"),
    "n_interactions_list": lambda m: m["data"].__setitem__("n_interactions", [1]),
    "fingerprint_number": lambda m: m["data"].__setitem__("fingerprint", 5),
    "ranker_state_removed": lambda m: _ranker(m).pop("state"),
    "ranker_state_json": lambda m: _ranker(m).__setitem__("state", {k: {"json": 5} for k in _ranker(m)["state"]}),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_malformed_manifest_values(case: str, tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)
    _alter(path, MANIFEST_EDITS[case])
    with pytest.raises(ModelFileError, match=r"manifest|state"):
        Recommender.load(path)


INCONSISTENT: dict[str, Callable[[Path], None]] = {
    "graph_index_too_large": lambda p: _replace_array(
        p, "neighbours.indices", np.full_like(np.load(p / _arr(p, "neighbours.indices")), 10**6)
    ),
    "graph_index_negative": lambda p: _replace_array(
        p, "neighbours.indices", np.full_like(np.load(p / _arr(p, "neighbours.indices")), -5)
    ),
    "nan_scores": lambda p: _replace_array(
        p, "neighbours.scores", np.full_like(np.load(p / _arr(p, "neighbours.scores")), np.nan)
    ),
    "matrix_index_out_of_range": lambda p: _replace_array(
        p, "matrix.indices", np.full_like(np.load(p / _arr(p, "matrix.indices")), 10**6)
    ),
    "indptr_decreasing": lambda p: _replace_array(
        p, "matrix.indptr", np.load(p / _arr(p, "matrix.indptr"))[::-1].copy()
    ),
    "duplicate_user_ids": lambda p: _replace_array(
        p, "matrix.users", np.full_like(np.load(p / _arr(p, "matrix.users")), "u1")
    ),
    "popularity_wrong_length": lambda p: _replace_array(p, "popularity", np.ones(3)),
}


def _arr(path: Path, entry: str) -> str:
    manifest = _manifest(path)
    states = [c.get("state", {}) for c in manifest["components"]] + [manifest["recommender"]["state"]]
    return next(s[entry]["array"] for s in states if entry in s)


@pytest.mark.parametrize("case", sorted(INCONSISTENT))
def test_inconsistent_state_fails_at_load(case: str, tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)
    INCONSISTENT[case](path)
    with pytest.raises(ModelFileError) as info:
        Recommender.load(path)
    assert isinstance(info.value, DataError)


def test_matrix_shape_json_lies(tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)

    def lie(manifest: dict[str, Any]) -> None:
        for state in [c.get("state", {}) for c in manifest["components"]] + [manifest["recommender"]["state"]]:
            if "matrix.shape" in state:
                state["matrix.shape"] = {"json": [6000, 4000]}

    _alter(path, lie)
    with pytest.raises(ModelFileError):
        Recommender.load(path)


def test_reload_keeps_old_model_on_a_stateless_ranker(tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)
    rec = Recommender.load(path)
    before = rec.recommend(["u1"], n=3).ids.tolist()
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    _alter(broken, lambda m: _ranker(m).pop("state"))
    with pytest.raises(ModelFileError, match="ranker"):
        rec.reload(broken)
    assert rec.recommend(["u1"], n=3).ids.tolist() == before


def test_a_manifest_nested_too_deeply_is_a_model_file_error(
    tmp_path: Path, tiny_interactions: Interactions, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by an outside review: json's parser recursed past Python's limit, a bare RecursionError (a traceback)."""
    from recframe.cli import main

    path = _saved(tmp_path, tiny_interactions)
    (path / "manifest.json").write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelFileError, match=r"manifest\.json: can't be read as JSON \(.*nested too deeply"):
        Recommender.load(path)
    assert main(["recommend", "--model", str(path), "--user", "u1"]) == 3
    assert "nested too deeply" in capsys.readouterr().err


@pytest.mark.parametrize("size", ["39504", 1.5, True, None])
def test_a_file_size_that_is_not_a_whole_number_blames_the_manifest(
    tmp_path: Path, tiny_interactions: Interactions, size: object
) -> None:
    """It said 'has 39504 bytes, the manifest says 39504; the file was altered' for a size written as text."""
    path = _saved(tmp_path, tiny_interactions)

    def resize(manifest: dict[str, Any]) -> None:
        record = next(iter(manifest["files"].values()))
        record["bytes"] = str(record["bytes"]) if size == "39504" else size

    _alter(path, resize)
    with pytest.raises(ModelFileError, match=r"manifest\.json: the size of 'arrays/.*' is .*, not a whole number"):
        Recommender.load(path)


def test_a_file_replaced_by_a_link_is_named_a_link(tmp_path: Path, tiny_interactions: Interactions) -> None:
    """It said 'missing; the saved model is incomplete (save it again)' of a file that was there, as a link."""
    path = _saved(tmp_path, tiny_interactions)
    victim = next((path / "arrays").iterdir())
    shutil.move(str(victim), str(tmp_path / "elsewhere.npy"))
    victim.symlink_to(tmp_path / "elsewhere.npy")
    with pytest.raises(ModelFileError, match=r"is a symbolic link, where a saved model has its own file"):
        Recommender.load(path)


def test_an_empty_folder_path_is_refused_not_taken_for_the_current_folder(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Path("")`` is ``.``: save("") tried to replace the current folder (a 'Device or resource busy' error)."""
    rec = Recommender.load(_saved(tmp_path, tiny_interactions))
    monkeypatch.chdir(tmp_path / "model")  # even where the current folder is a saved model
    for call, what in ((lambda: rec.save(""), "save"), (lambda: Recommender.load(""), "load")):
        with pytest.raises(ConfigError, match=rf"^{what}: the model folder is an empty path"):
            call()


def test_linked_arrays_folder_is_refused(tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)
    shutil.move(str(path / "arrays"), str(tmp_path / "real"))
    (path / "arrays").symlink_to(tmp_path / "real")
    with pytest.raises(ModelFileError, match="link"):
        Recommender.load(path)


def test_saved_folder_has_plain_modes(tmp_path: Path, tiny_interactions: Interactions) -> None:
    old = os.umask(0o022)
    try:
        path = _saved(tmp_path, tiny_interactions)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o755
    assert (path / "manifest.json").stat().st_mode & 0o777 == 0o644
    assert all(f.stat().st_mode & 0o777 == 0o644 for f in (path / "arrays").iterdir())


def test_save_refuses_a_model_folder_holding_other_files(tmp_path: Path, tiny_interactions: Interactions) -> None:
    path = _saved(tmp_path, tiny_interactions)
    (path / "notes.txt").write_text("mine")
    rec = Recommender.load(path)
    with pytest.raises(ConfigError, match=r"notes\.txt"):
        rec.save(path)
    assert (path / "notes.txt").read_text() == "mine"
    (path / "notes.txt").unlink()
    rec.save(path)
    Recommender.load(path)


@pytest.mark.parametrize("denied", ["manifest.json", "arrays", "array file"])
def test_a_file_that_cant_be_read_for_its_permissions_says_so(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch, denied: str
) -> None:
    # it said "missing; the saved model is incomplete (save it again)" or "the file was altered"
    from recframe.artifacts import opened_folder

    path = _saved(tmp_path, tiny_interactions)
    array = sorted(_manifest(path)["files"])[0]  # arrays/000-....npy
    name = {"manifest.json": "manifest.json", "arrays": "arrays", "array file": array.split("/", 1)[1]}[denied]
    opened = opened_folder.OpenedFolder._open

    def refused(self: Any, relative: str, flags: int, folder: int | None) -> int:
        if Path(relative).name == Path(name).name:  # as a user without read access (root reads anything)
            raise PermissionError(13, "Permission denied", relative)
        return opened(self, relative, flags, folder)

    monkeypatch.setattr(opened_folder.OpenedFolder, "_open", refused)
    monkeypatch.setattr(opened_folder, "_open_folder", _refusing_folder(opened_folder._open_folder, name))
    shown = path / (array if denied == "array file" else name)
    with pytest.raises(ModelFileError) as info:
        Recommender.load(path)
    assert str(info.value).startswith(f"{shown}: can't be read (Permission denied); the user running this needs read")
    assert "missing" not in str(info.value) and "altered" not in str(info.value)


def _refusing_folder(open_folder: Callable[..., int], name: str) -> Callable[..., int]:
    def refused(relative: Any, folder: int | None) -> int:
        if Path(relative).name == name:
            raise PermissionError(13, "Permission denied", str(relative))
        return open_folder(relative, folder)

    return refused
