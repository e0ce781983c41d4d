"""Call-time control of query results: ``exclude``, ``candidates``, ``exclude_seen``, ``fill_short``.

Hand-checked tiny examples of each policy (ties, unknown ids, short lists, an item never its own
neighbour), then random agreement of every ranker on both engines with a brute-force numpy
reference that scores every item and filters by sorting.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recframe import Recommender
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker, UserCFRanker
from recframe.builtin.similarity import SparseSimilarity
from recframe.engine import numba_available
from recframe.testing import random_interactions

ENGINES = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="needs numba"))]

# users 1-4; popularity (users per item): 10 -> 3, 20 -> 2, 30, 40, 50 -> 1 each
TINY = {"user": [1, 1, 2, 2, 3, 3, 3, 4], "item": [10, 20, 10, 30, 10, 20, 40, 50]}


def popular(n: int = 3) -> Recommender:
    return Recommender(ranker=PopularityRanker(n=n), fallback=None).fit(TINY)


def ids(lists) -> list[list[int]]:
    return [row[mask].tolist() for row, mask in zip(lists.ids, lists.mask, strict=True)]


def test_ties_go_to_the_lower_item_id_and_seen_items_are_left_out():
    lists = popular().recommend([4, 1])
    assert ids(lists) == [[10, 20, 30], [30, 40, 50]]
    assert lists.scores[0].tolist() == [3.0, 2.0, 1.0]


def test_exclude_and_candidates_restrict_every_list():
    rec = popular()
    assert ids(rec.recommend(4, exclude=[20])) == [[10, 30, 40]]
    assert ids(rec.recommend(4, exclude={10, 20, 30})) == [[40]]
    assert ids(rec.recommend(4, candidates=[50, 40, 30])) == [[30, 40]]  # 50 is seen
    assert ids(rec.recommend(4, candidates=[50, 40, 30], exclude=[30])) == [[40]]
    empty = rec.recommend(4, candidates=[])
    assert ids(empty) == [[]] and empty.sources.tolist() == [""]
    assert empty.reasons.tolist() == ["nothing from popularity"]


def test_exclude_seen_false_allows_re_consumption_and_true_overrides_the_config():
    rec = popular()
    assert ids(rec.recommend(4, candidates=[50, 40, 30], exclude_seen=False)) == [[30, 40, 50]]
    assert ids(rec.recommend(1, exclude_seen=False)) == [[10, 20, 30]]
    reconsuming = Recommender(ranker=PopularityRanker(n=3, exclude_seen=False), fallback=None).fit(TINY)
    assert ids(reconsuming.recommend(1)) == [[10, 20, 30]]
    assert ids(reconsuming.recommend(1, exclude_seen=True)) == [[30, 40, 50]]
    assert reconsuming.fitted_ranker.config.exclude_seen is False  # the call changed nothing


def test_unknown_ids_in_exclude_and_candidates_are_ignored_logged_and_counted(caplog):
    rec = popular()
    with caplog.at_level(logging.INFO, logger="recframe.recommender.call_control"):
        lists = rec.recommend([4, 1], exclude=[999, 20, "x"], candidates=[10, 20, 30, 40, 50, 777])
    assert ids(lists) == [[10, 30, 40], [30, 40, 50]]
    note = "2 unknown item ids in exclude ignored; 1 unknown item ids in candidates ignored"
    assert lists.reasons.tolist() == [note, note]
    assert note in caplog.text


def test_switches_must_be_bools_and_ids_ids():
    rec = popular()
    with pytest.raises(TypeError, match="exclude_seen must be True, False or None"):
        rec.recommend(4, exclude_seen="no")
    with pytest.raises(TypeError, match="fill_short must be True or False"):
        rec.recommend(4, fill_short=1)
    with pytest.raises(TypeError, match="item ids must be"):
        rec.recommend(4, exclude=2.5)


def test_short_lists_are_filled_from_the_fallback_chain_on_request():
    data = random_interactions(30, 25, density=0.1, seed=4)
    main = Recommender(similarity=SparseSimilarity(k=2), ranker=ItemCFRanker(n=8), fallback=None).fit(data)
    rec = Recommender(similarity=SparseSimilarity(k=2), ranker=ItemCFRanker(n=8)).fit(data)
    users = main.interaction_matrix.users.ids
    own = main.recommend(users, 8)
    short = np.flatnonzero((own.lengths > 0) & (own.lengths < 8))
    assert short.size  # k=2 leaves short lists to fill
    default = rec.recommend(users, 8)
    assert ids(default)[short[0]] == ids(own)[short[0]]  # by default only empty lists are served
    filled = rec.recommend(users, 8, fill_short=True)
    everything = Recommender(ranker=PopularityRanker(n=25), fallback=None).fit(data).recommend(users, 25)
    for u in short:
        head = ids(own)[u]
        tail = [i for i in ids(everything)[u] if i not in head]
        assert ids(filled)[u] == (head + tail)[:8]
        assert filled.sources[u] == "item_cf"
        added = min(8, len(head) + len(tail)) - len(head)
        assert filled.reasons[u] == f"{len(head)} of 8 from item_cf; filled {added} from popularity"
    full = np.flatnonzero(own.lengths == 8)
    assert all(ids(filled)[u] == ids(own)[u] and filled.reasons[u] == "" for u in full)


def test_an_item_is_never_its_own_neighbour_even_as_a_candidate():
    data = random_interactions(30, 20, density=0.3, seed=5)
    rec = Recommender(similarity=SparseSimilarity(k=3)).fit(data)
    items = rec.interaction_matrix.items.ids
    lists = rec.similar_items(items[:5], 4, candidates=items[:8])
    for query, row in zip(items[:5], ids(lists), strict=True):
        assert query not in row and set(row) <= set(items[:8].tolist())


def brute_force(rec: Recommender, users: np.ndarray, n: int, banned: np.ndarray, exclude_seen: bool) -> list[list]:
    """Score every item for every user with the ranker's definition, then filter and sort."""
    matrix = rec.interaction_matrix
    rows = matrix.users.rows(users)
    scores = rec.fitted_ranker.score_block(rows)
    blocked = np.zeros_like(scores, dtype=bool)
    blocked[:, banned] = True
    if exclude_seen:
        blocked |= matrix.matrix[rows].toarray() != 0
    out = []
    for line, row in enumerate(scores):
        kept = [(j, v) for j, v in enumerate(row) if v > 0 and not blocked[line, j]]
        kept.sort(key=lambda t: (-t[1], t[0]))
        out.append(kept[:n])
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("ranker", ["item_cf", "user_cf", "popularity"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_agreement_with_brute_force(engine, ranker, seed):
    rng = np.random.default_rng(seed)
    data = random_interactions(45, 35, density=0.2, seed=seed + 10)
    made = {
        "item_cf": lambda: ItemCFRanker(n=6, engine=engine),
        "user_cf": lambda: UserCFRanker(n=6, engine=engine),
        "popularity": lambda: PopularityRanker(n=6),
    }[ranker]
    rec = Recommender(similarity=SparseSimilarity(k=6), ranker=made(), fallback=None).fit(data)
    matrix = rec.interaction_matrix
    users = matrix.users.ids[rng.choice(len(matrix.users), 12, replace=False)]
    n_items = len(matrix.items)
    for _ in range(4):
        exclude = rng.choice(n_items, rng.integers(0, 10), replace=False)
        candidates = rng.choice(n_items, rng.integers(5, n_items), replace=False) if rng.random() < 0.6 else None
        exclude_seen = bool(rng.random() < 0.7)
        n = int(rng.integers(1, 12))
        banned = set(exclude.tolist())
        if candidates is not None:
            banned |= set(range(n_items)) - set(candidates.tolist())
        expected = brute_force(rec, users, n, np.array(sorted(banned), dtype=np.int64), exclude_seen)
        lists = rec.recommend(
            users,
            n,
            exclude=matrix.items.ids[exclude],
            candidates=None if candidates is None else matrix.items.ids[candidates],
            exclude_seen=exclude_seen,
        )
        for line, want in enumerate(expected):
            real = lists.ranked.items[line] >= 0
            assert lists.ranked.items[line][real].tolist() == [j for j, _ in want]
            np.testing.assert_allclose(lists.ranked.scores[line][real], [v for _, v in want], rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_similar_items_and_histories_agree_with_filtering_the_full_lists(seed):
    rng = np.random.default_rng(seed)
    data = random_interactions(40, 30, density=0.2, seed=seed + 20)
    rec = Recommender(similarity=SparseSimilarity(k=3)).fit(data)
    wide = Recommender(similarity=SparseSimilarity(k=29)).fit(data)  # every neighbour of every item
    items = rec.interaction_matrix.items.ids
    queries = items[rng.choice(len(items), 6, replace=False)]
    exclude = items[rng.choice(len(items), 5, replace=False)]
    candidates = items[rng.choice(len(items), 20, replace=False)]
    full = ids(wide.similar_items(queries, 29))
    got = ids(rec.similar_items(queries, 5, exclude=exclude, candidates=candidates))
    allowed = set(candidates.tolist()) - set(exclude.tolist())
    assert got == [[i for i in row if i in allowed][:5] for row in full]
    histories = [items[rng.choice(len(items), 4, replace=False)].tolist() for _ in range(5)]
    everything = ids(rec.recommend_histories(histories, 30))
    restricted = ids(rec.recommend_histories(histories, 4, exclude=exclude, candidates=candidates))
    assert restricted == [[i for i in row if i in allowed][:4] for row in everything]
    single = ids(rec.recommend_history(histories[0], 4, exclude=exclude))
    assert single == [[i for i in everything[0] if i not in set(exclude.tolist())][:4]]
