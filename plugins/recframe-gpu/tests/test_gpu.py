"""Tests of the PyTorch kernels of recframe-gpu, on the CPU device (no GPU needed; skipped without PyTorch).

Each result is checked against numbers worked out by hand, a brute-force numpy computation on
random long-tailed data, and the CPU engine's built-ins (``sparse``, ``item_cf``, ``user_cf``).
Run with an environment that has PyTorch::

    python -m pytest plugins/recframe-gpu -q
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch", reason="the GPU kernels' tests need PyTorch: pip install 'recframe-gpu[torch]'")

from recframe_gpu import (  # noqa: E402
    GPUItemCFRanker,
    GPUSimilarity,
    GPUUserCFRanker,
    kernels,
)

from recframe import (  # noqa: E402
    CandidateRanker,
    ConfigError,
    MatrixBuilder,
    PluginRegistry,
    Recommender,
    SimilarityBackend,
)
from recframe.testing import (  # noqa: E402
    RankerContract,
    SimilarityContract,
    assert_same_neighbours,
    random_interactions,
)

CPU = {"device": "cpu"}
MEASURES: list[tuple[str, dict[str, Any]]] = [
    ("cosine", {}),
    ("dot", {}),
    ("asymmetric_cosine", {"alpha": 0.2}),
    ("jaccard", {}),
]


def skewed(n_rows: int, n_columns: int, nnz: int, *, seed: int, binary: bool = False) -> sp.csr_array:
    """Return random rows whose columns follow a long-tailed (Zipf-like) popularity, values 1-5 or 1."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_columns + 1) ** 1.1
    columns = rng.permutation(n_columns)[rng.choice(n_columns, nnz, p=weights / weights.sum())]
    rows = rng.integers(0, n_rows, nnz)
    values = np.ones(nnz) if binary else rng.integers(1, 6, nnz).astype(np.float64)
    matrix = sp.csr_array((values, (rows, columns)), shape=(n_rows, n_columns))
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    return matrix


class TestGPUSimilarityContract(SimilarityContract):
    component = GPUSimilarity
    configs = ({**CPU}, {**CPU, "measure": "jaccard", "k": 5}, {**CPU, "measure": "asymmetric_cosine", "alpha": 0.8})


class TestGPUItemCFContract(RankerContract):
    component = GPUItemCFRanker
    configs = ({**CPU, "n": 5}, {**CPU, "n": 3, "exclude_seen": False, "history": "binary", "precision": "float32"})


class TestGPUUserCFContract(RankerContract):
    component = GPUUserCFRanker
    configs = ({**CPU, "n": 4}, {**CPU, "n": 6, "max_memory_mb": 1})


def test_by_hand_ties_go_to_the_lower_row() -> None:
    # cos(a, b) = cos(a, c) = 1/2, cos(a, d) = 2/sqrt(6); d ties with nobody; e shares nothing
    rows = sp.csr_array(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]], dtype=float))
    graph = GPUSimilarity(device="cpu", k=2).fit(rows).neighbours()
    np.testing.assert_array_equal(graph.indices, [[3, 1], [3, 0], [3, 0], [0, 1], [-1, -1]])
    third, half = 2 / np.sqrt(6), 0.5
    np.testing.assert_allclose(graph.scores, [[third, half], [third, half], [third, half], [third, third], [0, 0]])
    shared = GPUSimilarity(device="cpu", k=3, measure="jaccard").fit(rows).neighbours([4, 0])
    np.testing.assert_array_equal(shared.indices, [[-1, -1, -1], [3, 1, 2]])
    np.testing.assert_allclose(shared.scores[1], [2 / 3, 1 / 3, 1 / 3])


def test_select_top_n_breaks_ties_by_lower_column() -> None:
    inf = float("inf")
    scores = torch.tensor([[1.0, 3.0, 3.0, 3.0, -inf, 2.0], [-inf] * 5 + [0.5], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]])
    columns, values = kernels.select_top_n(scores.clone(), 2)
    assert columns.tolist() == [[1, 2], [5, -1], [0, 1]]
    assert values.tolist() == [[3.0, 3.0], [0.5, 0.0], [2.0, 2.0]]
    columns, _ = kernels.select_top_n(scores.clone(), 5)
    assert columns.tolist() == [[1, 2, 3, 5, 0], [5, -1, -1, -1, -1], [0, 1, 2, 3, 4]]


def brute_force(rows: sp.csr_array, measure: str, alpha: float, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return every row's k best other rows from the dense similarity matrix, ties to the lower row."""
    dense = rows.toarray()
    pattern = (dense != 0).astype(float)
    norms, counts = np.sqrt((dense**2).sum(1)), pattern.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "jaccard":
            shared = pattern @ pattern.T
            sim = shared / (counts[:, None] + counts[None, :] - shared)
        else:
            sim = dense @ dense.T
            if measure != "dot":
                a = alpha if measure == "asymmetric_cosine" else 0.5
                sim = sim / (norms[:, None] ** (2 * a) * norms[None, :] ** (2 * (1 - a)))
    sim = np.nan_to_num(sim)
    np.fill_diagonal(sim, 0.0)
    order = np.lexsort((np.broadcast_to(np.arange(len(sim)), sim.shape), -sim), axis=1)[:, :k]
    best = np.take_along_axis(sim, order, axis=1)
    return np.where(best > 0, order, -1), np.where(best > 0, best, 0.0)


@pytest.mark.parametrize(("measure", "params"), MEASURES)
def test_brute_force_on_long_tailed_data(measure: str, params: dict[str, Any]) -> None:
    rows = skewed(90, 400, 2500, seed=4)
    rows.data[rows.indptr[7] : rows.indptr[8]] = 0.0  # an empty row
    rows.eliminate_zeros()
    want = brute_force(rows, measure, params.get("alpha", 0.5), 8)
    for precision, atol in (("float64", 1e-9), ("float32", 2e-5)):
        graph = GPUSimilarity(device="cpu", measure=measure, k=8, precision=precision, **params).fit(rows).neighbours()
        tolerance = atol * max(1.0, float(np.abs(want[1]).max()))
        np.testing.assert_allclose(graph.scores, want[1], rtol=0, atol=tolerance)
        if precision == "float64":
            np.testing.assert_array_equal(graph.indices, want[0])


@pytest.mark.parametrize(("measure", "params"), MEASURES)
@pytest.mark.parametrize("binary", [False, True])
def test_same_graph_as_sparse(measure: str, params: dict[str, Any], binary: bool, registry: PluginRegistry) -> None:
    rows = skewed(150, 900, 5000, seed=5, binary=binary)  # binary rows tie often: ties go to the lower row
    sparse = registry.create("similarity", "sparse", SimilarityBackend, measure=measure, k=12, **params).fit(rows)
    backend = GPUSimilarity(device="cpu", measure=measure, k=12, max_memory_mb=1, **params).fit(rows)
    want, got = sparse.neighbours(), backend.neighbours()
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-12, atol=1e-12)
    picked = np.array([5, -1, 0, 149])
    np.testing.assert_array_equal(backend.neighbours(picked).indices[[0, 2, 3]], want.indices[picked[[0, 2, 3]]])
    vectors = skewed(9, 900, 200, seed=6, binary=binary)
    assert_same_neighbours(backend.query(vectors, k=20), sparse.query(vectors, k=20))
    single = GPUSimilarity(device="cpu", measure=measure, k=12, precision="float32", **params).fit(rows)
    scale = max(1.0, float(want.scores.max()))
    assert_same_neighbours(single.neighbours(), want, atol=2e-5 * scale)


def test_the_estimate_counts_each_kernels_work() -> None:
    rows = sp.csr_array(np.array([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]))
    spmm, by_rows = GPUSimilarity(k=2).estimate(rows), GPUSimilarity(k=2, kernel="rows").estimate(rows)
    assert (spmm.multiply_adds, by_rows.multiply_adds) == (5 * 3, 2**2 + 2**2 + 1)
    assert spmm.output_bytes == 3 * 2 * 16 and spmm.working_bytes == 2 * 5 * 16


def test_blocks_and_wide_indices_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = skewed(300, 3000, 12000, seed=7)
    whole = GPUSimilarity(device="cpu", k=10).fit(rows).neighbours()
    products = []
    original = torch.sparse.mm

    def counted(*args: Any) -> Any:
        products.append(args[1].shape[1])
        return original(*args)

    monkeypatch.setattr(torch.sparse, "mm", counted)
    monkeypatch.setattr(kernels, "_WIDEST_32", 100)  # int64 indices from 100 entries on
    backend = GPUSimilarity(device="cpu", k=10, max_memory_mb=1).fit(rows)
    blocked = backend.neighbours()
    assert len(products) > 5 and max(products) < 300, "1 MB must split the 300 rows into blocks"
    assert backend._on_device[0].csr.col_indices().dtype == torch.int64
    np.testing.assert_array_equal(blocked.indices, whole.indices)
    np.testing.assert_array_equal(blocked.scores, whole.scores)


@pytest.mark.parametrize(("ranker", "builtin"), [(GPUItemCFRanker, "item_cf"), (GPUUserCFRanker, "user_cf")])
def test_same_lists_as_the_cpu_rankers(ranker: type[CandidateRanker], builtin: str, registry: PluginRegistry) -> None:
    matrix = registry.create("matrix", "ratings", MatrixBuilder).build(random_interactions(120, 300, 0.05, seed=8))
    rows = matrix.matrix if ranker.neighbour_axis == "users" else matrix.item_major()
    graph = registry.create("similarity", "sparse", SimilarityBackend, k=15).fit(rows).neighbours()
    users = np.r_[np.arange(matrix.n_users)[::-1], -1, 3]
    exclude = sp.csr_array(skewed(len(users), matrix.n_items, 300, seed=9, binary=True))
    for params in ({"n": 10}, {"n": 7, "exclude_seen": False, "history": "binary"}, {"n": 400, "max_memory_mb": 1}):
        want = registry.create("ranker", builtin, CandidateRanker, **params).fit(matrix, graph)
        got = ranker(device="cpu", **params).fit(matrix, graph)
        for kwargs in ({}, {"exclude": exclude}):
            a, b = got.recommend(users, **kwargs), want.recommend(users, **kwargs)
            np.testing.assert_array_equal(a.items, b.items)
            np.testing.assert_allclose(a.scores, b.scores, rtol=1e-12, atol=1e-12)


@pytest.fixture
def interpreted_triton(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the Triton kernel of ``kernel: rows`` in Triton's interpreter, on the CPU."""
    pytest.importorskip("triton", reason="kernel 'rows' needs Triton")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    sys.modules.pop("recframe_gpu.row_kernel", None)  # Triton reads the variable when the kernel is defined
    yield
    sys.modules.pop("recframe_gpu.row_kernel", None)


@pytest.mark.parametrize(
    ("measure", "params"), [("cosine", {}), ("jaccard", {}), ("asymmetric_cosine", {"alpha": 0.7})]
)
def test_the_rows_kernel_finds_the_same_graph(interpreted_triton: None, measure: str, params: dict[str, Any]) -> None:
    rows = skewed(40, 120, 500, seed=11, binary=measure == "jaccard")
    spmm = GPUSimilarity(device="cpu", measure=measure, k=6, **params).fit(rows)
    backend = GPUSimilarity(device="cpu", measure=measure, k=6, kernel="rows", **params).fit(rows)
    want, got = spmm.neighbours(), backend.neighbours(np.arange(-1, 40))
    np.testing.assert_array_equal(got.indices[1:], want.indices)
    np.testing.assert_allclose(got.scores[1:], want.scores, rtol=1e-12)
    assert (got.indices[0] == -1).all()
    vectors = skewed(5, 120, 60, seed=12)
    assert_same_neighbours(backend.query(vectors), spmm.query(vectors))


def test_the_rows_kernel_adds_float32_values_in_float64(interpreted_triton: None) -> None:
    rows = skewed(15, 300, 1200, seed=15)  # values 1-5: the sums of products are exact in float64
    dot = GPUSimilarity(device="cpu", measure="dot", k=5).fit(rows).neighbours()
    got = GPUSimilarity(device="cpu", measure="dot", k=5, kernel="rows", precision="float32").fit(rows).neighbours()
    np.testing.assert_array_equal(got.indices, dot.indices)
    np.testing.assert_array_equal(got.scores, dot.scores)


@pytest.mark.parametrize("ranker", [GPUItemCFRanker, GPUUserCFRanker])
def test_the_rows_kernel_ranks_the_same(
    interpreted_triton: None, ranker: type[CandidateRanker], registry: PluginRegistry
):
    matrix = registry.create("matrix", "ratings", MatrixBuilder).build(random_interactions(30, 50, 0.1, seed=13))
    rows = matrix.matrix if ranker.neighbour_axis == "users" else matrix.item_major()
    graph = GPUSimilarity(device="cpu", k=8).fit(rows).neighbours()
    users = np.array([4, -1, 0, 29])
    want = ranker(device="cpu", n=6).fit(matrix, graph).recommend(users)
    got = ranker(device="cpu", n=6, kernel="rows").fit(matrix, graph).recommend(users)
    np.testing.assert_array_equal(got.items, want.items)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-12)


def test_the_rows_kernel_needs_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    pytest.importorskip("triton", reason="kernel 'rows' needs Triton")
    with pytest.raises(ConfigError, match=r"similarity 'gpu': kernel 'rows' runs on CUDA devices only.*kernel: spmm"):
        GPUSimilarity(device="cpu", kernel="rows").fit(skewed(10, 10, 30, seed=14))


def test_no_gpu_is_an_error_naming_the_setting(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    rows = skewed(40, 100, 400, seed=10)
    with pytest.raises(ConfigError, match=r"similarity 'gpu': device 'cuda' but no CUDA GPU is available.*no_gpu: cpu"):
        GPUSimilarity().fit(rows)
    assert GPUSimilarity(device="auto").fit(rows).device_ == "cpu"
    backend = GPUSimilarity(no_gpu="cpu", k=5).fit(rows)
    assert backend.device_ == "engine" and "running recframe's CPU engine (no_gpu: cpu)" in caplog.text
    assert_same_neighbours(backend.neighbours(), GPUSimilarity(device="cpu", k=5).fit(rows).neighbours())


def test_a_recommender_on_the_device_recommends_as_on_the_cpu(registry: PluginRegistry) -> None:
    data = {"type": "synthetic", "n_users": 150, "n_items": 80}
    on_cpu = Recommender.from_config(
        {"data": data, "similarity": {"type": "sparse", "k": 20}, "ranker": {"type": "item_cf"}}, registry=registry
    )
    on_device = Recommender.from_config(
        {"data": data, "similarity": {"type": "gpu", "k": 20, **CPU}, "ranker": {"type": "gpu_item_cf", **CPU}},
        registry=registry,
    )
    on_cpu.fit()
    on_device.fit()
    users = on_cpu.interaction_matrix.users.ids[:30]
    want, got = on_cpu.recommend(users), on_device.recommend(users)
    assert sum(want.lengths) > 0
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_allclose(got.scores, want.scores, rtol=1e-12)
