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

from collections.abc import Mapping

import numpy as np
import scipy.sparse as sp

from recframe.data import IdIndex, InteractionMatrix
from recframe.errors import PluginError
from recframe.interfaces.component import State, StateValue
from recframe.interfaces.similarity import NeighbourGraph


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
    if len(indptr) != shape[0] + 1 or len(indices) != len(data) or (len(indptr) and int(indptr[-1]) != len(data)):
        msg = f"state entries '{prefix}.*' do not make a CSR matrix of shape {tuple(shape)}"
        raise PluginError(msg)
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


def graph_state(prefix: str, graph: NeighbourGraph) -> State:
    """Return a :class:`NeighbourGraph` as ``{prefix}.indices``, ``.scores`` and ``.n_targets``."""
    return {
        f"{prefix}.indices": graph.indices,
        f"{prefix}.scores": graph.scores,
        f"{prefix}.n_targets": int(graph.n_targets),
    }


def graph_from_state(state: Mapping[str, StateValue], prefix: str) -> NeighbourGraph:
    """Return the :class:`NeighbourGraph` :func:`graph_state` stored under `prefix`."""
    n_targets = _entry(state, f"{prefix}.n_targets")
    if not isinstance(n_targets, int) or isinstance(n_targets, bool):
        msg = f"state entry '{prefix}.n_targets' must be an int; got {n_targets!r}"
        raise PluginError(msg)
    return NeighbourGraph(_array(state, f"{prefix}.indices"), _array(state, f"{prefix}.scores"), n_targets)


def _index(ids: np.ndarray) -> IdIndex:
    """Return an :class:`IdIndex` of ids already sorted and unique (as an index stores them)."""
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
