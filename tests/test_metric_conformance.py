"""Conformance: each profile equals the library it names, on generated runs and on fixed cases.

Oracles: ir-measures (trec_eval's own code, through pytrec-eval) and ranx for ``trec_eval``;
implicit's ``ranking_metrics_at_k`` for ``implicit``; LensKit's metric classes for ``lenskit``
(LensKit needs torch, so that test runs only where it is installed: ``/tmp/lkenv`` while
developing, the ``conformance`` extra). ranx compiles with numba for about 30 s on a cold cache,
so its test runs only with ``RECFRAME_CONFORMANCE=1``. RecBole, RecTools and Microsoft Recommenders are not
installed: their fixed cases are the examples in their docstrings or computed by hand from
their source (versions in ``recframe.builtin.metrics.profiles.PROFILE_VERSIONS``).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Interactions, MetricInput
from recframe.builtin.matrix_builders import RatingsMatrixBuilder
from recframe.builtin.metrics import F1, MAP, MRR, NDCG, HitRate, Precision, Recall
from recframe.evaluation import held_out, metric_input

K = (1, 3, 5, 10)


class Run:
    """A generated run: training events, graded held-out items, and ranked lists with distinct scores."""

    def __init__(
        self, seed: int, n_users: int = 50, n_items: int = 60, max_len: int = 12, short: bool = True, ties: bool = False
    ):
        rng = np.random.default_rng(seed)
        train = Interactions(np.repeat(np.arange(n_users), 2), rng.integers(0, n_items, 2 * n_users))
        train = Interactions(
            np.r_[train.users, np.zeros(n_items, dtype=np.int64)], np.r_[train.items, np.arange(n_items)]
        )
        self.matrix = RatingsMatrixBuilder().build(train)
        users, items, ratings = [], [], []
        for u in range(n_users):
            truth = rng.choice(n_items, size=int(rng.integers(1, 15)), replace=False)
            users += [u] * len(truth)
            items += truth.tolist()
            ratings += rng.integers(1, 4, len(truth)).tolist()
        self.test = Interactions(np.array(users), np.array(items), values=np.array(ratings, dtype=float))
        held = held_out(self.test, self.matrix.items)
        lengths = rng.integers(1 if short else max_len, max_len + 1, n_users)
        ranked = np.full((n_users, max_len), -1, dtype=np.int64)
        scores = np.full((n_users, max_len), np.nan)
        for u, length in enumerate(lengths):
            ranked[u, :length] = rng.choice(n_items, size=length, replace=False)
            scores[u, :length] = np.sort(rng.random(length))[::-1] + np.arange(length, 0, -1)  # distinct
        if ties:  # a few score levels: ties within lists and across every cut-off
            scores = np.floor(scores / 3.0)
        self.ranked, self.scores = ranked, scores
        self.data = replace(metric_input(held, held.users, ranked, self.matrix, max_len), scores=scores)
        self.item_ids = self.matrix.items.ids

    def lists(self):
        """Yield ``(user, [(item id, score), ...])`` best first."""
        for u in range(len(self.ranked)):
            real = self.ranked[u] >= 0
            yield u, list(zip(self.item_ids[self.ranked[u][real]].tolist(), self.scores[u][real].tolist(), strict=True))

    def truth(self):
        """Return ``{user: {item id: rating}}``."""
        out: dict[int, dict[int, int]] = {}
        for u, i, r in zip(self.test.users.tolist(), self.test.items.tolist(), self.test.values.tolist(), strict=True):
            out.setdefault(u, {})[i] = int(r)
        return out


@pytest.fixture(scope="module")
def run() -> Run:
    return Run(11)


@pytest.mark.parametrize("tied", [None, *range(4)], ids=["distinct", *(f"ties{s}" for s in range(4))])
def test_trec_eval_profile_equals_ir_measures(run, tied):
    """Every measure through ir-measures' pytrec_eval provider: trec_eval's own code, its tie rule included.

    ir-measures would pick its ``msmarco`` provider for ``RR@k``, which orders tied scores its own
    way; trec_eval's ``recip_rank`` has no cut-off, so ``RR@k`` is its value where the first hit is
    within ``k``, else 0.
    """
    ir_measures = pytest.importorskip("ir_measures", reason="the oracle of trec_eval's definitions (test extra)")
    run = run if tied is None else Run(tied, n_items=120, ties=True)
    trec = ir_measures.pytrec_eval
    qrels = [ir_measures.Qrel(str(u), str(i), r) for u, items in run.truth().items() for i, r in items.items()]
    scored = [ir_measures.ScoredDoc(str(u), str(i), s) for u, ranked in run.lists() for i, s in ranked]
    for k in K:
        ours = {
            ir_measures.P @ k: Precision(k=k, profile="trec_eval"),
            ir_measures.R @ k: Recall(k=k, profile="trec_eval"),
            ir_measures.nDCG @ k: NDCG(k=k, profile="trec_eval"),
            ir_measures.AP @ k: MAP(k=k, profile="trec_eval"),
            ir_measures.RR @ k: MRR(k=k, profile="trec_eval"),
            ir_measures.Success @ k: HitRate(k=k, profile="trec_eval"),
        }
        theirs = {
            (m, int(q)): v
            for m, q, v in ((x.measure, x.query_id, x.value) for x in trec.iter_calc(list(ours), qrels, scored))
            if m != ir_measures.RR @ k
        }
        for x in trec.iter_calc([ir_measures.RR], qrels, scored):
            theirs[ir_measures.RR @ k, int(x.query_id)] = x.value if x.value >= 1 / k else 0.0
        for measure, metric in ours.items():
            expected = [theirs[measure, u] for u in range(run.data.n_users)]
            np.testing.assert_allclose(metric.compute(run.data), expected, rtol=0, atol=1e-12, err_msg=str(measure))


@pytest.mark.skipif(
    not os.environ.get("RECFRAME_CONFORMANCE"),
    reason="ranx compiles its metrics with numba, about 30 s on a cold cache; set RECFRAME_CONFORMANCE=1 to run it",
)
@pytest.mark.filterwarnings("ignore:.*unsafe cast")  # numba compiling ranx
def test_trec_eval_profile_equals_ranx(run):
    ranx = pytest.importorskip("ranx", reason="a second oracle of trec_eval's definitions (test extra)")
    qrels = ranx.Qrels({str(u): {str(i): r for i, r in items.items()} for u, items in run.truth().items()})
    scored = ranx.Run({str(u): {str(i): s for i, s in ranked} for u, ranked in run.lists()})
    for k in K:
        ours = {
            f"precision@{k}": Precision(k=k, profile="trec_eval"),
            f"recall@{k}": Recall(k=k, profile="trec_eval"),
            f"f1@{k}": F1(k=k, profile="trec_eval"),
            f"ndcg@{k}": NDCG(k=k, profile="trec_eval"),
            f"map@{k}": MAP(k=k, profile="trec_eval"),
            f"mrr@{k}": MRR(k=k, profile="trec_eval"),
            f"hit_rate@{k}": HitRate(k=k, profile="trec_eval"),
        }
        theirs = ranx.evaluate(qrels, scored, list(ours), return_mean=False)
        order = [int(q) for q in qrels.get_query_ids()]
        for name, metric in ours.items():
            np.testing.assert_allclose(metric.compute(run.data)[order], theirs[name], rtol=0, atol=1e-12, err_msg=name)


class ListedModel:
    """What implicit's ``ranking_metrics_at_k`` calls: ``recommend`` answering with given lists."""

    def __init__(self, ranked: np.ndarray):
        self.ranked = ranked

    def recommend(self, users, user_items, N):
        ids = np.ascontiguousarray(self.ranked[np.asarray(users), :N], dtype=np.int32)
        return ids, np.zeros(ids.shape, dtype=np.float32)


def test_implicit_profile_equals_implicits_own_functions():
    evaluation = pytest.importorskip("implicit.evaluation", reason="the oracle of the implicit profile")
    run = Run(12, max_len=10, short=False)  # implicit asks the model for exactly K items
    n_users, n_items = run.data.n_users, run.matrix.n_items
    rows, cols = [], []
    rank_of = {item: row for row, item in enumerate(run.item_ids.tolist())}
    for u, items in run.truth().items():
        rows += [u] * len(items)
        cols += [rank_of[i] for i in items]
    test = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_users, n_items))
    train = sp.csr_matrix((n_users, n_items))
    for k in (1, 5, 10):
        theirs = evaluation.ranking_metrics_at_k(ListedModel(run.ranked), train, test, K=k, show_progress=False)
        for name, metric in (("precision", Precision), ("map", MAP), ("ndcg", NDCG)):
            ours = metric(k=k, profile="implicit")
            value = ours.summarise(ours.compute(run.data), run.data)
            assert value == pytest.approx(theirs[name], rel=0, abs=1e-12), (name, k)


def test_lenskit_profile_equals_lenskits_own_metrics(run):
    pytest.importorskip("lenskit", reason="LensKit needs torch: install the conformance extra to run this oracle")
    from lenskit.data import ItemList
    from lenskit.metrics import NDCG as LkNDCG
    from lenskit.metrics import Hit, RecipRank
    from lenskit.metrics import Precision as LkPrecision
    from lenskit.metrics import Recall as LkRecall
    from lenskit.metrics.ranking._map import AveragePrecision  # 2025.8 does not export it yet

    truth = run.truth()
    for k in K:
        pairs = [
            (LkPrecision(k), Precision(k=k, profile="lenskit")),
            (LkRecall(k), Recall(k=k, profile="lenskit")),
            (LkNDCG(k), NDCG(k=k, profile="lenskit")),
            (LkNDCG(k, gain="rating"), NDCG(k=k, profile="lenskit", gain="rating")),
            (AveragePrecision(k), MAP(k=k, profile="lenskit")),
            (RecipRank(k), MRR(k=k, profile="lenskit")),
            (Hit(k), HitRate(k=k, profile="lenskit")),
        ]
        for theirs, ours in pairs:
            expected = []
            for u, ranked in run.lists():
                recs = ItemList(item_ids=[i for i, _ in ranked], ordered=True)
                test = ItemList(item_ids=list(truth[u]), rating=np.array(list(truth[u].values()), dtype=float))
                expected.append(theirs.measure_list(recs, test))
            np.testing.assert_allclose(ours.compute(run.data), expected, rtol=0, atol=1e-12, err_msg=ours.label)


# ---- fixed cases: the known disagreements ---------------------------------------------------------------


def fixed(lists: list[list[int]], truth: list[set[int]]) -> MetricInput:
    """Binary truth over item rows 1..9 (ids equal to rows); ``-1`` pads lists."""
    width = max(len(row) for row in lists)
    items = np.array([row + [-1] * (width - len(row)) for row in lists], dtype=np.int64)
    hits = np.array([[i in rel for i in row] for row, rel in zip(items.tolist(), truth, strict=True)])
    ideal = np.array([[1.0] * len(rel) + [0.0] * (10 - len(rel)) for rel in truth])
    matrix = RatingsMatrixBuilder().build(Interactions(np.zeros(10, dtype=np.int64), np.arange(10)))
    scores = np.where(items >= 0, -np.arange(width, dtype=float), np.nan)  # distinct: the listed order
    n_rel = np.array([len(r) for r in truth])
    return MetricInput(items, hits, hits.astype(float), n_rel, ideal, matrix, scores=scores)


# RecTools' docstring example (rectools/metrics/ranking.py, 0.17.0): users 1..4
RECTOOLS = fixed([[7, 8], [1, 2], [1, 2, 3, 4], [1, 2, 3]], [{1, 2}, {1}, {1, 3, 4}, {1, 2, 3}])


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (MAP(k=1, profile="rectools"), [0, 1, 1 / 3, 1 / 3]),
        (MAP(k=3, profile="rectools"), [0, 1, 0.55555556, 1]),
        (MAP(k=3, profile="rectools", denominator="k"), [0, 0.33333333, 0.55555556, 1]),  # divide_by_k
        (NDCG(k=1, profile="rectools"), [0, 1, 1, 1]),
        (NDCG(k=3, profile="rectools"), [0, 0.46927873, 0.70391809, 1]),  # IDCG over k places
        (MRR(k=3, profile="rectools"), [0, 1, 1, 1]),
    ],
)
def test_rectools_docstring_examples(metric, expected):
    np.testing.assert_allclose(metric.compute(RECTOOLS), expected, atol=5e-9)


SHORT = fixed([[1, 5], [4, 3, 2, 1, 9]], [{1, 2, 3, 4, 6, 7}, {1, 2}])
"""User 0: a short list (2 of k=4 places), hit at rank 1, |R| = 6 > k; user 1: hits at ranks 3 and 4."""


@pytest.mark.parametrize(
    ("profile", "metric", "expected"),
    [
        # precision: k (most) vs min(k, list length) (LensKit) vs min(k, |R|) micro (implicit)
        ("recbole", Precision, [1 / 4, 2 / 4]),
        ("ms_recommenders", Precision, [1 / 4, 2 / 4]),
        ("lenskit", Precision, [1 / 2, 2 / 4]),
        ("implicit", Precision, [1 / 4, 2 / 2]),
        # recall: |R| vs min(k, |R|) (LensKit)
        ("recbole", Recall, [1 / 6, 2 / 2]),
        ("lenskit", Recall, [1 / 4, 2 / 2]),
        # AP: min(k, |R|) (RecBole, MSR, implicit) vs |R| (trec_eval, RecTools) vs min(list, |R|) (LensKit)
        ("recbole", MAP, [1 / 4, (1 / 3 + 2 / 4) / 2]),
        ("ms_recommenders", MAP, [1 / 4, (1 / 3 + 2 / 4) / 2]),
        ("trec_eval", MAP, [1 / 6, (1 / 3 + 2 / 4) / 2]),
        ("rectools", MAP, [1 / 6, (1 / 3 + 2 / 4) / 2]),
        ("lenskit", MAP, [1 / 2, (1 / 3 + 2 / 4) / 2]),
        # nDCG: ranks 1 and 2 discounted alike (LensKit); IDCG over k places (RecTools)
        (
            "recbole",
            NDCG,
            [
                1.0 / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)),
                (1 / 2 + 1 / math.log2(5)) / (1 + 1 / math.log2(3)),
            ],
        ),
        ("lenskit", NDCG, [1.0 / (2 + 1 / math.log2(3) + 1 / 2), (1 / math.log2(3) + 1 / 2) / 2]),
        (
            "rectools",
            NDCG,
            [
                1.0 / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)),
                (1 / 2 + 1 / math.log2(5)) / (1 + 1 / math.log2(3) + 1 / 2 + 1 / math.log2(5)),
            ],
        ),
    ],
)
def test_short_lists_and_more_relevant_than_k(profile, metric, expected):
    np.testing.assert_allclose(metric(k=4, profile=profile).compute(SHORT), expected, rtol=0, atol=1e-15)


def test_implicit_precision_is_micro_averaged():
    metric = Precision(k=4, profile="implicit")
    assert metric.summarise(metric.compute(SHORT), SHORT) == pytest.approx((1 + 2) / (4 + 2))
    assert Precision(k=4, profile="recbole").summarise(Precision(k=4).compute(SHORT), SHORT) == pytest.approx(3 / 8)


def test_a_tie_at_the_cut_off_follows_trec_evals_rule_only_under_its_profile():
    # items 3 and 7 tie at ranks 2-3; trec_eval puts "7" first (descending id), so the hit at 7 is in the top 2
    data = fixed([[1, 3, 7]], [{7}])
    data = replace(data, scores=np.array([[2.0, 1.0, 1.0]]))
    assert Precision(k=2, profile="trec_eval").compute(data)[0] == 1 / 2
    assert Precision(k=2, profile="recbole").compute(data)[0] == 0.0
