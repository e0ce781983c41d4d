"""The engine's checks of the numbers plugins return: metric values and rating predictions.

Values must be real, finite numbers of the expected shape (and, for metrics, within the
metric's bounds); the messages show the offending value as plain Python writes it
(:func:`number`) and name the plugin. :func:`overflow_hint` says which input made a ranker's
scores overflow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from recframe.errors import PluginError, short_repr, short_text
from recframe.interfaces.rankers import Predictions

if TYPE_CHECKING:
    from recframe.data import InteractionMatrix
    from recframe.interfaces.similarity import NeighbourGraph


def number(value: object) -> str:
    """Return a number for a message as plain Python writes it: ``-1e+300``, not ``np.float64(-1e+300)``."""
    if isinstance(value, bool | np.bool_):
        return repr(bool(value))
    if isinstance(value, int | np.integer):
        return repr(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value))
    return short_repr(value)


def real_numbers(value: object, who: str, what: str, expected: tuple[int, ...]) -> np.ndarray:
    """Return `value` as a ``float64`` array of shape `expected` if it holds real numbers only.

    Accepted: a numpy array, a number or a (nested) list or tuple of numbers whose dtype kind
    is bool, integer or float. Refused with a :class:`PluginError` naming `who` and showing what
    it returned: strings (even ``"0.5"``), complex numbers, dicts, sets, generators, object
    arrays, ``None``, and arrays of another shape.
    """
    shown = f"{short_text(type(value).__name__)} {short_repr(value)}"
    allowed = f"expected real numbers (a bool, integer or float numpy array) of shape {expected}"
    if isinstance(value, np.ndarray | np.generic):
        arr = np.asarray(value)
    elif isinstance(value, bool | int | float) or (isinstance(value, list | tuple) and _plain_numbers(value)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError, OverflowError) as exc:  # ragged lists, ints beyond int64
            msg = f"{who} returned {what} {shown} that do not form an array of numbers; {allowed}"
            raise PluginError(msg) from exc
    else:
        msg = f"{who} returned {what} of type {shown}; {allowed}"
        raise PluginError(msg)
    if arr.dtype.kind not in "biuf":
        msg = f"{who} returned {what} of dtype {arr.dtype} ({shown}); {allowed}"
        raise PluginError(msg)
    if arr.shape != expected:
        msg = f"{who} returned {what} of shape {arr.shape}; expected {expected}"
        raise PluginError(msg)
    with np.errstate(over="ignore"):
        return arr.astype(np.float64)


def _plain_numbers(value: list[object] | tuple[object, ...], depth: int = 0) -> bool:
    """Whether a (nested) list or tuple holds only Python or numpy real numbers."""
    if depth > 32:
        return False
    for entry in value:
        if isinstance(entry, list | tuple):
            if not _plain_numbers(entry, depth + 1):
                return False
        elif not isinstance(entry, bool | int | float | np.bool_ | np.integer | np.floating):
            return False
    return True


def check_finite(values: np.ndarray, who: str, what: str, name: Callable[[int], str] | None = None) -> None:
    """Raise :class:`PluginError` naming `who` if `values` holds ``nan``, ``inf`` or ``-inf``.

    `name(i)` names the row of the first bad value (``user row 3``); the message shows that
    value as a plain Python float.
    """
    bad = ~np.isfinite(values)
    if np.any(bad):
        where = np.unravel_index(int(np.flatnonzero(bad)[0]), values.shape)
        at = f" for {name(int(where[0]))}" if name is not None and where else ""
        first = values[where]
        msg = (
            f"{who} returned {what} {number(first)}{at} ({int(bad.sum())} non-finite in all); "
            f"every value must be a finite number"
        )
        raise PluginError(msg)


def check_metric(values: object, who: str, n_users: int, per_user: bool, bounds: tuple[float, float]) -> np.ndarray:
    """Return `values` if it holds one finite number per user (or one for the run) within `bounds`."""
    expected = (n_users,) if per_user else ()
    arr = real_numbers(values, who, "values", expected)
    check_finite(arr, who, "the value", lambda line: f"the user at position {line}")
    low, high = bounds
    if np.any((arr < low) | (arr > high)):
        msg = (
            f"{who} returned values outside [{number(low)}, {number(high)}]: "
            f"min {number(arr.min())}, max {number(arr.max())}"
        )
        raise PluginError(msg)
    return arr


def check_predictions(result: object, who: str, n_pairs: int, *, hint: Callable[[], str] | None = None) -> Predictions:
    """Return `result` if it is :class:`Predictions` of `n_pairs` finite real values.

    `hint()`, called only for a non-finite value, adds where it may come from (``"; ..."``).
    """
    if not isinstance(result, Predictions):
        msg = f"{who} returned {short_text(type(result).__name__)}; expected Predictions"
        raise PluginError(msg)
    values = real_numbers(result.values, who, "predictions", (n_pairs,))
    try:
        check_finite(values, who, "the prediction", lambda line: f"pair {line}")
    except PluginError as exc:
        if hint is None:
            raise
        msg = f"{exc}{hint()}"
        raise PluginError(msg) from None
    return result


def overflow_hint(graph: NeighbourGraph, matrix: InteractionMatrix, similarity: str) -> str:
    """Say which input of a neighbour ranker's scores was so large that their sums overflowed.

    For the message of a non-finite score from a ranker that sums similarities times matrix
    values (``item_cf``, ``user_cf``): names the largest similarity of the graph `similarity`
    built and the largest matrix value, so the user knows whether to fix the similarity
    backend or the data.
    """
    scores = graph.scores[graph.indices >= 0]
    values = matrix.matrix.data
    top_similarity = float(np.max(np.abs(scores))) if scores.size else 0.0
    top_value = float(np.max(np.abs(values))) if values.size else 0.0
    if np.isfinite(top_similarity * top_value * max(graph.k, 1) * 2):  # Python floats: inf, no warning
        return ""  # the inputs can't overflow: the ranker itself made the score
    if top_similarity >= top_value:
        culprit = (
            f"the similarities of {similarity} are too large (largest {number(top_similarity)}): "
            f"their weighted sums overflowed float64; fix or rescale that similarity backend"
        )
    else:
        culprit = (
            f"the matrix values are too large (largest {number(top_value)}): their sums overflowed "
            f"float64; check the ratings column of the data"
        )
    return f"; {culprit}"
