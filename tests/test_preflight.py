"""Preflight estimates: logged before a neighbour search, and a refusal instead of an OOM kill."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recframe import Recommender, ResourceError
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.similarity import SklearnNNSimilarity, SparseSimilarity
from recframe.recommender.preflight import human_bytes, preflight
from recframe.testing import random_interactions


@pytest.mark.parametrize("backend", [SparseSimilarity, SklearnNNSimilarity])
def test_estimate_counts_the_gram_work(backend):
    matrix = RatingsMatrixBuilder().build(random_interactions(seed=21))
    rows = matrix.item_major()
    estimate = (
        backend(k=5, engine="scipy").estimate(rows) if backend is SparseSimilarity else backend(k=5).estimate(rows)
    )
    shared = np.bincount(rows.indices, minlength=rows.shape[1])
    assert estimate.multiply_adds >= (shared.astype(np.int64) ** 2).sum()
    assert estimate.output_bytes >= rows.shape[0] * 5 * 16
    assert estimate.total_bytes == estimate.output_bytes + estimate.working_bytes


def test_symmetric_estimate_halves_the_work(monkeypatch):
    from recframe.engine import products as kernels

    monkeypatch.setattr(kernels, "SYMMETRIC_MIN_ROWS", 0)
    monkeypatch.setattr(kernels, "SYMMETRIC_MIN_PAIR_WORK", 0.0)
    rows = RatingsMatrixBuilder().build(random_interactions(seed=22)).item_major()
    full = SparseSimilarity(k=5, engine="scipy").estimate(rows)
    pytest.importorskip("numba")
    half = SparseSimilarity(k=5, engine="numba").estimate(rows)
    assert half.multiply_adds == full.multiply_adds // 2


def test_over_the_limit_is_refused_with_advice(tiny_interactions):
    rec = Recommender(similarity=SklearnNNSimilarity(k=2, memory_limit_mb=1, max_memory_mb=1))
    big = random_interactions(n_users=400, n_items=300, density=0.3, seed=3)
    with pytest.raises(ResourceError) as info:
        rec.fit(big)
    message = str(info.value)
    assert message.startswith("similarity 'sklearn_nn' (recframe 0.1.0): item neighbours would need about ")
    assert "over the limit of 1.0 MB (similarity.memory_limit_mb); use a smaller similarity.k" in message
    assert "(or similarity.update_slack, which adds to the neighbours kept)" in message
    assert "the sparse backend (similarity.type: sparse)" in message
    rec.similarity = SklearnNNSimilarity(k=2)  # within the default limit it runs
    rec.fit(tiny_interactions)


def test_the_estimate_is_logged(caplog, tiny_interactions):
    with caplog.at_level(logging.INFO, logger="recframe"):
        Recommender(similarity=SparseSimilarity(k=2, engine="scipy")).fit(tiny_interactions)
    assert any("item neighbours need about" in r.getMessage() for r in caplog.records)


def test_preflight_without_a_limit_uses_available_memory(monkeypatch):
    from recframe.interfaces import ResourceEstimate
    from recframe.recommender import preflight as resources

    monkeypatch.setattr(resources, "available_memory", lambda: 100 << 20)
    preflight(ResourceEstimate(10, 40 << 20, 30 << 20), None, "x", "y")  # 70 MB of 80 MB allowed
    with pytest.raises(ResourceError, match=r"over the limit of 80 MB \(80% of the available memory\)"):
        preflight(ResourceEstimate(10, 50 << 20, 40 << 20), None, "x", "y")


def test_cli_exit_code_for_a_refusal(tmp_path, capsys):
    from recframe.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(
        "data: {type: synthetic, n_users: 600, n_items: 500}\nsimilarity: {type: sklearn_nn, memory_limit_mb: 1}\n",
        encoding="utf-8",
    )
    assert main(["run", str(config), "--output", str(tmp_path / "out"), "--quiet"]) == 1
    assert "error: similarity 'sklearn_nn' (recframe 0.1.0): item neighbours would need" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_human_bytes():
    assert human_bytes(512 << 20) == "512 MB" and human_bytes(3.25 * 2**30) == "3.2 GB"
    assert human_bytes(1.5 * 2**20) == "1.5 MB"
