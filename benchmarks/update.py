"""Time ``Recommender.update`` and ``forget`` against a full refit, side by side (issue 14).

    python -m benchmarks.update --shape ml-20m --rankers item_cf
    python -m benchmarks.update --shape ml-1m --rankers item_cf,user_cf
    python -m benchmarks.update --shape smoke --fractions 0.01 --forget 10   # seconds; a smoke test
    python -m benchmarks.update --shape ml-20m --rankers item_cf --repeats 3 --again 3

Data: the seeded matrix of the shape (:mod:`benchmarks.datasets`) as interactions (user = row,
item = column, rating = value). For a fraction ``f`` the update holds ``f`` of all events: half
are every event of users picked at random until their events reach ``f / 2`` of the total (new
users), the rest are random events of the other users; the base is what remains. Seeded.

Protocol, per ranker (``item_cf`` searches item neighbours, ``user_cf`` user neighbours; the
similarity is ``sparse`` cosine, ``k=50``, numba engine; the matrix ``ratings``) and fraction:
fit on the base ("fit base", not the reference), time ``update(update part)`` on it, then time a
full ``fit`` of a new recommender on the base followed by the update (the refit, the reference)
and compare the two neighbour graphs: "exact" means every row's scores agree within 1e-9 after
sorting and its neighbour set is the same except among entries tied with its ``k``-th score.
Then ``forget`` 100 random users of the refit model (timed) against a refit without them (with
``--forget-heaviest``, the users with the most events: the dearest forget). The
numba kernels are compiled on a tiny model first, so no compile time is measured. With
``--repeats`` above 1 every repeat fits its own base, so each update starts from a fresh model;
the table shows medians. "of which matrix s" is the update's matrix step and "matrix mode" how
it was made (``incremental``: the builder's ``update``; ``full``: built again). With ``--again N``
each update (and forget) runs N more times on its base state in the same, warm process ("again
s": median): the first run after a fit pays for the fresh memory it writes (page faults, costly
on a virtual machine), the later ones mostly for the work.

With ``--chain N`` each fraction is also applied N times in a row to one model (a stream of
updates): the split takes N times the fraction, whose events are dealt at random into N equal
updates (so new users go on rating in later ones; the first update therefore holds more new
users, with fewer events each, than the fraction's row of the main table). Each update is
timed; the last model is compared with a refit on everything. The first update after a fit
finds every row's list full; the later ones find the lists an update left (see
docs/updating.md, "Cost").
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.datasets import SHAPES, describe, load_matrix
from recframe import Interactions, Recommender
from recframe.recommender.kernel_warm_up import warm_up_kernels

AXES = {"item_cf": "items", "user_cf": "users"}
"""The neighbour graph each ranker reads."""

SHOWN = frozenset({"mode", "rows_searched", "rows_merged"})
"""Lineage keys of a graph update with a column of their own (others go beside the mode)."""

TOLERANCE = 1e-9
"""Largest difference between an updated and a refitted similarity that still counts as equal."""


def config(ranker: str, k: int, slack: int = 0) -> dict[str, Any]:
    """Return the recommender configuration measured: sparse cosine, numba engine, ratings matrix."""
    return {
        "matrix": {"type": "ratings"},
        "similarity": {"type": "sparse", "measure": "cosine", "k": k, "engine": "numba", "update_slack": slack},
        "ranker": {"type": ranker, "n": 10},
    }


def all_events(shape: str) -> Interactions:
    """Return the shape's seeded matrix as interactions: user = row, item = column, rating = value."""
    coo = load_matrix(shape).tocoo()
    return Interactions(coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64))


def split(events: Interactions, fraction: float, rng: np.random.Generator) -> tuple[Interactions, Interactions]:
    """Return (base, update): the update holds `fraction` of the events, half of them from new users.

    New users are drawn at random until their events reach half the update's size; the rest of
    the update is random events of the other users. Both parts keep the events' order.
    """
    target = round(fraction * len(events))
    users, counts = np.unique(events.users, return_counts=True)
    order = rng.permutation(len(users))
    reached = np.cumsum(counts[order]) >= target / 2
    picked = users[order[: int(np.argmax(reached)) + 1]] if target and reached.any() else users[:0]
    in_update = np.isin(events.users, picked)
    others = np.flatnonzero(~in_update)
    extra = max(target - int(in_update.sum()), 0)
    in_update[rng.choice(others, size=min(extra, len(others)), replace=False)] = True
    return events.take(~in_update), events.take(in_update)


def timed_fit(cfg: dict[str, Any], events: Interactions) -> tuple[Recommender, float]:
    """Return a recommender fitted on `events` and the seconds ``fit`` took."""
    rec = Recommender.from_config(cfg)
    start = time.perf_counter()
    rec.fit(events)
    return rec, time.perf_counter() - start


def graph_of(rec: Recommender, ranker: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return the neighbour graph the fitted ranker reads, rows sorted best first (``-1`` pads last)."""
    graph = rec.fitted_ranker.neighbours_  # type: ignore[attr-defined]
    indices = np.asarray(graph.indices, dtype=np.int64)
    scores = np.where(indices >= 0, np.asarray(graph.scores, dtype=np.float64), -np.inf)
    order = np.lexsort((indices, -scores), axis=-1)
    return np.take_along_axis(indices, order, axis=1), np.take_along_axis(scores, order, axis=1)


def compare(updated: Recommender, refit: Recommender, ranker: str) -> str:
    """Say whether two fitted models have the same neighbour graph ("yes", or "no: ..." with counts).

    Rows must have the same number of neighbours, the same scores within :data:`TOLERANCE`
    after sorting, and the same neighbours except among those tied with the row's last score.
    """
    axis = AXES[ranker]
    for what in ("users", "items"):
        ours, theirs = getattr(updated.interaction_matrix, what), getattr(refit.interaction_matrix, what)
        if not np.array_equal(ours.ids, theirs.ids):
            return f"no: the {what} differ"
    ia, sa = graph_of(updated, ranker)
    ib, sb = graph_of(refit, ranker)
    width = max(ia.shape[1], ib.shape[1])
    ia, sa = _pad(ia, sa, width)
    ib, sb = _pad(ib, sb, width)
    count_a, count_b = (ia >= 0).sum(axis=1), (ib >= 0).sum(axis=1)
    rows_count = count_a != count_b
    valid = (ia >= 0) & (ib >= 0)
    diff = np.where(valid, np.abs(sa - sb), 0.0)
    worst = float(diff.max(initial=0.0))
    rows_score = (diff > TOLERANCE).any(axis=1)
    last = np.where(count_b > 0, sb[np.arange(len(sb)), np.maximum(count_b - 1, 0)], np.inf)
    cut = (last + TOLERANCE)[:, None]
    above_a = np.sort(np.where(sa > cut, ia, -1), axis=1)
    above_b = np.sort(np.where(sb > cut, ib, -1), axis=1)
    rows_set = (above_a != above_b).any(axis=1)
    bad = rows_count | rows_score | rows_set
    if not bad.any():
        return "yes"
    return (
        f"no: {int(bad.sum())} of {len(bad)} {axis[:-1]} rows differ ({int(rows_count.sum())} in length, "
        f"{int(rows_score.sum())} in scores, max diff {worst:.1e}, {int(rows_set.sum())} in neighbours)"
    )


def _pad(
    indices: npt.NDArray[np.int64], scores: npt.NDArray[np.float64], width: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return the graph with `width` columns (``-1`` and ``-inf`` added on the right)."""
    pad = ((0, 0), (0, width - indices.shape[1]))
    return np.pad(indices, pad, constant_values=-1), np.pad(scores, pad, constant_values=-np.inf)


@dataclass
class Row:
    """The measurements of one table row over the repeats."""

    label: str
    events: int = 0
    users_added: int | str = ""
    fit_base: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)
    refit: list[float] = field(default_factory=list)
    graph: list[float] = field(default_factory=list)
    matrix: list[float] = field(default_factory=list)
    matrix_mode: str = "-"
    neighbours: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, float] = field(default_factory=dict)
    exact: list[str] = field(default_factory=list)
    again: list[float] = field(default_factory=list)
    adds: bool = True  # its refit fits every event (the forget row's fits fewer)


def timed_again(rec: Recommender, before: Any, change: Callable[[Recommender], object], times: int) -> list[float]:
    """Return the seconds of `change` applied `times` more to the state `before`, in this warm process.

    Benchmark only: the base state is published again (``_publish``) before each run, so the same
    update runs on memory the process has touched already; the difference from the first run is
    what fresh memory (page faults) cost it. The state each run leaves is let go at the next
    publish, so the next run reuses its memory: holding it (as this did until the twenty-eighth
    session) made each run write fresh memory again: 0.6-0.7 s more than the first run for
    adding 1% to ML-20M on that session's machine. The last run's state, equal to the first's,
    stays.
    """
    seconds = []
    for _ in range(times):
        rec._publish(before)
        start = time.perf_counter()
        change(rec)
        seconds.append(time.perf_counter() - start)
    return seconds


def warm(ranker: str, k: int) -> None:
    """Compile the numba kernels a fit and an update use, so that no compilation or cache load is timed.

    The engine's start, then :func:`recframe.recommender.kernel_warm_up.warm_up_kernels` (what
    ``Recommender.warm_up`` runs): a fit, an update, a forget and a search of many rows on a
    tiny model, with the passes that run compiled from 2^20 entries on compiled at that size too.
    """
    from recframe.engine import warm_up

    warm_up()
    warm_up_kernels(config(ranker, k), Recommender.from_config)


def _forgotten(events: Interactions, n: int, heaviest: bool, rng: np.random.Generator) -> npt.NDArray[np.int64]:
    """Return the `n` users to forget: drawn at random, or those with the most events (ties by lower id)."""
    users, counts = np.unique(events.users, return_counts=True)
    if not heaviest:
        return rng.choice(users, size=n, replace=False)
    return users[np.argsort(-counts, kind="stable")[:n]]


def measure(args: argparse.Namespace, ranker: str, events: Interactions) -> list[Row]:
    """Run every fraction and the forget case for `ranker`; return the table rows."""
    cfg = config(ranker, args.k, args.slack)
    axis = AXES[ranker]
    rows = {f: Row(f"{f:g}") for f in args.fractions}
    who = "heaviest users" if args.forget_heaviest else "users"
    forget_row = Row(f"forget {args.forget} {who}", adds=False)
    for _ in range(args.repeats):
        rng = np.random.default_rng(args.seed)  # the same split each repeat
        refit, together = None, events
        for fraction in args.fractions:
            row = rows[fraction]
            base, part = split(events, fraction, rng)
            rec, seconds = timed_fit(cfg, base)
            row.fit_base.append(seconds)
            before = rec._state()
            start = time.perf_counter()
            rec.update(part)
            row.update.append(time.perf_counter() - start)
            entry = rec.lineage[-1]
            row.events, row.users_added = entry["events"], entry["users_added"]
            row.neighbours = entry["neighbours"].get(axis, {})
            row.graph.append(rec.timings.get(f"neighbours {axis}", 0.0))
            row.matrix.append(rec.timings.get("matrix", 0.0))
            row.matrix_mode = entry.get("matrix", "-")
            row.steps = dict(rec.timings)  # the first run's (the runs again replace them)
            row.again += timed_again(rec, before, lambda r, p=part: r.update(p), args.again)
            del before
            together = Interactions.concat(base, part)
            del base, part
            refit = None  # free the previous refit before fitting the next
            refit, seconds = timed_fit(cfg, together)
            row.refit.append(seconds)
            row.exact.append(compare(rec, refit, ranker))
            _log(ranker, row)
            del rec
        if args.forget:
            if refit is None:  # no fraction: forget from a model of every event
                refit, seconds = timed_fit(cfg, together)
                forget_row.fit_base.append(seconds)
            chosen = _forgotten(together, args.forget, args.forget_heaviest, rng)
            before = refit._state()
            start = time.perf_counter()
            refit.forget(users=chosen)
            forget_row.update.append(time.perf_counter() - start)
            entry = refit.lineage[-1]
            forget_row.events, forget_row.users_added = -entry["events"], -entry["users_removed"]
            forget_row.neighbours = entry["neighbours"].get(axis, {})
            forget_row.graph.append(refit.timings.get(f"neighbours {axis}", 0.0))
            forget_row.matrix.append(refit.timings.get("matrix", 0.0))
            forget_row.matrix_mode = entry.get("matrix", "-")
            forget_row.steps = dict(refit.timings)
            forget_row.again += timed_again(refit, before, lambda r, c=chosen: r.forget(users=c), args.again)
            del before
            reference, seconds = timed_fit(cfg, together.take(~np.isin(together.users, chosen)))
            forget_row.refit.append(seconds)
            forget_row.exact.append(compare(refit, reference, ranker))
            _log(ranker, forget_row)
            del reference
        del refit
    return [*rows.values(), *([forget_row] if args.forget else [])]


@dataclass
class Chain:
    """The measurements of one fraction applied several times in a row, over the repeats."""

    label: str
    updates: list[list[float]] = field(default_factory=list)
    searched: list[list[int]] = field(default_factory=list)
    refit: list[float] = field(default_factory=list)
    exact: list[str] = field(default_factory=list)


def measure_chains(args: argparse.Namespace, ranker: str, events: Interactions) -> list[Chain]:
    """Apply each fraction `args.chain` times in a row to one fitted model; return one :class:`Chain` per fraction."""
    cfg = config(ranker, args.k, args.slack)
    axis = AXES[ranker]
    chains = [Chain(f"{f:g}") for f in args.fractions]
    for _ in range(args.repeats):
        for fraction, chain in zip(args.fractions, chains, strict=True):
            rng = np.random.default_rng(args.seed)
            base, parts = split(events, fraction * args.chain, rng)
            rec, _ = timed_fit(cfg, base)
            seconds, searched = [], []
            for dealt in np.array_split(rng.permutation(len(parts)), args.chain):
                part = parts.take(np.sort(dealt))
                start = time.perf_counter()
                rec.update(part)
                seconds.append(time.perf_counter() - start)
                searched.append(int(rec.lineage[-1]["neighbours"].get(axis, {}).get("rows_searched", 0)))
            chain.updates.append(seconds)
            chain.searched.append(searched)
            refit, fit_seconds = timed_fit(cfg, Interactions.concat(base, parts))
            chain.refit.append(fit_seconds)
            chain.exact.append(compare(rec, refit, ranker))
            print(
                f"{ranker} {chain.label} x {args.chain} in a row: updates "
                + ", ".join(f"{s:.2f}s" for s in seconds)
                + f"; rows searched {searched}; refit {fit_seconds:.2f}s; exact: {chain.exact[-1]}",
                file=sys.stderr,
                flush=True,
            )
            del rec, refit
    return chains


def render_chains(args: argparse.Namespace, ranker: str, chains: list[Chain]) -> str:
    """Return the Markdown table of the updates in a row (medians over the repeats, position by position)."""
    lines = [
        f"#### {ranker}: each fraction {args.chain} times in a row on one model (update_slack = {args.slack})",
        "",
        "| fraction | update s, in order | rows searched, in order | refit s | first/refit | median of the later/refit "
        "| exact (last) |",
        "|---|---|---|---|---|---|---|",
    ]
    for chain in chains:
        seconds = [statistics.median(column) for column in zip(*chain.updates, strict=True)]
        searched = [round(statistics.median(column)) for column in zip(*chain.searched, strict=True)]
        refit = statistics.median(chain.refit)
        later = f"{statistics.median(seconds[1:]) / refit:.1%}" if len(seconds) > 1 else "-"
        exact = _exact_summary(chain.exact)
        lines.append(
            f"| {chain.label} | {' / '.join(f'{s:.2f}' for s in seconds)} | {' / '.join(f'{n:,}' for n in searched)} "
            f"| {refit:.2f} | {seconds[0] / refit:.1%} | {later} | {exact} |"
        )
    return "\n".join(lines) + "\n"


def _log(ranker: str, row: Row) -> None:
    """Print one measurement to stderr as it finishes."""
    print(
        f"{ranker} {row.label}: fit base {row.fit_base[-1] if row.fit_base else 0:.2f}s, update {row.update[-1]:.2f}s, "
        f"refit {row.refit[-1]:.2f}s, {row.neighbours}, exact: {row.exact[-1]}; update steps (s): "
        + ", ".join(f"{step} {seconds:.2f}" for step, seconds in row.steps.items()),
        file=sys.stderr,
        flush=True,
    )


def machine_facts() -> str:
    """Return the machine and library versions the numbers were measured with, as one sentence."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("numpy", "scipy", "numba", "recframe"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, " + ", ".join(versions)


def _exact_summary(exact: list[str]) -> str:
    """Return "yes" if every repeat was exact, else the first repeat's "no: ..." line."""
    return "yes" if all(e == "yes" for e in exact) else next(e for e in exact if e != "yes")


def render(args: argparse.Namespace, ranker: str, facts: dict[str, float], rows: list[Row]) -> str:
    """Return the Markdown table of one ranker's measurements."""
    axis = AXES[ranker]
    lines = [
        f"### {ranker} ({axis[:-1]} neighbours), sparse cosine k = {args.k}, update_slack = {args.slack}, "
        f"shape {args.shape}",
        "",
        f"{facts['users']:,} users x {facts['items']:,} items, {facts['interactions']:,} interactions; "
        f"seed {args.seed}; {args.repeats} repeat(s), medians shown; {machine_facts()}.",
        "",
        "| fraction | events added | users added | fit base s | update s | of which matrix s | of which graph s "
        "| refit s | update/refit | matrix mode | graph mode | rows searched | rows merged | exact |"
        + (" again s | again/refit |" if args.again else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if args.again else ""),
    ]
    for row in rows:
        update, refit = statistics.median(row.update), statistics.median(row.refit)
        fit_base = f"{statistics.median(row.fit_base):.2f}" if row.fit_base else "-"
        mode = row.neighbours.get("mode", "-")
        extra = [f"{key.replace('_', ' ')} {value}" for key, value in row.neighbours.items() if key not in SHOWN]
        if extra:
            mode += f" ({'; '.join(map(str, extra))})"
        exact = _exact_summary(row.exact)
        lines.append(
            f"| {row.label} | {row.events:,} | {row.users_added} | {fit_base} | {update:.2f} "
            f"| {statistics.median(row.matrix):.2f} | {statistics.median(row.graph):.2f} | {refit:.2f} "
            f"| {update / refit:.1%} | {row.matrix_mode} | {mode} | {row.neighbours.get('rows_searched', '-'):,} "
            f"| {row.neighbours.get('rows_merged', '-'):,} | {exact} |"
            + (f" {(again := statistics.median(row.again)):.2f} | {again / refit:.1%} |" if row.again else "")
        )
    return "\n".join(lines) + "\n" + _same_fits(rows)


def _same_fits(rows: list[Row]) -> str:
    """Return a line setting each add against the median of every refit of the run (they all fit every event).

    A row's own refit moves with what the process freed just before it (the previous row's
    models): fits of the very same events differ by a tenth or more within one run. The median
    of all of them is the steadier measure of a full fit's time; the table keeps the row's own.
    """
    adds = [row for row in rows if row.adds and row.refit]
    fits = [seconds for row in adds for seconds in row.refit]
    if len(adds) < 2:
        return ""
    full = statistics.median(fits)
    each = ", ".join(f"{row.label}: {statistics.median(row.update) / full:.1%}" for row in adds)
    return (
        f"\nEvery add row's refit fits the same events: {len(fits)} fits, median {full:.2f} s "
        f"({min(fits):.2f}-{max(fits):.2f} s). Each add's update against that median: {each}.\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Measure, print the tables, and return 1 if an update was not exact."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="ml-1m")
    parser.add_argument(
        "--rankers",
        default="item_cf",
        help="comma-separated: item_cf (item neighbours), user_cf (user neighbours; too heavy for ml-20m on 2 cores)",
    )
    parser.add_argument("--fractions", default="0.001,0.01,0.1", help="comma-separated fractions of all events")
    parser.add_argument("--forget", type=int, default=100, help="users to forget (0: skip)")
    parser.add_argument(
        "--forget-heaviest", action="store_true", help="forget the users with the most events instead of random ones"
    )
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--slack", type=int, default=50, help="similarity.update_slack (the refit uses it too)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument(
        "--again",
        type=int,
        default=0,
        help="also time each update this many more times on its base state in the warm process ('again s')",
    )
    parser.add_argument(
        "--chain",
        type=int,
        default=0,
        help="also apply each fraction this many times in a row to one model, each timed (0: skip; "
        "each fraction times it must be below 1)",
    )
    parser.add_argument("--output", type=Path, help="append the Markdown tables to this file")
    args = parser.parse_args(argv)
    args.fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    rankers = [r.strip() for r in args.rankers.split(",") if r.strip()]
    unknown = [r for r in rankers if r not in AXES]
    if unknown:
        parser.error(f"unknown ranker(s) {unknown}; choose from {sorted(AXES)}")
    events = all_events(args.shape)  # generate (and cache) the data once, untimed
    if args.chain < 0 or (args.chain and any(not 0 < f * args.chain < 1 for f in args.fractions)):
        parser.error(f"--chain {args.chain}: must be at least 0, and each fraction times it between 0 and 1")
    if args.chain and any(round(f * args.chain * len(events)) < args.chain for f in args.fractions):
        parser.error(f"--chain {args.chain}: a fraction times it holds fewer events of {args.shape} than updates")
    facts = describe(load_matrix(args.shape))
    tables, exact = [], True
    for ranker in rankers:
        warm(ranker, args.k)
        rows = measure(args, ranker, events)
        exact &= all(e == "yes" for row in rows for e in row.exact)
        table = render(args, ranker, facts, rows)
        if args.chain:
            chains = measure_chains(args, ranker, events)
            exact &= all(e == "yes" for chain in chains for e in chain.exact)
            table += "\n" + render_chains(args, ranker, chains)
        print(table, flush=True)
        tables.append(table)
    if args.output is not None:
        with args.output.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(tables) + "\n")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
