"""``recframe data describe``, ``fetch`` and ``list``: inspect a run file's or a model's data, and public datasets."""

from __future__ import annotations

import argparse
import json
from typing import Any

from recframe.cli.common import EXIT_OK, _print, _registry
from recframe.cli.query_output import load_model, reads_saved_model
from recframe.data import Interactions


def _fetch_data(args: argparse.Namespace) -> int:
    from recframe.datasets import dataset_info, extract, fetch

    info = dataset_info(args.name)
    archive = fetch(info, url=args.url, folder=args.folder)
    ratings = extract(info, archive)
    _print(f"{info.name}: {archive} (verified), ratings in {ratings}")
    return EXIT_OK


def _list_data(args: argparse.Namespace) -> int:
    from recframe.datasets import DATASETS, data_dir

    _print(f"{'name':<24}  {'size MB':>8}  {'verified by':<11}  cached  title")
    for info in DATASETS.values():
        cached = "yes" if (data_dir() / info.filename).exists() else "no"
        size = "?" if info.size is None else f"{info.size / 1e6:.1f}"
        algorithm = info.checksum.partition(":")[0]
        _print(f"{info.name:<24}  {size:>8}  {algorithm:<11}  {cached:<6}  {info.title}")
    _print(f"cache: {data_dir()}")
    return EXIT_OK


def _described(args: argparse.Namespace) -> tuple[Interactions, list[dict[str, Any]]]:
    """Return the events ``data describe`` summarises and the filters' report: the run file's, or the model's."""
    from recframe.recommender import Recommender

    if reads_saved_model(args, "data describe"):
        return load_model(args.model, _registry()).training_interactions, []
    rec = Recommender.from_config(args.config, overrides=args.overrides, registry=_registry())
    interactions = rec.load_data()
    return interactions, [step.to_dict() for step in rec.filter_report]


def _describe_data(args: argparse.Namespace) -> int:
    from recframe.data.summary import describe

    interactions, steps = _described(args)
    d: dict[str, Any] = describe(interactions)
    if args.json:
        _print(json.dumps({"data": d, "filters": steps}, indent=2))
        return EXIT_OK
    _print(f"{d['interactions']:,} interactions, {d['users']:,} users, {d['items']:,} items, "
          f"density {d['density']:.4%}, {d['duplicates']:,} repeated (user, item) events")
    pop = d["popularity"]
    _print(f"popularity: Gini {pop['gini']:.3f}; top 1% of items hold {pop['top_1pct_items_share']:.1%} "
          f"of the interactions, top 10% {pop['top_10pct_items_share']:.1%}")
    for label, key in (("items per user", "user_activity"), ("users per item", "item_popularity")):
        s = d[key]
        _print(f"{label}: min {s['min']:g}, median {s['median']:g}, mean {s['mean']:.1f}, "
              f"90th percentile {s['p90']:g}, max {s['max']:g}")
    if d["ratings"] is not None:
        r = d["ratings"]
        spread = r.get("histogram") or r.get("quantiles")
        _print(f"ratings {r['min']:g} to {r['max']:g}, mean {r['mean']:.4g}: "
              + ", ".join(f"{k}: {v}" for k, v in spread.items()))
    if d["time"] is not None:
        t = d["time"]
        from recframe.evaluation.value_text import iso_date

        _print(f"time: {iso_date(t['first'])} to {iso_date(t['last'])} ({t['span_days']:.6g} days)")
    for step in steps:
        removed = step["removed"]
        _print(f"filter {step['filter']}: removed {removed['events']:,} events, {removed['users']:,} users, "
              f"{removed['items']:,} items; {step['events_after']:,} events left")
    return EXIT_OK
