"""Similarity measures as formulas over co-occurrence statistics, and the modifiers every measure takes.

For two rows ``a`` (the query) and ``b`` (a candidate neighbour) of a matrix ``X`` — users for
user-CF, items for item-CF — every measure is a function of a few sums over their *co-rated*
columns ``C = {c : X[a, c] and X[b, c] are both stored}`` and of per-row totals:

====================  ==============================================================
``n``                 ``|C|``, the co-support
``dot``               ``sum_C x_a x_b``
``sum_a``, ``sum_b``  ``sum_C x_a``, ``sum_C x_b``
``sq_a``, ``sq_b``    ``sum_C x_a^2``, ``sum_C x_b^2``
``norm_a``            ``sqrt(sum over all of a's columns of x_a^2)``
``count_a``           the number of stored entries of row ``a``
``n_columns``         the number of columns (e.g. users, for item rows)
====================  ==============================================================

Each statistic is one sparse product (``n = B B^T``, ``dot = X X^T``, ``sum_a = X B^T``, ...
with ``B`` the pattern of ``X``), so both engines compute every measure exactly and without an
``n x n`` matrix: the numba kernel accumulates the statistics row by row, the scipy engine
multiplies blocks of rows. :func:`similarity` turns the statistics into similarities with
plain array arithmetic that numpy and numba both run, so the two engines share one formula.
Division by zero gives 0 (no similarity). The random-walk measures (:data:`GRAPH`) are ``dot``
of two differently prepared copies of the rows (see :mod:`recframe.engine.graph`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

Measure = Literal[
    "cosine",
    "dot",
    "corated_cosine",
    "adjusted_cosine",
    "pearson",
    "msd",
    "jaccard",
    "dice",
    "tversky",
    "asymmetric_cosine",
    "conditional_probability",
    "lift",
    "p3alpha",
    "rp3beta",
]
MEASURES: tuple[str, ...] = get_args(Measure)
"""Every measure, in the order of their codes."""

NEEDS_SUMS, NEEDS_SQUARES = 1, 2
_NEEDS = {
    "corated_cosine": NEEDS_SQUARES,
    "adjusted_cosine": NEEDS_SQUARES,
    "pearson": NEEDS_SUMS | NEEDS_SQUARES,
    "msd": NEEDS_SQUARES,
}
SYMMETRIC = frozenset(
    {"cosine", "dot", "corated_cosine", "adjusted_cosine", "pearson", "msd", "jaccard", "dice", "lift"}
)
"""Measures with ``sim(a, b) = sim(b, a)`` (tversky with ``alpha == beta`` and asymmetric cosine
with ``alpha == 0.5`` are symmetric too)."""
BINARY = frozenset({"jaccard", "dice", "tversky", "conditional_probability", "lift"})
"""Measures of the rows' patterns only (which entries are stored), not their values."""
GRAPH = frozenset({"p3alpha", "rp3beta"})
"""Random-walk measures: the dot product of rows prepared by :mod:`recframe.engine.graph` (the
query rows by :func:`~recframe.engine.walk_queries`, the targets by
:func:`~recframe.engine.walk_targets`), so :func:`similarity` computes them as ``dot``."""


@dataclass(frozen=True)
class MeasureSpec:
    """A measure with its parameters and modifiers, in the form the kernels take.

    Attributes
    ----------
    code : int
        Index of the measure in :data:`MEASURES`.
    needs : int
        Bit mask of the co-rated statistics it reads beyond ``n`` and ``dot``, which are
        always computed (``NEEDS_SUMS``, ``NEEDS_SQUARES``).
    alpha, beta : float
        Parameters of tversky (both), asymmetric cosine and conditional probability (``alpha``).
    shrinkage : float
        ``lambda`` of ``sim * n / (n + lambda)``; 0 for none.
    min_support : int
        Pairs with fewer co-rated columns get no similarity.
    min_similarity : float
        Similarities below this are dropped (after shrinkage).
    keep_negative : bool
        Keep negative similarities as neighbours (ranked below every positive one).
    """

    code: int
    needs: int
    alpha: float = 0.5
    beta: float = 0.5
    shrinkage: float = 0.0
    min_support: int = 1
    min_similarity: float = -np.inf
    keep_negative: bool = False

    @classmethod
    def of(
        cls,
        measure: str,
        *,
        alpha: float = 0.5,
        beta: float = 0.5,
        shrinkage: float = 0.0,
        min_support: int = 1,
        min_similarity: float | None = None,
        keep_negative: bool = False,
    ) -> MeasureSpec:
        """Return the spec of a named measure.

        Parameters
        ----------
        measure : str
            One of :data:`MEASURES`.
        alpha, beta, shrinkage, min_support, min_similarity, keep_negative
            As the attributes of the same names; ``min_similarity=None`` keeps every value.

        Returns
        -------
        MeasureSpec

        Raises
        ------
        ValueError
            For a measure not in :data:`MEASURES`, a negative `shrinkage`, a `min_support` below
            1, or a `min_similarity` that is not a number (``nan``).
        """
        if measure not in MEASURES:
            msg = f"measure must be one of {', '.join(MEASURES)}; got {measure!r}"
            raise ValueError(msg)
        if not shrinkage >= 0 or min_support < 1 or (min_similarity is not None and np.isnan(min_similarity)):
            msg = (
                f"shrinkage must be 0 or more, min_support 1 or more and min_similarity a number; got "
                f"shrinkage={shrinkage!r}, min_support={min_support!r}, min_similarity={min_similarity!r}"
            )
            raise ValueError(msg)
        needs = _NEEDS.get(measure, 0)
        return cls(
            MEASURES.index(measure),
            needs,
            alpha,
            beta,
            shrinkage,
            min_support,
            -np.inf if min_similarity is None else min_similarity,
            keep_negative,
        )

    @property
    def name(self) -> str:
        """The measure's name."""
        return MEASURES[self.code]


DOT_GRID = 256.0
"""An old dot product read back from its similarity (times the two lengths) is taken to the
nearest multiple of ``1 / DOT_GRID`` where that gives the very similarity back
(:func:`~recframe.engine._compiled.delta_steps._recovered_dot`). Products of values that are
multiples of ``2**-4`` (whole numbers, halves, ... sixteenths) are such multiples, so on such
data an update sums the dot products exactly, as a fit does, and its similarities are a refit's
to the last bit. On binary data exact ties are everywhere, and a tie broken by a stray unit in
the last place gave another neighbour than a refit's lower row (found by two outside reviews)."""


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` where the denominator is positive, else 0 (no warning).

    :mod:`recframe.engine._compiled` registers it with numba (``register_jitable``), so that the
    compiled kernels run :func:`similarity` too; importing numba here would slow every import.
    """
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1.0), 0.0)


def similarity(
    code: int,
    alpha: float,
    beta: float,
    n: np.ndarray,
    dot: np.ndarray,
    sum_a: np.ndarray,
    sum_b: np.ndarray,
    sq_a: np.ndarray,
    sq_b: np.ndarray,
    norm_a: np.ndarray,
    norm_b: np.ndarray,
    count_a: np.ndarray,
    count_b: np.ndarray,
    n_columns: float,
) -> np.ndarray:
    """Return the similarity of each pair from its statistics (arrays of one shape, or broadcastable).

    Written with elementwise array operations only, so that the numba kernel compiles the very
    same function.

    Parameters
    ----------
    code : int
        The measure: its index in :data:`MEASURES`.
    alpha, beta : float
        The measure's parameters (``tversky``, ``asymmetric_cosine``, ``conditional_probability``).
    n, dot, sum_a, sum_b, sq_a, sq_b : ndarray
        Co-rated statistics of each pair (see the module docstring).
    norm_a, norm_b, count_a, count_b : ndarray
        Per-row totals of the query and the candidate rows.
    n_columns : float
        Number of columns of the matrix (``lift`` needs it).

    Returns
    -------
    ndarray
        The similarities, 0 where a denominator is 0.
    """
    if code == 0:  # cosine: dot / (|a| |b|)
        return _ratio(dot, norm_a * norm_b)
    if code == 1 or code >= 12:  # dot; p3alpha and rp3beta: dot of the walk's prepared rows
        return dot + 0.0 * n
    if code == 2 or code == 3:  # co-rated cosine (adjusted: of column-centred values)
        return _ratio(dot, np.sqrt(sq_a * sq_b))
    if code == 4:  # pearson over the co-rated columns
        spread = np.maximum(n * sq_a - sum_a * sum_a, 0.0) * np.maximum(n * sq_b - sum_b * sum_b, 0.0)
        return _ratio(n * dot - sum_a * sum_b, np.sqrt(spread))
    if code == 5:  # msd: 1 / (1 + mean squared difference over the co-rated columns)
        squared = np.maximum(sq_a + sq_b - 2.0 * dot, 0.0)
        return np.where(n > 0, 1.0 / (1.0 + _ratio(squared, n)), 0.0)
    if code == 6:  # jaccard
        return _ratio(n, count_a + count_b - n)
    if code == 7:  # dice
        return _ratio(2.0 * n, count_a + count_b)
    if code == 8:  # tversky
        return _ratio(n, n + alpha * (count_a - n) + beta * (count_b - n))
    if code == 9:  # asymmetric cosine: dot / (|a|^(2 alpha) |b|^(2 (1 - alpha)))
        return _ratio(dot, norm_a ** (2.0 * alpha) * norm_b ** (2.0 * (1.0 - alpha)))
    if code == 10:  # conditional probability with popularity discount
        return _ratio(n, count_a * count_b**alpha)
    # lift: P(a and b) / (P(a) P(b))
    return _ratio(n * n_columns, count_a * count_b)


def modify(
    sim: np.ndarray, n: np.ndarray, shrinkage: float, min_support: int, min_similarity: float, keep_negative: bool
) -> np.ndarray:
    """Apply the modifiers: shrinkage, minimum co-support, minimum similarity, negative similarities.

    Parameters
    ----------
    sim : ndarray
        Similarities from :func:`similarity`.
    n : ndarray
        Co-support of each pair (the number of co-rated columns).
    shrinkage : float
        ``sim * n / (n + shrinkage)``; 0 leaves `sim` as it is.
    min_support : int
        Pairs with fewer co-rated columns are dropped.
    min_similarity : float
        Pairs below it are dropped.
    keep_negative : bool
        Keep negative similarities (else they are dropped).

    Returns
    -------
    ndarray
        Similarities where 0 means "not a neighbour" (a kept negative similarity stays negative).
    """
    if shrinkage > 0:
        sim = sim * _ratio(n, n + shrinkage)
    keep = (n >= min_support) & (sim >= min_similarity) & (sim != 0.0)
    if not keep_negative:
        keep = keep & (sim > 0.0)
    return np.where(keep, sim, 0.0)
