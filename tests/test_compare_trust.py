"""Comparisons people can trust: runs on other data, splits or users are refused, not "significant"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from recframe import ConfigError, DataError
from recframe.cli import main
from recframe.evaluation.compare import compare, compare_run_dirs
from recframe.evaluation.run_provenance import provenance
from recframe.evaluation.run_scores import RunScores

pytestmark = pytest.mark.xdist_group("compare_trust")  # one worker writes the module's six runs (4 s), not both

RUN = {
    "name": "base",
    "seed": 1,
    "data": {"type": "synthetic", "n_users": 80, "n_items": 40},
    "similarity": {"type": "sklearn_nn", "k": 10},
    "ranker": {"type": "item_cf", "n": 5},
    "evaluation": {"split": {"type": "temporal_global", "quantile": 0.8}, "metrics": ["ndcg@5", "hit_rate@5"]},
}


def write_run(folder: Path, name: str, **changes: object) -> Path:
    document = json.loads(json.dumps(RUN))
    document["name"] = name
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(folder / name), "-q"]) == 0
    return folder / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runs")
    return {
        "base": write_run(folder, "base"),
        "pop": write_run(folder, "pop", ranker__type="popularity"),
        "bigger": write_run(folder, "bigger", data__n_users=90),
        "later_cut": write_run(folder, "later_cut", evaluation__split={"type": "temporal_global", "quantile": 0.7}),
        "sweep": write_run(folder, "sweep", sweep={"similarity.k": [5, 10]}),
        "unevaluated": write_run(folder, "unevaluated", evaluation=None),
    }


def scores(name: str, n: int, provenance: dict[str, object] | None = None, folds: int = 1) -> RunScores:
    users = np.tile(np.arange(n), folds)
    fold = np.repeat(np.arange(folds), n)
    keys = np.char.add(np.char.add(fold.astype(str), "\t"), users.astype(str))
    values = np.random.default_rng(n).random(n * folds)
    return RunScores(name, keys, {"ndcg@10": values}, provenance)


# ---------------------------------------------------------------- different data, split or seed


def test_runs_on_the_same_data_and_split_are_compared(runs, capsys):
    assert main(["compare", str(runs["base"]), str(runs["pop"]), "--bootstrap", "50", "-q"]) == 0
    assert "| ndcg@5 | pop - base |" in capsys.readouterr().out


def test_runs_on_different_data_are_refused_naming_the_runs_the_field_and_both_values(runs, capsys):
    base, bigger = runs["base"], runs["bigger"]
    assert main(["compare", str(base), str(bigger), "--bootstrap", "50", "-q"]) == 2
    err = capsys.readouterr().err
    first = json.loads((base / "run.json").read_text())
    second = json.loads((bigger / "run.json").read_text())
    assert "error: can't pair the runs' users: they were evaluated on different data or splits" in err
    assert f"runs 'base' ({base}) and 'bigger' ({bigger}) differ in data_fingerprint: " in err
    assert f"{first['data_fingerprint']!r} vs {second['data_fingerprint']!r}" in err
    assert f"differ in n_interactions: {first['n_interactions']} vs {second['n_interactions']}" in err
    assert "--allow-different-data" in err


def test_allow_different_data_compares_anyway_and_says_what_differs(runs, capsys):
    args = ["compare", str(runs["base"]), str(runs["bigger"]), "--bootstrap", "50", "--allow-different-data", "-q"]
    assert main([*args, "--json"]) == 0
    notes = json.loads(capsys.readouterr().out)["notes"]
    assert any(note.startswith("Compared although the runs 'base'") and "data_fingerprint" in note for note in notes)


def test_runs_on_different_splits_are_refused(runs):
    with pytest.raises(ConfigError, match=r"differ in split: \{type='temporal_global', quantile=0\.8, cutoff=None\}"
                       r"|differ in split: \{type='temporal_global', cutoff=None, quantile=0\.8\}"):
        compare_run_dirs([runs["base"], runs["later_cut"]], n_bootstrap=20)


def test_the_seed_counts_only_for_a_random_split(registry):
    random_split = {"seed": 1, "evaluation": {"split": {"type": "per_user_holdout", "test_fraction": 0.2}}}
    temporal = {"seed": 1, "evaluation": {"split": {"type": "temporal_global", "quantile": 0.8}}}
    record = {"data_fingerprint": "sha256:ab", "n_interactions": 10}
    assert provenance(random_split, record, registry)["seed"] == 1
    assert "seed" not in provenance(temporal, record, registry)
    assert provenance(temporal, record, registry) == {
        "data_fingerprint": "sha256:ab", "n_interactions": 10, "split": temporal["evaluation"]["split"],
        "test_data": None, "relevance_threshold": None, "unseen_items": "keep",
    }
    a = scores("a", 30, provenance(random_split, record, registry))
    b = scores("b", 30, provenance({**random_split, "seed": 2}, record, registry))
    with pytest.raises(ConfigError, match=r"runs 'a' and 'b' differ in seed: 1 vs 2"):
        compare([a, b], n_bootstrap=20)
    c = scores("c", 30, provenance({**temporal, "seed": 2}, record, registry))
    assert compare([scores("a", 30, provenance(temporal, record, registry)), c], n_bootstrap=20).pairs


def test_relevance_settings_are_part_of_what_is_compared(registry):
    config = {"seed": 1, "evaluation": {"split": {"type": "temporal_global"}, "relevance_threshold": 4.0}}
    other = {"seed": 1, "evaluation": {"split": {"type": "temporal_global"}}}
    a, b = scores("a", 20, provenance(config, {}, registry)), scores("b", 20, provenance(other, {}, registry))
    with pytest.raises(ConfigError, match=r"differ in relevance_threshold: 4\.0 vs None"):
        compare([a, b], n_bootstrap=20)
    assert "relevance_threshold: 4.0 vs None" in compare([a, b], n_bootstrap=20, allow_different_data=True).notes[0]


def test_a_run_without_provenance_is_compared_with_a_note():
    known = scores("a", 20, {"data_fingerprint": "sha256:ab"})
    result = compare([known, scores("b", 20)], n_bootstrap=20)
    assert "Could not check that 'b' used the same data and split" in result.notes[0]


def test_run_file_compare_refuses_other_data_unless_allowed(runs, tmp_path, capsys):
    document = {**RUN, "name": "cur", "data": {"type": "synthetic", "n_users": 70, "n_items": 40}}
    document["evaluation"] = {**RUN["evaluation"], "compare": [str(runs["base"])]}
    path = tmp_path / "cur.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / "cur"), "-q"]) == 2
    assert "differ in data_fingerprint" in capsys.readouterr().err
    assert not (tmp_path / "cur").exists()  # nothing half-written
    document["evaluation"]["allow_different_data"] = True
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / "cur"), "-q"]) == 0
    assert "Compared although" in (tmp_path / "cur" / "comparison.md").read_text()


def test_run_file_compare_on_the_same_data_is_checked_and_passes(runs, tmp_path):
    document = {**RUN, "name": "same", "ranker": {"type": "user_cf", "n": 5}}
    document["evaluation"] = {**RUN["evaluation"], "compare": [str(runs["base"])]}
    path = tmp_path / "same.yaml"
    path.write_text(yaml.safe_dump(document))
    assert main(["run", str(path), "-o", str(tmp_path / "same"), "-q"]) == 0
    data = json.loads((tmp_path / "same" / "comparison.json").read_text())
    assert data["runs"] == ["same", "base"] and data["notes"] == []


# ---------------------------------------------------------------- different users


def test_runs_sharing_few_users_are_not_paired():
    with pytest.raises(ConfigError, match=r"run 'a' shares only 3 of its 10 \(fold, user\) entries"):
        compare([scores("a", 10), scores("b", 3)], n_bootstrap=20)
    allowed = compare([scores("a", 10), scores("b", 3)], n_bootstrap=20, allow_different_data=True)
    assert allowed.n_users == 3
    assert "Paired although run 'a' shares only 3 of its 10 (fold, user) entries" in allowed.notes[1]


def test_runs_with_other_folds_are_not_paired():
    with pytest.raises(ConfigError, match=r"runs 'a' and 'b' have different folds: 0, 1, 2 vs 0"):
        compare([scores("a", 10, folds=3), scores("b", 10)], n_bootstrap=20)


def test_a_small_difference_in_users_is_paired_with_a_note():
    result = compare([scores("a", 10), scores("b", 9)], n_bootstrap=20)
    assert result.n_users == 9
    assert result.notes[1:] == ["1 of run 'a''s 10 (fold, user) entries are not in every run and were left out."]


# ---------------------------------------------------------------- folders that are not one evaluated run


def test_sweeps_and_unevaluated_runs_get_a_clear_message(runs):
    sweep, unevaluated = runs["sweep"], runs["unevaluated"]
    with pytest.raises(DataError, match=r"has no per_user\.csv: it is a sweep of 2 settings, not one evaluated run; "
                       r"compare its settings' folders instead, e\.g\. recframe compare .*settings/1 .*settings/2"):
        compare_run_dirs([sweep, runs["base"]])
    with pytest.raises(DataError, match=r"has no per_user\.csv: the run was not evaluated"):
        compare_run_dirs([runs["base"], unevaluated])


def test_sweep_settings_are_compared_with_each_other(runs, capsys):
    settings = runs["sweep"] / "settings"
    assert main(["compare", str(settings / "1"), str(settings / "2"), "--bootstrap", "20", "-q"]) == 0


# ---------------------------------------------------------------- malformed per_user.csv


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fold,user,ndcg@5\n0,1,0.5\n0,2,0.1\n0,1,0.3\n", r"per_user\.csv:4: fold '0', user '1' repeats line 2"),
        ("fold,user,ndcg@5\n0,1,0.5\n0,2,nan\n", r"per_user\.csv:3: ndcg@5 is 'nan', not a finite number"),
        ("fold,user,ndcg@5\n0,1,inf\n", r"per_user\.csv:2: ndcg@5 is 'inf', not a finite number"),
        ("fold,user,ndcg@5,ndcg@5\n0,1,0.5,0.5\n", r"per_user\.csv:1: metric column 4 is 'ndcg@5', a repeat"),
        ("fold,user,ndcg@5\n", r"per_user\.csv: has no evaluated user"),
    ],
)
def test_malformed_per_user_files_are_refused_with_file_and_line(tmp_path, text, message):
    (tmp_path / "per_user.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        compare_run_dirs([tmp_path, tmp_path])


def test_in_memory_scores_must_be_finite_and_unique():
    bad = scores("a", 5)
    bad.values["ndcg@10"][2] = np.nan
    with pytest.raises(DataError, match=r"run 'a': ndcg@10 is nan for fold, user 0, 2; per-user values must be"):
        compare([bad, scores("b", 5)])
    twice = RunScores("t", np.array(["0\t1", "0\t1"]), {"ndcg@10": np.zeros(2)})
    with pytest.raises(DataError, match=r"run 't' has a \(fold, user\) entry more than once"):
        compare([twice, scores("b", 2)])
    with pytest.raises(ValueError, match=r"alpha must be between 0 and 1; got 1\.5"):
        compare([scores("a", 5), scores("b", 5)], alpha=1.5)


def test_a_metric_defined_differently_under_one_label_is_not_compared(registry):
    # built-in metrics label each definition apart (map@10, map@10[denominator=relevant]); a plugin
    # metric that is not installed here keeps its plain label, so two definitions can share it
    def config(variant: str) -> dict[str, object]:
        metrics = [{"type": "mystery", "k": 10, "variant": variant}, {"type": "ndcg", "k": 10}]
        return {"seed": 1, "evaluation": {"split": {"type": "temporal_global"}, "metrics": metrics}}

    a, b = scores("a", 20, provenance(config("first"), {}, registry)), scores("b", 20)
    b = RunScores("b", b.keys, b.values, provenance(config("second"), {}, registry))
    for run in (a, b):
        run.values["mystery@10"] = run.values["ndcg@10"] / 2
    result = compare([a, b], n_bootstrap=20)
    assert result.metrics == ["ndcg@10"]
    assert result.notes == [
        "Not compared: mystery@10 is defined differently in runs 'a' and 'b' "
        "({type='mystery', k=10, variant='first'} vs {type='mystery', k=10, variant='second'})."
    ]


def test_two_map_definitions_have_two_labels_in_the_provenance(registry):
    metrics = [{"type": "map", "k": 10, "denominator": "relevant"}, {"type": "map", "k": 10}]
    found = provenance({"evaluation": {"metrics": metrics}}, {}, registry)["metrics"]
    assert list(found) == ["map@10[denominator=relevant]", "map@10"]


def test_sweep_settings_without_a_fingerprint_are_checked_by_their_data_section(runs, registry):
    config = yaml.safe_load((runs["sweep"] / "settings" / "1" / "config.yaml").read_text())
    same = provenance(config, {}, registry)
    assert same["data"] == config["data"] and "data_fingerprint" not in same
    other = provenance({**config, "data": {**config["data"], "n_users": 99}}, {}, registry)
    with pytest.raises(ConfigError, match=r"differ in data: \{type='synthetic'.*n_users=80.*\} vs \{.*n_users=99"):
        compare([scores("a", 20, same), scores("b", 20, other)], n_bootstrap=20)
    # against a run with a fingerprint: said to be unchecked, not silently trusted
    with_fingerprint = provenance(config, {"data_fingerprint": "sha256:ab", "n_interactions": 5}, registry)
    notes = compare([scores("a", 20, with_fingerprint), scores("b", 20, same)], n_bootstrap=20).notes
    assert notes[0].startswith("Could not check the data of 'b' against the others' data fingerprints")


# ---------------------------------------------------------------- run values that are not per-user means

AVERAGED = [
    "ndcg@5",
    {"type": "ndcg", "k": 5, "without_relevant": "zero"},
    {"type": "recall", "k": 5, "averaging": "micro"},
    "recall@5",
    {"type": "precision", "k": 5, "profile": "implicit"},
]


def test_compare_means_are_the_run_values_and_other_averages_are_left_out(tmp_path):
    # users below the threshold have no relevant item: the zero form divides by them too
    run = write_run(tmp_path, "avg", evaluation__relevance_threshold=4, evaluation__metrics=AVERAGED)
    recorded = json.loads((run / "metrics.json").read_text())["metrics"]
    assert recorded["ndcg@5[without_relevant=zero]"] < recorded["ndcg@5"]
    result = compare_run_dirs([run, run], n_bootstrap=20)
    assert result.metrics == ["ndcg@5", "recall@5"]
    for summary in result.summaries:
        assert summary.mean == pytest.approx(recorded[summary.metric], rel=1e-12)
    notes = [n for n in result.notes if n.startswith("Not compared:")]
    assert [n.split(" of run")[0] for n in notes] == [
        "Not compared: ndcg@5[without_relevant=zero]",
        "Not compared: precision@5[profile=implicit]",
        "Not compared: recall@5[averaging=micro]",
    ]
    zero, implicit, micro = notes
    assert f"is {recorded['ndcg@5[without_relevant=zero]']:.4f}, not the mean of its per-user values" in zero
    assert "counts users without a relevant item as 0" in zero and "'excluded' form instead" in zero
    assert "micro-averaged (a ratio of sums over users)" in implicit and "micro-averaged" in micro


def test_the_recorded_value_is_checked_fold_by_fold():
    a = scores("a", 10, folds=2)
    values = a.values["ndcg@10"]
    by_fold = [float(values[:10].mean()), float(values[10:].mean())]
    pooled = [float(values.mean())] * 2  # right on average, wrong in each fold
    good = RunScores("a", a.keys, a.values, recorded={"ndcg@10": by_fold}, definitions={})
    result = compare([good, good], n_bootstrap=20)
    assert result.metrics == ["ndcg@10"] and not any("Not compared" in n for n in result.notes)
    bad = RunScores("b", a.keys, a.values, recorded={"ndcg@10": pooled})
    with pytest.raises(DataError, match=r"in common; Not compared: ndcg@10 of run 'b' is \d\.\d{4} in fold 0, not"):
        compare([good, bad], n_bootstrap=20)
