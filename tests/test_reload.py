"""``Recommender.reload``: a long-lived recommender moves to a saved model in one swap, or keeps its own."""

from __future__ import annotations

import pytest

from recframe import DataError, Recommender


def _fitted(seed: int) -> Recommender:
    return Recommender.from_config({"data": {"type": "synthetic", "n_users": 150, "n_items": 80, "seed": seed}}).fit()


def test_reload_answers_as_the_saved_model(tmp_path):
    live, other = _fitted(1), _fitted(2)
    other.save(tmp_path / "model")
    own = live.recommend([0, 1, 2], n=5).to_dict()
    assert own != other.recommend([0, 1, 2], n=5).to_dict()
    assert live.reload(tmp_path / "model") is live
    assert live.recommend([0, 1, 2], n=5).to_dict() == other.recommend([0, 1, 2], n=5).to_dict()
    assert live.similar_items([3], n=4).to_dict() == other.similar_items([3], n=4).to_dict()


def test_a_failed_reload_keeps_the_current_model(tmp_path):
    live, other = _fitted(1), _fitted(2)
    other.save(tmp_path / "model")
    array = next((tmp_path / "model").rglob("*.npy"))
    array.write_bytes(array.read_bytes()[:-8] + b"\x00" * 8)  # same size, other bytes: only the checksum sees it
    own = live.recommend([0, 1, 2], n=5).to_dict()
    with pytest.raises(DataError, match=r"sha256|checksum|altered"):
        live.reload(tmp_path / "model")
    assert live.recommend([0, 1, 2], n=5).to_dict() == own
