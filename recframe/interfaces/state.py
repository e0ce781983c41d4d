"""The state contract's values and the helpers that flatten fitted objects into them.

A fitted component hands its state to a saved model as a flat :data:`State`: a ``dict`` of
names to numpy arrays or plain JSON values (``None``, ``bool``, ``int``, ``float``, ``str``,
and lists or dicts of those). Saving writes each array to its own ``.npy`` file and the JSON
values into the manifest; loading gives them back (arrays memory-mapped read-only), so what a
component stores here is all it may rely on after ``set_state``.

The types (:data:`State`) live in :mod:`recframe.interfaces.component`, beside the
methods that use them. The helpers turn the objects components keep most often into such entries and back, under a
name prefix: a CSR matrix (:func:`csr_state`), an :class:`~recframe.data.InteractionMatrix`
with its ids (:func:`matrix_state`) and a :class:`NeighbourGraph` (:func:`graph_state`). They
store the objects' own arrays, never copies, so that state shared by two components (a ranker's
matrix and the recommender's) is written once and mapped once.
"""

from __future__ import annotations

import contextlib
import mmap
from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from recframe.data import IdIndex, InteractionMatrix, Interactions
from recframe.errors import PluginError
from recframe.interfaces.component import State, StateValue, check_fitted
from recframe.interfaces.similarity import NeighbourGraph

RANGE_CHECKED = 1 << 21
"""Index arrays up to this many entries have their range checked on restore; larger ones (tens of
MB, memory-mapped) are checked whole by the engine on first use, so that loading stays fast and
reads none of them."""


def drop_pages(*arrays: np.ndarray) -> None:
    """Release the resident pages of memory-mapped arrays a load-time check has just read.

    The pages are the file's (read-only), so they stay in the page cache and come back on
    use; this keeps a check from adding the arrays it read to the process's resident memory.
    """
    for array in arrays:
        base: object = array
        while isinstance(base, np.ndarray) and not isinstance(base, np.memmap):
            base = base.base
        handle = getattr(base, "_mmap", None)
        if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
            with contextlib.suppress(OSError, ValueError):
                handle.madvise(mmap.MADV_DONTNEED)


def csr_state(prefix: str, matrix: sp.csr_array) -> State:
    """Return a CSR matrix as the entries ``{prefix}.data``, ``.indices``, ``.indptr`` and ``.shape``.

    Parameters
    ----------
    prefix : str
        The name the entries start with.
    matrix : csr_array
        The matrix; its own arrays are stored, not copies.

    Returns
    -------
    dict
        Four entries; ``shape`` is a JSON list.
    """
    matrix = matrix if isinstance(matrix, sp.csr_array) else sp.csr_array(matrix)
    return {
        f"{prefix}.data": matrix.data,
        f"{prefix}.indices": matrix.indices,
        f"{prefix}.indptr": matrix.indptr,
        f"{prefix}.shape": [int(matrix.shape[0]), int(matrix.shape[1])],
    }


def csr_from_state(state: Mapping[str, StateValue], prefix: str) -> sp.csr_array:
    """Return the CSR matrix :func:`csr_state` stored under `prefix`, sharing the stored arrays.

    Raises
    ------
    PluginError
        If an entry is missing or of the wrong type.
    """
    data = _array(state, f"{prefix}.data")
    indices = _array(state, f"{prefix}.indices")
    indptr = _array(state, f"{prefix}.indptr")
    shape = _entry(state, f"{prefix}.shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(s, int) for s in shape)):
        msg = f"state entry '{prefix}.shape' must be a list of two ints; got {shape!r}"
        raise PluginError(msg)
    if (
        shape[0] < 0
        or shape[1] < 0
        or indptr.ndim != 1
        or indices.ndim != 1
        or data.ndim != 1
        or indptr.dtype.kind not in "iu"
        or indices.dtype.kind not in "iu"
        or len(indptr) != shape[0] + 1
        or len(indices) != len(data)
        or int(indptr[0]) != 0
        or int(indptr[-1]) != len(data)
        or (len(indptr) > 1 and bool((np.diff(indptr) < 0).any()))
    ):
        msg = f"state entries '{prefix}.*' do not make a CSR matrix of shape {tuple(shape)}"
        raise PluginError(msg)
    if 0 < len(indices) <= RANGE_CHECKED and (int(indices.min()) < 0 or int(indices.max()) >= shape[1]):
        msg = f"state entry '{prefix}.indices' holds columns outside 0..{shape[1] - 1}"
        raise PluginError(msg)
    drop_pages(indptr, indices)
    matrix = sp.csr_array((shape[0], shape[1]), dtype=data.dtype)
    # assigned directly: the constructor would check (so read) every index of a mapped file
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    return matrix


def matrix_state(prefix: str, matrix: InteractionMatrix) -> State:
    """Return an :class:`InteractionMatrix` as its CSR entries plus ``{prefix}.users`` and ``.items`` ids."""
    return {
        **csr_state(prefix, matrix.matrix),
        f"{prefix}.users": matrix.users.ids,
        f"{prefix}.items": matrix.items.ids,
    }


def matrix_from_state(state: Mapping[str, StateValue], prefix: str) -> InteractionMatrix:
    """Return the :class:`InteractionMatrix` :func:`matrix_state` stored under `prefix`."""
    return InteractionMatrix(
        csr_from_state(state, prefix),
        _index(_array(state, f"{prefix}.users")),
        _index(_array(state, f"{prefix}.items")),
    )


def interactions_state(prefix: str, interactions: Interactions) -> State:
    """Return :class:`Interactions` as ``{prefix}.users``, ``.items`` (and ``.values``, ``.timestamps`` if present)."""
    columns = {name: getattr(interactions, name) for name in Interactions.COLUMNS}
    return {f"{prefix}.{name}": column for name, column in columns.items() if column is not None}


def interactions_from_state(state: Mapping[str, StateValue], prefix: str) -> Interactions:
    """Return the :class:`Interactions` :func:`interactions_state` stored under `prefix`.

    The columns' kinds and lengths are checked, not their entries (they were checked when the
    events were first read, and a saved model's files are checksummed): loading reads none of them.
    """
    columns: dict[str, np.ndarray | None] = {}
    n_events = len(_array(state, f"{prefix}.users"))
    for name, kinds in (("users", "iU"), ("items", "iU"), ("values", "f"), ("timestamps", "f")):
        key = f"{prefix}.{name}"
        column = _array(state, key) if name in ("users", "items") or key in state else None
        if column is not None and (column.ndim != 1 or column.dtype.kind not in kinds or len(column) != n_events):
            msg = (
                f"state entry {key!r} must be a 1-d array of kind {kinds!r} with {n_events} entries (one per "
                f"event); got {column.dtype} of shape {column.shape}"
            )
            raise PluginError(msg)
        columns[name] = column
    interactions = Interactions.__new__(Interactions)
    for name, column in columns.items():
        setattr(interactions, name, column)
    return interactions


def graph_state(prefix: str, graph: NeighbourGraph) -> State:
    """Return a :class:`NeighbourGraph` as ``{prefix}.indices``, ``.scores`` and ``.n_targets``."""
    return {
        f"{prefix}.indices": graph.indices,
        f"{prefix}.scores": graph.scores,
        f"{prefix}.n_targets": int(graph.n_targets),
    }


def check_graph(graph: NeighbourGraph, n_rows: int, name: str) -> None:
    """Refuse a restored :class:`NeighbourGraph` that does not fit `n_rows` rows and targets.

    Checks the shapes and dtypes, that every neighbour is a row ``>= -1`` and ``< n_targets``
    (``-1`` pads), and that no score is NaN. The graph's arrays are read once (they are small:
    ``rows x k``).

    Raises
    ------
    PluginError
        Naming `name` and what is wrong.
    """
    indices, scores = graph.indices, graph.scores
    if indices.ndim != 2 or indices.shape != scores.shape or indices.dtype.kind not in "iu":
        msg = f"state entries '{name}.*' are not a neighbour graph (indices {indices.shape}, scores {scores.shape})"
        raise PluginError(msg)
    if indices.shape[0] != n_rows or graph.n_targets != n_rows:
        msg = f"state entries '{name}.*' have {indices.shape[0]} rows of {graph.n_targets} targets, not {n_rows}"
        raise PluginError(msg)
    if indices.size and (int(indices.min()) < -1 or int(indices.max()) >= graph.n_targets):
        msg = f"state entry '{name}.indices' holds rows outside -1..{graph.n_targets - 1}"
        raise PluginError(msg)
    if scores.dtype.kind != "f" or bool(np.isnan(scores).any()):
        msg = f"state entry '{name}.scores' is not float or holds NaN"
        raise PluginError(msg)
    drop_pages(indices, scores)


def check_loaded(component: object) -> None:
    """Raise :class:`~recframe.errors.NotFittedError` if a component's restored state left it unfitted.

    The built-in components keep their fitted state in ``matrix_`` (rankers) or ``rows_``
    (similarity backends); a loaded one lacking it would fail only at its first query.
    """
    for attribute in ("matrix_", "rows_"):
        if hasattr(component, attribute):
            check_fitted(component, attribute)


def graph_from_state(state: Mapping[str, StateValue], prefix: str) -> NeighbourGraph:
    """Return the :class:`NeighbourGraph` :func:`graph_state` stored under `prefix`."""
    n_targets = _entry(state, f"{prefix}.n_targets")
    if not isinstance(n_targets, int) or isinstance(n_targets, bool):
        msg = f"state entry '{prefix}.n_targets' must be an int; got {n_targets!r}"
        raise PluginError(msg)
    return NeighbourGraph(_array(state, f"{prefix}.indices"), _array(state, f"{prefix}.scores"), n_targets)


def _index(ids: np.ndarray) -> IdIndex:
    """Return an :class:`IdIndex` of ids already sorted and unique (as an index stores them)."""
    if ids.ndim != 1 or (len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all())):
        msg = "state entry of ids is not sorted and unique: an IdIndex needs unique ids"
        raise PluginError(msg)
    drop_pages(ids)
    index = IdIndex.__new__(IdIndex)
    if ids.flags.writeable:
        ids = ids.view()
        ids.setflags(write=False)
    index.ids = ids
    return index


def _entry(state: Mapping[str, StateValue], name: str) -> StateValue:
    try:
        return state[name]
    except KeyError:
        msg = f"state entry {name!r} is missing (the state has {', '.join(sorted(state)) or 'no entries'})"
        raise PluginError(msg) from None


def _array(state: Mapping[str, StateValue], name: str) -> np.ndarray:
    value = _entry(state, name)
    if not isinstance(value, np.ndarray):
        msg = f"state entry {name!r} must be a numpy array; got {type(value).__name__}"
        raise PluginError(msg)
    return value
