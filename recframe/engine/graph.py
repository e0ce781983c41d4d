"""Random-walk similarities (P3alpha, RP3beta) as a dot product of two prepared copies of the rows.

The rows ``r`` of a non-negative matrix ``X`` and its columns ``c`` (items and users, for
item-CF) are the two sides of a bipartite graph whose edges weigh ``x_rc``. A walk of three
steps, row ``a`` -> column ``c`` -> row ``b``, with transition probabilities raised to the power
``alpha`` (Cooper et al. 2014), gives

``P3alpha(a, b) = sum_c P(a -> c)^alpha P(c -> b)^alpha``

and RP3beta (Paudel et al. 2017) divides it by the popularity of ``b`` to the power ``beta``.
Each term is a function of ``a``'s entries and ``a``'s own total, times a function of ``b``'s
entries, ``c``'s total and ``b``'s popularity. So, with

``Q[a, c] = P(a -> c)^alpha``  (:func:`walk_queries`, from row ``a`` alone) and
``T[b, c] = P(c -> b)^alpha / popularity(b)^beta``  (:func:`walk_targets`, from all rows),

the similarity is the plain product ``Q[a] . T[b]``: the engine's sparse top-k products
(:func:`~recframe.engine.top_n_product`, or :func:`~recframe.engine.top_k_by_measure` with
modifiers) compute it exactly, on either engine, with nothing of size rows x rows.

Transition probabilities follow the literature's two conventions (``degree``):

- ``"sum"`` (similaripy 0.7): ``P(a -> c) = x_ac / sum_c' x_ac'``, ``P(c -> b) = x_bc /
  sum_r x_rc``, and the popularity of ``b`` is the sum of its values.
- ``"count"`` (Dacrema et al. 2019's code): the first step is uniform over ``a``'s entries,
  ``1 / |a|``; the second step follows the values as above; the popularity of ``b`` is its
  number of entries.

Both agree on binary data. A stored zero is no edge, whatever ``alpha``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from recframe.data import FloatArray
from recframe.errors import DataError

Degree = Literal["sum", "count"]
"""How a walk weighs its steps (see the module docstring)."""


def _edges(x: sp.csr_array) -> sp.csr_array:
    """Return `x` as canonical float64 CSR without stored zeros (a copy), refusing negative weights.

    Raises
    ------
    DataError
        If an entry is negative or not finite: a transition probability needs a weight >= 0.
    """
    edges = sp.csr_array(x, dtype=np.float64, copy=True)
    edges.sum_duplicates()
    edges.eliminate_zeros()
    edges.sort_indices()
    bad = ~np.isfinite(edges.data) | (edges.data < 0)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        row = int(np.searchsorted(edges.indptr, position, side="right") - 1)
        msg = (
            f"row {row} holds the value {float(edges.data[position])!r}, but P3alpha and RP3beta walk a graph "
            "whose edge weights must be finite and >= 0; use a matrix without negative values (no mean-centring)"
        )
        raise DataError(msg)
    return edges


def _row_totals(edges: sp.csr_array, degree: Degree) -> FloatArray:
    """Return each row's degree: the sum of its values (``"sum"``) or its number of entries (``"count"``)."""
    lengths = np.diff(edges.indptr)
    if degree == "count":
        return np.asarray(lengths, dtype=np.float64)
    rows = np.repeat(np.arange(edges.shape[0]), lengths)
    return np.asarray(np.bincount(rows, weights=edges.data, minlength=edges.shape[0]), dtype=np.float64)


def _inverse_power(totals: FloatArray, power: float) -> FloatArray:
    """Return ``totals ** -power`` where a total is positive, else 0 (a node without edges)."""
    positive = totals > 0
    return np.where(positive, np.where(positive, totals, 1.0) ** -power, 0.0)


def walk_queries(x: sp.csr_array, alpha: float, *, degree: Degree = "sum") -> sp.csr_array:
    """Return the first step of the walk from each row: ``Q[a, c] = P(a -> c)^alpha``.

    It depends on row ``a`` alone, so new vectors (queries of a fitted model) are prepared the
    same way as the fitted rows.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        Non-negative edge weights (stored zeros are no edges).
    alpha : float
        Power of the transition probabilities (``>= 0``; 1 is the plain walk).
    degree : {"sum", "count"}
        ``"sum"``: ``P(a -> c) = x_ac / sum_c' x_ac'``; ``"count"``: ``1 / |a|``.

    Returns
    -------
    csr_array of shape (n_rows, n_columns), float64
        Canonical, on the pattern of `x`'s non-zero entries.

    Raises
    ------
    DataError
        If `x` holds a negative or non-finite value.
    """
    edges = _edges(x)
    lengths = np.diff(edges.indptr)
    scale = np.repeat(_inverse_power(_row_totals(edges, degree), 1.0), lengths)
    step = scale if degree == "count" else edges.data * scale
    edges.data = step**alpha
    return edges


def walk_targets(x: sp.csr_array, alpha: float, beta: float = 0.0, *, degree: Degree = "sum") -> sp.csr_array:
    """Return the last step of the walk into each row, penalised by popularity: ``T[b, c]``.

    ``T[b, c] = (x_bc / sum_r x_rc)^alpha / popularity(b)^beta``: the column totals come from
    every row, so this is computed once, when a model is fitted.

    Parameters
    ----------
    x : csr_array of shape (n_rows, n_columns)
        Non-negative edge weights (stored zeros are no edges).
    alpha : float
        Power of the transition probabilities (``>= 0``).
    beta : float
        Power of the popularity penalty (``>= 0``; 0 for P3alpha).
    degree : {"sum", "count"}
        The popularity of a row: the sum of its values or its number of entries.

    Returns
    -------
    csr_array of shape (n_rows, n_columns), float64
        Canonical, on the pattern of `x`'s non-zero entries.

    Raises
    ------
    DataError
        If `x` holds a negative or non-finite value.
    """
    edges = _edges(x)
    column_totals = np.asarray(np.bincount(edges.indices, weights=edges.data, minlength=edges.shape[1]), np.float64)
    step = edges.data * _inverse_power(column_totals, 1.0)[edges.indices]
    penalty = np.repeat(_inverse_power(_row_totals(edges, degree), beta), np.diff(edges.indptr))
    edges.data = step**alpha * penalty
    return edges
