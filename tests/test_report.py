"""report.html: self-contained, complete tables, charts with matplotlib and a hint without it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import yaml

from recframe.cli import main
from recframe.evaluation import report as report_module

RUN = {
    "name": "rep",
    "seed": 1,
    "data": {"type": "synthetic", "n_users": 120, "n_items": 60},
    "similarity": {"type": "sklearn_nn", "k": 10},
    "evaluation": {"split": {"type": "kfold", "n_folds": 2}, "metrics": ["ndcg@5", "recall@5", "coverage@5"]},
}


def run(tmp_path: Path, document: dict, name: str = "out") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / name), "-q"]) == 0
    return tmp_path / name


def self_contained(page: str) -> bool:
    """No scripts and nothing loaded from anywhere: every src is a data URI."""
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    return "<script" not in page and all(s.startswith("data:image/png;base64,") for s in sources)


def test_run_report_has_every_table_and_embedded_charts(tmp_path):
    out = run(tmp_path, RUN)
    page = (out / "report.html").read_text()
    assert self_contained(page)
    assert "<h1>recframe run: rep</h1>" in page
    for section in ("Metrics", "Data", "Protocol", "Per-user distributions", "Config"):
        assert f"<h2>{section}</h2>" in page
    import json

    metrics = json.loads((out / "metrics.json").read_text())
    for label, value in metrics["metrics"].items():
        assert f"<td class=\"text\">{label}</td><td>{value:.4f}</td>" in page
    assert "is random on timestamped data" in page  # the protocol warning
    assert page.count("<img src=\"data:image/png;base64,") == 3  # one chart per per-user metric, the long tail
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "long_tail.png", "per_user_ndcg_at_5.png", "per_user_recall_at_5.png",
    ]
    assert "name: rep" in page  # the resolved config


def test_without_matplotlib_the_report_keeps_its_tables_and_says_how_to_get_charts(tmp_path, monkeypatch):
    monkeypatch.setattr(report_module, "plotting_available", lambda: False)
    out = run(tmp_path, RUN)
    page = (out / "report.html").read_text()
    assert html.escape(report_module.PLOT_HINT) in page and "<img" not in page
    assert "<th>median</th>" in page
    assert not (out / "charts").exists()


def test_sweep_report_plots_each_metric_against_the_parameter(tmp_path):
    out = run(tmp_path, {**RUN, "sweep": {"similarity.k": [3, 10], "ranker.type": ["item_cf", "user_cf"]}})
    page = (out / "report.html").read_text()
    assert self_contained(page) and "<h1>recframe sweep: rep</h1>" in page
    assert page.count("<img ") == 3
    assert sorted(p.name for p in (out / "charts").iterdir()) == [
        "sweep_coverage_at_5.png", "sweep_ndcg_at_5.png", "sweep_recall_at_5.png",
    ]
    assert "<b>" in page  # the best settings


@pytest.mark.parametrize("evaluation", [True, False])
def test_no_report_when_switched_off_or_not_evaluated(tmp_path, evaluation):
    unevaluated = {k: v for k, v in RUN.items() if k != "evaluation"}
    document = {**RUN, "output": {"report": False}} if evaluation else unevaluated
    out = run(tmp_path, document)
    assert not (out / "report.html").exists() and not (out / "charts").exists()
