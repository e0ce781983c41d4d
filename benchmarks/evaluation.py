"""How long evaluation takes beyond producing the recommendations, against a per-user Python loop.

    python -m benchmarks.evaluation --shape ml-1m --repeats 5
    python -m benchmarks.evaluation --shape smoke --repeats 1        # seconds; what CI runs

On a seeded data shape (see ``datasets.py``), 20% of each user's interactions are held out at
random, item-CF (``sparse`` backend, k = 50) is fitted on the rest and every test user's top 10
is produced once. Then, timed over ``--repeats`` runs (median, min-max): matching the lists
against the held-out items (``held_out`` + ``metric_input``), each built-in metric at 10, and
the same six accuracy metrics computed the way a per-user loop over Python sets does, whose
values must agree with recframe's to 1e-12.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.datasets import SHAPES, load_matrix
from recframe import Interactions, MetricInput, Recommender
from recframe.builtin import metrics as builtin
from recframe.data import IdIndex
from recframe.evaluation import held_out, metric_input

K = 10
ACCURACY = ("precision", "recall", "ndcg", "map", "mrr", "hit_rate")


def split(seed: int, shape: str) -> tuple[Interactions, Interactions]:
    """Hold out a random 20% (at least one) of each user's interactions of a data shape."""
    matrix = load_matrix(shape)
    users = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    everything = Interactions(users, matrix.indices.astype(np.int64), matrix.data.astype(np.float64))
    from recframe.builtin.splitters import PerUserHoldoutSplitter

    return PerUserHoldoutSplitter(test_fraction=0.2).split(everything, np.random.default_rng(seed))


def loop_metrics(ranked: list[list[object]], relevant: list[set[object]]) -> dict[str, np.ndarray]:
    """The six accuracy metrics, one user at a time, with Python sets: the usual hand-written loop."""
    out: dict[str, list[float]] = {name: [] for name in ACCURACY}
    for items, truth in zip(ranked, relevant, strict=True):
        hits = [i in truth for i in items[:K]] + [False] * (K - len(items[:K]))
        found = sum(hits)
        out["precision"].append(found / K)
        out["recall"].append(found / len(truth))
        dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hits) if h)
        out["ndcg"].append(dcg / sum(1 / math.log2(r + 2) for r in range(min(K, len(truth)))))
        seen, ap = 0, 0.0
        for r, h in enumerate(hits):
            if h:
                seen += 1
                ap += seen / (r + 1)
        out["map"].append(ap / min(K, len(truth)))
        out["mrr"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
        out["hit_rate"].append(float(found > 0))
    return {name: np.asarray(values) for name, values in out.items()}


def timed(function: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return times, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-1m")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--output", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args(argv)

    train, test = split(1, args.shape)
    rec = Recommender.from_config({"similarity": {"type": "sparse", "k": 50}, "ranker": {"type": "item_cf", "n": K}})
    rec.fit(train)
    users = IdIndex.encode(test.users)[0]
    lists = rec.recommend(users.ids, K)
    rec.recommend(users.ids[:10], K)  # warm
    rows: list[tuple[str, list[float]]] = []
    times, _ = timed(lambda: rec.recommend(users.ids, K), args.repeats)
    rows.append(("producing the top-10 lists (item_cf, numba or scipy engine)", times))

    train_items = rec.interaction_matrix.items

    def match() -> MetricInput:
        held = held_out(test, train_items)
        return metric_input(held, held.users, lists.ranked.items, rec.interaction_matrix, K)

    match_times, data = timed(match, args.repeats)
    assert isinstance(data, MetricInput)
    rows.append(("matching lists against held-out items", match_times))
    metrics = [
        builtin.Precision(k=K), builtin.Recall(k=K), builtin.F1(k=K), builtin.NDCG(k=K), builtin.MAP(k=K),
        builtin.MRR(k=K), builtin.HitRate(k=K), builtin.Coverage(k=K), builtin.Gini(k=K), builtin.Novelty(k=K),
        builtin.AveragePopularity(k=K), builtin.IntraListDiversity(k=K),
    ]
    values, metric_times = {}, {}
    for metric in metrics:
        metric_times[metric.name], values[metric.name] = timed(lambda m=metric: m.compute(data), args.repeats)
        rows.append((f"  {metric.label}", metric_times[metric.name]))
    rows.append(("all 12 metrics", np.sum(list(metric_times.values()), axis=0).tolist()))
    accuracy_total = (np.asarray(match_times) + np.sum([metric_times[n] for n in ACCURACY], axis=0)).tolist()
    rows.append((f"recframe: matching + the 6 accuracy metrics ({', '.join(ACCURACY)})", accuracy_total))

    def loop() -> dict[str, np.ndarray]:
        """Match and score the usual way: a set of held-out items per user, then a loop."""
        truth: dict[object, set[object]] = {}
        for user, item in zip(test.users.tolist(), test.items.tolist(), strict=True):
            truth.setdefault(user, set()).add(item)
        ranked = [
            [item for item, row in zip(train_items.ids_of(np.maximum(rows, 0)).tolist(), rows, strict=True) if row >= 0]
            for rows in lists.ranked.items
        ]
        return loop_metrics(ranked, [truth[user] for user in users.ids.tolist()])

    times, looped = timed(loop, args.repeats)
    rows.append(("per-user Python loop: matching + the same 6 accuracy metrics", times))
    assert isinstance(looped, dict)
    worst = max(float(np.max(np.abs(looped[name] - values[name]))) for name in ACCURACY)

    n_users = data.n_users
    header = (
        f"### evaluation, shape {args.shape}\n\n{n_users:,} test users x top-{K}, {len(test):,} held-out "
        f"interactions; {args.repeats} repeats in one process; largest difference between recframe and "
        f"the loop: {worst:.1e}.\n\n| step | median s | min-max s |\n|---|---|---|\n"
    )
    body = "".join(
        f"| {label} | {statistics.median(t):.4f} | {min(t):.4f}-{max(t):.4f} |\n" for label, t in rows
    )
    loop, ours = statistics.median(rows[-1][1]), statistics.median(rows[-2][1])
    footer = f"\nThe loop takes {loop / ours:.1f} x recframe's time for the six accuracy metrics.\n"
    table = header + body + footer
    print(table)
    if args.output is not None:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write(table + "\n")
    if worst > 1e-12:
        print(f"recframe and the loop disagree by {worst}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
