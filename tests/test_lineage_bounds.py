"""The lineage stays bounded over a model's life: older changes fold into one entry that counts them.

Kept whole, a service updating once a minute would grow its manifest by about 0.5 KB a change,
and every save, load and ``/update`` would read and copy all of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recframe import Recommender
from recframe.recommender import lineage as lineage_module
from recframe.recommender.lineage import FOLDED, bounded_lineage, changes_in
from recframe.serve.model import ServedModel
from recframe.testing import random_interactions


def change(kind: str, events: int, at: str) -> dict[str, object]:
    return {"kind": kind, "events": events, "at": at, "fingerprint": None if kind == "forget" else "ab"}


def test_older_changes_fold_into_one_entry_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lineage_module, "LINEAGE_KEPT", 2)
    fit = {"kind": "fit", "events": 100, "fingerprint": "f"}
    changes = [change("update", 5, "t1"), change("forget", 3, "t2"), change("update", 7, "t3")]
    assert bounded_lineage((fit, *changes[:2])) == (fit, *changes[:2])  # the fit and two kept: nothing to fold
    assert bounded_lineage((fit, *changes)) == (fit, *changes)  # fit, three: still no shorter with a folded one
    later = [change("update", 11, "t4"), change("forget", 1, "t5")]
    once = bounded_lineage((fit, *changes, later[0]))
    folded = {"kind": FOLDED, "changes": 2, "updates": 1, "forgets": 1, "events_added": 5, "events_removed": 3,
              "first_at": "t1", "last_at": "t2", "fingerprint": None}
    assert once == (fit, folded, changes[2], later[0])
    twice = bounded_lineage((*once, later[1]))
    assert twice[0] == fit and twice[2:] == (later[0], later[1])
    assert twice[1] == {**folded, "changes": 3, "updates": 2, "events_added": 12, "last_at": "t3"}
    assert changes_in(twice) == changes_in((fit, *changes, *later)) == 5


def test_a_long_life_keeps_the_latest_changes_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lineage_module, "LINEAGE_KEPT", 3)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 5}}).fit(random_interactions(seed=1))
    for step in range(6):
        rec.update({"user": [5000 + step], "item": [2], "rating": [4.0], "timestamp": [1.7e9]})
    rec.forget(users=[5000])
    lineage = rec.lineage
    assert len(lineage) == 5 and lineage[0]["kind"] == "fit" and lineage[1]["kind"] == FOLDED
    assert (lineage[1]["changes"], lineage[1]["updates"], lineage[1]["forgets"]) == (4, 4, 0)
    assert [entry["kind"] for entry in lineage[2:]] == ["update", "update", "forget"]
    assert all(entry.get("fingerprint") is None for entry in lineage)  # the forget cleared the kept digests
    loaded = Recommender.load(rec.save(tmp_path / "m"))
    assert loaded.lineage == lineage
    assert ServedModel.of(loaded, tmp_path / "m").metadata["updates"] == 7
