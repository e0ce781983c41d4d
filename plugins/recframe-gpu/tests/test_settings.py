"""Tests of recframe-gpu that need no PyTorch: config files, the device choice, its errors, the CPU engine instead.

Run from the repository root after ``pip install -e plugins/recframe-gpu``::

    python3 -m pytest plugins/recframe-gpu -q
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError
from recframe_gpu import GPUItemCFRanker, GPUSimilarity

from recframe import (
    CandidateRanker,
    ConfigError,
    InteractionMatrix,
    MatrixBuilder,
    PluginRegistry,
    SimilarityBackend,
    load_config,
)
from recframe.testing import assert_same_neighbours, random_interactions

RUN = """\
name: gpu
seed: 3
data: {type: synthetic, n_users: 60, n_items: 40}
similarity:
  type: gpu
  measure: asymmetric_cosine
  alpha: 0.25
  k: 7
  device: auto
  precision: float32
  max_memory_mb: 64
ranker: {type: gpu_item_cf, n: 4, device: cpu, no_gpu: cpu, history: binary}
"""


@pytest.fixture
def without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import torch`` fail, as on a machine without PyTorch."""
    monkeypatch.setitem(sys.modules, "torch", None)


def test_the_entry_point_names_this_package() -> None:
    (entry,) = [e for e in entry_points(group="recframe") if e.name == "gpu"]
    assert entry.value == "recframe_gpu"


def test_run_file_round_trips(tmp_path: Path, registry: PluginRegistry) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(RUN, encoding="utf-8")
    run = load_config(path, registry)
    similarity, ranker = run.similarity, run.ranker
    assert similarity is not None and ranker is not None
    assert similarity.type == "gpu" and ranker.type == "gpu_item_cf"
    config = similarity.params
    assert isinstance(config, GPUSimilarity.Config)
    assert (config.measure, config.alpha, config.k, config.device, config.precision, config.max_memory_mb) == (
        "asymmetric_cosine",
        0.25,
        7,
        "auto",
        "float32",
        64,
    )
    assert GPUSimilarity.Config.model_validate(config.model_dump()) == config
    ranker_config = ranker.params
    assert isinstance(ranker_config, GPUItemCFRanker.Config)
    assert (ranker_config.n, ranker_config.no_gpu, ranker_config.history) == (4, "cpu", "binary")


def test_run_file_errors_name_the_line(tmp_path: Path, registry: PluginRegistry) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(RUN.replace("device: auto", "device: gpu"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.yaml:9: similarity\.device: .*'cuda', 'cpu' or 'auto'"):
        load_config(path, registry)
    with pytest.raises(ValidationError, match="measure"):
        GPUSimilarity(measure="pearson")
    with pytest.raises(ValidationError, match="alpha"):
        GPUSimilarity(alpha=1.5)


def training_matrix(registry: PluginRegistry, seed: int) -> InteractionMatrix:
    """Return the ratings matrix of random interactions."""
    return registry.create("matrix", "ratings", MatrixBuilder).build(random_interactions(seed=seed))


def test_without_torch_the_error_says_what_to_install(without_torch: None, registry: PluginRegistry) -> None:
    matrix = training_matrix(registry, 1)
    items = matrix.item_major()
    with pytest.raises(ConfigError, match=r"similarity 'gpu': device 'cuda' needs PyTorch.*recframe-gpu\[torch\]"):
        GPUSimilarity().fit(items)
    graph = GPUSimilarity(no_gpu="cpu").fit(items).neighbours()
    with pytest.raises(ConfigError, match=r"ranker 'gpu_item_cf': device 'cpu' needs PyTorch.*no_gpu: cpu"):
        GPUItemCFRanker(device="cpu").fit(matrix, graph)


def test_without_torch_no_gpu_cpu_runs_the_cpu_engine(
    without_torch: None, caplog: pytest.LogCaptureFixture, registry: PluginRegistry
) -> None:
    matrix = training_matrix(registry, 2)
    items = matrix.item_major()
    with caplog.at_level(logging.WARNING, logger="recframe_gpu"):
        backend = GPUSimilarity(measure="jaccard", k=6, no_gpu="cpu").fit(items)
    assert backend.device_ == "engine"
    assert "PyTorch is not installed; running recframe's CPU engine (no_gpu: cpu)" in caplog.text
    sparse = registry.create("similarity", "sparse", SimilarityBackend, measure="jaccard", k=6).fit(items)
    assert_same_neighbours(backend.neighbours(), sparse.neighbours())
    graph = sparse.neighbours()
    ranker = GPUItemCFRanker(no_gpu="cpu", n=5).fit(matrix, graph)
    builtin = registry.create("ranker", "item_cf", CandidateRanker, n=5).fit(matrix, graph)
    users = np.r_[np.arange(matrix.n_users), -1]
    got, want = ranker.recommend(users), builtin.recommend(users)
    np.testing.assert_array_equal(got.items, want.items)
    np.testing.assert_allclose(got.scores, want.scores, rtol=0, atol=1e-12)


def test_a_model_fitted_for_a_gpu_loads_without_one_and_answers_with_the_cpu_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Fitted where its device was met (here: pretended), served where it is not (no PyTorch): the same lists.

    A load never fails for want of the device: the saved arrays are the same whatever it is.
    """
    import recframe_gpu.rankers as rankers
    import recframe_gpu.similarity as similarity

    from recframe import Recommender

    config = {
        "similarity": {"type": "gpu", "k": 6, "device": "cuda"},
        "ranker": {"type": "gpu_item_cf", "n": 4, "device": "auto"},
    }
    data = random_interactions(n_users=50, n_items=30, density=0.2, seed=5)
    for module in (similarity, rankers):  # the GPU machine: the device resolves (to the CPU engine, to run here)
        monkeypatch.setattr(module, "resolve_device", lambda settings, component: "engine")
    fitted = Recommender.from_config(config).fit(data)
    fitted.save(tmp_path / "model")
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "torch", None)  # the serving machine: no PyTorch
    with caplog.at_level(logging.WARNING, logger="recframe_gpu"):
        loaded = Recommender.load(tmp_path / "model")
    assert "similarity 'gpu': device 'cuda' needs PyTorch" in caplog.text
    assert "ranker 'gpu_item_cf': device 'auto' needs PyTorch" in caplog.text
    assert "this loaded model answers with recframe's CPU engine instead" in caplog.text
    users = data.users[:20]
    assert loaded.recommend(users).to_dict() == fitted.recommend(users).to_dict()


def test_a_model_loaded_without_a_gpu_can_be_updated_and_forgotten_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """``no_gpu: error`` stops a fit, never a change of a model that answers with the CPU engine.

    A data-protection ``forget`` on the serving machine (no GPU) used to stop on the similarity's
    and the rankers' device, from the API and the CLI alike. The changed model answers as the
    CPU engine's own model (``no_gpu: cpu``) with the same changes.
    """
    import recframe_gpu.rankers as rankers
    import recframe_gpu.similarity as similarity

    from recframe import Recommender, in_update
    from recframe.cli import main

    config = {
        "similarity": {"type": "gpu", "k": 6, "device": "cuda", "update_slack": 4},
        "ranker": {"type": "gpu_item_cf", "n": 4, "device": "cuda"},
    }
    data = random_interactions(n_users=50, n_items=30, density=0.2, seed=5)
    for module in (similarity, rankers):  # fitted on "the GPU machine" (pretended: the CPU engine runs here)
        monkeypatch.setattr(module, "resolve_device", lambda settings, component: "engine")
    Recommender.from_config(config).fit(data).save(tmp_path / "model")
    monkeypatch.undo()
    monkeypatch.setitem(sys.modules, "torch", None)  # the serving machine: no PyTorch
    with pytest.raises(ConfigError, match="needs PyTorch"):  # a fit still stops
        Recommender.from_config(config).fit(data)
    loaded = Recommender.load(tmp_path / "model")
    new = {"user": [7, 999], "item": [3, 4], "rating": [5.0, 4.0], "timestamp": [1.7e9, 1.7e9]}
    with caplog.at_level(logging.WARNING, logger="recframe_gpu"):
        loaded.update(new).forget(users=[data.users[0]])
    assert "an update or forget runs where the model answers" in caplog.text and not in_update()
    on_cpu = {role: {**section, "no_gpu": "cpu"} for role, section in config.items()}
    refit = Recommender.from_config(on_cpu).fit(data).update(new).forget(users=[data.users[0]])
    users = refit.interaction_matrix.users.ids[:25]
    assert loaded.recommend(users).to_dict() == refit.recommend(users).to_dict()
    assert main(["forget", str(tmp_path / "model"), "--user", str(data.users[1]), "--quiet"]) == 0
