"""A backend's ``update_measure()`` is spot-checked before an update derives similarities from it.

Found by an outside review: a plugin backend computing cosine that answered ``"dot"`` got
neighbours a refit does not give, with nothing said.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, NeighbourGraph, Recommender
from recframe.builtin.similarity.sparse import SparseSimilarity
from recframe.recommender.measure_claim import broken_claim
from recframe.testing import assert_same_neighbours

ROWS = sp.csr_array(np.array([[1.0, 2.0, 0.0], [2.0, 0.0, 1.0], [0.0, 0.0, 3.0]]))


def graph(first: list[int], scores: list[float]) -> NeighbourGraph:
    return NeighbourGraph(np.array([[j] for j in first]), np.array([[s] for s in scores]), 3)


def test_the_measure_of_the_rows_by_hand() -> None:
    """Rows 0 and 1: dot 2, lengths sqrt(5) each, cosine 0.4; rows 1 and 2: dot 3, cosine 3 / (sqrt(5) 3)."""
    assert broken_claim(graph([1, 2, -1], [0.4, 1 / np.sqrt(5), 0.0]), ROWS, "cosine") is None
    assert broken_claim(graph([1, 2, -1], [2.0, 3.0, 0.0]), ROWS, "dot") is None
    assert broken_claim(graph([-1, -1, -1], [0.0, 0.0, 0.0]), ROWS, "dot") is None  # nothing listed
    told = broken_claim(graph([1, 2, -1], [0.4, 0.5, 0.0]), ROWS, "cosine")
    assert told == (
        "its update_measure() says its similarities are 'cosine', but row 1's neighbour 2 scores 0.5 "
        f"where cosine gives {1 / np.sqrt(5):.10g}"
    )


class ClaimsDot(SparseSimilarity):
    """Cosine similarities, claimed to be dot products."""

    def update_measure(self):  # type: ignore[no-untyped-def]
        return "dot"


@pytest.mark.parametrize("ranker", ["item_cf", "user_cf"])
def test_a_false_claim_is_told_and_the_graph_searched_again(ranker: str, caplog: pytest.LogCaptureFixture) -> None:
    config = {"similarity": {"type": "sparse", "k": 5, "update_slack": 5}, "ranker": {"type": ranker}}
    rng = np.random.default_rng(5)
    base = Interactions(rng.integers(0, 50, 600), rng.integers(0, 30, 600), rng.integers(1, 6, 600).astype(float))
    new = Interactions(rng.integers(45, 55, 30), rng.integers(0, 32, 30), rng.integers(1, 6, 30).astype(float))
    rec = Recommender.from_config(config)
    rec.similarity = ClaimsDot(rec.similarity.config)
    with caplog.at_level(logging.WARNING, logger="recframe"):
        rec.fit(base).update(new)
    record = rec.lineage[-1]["neighbours"][ranker.replace("_cf", "s")]
    assert record["mode"] == "full"
    assert record["reason"].startswith("its update_measure() says its similarities are 'dot'")
    assert any("neighbours are searched again in full" in r.getMessage() for r in caplog.records)
    refit = Recommender.from_config(config).fit(Interactions.concat(base, new))
    assert_same_neighbours(rec.fitted_ranker.neighbours_, refit.fitted_ranker.neighbours_)  # type: ignore[attr-defined]
