"""One compiled version per kernel: the engine hands its kernels read-only arrays and 32-bit indices.

numba compiles a kernel once per combination of argument types, and a read-only array, or one of
int64 indices, is a type of its own: each extra combination costs seconds of compile time on
the first call of every process (a service's first query, each test worker). These tests check
that the paths which used to hand the kernels another type no longer do.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import recframe.engine._compiled as compiled
from recframe import Interactions, Recommender
from recframe.data import index_dtype
from recframe.engine import freeze, merge_offers, numba_available
from recframe.engine.kernel_inputs import csr_parts
from recframe.interfaces import NeighbourGraph

needs_numba = pytest.mark.skipif(not numba_available(), reason="compiled versions are numba's")


def test_index_dtype_is_32_bit_while_everything_fits():
    assert index_dtype(0, 0) is np.int32
    assert index_dtype(10, 2**31 - 2) is np.int32
    assert index_dtype(2**31 - 1, 5) is np.int64  # as the builders always bounded it (scipy allows one more)
    assert index_dtype(5, 2**31) is np.int64


def test_a_graph_as_csr_has_32_bit_indices_and_the_same_entries():
    graph = NeighbourGraph(np.array([[2, 0], [-1, -1], [0, -1]]), np.array([[0.5, 0.25], [0.0, 0.0], [1.0, 0.0]]), 3)
    csr = graph.to_csr()
    assert csr.indices.dtype == np.int32 and csr.indptr.dtype == np.int32
    np.testing.assert_array_equal(csr.toarray(), [[0.25, 0.0, 0.5], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    wide = NeighbourGraph(graph.indices, graph.scores, 2**31).to_csr()  # too many targets for int32
    assert wide.indices.dtype == np.int64 and wide.shape == (3, 2**31)
    assert wide.nnz == csr.nnz


def test_kernel_parts_of_a_pickled_read_only_matrix_are_read_only():
    matrix = freeze(sp.csr_array(np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])))
    kept = csr_parts(matrix, np.int32)  # converted once and kept on the read-only matrix
    assert not any(a.flags.writeable for a in kept)
    shipped = pickle.loads(pickle.dumps(matrix))  # as an executor ships it: writable again, kept parts too
    parts = csr_parts(shipped, np.int32)
    assert not any(a.flags.writeable for a in parts)
    for got, want in zip(parts, kept, strict=True):
        np.testing.assert_array_equal(got, want)
    freeze(shipped)  # frozen again: the parts it brought along are still writable, so not reused
    assert not any(a.flags.writeable for a in csr_parts(shipped, np.int32))


@needs_numba
def test_merge_offers_hands_the_kernel_read_only_offers(monkeypatch):
    """Writable offers (a worker's, unpickled) and read-only ones reach the kernel as one type."""
    import recframe.engine._compiled.symmetric as symmetric

    given = []
    kernel = symmetric.merge_offers
    monkeypatch.setattr(symmetric, "merge_offers", lambda *args: given.append(args) or kernel(*args))
    offered = np.array([[1, 2], [0, -1]]), np.array([[0.5, 0.25], [0.75, 0.0]])
    columns, scores = np.full((3, 2), -1, dtype=np.int64), np.zeros((3, 2))
    merge_offers(columns, scores, *offered, 1, engine="numba")
    assert len(given) == 1
    assert given[0][0] is columns and given[0][1] is scores  # the lists, written in place
    assert not any(array.flags.writeable for array in given[0][2:4])
    np.testing.assert_array_equal(columns, [[-1, -1], [1, 2], [0, -1]])
    np.testing.assert_array_equal(scores, [[0.0, 0.0], [0.5, 0.25], [0.75, 0.0]])


@needs_numba
def test_histories_reach_the_kernel_in_the_types_of_the_users_queries(monkeypatch):
    """A served model's ``recommend_history`` runs the kernel version its ``recommend`` runs."""
    import recframe.engine._compiled.few_rows as few_rows

    types = []
    kernel = few_rows.checked_top_n
    monkeypatch.setattr(few_rows, "checked_top_n", lambda *args: types.append(_types(args)) or kernel(*args))
    monkeypatch.setenv("RECFRAME_ENGINE", "numba")
    rng = np.random.default_rng(3)
    users, items = rng.integers(0, 30, 400), rng.integers(0, 25, 400)
    model = Recommender().fit(Interactions(users, items))  # item-CF: the user rows times the item graph
    first = model.recommend(np.unique(users)[:2])
    ranked = model.recommend_history(model.interaction_matrix.items.ids[:5], 4, exclude=[])
    assert len(types) == 2 and types[0] == types[1]
    assert (first.sources == "item_cf").all() and ranked.sources[0] == "item_cf" and ranked.lengths[0] > 0


def _types(args: tuple[object, ...]) -> tuple[object, ...]:
    """Return what numba dispatches on: each array's dtype, dimensions and whether it is writable."""
    return tuple((a.dtype, a.ndim, a.flags.writeable) if isinstance(a, np.ndarray) else type(a) for a in args)


def _array_into_slice(node: ast.AST) -> bool:
    """Whether `node` assigns something other than a number into a slice (``out[a:b] = source[c:d]``)."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AugAssign):
        targets, value = [node.target], node.value
    else:
        return False
    into_slice = any(
        isinstance(t, ast.Subscript) and any(isinstance(n, ast.Slice) for n in ast.walk(t.slice)) for t in targets
    )
    return into_slice and not isinstance(value, ast.Constant | ast.UnaryOp)


def test_no_kernel_assigns_an_array_into_a_slice():
    """numba compiles such an assignment with a shape check that formats its message as text.

    That drags numba's integer-to-text machinery into the first kernel of a process holding one,
    2.5-3 s of a cold compile: the kernels copy spans with ``spans.copy_span`` instead. A number
    filled into a slice (``acc[a:b] = 0.0``) has no such check.
    """
    found = [
        f"{path.name}:{node.lineno}"
        for path in sorted(Path(compiled.__file__).parent.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if _array_into_slice(node)
    ]
    assert found == []
    assert _array_into_slice(ast.parse("out[o : o + n] = data[s:t]").body[0])  # what the check finds
    assert not _array_into_slice(ast.parse("acc[b0:b1] = 0.0").body[0])
    assert not _array_into_slice(ast.parse("out[o] = data[s]").body[0])
