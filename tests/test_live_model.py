"""A live model: queries during refits and reloads, shared components, evaluate beside queries, hostile inputs.

Every answer given while another thread refits and reloads saved models must be the
sequential answer of one of the two models (never a mix), a component object shared by two
recommenders never changes the first one's answers, ``evaluate`` never disturbs the fitted
model, and every compiled kernel refuses malformed inputs with a clear error on both engines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest
import scipy.sparse as sp

from recframe import Recommender
from recframe.builtin.metrics import NDCG
from recframe.builtin.rankers import ItemCFRanker, PopularityRanker
from recframe.builtin.similarity import SparseSimilarity
from recframe.builtin.splitters import RandomHoldoutSplitter
from recframe.engine import numba_available, row_totals, top_k_by_measure, top_k_neighbours, top_n_product
from recframe.engine.measures import MeasureSpec
from recframe.testing import random_interactions

ENGINES = ["scipy", pytest.param("numba", marks=pytest.mark.skipif(not numba_available(), reason="needs numba"))]
DATA_A = random_interactions(60, 40, density=0.15, seed=1)
DATA_B = random_interactions(60, 40, density=0.25, seed=2)
_SHARED_USERS = np.intersect1d(DATA_A.users, DATA_B.users)
_SHARED_ITEMS = np.intersect1d(DATA_A.items, DATA_B.items)
USERS = [*_SHARED_USERS[:5].tolist(), 12345]  # 12345: unknown, served by the fallback
ITEMS = _SHARED_ITEMS[:4].tolist()
EXPLAINED = (USERS[1], ITEMS[2])


def build() -> Recommender:
    return Recommender(similarity=SparseSimilarity(k=8), ranker=ItemCFRanker(n=5), fallback=PopularityRanker())


def answers(rec: Recommender) -> dict[str, bytes]:
    """Every kind of query, as comparable bytes."""
    lists = rec.recommend(USERS, 5)
    similar = rec.similar_items(ITEMS, 4)
    explained = rec.explain(*EXPLAINED)
    predicted = rec.predict(USERS[:4], ITEMS)
    return {
        "recommend": lists.ids.tobytes() + np.nan_to_num(lists.scores).tobytes() + "|".join(lists.sources).encode(),
        "similar": similar.ids.tobytes() + np.nan_to_num(similar.scores).tobytes(),
        "explain": repr((explained.score, [(c.neighbour, c.contribution) for c in explained.contributions])).encode(),
        "predict": predicted.values.tobytes() + predicted.source.tobytes(),
    }


def test_queries_during_refits_and_reloads_answer_wholly_from_one_model(tmp_path):
    saved = [build().fit(DATA_A).save(tmp_path / "a"), build().fit(DATA_B).save(tmp_path / "b")]
    reference = [answers(build().fit(DATA_A)), answers(build().fit(DATA_B))]
    assert all(reference[0][kind] != reference[1][kind] for kind in reference[0])  # the models differ
    assert [answers(Recommender.load(path)) for path in saved] == reference  # a saved model answers as it was
    rec = build().fit(DATA_A)
    stop = threading.Event()
    failures: list[str] = []
    counts = {"refits": 0, "reloads": 0, "queries": 0}
    # each step swaps in the other model: A -> B (fit), -> A (reload), -> B (reload), -> A (fit)
    steps = [("fit", DATA_B), ("reload", saved[0]), ("reload", saved[1]), ("fit", DATA_A)]

    def refit() -> None:
        for turn in range(1000):
            if stop.is_set():
                return
            action, source = steps[turn % len(steps)]
            if action == "fit":
                rec.fit(source)
            else:
                rec.reload(source)
            counts[f"{action.replace('fit', 'refit')}s"] += 1

    def query(kind: str) -> None:
        while not stop.is_set():
            got = answers(rec)[kind]
            counts["queries"] += 1
            if got not in (reference[0][kind], reference[1][kind]):
                failures.append(kind)

    def enough() -> bool:
        return counts["refits"] >= 2 and counts["reloads"] >= 2 and counts["queries"] >= 8

    errors: list[BaseException] = []

    def recording(work: Callable[..., None]) -> Callable[..., None]:
        def run(*args: str) -> None:
            try:
                work(*args)
            except BaseException as error:  # a thread that dies ends the wait below
                errors.append(error)

        return run

    kinds = ["recommend", "similar", "explain", "predict"] * 2
    threads = [threading.Thread(target=recording(refit))]
    threads += [threading.Thread(target=recording(query), args=(k,)) for k in kinds]
    for thread in threads:
        thread.start()
    # at least 2 s of queries, and on until the model was swapped often enough (a loaded machine
    # may need longer for a refit among eight querying threads), within a minute
    stop.wait(2.0)
    deadline = time.monotonic() + 60.0
    while not enough() and not errors and time.monotonic() < deadline:
        stop.wait(0.1)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert not failures, f"{len(failures)} answers mixed two models: {sorted(set(failures))}"
    assert enough(), counts


def test_a_component_shared_by_two_recommenders_is_never_changed_by_fitting():
    ranker, similarity, fallback = ItemCFRanker(n=5), SparseSimilarity(k=8), PopularityRanker()
    first = Recommender(similarity=similarity, ranker=ranker, fallback=fallback).fit(DATA_A)
    before = answers(first)
    second = Recommender(similarity=similarity, ranker=ranker, fallback=fallback).fit(DATA_B)
    assert answers(first) == before
    assert answers(second) == answers(
        Recommender(similarity=SparseSimilarity(k=8), ranker=ItemCFRanker(n=5)).fit(DATA_B)
    )
    assert ranker.matrix_ is None and fallback.matrix_ is None  # the templates themselves are never fitted
    assert first.fitted_ranker is not second.fitted_ranker is not ranker


def test_evaluate_never_disturbs_the_fitted_model():
    rec = Recommender(
        similarity=SparseSimilarity(k=8),
        ranker=ItemCFRanker(n=5),
        splitter=RandomHoldoutSplitter(test_fraction=0.3),
        metrics=[NDCG(k=5)],
    ).fit(DATA_A)
    before = answers(rec)
    done = threading.Event()
    changed: list[str] = []

    def keep_asking() -> None:
        while not done.is_set():
            if answers(rec) != before:
                changed.append("during")

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        rec.evaluate(DATA_B)
    finally:
        done.set()
        asker.join()
    assert not changed
    assert answers(rec) == before


def test_evaluate_leaves_an_unfitted_recommender_fitted_on_the_last_training_part():
    rec = Recommender(
        splitter=RandomHoldoutSplitter(test_fraction=0.3), metrics=[NDCG(k=5)], similarity=SparseSimilarity(k=8)
    )
    rec.evaluate(DATA_A)
    assert rec.interaction_matrix.nnz < len(DATA_A)


def csr(rows: int, cols: int, seed: int = 0) -> sp.csr_array:
    matrix = sp.csr_array(sp.random_array((rows, cols), density=0.4, format="csr", random_state=seed))
    matrix.data += 0.1
    return matrix


def corrupt(matrix: sp.csr_array, column: int) -> sp.csr_array:
    broken = matrix.copy()
    broken.indices[0] = column  # scipy does not check after construction; a kernel would read there
    return broken


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        ("row past the end", IndexError, r"rows holds row 6, outside \[-1, 6\)"),
        ("row below -1", IndexError, r"rows holds row -2"),
        ("float rows", TypeError, r"rows must be integer row numbers"),
        ("2-d rows", ValueError, r"rows must be 1-d"),
        ("inner sizes differ", ValueError, r"b has shape \(5, 7\); expected 4 rows"),
        ("column past the end", IndexError, r"b has column index 99 outside \[0, 7\)"),
        ("negative column", IndexError, r"a has column index -3 outside"),
        ("short indptr", ValueError, r"row offsets"),
        ("seen of another shape", ValueError, r"seen has shape \(6, 6\)"),
        ("exclude per row of a", ValueError, r"exclude has shape \(6, 7\); expected 2 rows"),
        ("negative n", ValueError, r"n must be 0 or more"),
        ("float n", TypeError, r"n must be a whole number"),
        ("not a matrix", TypeError, r"a must be a scipy CSR matrix"),
        ("exclude_self on a wide a", ValueError, r"exclude_self needs as many columns as rows"),
    ],
)
def test_top_n_product_refuses_hostile_inputs(engine, case, error, match):
    a, b = csr(6, 4, 1), csr(4, 7, 2)
    rows, n = np.array([0, 5]), 3
    kwargs: dict[str, object] = {}
    if case == "row past the end":
        rows = np.array([0, 6])
    elif case == "row below -1":
        rows = np.array([-2, 1])
    elif case == "float rows":
        rows = np.array([0.0, 1.5])
    elif case == "2-d rows":
        rows = np.array([[0, 1]])
    elif case == "inner sizes differ":
        b = csr(5, 7)
    elif case == "column past the end":
        b = corrupt(b, 99)
    elif case == "negative column":
        a = corrupt(a, -3)
    elif case == "short indptr":
        a = a.copy()
        a.indptr = a.indptr[:-1]
    elif case == "seen of another shape":
        kwargs["seen"] = csr(6, 6)
    elif case == "exclude per row of a":
        kwargs["exclude"] = csr(6, 7)
    elif case == "negative n":
        n = -1
    elif case == "float n":
        n = 2.0  # type: ignore[assignment]
    elif case == "not a matrix":
        a = a.toarray()  # type: ignore[assignment]
    elif case == "exclude_self on a wide a":
        b, kwargs["exclude_self"] = csr(4, 3), True
    with pytest.raises(error, match=match):
        top_n_product(a, rows, b, n, engine=engine, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ENGINES)
def test_neighbour_kernels_refuse_hostile_inputs(engine):
    x = csr(9, 5)
    with pytest.raises(IndexError, match="x has column index 50"):
        top_k_neighbours(corrupt(x, 50), 3, engine=engine)
    with pytest.raises(ValueError, match=r"transposed has shape \(9, 5\); expected 5 rows"):
        top_k_neighbours(x, 3, engine=engine, transposed=x)
    spec = MeasureSpec.of("cosine")
    targets = sp.csr_array(x.T)
    totals = row_totals(x)
    with pytest.raises(IndexError, match=r"rows holds row 9"):
        top_k_by_measure(x, np.array([0, 9]), targets, totals, spec, 3, engine=engine)
    with pytest.raises(ValueError, match="target_totals must be"):
        top_k_by_measure(x, np.array([0, 1]), targets, (totals[0][:-1], totals[1]), spec, 3, engine=engine)
    with pytest.raises(IndexError, match="targets_t has column index 40"):
        top_k_by_measure(x, np.array([0, 1]), corrupt(targets, 40), totals, spec, 3, engine=engine)
    # well-formed inputs still answer, the same on both engines
    columns, _ = top_k_by_measure(x, np.array([0, -1]), targets, totals, spec, 3, engine=engine)
    assert (columns[1] == -1).all() and (columns[0] >= 0).any()
