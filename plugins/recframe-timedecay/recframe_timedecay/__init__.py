"""recframe-timedecay: a matrix builder that lets recent interactions count more.

Every event is weighted by its value (the rating) times ``0.5 ** (age / half_life)``, so an
event one half-life older than the reference time counts half as much, two half-lives a quarter,
and so on. Install the distribution and use it in any run file::

    matrix: {type: time_decay, half_life_days: 14}

This module is also the template for third-party plugins: a ``Config`` model whose fields
carry attribute docstrings, a component class that sets ``name`` and ``Config``, and one
``@hookimpl`` that returns the component classes. ``pyproject.toml`` points the ``recframe``
entry-point group at this module.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field

from recframe import (
    Component,
    ComponentConfig,
    ConfigError,
    DataError,
    DuplicatePolicy,
    InteractionMatrix,
    Interactions,
    MatrixBuilder,
    hookimpl,
)

__all__ = ["TimeDecayConfig", "TimeDecayMatrixBuilder", "recframe_register_components"]

logger = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400.0

MAX_HALF_LIVES = 500.0
"""Events older than this many half-lives weigh 0 (their factor, ``2**-500`` or about 3e-151, is
far below anything that moves a similarity). Without the cut a user or item whose every event
is a few hundred half-lives older than the reference time would hold weights whose squares
underflow to 0, and the run would stop on a cosine-like measure; beyond about 1075 half-lives
they underflow to 0 anyway."""

_WARNED: set[float] = set()
"""The half-lives whose weights of 0 were warned of in this process (once each: a k-fold split
or a sweep would repeat it)."""


class TimeDecayConfig(ComponentConfig):
    """Parameters of :class:`TimeDecayMatrixBuilder`."""

    half_life_days: float = Field(30.0, ge=1e-5, le=1e6, allow_inf_nan=False)
    """Age, in days, at which an event's weight has fallen to half of its value (from about a
    second to a million days, beyond which nothing decays)."""
    reference_time: float | None = Field(None, allow_inf_nan=False)
    """The "now" that ages are measured from, in Unix seconds (the unit of the timestamps);
    by default the latest timestamp in the data."""
    use_values: bool = True
    """Decay the event values (ratings, counts); if false, or if the data has no values, every
    event starts from a weight of 1."""
    duplicates: DuplicatePolicy = "sum"
    """How the decayed weights of a repeated (user, item) pair combine: their sum, mean or max,
    the first or last (by timestamp), or fail with an error."""
    future: Literal["clip", "error"] = "clip"
    """What to do with events later than ``reference_time``: count them as if they happened at
    ``reference_time`` (age 0), or fail with an error naming the first such event."""


class TimeDecayMatrixBuilder(MatrixBuilder):
    """Weight each interaction by its value, halved for every half-life of its age.

    The weight of an event is ``value * 0.5 ** (age / half_life)``, where ``value`` is the
    rating (1 with ``use_values: false`` or for data without values), ``age`` is
    ``reference_time - timestamp`` in seconds and ``half_life`` is ``half_life_days`` in
    seconds. Repeated (user, item) pairs are combined by ``duplicates`` (by default the decayed
    weights are summed, so a pair seen often and recently weighs most). The data must have
    timestamps in Unix seconds. An event more than :data:`MAX_HALF_LIVES` half-lives old weighs
    0. A pair whose weight is 0 (a rating of 0, or every event that old) is not stored, as in
    any sparse matrix: it counts as not interacted with (``exclude_seen`` may recommend its
    item again), which a warning, once per process, says.
    """

    name = "time_decay"
    Config = TimeDecayConfig
    config: TimeDecayConfig

    def build(self, interactions: Interactions) -> InteractionMatrix:
        """Return the matrix of time-decayed weights.

        Parameters
        ----------
        interactions : Interactions
            The events, with timestamps in Unix seconds.

        Returns
        -------
        InteractionMatrix
            Users x items, ``float64``, one entry per distinct (user, item) pair.

        Raises
        ------
        DataError
            If there are no events, the data has no timestamps, an event is later than
            ``reference_time`` under ``future: error``, or a pair repeats under
            ``duplicates: error``.

        Examples
        --------
        Ages of 2, 1 and 0 half-lives (days, here) keep a quarter, half and all of the rating:

        >>> builder = TimeDecayMatrixBuilder(half_life_days=1.0)
        >>> day = 86_400.0
        >>> data = Interactions(["a", "a", "b"], ["x", "y", "x"], [4.0, 4.0, 2.0], [0.0, day, 2 * day])
        >>> builder.build(data).matrix.toarray()
        array([[1., 2.],
               [2., 0.]])
        """
        c = self.config
        if len(interactions) == 0:
            msg = "no interactions to build a matrix from"
            raise DataError(msg)
        timestamps = interactions.timestamps
        if timestamps is None:
            msg = (
                "matrix 'time_decay' needs a timestamp column, but the data has no timestamps; "
                "set data.timestamp to the column of event times (Unix seconds), or use another "
                "matrix type such as ratings"
            )
            raise DataError(msg)
        reference = float(timestamps.max()) if c.reference_time is None else c.reference_time
        age = reference - timestamps
        if c.future == "error" and np.any(age < 0):
            first = int(np.flatnonzero(age < 0)[0])
            n_future = int(np.count_nonzero(age < 0))
            user, item = interactions.users[first].item(), interactions.items[first].item()
            when = timestamps[first].item()
            msg = (
                f"user {user!r} and item {item!r} have an event at {when!r}, after "
                f"matrix.reference_time={reference!r} ({n_future} such events in all); set matrix.future "
                "to clip to count them at age 0, or move matrix.reference_time"
            )
            raise DataError(msg)
        age = np.maximum(age, 0.0)
        values = interactions.values
        base = values if c.use_values and values is not None else np.ones(len(interactions))
        half_lives = age / (c.half_life_days * SECONDS_PER_DAY)
        weights = np.where(half_lives <= MAX_HALF_LIVES, base * 0.5**half_lives, 0.0)
        if not np.any(weights) and np.any(base):  # the parameters, not the data, left nothing
            youngest = float(age[base != 0].min()) / SECONDS_PER_DAY
            msg = (
                f"matrix 'time_decay': every weight decays to 0: the most recent event is {youngest:.4g} days "
                f"before matrix.reference_time={reference!r}, over {MAX_HALF_LIVES:.0f} times "
                f"matrix.half_life_days={c.half_life_days!r}; raise half_life_days or move reference_time "
                "nearer the data"
            )
            raise ConfigError(msg)
        logger.debug(
            "time_decay: reference time %r, half-life %g days, %d events",
            reference, c.half_life_days, len(interactions),
        )
        built = InteractionMatrix.from_interactions(interactions, weights, c.duplicates, keep_zeros=True)
        stored = built.matrix.nnz
        built.matrix.eliminate_zeros()
        self._warn_of_zeros(stored - built.matrix.nnz)
        return built

    def _warn_of_zeros(self, zeros: int) -> None:
        """Warn (once per process and half-life) that `zeros` pairs weigh 0 and count as not interacted with."""
        half_life = self.config.half_life_days
        if not zeros or half_life in _WARNED:
            return
        _WARNED.add(half_life)
        logger.warning(
            "matrix 'time_decay': %d (user, item) pairs weigh 0 (a rating of 0, or every event more than %.0f "
            "half-lives, %.4g days, older than the reference time), which a sparse matrix does not store: they "
            "count as not interacted with (exclude_seen may recommend their items again); raise half_life_days "
            "to keep them (said once)",
            zeros,
            MAX_HALF_LIVES,
            MAX_HALF_LIVES * half_life,
        )


@hookimpl
def recframe_register_components() -> list[type[Component]]:
    """Register the ``time_decay`` matrix builder."""
    return [TimeDecayMatrixBuilder]
