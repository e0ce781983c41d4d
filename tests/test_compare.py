"""Comparing runs: the statistics against scipy and by hand, the CLI, and the evaluation.compare option."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from recframe import DataError, Recommender
from recframe.cli import main
from recframe.evaluation.compare import compare, compare_run_dirs
from recframe.evaluation.run_scores import RunScores
from recframe.evaluation.significance import holm


def scores(name, values, users=None):
    users = np.arange(len(values)) if users is None else np.asarray(users)
    keys = np.char.add("0\t", users.astype(str))
    return RunScores(name, keys, {"ndcg@10": np.asarray(values, dtype=float)})


def test_holm_by_hand():
    # sorted p: 0.01 (x3 = 0.03), 0.02 (x2 = 0.04), 0.04 (x1 = 0.04), in the original order
    assert holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # monotone: a later p never gets a smaller adjusted value; capped at 1
    assert holm([0.3, 0.001, 0.5, 0.9]) == pytest.approx([0.9, 0.004, 1.0, 1.0])


def test_tests_effect_size_and_intervals_equal_independent_computations():
    rng = np.random.default_rng(0)
    a = rng.random(300)
    b = a + rng.normal(0.03, 0.2, size=300)
    result = compare([scores("a", a), scores("b", b)], n_bootstrap=500, seed=3)
    (pair,) = result.pairs
    assert pair.difference == pytest.approx((b - a).mean())
    assert pair.t_p == pytest.approx(stats.ttest_rel(b, a).pvalue)
    assert pair.wilcoxon_p == pytest.approx(stats.wilcoxon(b, a).pvalue)
    assert pair.t_p_holm == pytest.approx(pair.t_p)  # one comparison
    assert pair.effect_size == pytest.approx((b - a).mean() / (b - a).std(ddof=1))
    # the bootstrap interval, recomputed with the same resamples over the users in key order
    resamples = np.random.default_rng(3).integers(300, size=(500, 300))
    in_key_order = (b - a)[np.argsort(np.char.add("0\t", np.arange(300).astype(str)))]
    means = in_key_order[resamples].mean(axis=1)
    assert (pair.ci_low, pair.ci_high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))
    assert pair.significant == (pair.t_p < 0.05)
    assert result.summaries[0].ci_low < a.mean() < result.summaries[0].ci_high


def test_identical_runs_differ_by_nothing():
    values = np.random.default_rng(1).random(50)
    (pair,) = compare([scores("a", values), scores("b", values)], n_bootstrap=100).pairs
    assert (pair.difference, pair.t_p, pair.wilcoxon_p, pair.effect_size, pair.significant) == (0, 1, 1, 0, False)


def test_one_user_in_common_is_never_significant():
    """Found by an outside review: one differing user gave t p = 0, 'significant' (a t-test of one is undefined)."""
    result = compare([scores("a", [0.6309]), scores("b", [0.2618])], n_bootstrap=50)
    (pair,) = result.pairs
    assert (pair.t_p, pair.wilcoxon_p, pair.significant) == (1.0, 1.0, False)
    assert any("Only one evaluated user in common" in note for note in result.notes)
    (pair,) = compare([scores("a", [0.5, 0.5, 0.5]), scores("b", [0.7, 0.7, 0.7])], n_bootstrap=50).pairs
    assert pair.t_p == 0.0 and pair.significant  # the same non-zero difference for every user: scipy's limit


def test_only_common_users_and_metrics_are_compared():
    a = scores("a", [1.0, 0.0, 1.0, 0.5], users=[1, 2, 3, 4])
    b = scores("b", [0.0, 1.0, 0.0], users=[3, 2, 9])
    b.values["recall@10"] = np.zeros(3)
    result = compare([a, b], n_bootstrap=50)
    assert result.n_users == 2 and result.metrics == ["ndcg@10"]
    assert result.pairs[0].difference == pytest.approx(((0.0 - 1.0) + (1.0 - 0.0)) / 2)
    assert any("recall@10" in note for note in result.notes)
    assert any("3 (fold, user) entries" in note or "2 (fold, user) entries" in note for note in result.notes)


def test_holm_runs_across_every_comparison_and_baseline_limits_them():
    rng = np.random.default_rng(2)
    runs = [scores(name, rng.random(80)) for name in "abc"]
    everything = compare(runs, n_bootstrap=50)
    assert [(p.a, p.b) for p in everything.pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert [p.t_p_holm for p in everything.pairs] == pytest.approx(holm([p.t_p for p in everything.pairs]))
    against_first = compare(runs, n_bootstrap=50, baseline=True)
    assert [(p.a, p.b) for p in against_first.pairs] == [("a", "b"), ("a", "c")]


def test_refuses_what_cannot_be_compared(tmp_path):
    with pytest.raises(DataError, match="at least two runs; got 1"):
        compare([scores("a", [1.0])])
    with pytest.raises(DataError, match="no evaluated user in common"):
        compare([scores("a", [1.0], users=[1]), scores("b", [1.0], users=[2])])
    with pytest.raises(DataError, match=r"has no per_user\.csv"):
        compare_run_dirs([tmp_path, tmp_path])
    (tmp_path / "per_user.csv").write_text("fold,user,ndcg@10\n0,1,0.5\n0,2,high\n")
    with pytest.raises(DataError, match=r"per_user\.csv:3: value 'high' is not a number"):
        compare_run_dirs([tmp_path, tmp_path])


RUN = """\
name: {name}
seed: 1
data: {{type: synthetic, n_users: 150, n_items: 70}}
similarity: {{type: sklearn_nn, k: 15}}
ranker: {{type: {ranker}, n: 5}}
evaluation:
  split: temporal_global
  metrics: [precision@5, ndcg@5, coverage@5]
"""


def run(tmp_path: Path, name: str, ranker: str, extra: str = "") -> Path:
    config = tmp_path / f"{name}.yaml"
    config.write_text(RUN.format(name=name, ranker=ranker) + extra)
    assert main(["run", str(config), "-o", str(tmp_path / name), "-q"]) == 0
    return tmp_path / name


def test_compare_command_prints_and_writes_the_tables(tmp_path, capsys):
    a, b = run(tmp_path, "icf", "item_cf"), run(tmp_path, "pop", "popularity")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--bootstrap", "200", "--output", str(a), "-q", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "| ndcg@5 | pop - icf |" in out and "coverage@5" not in out
    assert {"config.yaml", "per_user.csv", "comparison.md", "comparison.csv", "comparison.json"} <= {
        p.name for p in a.iterdir()
    }  # writing into a run folder keeps the run's files
    data = json.loads((a / "comparison.json").read_text())
    assert data["runs"] == ["icf", "pop"] and len(data["pairs"]) == 2
    assert main(["compare", str(a), "--json", "-q"]) == 2  # a command-line mistake, not a data problem
    assert "at least two run folders" in capsys.readouterr().err
    assert main(["compare", str(a), str(b), "--alpha", "2", "-q"]) == 2


def test_evaluation_compare_option_compares_with_earlier_runs(tmp_path):
    baseline = run(tmp_path, "pop", "popularity")
    current = run(tmp_path, "icf", "item_cf", f"  compare: [{baseline}]\n  significance_test: wilcoxon\n")
    data = json.loads((current / "comparison.json").read_text())
    assert data["runs"] == ["icf", "pop"] and data["test"] == "wilcoxon"
    assert "| precision@5 | pop - icf |" in (current / "comparison.md").read_text()


def test_a_compare_folder_that_cant_be_read_fails_the_run_before_any_work(tmp_path, capsys, monkeypatch):
    """A typo in evaluation.compare is a mistake of the run file (exit 2) told at once, not after the evaluation."""
    unevaluated = tmp_path / "unevaluated"
    unevaluated.mkdir()
    fitted: list[object] = []
    monkeypatch.setattr(Recommender, "load_data", lambda self: fitted.append(self))  # no work may start
    for folder, why in ((tmp_path / "baselin", "no such run folder"), (unevaluated, "per_user.csv")):
        config = tmp_path / "c.yaml"
        config.write_text(RUN.format(name="c", ranker="item_cf") + f"  compare: [{tmp_path / 'pop'}, {folder}]\n")
        (tmp_path / "pop" / "per_user.csv").parent.mkdir(exist_ok=True)
        (tmp_path / "pop" / "per_user.csv").write_text("fold,user,ndcg@5\n0,1,0.5\n")
        capsys.readouterr()
        assert main(["run", str(config), "-o", str(tmp_path / "c"), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"{config}: evaluation.compare[1]: {folder}" in err and why in err
        assert not fitted and not (tmp_path / "c").exists()
