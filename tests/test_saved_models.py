"""Saved models: ``Recommender.save``/``load`` round trips, the folder format, and its clear errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from recframe import (
    ConfigError,
    DataError,
    Interactions,
    PluginError,
    RecframeError,
    Recommender,
    SimilarityBackend,
    SimilarityConfig,
    hookimpl,
)
from recframe.artifacts import FORMAT_VERSION, ModelFileError, ModelVersionWarning
from recframe.registry import PluginRegistry


def _tiny(tiny_interactions: Interactions, **sections: object) -> Recommender:
    config = {"matrix": {"type": "ratings"}, "similarity": {"type": "sklearn_nn", "k": 3}, **sections}
    return Recommender.from_config(config, registry=PluginRegistry.from_environment(entry_points=False)).fit(
        tiny_interactions
    )


def _answers(rec: Recommender) -> dict[str, object]:
    """Every kind of answer, as plain lists, to compare two recommenders."""
    users, items = ["u1", "u2", "u3", "u4", "u5", "nobody"], ["i1", "i2", "i3"]
    lists = rec.recommend(users, n=3)
    similar = rec.similar_items(items, n=2)
    people = rec.similar_users(["u1", "u4"], n=2)
    fresh = rec.recommend_histories([{"i1": 5.0}, ["i3", "i5"]], n=3)
    predicted = rec.predict(["u1", "u2"], ["i3", "i5"])
    explained = rec.explain("u1", "i6")
    return {
        "lists": (lists.ids.tolist(), np.nan_to_num(lists.scores).tolist(), lists.sources.tolist()),
        "similar": (similar.ids.tolist(), np.nan_to_num(similar.scores).tolist()),
        "people": (people.ids.tolist(), np.nan_to_num(people.scores).tolist()),
        "fresh": (fresh.ids.tolist(), np.nan_to_num(fresh.scores).tolist()),
        "predicted": predicted.values.tolist(),
        "explained": explained.to_dict(),
    }


@pytest.mark.parametrize(
    "sections",
    [
        {},
        {"ranker": {"type": "user_cf", "prediction": "baseline"}},
        {"similarity": {"type": "sparse", "measure": "adjusted_cosine", "k": 3}},
        {"ranker": {"type": "item_cf", "history": "binary", "fallback": [{"type": "popularity", "by": "values"}]}},
    ],
)
def test_round_trip_answers_identically(tmp_path: Path, tiny_interactions: Interactions, sections: dict) -> None:
    rec = _tiny(tiny_interactions, **sections)
    expected = _answers(rec)
    rec.save(tmp_path / "model")
    loaded = Recommender.load(tmp_path / "model")
    assert _answers(loaded) == expected
    assert loaded.data_fingerprint == rec.data_fingerprint
    assert Recommender.load(tmp_path / "model", mmap=False, verify=False).recommend(["u1"]).ids.tolist() == (
        rec.recommend(["u1"]).ids.tolist()
    )


def test_loaded_in_another_process(tmp_path: Path, tiny_interactions: Interactions) -> None:
    rec = _tiny(tiny_interactions)
    rec.save(tmp_path / "model")
    script = textwrap.dedent(f"""
        import json
        from recframe import Recommender
        rec = Recommender.load({str(tmp_path / "model")!r})
        lists = rec.recommend(["u1", "u4"], n=3)
        print(json.dumps([lists.ids.tolist(), [[round(s, 12) for s in r] for r in lists.scores.tolist()]]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lists = rec.recommend(["u1", "u4"], n=3)
    expected = [lists.ids.tolist(), [[round(s, 12) for s in r] for r in lists.scores.tolist()]]
    assert done.stdout.strip() == json.dumps(expected)  # NaN pads compare as text


def test_text_ids_and_no_pickle_anywhere(tmp_path: Path, tiny_interactions: Interactions) -> None:
    _tiny(tiny_interactions).save(tmp_path / "model")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["data"]["n_users"] == 5
    assert {c["role"] for c in manifest["components"]} >= {"matrix", "similarity", "ranker", "ranker.fallback[0]"}
    assert all(c["distribution"] == "recframe" for c in manifest["components"])
    kinds = set()
    for path in (tmp_path / "model" / "arrays").iterdir():
        array = np.load(path, allow_pickle=False)  # raises on any pickled (object) array
        kinds.add(array.dtype.kind)
    assert "U" in kinds and "O" not in kinds
    loaded = Recommender.load(tmp_path / "model")
    assert loaded.interaction_matrix.users.ids.tolist() == ["u1", "u2", "u3", "u4", "u5"]
    assert not loaded.interaction_matrix.matrix.data.flags.writeable  # memory-mapped read-only


def test_altered_missing_and_newer(tmp_path: Path, tiny_interactions: Interactions) -> None:
    rec = _tiny(tiny_interactions)
    model = rec.save(tmp_path / "model")
    arrays = sorted((model / "arrays").iterdir())
    data = next(p for p in arrays if p.name.endswith("matrix.data.npy"))
    raw = bytearray(data.read_bytes())
    raw[-1] ^= 0xFF  # same size, other bytes
    data.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=r"matrix\.data\.npy: checksum mismatch"):
        Recommender.load(model)
    assert isinstance(ModelFileError("x"), DataError)  # the command line exits 3
    rec.save(model)  # a saved model may be replaced
    arrays[0].unlink() if arrays[0].exists() else None
    next((model / "arrays").iterdir()).unlink()
    with pytest.raises(ModelFileError, match=r"missing; the saved model is incomplete"):
        Recommender.load(model)
    rec.save(model)
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match=rf"model format {FORMAT_VERSION + 1}.*upgrade recframe"):
        Recommender.load(model)
    with pytest.raises(ModelFileError, match=r"no such model folder"):
        Recommender.load(tmp_path / "nothing")


def test_manifest_cannot_point_outside(tmp_path: Path, tiny_interactions: Interactions) -> None:
    model = _tiny(tiny_interactions).save(tmp_path / "model")
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["files"]["../../etc/passwd"] = {"sha256": "0", "bytes": 1}
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match=r"lists a file .* no saved model has"):
        Recommender.load(model)


def test_refuses_to_overwrite_other_folders(tmp_path: Path, tiny_interactions: Interactions) -> None:
    rec = _tiny(tiny_interactions)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"folder of other files, not a saved model"):
        rec.save(tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]  # no temporary folder left


@pytest.mark.parametrize("swaps", [True, False], ids=["one-step swap", "two renames"])
def test_replacing_a_model_leaves_the_new_one_and_nothing_else(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch, swaps: bool
) -> None:
    from recframe.artifacts import model_files

    if swaps and not model_files.exchange(*(Path(tempfile.mkdtemp(dir=tmp_path)) for _ in range(2))):
        pytest.skip("this system can't swap two folders in one step")
    for leftover in tmp_path.iterdir():
        shutil.rmtree(leftover)
    swapped: list[bool] = []
    real = model_files.exchange

    def exchange(first: Path, second: Path) -> bool:
        swapped.append(real(first, second) if swaps else False)  # False: a system without the swap
        return swapped[-1]

    monkeypatch.setattr(model_files, "exchange", exchange)
    first = _tiny(tiny_interactions)
    first.save(tmp_path / "model")
    assert swapped == []  # nothing to replace
    second = _tiny(tiny_interactions.take(np.arange(len(tiny_interactions) - 3)))
    second.save(tmp_path / "model")
    assert swapped == [swaps]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # neither the old model nor a temporary left
    assert Recommender.load(tmp_path / "model").data_fingerprint == second.data_fingerprint != first.data_fingerprint


def test_a_read_only_model_folder_is_not_replaced(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    _tiny(tiny_interactions).save(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in (tmp_path / "model" / "arrays").iterdir()}
    real = os.access  # read-only as a user other than root sees it
    monkeypatch.setattr(os, "access", lambda path, mode: real(path, mode) and Path(path) != tmp_path / "model")
    with pytest.raises(ConfigError, match=r"model: is read-only, so the model in it could not be removed once"):
        _tiny(tiny_interactions.take(np.arange(5))).save(tmp_path / "model")
    assert {p.name: p.read_bytes() for p in (tmp_path / "model" / "arrays").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_an_old_model_that_cant_be_removed_after_the_swap_is_an_error_naming_it(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # left silently, it would keep what a forget took out; the new model stays in place
    from recframe.artifacts import model_files

    _tiny(tiny_interactions).save(tmp_path / "model")
    real = shutil.rmtree

    def rmtree(path: Path, ignore_errors: bool = False) -> None:
        if ".partial" in str(path) or ".old" in str(path):
            if not ignore_errors:
                raise PermissionError(13, "Permission denied", str(path))
            return
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(model_files.shutil, "rmtree", rmtree)
    second = _tiny(tiny_interactions.take(np.arange(len(tiny_interactions) - 3)))
    with pytest.raises(RecframeError, match=r"model: the new model is saved, but the one it replaced could not be "
                       r"removed from .*\.model\.recframe-save-\w+\.(partial|old) \(Permission denied\); "
                       r"remove that folder by hand"):
        second.save(tmp_path / "model")
    assert Recommender.load(tmp_path / "model").data_fingerprint == second.data_fingerprint
    monkeypatch.undo()
    left = [p for p in tmp_path.iterdir() if p.name != "model"]
    assert len(left) == 1 and Recommender.load(left[0]).data_fingerprint != second.data_fingerprint


def test_exchange_swaps_two_folders_or_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recframe.artifacts import model_files

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").write_text("a")
    (tmp_path / "b" / "x").write_text("b")
    swapped = model_files.exchange(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b" / "x").read_text() == ("a" if swapped else "b")
    assert (tmp_path / "a" / "x").read_text() == ("b" if swapped else "a")
    assert model_files.exchange(tmp_path / "a", tmp_path / "missing") is False  # a failure changes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    # where the C library can't be opened as on Linux (Windows raises TypeError for CDLL(None))
    model_files._renameat2.cache_clear()
    monkeypatch.setattr(model_files.ctypes, "CDLL", lambda name: (_ for _ in ()).throw(TypeError("no")))
    try:
        assert model_files.exchange(tmp_path / "a", tmp_path / "b") is False
    finally:
        model_files._renameat2.cache_clear()


class _Opaque(SimilarityBackend):
    """A third-party backend keeping an object with no array form."""

    name = "opaque"
    Config = SimilarityConfig

    def fit(self, rows):  # type: ignore[no-untyped-def]
        self.rows_ = rows
        self.handle = object()
        return self

    def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
        return _sparse().fit(self.rows_).neighbours(rows, k)

    def query(self, vectors, k=None):  # type: ignore[no-untyped-def]
        return _sparse().fit(self.rows_).query(vectors, k)

    def get_state(self):  # type: ignore[no-untyped-def]
        return {"handle": self.handle}


def _sparse() -> SimilarityBackend:
    return PluginRegistry.from_environment(entry_points=False).create("similarity", "sparse", SimilarityBackend, k=3)


def test_unsaveable_component_is_named(tmp_path: Path, tiny_interactions: Interactions, install_plugin) -> None:
    registry = install_plugin([_Opaque], "opaque", "recframe-opaque", "1.0")
    rec = Recommender.from_config({"similarity": {"type": "opaque"}}, registry=registry).fit(tiny_interactions)
    with pytest.raises(PluginError, match=r"similarity\.items: similarity 'opaque' \(recframe-opaque 1\.0\).*'handle'"):
        rec.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


class _Plain(SimilarityBackend):
    """A third-party backend with a proper state."""

    name = "plain"
    Config = SimilarityConfig

    def fit(self, rows):  # type: ignore[no-untyped-def]
        self.inner = _sparse().fit(rows)
        return self

    def neighbours(self, rows=None, k=None):  # type: ignore[no-untyped-def]
        return self.inner.neighbours(rows, k)

    def query(self, vectors, k=None):  # type: ignore[no-untyped-def]
        return self.inner.query(vectors, k)

    def get_state(self):  # type: ignore[no-untyped-def]
        return self.inner.get_state()

    def set_state(self, state):  # type: ignore[no-untyped-def]
        self.inner = _sparse()
        self.inner.set_state(state)


def test_unknown_plugin_and_changed_version(tmp_path: Path, tiny_interactions: Interactions, install_plugin) -> None:
    builtins_only = PluginRegistry.from_environment(entry_points=False)
    newer = PluginRegistry.from_environment(entry_points=False)
    module = types.ModuleType("recframe_plain")
    module.recframe_register_components = hookimpl(lambda: [_Plain])  # type: ignore[attr-defined]
    newer.register(module, name="plain", package="recframe-plain", version="2.0")
    registry = install_plugin([_Plain], "plain", "recframe-plain", "1.0")
    rec = Recommender.from_config({"similarity": {"type": "plain", "k": 3}}, registry=registry).fit(tiny_interactions)
    model = rec.save(tmp_path / "model")
    expected = rec.recommend(["u1"]).ids.tolist()
    assert Recommender.load(model, registry=registry).recommend(["u1"]).ids.tolist() == expected
    with pytest.raises(
        ModelFileError, match=r"similarity 'plain' from recframe-plain 1\.0.*pip install recframe-plain"
    ):
        Recommender.load(model, registry=builtins_only)
    with pytest.warns(ModelVersionWarning, match=r"saved with recframe-plain 1\.0; recframe-plain 2\.0 is installed"):
        loaded = Recommender.load(model, registry=newer)
    assert loaded.recommend(["u1"]).ids.tolist() == expected
    with warnings.catch_warnings(record=True) as caught:  # as the CLI shows them: always
        warnings.simplefilter("always")
        Recommender.load(model, registry=newer)
    assert sum(issubclass(w.category, ModelVersionWarning) for w in caught) == 1  # once per plugin, not per component


def test_not_fitted_and_unregistered(tmp_path: Path, tiny_interactions: Interactions) -> None:
    from recframe import NotFittedError

    with pytest.raises(NotFittedError):
        Recommender().save(tmp_path / "model")
    rec = Recommender(similarity=_Plain(k=3), registry=PluginRegistry.from_environment(entry_points=False))
    rec.fit(tiny_interactions)
    with pytest.raises(PluginError, match=r"similarity: similarity 'plain' .* is not a registered component"):
        rec.save(tmp_path / "model")


def test_saving_over_a_link_says_so_and_names_its_target(tmp_path: Path) -> None:
    # a save replaces the folder named: a link would become a folder, its target left as it was
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 3}})
    rec.fit({"user": [1, 1, 2], "item": [1, 2, 1]}).save(tmp_path / "v1")
    (tmp_path / "current").symlink_to("v1")
    with pytest.raises(ConfigError, match=r"current: is a symbolic link, which a save would replace by a folder; save "
                       r"to the folder it points to \(.*v1\)"):
        rec.save(tmp_path / "current")
    assert (tmp_path / "current").is_symlink()


def test_a_short_write_is_told_with_the_room_left_on_the_device(
    tmp_path: Path, tiny_interactions: Interactions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # numpy reports a full device as a short write, an OSError without an errno
    from recframe.artifacts import model_files

    def short_write(*args: object, **kwargs: object) -> None:
        raise OSError("1200 requested and 496 written")

    monkeypatch.setattr(model_files.np, "save", short_write)
    with pytest.raises(RecframeError, match=r"model: can't write the model: a short write \(1200 requested and 496 "
                       r"written\); [\d,]+ bytes free on the device of "):  # fmt: skip
        _tiny(tiny_interactions).save(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []  # nothing half written left behind


def test_an_equal_copy_of_an_array_is_written_once(tmp_path: Path) -> None:
    """An array that came back from another process (a Ray task's model) equals, not shares, its twin."""
    from recframe.artifacts.model_files import ArrayWriter

    writer = ArrayWriter(tmp_path)
    indices = np.arange(1000, dtype=np.int32)
    first = writer.write("matrix.indices", indices)
    assert writer.write("rows.indices", indices[:]) == first  # the same memory
    assert writer.write("rows.indices", indices.copy()) == first  # an equal copy
    assert writer.write("other", indices[::-1].copy()) != first  # same shape and type, other bytes
    zeros = np.zeros(4)
    assert writer.write("plus", zeros) != writer.write("minus", -zeros)  # equal values, other bytes
    assert writer.write("as int64", indices.astype(np.int64)) != first  # other type
    assert len(list((tmp_path / "arrays").iterdir())) == len(writer.files) == 5
