"""What report.html and comparison.html say: dates, no None/nan/True, value shares, long tail, activity groups."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from recframe.cli import main
from recframe.config import load_config
from recframe.evaluation import report as report_module
from recframe.evaluation.report import comparison_report, run_report
from recframe.evaluation.report_breakdowns import activity_groups, long_tail
from recframe.evaluation.value_text import iso_date, show
from recframe.results import EvaluationResult, FoldResult, ItemExposure

CONFIG = {
    "name": "tiny",
    "seed": 1,
    "data": {"type": "synthetic", "n_users": 60, "n_items": 30},
    "similarity": {"type": "sklearn_nn", "k": 5},
    "ranker": {"type": "item_cf", "n": 5},
    "evaluation": {"split": {"type": "temporal_global"}, "metrics": ["hit_rate@5", "ndcg@5"]},
}


def visible_text(page: str) -> str:
    """The page without embedded images, styles and tags: what a reader sees."""
    page = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]*", "", page)
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def assert_no_python_literals(page: str) -> None:
    text = visible_text(page)
    for word in ("None", "nan", "NaN", "True", "False"):
        assert not re.search(rf"\b{word}\b", text), (word, text[max(0, text.find(word) - 200) : text.find(word) + 50])


def self_contained(page: str) -> bool:
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    return "<script" not in page and all(s.startswith("data:image/png;base64,") for s in sources)


@pytest.fixture
def tiny_config(tmp_path, registry):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return load_config(path, registry)


def tiny_evaluation() -> EvaluationResult:
    """Eight users, five items, worked out by hand below."""
    exposure = ItemExposure(
        popularity=np.array([5, 1, 3, 0, 2]),  # ranks: item 0, 2, 4, 1, 3; head (20% of 5 = 1 item): item 0
        relevant=np.array([1, 0, 2, 1, 0]),
        recommended=np.array([3, 1, 0, 2, 0]),
        depth=5,
    )
    hits = np.array([0.0, 1, 0, 1, 1, 1, 0, 1])
    fold = FoldResult(
        metrics={"hit_rate@5": float(hits.mean()), "rmse": float("nan")},
        per_user={"hit_rate@5": hits},
        users=np.arange(8),
        counts={"n_train": 11, "n_test": 4},
        history=np.array([1, 2, 2, 3, 5, 8, 9, 10]),
        exposure=exposure,
    )
    return EvaluationResult([fold])


def row(*cells: str) -> str:
    first = f'<td class="text">{html.escape(cells[0])}</td>'
    return "<tr>" + first + "".join(f"<td>{html.escape(c)}</td>" for c in cells[1:]) + "</tr>"


# ---------------------------------------------------------------- hand-computed tables


def test_long_tail_by_hand():
    tail = long_tail(tiny_evaluation())
    assert tail is not None
    assert (tail.items, tail.training, tail.relevant, tail.recommended) == ((1, 4), (5, 6), (1, 3), (3, 3))
    assert tail.by_rank["training"].tolist() == [5, 3, 2, 1, 0]
    assert tail.by_rank["recommended"].tolist() == [3, 0, 0, 1, 2]


def test_activity_groups_by_hand():
    # history 1 2 2 3 5 8 9 10: 'lower' quartiles at positions 1, 3, 5 -> edges 2, 3, 8
    history = np.array([1, 2, 2, 3, 5, 8, 9, 10])
    hits = np.array([0.0, 1, 0, 1, 1, 1, 0, 1])
    assert activity_groups(history, {"hit_rate@5": hits}) == [
        ["1 to 2", 3, pytest.approx(1 / 3)], ["3", 1, 1.0], ["5 to 8", 2, 1.0], ["9 to 10", 2, 0.5],
    ]
    # everyone alike: one group
    assert activity_groups(np.array([4, 4, 4]), {"m": np.array([0.0, 1, 1])}) == [["4", 3, pytest.approx(2 / 3)]]


def test_run_report_shows_the_hand_computed_tables(tiny_config):
    page = run_report(tiny_config, tiny_evaluation(), {"interactions": 15}).render()
    assert "<h2>Popularity bias and the long tail</h2>" in page
    assert row("head (top 20% of items)", "1 (20.0%)", "5 (45.5%)", "1 (25.0%)", "3 (50.0%)") in page
    assert row("long tail (other 80%)", "4 (80.0%)", "6 (54.5%)", "3 (75.0%)", "3 (50.0%)") in page
    assert "<h2>Metrics by user activity</h2>" in page
    assert '<th class="text">training history (items)</th><th>users</th><th>hit_rate@5</th>' in page
    assert row("1 to 2", "3", "0.3333") in page and row("9 to 10", "2", "0.5000") in page
    # a 0/1 metric: the share of users at 0 and at 1, not a histogram
    assert row("hit_rate@5", "0", "3", "37.5%") in page and row("hit_rate@5", "1", "5", "62.5%") in page
    if report_module.plotting_available():
        assert "hit_rate@5: share of users at each value" in page
        assert "hit_rate@5: per-user values" not in page
    assert_no_python_literals(page)  # rmse is nan: shown as a dash
    assert '<td class="text">rmse</td><td>-</td>' in page


# ---------------------------------------------------------------- no None, nan or True; dates


def test_show_never_writes_python_literals():
    assert [show(None), show(float("nan")), show(True), show(False), show(np.True_)] == ["-", "-", "yes", "no", "yes"]
    assert [show(np.float32("nan")), show(np.float32(0.25)), show([None, 1])] == ["-", "0.2500", "-, 1"]
    shown = [show(0.5), show(float("inf")), show(3), show({"a": None, "b": 1.0})]
    assert shown == ["0.5000", "∞", "3", "a=-, b=1.0000"]


def test_timestamps_are_dates_in_utc():
    assert iso_date(1577836800) == "2020-01-01T00:00:00Z"
    assert iso_date(1577836800.9) == "2020-01-01T00:00:00Z"
    assert iso_date(None) == "-"


def test_a_real_run_report_has_dates_and_no_python_literals(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    data = json.loads((tmp_path / "out" / "run.json").read_text())["data"]
    assert f'<td class="text">time first</td><td>{iso_date(data["time"]["first"])}</td>' in page
    assert f"{data['time']['first']:.6g}" not in page  # not the raw Unix seconds
    assert '<td class="text">cutoff</td><td>-</td>' in page  # the split's unset cutoff
    assert_no_python_literals(page)
    assert self_contained(page)
    assert "<h2>Popularity bias and the long tail</h2>" in page and "<h2>Metrics by user activity</h2>" in page


def test_metrics_json_and_the_report_give_each_metrics_resolved_formula(tmp_path):
    metrics = ["ndcg@5", {"type": "ndcg", "k": 5, "profile": "lenskit"}]
    config = {**CONFIG, "evaluation": {**CONFIG["evaluation"], "metrics": metrics}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "-o", str(tmp_path / "out"), "-q"]) == 0
    summary = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert list(summary["metrics"]) == list(summary["definitions"]) == ["ndcg@5", "ndcg@5[profile=lenskit]"]
    lenskit = summary["definitions"]["ndcg@5[profile=lenskit]"]
    assert lenskit["axes"]["discount"] == "log2(max(r,2))" and lenskit["profile"] == "lenskit"
    page = html.unescape((tmp_path / "out" / "report.html").read_text())
    assert lenskit["formula"] in page and summary["definitions"]["ndcg@5"]["formula"] in page


def test_a_sweep_over_null_and_boolean_values_shows_words(tmp_path):
    document = {**CONFIG, "sweep": {"ranker.prediction_k": [None, 3], "ranker.exclude_seen": [True]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / "sw"), "-q"]) == 0
    page = (tmp_path / "sw" / "report.html").read_text()
    assert_no_python_literals(page)
    assert '<td class="text">yes</td><td class="text">-</td>' in page  # exclude_seen, prediction_k


# ---------------------------------------------------------------- comparison.html


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cmp")
    for name, ranker in (("icf", "item_cf"), ("pop", "popularity")):
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**CONFIG, "name": name, "ranker": {"type": ranker, "n": 5}}))
        assert main(["run", str(path), "-o", str(folder / name), "-q"]) == 0
    return folder


def test_compare_writes_a_self_contained_html_report_with_a_forest_plot_per_metric(two_runs):
    args = ["compare", str(two_runs / "icf"), str(two_runs / "pop"), "--bootstrap", "100", "-q"]
    assert main([*args, "--output", str(two_runs / "c1")]) == 0
    assert main([*args, "--output", str(two_runs / "c2")]) == 0
    page = (two_runs / "c1" / "comparison.html").read_text()
    assert page == (two_runs / "c2" / "comparison.html").read_text()  # byte-identical
    assert self_contained(page) and "<h1>recframe comparison: icf, pop</h1>" in page
    comparison = json.loads((two_runs / "c1" / "comparison.json").read_text())
    for pair in comparison["pairs"]:
        assert (
            f'<td class="text">{pair["metric"]}</td><td class="text">pop - icf</td>'
            f"<td>{pair['difference']:.4f}</td><td>{pair['ci_low']:.4f}</td><td>{pair['ci_high']:.4f}</td>"
        ) in page
    if report_module.plotting_available():
        assert page.count("<img ") == len(comparison["metrics"]) == 2
        assert "<figcaption>hit_rate@5: differences with 95% intervals</figcaption>" in page  # embedded only
        assert not (two_runs / "c1" / "charts").exists()
    assert_no_python_literals(page)


def test_comparison_html_without_matplotlib_keeps_the_tables(two_runs, monkeypatch):
    from recframe.evaluation.compare import compare_run_dirs

    monkeypatch.setattr(report_module, "plotting_available", lambda: False)
    comparison = compare_run_dirs([two_runs / "icf", two_runs / "pop"], n_bootstrap=50)
    page = comparison_report(comparison).render()
    assert "<img" not in page and html.escape(report_module.PLOT_HINT) in page
    assert "<th>difference</th>" in page and "<th>significant</th>" in page


def test_undefined_effect_size_is_a_dash_not_none(two_runs):
    from recframe.evaluation.compare import compare
    from recframe.evaluation.run_scores import RunScores

    keys = np.char.add("0\t", np.arange(6).astype(str))
    a = RunScores("a", keys, {"m": np.zeros(6)})
    b = RunScores("b", keys, {"m": np.full(6, 0.5)})  # constant non-zero difference: d_z undefined
    page = comparison_report(compare([a, b], n_bootstrap=20)).render()
    assert_no_python_literals(page)


def test_run_file_compare_writes_comparison_html(two_runs, tmp_path):
    path = tmp_path / "cur.yaml"
    document = {**CONFIG, "name": "cur"}
    document["evaluation"] = {**CONFIG["evaluation"], "compare": [str(two_runs / "pop")]}
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / "cur"), "-q"]) == 0
    page = (tmp_path / "cur" / "comparison.html").read_text()
    assert "<h1>recframe comparison: cur, pop</h1>" in page and self_contained(page)


def test_reports_are_rendered_the_same_twice(tiny_config):
    first = run_report(tiny_config, tiny_evaluation(), {"time": {"first": 0.0, "last": 86400.0}})
    second = run_report(tiny_config, tiny_evaluation(), {"time": {"first": 0.0, "last": 86400.0}})
    assert first.render() == second.render() and first.charts == second.charts
    assert '<td class="text">time last</td><td>1970-01-02T00:00:00Z</td>' in first.render()


def test_comparison_html_is_written_beside_the_markdown(two_runs: Path):
    out = two_runs / "c3"
    args = ["compare", str(two_runs / "icf"), str(two_runs / "pop"), "--bootstrap", "20", "-q", "--output", str(out)]
    assert main(args) == 0
    assert {"comparison.md", "comparison.csv", "comparison.json", "comparison.html"} <= {p.name for p in out.iterdir()}


def test_data_describe_prints_dates(tmp_path, capsys):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    assert main(["data", "describe", str(path), "-q"]) == 0
    date = r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.search(rf"^time: {date} to {date} \(", capsys.readouterr().out, flags=re.M)


def test_history_and_popularity_equal_a_brute_force_count(rng):
    from recframe.data import IdIndex, Interactions
    from recframe.evaluation.protocol import HeldOut, usage

    users, items = rng.integers(0, 30, 400), rng.integers(0, 12, 400)
    train_users, _ = IdIndex.encode(users)
    train_items, _ = IdIndex.encode(items)
    evaluated = IdIndex(np.array([0, 3, 99]))  # 99: not in training
    held = HeldOut(evaluated, np.array([0, 1, 2]), np.array([2, 2, -1]), np.ones(3), 3, 0, 1)
    ranked = np.array([[0, 1, -1], [1, 2, 3], [-1, -1, -1]])
    history, exposure = usage(Interactions(users, items, None, None), train_users, train_items, evaluated, held, ranked)
    pairs = set(zip(users.tolist(), items.tolist(), strict=True))
    assert history.tolist() == [sum(1 for u, _ in pairs if u == user) for user in (0, 3, 99)]
    assert exposure.popularity.tolist() == [sum(1 for _, i in pairs if i == item) for item in train_items.ids.tolist()]
    assert exposure.relevant.tolist()[:4] == [0, 0, 2, 0] and exposure.recommended.tolist()[:4] == [1, 2, 1, 1]
    assert exposure.depth == 3
