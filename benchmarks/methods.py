"""One function per benchmarked method; each runs in a fresh process (see ``worker.py``).

Every neighbour method returns ``(indices, scores)`` of shape ``(n_rows, k)``, ``-1``/0 padded,
so that exact methods can be checked to agree. Benchmark-only dependencies (implicit,
sparse_dot_topn, similaripy) are imported inside their functions. Each competitor gets the
settings its users would pick for speed: float32 values and an explicit thread count (all
cores) where the library takes them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

Neighbours = tuple[np.ndarray, np.ndarray]


def rows_of(matrix: sp.csr_array, axis: str) -> sp.csr_array:
    return sp.csr_array(matrix) if axis == "users" else sp.csr_array(matrix.T)


def unit_rows(x: sp.csr_array) -> sp.csr_array:
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_array(sp.diags_array(1.0 / norms) @ x)


def recframe_sparse(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from recframe.builtin.similarity import SparseSimilarity

    backend = SparseSimilarity(k=k, max_memory_mb=4096)
    if axis == "items":  # the item rows' transpose is the users x items matrix the caller holds: kept, not copied
        backend.fit_transposed(rows_of(matrix, axis), matrix)
    else:  # the user rows are the matrix itself; the backend makes their transpose (float32 values if lossless)
        backend.fit(rows_of(matrix, axis))
    graph = backend.neighbours()
    return graph.indices, graph.scores


def recframe_sparse_scipy(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from recframe.builtin.similarity import SparseSimilarity

    graph = SparseSimilarity(k=k, engine="scipy", max_memory_mb=512).fit(rows_of(matrix, axis)).neighbours()
    return graph.indices, graph.scores


def recframe_sklearn(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from recframe.builtin.similarity import SklearnNNSimilarity

    graph = SklearnNNSimilarity(k=k, n_jobs=-1).fit(rows_of(matrix, axis)).neighbours()
    return graph.indices, graph.scores


def sklearn_raw(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from sklearn.neighbors import NearestNeighbors

    x = sp.csr_matrix(rows_of(matrix, axis))  # spmatrix: scikit-learn's faster sparse path
    dist, ind = NearestNeighbors(metric="cosine", algorithm="brute", n_jobs=-1).fit(x).kneighbors(x, k + 1)
    return ind, 1.0 - dist  # self included: dropped when comparing


def implicit_cosine(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from implicit.nearest_neighbours import CosineRecommender

    # implicit builds item-item neighbours from a users x items matrix; user-user is the transpose
    x = sp.csr_matrix(matrix if axis == "items" else matrix.T)
    rec = CosineRecommender(K=k + 1)  # implicit's K counts the row itself
    rec.fit(x, show_progress=False)
    sim = sp.csr_array(rec.similarity)
    return _padded(sim, k + 1)


def sparse_dot_topn(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    from sparse_dot_topn import sp_matmul_topn

    from recframe.engine.dispatch import default_threads

    x = sp.csr_matrix(unit_rows(rows_of(matrix, axis)).astype(np.float32))
    sim = sp_matmul_topn(x, x.T.tocsr(), top_n=k + 1, n_threads=default_threads(), sort=True)
    return _padded(sp.csr_array(sim), k + 1)


def similaripy_cosine(matrix: sp.csr_array, axis: str, k: int) -> Neighbours:
    import similaripy

    from recframe.engine.dispatch import default_threads

    x = rows_of(matrix, axis).astype(np.float32)  # its users' call: float32 rows, every thread
    # similaripy 0.7 fails on empty trailing rows (np.add.reduceat): search the others only
    filled = np.flatnonzero(np.diff(x.indptr))
    sim = similaripy.cosine(x[filled], k=k + 1, verbose=False, format_output="csr", num_threads=default_threads())
    sim = sp.csr_array(sim)
    lengths = np.zeros(x.shape[0], dtype=np.int64)
    lengths[filled] = np.diff(sim.indptr)
    full = sp.csr_array((sim.data, filled[sim.indices], np.r_[0, np.cumsum(lengths)]), shape=(x.shape[0],) * 2)
    return _padded(full, k + 1)


def _padded(sim: sp.csr_array, width: int) -> Neighbours:
    n = sim.shape[0]
    ind = np.full((n, width), -1, dtype=np.int64)
    val = np.zeros((n, width))
    lengths = np.minimum(np.diff(sim.indptr), width)
    for i in range(n):  # benchmark-side conversion, not timed
        lo = sim.indptr[i]
        order = np.argsort(-sim.data[lo : sim.indptr[i + 1]], kind="stable")[: lengths[i]]
        ind[i, : len(order)] = sim.indices[lo:][order]
        val[i, : len(order)] = sim.data[lo:][order]
    return ind, val


NEIGHBOUR_METHODS: dict[str, Callable[[sp.csr_array, str, int], Neighbours]] = {
    "recframe sparse": recframe_sparse,
    "recframe sparse (scipy engine)": recframe_sparse_scipy,
    "recframe sklearn_nn": recframe_sklearn,
    "scikit-learn raw": sklearn_raw,
    "implicit": implicit_cosine,
    "sparse_dot_topn": sparse_dot_topn,
    "similaripy": similaripy_cosine,
}


def graph_for_batch(matrix: sp.csr_array, k: int) -> sp.csr_array:
    """Item-item cosine graph shared by every batch-scoring method (built before timing)."""
    from recframe.builtin.similarity import SparseSimilarity

    return SparseSimilarity(k=k).fit(rows_of(matrix, "items")).neighbours().to_csr()


def batch_recframe(matrix: sp.csr_array, graph: sp.csr_array, n: int, engine: str = "numba") -> np.ndarray:
    from recframe.engine import top_n_product

    items, _ = top_n_product(matrix, np.arange(matrix.shape[0]), graph, n, seen=matrix, engine=engine)  # type: ignore[arg-type]
    return items


def batch_implicit(matrix: sp.csr_array, graph: sp.csr_array, n: int) -> np.ndarray:
    from implicit.nearest_neighbours import ItemItemRecommender, NearestNeighboursScorer

    rec = ItemItemRecommender(K=graph.shape[0])
    similarity = sp.csr_matrix(graph)
    similarity.indices = similarity.indices.astype(np.int32)  # implicit's scorer takes 32-bit indices
    similarity.indptr = similarity.indptr.astype(np.int32)
    rec.similarity = similarity
    rec.scorer = NearestNeighboursScorer(rec.similarity)
    ids, _ = rec.recommend(np.arange(matrix.shape[0]), sp.csr_matrix(matrix), N=n, filter_already_liked_items=True)
    return ids


def fit_implicit(matrix: sp.csr_array, k: int) -> object:
    """Implicit's own fitted item-item cosine model (``K = k + 1``: its lists hold the item itself)."""
    from implicit.nearest_neighbours import CosineRecommender

    rec = CosineRecommender(K=k + 1)
    rec.fit(sp.csr_matrix(matrix), show_progress=False)
    return rec


def batch_implicit_own(matrix: sp.csr_array, model: object, n: int) -> np.ndarray:
    """Top-`n` for every user from implicit's own fitted model (see :func:`fit_implicit`)."""
    ids, _ = model.recommend(  # type: ignore[attr-defined]
        np.arange(matrix.shape[0]), sp.csr_matrix(matrix), N=n, filter_already_liked_items=True
    )
    return ids
