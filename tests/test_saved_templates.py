"""What a save records: the components that made the model, and the templates set since the fit.

A saved and loaded model must answer like the live one and take the next update as the live one
would: the builder that built the matrix is the one an update may bring up to date, and a
template set since the fit (``rec.matrix = ...``, ``rec.ranker = ...``) is what the next update
uses.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from recframe import Interactions, Recommender
from recframe.artifacts import TemplatesLeftOutWarning
from recframe.builtin.matrix_builders import BinaryMatrixBuilder
from recframe.builtin.rankers import ItemCFRanker, UserCFRanker
from recframe.builtin.similarity import SparseSimilarity
from recframe.testing import random_interactions

BASE = random_interactions(120, 60, density=0.08, seed=3)


def _fitted() -> Recommender:
    rec = Recommender(similarity=SparseSimilarity(k=5, update_slack=3), ranker=ItemCFRanker(n=4))
    return rec.fit(BASE)


def _new_events() -> Interactions:
    rng = np.random.default_rng(7)
    users = np.concatenate([[10_000, 10_001], rng.choice(np.unique(BASE.users), 18)])
    items = rng.choice(np.unique(BASE.items), 20)
    return Interactions(users, items, rng.integers(1, 6, 20).astype(float), np.full(20, 2e9))


def _same(a: Recommender, b: Recommender) -> bool:
    """Whether two models hold the same matrix and give the same lists to every user."""
    if (a.interaction_matrix.matrix != b.interaction_matrix.matrix).nnz:
        return False
    users = list(a.interaction_matrix.users.ids)
    first, second = a.recommend(users, 4), b.recommend(users, 4)
    return bool(np.array_equal(first.ids, second.ids) and np.allclose(first.scores, second.scores, equal_nan=True))


def test_a_builder_set_after_the_fit_is_not_saved_as_the_one_that_built_the_matrix(tmp_path: Path) -> None:
    live = _fitted()
    live.matrix = BinaryMatrixBuilder()  # the next update builds the matrix again with it
    loaded = Recommender.load(live.save(tmp_path / "model"))
    manifest = _manifest(tmp_path / "model")
    records = {r["role"]: r["type"] for r in manifest["components"]}  # what older readers read: as before
    assert records == {
        "matrix": "ratings",
        "similarity": "sparse",
        "similarity.items": "sparse",
        "ranker": "item_cf",
        "ranker.fallback[0]": "popularity",
    }
    assert {r["role"]: r["type"] for r in manifest["templates"]}["matrix"] == "binary"
    assert isinstance(loaded.matrix, BinaryMatrixBuilder)
    live.update(_new_events())
    loaded.update(_new_events())
    assert live.lineage[-1]["matrix"] == loaded.lineage[-1]["matrix"] == "full"
    refit = Recommender(
        matrix=BinaryMatrixBuilder(), similarity=SparseSimilarity(k=5, update_slack=3), ranker=ItemCFRanker(n=4)
    ).fit(_joined())
    assert _same(loaded, live) and _same(loaded, refit)


@pytest.mark.parametrize("change", ["ranker", "similarity", "fallbacks"])
def test_templates_set_after_the_fit_take_effect_at_the_loaded_models_update(tmp_path: Path, change: str) -> None:
    live = _fitted()
    if change == "ranker":
        live.ranker = UserCFRanker(n=4)
    elif change == "similarity":
        live.similarity = SparseSimilarity(k=3, measure="jaccard")
    else:
        live.fallbacks = ()
    loaded = Recommender.load(live.save(tmp_path / "model"))
    assert _same(loaded, live)  # the saved model answers as the fitted one, templates aside
    live.update(_new_events())
    loaded.update(_new_events())
    assert _same(loaded, live)
    assert [r.name for r in loaded.fallbacks] == [r.name for r in live.fallbacks]
    again = Recommender.load(loaded.save(tmp_path / "again"))  # taken by the update: no longer pending
    assert "templates" not in _manifest(tmp_path / "again")
    assert _same(again, live)


def test_unchanged_templates_are_not_recorded(tmp_path: Path) -> None:
    _fitted().save(tmp_path / "model")
    manifest = _manifest(tmp_path / "model")
    assert [r["role"] for r in manifest["components"]] == [
        "matrix",
        "similarity",
        "similarity.items",
        "ranker",
        "ranker.fallback[0]",
    ]
    assert "templates" not in manifest


class _Unregistered(ItemCFRanker):
    """A ranker no plugin registers: it can serve as a template, but no manifest can name it."""


def test_templates_that_cant_be_recorded_or_built_leave_the_model_whole(tmp_path: Path) -> None:
    live = _fitted()
    live.ranker = _Unregistered(n=4)
    with pytest.warns(TemplatesLeftOutWarning, match="the components set since the fit are not saved"):
        live.save(tmp_path / "model")
    loaded = Recommender.load(tmp_path / "model")
    assert "templates" not in _manifest(tmp_path / "model") and _same(loaded, live)
    live.ranker = UserCFRanker(n=4)
    live.save(tmp_path / "other")
    manifest = _manifest(tmp_path / "other")
    manifest["templates"][2]["type"] = "no_such_ranker"  # as a plugin not installed here
    (tmp_path / "other" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(TemplatesLeftOutWarning, match="not restored"):
        loaded = Recommender.load(tmp_path / "other", verify=False)
    assert isinstance(loaded.ranker, ItemCFRanker) and _same(loaded, live)


def test_a_save_during_a_reload_pairs_the_model_with_its_own_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload swaps the model and the templates together, so a save meanwhile records the old model whole."""
    binary = Recommender(matrix=BinaryMatrixBuilder(), similarity=SparseSimilarity(k=5), ranker=ItemCFRanker(n=4))
    binary.fit(BASE).save(tmp_path / "binary")
    rec = _fitted()
    publish, loaded, go_on = rec._publish, threading.Event(), threading.Event()

    def held_publish(*args: object, **kwargs: object) -> None:
        loaded.set()  # the reload has loaded the new model and is about to swap it in
        go_on.wait(10)
        publish(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rec, "_publish", held_publish)
    reloader = threading.Thread(target=rec.reload, args=(tmp_path / "binary",))
    reloader.start()
    assert loaded.wait(10)
    rec.save(tmp_path / "saved")  # between the load and the swap
    go_on.set()
    reloader.join()
    manifest = _manifest(tmp_path / "saved")
    roles = {r["role"]: r["type"] for r in manifest["components"]}
    assert roles["matrix"] == "ratings" and "templates" not in manifest
    assert manifest["config"]["matrix"]["type"] == "ratings"  # the config of the same moment
    assert isinstance(rec.matrix, BinaryMatrixBuilder)  # and the reload took effect


def _joined() -> Interactions:
    new = _new_events()
    return Interactions(
        np.concatenate([BASE.users, new.users]),
        np.concatenate([BASE.items, new.items]),
        np.concatenate([BASE.values, new.values]),
        np.concatenate([BASE.timestamps, new.timestamps]),
    )


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())
