"""When the change of `dot` similarities can be summed without visible rounding (recframe.recommender.dot_rounding)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, Recommender
from recframe.recommender.dot_rounding import DOT_TERMS, dot_rounding


def rows(*dense: list[float]) -> sp.csr_array:
    return sp.csr_array(np.array(dense, dtype=np.float64))


def test_terms_are_bounded_by_the_longest_change_and_rows() -> None:
    """By hand: the change's longest row is |(0, 3, 4)| = 5, the longest row before or after 13: 5 x 2 x 13 = 130."""
    old = rows([5.0, 12.0, 0.0], [1.0, 0.0, 0.0])
    new = rows([5.0, 12.0, 0.0], [1.0, 3.0, 4.0])
    assert dot_rounding(old, new, sp.csr_array(new - old)) is None
    assert dot_rounding(old, old, sp.csr_array(old - old)) is None  # nothing changed


@pytest.mark.parametrize(
    ("scale", "step"),
    [(1.0, "whole numbers"), (0.5, "halves"), (1 / 16, "sixteenths")],
)
def test_values_on_a_binary_grid_are_summed_exactly_below_their_limit(scale: float, step: str) -> None:
    """Terms up to 2**(53 - 2p) of multiples of 2**-p are exact floats, whatever their size."""
    big = 2.0**20 * scale * 3  # terms near 2**42 * scale**2: above DOT_TERMS, within 2**(53 - 2p)
    old = rows([big, scale], [scale, 0.0])
    new = rows([scale, scale], [scale, big])
    change = sp.csr_array(new - old)
    assert 2 * big * big > DOT_TERMS
    assert dot_rounding(old, new, change) is None, step


def test_values_off_the_grid_or_too_large_are_refused_with_the_bound() -> None:
    old = rows([1234.567, 1.0], [1.0, 0.0])
    new = rows([0.1, 1.0], [1.0, 1234.567])
    reason = dot_rounding(old, new, sp.csr_array(new - old))
    assert reason is not None and reason.startswith("the changed dot products sum terms up to 3.05e+06, whose rounding")
    whole = 2.0**27  # whole numbers, but the terms (2**55) pass 2**53
    old, new = rows([whole, 1.0], [1.0, 0.0]), rows([1.0, 1.0], [1.0, whole])
    assert dot_rounding(old, new, sp.csr_array(new - old)) is not None


def skewed_counts(seed: int, n: int, top: float) -> Interactions:
    """Play counts: long-tailed users and items, counts log-uniform up to `top`."""
    rng = np.random.default_rng(seed)
    users = (rng.pareto(1.3, n) * 5).astype(np.int64) % 80
    items = (rng.pareto(1.1, n) * 5).astype(np.int64) % 50
    return Interactions(users, items, np.floor(10.0 ** rng.uniform(0, np.log10(top), n)))


@pytest.mark.parametrize(("top", "fraction", "mode"), [(1e6, 1.0, "delta"), (1e9, 1.0, "full"), (1e9, 1.001, "full")])
def test_large_counts_update_as_a_refit_computes_them(top: float, fraction: float, mode: str) -> None:
    """Counts up to 1e6 are whole numbers whose terms stay below 2**53: the delta path, and the refit's bits.

    Counts up to 1e9 (or off the grid) would round: those updates search in full.
    """
    config = {
        "matrix": {"type": "ratings", "duplicates": "last"},
        "similarity": {"type": "sparse", "measure": "dot", "k": 4, "update_slack": 4},
        "ranker": {"type": "user_cf"},
    }
    data = skewed_counts(1, 600, top)
    data = Interactions(data.users, data.items, data.values * fraction)
    live = Recommender.from_config(config).fit(data)
    for step in range(3):
        part = skewed_counts(10 + step, 12, top)
        part = Interactions(part.users, part.items, part.values * fraction)
        live.update(part)
        data = Interactions.concat(data, part)
        assert live.lineage[-1]["neighbours"]["users"]["mode"] == mode
    got, want = live._state().graphs["users"], Recommender.from_config(config).fit(data)._state().graphs["users"]
    for row in range(want.indices.shape[0]):
        a = dict(zip(got.indices[row].tolist(), got.scores[row].tolist(), strict=True))
        b = dict(zip(want.indices[row].tolist(), want.scores[row].tolist(), strict=True))
        assert a == b, row  # the same neighbours and the same bits
