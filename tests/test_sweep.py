"""Sweeps: grid validation, each setting equal to the same run made alone, best settings, files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from recframe import ConfigError, Recommender
from recframe.cli import main
from recframe.config import validate_run
from recframe.runner.sweep import run_sweep

BASE = {
    "seed": 2,
    "data": {"type": "synthetic", "n_users": 160, "n_items": 70},
    "similarity": {"type": "sklearn_nn", "k": 10},
    "evaluation": {"split": {"type": "kfold", "n_folds": 2}, "metrics": ["ndcg@5", "gini@5"]},
}


def test_every_setting_equals_the_same_run_made_alone(registry):
    grid = {"similarity.k": [3, 15], "ranker.type": ["item_cf", "user_cf"]}
    config = validate_run({**BASE, "sweep": grid}, registry)
    result = run_sweep(config, registry)
    assert [row.values for row in result.rows] == [(3, "item_cf"), (3, "user_cf"), (15, "item_cf"), (15, "user_cf")]
    for row in result.rows:
        alone = Recommender.from_config(
            BASE, overrides=[f"similarity.k={row.values[0]}", f"ranker.type={row.values[1]}"], registry=registry
        ).evaluate()
        assert row.result.metrics == alone.metrics
        assert row.result.metrics_std == alone.metrics_std
    ndcg = {row.number: row.result.metrics["ndcg@5"] for row in result.rows}
    gini = {row.number: row.result.metrics["gini@5"] for row in result.rows}
    assert result.best["ndcg@5"] == max(ndcg, key=ndcg.get)
    assert result.best["gini@5"] == min(gini, key=gini.get)  # lower is better for Gini


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"similarity.k": [5, 0]}, r"sweep: setting 2 \(similarity\.k=0\): similarity\.k: Input should be greater"),
        ({"similarity.k": []}, r"sweep\.similarity\.k: must be a non-empty list of values; got \[\]"),
        ({"simlarity.k": [5]}, r"sweep\.simlarity\.k: must be a dotted key of the run file"),
        ({"evaluation.metrics": [["ndcg@5"]]}, r"sweep\.evaluation\.metrics: can't be swept"),
        ({"ranker.type": ["item_cf", "itemcf"]}, r"setting 2 \(ranker\.type=itemcf\): ranker\.type: unknown ranker"),
        ([1, 2], r"sweep: must map dotted keys to lists of values"),
        (  # one key inside another: in either order, one would overwrite the other's values
            {"similarity.k": [3, 30], "similarity": [{"type": "sparse"}]},
            r"sweep\.similarity\.k: overlaps similarity, which sets the whole of it",
        ),
        (
            {"ranker": ["item_cf", {"type": "user_cf"}], "ranker.n": [5, 10]},
            r"sweep\.ranker\.n: overlaps ranker, which sets the whole of it",
        ),
    ],
)
def test_bad_grids_are_refused_before_anything_runs(registry, sweep, message):
    with pytest.raises(ConfigError, match=message):
        validate_run({**BASE, "sweep": sweep}, registry)


def test_a_swept_mapping_is_not_changed_by_the_settings_made_from_it(registry):
    """Each setting gets its own copy of a swept value: the grid (which the tables label) keeps what the file says."""
    grid = {"similarity": [{"type": "sparse", "k": 5}], "ranker.n": [3, 7]}
    run = validate_run({**BASE, "sweep": grid}, registry)
    assert run.sweep is not None
    assert [values for _, values in run.sweep.grid] == [({"type": "sparse", "k": 5},), (3, 7)]
    assert [setting.ranker.params.n for _, setting in run.sweep.settings] == [3, 7]


def test_a_sweep_needs_an_evaluation_and_a_modest_grid(registry):
    with pytest.raises(ConfigError, match="sweep: a sweep compares settings by their metrics; add an evaluation"):
        validate_run({"data": "synthetic", "sweep": {"similarity.k": [5]}}, registry)
    with pytest.raises(ConfigError, match="the grid has 1089 settings, more than 1000"):
        validate_run({**BASE, "sweep": {"similarity.k": list(range(1, 34)), "ranker.n": list(range(1, 34))}}, registry)


def test_resolved_config_keeps_the_sweep(registry):
    config = validate_run({**BASE, "sweep": {"similarity.k": [3, 15]}}, registry)
    again = validate_run(config.to_dict(), registry)
    assert again.sweep is not None and again.sweep.to_dict() == {"similarity.k": [3, 15]}


def test_recframe_run_writes_the_table_and_each_setting(tmp_path: Path, capsys):
    import yaml

    run_file = tmp_path / "sweep.yaml"
    run_file.write_text(yaml.safe_dump({**BASE, "name": "sw", "sweep": {"similarity.k": [3, 15, 30]}}))
    out = tmp_path / "out"
    assert main(["run", str(run_file), "-o", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "| setting | similarity.k | ndcg@5 | gini@5 |" in printed and "(3 settings)" in printed
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "charts", "config.yaml", "manifest.json", "report.html", "run.json", "settings", "sweep.csv", "sweep.json",
        "sweep.md",
    ]
    with (out / "sweep.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["similarity.k"] for r in rows] == ["3", "15", "30"]
    for number, row in enumerate(rows, start=1):
        metrics = json.loads((out / "settings" / str(number) / "metrics.json").read_text())
        assert float(row["ndcg@5_mean"]) == metrics["metrics"]["ndcg@5"]
        assert float(row["ndcg@5_std"]) == metrics["metrics_std"]["ndcg@5"]
    assert json.loads((out / "run.json").read_text())["sweep"] == {"settings": 3, "params": ["similarity.k"]}
    # a smaller sweep into the same folder leaves no setting of the earlier one behind
    run_file.write_text(yaml.safe_dump({**BASE, "name": "sw", "sweep": {"similarity.k": [3, 15]}}))
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 0
    assert sorted(p.name for p in (out / "settings").iterdir()) == ["1", "2"]
    # and a plain run there removes the sweep's files
    run_file.write_text(yaml.safe_dump({**BASE, "name": "sw"}))
    assert main(["run", str(run_file), "-o", str(out), "-q", "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["charts", "config.yaml", "manifest.json", "metrics.json", "model", "per_user.csv", "recommendations.csv",
         "report.html", "run.json"]
    )
    assert sorted(p.name for p in (out / "charts").iterdir()) == ["long_tail.png", "per_user_ndcg_at_5.png"]
